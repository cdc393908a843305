"""Configuration errors fail the invocation at once, naming what to fix, and dead-letter nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeContext, data_record, firehose_event

from logship.errors import ConfigError
from logship.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# Calls the Lambda handler twice (a cold start, then a warm one) and prints what each raised.
_TWO_INVOCATIONS = (
    "import json, sys\n"
    "import handlers.firehose\n"
    "event = json.load(open(sys.argv[1]))\n"
    "for _ in range(2):\n"
    "    try:\n"
    "        handlers.firehose.handler(event, None)\n"
    "        print(json.dumps({'raised': None}))\n"
    "    except Exception as err:\n"
    "        print(json.dumps({'raised': type(err).__name__, 'message': str(err)}))\n"
)


def lambda_invocations(event_path: Path, env: dict[str, str]) -> list[dict[str, str]]:
    out = subprocess.run(
        [sys.executable, "-c", _TWO_INVOCATIONS, str(event_path)],
        env={"PATH": os.environ.get("PATH", ""), "AWS_EC2_METADATA_DISABLED": "true", **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{"raised"')]


def lambda_env(local_aws, intake, bucket: str, **settings: str) -> dict[str, str]:
    """The Lambda's environment against the stand-ins, with a dead letter configured (as the template sets)."""
    return {
        "AWS_ENDPOINT_URL": local_aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DD_URL": intake.url,
        "ONLY_JSON": "false",
        "LOGSHIP_DEAD_LETTER_URI": f"s3://{bucket}/dead-letter",
        **settings,
    }


@pytest.fixture
def event_file(tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(firehose_event([data_record("r1", ["a", "b", "c"])])))
    return path


def test_a_lambda_without_a_key_fails_each_invocation_with_one_config_error(local_aws, intake, unique, event_file):
    """No key source: every invocation raises ConfigError naming the variables to set; nothing sent or kept."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    results = lambda_invocations(event_file, lambda_env(local_aws, intake, unique))
    assert [r["raised"] for r in results] == ["ConfigError", "ConfigError"]
    for name in ("DD_API_KEY", "DD_API_KEY_SSM_NAME", "DD_API_KEY_SECRET_ARN", "LOGSHIP_DATADOG_ENABLED=false"):
        assert name in results[0]["message"]
    assert "Contents" not in s3.list_objects_v2(Bucket=unique)
    assert intake.requests == []


def test_a_misspelled_ssm_name_fails_each_invocation_and_dead_letters_nothing(local_aws, intake, unique, event_file):
    """An SSM name that does not exist: ConfigError naming the parameter and DD_API_KEY_SSM_NAME, no dead letter."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    local_aws.client("ssm").put_parameter(Name=f"/{unique}/dd-api-key", Value="k", Type="SecureString")
    misspelled = f"/{unique}/dd-apikey"
    env = lambda_env(local_aws, intake, unique, DD_API_KEY_SSM_NAME=misspelled)
    results = lambda_invocations(event_file, env)
    assert [r["raised"] for r in results] == ["ConfigError", "ConfigError"]
    message = results[0]["message"]
    assert f"SSM parameter {misspelled}" in message and "ParameterNotFound" in message
    assert "DD_API_KEY_SSM_NAME" in message
    assert "Contents" not in s3.list_objects_v2(Bucket=unique)
    assert intake.requests == []


def test_the_key_is_checked_before_anything_is_sent_or_re_ingested(intake, local_aws, unique, make_app):
    """In process: the ConfigError comes before the first request and the first re-ingest."""
    local_aws.delivery_stream(unique, unique)
    app = make_app(
        Settings.from_env({"DD_URL": intake.url, "ONLY_JSON": "false", "LOGSHIP_RESPONSE_LIMIT_BYTES": "1000"}),
        client_factory=local_aws.client,
    )
    event = firehose_event([data_record(f"r{n}", ["x" * 400] * 5) for n in range(3)], stream=unique)
    with pytest.raises(ConfigError, match="no DD_API_KEY configured"):
        app.handle(event, FakeContext())
    assert intake.requests == []
    assert local_aws.delivered_records(unique) == []


def test_s3_only_mode_needs_no_key_and_sends_nothing(intake, make_app):
    """LOGSHIP_DATADOG_ENABLED=false: records are answered as usual, with no key and no request to Datadog."""
    app = make_app(Settings.from_env({"DD_URL": intake.url, "LOGSHIP_DATADOG_ENABLED": "false", "ONLY_JSON": "false"}))
    invocation = app.process(firehose_event([data_record("r1", ["a", '{"b": 1}'])]), FakeContext())
    assert [r["result"] for r in invocation.response["records"]] == ["Ok"]
    assert invocation.summary.events_to_s3 == 2
    assert (invocation.summary.dd_accepted, invocation.summary.dd_undelivered) == (0, 0)
    assert intake.requests == []


def test_the_forwarders_host_only_dd_url_is_said_once_at_cold_start(intake, make_app, caplog):
    """DD_URL without a scheme is read as https://, and the log says so once, not per invocation."""
    caplog.set_level("INFO", logger="logship")
    settings = Settings.from_env({"DD_URL": "http-intake.logs.datadoghq.eu", "LOGSHIP_DATADOG_ENABLED": "false"})
    assert settings.logs.url == "https://http-intake.logs.datadoghq.eu/api/v2/logs"
    app = make_app(settings)
    for n in range(2):
        app.handle(firehose_event([data_record(f"r{n}", ["a"])]), FakeContext())
    notices = [r.getMessage() for r in caplog.records if "has no scheme" in r.getMessage()]
    assert notices == ["DD_URL has no scheme (the Datadog Forwarder's host-only form): using https://http-intake.logs.datadoghq.eu"]
