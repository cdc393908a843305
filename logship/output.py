r"""S3 output step: what Firehose writes to S3 for one record.

``lines`` (the original design's format): each message followed by ``\\n``.
``jsonl``: one JSON object per event keeping timestamp, group, stream and id, so
an S3 archive can be replayed with its tags. Either is gzip-compressed by
default (S3 then holds a valid multi-member gzip file), since CloudWatch data
grows 5-20x when decompressed and would not fit the 6 MB response otherwise.
"""

from __future__ import annotations

import orjson

from logship import _gzip
from logship.decode import LogBatch, LogEvent
from logship.settings import OutputCompression, OutputFormat


def render(batch: LogBatch, events: list[LogEvent], output_format: OutputFormat) -> bytes:
    r"""The uncompressed S3 bytes for ``events`` of ``batch``; every line ends with ``\\n``."""
    if not events:
        return b""
    if output_format == "lines":
        text = "\n".join([event["message"] for event in events])
        return (text + "\n").encode("utf-8", "replace")
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
            line["message"] = event["message"].encode("utf-8", "replace").decode("utf-8")
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
    *,
    output_format: OutputFormat = "lines",
    compression: OutputCompression = "gzip",
    level: int = 1,
    events: list[LogEvent] | None = None,
) -> bytes:
    """The bytes (before base64) Firehose writes to S3 for ``batch`` (or a slice of its events)."""
    chosen = batch.events if events is None else events
    return compress(render(batch, chosen, output_format), compression, level)
