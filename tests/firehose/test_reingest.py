"""Re-ingest: batches within API limits, retries of partial failures, no retry of final answers, never raising."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from logship.aws import NO_CREDENTIALS, NO_REGION
from logship.firehose.reingest import (
    FirehoseReingester,
    KinesisReingester,
    ReingestItem,
    ReingestReport,
    final_problem,
    reingest,
)
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


# --- answers no retry can fix ---------------------------------------------------------------

FINAL = ["ResourceNotFoundException", "AccessDeniedException", "InvalidArgumentException", "ValidationException",
         "UnrecognizedClientException", "InvalidKMSResourceException", "KMSAccessDeniedException"]
PASSING = ["ServiceUnavailableException", "ProvisionedThroughputExceededException", "ThrottlingException",
           "InternalFailure", "KMSThrottlingException"]


def client_error(code: str, operation: str = "PutRecordBatch") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"the {code} message"}}, operation)


@pytest.mark.parametrize("code", FINAL)
def test_an_answer_no_retry_can_fix_is_final(code):
    """Such an answer is said in words that hold its code and message."""
    problem = final_problem(client_error(code))
    assert problem is not None and code in problem and f"the {code} message" in problem


@pytest.mark.parametrize("code", PASSING)
def test_a_passing_answer_is_retried(code):
    """Throttling, an unavailable service, an internal failure: a retry may succeed."""
    assert final_problem(client_error(code)) is None


def test_no_credentials_no_region_and_no_answer_are_told_apart():
    """No credentials and no region are final, said as such; a connection that failed is retried."""
    assert final_problem(NoCredentialsError()) == NO_CREDENTIALS
    assert final_problem(NoRegionError()) == NO_REGION
    assert final_problem(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")) is None
    assert str(final_problem(client_error("ResourceNotFoundException"))).startswith("the stream does not exist (")


@pytest.mark.parametrize("service", ["firehose", "kinesis"])
def test_a_stream_that_does_not_exist_is_tried_once(service, local_aws, unique):
    """PutRecordBatch or PutRecords into no such stream: one call, no retry, every item failed, and why."""
    reingester = (FirehoseReingester if service == "firehose" else KinesisReingester)(local_aws.client(service), unique)
    items = [ReingestItem(f"r{n}".encode(), "key") for n in range(3)]
    sleeps: list[float] = []
    report = reingest(items, reingester, policy=RetryPolicy(max_attempts=5), sleep=sleeps.append)
    assert (report.failed, report.calls, report.retries, sleeps) == ({0, 1, 2}, 1, 0, [])
    assert report.final is not None and report.final.startswith("the stream does not exist (ResourceNotFoundException")
    assert report.failure() == report.final


class RefusingFirehose:
    """A Firehose client (boto3 shape) that refuses chosen records with chosen per-record error codes."""

    def __init__(self, codes: dict[bytes, str]) -> None:
        self.codes = codes
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, DeliveryStreamName, Records):
        self.calls.append([r["Data"] for r in Records])
        responses = [{"ErrorCode": self.codes[r["Data"]]} if r["Data"] in self.codes else {"RecordId": "x"}
                     for r in Records]
        return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}


def test_a_record_refused_for_good_is_not_sent_again():
    """A per-record final code gives that record up at once; a passing one is retried."""
    client = RefusingFirehose({b"a": "InvalidArgumentException", b"b": "ServiceUnavailableException"})
    items = [ReingestItem(b"a"), ReingestItem(b"b"), ReingestItem(b"c")]
    report = reingest(items, FirehoseReingester(client, "s"), policy=RetryPolicy(max_attempts=3), sleep=lambda _s: None)
    assert client.calls == [[b"a", b"b", b"c"], [b"b"], [b"b"]]
    assert report.failed == {0, 1}
    assert report.final == "the stream refused records (InvalidArgumentException)"
