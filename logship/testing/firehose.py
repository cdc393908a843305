"""Firehose's side of a transformation Lambda, for tests: invoke, retry, deliver, and write the error prefix.

What Firehose does (Amazon Data Firehose Developer Guide, "Handle failure in
data transformation"): it invokes the function with a batch of records; a
failed invocation (an error, a timeout, a response that misses or repeats a
recordId) is retried ``NumberOfRetries`` times (default 3), then the whole
batch goes to the S3 error prefix, ``processing-failed/``. A record answered
``ProcessingFailed`` goes there too; an ``Ok`` record's data goes to the
destination; a ``Dropped`` one nowhere. Each error document is one JSON line::

    {"attemptsMade": 4, "arrivalTimestamp": 1627921286181,
     "errorCode": "Lambda.FunctionError", "errorMessage": "The Lambda function was ...",
     "attemptEndingTimestamp": 1627921366634, "rawData": "<base64 of the record>",
     "lambdaArn": "arn:aws:lambda:..."}

:class:`FirehoseStandIn` does that around any ``handle(event, context)``,
keeping the destination in memory and writing error objects to S3 (moto).
:class:`FlakyFirehose` and :class:`FlakyS3` wrap boto3 clients and fail
calls on demand, the way throttled or unavailable services do.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

#: Firehose's errorCode and errorMessage for a record answered ProcessingFailed (as captured from AWS).
PROCESSING_FAILED = ("Lambda.ProcessingFailedStatus", "ProcessingFailed status set for record")
#: ... and for every record of a batch whose invocations all failed.
FUNCTION_ERROR = (
    "Lambda.FunctionError",
    "The Lambda function was successfully invoked but it returned an error result.",
)
#: ... and when the response missed or repeated a recordId.
MISSING_RECORD_ID = (
    "Lambda.MissingRecordId",
    "One or more record Ids were not returned. Ensure that the Lambda function returns all received record Ids.",
)
DUPLICATED_RECORD_ID = ("Lambda.DuplicatedRecordId", "One or more record Ids were returned more than once.")
#: The processor's default retry count (ProcessingConfiguration, NumberOfRetries).
DEFAULT_RETRIES = 3
DEFAULT_LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:logship-transform:live"


def error_document(
    record: Mapping[str, Any],
    code: tuple[str, str],
    *,
    attempts: int,
    lambda_arn: str = DEFAULT_LAMBDA_ARN,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The error-prefix document Firehose writes for ``record`` (an input record of the event)."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    return {
        "attemptsMade": attempts,
        "arrivalTimestamp": record.get("approximateArrivalTimestamp", now),
        "errorCode": code[0],
        "errorMessage": code[1],
        "attemptEndingTimestamp": now,
        "rawData": record["data"],
        "lambdaArn": lambda_arn,
    }


def error_object(documents: Iterable[Mapping[str, Any]]) -> bytes:
    """An error-prefix object: one JSON document per line."""
    return b"".join(orjson.dumps(doc) + b"\n" for doc in documents)


def records_of(payloads: Iterable[bytes], *, prefix: str = "rec") -> list[dict[str, Any]]:
    """Firehose input records carrying ``payloads`` (bytes as put), with fresh recordIds."""
    now = int(time.time() * 1000)
    return [
        {"recordId": f"{prefix}-{uuid.uuid4().hex}", "approximateArrivalTimestamp": now, "data": _b64(payload)}
        for payload in payloads
    ]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class TimeBudget:
    """A Lambda context with a fixed time budget (what the transformation reads of it)."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        """The budget given at construction."""
        return self.remaining_ms


@dataclasses.dataclass
class BatchResult:
    """What one batch came to: attempts made, the accepted response (None if every attempt failed), errors written."""

    attempts: int
    response: dict[str, Any] | None
    errors: list[dict[str, Any]]
    #: The exception or invalid-response code of each failed attempt.
    failures: list[str]


class FirehoseStandIn:
    """Delivers batches through a transformation as Firehose does; see the module docstring.

    ``destination`` collects the data of every Ok record, in order;
    error documents go to ``s3://<bucket>/<error_prefix>/YYYY/MM/DD/HH/``.
    """

    def __init__(
        self,
        handle: Callable[[dict[str, Any], Any], dict[str, Any]],
        s3: Any,
        bucket: str,
        *,
        stream: str = "logship",
        region: str = "us-east-1",
        retries: int = DEFAULT_RETRIES,
        error_prefix: str = "processing-failed",
        lambda_arn: str = DEFAULT_LAMBDA_ARN,
    ) -> None:
        self.handle = handle
        self.s3 = s3
        self.bucket = bucket
        self.stream = stream
        self.region = region
        self.retries = retries
        self.error_prefix = error_prefix.strip("/")
        self.lambda_arn = lambda_arn
        self.destination: list[bytes] = []
        self.error_keys: list[str] = []
        self._objects = itertools.count()

    def event(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The transformation event Firehose sends for ``records``."""
        return {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": f"arn:aws:firehose:{self.region}:123456789012:deliverystream/{self.stream}",
            "region": self.region,
            "records": [dict(r) for r in records],
        }

    def deliver(
        self, records: Sequence[Mapping[str, Any]], before_attempt: Callable[[int], Any] | None = None
    ) -> BatchResult:
        """Invoke until an attempt succeeds or the retries are spent; keep Ok data, write errors.

        ``before_attempt(n)`` (n from 1) runs before each attempt and returns
        the context to invoke with (None: no context).
        """
        failures: list[str] = []
        for attempt in range(1, self.retries + 2):
            context = before_attempt(attempt) if before_attempt else None
            try:
                response = self.handle(self.event(records), context)
            except Exception as err:  # noqa: BLE001 - any failure of the function is one failed attempt
                failures.append(f"{type(err).__name__}: {err}")
                continue
            problem = _invalid(records, response)
            if problem is not None:
                failures.append(problem[0])
                continue
            errors = []
            for record, answer in zip(records, response["records"], strict=True):
                if answer["result"] == "Ok":
                    self.destination.append(base64.b64decode(answer["data"]))
                elif answer["result"] == "ProcessingFailed":
                    errors.append(
                        error_document(record, PROCESSING_FAILED, attempts=attempt, lambda_arn=self.lambda_arn)
                    )
            self._write(errors)
            return BatchResult(attempt, response, errors, failures)
        code = FUNCTION_ERROR
        errors = [error_document(r, code, attempts=self.retries + 1, lambda_arn=self.lambda_arn) for r in records]
        self._write(errors)
        return BatchResult(self.retries + 1, None, errors, failures)

    def _write(self, documents: list[dict[str, Any]]) -> None:
        if not documents:
            return
        now = datetime.datetime.now(datetime.UTC)
        name = f"{self.stream}-1-{now:%Y-%m-%d-%H-%M-%S}-{next(self._objects):06d}-{uuid.uuid4()}"
        key = f"{self.error_prefix}/{now:%Y/%m/%d/%H}/{name}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=error_object(documents))
        self.error_keys.append(key)


