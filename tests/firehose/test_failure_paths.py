"""Failure paths through the handler and a Firehose stand-in: no event reaches S3 twice, none is lost.

Firehose is played by :class:`~logship.testing.firehose.FirehoseStandIn`
(retries, then the error prefix); re-ingest and the error prefix are real API
calls to moto; Datadog is the intake emulator.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import zlib
from typing import Any

import orjson
import pytest
from conftest import FakeContext, data_record, firehose_event

from logship.firehose.reingest import FirehoseReingester
from logship.firehose.subscription import decode_record
from logship.redrive import redrive
from logship.retry import RetryPolicy
from logship.settings import Settings
from logship.testing.firehose import FirehoseStandIn, FlakyFirehose, FlakyS3, records_of

FAST = RetryPolicy(max_attempts=3, base_seconds=0.0, cap_seconds=0.0)


def s3_messages(firehose: FirehoseStandIn) -> list[str]:
    """Every line the destination got (Ok records' data, gzip members of lines)."""
    return [line for data in firehose.destination for line in zlib.decompress(data, wbits=31).decode().splitlines()]


def sent_messages(intake) -> list[str]:
    return [e["message"] for e in intake.entries]


def records(count: int, events: int, tag: str = "m") -> tuple[list[dict[str, Any]], list[str]]:
    """``count`` records of ``events`` unique plain-text events each (80 random-looking bytes per event)."""
    made, expected = [], []
    for r in range(count):
        messages = [f"{tag}{r}-{n} " + zlib.crc32(f"{r}/{n}".encode()).to_bytes(4).hex() * 10 for n in range(events)]
        made.append(data_record(f"{tag}{r}", messages))
        expected += messages
    return made, expected


def drain(firehose: FirehoseStandIn, local_aws, bucket: str, *, rounds: int = 10, batch: int = 20) -> None:
    """Feed what moto's Firehose delivered (re-ingested records) back through the stand-in until none comes back.

    Firehose hands the function at most its buffer's worth at a time: ``batch`` records here.
    """
    for _round in range(rounds):
        delivered = local_aws.delivered_records(bucket, prefix="reingested/", take=True)
        if not delivered:
            return
        for start in range(0, len(delivered), batch):
            firehose.deliver(records_of(delivered[start : start + batch]), lambda _n: FakeContext())
    raise AssertionError("re-ingest did not settle")


def redrive_and_drain(firehose: FirehoseStandIn, local_aws, bucket: str, stream: str) -> None:
    """What an operator does once things work again: redrive the error prefix, then let Firehose process it."""
    reingester = FirehoseReingester(local_aws.client("firehose"), stream)
    report = redrive(f"s3://{bucket}/processing-failed", reingester, local_aws.client("s3"), policy=FAST)
    assert report.failed == 0 and not report.stuck
    drain(firehose, local_aws, bucket)


def error_prefix_is_empty(local_aws, bucket: str) -> bool:
    return local_aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="processing-failed/").get("KeyCount") == 0


def app_for(make_app, intake, local_aws, *, env: dict[str, str], s3=None, concurrency: int = 4, batch: int = 1000):
    settings = Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k", "ONLY_JSON": "false", **env})
    settings = dataclasses.replace(
        settings, logs=dataclasses.replace(settings.logs, concurrency=concurrency, max_batch_entries=batch)
    )

    def clients(service: str, region: str | None = None):
        return s3 if service == "s3" and s3 is not None else local_aws.client(service, region)

    return make_app(settings, client_factory=clients)


