"""Datadog delivery under faults: every entry accepted exactly once, or dead-lettered, never both, never neither."""

from __future__ import annotations

import zlib

import orjson
import pytest
from conftest import FakeContext, data_record, firehose_event

from logship.datadog.logs import DatadogSender, LogsIntakeOptions
from logship.deadletter import decode_lines, replay
from logship.errors import AuthError, ConfigError, DeliveryError
from logship.retry import RetryPolicy
from logship.secrets import ApiKeyProvider, SecretSource
from logship.settings import Settings


class Key:
    """A fixed API key source."""

    source = "test key"
    refreshable = False

    def __init__(self, key: str = "k") -> None:
        self.key = key

    def get(self) -> str:
        return self.key

    def refresh(self, stale: str) -> str:
        return self.key


def entries(n: int, tag: str = "e") -> list[bytes]:
    return [orjson.dumps({"message": f"{tag}-{i}", "ddtags": "env:test"}) for i in range(n)]


def sender_for(intake, sleeps=None, keys=None, **options) -> DatadogSender:
    recorded = sleeps if sleeps is not None else []
    options.setdefault("timeout_seconds", 5.0)
    return DatadogSender(LogsIntakeOptions(intake.intake_url, **options), keys or Key(), sleep=recorded.append)


def messages(intake) -> list[str]:
    return sorted(e["message"] for e in intake.entries)


def test_server_errors_are_retried_until_accepted(intake):
    """503, 503, then 202: every entry arrives once, after two retries."""
    intake.fail_next(503, 503)
    with sender_for(intake, concurrency=1) as sender:
        report = sender.send(entries(10))
    assert report.accepted == 10 and report.retries == 2
    assert messages(intake) == sorted(f"e-{i}" for i in range(10))


def test_retry_after_is_honoured(intake):
    """A 429 with Retry-After waits that long before retrying."""
    intake.fail_next(429, retry_after=0.25)
    sleeps: list[float] = []
    with sender_for(intake, sleeps, concurrency=1) as sender:
        report = sender.send(entries(3))
    assert report.accepted == 3
    assert sleeps == [0.25]


def test_dropped_connections_and_slow_answers_are_retried(intake):
    """A dropped connection and an answer slower than the timeout are retried; nothing duplicates."""
    intake.fail_next(0)
    intake.fail_next(503, delay=1.0)
    with sender_for(intake, concurrency=1, timeout_seconds=0.3) as sender:
        report = sender.send(entries(5))
    assert report.accepted == 5
    assert messages(intake) == sorted(f"e-{i}" for i in range(5))
    assert report.requests == 3


def test_413_splits_the_batch_until_it_fits(intake):
    """Above the intake's byte cap the batch is halved and resent; every part is accepted once."""
    intake.reject_above_bytes = 2_000
    with sender_for(intake) as sender:
        report = sender.send(entries(100))
    assert report.accepted == 100 and report.splits > 0
    assert messages(intake) == sorted(f"e-{i}" for i in range(100))
    assert all(r.raw_bytes <= 2_000 for r in intake.requests if r.status == 202)


def test_400_isolates_the_poisoned_entry_and_sends_the_rest(intake):
    """A 400 for one entry ends with that entry rejected and all others accepted."""
    intake.poison = "e-37"
    with sender_for(intake) as sender:
        report = sender.send(entries(64))
    assert report.accepted == 63
    assert [orjson.loads(e)["message"] for e, _ in report.rejected] == ["e-37"]
    assert "e-37" not in messages(intake) and len(intake.entries) == 63


def test_requests_stay_within_the_intake_limits(intake):
    """No request carries more than 1,000 entries or 5 MB, whatever the input."""
    big = [orjson.dumps({"message": "x" * 20_000, "n": i}) for i in range(400)] + entries(2500)
    with sender_for(intake) as sender:
        report = sender.send(big)
    assert report.accepted == 2900
    assert all(r.entries <= 1000 and r.raw_bytes <= 5_000_000 for r in intake.requests)


