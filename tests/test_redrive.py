"""Redrive: Firehose's error-prefix documents read as stored, put back once, objects cleared only when done."""

from __future__ import annotations

import base64
import collections
import itertools
from typing import Any

import orjson
import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship import _gzip
from logship.errors import ReingestError
from logship.firehose.reingest import FirehoseReingester, KinesisReingester
from logship.firehose.subscription import decode_record
from logship.redrive import REDRIVEN_TAG, read_documents, redrive
from logship.retry import RetryPolicy
from logship.testing.firehose import FUNCTION_ERROR, FlakyFirehose, error_document, error_object
from logship.testing.synth import firehose_record, subscription_payload

FIXTURE = (FIXTURES / "processing_failed_object").read_bytes()
FAST = RetryPolicy(max_attempts=3, base_seconds=0.0, cap_seconds=0.0)
_names = itertools.count()


def payload(n: int) -> bytes:
    """A CloudWatch Logs subscription record (gzip JSON) with one event ``m<n>``."""
    return subscription_payload(
        "/cron/billing", "/cron/billing/app/t", [{"id": str(n), "timestamp": n, "message": f"m{n}"}]
    )


def document(data: bytes) -> dict[str, Any]:
    return error_document(firehose_record("r", data), FUNCTION_ERROR, attempts=4)


def messages(data: bytes) -> list[str]:
    return [e["message"] for e in decode_record(base64.b64encode(data)).events]


@pytest.fixture
def stream(delivery_stream):
    """A Direct PUT delivery stream (moto) and its bucket, which also holds the error prefix."""
    return delivery_stream


def put_error_object(local_aws, bucket: str, body: bytes, key: str = "processing-failed/2026/11/22/10/obj-1") -> str:
    local_aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return key


def test_the_real_shapes_are_read_and_a_record_that_is_no_cloudwatch_message_is_marked():
    """Both captured document shapes (rawData first, lambdaARN; the documented order) read; "FAIL this one" never succeeds."""
    records = read_documents(FIXTURE)
    assert [r.error_code for r in records] == [
        "Lambda.ProcessingFailedStatus",
        "Lambda.FunctionError",
        "Lambda.ProcessingFailedStatus",
    ]
    assert [r.problem is None for r in records] == [True, True, False]
    assert "not a CloudWatch Logs subscription message" in (records[2].problem or "")
    assert messages(records[0].data or b"")[1] == "retrying in 5s"
    assert b"".join(r.text + b"\n" for r in records) == FIXTURE  # kept byte for byte


def test_documents_are_read_gzipped_glued_together_or_followed_by_garbage():
    """No newline between documents, a gzipped object and trailing junk: each document once, the junk kept."""
    docs = [document(payload(n)) for n in range(3)]
    glued = b"".join(orjson.dumps(d) for d in docs) + b'  {"rawData": tru'
    records = read_documents(_gzip.compress(glued))
    assert [r.problem is None for r in records] == [True, True, True, False]
    assert [messages(r.data or b"") for r in records[:3]] == [["m0"], ["m1"], ["m2"]]
    assert records[3].text == b'{"rawData": tru'


def test_a_record_over_the_streams_limit_can_never_succeed():
    """A record larger than the stream takes is reported, not sent."""
    [record] = read_documents(error_object([document(payload(1))]), max_record_bytes=10)
    assert record.problem is not None and "per record" in record.problem


def test_an_object_is_put_back_and_kept_holding_only_the_record_that_can_never_succeed(local_aws, stream):
    """Good records reach the delivery stream once; the object is rewritten to the bad document, byte for byte."""
    s3 = local_aws.client("s3")
    key = put_error_object(local_aws, stream, FIXTURE)
    reingester = FirehoseReingester(local_aws.client("firehose"), stream)
    report = redrive(f"s3://{stream}/processing-failed/", reingester, s3, policy=FAST)
    assert (report.objects, report.records, report.put_back, report.never, report.failed) == (1, 3, 2, 1, 0)
    assert (report.rewritten, report.deleted) == (1, 0)
    delivered = local_aws.delivered_records(stream, take=True)
    assert sorted(m for d in delivered for m in messages(d)) == sorted(
        ['{"level":"error","msg":"payment failed","order":1812}', "retrying in 5s", "GET /health 200", "GET /cart 500"]
    )
    left = s3.get_object(Bucket=stream, Key=key)["Body"].read()
    assert left == FIXTURE.splitlines(keepends=True)[2]
    # A second run finds only the record that can never succeed: nothing is sent twice.
    again = redrive(f"s3://{stream}/processing-failed", reingester, s3, policy=FAST)
    assert (again.put_back, again.never, again.rewritten) == (0, 1, 0)
    assert local_aws.delivered_records(stream) == []
    assert s3.get_object(Bucket=stream, Key=key)["Body"].read() == left


