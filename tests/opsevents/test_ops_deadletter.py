"""Ops events dead letters in S3 (moto): their layout, replay to their own sink only, and `logship replay`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import command_env
from opsfixtures import event

from logship.datadog.api import ApiOptions
from logship.datadog.events import EventsClient
from logship.deadletter import encode_lines
from logship.errors import DeadLetterError
from logship.opsevents import datadog_event, slack_message
from logship.opsevents.deadletter import Letter, OpsDeadLetter, is_opsevents_uri, replay
from logship.opsevents.sinks import Sink
from logship.retry import RetryPolicy
from logship.secrets import ApiKeyProvider, SecretSource
from logship.slack import SlackOptions, SlackWebhook

ROOT = Path(__file__).resolve().parents[2]
OOM = event("ecs-task-exit-137-oom")
RETRY = RetryPolicy(max_attempts=2, base_seconds=0.0, cap_seconds=0.0)


def sinks(intake, slack) -> dict[str, Sink]:
    return {
        "datadog": EventsClient(ApiOptions(url=intake.url), ApiKeyProvider(SecretSource(value="k")), RETRY),
        "slack": SlackWebhook(
            SlackOptions(webhook=SecretSource(env_name="SLACK_WEBHOOK_URL", value=slack.url), min_interval_seconds=0),
            RETRY,
        ),
    }


def test_letters_are_written_per_sink_and_read_back(local_aws, unique):
    """A letter is one JSON object under <prefix>/opsevents/<sink>/YYYY/MM/DD/ with the sink in its metadata, read back as written."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    letters = OpsDeadLetter(f"s3://{unique}/dead-letter/", local_aws.client)
    letter = Letter("slack", slack_message(OOM), "HTTP 503 rollup_error; stopped by attempts", OOM.dedup_key, OOM.event_id)
    uri = letters.write(letter, invocation_id="req/1 ü")
    key = uri.removeprefix(f"s3://{unique}/")
    assert key.startswith("dead-letter/opsevents/slack/20") and key.endswith(".json") and "-req1-" in key
    head = s3.head_object(Bucket=unique, Key=key)
    assert head["Metadata"]["sink"] == "slack" and head["ContentType"] == "application/json"
    back = Letter.from_json(s3.get_object(Bucket=unique, Key=key)["Body"].read())
    assert back.body == letter.body and back.sink == "slack" and back.written_at.endswith("Z")


def test_a_letter_that_cannot_be_written_raises_dead_letter_error(local_aws, unique):
    """A missing bucket gives DeadLetterError naming the object it meant to write."""
    with pytest.raises(DeadLetterError, match=f"could not write the datadog message to s3://{unique}/opsevents/datadog/"):
        OpsDeadLetter(f"s3://{unique}", local_aws.client).write(Letter("datadog", datadog_event(OOM), "x"))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"{nope", "not JSON"),
        (b'{"sink": "slack", "body": {}}', "not an ops events dead letter"),
        (b'{"format": "logship.opsevents/1", "sink": "email", "body": {}}', "sink must be one of datadog, slack"),
        (b'{"format": "logship.opsevents/1", "sink": "slack", "body": []}', "body an object"),
    ],
)
def test_objects_that_are_not_ops_dead_letters_are_refused(data, problem):
    """Letter.from_json refuses anything but its own format, saying what is wrong."""
    with pytest.raises(DeadLetterError, match=problem):
        Letter.from_json(data)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://my-bucket/dead-letter/opsevents", True),
        ("s3://my-bucket/opsevents/slack/2026/01/01/x.json", True),
        ("s3://my-bucket/dead-letter", False),
        ("s3://my-bucket/dead-letter/opsevents-old", False),
        ("not-a-uri", False),
    ],
)
def test_replay_recognises_ops_events_uris_by_their_folder(uri, expected):
    """`logship replay` sends a URI at or under an `opsevents` folder to the ops events replay."""
    assert is_opsevents_uri(uri) is expected


