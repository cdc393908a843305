"""Redrive: put the records Firehose gave up on, kept in its S3 error prefix, back into the stream.

Firehose writes each record answered ``ProcessingFailed``, and every record of
a batch whose invocations all failed, to its error prefix
(``processing-failed/``) as JSON documents, one per line, with the record's
original bytes base64 in ``rawData`` (the shape is in
:mod:`logship.testing.firehose`). :func:`redrive` reads those objects,
decodes each ``rawData`` and puts it back with the re-ingest step's code:
``PutRecordBatch`` into the delivery stream, or ``PutRecords`` into the
Kinesis data stream that feeds it, within each API's limits, with the shared
retry policy. The Lambda then handles the records as new ones.

Nothing twice, nothing lost, one object at a time:

- An object is deleted (or, with ``tag``, tagged ``logship-redrive=done``,
  and skipped by later runs) only once every record in it that can succeed
  was put back.
- A record that can never succeed (its ``rawData`` is not a CloudWatch Logs
  subscription message: not base64, not gzip, not JSON, missing fields, or
  larger than the stream takes) is reported and left: the object is
  rewritten to hold only such records once the rest was put back.
- An object put back in part (the stream kept refusing some records) is
  rewritten to hold what is left, so the next run sends nothing twice.
- A stream that refuses for good (it does not exist, access is denied, no
  credentials) stops the redrive with :class:`~logship.errors.ReingestError`
  after the object at hand is settled: every other object would meet it too.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from logship import _base64, _gzip, limits, s3uri
from logship.errors import DecodeError, ReingestError
from logship.firehose.reingest import REINGEST_RETRY, Reingester, ReingestItem, reingest
from logship.firehose.subscription import decode_record
from logship.retry import RetryPolicy

logger = logging.getLogger(__name__)

#: The tag a redriven object gets instead of being deleted (``tag=True``); objects with it are skipped.
REDRIVEN_TAG = ("logship-redrive", "done")
# Largest error-prefix object inflated into memory: Firehose's S3 buffer is at most 128 MiB
# (BufferingHints.SizeInMBs), and a gzipped one holds logs that compress 5-20x.
_MAX_OBJECT_BYTES = 4 * 1024 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One document of an error-prefix object: its text as stored, the original record, and its fate."""

    #: The document as stored, byte for byte (a rewritten object keeps it unchanged).
    text: bytes
    #: The original record's bytes (``rawData`` decoded); None when it cannot be read.
    data: bytes | None
    #: Firehose's ``errorCode`` (``Lambda.ProcessingFailedStatus``, ``Lambda.FunctionError``, ...).
    error_code: str
    #: Why this record can never succeed; None when it can be put back.
    problem: str | None