def test_invalid_key_stops_at_once_and_names_its_source_not_the_key(intake, make_app, caplog):
    """A 403 fails fast with an error naming where the key came from; the key never shows."""
    intake.api_keys = {"the-good-key"}
    app = make_app(Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "the-bad-key-123", "ONLY_JSON": "false"}))
    event = firehose_event([data_record("r1", [f"m{i}" for i in range(50)])])
    with pytest.raises(AuthError) as caught:
        app.handle(event, FakeContext())
    assert "environment variable DD_API_KEY" in str(caught.value)
    assert "the-bad-key-123" not in str(caught.value)
    assert all(
        "the-bad-key-123" not in r.getMessage() and "the-bad-key-123" not in str(r.__dict__) for r in caplog.records
    )
    assert len(intake.requests) == 1  # no retries of a refused key


def test_rotated_ssm_key_is_refetched_once_after_403(intake, local_aws, unique, make_app):
    """The key comes from SSM, is cached, and after a 403 is fetched again (rotation) and used."""
    ssm = local_aws.client("ssm")
    name = f"/logship/{unique}/dd-api-key"
    ssm.put_parameter(Name=name, Value="key-v1", Type="SecureString")
    intake.api_keys = {"key-v1"}
    app = make_app(
        Settings.from_env({"DD_URL": intake.url, "DD_API_KEY_SSM_NAME": name, "ONLY_JSON": "false"}),
        client_factory=local_aws.client,
    )
    app.handle(firehose_event([data_record("r1", ["a"])]), FakeContext())
    ssm.put_parameter(Name=name, Value="key-v2", Type="SecureString", Overwrite=True)
    intake.api_keys = {"key-v2"}
    app.handle(firehose_event([data_record("r2", ["b"])]), FakeContext())
    assert messages(intake) == ["a", "b"]
    assert [r.status for r in intake.requests] == [202, 403, 202]


def test_key_from_a_json_secret(intake, local_aws, unique, make_app):
    """A Secrets Manager secret holding {"DD_API_KEY": ...} supplies the key."""
    arn = local_aws.client("secretsmanager").create_secret(Name=unique, SecretString='{"DD_API_KEY": "from-secret"}')[
        "ARN"
    ]
    intake.api_keys = {"from-secret"}
    app = make_app(
        Settings.from_env({"DD_URL": intake.url, "DD_API_KEY_SECRET_ARN": arn, "ONLY_JSON": "false"}),
        client_factory=local_aws.client,
    )
    app.handle(firehose_event([data_record("r1", ["a"])]), FakeContext())
    assert messages(intake) == ["a"]


def test_a_secret_is_read_in_the_region_its_arn_names(local_aws, unique):
    """The client for a secret named by its ARN is made in the ARN's region, whatever the default region is."""
    secrets = local_aws.client("secretsmanager", "eu-west-1")
    arn = secrets.create_secret(Name=unique, SecretString="in-eu")["ARN"]
    assert ":eu-west-1:" in arn and local_aws.region != "eu-west-1"
    assert ApiKeyProvider(SecretSource(secret_arn=arn), local_aws.client).get() == "in-eu"


def test_missing_ssm_parameter_is_a_clear_error_without_secrets(local_aws):
    """A missing parameter is configuration: ConfigError naming the parameter, its answer and the variable to fix."""
    provider = ApiKeyProvider(SecretSource(ssm_name="/nope/key"), local_aws.client)
    with pytest.raises(ConfigError, match="SSM parameter /nope/key") as caught:
        provider.get()
    assert "ParameterNotFound" in str(caught.value)
    assert "DD_API_KEY_SSM_NAME" in str(caught.value)


