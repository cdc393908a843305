"""Hypothesis properties of the contracts: recordIds once, response within budget, events exactly once."""

from __future__ import annotations

import base64
import collections
import dataclasses
import itertools
import zlib

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.datadog.logs import DatadogSender, LogsIntakeOptions
from logship.firehose.budget import response_size
from logship.firehose.event import FirehoseEvent
from logship.firehose.reingest import FirehoseReingester, reingest
from logship.firehose.subscription import decode_record
from logship.firehose.transform import reingest_items, settle, transform
from logship.retry import RetryPolicy
from logship.settings import Settings
from logship.testing.emulator import IntakeEmulator
from logship.testing.synth import firehose_event, firehose_record, subscription_payload

TEXT = st.text(st.characters(codec="utf-8"), max_size=300)
HUGE = st.integers(20_000, 120_000).map(lambda n: "h" * n)


class MemoryFirehose:
    """A boto3-shaped Firehose client keeping what it is given; fails records whose data is in ``bad``."""

    def __init__(self, fail_every: int = 0) -> None:
        self.fail_every = fail_every
        self.put: list[bytes] = []
        self.calls = 0

    def put_record_batch(self, DeliveryStreamName, Records):
        self.calls += 1
        responses = []
        for record in Records:
            if self.fail_every and self.calls % self.fail_every == 0:
                responses.append({"ErrorCode": "ServiceUnavailableException"})
            else:
                self.put.append(record["Data"])
                responses.append({"RecordId": "x"})
        return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}


@st.composite
def firehose_events(draw):
    """Batches of data, control and corrupt records; events with unicode and some huge ones; unique messages."""
    records = []
    expected: list[str] = []
    serial = 0
    for n in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["data", "data", "data", "control", "corrupt"]))
        if kind == "control":
            payload = subscription_payload("", "", [], message_type="CONTROL_MESSAGE")
        elif kind == "corrupt":
            payload = draw(
                st.sampled_from([b"nope", zlib.compress(b"[]", 6, wbits=31), zlib.compress(b"{", 6, wbits=31)])
            )
        else:
            events = []
            for body in draw(st.lists(TEXT | HUGE, min_size=1, max_size=25)):
                serial += 1
                message = f"{serial}:{body}"
                events.append({"id": str(serial), "timestamp": 1_700_000_000_000 + serial, "message": message})
                expected.append(message)
            group = draw(st.sampled_from(["/cron/billing", "/aws/lambda/f", "x", ""]))
            payload = subscription_payload(group, f"{group}/app/0123456789abcdef0123456789abcdef", events)
        records.append(firehose_record(f"id-{n}", payload))
    return firehose_event(records), expected


def jsonl_messages(data: bytes, compressed: bool) -> list[str]:
    raw = zlib.decompress(data, wbits=31) if compressed else data
    return [orjson.loads(line)["message"] for line in raw.splitlines()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    firehose_events(),
    st.integers(3_000, 400_000),
    st.sampled_from(["gzip", "none"]),
    st.sampled_from([0, 0, 2]),
)
def test_every_event_lands_exactly_once_and_the_response_fits(generated, limit, compression, fail_every):
    """Each recordId once; response within the limit; each event in the response, put back or kept, exactly once."""
    event, expected = generated
    config = Settings.from_env(
        {
            "LOGSHIP_RESPONSE_LIMIT_BYTES": str(limit),
            "LOGSHIP_OUTPUT_FORMAT": "jsonl",
            "LOGSHIP_OUTPUT_COMPRESSION": compression,
            "ONLY_JSON": "false",
        }
    )
    firehose = MemoryFirehose(fail_every)
    routed = list(transform(FirehoseEvent.from_dict(event), config.transform))
    outcomes = [outcome for outcome, _entries in routed]
    items = reingest_items(outcomes)
    report = reingest(
        items, FirehoseReingester(firehose, "s"), policy=RetryPolicy(max_attempts=3), sleep=lambda _s: None
    )
    settlement = settle(outcomes, report if items else None, config.transform.entries)
    response = settlement.response()

    assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in event["records"]]
    assert all(r["result"] in {"Ok", "Dropped", "ProcessingFailed"} for r in response["records"])
    assert all(("data" in r) == (r["result"] == "Ok") for r in response["records"])
    assert response_size(response) <= limit
    assert settlement.response_bytes >= response_size(response)

    by_id = {r["recordId"]: r for r in event["records"]}

    def original(record_id: str) -> list[str]:
        return [e["message"] for e in decode_record(by_id[record_id]["data"]).events]

    landed: list[str] = []
    for record in response["records"]:
        if record["result"] == "Ok":
            landed += jsonl_messages(base64.b64decode(record["data"]), compression == "gzip")
    for data in firehose.put:
        landed += [e["message"] for e in decode_record(base64.b64encode(data)).events]
    # A record puts back at most one record, so no re-ingest failure leaves part of it in two places.
    assert all(len(outcome.pieces) <= 1 for outcome in outcomes)
    forwarded: list[str] = []
    index = 0
    for before, after in zip(outcomes, settlement.outcomes, strict=True):
        failed_pieces = [p for n, p in enumerate(before.pieces, index) if n in report.failed]
        index += len(before.pieces)
        waiting = {e["message"] for p in before.pieces for e in p.batch.events}
        forwarded += [e["message"] for p in failed_pieces for e in p.batch.events]
        if before.result == "Ok":  # the events that fit were sent with the response's data
            forwarded += [m for m in original(before.record_id) if m not in waiting]
        if after.result == "ProcessingFailed" and after.events:
            # Firehose keeps the original record in its error prefix.
            landed += original(after.record_id)
            if not before.pieces:  # one event too big for any response: Datadog still gets the record
                forwarded += original(after.record_id)
    assert collections.Counter(landed) == collections.Counter(expected)

    # Datadog gets one entry per event kept in this invocation (Ok, or failed and forwarded).
    entries = [e for _outcome, built in routed for e in built] + settlement.to_send
    sent = [orjson.loads(e)["message"] for e in entries]
    assert sorted(sent) == sorted(forwarded)
    assert len(set(sent)) == len(sent)


