"""Ops events' dead letter: a message one sink did not take, kept in S3 under the sink's name, and its replay.

When Datadog or Slack has not taken an event's message after every retry the
invocation's time allows, the exact body that sink would have received is
written to ``<LOGSHIP_DEAD_LETTER_URI>/opsevents/<sink>/YYYY/MM/DD/<time>-<invocation>-<random>.json``:
one JSON document per message,

    {"format": "logship.opsevents/1", "sink": "slack", "body": {...},
     "reason": "HTTP 503 ...", "dedup_key": "...", "event_id": "...", "title": "...",
     "written_at": "2026-01-01T00:00:00Z"}

with the sink also in the object's metadata. The other sink, which did take
its copy, has nothing written and is never sent to again. :func:`replay`
(``logship replay s3://bucket/prefix/opsevents``) sends each object to its own
sink only and deletes it once accepted. The log path's dead letter keeps
``.jsonl.gz`` objects and its replay reads only those, so the two share one
prefix without meeting.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from logship.deadletter import parse_s3_uri
from logship.errors import DeadLetterError
from logship.opsevents import limits
from logship.opsevents.sinks import DATADOG, SINK_NAMES, SLACK, Sink

logger = logging.getLogger(__name__)

#: The folder under the dead-letter prefix that holds ops events.
PREFIX = "opsevents"
SUFFIX = ".json"
FORMAT = "logship.opsevents/1"
# S3 user metadata travels as HTTP headers: printable ASCII, kept short.
_METADATA_MAX_CHARS = 512
# A dead-letter document holds one Slack or Datadog body (each well under 100 KB); larger is not ours.
_OBJECT_MAX_BYTES = 1024 * 1024
# Replay leaves out a date_happened this old: an hour inside Datadog's 18 hours, so the request is not refused.
RESTAMP_AFTER_SECONDS = limits.DATADOG_EVENT_MAX_AGE_SECONDS - 3600


@dataclasses.dataclass(frozen=True)
class Letter:
    """One dead-lettered message: the sink it was for, its exact body, and why it is here."""

    sink: str
    body: Mapping[str, Any]
    reason: str
    dedup_key: str = ""
    event_id: str = ""
    title: str = ""
    written_at: str = ""

    def to_json(self) -> bytes:
        """The object's content."""
        return orjson.dumps({"format": FORMAT, **dataclasses.asdict(self)}, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> Letter:
        """Read an object's content; DeadLetterError when it is not an ops events dead letter."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise DeadLetterError(f"not JSON: {err}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise DeadLetterError(f"not an ops events dead letter (no \"format\": \"{FORMAT}\")")
        sink, body = doc.get("sink"), doc.get("body")
        if sink not in SINK_NAMES or not isinstance(body, dict):
            raise DeadLetterError(f"sink must be one of {', '.join(SINK_NAMES)} and body an object")
        fields = {f.name for f in dataclasses.fields(cls)} - {"sink", "body"}
        return cls(sink, body, **{name: str(doc.get(name, "")) for name in fields})


def is_opsevents_uri(uri: str) -> bool:
    """Whether ``uri`` names ops events dead letters: a prefix or object at or under an ``opsevents`` folder."""
    try:
        _bucket, prefix = parse_s3_uri(uri)
    except DeadLetterError:
        return False
    return PREFIX in prefix.split("/")


class OpsDeadLetter:
    """Writes ops events dead letters under ``<uri>/opsevents/``; the S3 client is made on first use."""

    def __init__(self, uri: str, client_factory: Callable[[str], Any]) -> None:
        self.uri = uri
        self.bucket, self.prefix = parse_s3_uri(uri)
        self._client_factory = client_factory
        self._client: Any = None

    def write(self, letter: Letter, *, invocation_id: str = "") -> str:
        """Store ``letter`` in its own object and return the object's ``s3://`` URI; DeadLetterError on failure."""
        if self._client is None:
            self._client = self._client_factory("s3")
        now = datetime.datetime.now(datetime.UTC)
        stamped = dataclasses.replace(letter, written_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        name = f"{now:%H%M%S}-{_safe_name(invocation_id) or 'local'}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        key = "/".join(part for part in (self.prefix, PREFIX, letter.sink, f"{now:%Y/%m/%d}", name) if part)
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=stamped.to_json(),
                ContentType="application/json",
                Metadata={"sink": letter.sink, "reason": _header_text(letter.reason)},
            )
        except Exception as err:
            raise DeadLetterError(
                f"could not write the {letter.sink} message to s3://{self.bucket}/{key}: {type(err).__name__}: {err}"
            ) from err
        return f"s3://{self.bucket}/{key}"


@dataclasses.dataclass
class OpsReplayReport:
    """What a replay did: objects read, messages each sink took, objects deleted and left.

    ``failure`` says why the last object left was left (empty when none was).
    """

    objects: int = 0
    sent: dict[str, int] = dataclasses.field(default_factory=dict)
    deleted: int = 0
    left: int = 0
    unreadable: int = 0
    no_sink: int = 0
    failure: str = ""


# Why a sink is missing here: what builds each (logship.opsevents.sinks.build_sinks).
_NO_SINK = {
    DATADOG: "Datadog is off here (LOGSHIP_DATADOG_ENABLED=false)",
    SLACK: "no Slack webhook is configured here (SLACK_WEBHOOK_URL, or its _SSM_NAME or _SECRET_ARN)",
}


def replay(
    uri: str,
    sinks: Mapping[str, Sink],
    client: Any,
    *,
    deadline_seconds: float = 600.0,
    restamp_after_seconds: float | None = RESTAMP_AFTER_SECONDS,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> OpsReplayReport:
    """Send each ops events dead letter at ``uri`` (one object, or every object under a prefix) to its own sink.

    ``uri`` is ``<LOGSHIP_DEAD_LETTER_URI>/opsevents`` or below it (one sink's
    folder, a day, one object); a bare dead-letter prefix is taken to mean its
    ``opsevents`` folder. An object is deleted once its sink took the message,
    and left in place otherwise (its sink failed, is not configured here, or
    the object is not an ops events dead letter). A Datadog event older than
    ``restamp_after_seconds`` loses its ``date_happened`` (Datadog refuses one
    over 18 hours; the text keeps the original time); None sends it unchanged.
    """
    bucket, prefix = parse_s3_uri(uri)
    if PREFIX not in prefix.split("/"):
        prefix = "/".join(part for part in (prefix, PREFIX) if part)
    report = OpsReplayReport()
    for key in list(_keys(client, bucket, prefix)):
        report.objects += 1
        try:
            letter = Letter.from_json(_read(client, bucket, key))
        except DeadLetterError as err:
            report.unreadable += 1
            report.left += 1
            report.failure = f"s3://{bucket}/{key} is not an ops events dead letter ({err})"
            extra = {"key": key, "error": str(err)}
            logger.error("skipped an object that is not an ops events dead letter", extra=extra)
            continue
        sink = sinks.get(letter.sink)
        if sink is None:
            report.no_sink += 1
            report.left += 1
            report.failure = _NO_SINK.get(letter.sink, f"no {letter.sink} sink is configured here")
            logger.error("no %s sink configured; the dead letter is left in place", letter.sink, extra={"key": key})
            continue
        body = dict(letter.body)
        if letter.sink == DATADOG and restamp_after_seconds is not None:
            happened = body.get("date_happened")
            if isinstance(happened, int) and clock() - happened > restamp_after_seconds:
                del body["date_happened"]
        result = sink.send(body, monotonic() + deadline_seconds)
        if result.delivered:
            client.delete_object(Bucket=bucket, Key=key)
            report.sent[letter.sink] = report.sent.get(letter.sink, 0) + 1
            report.deleted += 1
        else:
            report.left += 1
            report.failure = f"{letter.sink}: {result.error}"
        logger.info(
            "replayed ops events dead letter",
            extra={"key": key, "sink": letter.sink, "delivered": result.delivered, "error": result.error},
        )
    return report


def _keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    if prefix.endswith(SUFFIX):
        yield prefix
        return
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for item in page.get("Contents", []):
            if item["Key"].endswith(SUFFIX):
                yield item["Key"]


def _read(client: Any, bucket: str, key: str) -> bytes:
    response = client.get_object(Bucket=bucket, Key=key)
    if int(response.get("ContentLength", 0)) > _OBJECT_MAX_BYTES:
        raise DeadLetterError(f"{response['ContentLength']:,} bytes, over {_OBJECT_MAX_BYTES:,}")
    return bytes(response["Body"].read())


def _header_text(text: str) -> str:
    """``text`` as S3 user metadata can carry it: printable ASCII, at most 512 characters."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:_METADATA_MAX_CHARS]


def _safe_name(text: str) -> str:
    """``text`` with only the characters an S3 key is safe to hold unescaped, at most 64 of them."""
    return "".join(c for c in text if c.isascii() and (c.isalnum() or c in "-_."))[:64]