def _invalid(records: Sequence[Mapping[str, Any]], response: Any) -> tuple[str, str] | None:
    """Firehose's error for a response that does not answer every recordId exactly once; None when valid."""
    answers = response.get("records") if isinstance(response, dict) else None
    if not isinstance(answers, list):
        return MISSING_RECORD_ID
    ids = [a.get("recordId") for a in answers]
    if len(set(ids)) != len(ids):
        return DUPLICATED_RECORD_ID
    if ids != [r["recordId"] for r in records]:
        return MISSING_RECORD_ID
    if any(a.get("result") not in {"Ok", "Dropped", "ProcessingFailed"} for a in answers):
        return FUNCTION_ERROR
    return None


def _client_error(code: str, message: str, status: int, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    error: Exception = ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )
    return error


class FlakyFirehose:
    """A boto3 Firehose client that fails ``put_record_batch`` on demand; everything else goes through.

    Set ``fail_calls`` (the next calls raise ServiceUnavailableException),
    ``record_failure_rate`` (each record fails alone, as under throttling,
    with this probability), ``down`` (every call raises) or
    ``down_after_calls`` (that many more calls are served, then it is down).
    ``put`` keeps the data of every record the real client took, in order.
    """

    def __init__(self, client: Any, rng: random.Random | None = None) -> None:
        self.client = client
        self.rng = rng or random.Random(0)  # noqa: S311 - fault injection, not cryptography
        self.fail_calls = 0
        self.record_failure_rate = 0.0
        self.down = False
        self.down_after_calls: int | None = None
        self.put: list[bytes] = []

    def heal(self) -> None:
        """Stop injecting faults."""
        self.fail_calls = 0
        self.record_failure_rate = 0.0
        self.down = False
        self.down_after_calls = None

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        """PutRecordBatch, or its failure."""
        if self.down_after_calls is not None:
            self.down = self.down or self.down_after_calls <= 0
            self.down_after_calls -= 1
        if self.down or self.fail_calls > 0:
            self.fail_calls = max(self.fail_calls - 1, 0)
            raise _client_error("ServiceUnavailableException", "Slow down.", 503, "PutRecordBatch")
        failing = [self.rng.random() < self.record_failure_rate for _ in Records]
        passed = [record for record, fails in zip(Records, failing, strict=True) if not fails]
        real: Iterator[dict[str, Any]] = iter([])
        if passed:
            response = self.client.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=passed)
            real = iter(response["RequestResponses"])
        answers: list[dict[str, Any]] = []
        for record, fails in zip(Records, failing, strict=True):
            if fails:
                answers.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
                continue
            answer = next(real)
            if not answer.get("ErrorCode"):
                self.put.append(record["Data"])
            answers.append(answer)
        return {"FailedPutCount": sum(1 for a in answers if a.get("ErrorCode")), "RequestResponses": answers}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class FlakyS3:
    """A boto3 S3 client whose ``put_object`` answers 503 SlowDown while ``slow_down`` is set."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.slow_down = False

    def put_object(self, **kwargs: Any) -> Any:
        """PutObject, or 503 SlowDown."""
        if self.slow_down:
            raise _client_error("SlowDown", "Please reduce your request rate.", 503, "PutObject")
        return self.client.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