@pytest.mark.parametrize("dead_letter", ["missing bucket", "503 SlowDown"])
def test_reproduction_overflow_datadog_down_and_no_dead_letter_lands_nothing_twice(
    dead_letter, intake, local_aws, unique, delivery_stream, make_app
):
    """Issue 15: records re-ingested for size, Datadog down, dead letter unwritable: no event in S3 twice, none lost."""
    s3 = FlakyS3(local_aws.client("s3"))
    s3.slow_down = dead_letter == "503 SlowDown"
    dl_bucket = unique if dead_letter == "503 SlowDown" else f"{unique}-missing"
    app = app_for(
        make_app,
        intake,
        local_aws,
        s3=s3,
        env={
            "LOGSHIP_RESPONSE_LIMIT_BYTES": "6000",
            "LOGSHIP_DEAD_LETTER_URI": f"s3://{dl_bucket}/dead-letter",
            "LOGSHIP_TIME_MARGIN_MS": "1000",
        },
    )
    batch, expected = records(30, 50)
    firehose = FirehoseStandIn(app.handle, local_aws.client("s3"), unique, stream=unique)
    intake.start_outage(503)
    result = firehose.deliver(batch, lambda _n: FakeContext(remaining_ms=1_400))
    # Every attempt failed before re-ingesting anything, so Firehose's retries repeated nothing.
    assert result.response is None and result.attempts == 4
    assert all("DeliveryError" in f and "dead letter could not be written" in f for f in result.failures)
    assert local_aws.delivered_records(unique, prefix="reingested/") == []
    assert firehose.destination == [] and len(result.errors) == 30
    # Later: Datadog is back, the batch is redriven from the error prefix and lands once.
    intake.end_outage()
    s3.slow_down = False
    redrive_and_drain(firehose, local_aws, unique, unique)
    assert collections.Counter(s3_messages(firehose)) == collections.Counter(expected)
    assert set(sent_messages(intake)) == set(expected)
    assert error_prefix_is_empty(local_aws, unique)


@pytest.mark.parametrize("dead_letter", ["none", "missing bucket", "503 SlowDown"])
def test_datadog_down_after_accepting_some_fails_only_the_records_it_did_not_take(
    dead_letter, intake, local_aws, unique, delivery_stream, make_app
):
    """Once Datadog accepted anything the invocation answers: records whose logs are not kept are ProcessingFailed."""
    s3 = FlakyS3(local_aws.client("s3"))
    s3.slow_down = dead_letter == "503 SlowDown"
    env = {"LOGSHIP_TIME_MARGIN_MS": "1000"}
    if dead_letter != "none":
        env["LOGSHIP_DEAD_LETTER_URI"] = f"s3://{unique if dead_letter == '503 SlowDown' else unique + '-x'}/dl"
    # One record's entries fill one request; the first request is accepted, then Datadog is down.
    app = app_for(make_app, intake, local_aws, s3=s3, env=env, concurrency=1, batch=10)
    batch, expected = records(6, 10)
    intake.accept_late(0.0)
    intake.start_outage(503)
    firehose = FirehoseStandIn(app.handle, local_aws.client("s3"), unique, stream=unique)
    result = firehose.deliver(batch, lambda _n: FakeContext(remaining_ms=1_600))
    assert result.attempts == 1 and result.response is not None
    answers = [r["result"] for r in result.response["records"]]
    assert sorted(answers) == ["Ok"] + ["ProcessingFailed"] * 5
    [ok] = [r["recordId"] for r in result.response["records"] if r["result"] == "Ok"]
    assert sorted(sent_messages(intake)) == sorted(e["message"] for e in decode_record(ok_data(batch, ok)).events)
    assert len(result.errors) == 5
    intake.end_outage()
    s3.slow_down = False
    redrive_and_drain(firehose, local_aws, unique, unique)
    assert collections.Counter(s3_messages(firehose)) == collections.Counter(expected)
    assert collections.Counter(sent_messages(intake)) == collections.Counter(expected)


def ok_data(batch: list[dict[str, Any]], record_id: str) -> str:
    return next(r["data"] for r in batch if r["recordId"] == record_id)


def test_an_exhausted_budget_without_a_dead_letter_fails_before_reingesting(
    intake, local_aws, unique, delivery_stream, make_app
):
    """No time left for Datadog and no dead letter: the invocation fails having put nothing back."""
    app = app_for(make_app, intake, local_aws, env={"LOGSHIP_RESPONSE_LIMIT_BYTES": "4000"})
    batch, expected = records(8, 20)
    firehose = FirehoseStandIn(app.handle, local_aws.client("s3"), unique, stream=unique)
    result = firehose.deliver(batch, lambda _n: FakeContext(remaining_ms=200))  # under the 5 s margin
    assert result.response is None and len(result.errors) == 8
    assert local_aws.delivered_records(unique, prefix="reingested/") == []
    assert intake.entries == []
    redrive_and_drain(firehose, local_aws, unique, unique)
    assert collections.Counter(s3_messages(firehose)) == collections.Counter(expected)


