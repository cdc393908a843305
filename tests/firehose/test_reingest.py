"""Re-ingest: batches within API limits, retries of partial failures, never raising."""

from __future__ import annotations

from logship.firehose.reingest import FirehoseReingester, KinesisReingester, ReingestItem, ReingestReport, reingest
from logship.retry import RetryPolicy


class FlakyFirehose:
    """A Firehose client (boto3 shape): whole calls raise at first, then chosen records fail for a while."""

    def __init__(self, *, bad: set[bytes], fail_calls: int, raise_calls: int = 0) -> None:
        self.bad = bad
        self.fail_calls = fail_calls
        self.raise_calls = raise_calls
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, DeliveryStreamName, Records):
        self.calls.append([r["Data"] for r in Records])
        if len(self.calls) <= self.raise_calls:
            raise ConnectionError("throttled")
        failing = len(self.calls) <= self.raise_calls + self.fail_calls
        responses = [
            {"ErrorCode": "ServiceUnavailableException"} if failing and r["Data"] in self.bad else {"RecordId": "x"}
            for r in Records
        ]
        return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}


def test_partial_failures_are_retried_until_put():
    """Entries with an ErrorCode are sent again, and only those."""
    client = FlakyFirehose(bad={b"r0", b"r2", b"r4"}, fail_calls=1, raise_calls=1)
    items = [ReingestItem(f"r{n}".encode()) for n in range(5)]
    report = reingest(items, FirehoseReingester(client, "s"), policy=RetryPolicy(max_attempts=5), sleep=lambda _s: None)
    assert report.failed == set()
    assert report.retries == 2
    assert client.calls == [
        [b"r0", b"r1", b"r2", b"r3", b"r4"],
        [b"r0", b"r1", b"r2", b"r3", b"r4"],
        [b"r0", b"r2", b"r4"],
    ]


def test_exhausted_attempts_report_failures_without_raising():
    """When attempts run out the failed indices come back; nothing raises."""
    client = FlakyFirehose(bad={b"a", b"c"}, fail_calls=100)
    items = [ReingestItem(b"a"), ReingestItem(b"b"), ReingestItem(b"c")]
    report = reingest(items, FirehoseReingester(client, "s"), policy=RetryPolicy(max_attempts=3), sleep=lambda _s: None)
    assert report.failed == {0, 2}
    assert client.calls == [[b"a", b"b", b"c"], [b"a", b"c"], [b"a", b"c"]]


def test_oversized_items_fail_without_a_call():
    """An item over the per-record limit is reported failed and never sent."""
    client = FlakyFirehose(bad=set(), fail_calls=0)
    report = reingest([ReingestItem(b"x" * (1000 * 1024 + 1))], FirehoseReingester(client, "s"), sleep=lambda _s: None)
    assert report.failed == {0}
    assert client.calls == []


def test_kinesis_counts_the_partition_key():
    """Kinesis record size includes its partition key."""
    assert KinesisReingester(None, "s").item_size(ReingestItem(b"abc", "key")) == 6


def test_a_second_try_is_absorbed_into_the_first_report():
    """Items a later re-ingest put back no longer count as failed; its calls and errors add up."""
    first = ReingestReport(failed={1, 3, 4}, calls=2, retries=1, errors=["a"])
    first.absorb([3, 4], ReingestReport(failed={1}, calls=3, retries=2, errors=["b"]))
    assert (first.failed, first.calls, first.retries, first.errors) == ({1, 4}, 5, 4, ["a", "b"])