def test_outage_past_the_time_budget_goes_to_the_dead_letter(intake, local_aws, unique, make_app):
    """When Datadog stays down past the budget, the exact entries land in the dead letter, none in Datadog."""
    local_aws.client("s3").create_bucket(Bucket=unique)
    intake.fail_next(*[503] * 1000)
    app = make_app(
        Settings.from_env(
            {
                "DD_URL": intake.url,
                "DD_API_KEY": "k",
                "ONLY_JSON": "false",
                "LOGSHIP_DEAD_LETTER_URI": f"s3://{unique}/dead",
                "LOGSHIP_TIME_MARGIN_MS": "1000",
            }
        ),
        client_factory=local_aws.client,
    )
    event = firehose_event([data_record("r1", [f"m{i}" for i in range(30)]), data_record("r2", ["x", "y"])])
    response = app.handle(event, FakeContext(remaining_ms=2_500))
    assert [r["result"] for r in response["records"]] == ["Ok", "Ok"]
    assert intake.entries == []
    s3 = local_aws.client("s3")
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=unique, Prefix="dead/")["Contents"]]
    dead = [orjson.loads(line) for line in decode_lines(s3.get_object(Bucket=unique, Key=key)["Body"].read())]
    assert sorted(d["message"] for d in dead) == sorted([f"m{i}" for i in range(30)] + ["x", "y"])
    assert all(d["ddtags"].startswith("system:cron") for d in dead)
    # Later, Datadog is back: replay sends everything once and deletes the object.
    intake.reset()
    with sender_for(intake) as sender:
        result = replay(f"s3://{unique}/dead", sender, s3)
    assert (result.objects, result.accepted, result.deleted, result.left) == (1, 32, 1, 0)
    assert len(intake.entries) == 32
    # The synthetic events date from 2023: replay restamps them so Datadog keeps them.
    assert all("timestamp" not in e and e["logship"]["original_timestamp"] > 0 for e in intake.entries)
    assert "Contents" not in s3.list_objects_v2(Bucket=unique, Prefix="dead/")


def test_outage_without_a_dead_letter_fails_the_invocation(intake, make_app):
    """With no dead letter, undelivered logs fail the invocation so Firehose retries it."""
    intake.fail_next(*[503] * 1000)
    app = make_app(
        Settings.from_env(
            {"DD_URL": intake.url, "DD_API_KEY": "k", "ONLY_JSON": "false", "LOGSHIP_TIME_MARGIN_MS": "1000"}
        )
    )
    with pytest.raises(DeliveryError, match="no dead letter"):
        app.handle(firehose_event([data_record("r1", ["a", "b"])]), FakeContext(remaining_ms=1_800))


def test_rejected_entries_go_to_the_dead_letter_with_the_rest_delivered(intake, local_aws, unique, make_app):
    """A poisoned entry is dead-lettered; its neighbours reach Datadog; the invocation succeeds."""
    local_aws.client("s3").create_bucket(Bucket=unique)
    intake.poison = "poison"
    app = make_app(
        Settings.from_env(
            {
                "DD_URL": intake.url,
                "DD_API_KEY": "k",
                "ONLY_JSON": "false",
                "LOGSHIP_DEAD_LETTER_URI": f"s3://{unique}/dl",
            }
        ),
        client_factory=local_aws.client,
    )
    app.handle(firehose_event([data_record("r1", ["ok-1", "poison pill", "ok-2"])]), FakeContext())
    assert messages(intake) == ["ok-1", "ok-2"]
    s3 = local_aws.client("s3")
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=unique, Prefix="dl/")["Contents"]]
    body = s3.get_object(Bucket=unique, Key=key)["Body"].read()
    assert [orjson.loads(line)["message"] for line in zlib.decompress(body, wbits=31).splitlines()] == ["poison pill"]


def test_one_warning_per_run_then_debug_lines_and_the_report_names_the_host(caplog):
    """Datadog out of reach: the first try of a run warns (retries go on), the others are DEBUG; the failure names the host."""
    caplog.set_level("DEBUG", logger="logship")
    url = f"http://127.0.0.1:{_closed_port()}/api/v2/logs"
    sender = DatadogSender(LogsIntakeOptions(url, retry=RetryPolicy(max_attempts=4)), Key(), sleep=lambda _s: None)
    with sender:
        report = sender.send(entries(3))
        tries = [r for r in caplog.records if r.name == "logship.datadog.logs"]
        assert report.requests == len(tries) == 4
        assert [r.levelname for r in tries] == ["WARNING", "DEBUG", "DEBUG", "DEBUG"]
        assert "Datadog did not answer" in tries[0].getMessage() and "retrying for up to" in tries[0].getMessage()
        caplog.clear()
        sender.send(entries(1))  # a new run of sending warns again
        assert next(r.levelname for r in caplog.records if r.name == "logship.datadog.logs") == "WARNING"
    host = url.split("/")[2]
    assert report.failure() == f"3 entries not delivered (last error: {host}: connection refused)"