_BUCKETS = itertools.count()
STATUSES = st.lists(st.sampled_from([0, 400, 408, 413, 429, 500, 503]), max_size=12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(TEXT, min_size=1, max_size=300), STATUSES, st.integers(1, 4))
def test_accepted_plus_undelivered_equals_sent_under_any_faults(messages, faults, concurrency):
    """For any entries and injected failures: accepted + rejected + undelivered is exactly what was sent."""
    entries = [orjson.dumps({"message": m, "n": n}) for n, m in enumerate(messages)]
    with IntakeEmulator(max_request_bytes=20_000, max_entries=1000) as intake:
        intake.fail_next(*faults)
        options = LogsIntakeOptions(
            intake.intake_url,
            concurrency=concurrency,
            max_batch_bytes=15_000,
            retry=RetryPolicy(max_attempts=4),
            timeout_seconds=5,
        )
        with DatadogSender(options, _Key(), sleep=lambda _s: None) as sender:
            report = sender.send(entries)
        got = [orjson.dumps(e) for e in intake.entries]
        assert report.total == len(entries)
        assert report.accepted == len(got)
        kept = [e for e, _ in report.rejected] + report.undelivered
        assert sorted(got + kept) == sorted(entries)
        assert [entries[place] for place in report.undelivered_at] == report.undelivered
        assert all(r.raw_bytes <= 20_000 and r.entries <= 1000 for r in intake.requests if r.status == 202)


class _Key:
    source = "test"
    refreshable = False

    def get(self) -> str:
        return "k"

    def refresh(self, stale: str) -> str:
        return "k"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(TEXT, min_size=1, max_size=40), min_size=1, max_size=6), STATUSES, st.booleans())
def test_handler_delivers_or_dead_letters_every_event_never_both(local_aws, batches, faults, poison):
    """Through the handler: each event is in Datadog or in the dead letter, exactly once, whatever the intake does."""
    from conftest import FakeContext, data_record

    from logship.datadog.logs import DatadogSender
    from logship.deadletter import decode_lines
    from logship.firehose.app import Logship

    s3 = local_aws.client("s3")
    bucket = f"logship-prop-{next(_BUCKETS)}"  # a fresh bucket per example, replays included
    s3.create_bucket(Bucket=bucket)
    messages = [[f"{b}-{n}:{text}" for n, text in enumerate(texts)] for b, texts in enumerate(batches)]
    event = firehose_event([data_record(f"r{b}", ms) for b, ms in enumerate(messages)])
    with IntakeEmulator() as intake:
        intake.fail_next(*faults)
        if poison:
            intake.poison = "0-0:"
        config = Settings.from_env(
            {
                "DD_URL": intake.url,
                "DD_API_KEY": "k",
                "ONLY_JSON": "false",
                "LOGSHIP_DEAD_LETTER_URI": f"s3://{bucket}/dl",
            }
        )
        options = dataclasses.replace(config.logs, retry=RetryPolicy(max_attempts=3), max_batch_bytes=4_000)
        sender = DatadogSender(options, _Key(), sleep=lambda _s: None)
        with Logship(config, sender=sender, client_factory=local_aws.client) as app:
            response = app.handle(event, FakeContext())
        delivered = [e["message"] for e in intake.entries]
    assert [r["result"] for r in response["records"]] == ["Ok"] * len(messages)
    dead: list[str] = []
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        dead += [
            orjson.loads(line)["message"]
            for line in decode_lines(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        ]
    expected = [m for ms in messages for m in ms]
    assert collections.Counter(delivered + dead) == collections.Counter(expected)
    assert not set(delivered) & set(dead)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(TEXT, min_size=1, max_size=40), min_size=2, max_size=8),
    st.lists(st.sampled_from([202, 202, 0, 500, 503]), max_size=24),
    st.integers(1, 3),
)
def test_without_a_dead_letter_exactly_the_records_with_logs_not_accepted_are_answered_failed(
    batches, answers, concurrency
):
    """No dead letter: a record is ProcessingFailed if and only if one of its logs did not reach Datadog."""
    from conftest import FakeContext, data_record

    from logship.datadog.logs import DatadogSender
    from logship.errors import DeliveryError
    from logship.firehose.app import Logship

    messages = [[f"{b}-{n}:{text}" for n, text in enumerate(texts)] for b, texts in enumerate(batches)]
    event = firehose_event([data_record(f"r{b}", ms) for b, ms in enumerate(messages)])
    with IntakeEmulator() as intake:
        for status in answers:  # in order: requests accepted, failed, or dropped
            if status == 202:
                intake.accept_late(0.0)
            else:
                intake.fail_next(status)
        config = Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k", "ONLY_JSON": "false"})
        options = dataclasses.replace(
            config.logs, retry=RetryPolicy(max_attempts=2), max_batch_entries=7, concurrency=concurrency
        )
        sender = DatadogSender(options, _Key(), sleep=lambda _s: None)
        with Logship(config, sender=sender) as app:
            try:
                response = app.handle(event, FakeContext())
            except DeliveryError:  # nothing accepted: the whole batch is retried by Firehose
                assert intake.entries == []
                return
        delivered = {e["message"] for e in intake.entries}
    failed = [r["result"] == "ProcessingFailed" for r in response["records"]]
    assert failed == [not set(ms) <= delivered for ms in messages]
