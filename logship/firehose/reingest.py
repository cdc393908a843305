"""Re-ingest step: put records that do not fit the response back into the stream.

Direct PUT streams take ``firehose.put_record_batch`` on the same delivery
stream; streams fed by a Kinesis data stream refuse it, so those records go to
the source stream with ``kinesis.put_records`` and their original partition
key. Batches respect each API's record, byte and per-record limits; partial
failures are retried with the shared :class:`~logship.retry.RetryPolicy`,
and an answer no retry can fix (no such stream, access denied, no
credentials) ends re-ingest at once, saying why.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from logship import limits
from logship.aws import describe_error, error_code
from logship.errors import ConfigError
from logship.packing import pack
from logship.retry import RetryPolicy

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class ReingestItem:
    """One record to put back: its bytes (before base64) and, for Kinesis, its partition key."""

    data: bytes
    partition_key: str | None = None


class Reingester(Protocol):
    """Where records go back to. ``put_batch`` returns one error code (or None) per item."""

    target: str
    max_records: int
    max_batch_bytes: int
    max_record_bytes: int

    def item_size(self, item: ReingestItem) -> int:
        """Bytes the service counts for ``item`` against its limits."""
        ...

    def put_batch(self, items: Sequence[ReingestItem]) -> list[str | None]:
        """Send one batch; raise on a failure of the whole call."""
        ...


class FirehoseReingester:
    """``PutRecordBatch`` into a delivery stream (Direct PUT)."""

    max_records = limits.FIREHOSE_BATCH_MAX_RECORDS
    max_batch_bytes = limits.FIREHOSE_BATCH_MAX_BYTES
    max_record_bytes = limits.FIREHOSE_RECORD_MAX_BYTES

    def __init__(self, client: Any, delivery_stream: str) -> None:
        self.client = client
        self.delivery_stream = delivery_stream
        self.target = f"firehose:{delivery_stream}"

    def item_size(self, item: ReingestItem) -> int:
        """Firehose counts the data blob only."""
        return len(item.data)

    def put_batch(self, items: Sequence[ReingestItem]) -> list[str | None]:
        """One PutRecordBatch call; per-entry error codes in request order."""
        response = self.client.put_record_batch(
            DeliveryStreamName=self.delivery_stream, Records=[{"Data": item.data} for item in items]
        )
        return [entry.get("ErrorCode") or None for entry in response["RequestResponses"]]


class KinesisReingester:
    """``PutRecords`` into the Kinesis data stream that feeds the delivery stream."""

    max_records = limits.KINESIS_BATCH_MAX_RECORDS
    max_batch_bytes = limits.KINESIS_BATCH_MAX_BYTES
    max_record_bytes = limits.KINESIS_RECORD_MAX_BYTES

    def __init__(self, client: Any, stream_name: str) -> None:
        self.client = client
        self.stream_name = stream_name
        self.target = f"kinesis:{stream_name}"

    def item_size(self, item: ReingestItem) -> int:
        """Kinesis counts the data blob plus the partition key."""
        return len(item.data) + len((item.partition_key or "").encode("utf-8"))

    def put_batch(self, items: Sequence[ReingestItem]) -> list[str | None]:
        """One PutRecords call; per-entry error codes in request order."""
        response = self.client.put_records(
            StreamName=self.stream_name,
            Records=[{"Data": item.data, "PartitionKey": item.partition_key or _random_key()} for item in items],
        )
        return [entry.get("ErrorCode") or None for entry in response["Records"]]


def _random_key() -> str:
    return f"{random.getrandbits(64):016x}"


#: Answers of PutRecordBatch and PutRecords, and AWS's common errors, that no retry can fix: the
#: stream does not exist, the request or the caller is refused, the stream's KMS key cannot be used
#: (Firehose API reference, PutRecordBatch; Kinesis API reference, PutRecords; "Common Errors").
#: Retried: ServiceUnavailableException, ProvisionedThroughputExceededException, KMSThrottlingException,
#: InternalFailure, ThrottlingException, and a request that got no answer.
FINAL_ERROR_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceInUseException",  # Kinesis: a stream being created or deleted (Firehose: being deleted)
        "InvalidArgumentException",
        "InvalidSourceException",
        "InvalidKMSResourceException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "KMSOptInRequired",
        "AccessDeniedException",
        "AccessDenied",
        "NotAuthorized",
        "OptInRequired",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredTokenException",
        "ValidationException",
        "ValidationError",
        # botocore's, raised before any request: no credentials, no region.
        "NoCredentialsError",
        "PartialCredentialsError",
        "NoRegionError",
    }
)


def final_problem(err: BaseException) -> str | None:
    """Why no retry of a call that raised ``err`` can succeed, in words; None when a retry may.

    A stream that does not exist, a refused caller or request, the stream's
    KMS key, no credentials or no region (:data:`FINAL_ERROR_CODES`), and a
    client that could not be made (:class:`~logship.errors.ConfigError`).
    """
    if isinstance(err, ConfigError):
        return str(err)
    code = error_code(err)
    if code not in FINAL_ERROR_CODES:
        return None
    if code == "ResourceNotFoundException":
        message = getattr(err, "response", {}).get("Error", {}).get("Message", "")
        return " ".join(f"the stream does not exist ({code}: {message})".split())
    return describe_error(err) or f"{code}: {err}"


@dataclasses.dataclass
class ReingestReport:
    """What happened: indices of items that could not be put back, calls made, retries, errors seen.

    ``final`` says why re-ingest stopped without retrying (see :func:`final_problem`); None when it did not.
    """

    failed: set[int]
    calls: int = 0
    retries: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    target: str = ""
    final: str | None = None

    def absorb(self, indices: Sequence[int], again: ReingestReport) -> None:
        """Take in ``again``, a re-ingest of the items at ``indices``: what it put back no longer failed."""
        self.failed = (self.failed - set(indices)) | {indices[i] for i in again.failed}
        self.calls += again.calls
        self.retries += again.retries + 1
        self.errors.extend(again.errors)
        self.final = again.final or self.final

    def failure(self) -> str:
        """Why items were left, in words (the last distinct errors, or the final one); empty when none was."""
        if not self.failed:
            return ""
        if self.final:
            return self.final
        return "; ".join(dict.fromkeys(self.errors[-_ERRORS_SHOWN:])) or "not put back"


# Errors a failure names, the last ones (a long outage repeats one error per try).
_ERRORS_SHOWN = 3

#: Re-ingest's retries: PutRecordBatch and PutRecords throttle per shard or stream
#: for about a second, so short waits, a few times.
REINGEST_RETRY = RetryPolicy(max_attempts=5, base_seconds=0.1, cap_seconds=5.0)


def reingest(
    items: Sequence[ReingestItem],
    reingester: Reingester,
    *,
    policy: RetryPolicy = REINGEST_RETRY,
    deadline: float = float("inf"),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ReingestReport:
    """Put every item back, retrying what fails; never raise, report what could not be put.

    A call that fails for a reason no retry can fix (:func:`final_problem`)
    stops re-ingest at once: every item not put back yet is reported failed,
    with ``final`` saying why. A record the stream refuses with such a code
    is not sent again either.
    """
    report = ReingestReport(failed=set(), target=reingester.target)
    pending = [i for i, item in enumerate(items) if reingester.item_size(item) <= reingester.max_record_bytes]
    given_up = set(range(len(items))) - set(pending)
    if given_up:
        report.errors.append(f"{len(given_up)} record(s) over {reingester.max_record_bytes} bytes")
    attempts = policy.start(deadline, sleep=sleep, clock=clock)
    while pending:
        pending, stop = _one_round(items, pending, reingester, report, given_up)
        if stop is not None:
            report.final = stop
            break
        if pending and not attempts.wait():
            if attempts.stopped_by == "time":
                report.errors.append("out of time for re-ingest retries")
            break
        if pending:
            report.retries += 1
    report.failed = set(pending) | given_up
    if report.failed:
        logger.debug(
            "re-ingest left records behind",
            extra={"target": reingester.target, "failed": len(report.failed), "errors": report.errors[-5:]},
        )
    return report


def _one_round(
    items: Sequence[ReingestItem],
    pending: list[int],
    reingester: Reingester,
    report: ReingestReport,
    given_up: set[int],
) -> tuple[list[int], str | None]:
    """Try each pending item once, batch by batch: the items to try again, and why to stop (None: go on).

    After a call fails for good, no other batch is sent. An item the stream
    refuses with a final code joins ``given_up``.
    """
    still: list[int] = []
    stop: str | None = None
    batches = pack(
        pending,
        max_items=reingester.max_records,
        max_bytes=reingester.max_batch_bytes,
        size=lambda i: reingester.item_size(items[i]),
    )
    for chosen in batches:
        if stop is not None:
            still.extend(chosen)
            continue
        report.calls += 1
        try:
            codes = reingester.put_batch([items[i] for i in chosen])
        except Exception as err:  # noqa: BLE001 - any client failure is retried or reported, never raised
            stop = final_problem(err)
            report.errors.append(stop or f"{type(err).__name__}: {err}")
            still.extend(chosen)
            continue
        refused = sorted({code for code in codes if code})
        if refused:
            report.errors.append("per-record errors: " + ",".join(refused))
        for i, code in zip(chosen, codes, strict=True):
            if code in FINAL_ERROR_CODES:
                given_up.add(i)
                report.final = report.final or f"the stream refused records ({code})"
            elif code:
                still.append(i)
    return still, stop