def test_an_object_all_put_back_is_deleted(local_aws, stream):
    """When every record went back, the object goes."""
    s3 = local_aws.client("s3")
    key = put_error_object(local_aws, stream, error_object([document(payload(n)) for n in range(5)]))
    report = redrive(f"s3://{stream}/{key}", FirehoseReingester(local_aws.client("firehose"), stream), s3, policy=FAST)
    assert (report.put_back, report.deleted) == (5, 1)
    assert s3.list_objects_v2(Bucket=stream, Prefix="processing-failed/").get("KeyCount") == 0


def test_with_tag_the_object_is_tagged_kept_and_skipped_afterwards(local_aws, stream):
    """--tag keeps the object, tags it logship-redrive=done (beside its own tags), and later runs skip it."""
    s3 = local_aws.client("s3")
    key = put_error_object(local_aws, stream, FIXTURE)
    s3.put_object_tagging(Bucket=stream, Key=key, Tagging={"TagSet": [{"Key": "team", "Value": "core"}]})
    reingester = FirehoseReingester(local_aws.client("firehose"), stream)
    report = redrive(f"s3://{stream}/processing-failed", reingester, s3, policy=FAST, tag=True)
    assert (report.put_back, report.never, report.tagged, report.rewritten) == (2, 1, 1, 0)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=stream, Key=key)["TagSet"]}
    assert tags == {"team": "core", REDRIVEN_TAG[0]: REDRIVEN_TAG[1]}
    assert s3.get_object(Bucket=stream, Key=key)["Body"].read() == FIXTURE
    assert len(local_aws.delivered_records(stream, take=True)) == 2
    again = redrive(f"s3://{stream}/processing-failed", reingester, s3, policy=FAST, tag=True)
    assert (again.skipped, again.objects, again.put_back) == (1, 0, 0)
    assert local_aws.delivered_records(stream) == []


def test_dry_run_changes_nothing(local_aws, stream):
    """--dry-run counts what would go back and what never can, and puts, deletes and tags nothing."""
    s3 = local_aws.client("s3")
    key = put_error_object(local_aws, stream, FIXTURE)
    report = redrive(
        f"s3://{stream}/processing-failed", FirehoseReingester(local_aws.client("firehose"), stream), s3, dry_run=True
    )
    assert (report.dry_run, report.put_back, report.never, report.deleted, report.rewritten) == (True, 2, 1, 0, 0)
    assert local_aws.delivered_records(stream) == []
    assert s3.get_object(Bucket=stream, Key=key)["Body"].read() == FIXTURE
    assert s3.get_object_tagging(Bucket=stream, Key=key)["TagSet"] == []


def test_an_object_put_back_in_part_keeps_the_rest_and_the_next_run_sends_only_that(local_aws, stream):
    """Records the stream keeps refusing stay in the object (with the bad one); the next run sends them, once."""
    s3 = local_aws.client("s3")
    good = [payload(n) for n in range(40)]
    body = error_object([document(p) for p in good[:20]]) + FIXTURE.splitlines(keepends=True)[2]
    body += error_object([document(p) for p in good[20:]])
    key = put_error_object(local_aws, stream, body)
    flaky = FlakyFirehose(local_aws.client("firehose"))
    flaky.record_failure_rate = 0.5
    reingester = FirehoseReingester(flaky, stream)
    first = redrive(f"s3://{stream}/processing-failed", reingester, s3, policy=FAST)
    assert first.failed > 0 and first.put_back + first.failed == 40 and first.rewritten == 1
    left = read_documents(s3.get_object(Bucket=stream, Key=key)["Body"].read())
    assert len(left) == first.failed + 1 and sum(r.problem is not None for r in left) == 1
    flaky.heal()
    second = redrive(f"s3://{stream}/processing-failed", reingester, s3, policy=FAST)
    assert (second.put_back, second.failed, second.never) == (first.failed, 0, 1)
    delivered = local_aws.delivered_records(stream, take=True)
    assert collections.Counter(delivered) == collections.Counter(good)


