r"""S3 output step: what Firehose writes to S3 for one record.

``lines`` (the original design's format): each message followed by ``\\n``.
``jsonl``: one JSON object per event keeping timestamp, group, stream and id, so
an S3 archive can be replayed with its tags. Either is gzip-compressed by
default (S3 then holds a valid multi-member gzip file), since CloudWatch data
grows 5-20x when decompressed and would not fit the 6 MB response otherwise.
A message that is not valid Unicode (a lone surrogate) has each broken
character replaced by U+FFFD, as in its Datadog entry.
"""

from __future__ import annotations

import dataclasses
from operator import itemgetter
from typing import Literal

import orjson

from logship import _gzip
from logship.firehose.characters import scrub_text
from logship.firehose.subscription import LogBatch, LogEvent

OutputFormat = Literal["lines", "jsonl"]
OutputCompression = Literal["gzip", "none"]

_message = itemgetter("message")


@dataclasses.dataclass(frozen=True)
class OutputOptions:
    """What S3 gets for a record: ``lines`` or ``jsonl``, gzip-compressed (zlib level) or not."""

    format: OutputFormat = "lines"
    compression: OutputCompression = "gzip"
    gzip_level: int = 1


def encode_messages(events: list[LogEvent]) -> list[bytes] | None:
    """Each event's message as UTF-8, or None when one is not valid Unicode (a lone surrogate).

    The S3 lines and the Datadog entries of a record are both made from these
    bytes, so each message is encoded once (``orjson.loads`` of a ``str``
    would encode it again, and joining a record's messages into one ``str``
    widens it to its widest character first).
    """
    try:
        return list(map(str.encode, map(_message, events)))  # UTF-8, strict: one C loop
    except UnicodeEncodeError:
        return None


def render(
    batch: LogBatch, events: list[LogEvent], output_format: OutputFormat, encoded: list[bytes] | None = None
) -> bytes:
    r"""The uncompressed S3 bytes for ``events`` of ``batch``; every line ends with ``\\n``.

    ``encoded``, when given, is :func:`encode_messages` of the same ``events``.
    """
    if not events:
        return b""
    if output_format == "lines":
        if encoded is not None:
            return b"\n".join([*encoded, b""])
        messages = list(map(_message, events))
        messages.append("")  # the last newline, without copying the joined text again
        text = "\n".join(messages)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            return scrub_text(text)[0].encode("utf-8")
    group, stream, owner = batch.log_group, batch.log_stream, batch.owner
    dumps = orjson.dumps
    lines = []
    for event in events:
        line = {
            "timestamp": event["timestamp"],
            "logGroup": group,
            "logStream": stream,
            "owner": owner,
            "id": event.get("id", ""),
            "message": event["message"],
        }
        try:
            lines.append(dumps(line))
        except TypeError:  # lone surrogates in the message
            line["message"] = scrub_text(event["message"])[0]
            lines.append(dumps(line))
    lines.append(b"")
    return b"\n".join(lines)


def compress(data: bytes, compression: OutputCompression, level: int) -> bytes:
    """Gzip ``data`` (one member, no timestamp so output is reproducible) or pass it through."""
    if compression == "none":
        return data
    return _gzip.compress(data, level)


def build_output(
    batch: LogBatch,
    options: OutputOptions = OutputOptions(),
    *,
    events: list[LogEvent] | None = None,
    encoded: list[bytes] | None = None,
) -> bytes:
    """The bytes (before base64) Firehose writes to S3 for ``batch`` (or a slice of its events).

    ``encoded`` is :func:`encode_messages` of the chosen events, when the caller has it.
    """
    chosen = batch.events if events is None else events
    return compress(render(batch, chosen, options.format, encoded), options.compression, options.gzip_level)