def read_documents(
    body: bytes,
    *,
    max_record_bytes: int = limits.FIREHOSE_RECORD_MAX_BYTES,
    max_decompressed_bytes: int = limits.DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> list[ErrorRecord]:
    """The documents of an error-prefix object (JSON documents one after another, gzipped or not).

    Whitespace between documents is skipped; text that does not parse, to
    the end of the object, becomes one record that can never succeed (so a
    rewrite keeps it). A record whose data is over ``max_record_bytes`` (the
    stream's per-record limit) or whose data is not a CloudWatch Logs
    subscription message (inflated at most ``max_decompressed_bytes``) can
    never succeed either.
    """
    if body.startswith(_GZIP_MAGIC):
        body = _gzip.decompress(body, max_bytes=_MAX_OBJECT_BYTES)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        return [ErrorRecord(body, None, "", f"the object is not UTF-8 text: {err}")]
    decoder = json.JSONDecoder()
    records: list[ErrorRecord] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return records
        try:
            document, end = decoder.raw_decode(text, position)
        except ValueError as err:
            rest = text[position:].encode("utf-8")
            return [*records, ErrorRecord(rest, None, "", f"not a JSON document: {err}")]
        raw = text[position:end].encode("utf-8")
        records.append(_classify(raw, document, max_record_bytes, max_decompressed_bytes))
        position = end


def _classify(raw: bytes, document: Any, max_record_bytes: int, max_decompressed_bytes: int) -> ErrorRecord:
    if not isinstance(document, dict):
        return ErrorRecord(raw, None, "", "not a JSON object")
    code = str(document.get("errorCode", ""))
    encoded = document.get("rawData")
    if not isinstance(encoded, str):
        return ErrorRecord(raw, None, code, "no rawData")
    try:
        data = _base64.decode(encoded)
    except (binascii.Error, ValueError) as err:
        return ErrorRecord(raw, None, code, f"rawData is not base64: {err}")
    if len(data) > max_record_bytes:
        return ErrorRecord(raw, data, code, f"{len(data)} bytes, over the stream's {max_record_bytes} per record")
    try:
        decode_record(encoded, max_decompressed_bytes=max_decompressed_bytes)
    except DecodeError as err:
        return ErrorRecord(raw, data, code, f"not a CloudWatch Logs subscription message: {err}")
    return ErrorRecord(raw, data, code, None)


def encode_documents(records: list[ErrorRecord], *, gzipped: bool) -> bytes:
    """An object holding ``records``' documents, one per line, gzipped when the original was."""
    body = b"".join(record.text + b"\n" for record in records)
    return _gzip.compress(body) if gzipped else body


@dataclasses.dataclass
class RedriveReport:
    """What a redrive did (or, with ``dry_run``, would do), in records and objects."""

    dry_run: bool = False
    objects: int = 0
    #: Objects skipped because an earlier run tagged them.
    skipped: int = 0
    records: int = 0
    #: Records put back into the stream (with ``dry_run``: that would be put back).
    put_back: int = 0
    #: Records the stream still refused after every retry (kept for the next run).
    failed: int = 0
    #: Why records were refused, the last time some were (empty when none was).
    failure: str = ""
    #: Records that can never succeed (reported and kept).
    never: int = 0
    deleted: int = 0
    tagged: int = 0
    rewritten: int = 0
    #: Objects whose records were put back but that could not be deleted, tagged or rewritten:
    #: remove them by hand, or the next run sends those records again.
    stuck: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Object:
    """One error-prefix object as read: where it is, its body and tags, its documents."""

    bucket: str
    key: str
    body: bytes
    tags: list[dict[str, str]]
    records: list[ErrorRecord]


def redrive(
    uri: str,
    reingester: Reingester,
    s3: Any,
    *,
    policy: RetryPolicy = REINGEST_RETRY,
    dry_run: bool = False,
    tag: bool = False,
    max_decompressed_bytes: int = limits.DEFAULT_MAX_DECOMPRESSED_BYTES,
    progress: Callable[[RedriveReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveReport:
    """Put the records of every error-prefix object at ``uri`` (an object, or all under a prefix) back.

    See the module docstring for what happens to each object. ``progress``
    is called with the running report after each object. A ``uri`` that is
    not ``s3://bucket/prefix`` raises ValueError; S3 errors reading or
    listing raise (botocore's ``ClientError``); a stream that refuses records
    for a passing reason does not (they count as ``failed``), one that
    refuses for good raises :class:`~logship.errors.ReingestError`.
    """
    bucket, prefix = s3uri.parse(uri)
    report = RedriveReport(dry_run=dry_run)
    for key in list(_object_keys(s3, bucket, prefix)):
        tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        if any((t["Key"], t["Value"]) == REDRIVEN_TAG for t in tags):
            report.skipped += 1
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        records = read_documents(
            body, max_record_bytes=reingester.max_record_bytes, max_decompressed_bytes=max_decompressed_bytes
        )
        report.objects += 1
        report.records += len(records)
        for record in records:
            if record.problem is not None:
                report.never += 1
                logger.warning(
                    "record can never succeed; left in the error prefix",
                    extra={"key": key, "errorCode": record.error_code, "reason": record.problem},
                )
            elif dry_run:
                report.put_back += 1
        final = None
        if not dry_run:
            obj = _Object(bucket, key, body, tags, records)
            final = _put_back(obj, reingester, s3=s3, policy=policy, tag=tag, report=report, sleep=sleep)
        if progress is not None:
            progress(report)
        if final is not None:
            done = f"; {report.put_back:,} records were put back before that" if report.put_back else ""
            raise ReingestError(f"cannot put records back into {reingester.target}: {final}{done}")
    return report


def _put_back(
    obj: _Object,
    reingester: Reingester,
    *,
    s3: Any,
    policy: RetryPolicy,
    tag: bool,
    report: RedriveReport,
    sleep: Callable[[float], None],
) -> str | None:
    """Put the object's good records back, then delete, tag or rewrite it so none is sent twice.

    Returns why the stream refuses for good (see :func:`~logship.firehose.reingest.final_problem`), or None.
    """
    ready = [r for r in obj.records if r.problem is None]
    if not ready:
        return None
    result = reingest([ReingestItem(r.data or b"") for r in ready], reingester, policy=policy, sleep=sleep)
    failed = {id(ready[i]) for i in result.failed}
    report.put_back += len(ready) - len(failed)
    report.failed += len(failed)
    if failed:
        report.failure = result.failure()
    if len(failed) == len(ready) and result.final is not None:
        return result.final  # nothing was put back and nothing changes: the caller says why, once
    logger.info(
        "redrove error object",
        extra={
            "key": obj.key,
            "put_back": len(ready) - len(failed),
            "failed": len(failed),
            "errors": result.errors[-3:],
        },
    )
    if len(failed) == len(ready):
        return result.final
    rest = [r for r in obj.records if r.problem is not None or id(r) in failed]
    try:
        if failed or (rest and not tag):
            gzipped = obj.body.startswith(_GZIP_MAGIC)
            s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=encode_documents(rest, gzipped=gzipped))
            report.rewritten += 1
        elif tag:
            kept = [t for t in obj.tags if t["Key"] != REDRIVEN_TAG[0]]
            tag_set = [*kept, {"Key": REDRIVEN_TAG[0], "Value": REDRIVEN_TAG[1]}]
            s3.put_object_tagging(Bucket=obj.bucket, Key=obj.key, Tagging={"TagSet": tag_set})
            report.tagged += 1
        else:
            s3.delete_object(Bucket=obj.bucket, Key=obj.key)
            report.deleted += 1
    except Exception as err:  # noqa: BLE001 - the records are out: name the object, never lose track of it
        logger.error(
            "records put back but the object could not be updated; remove it by hand or they are sent again",
            extra={"key": obj.key, "error": f"{type(err).__name__}: {err}"},
        )
        report.stuck.append(f"s3://{obj.bucket}/{obj.key}")
    return result.final


def _object_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    """``prefix`` itself if it is an object, and every object under ``prefix/``."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"]
            if not prefix or name == prefix or name.startswith(prefix + "/"):
                yield name