class CountingFirehose:
    """A boto3 Firehose client that counts its PutRecordBatch calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0

    def put_record_batch(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.client.put_record_batch(**kwargs)


def test_a_stream_that_does_not_exist_stops_the_redrive_in_one_call(local_aws, unique):
    """No such stream is final: ReingestError names the stream and why, after one call; the objects stay as they were."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    for n in range(3):
        put_error_object(local_aws, unique, FIXTURE, key=f"processing-failed/obj-{n}")
    firehose = CountingFirehose(local_aws.client("firehose"))
    with pytest.raises(ReingestError) as caught:
        redrive(f"s3://{unique}/processing-failed", FirehoseReingester(firehose, "nosuch"), s3, policy=FAST)
    assert str(caught.value).startswith(
        "cannot put records back into firehose:nosuch: the stream does not exist (ResourceNotFoundException: "
    )
    assert firehose.calls == 1
    for n in range(3):
        assert s3.get_object(Bucket=unique, Key=f"processing-failed/obj-{n}")["Body"].read() == FIXTURE


def test_with_kinesis_stream_records_go_to_the_source_stream(local_aws, unique):
    """--kinesis-stream puts the original bytes back with PutRecords."""
    s3, kinesis = local_aws.client("s3"), local_aws.client("kinesis")
    s3.create_bucket(Bucket=unique)
    kinesis.create_stream(StreamName=unique, ShardCount=1)
    put_error_object(local_aws, unique, FIXTURE)
    report = redrive(f"s3://{unique}/processing-failed", KinesisReingester(kinesis, unique), s3, policy=FAST)
    assert (report.put_back, report.never) == (2, 1)
    shard = kinesis.describe_stream(StreamName=unique)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=unique, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    got = [r["Data"] for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]
    assert sorted(got) == sorted(r.data or b"" for r in read_documents(FIXTURE)[:2])


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(["good", "good", "good", "bad"]), min_size=1, max_size=30),
    st.integers(1, 3),
    st.floats(0.0, 0.7),
    st.booleans(),
)
def test_runs_until_done_put_each_good_record_back_exactly_once(local_aws, kinds, objects, failure_rate, tag):
    """Whatever the stream refuses on the way, rerunning until nothing fails puts every good record once; bad ones stay."""
    bucket = f"logship-redrive-{next(_names)}"
    local_aws.delivery_stream(bucket, bucket)
    try:
        run_until_done(local_aws, bucket, kinds, objects, failure_rate, tag)
    finally:  # moto allows 50 delivery streams per account
        local_aws.client("firehose").delete_delivery_stream(DeliveryStreamName=bucket)


def run_until_done(local_aws, bucket: str, kinds: list[str], objects: int, failure_rate: float, tag: bool) -> None:
    """Error objects of ``kinds`` of records; redrive through a flaky stream until nothing fails; check the result."""
    s3 = local_aws.client("s3")
    good: list[bytes] = []
    bad: list[bytes] = []
    for number in range(objects):
        docs = []
        for n, kind in enumerate(kinds):
            data = payload(number * 1000 + n) if kind == "good" else f"junk {number}/{n}".encode()
            (good if kind == "good" else bad).append(data)
            docs.append(document(data))
        put_error_object(local_aws, bucket, error_object(docs), key=f"processing-failed/2026/11/22/10/o{number}")
    flaky = FlakyFirehose(local_aws.client("firehose"))
    flaky.record_failure_rate = failure_rate
    reingester = FirehoseReingester(flaky, bucket)
    for _run in range(30):
        report = redrive(f"s3://{bucket}/processing-failed", reingester, s3, policy=FAST, tag=tag)
        if not report.failed:
            break
    else:
        raise AssertionError("redrive never finished")
    assert collections.Counter(local_aws.delivered_records(bucket)) == collections.Counter(good)
    kept = [
        r.data or b""
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="processing-failed/").get("Contents", [])
        for r in read_documents(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        if r.problem is not None
    ]
    assert sorted(kept) == sorted(bad)