def test_replay_sends_each_letter_to_its_own_sink_and_leaves_what_it_cannot(intake, slack, local_aws, unique):
    """Each object goes to its sink only and is deleted once taken; a failed, unknown-sink or foreign object stays."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    letters = OpsDeadLetter(f"s3://{unique}/dl", local_aws.client)
    letters.write(Letter("slack", slack_message(OOM), "down"))
    letters.write(Letter("datadog", datadog_event(OOM), "down"))
    s3.put_object(Bucket=unique, Key="dl/opsevents/slack/2026/01/01/foreign.json", Body=b'{"hello": 1}')
    s3.put_object(Bucket=unique, Key="dl/2026/01/01/logs.jsonl.gz", Body=encode_lines([b'{"message": "log"}']))
    only_datadog = {"datadog": sinks(intake, slack)["datadog"]}
    first = replay(f"s3://{unique}/dl", only_datadog, s3)
    assert (first.objects, first.sent, first.no_sink, first.unreadable, first.left) == (3, {"datadog": 1}, 1, 1, 2)
    assert len(intake.api.events) == 1 and slack.messages == []
    slack.fail_next(503, 503)
    failed = replay(f"s3://{unique}/dl/opsevents/slack", sinks(intake, slack), s3)
    assert failed.sent == {} and failed.left == 2 and slack.messages == []
    second = replay(f"s3://{unique}/dl/opsevents/slack", sinks(intake, slack), s3)
    assert second.sent == {"slack": 1} and second.left == 1
    assert slack.messages == [slack_message(OOM)] and len(intake.api.events) == 1
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=unique)["Contents"])
    assert keys == ["dl/2026/01/01/logs.jsonl.gz", "dl/opsevents/slack/2026/01/01/foreign.json"]


def test_replay_drops_a_date_datadog_would_refuse(intake, slack, local_aws, unique):
    """A Datadog event older than 17 hours is replayed without date_happened (Datadog refuses over 18 hours)."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    body = datadog_event(OOM)
    OpsDeadLetter(f"s3://{unique}", local_aws.client).write(Letter("datadog", body, "down"))
    assert isinstance(body["date_happened"], int)
    later = float(body["date_happened"] + 17 * 3600 + 1)
    replay(f"s3://{unique}", sinks(intake, slack), s3, clock=lambda: later)
    assert "date_happened" not in intake.api.events[0]
    assert {k: v for k, v in intake.api.events[0].items() if k not in ("id", "url")} == {
        k: v for k, v in body.items() if k != "date_happened"
    }


def test_logship_replay_command_sends_ops_dead_letters_through_aws_endpoint_url(intake, slack, local_aws, unique, tmp_path):
    """`logship replay s3://bucket/prefix/opsevents` re-sends through the configured sinks and prints the report."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    OpsDeadLetter(f"s3://{unique}/dl", local_aws.client).write(Letter("slack", slack_message(OOM), "down"))
    env = command_env(local_aws, intake, tmp_path, DD_API_URL=intake.url, SLACK_WEBHOOK_URL=slack.url)
    out = subprocess.run(
        [sys.executable, "-m", "logship.cli", "replay", f"s3://{unique}/dl/opsevents"],
        env=env, capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert out.returncode == 0, out.stderr
    report = orjson.loads(out.stdout.splitlines()[-1])
    assert report["sent"] == {"slack": 1} and report["deleted"] == 1 and report["left"] == 0
    assert slack.messages == [slack_message(OOM)] and intake.api.events == []
    assert "Contents" not in s3.list_objects_v2(Bucket=unique)


def test_logship_replay_of_the_logs_prefix_leaves_ops_letters_alone(intake, slack, local_aws, unique, tmp_path):
    """The log path's replay of the shared prefix sends only .jsonl.gz log entries, never an ops events letter."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    OpsDeadLetter(f"s3://{unique}/dl", local_aws.client).write(Letter("slack", slack_message(OOM), "down"))
    s3.put_object(Bucket=unique, Key="dl/2026/01/01/x.jsonl.gz", Body=encode_lines([b'{"message": "a log"}']))
    env = command_env(local_aws, intake, tmp_path, SLACK_WEBHOOK_URL=slack.url)
    out = subprocess.run(
        [sys.executable, "-m", "logship.cli", "replay", f"s3://{unique}/dl"],
        env=env, capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert [e["message"] for e in intake.entries] == ["a log"] and slack.messages == []
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=unique)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("dl/opsevents/slack/")
