"""Dead letters: entries Datadog did not accept in time, kept in S3, and their replay.

An object holds gzipped JSON lines, each line one exact entry as it was sent
(tags included), under ``<prefix>/YYYY/MM/DD/``. :func:`replay` sends objects
back to Datadog and deletes each only once all of it was accepted; an object
accepted in part is rewritten to hold only what is left.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from logship import _gzip, limits, s3uri
from logship.datadog.logs import DatadogSender
from logship.errors import DeadLetterError, DecodeError
from logship.firehose.timestamps import DateWindow, restamp_dates

logger = logging.getLogger(__name__)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``); DeadLetterError saying what is wrong."""
    try:
        return s3uri.parse(uri)
    except ValueError as err:
        raise DeadLetterError(str(err)) from None


def encode_lines(entries: list[bytes]) -> bytes:
    """gzip(JSON lines) of entries (serialized JSON never holds a raw newline)."""
    return _gzip.compress(b"\n".join(entries) + b"\n")


def decode_lines(body: bytes) -> list[bytes]:
    """The entries of a dead-letter object."""
    try:
        text = _gzip.decompress(body, max_bytes=limits.DEFAULT_MAX_DECOMPRESSED_BYTES * 4)
    except DecodeError as err:
        raise DeadLetterError(f"dead letter {err}") from err
    return [line for line in text.split(b"\n") if line]


class DeadLetter:
    """Writes dead letters under one ``s3://bucket/prefix``; the S3 client is made on first use."""

    def __init__(self, uri: str, client_factory: Callable[[str], Any]) -> None:
        self.uri = uri
        self.bucket, self.prefix = parse_s3_uri(uri)
        self._client_factory = client_factory
        self._client: Any = None

    def write(self, entries: list[bytes], *, reason: str, invocation_id: str = "") -> str:
        """Store ``entries`` in one object and return its ``s3://`` URI; raise DeadLetterError on failure."""
        if self._client is None:
            self._client = self._client_factory("s3")
        now = datetime.datetime.now(datetime.UTC)
        name = f"{now:%H%M%S}-{invocation_id or 'local'}-{uuid.uuid4().hex[:12]}.jsonl.gz"
        key = "/".join(p for p in (self.prefix, f"{now:%Y/%m/%d}", name) if p)
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=encode_lines(entries),
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
                Metadata={"reason": _header_text(reason), "entries": str(len(entries))},
            )
        except Exception as err:
            raise DeadLetterError(
                f"could not write {len(entries)} entries to s3://{self.bucket}/{key}: {type(err).__name__}: {err}"
            ) from err
        return f"s3://{self.bucket}/{key}"


# S3 sends user metadata as HTTP headers: printable ASCII only, and kept short.
_METADATA_MAX_CHARS = 512


def _header_text(text: str) -> str:
    """``text`` as S3 user metadata can carry it: printable ASCII, at most 512 characters."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return printable[:_METADATA_MAX_CHARS]


@dataclasses.dataclass
class ReplayReport:
    """What a replay did, object by object; ``failure`` says what kept entries from Datadog (empty: nothing did)."""

    objects: int = 0
    deleted: int = 0
    rewritten: int = 0
    entries: int = 0
    accepted: int = 0
    left: int = 0
    failure: str = ""


def _keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    if prefix.endswith(".jsonl.gz"):
        yield prefix
        return
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/" if prefix else ""):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".jsonl.gz"):
                yield item["Key"]


# Restamp an hour inside Datadog's window (18 h back, 2 h ahead), so the request
# is not refused on the way and a skewed clock does not matter.
RESTAMP_AFTER_SECONDS = limits.DATADOG_MAX_LOG_AGE_SECONDS - 3600
RESTAMP_AHEAD_SECONDS = limits.DATADOG_MAX_LOG_FUTURE_SECONDS - 3600


def restamp(entry: bytes, *, now_ms: int, max_age_ms: int, max_ahead_ms: int = RESTAMP_AHEAD_SECONDS * 1000) -> bytes:
    """``entry`` with every date Datadog would discard moved to ``logship.original_<attribute>``.

    Datadog drops logs dated more than 18 hours back or 2 hours ahead, reading
    the date from any of its date attributes (``timestamp``, ``@timestamp``,
    ``date``, ... as epoch milliseconds or ISO 8601 text). Each such date
    older than ``max_age_ms``, more than ``max_ahead_ms`` ahead of ``now_ms``,
    or unreadable, is moved (see :func:`logship.firehose.timestamps.restamp_dates`);
    without a date Datadog dates the log at intake, and the original stays
    searchable. Other entries come back byte for byte.
    """
    doc = orjson.loads(entry)
    if type(doc) is not dict:
        return entry
    if not restamp_dates(doc, DateWindow(now_ms - max_age_ms, now_ms + max_ahead_ms)):
        return entry
    return orjson.dumps(doc)


def replay(
    uri: str,
    sender: DatadogSender,
    client: Any,
    *,
    deadline_seconds: float = 600.0,
    restamp_after_seconds: float | None = RESTAMP_AFTER_SECONDS,
    clock: Callable[[], float] = time.time,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Send the dead letter at ``uri`` (one object, or every object under a prefix) to Datadog.

    Entries dated more than ``restamp_after_seconds`` back (or more than
    :data:`RESTAMP_AHEAD_SECONDS` ahead) are restamped (see :func:`restamp`)
    so Datadog keeps them; None sends them as they are.
    """
    bucket, prefix = parse_s3_uri(uri)
    report = ReplayReport()
    keys = list(_keys(client, bucket, prefix))
    if progress is not None:
        progress(0, len(keys))
    for key in keys:
        report.objects += 1
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        entries = decode_lines(body)
        if restamp_after_seconds is not None:
            now_ms = int(clock() * 1000)
            max_age_ms = int(restamp_after_seconds * 1000)
            entries = [restamp(entry, now_ms=now_ms, max_age_ms=max_age_ms) for entry in entries]
        delivery = sender.send(entries, deadline=time.monotonic() + deadline_seconds)
        left = delivery.undelivered + [entry for entry, _reason in delivery.rejected]
        report.entries += len(entries)
        report.accepted += delivery.accepted
        report.left += len(left)
        if left:
            report.failure = delivery.failure()
        if not left:
            client.delete_object(Bucket=bucket, Key=key)
            report.deleted += 1
        elif delivery.accepted:
            # Keep only what is left, so a later replay sends nothing twice.
            client.put_object(Bucket=bucket, Key=key, Body=encode_lines(left), ContentEncoding="gzip")
            report.rewritten += 1
        logger.info(
            "replayed dead letter",
            extra={"key": key, "entries": len(entries), "accepted": delivery.accepted, "left": len(left)},
        )
        if delivery.auth_error:
            raise DeadLetterError(delivery.auth_error)
        if progress is not None:
            progress(report.objects, len(keys))
    return report