def test_replay_of_a_partly_accepted_object_keeps_only_the_rest(intake, local_aws, unique):
    """An object accepted in part is rewritten with what is left, so nothing is sent twice later."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    from logship.deadletter import encode_lines

    s3.put_object(Bucket=unique, Key="dl/2026/01/01/a.jsonl.gz", Body=encode_lines(entries(5)))
    intake.poison = "e-3"
    with sender_for(intake) as sender:
        result = replay(f"s3://{unique}/dl", sender, s3)
    assert (result.accepted, result.rewritten, result.left) == (4, 1, 1)
    left = decode_lines(s3.get_object(Bucket=unique, Key="dl/2026/01/01/a.jsonl.gz")["Body"].read())
    assert [orjson.loads(e)["message"] for e in left] == ["e-3"]


def test_connections_are_kept_alive_with_nagle_off(intake):
    """Requests reuse one kept-alive connection, with TCP_NODELAY so bodies are not held for delayed ACKs."""
    import socket

    from logship.transport import HttpTransport

    transport = HttpTransport()
    try:
        for _ in range(3):
            assert transport.post(intake.intake_url, b"[]", {"DD-API-KEY": "k"}, 5.0).status == 202
        assert intake.connections == 1
        pool = transport._manager("http", "127.0.0.1").connection_from_url(intake.intake_url)
        conn = pool.pool.get_nowait()
        try:
            assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            pool.pool.put(conn)
    finally:
        transport.close()


def test_an_outage_answers_every_request_until_it_ends(intake):
    """During an outage every request gets its status and nothing is kept; after it, requests are accepted."""
    from logship.retry import RetryPolicy

    intake.start_outage(503)
    with sender_for(intake, concurrency=1, retry=RetryPolicy(max_attempts=4)) as sender:
        down = sender.send(entries(5))
        intake.end_outage()
        up = sender.send(entries(5, "f"))
    assert (down.accepted, len(down.undelivered), down.statuses) == (0, 5, {503: 4})
    assert up.accepted == 5 and messages(intake) == [f"f-{i}" for i in range(5)]


def test_a_late_answer_is_undelivered_for_the_client_though_the_intake_kept_it(intake):
    """Accepted, then answered after the client's timeout: the intake has the entries, the sender retries them."""
    from logship.retry import RetryPolicy

    intake.accept_late(1.0)
    with sender_for(intake, concurrency=1, timeout_seconds=0.2, retry=RetryPolicy(max_attempts=2)) as sender:
        report = sender.send(entries(3))
    assert report.accepted == 3 and report.retries == 1
    assert messages(intake) == sorted(["e-0", "e-0", "e-1", "e-1", "e-2", "e-2"])  # a duplicate, as with Datadog


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed on leaving: connections there are refused


@pytest.mark.parametrize("fault", ["refused", "timed out", "503"])
def test_the_dead_letter_reason_says_what_happened_and_to_which_host(fault, intake, local_aws, unique, make_app, caplog):
    """Refused, timed out or HTTP 5xx: the dead letter's reason and the log name the host and what it did."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    url, says = intake.url, ""
    if fault == "refused":
        url = f"http://127.0.0.1:{_closed_port()}"
        says = f"127.0.0.1:{url.rsplit(':', 1)[1]}: connection refused"
    elif fault == "timed out":
        intake.delay = 2.0
        says = f"{intake.url.removeprefix('http://')}: timed out"
    else:
        intake.fail_next(*[503] * 1000)
        says = f"{intake.url.removeprefix('http://')} answered HTTP 503"
    app = make_app(
        Settings.from_env(
            {
                "DD_URL": url,
                "DD_API_KEY": "k",
                "ONLY_JSON": "false",
                "LOGSHIP_DEAD_LETTER_URI": f"s3://{unique}/dl",
                "LOGSHIP_TIME_MARGIN_MS": "1000",
                "LOGSHIP_DD_TIMEOUT_SECONDS": "1",
            }
        ),
        client_factory=local_aws.client,
    )
    invocation = app.process(firehose_event([data_record("r1", ["a", "b"])]), FakeContext(remaining_ms=2_600))
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=unique)["Contents"]]
    reason = s3.head_object(Bucket=unique, Key=key)["Metadata"]["reason"]
    assert reason == f"2 entries not delivered (last error: {says})"
    assert invocation.summary.dd_failure == reason
    assert invocation.summary.dd_dead_lettered == 2
    assert any(says in r.getMessage() or says in str(getattr(r, "reason", "")) for r in caplog.records)