def test_reingest_failing_in_part_sends_nothing_to_s3_twice(intake, local_aws, unique, delivery_stream, make_app):
    """Records the stream refuses go to the error prefix with their logs sent now; redriven, each event lands once."""
    flaky = FlakyFirehose(local_aws.client("firehose"))
    flaky.record_failure_rate = 0.6
    settings = Settings.from_env(
        {
            "DD_URL": intake.url,
            "DD_API_KEY": "k",
            "ONLY_JSON": "false",
            "LOGSHIP_RESPONSE_LIMIT_BYTES": "5000",
            "LOGSHIP_REINGEST_MAX_ATTEMPTS": "2",
        }
    )
    app = make_app(
        settings, client_factory=lambda service, region=None: flaky if service == "firehose" else local_aws.client(service, region)
    )
    batch, expected = records(20, 15)
    firehose = FirehoseStandIn(app.handle, local_aws.client("s3"), unique, stream=unique)
    result = firehose.deliver(batch, lambda _n: FakeContext())
    assert result.attempts == 1 and result.errors  # some records could not be put back ...
    assert result.response is not None
    answers = collections.Counter(r["result"] for r in result.response["records"])
    assert answers["Dropped"] > 0  # ... and some could
    failed_messages = {
        e["message"]
        for r in batch
        for answer in result.response["records"]
        if answer["recordId"] == r["recordId"] and answer["result"] == "ProcessingFailed"
        for e in decode_record(r["data"]).events
    }
    assert failed_messages <= set(sent_messages(intake))  # their logs reached Datadog at once
    flaky.heal()
    drain(firehose, local_aws, unique)
    redrive_and_drain(firehose, local_aws, unique, unique)
    assert collections.Counter(s3_messages(firehose)) == collections.Counter(expected)
    assert set(sent_messages(intake)) == set(expected)


def test_summary_counts_records_failed_for_unkept_logs(intake, local_aws, unique, make_app):
    """The invocation line says how many records were answered ProcessingFailed because their logs were not kept."""
    app = app_for(make_app, intake, local_aws, env={"LOGSHIP_TIME_MARGIN_MS": "1000"}, concurrency=1, batch=10)
    batch, _expected = records(4, 10)
    intake.accept_late(0.0)
    intake.start_outage(0)  # connections dropped
    invocation = app.process({"records": batch, "invocationId": "i-1"}, FakeContext(remaining_ms=1_500))
    summary = invocation.summary
    assert (summary.ok, summary.processing_failed, summary.failed_unkept, summary.dd_unkept) == (1, 3, 3, 30)
    assert summary.dd_accepted == 10 and summary.dd_dead_lettered == 0
    assert orjson.loads(orjson.dumps(summary.as_log()))["failed_unkept"] == 3


def test_a_rest_too_big_for_one_record_is_split_and_its_pieces_left_behind_get_every_retry(
    intake, local_aws, unique, delivery_stream, make_app
):
    """A record whose rest re-encodes over a record's size goes back in pieces; none is left while others are back."""
    import os
    import random

    flaky = FlakyFirehose(local_aws.client("firehose"), random.Random(7))
    flaky.record_failure_rate = 0.5
    settings = Settings.from_env(
        {
            "DD_URL": intake.url,
            "DD_API_KEY": "k",
            "ONLY_JSON": "false",
            "LOGSHIP_OUTPUT_COMPRESSION": "none",
            "LOGSHIP_RESPONSE_LIMIT_BYTES": "200000",
        }
    )
    settings = dataclasses.replace(
        settings, reingest_retry=RetryPolicy(max_attempts=1, base_seconds=0.0, cap_seconds=0.0)
    )
    app = make_app(
        settings, client_factory=lambda service, region=None: flaky if service == "firehose" else local_aws.client(service, region)
    )
    filler, _ = records(1, 1_600, tag="f")  # takes most of the response
    big = [f"big-{n} " + base64.b64encode(os.urandom(30_000)).decode() for n in range(35)]  # ~1.05 MB gzipped
    event = firehose_event([*filler, data_record("big", big)], stream=unique)
    assert len(base64.b64decode(event["records"][1]["data"])) > 1_024_000
    invocation = app.process(event, FakeContext())
    assert [r["result"] for r in invocation.response["records"]] == ["Ok", "Dropped"]
    assert invocation.summary.reingest_calls > 1 and invocation.summary.reingest_partial == 0
    pieces = local_aws.delivered_records(unique, prefix="reingested/")
    assert len(pieces) > 4
    put_back = [e["message"] for p in pieces for e in decode_record(base64.b64encode(p)).events]
    assert collections.Counter(put_back) == collections.Counter(big)
