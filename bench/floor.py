"""The floors: the primitives any implementation of the job must call, in one tight loop.

Two references, kept apart from logship's code (they import no part of it,
only the third-party libraries):

- :func:`floor`, the standard library's floor (zlib, binascii, and orjson for
  JSON): the machine's floor for Python as shipped, the reference of the
  original bars.
- :func:`fastest_floor`, the same work with the fastest libraries logship
  itself depends on: pybase64 (SIMD base64), ISA-L (``isal.isal_zlib``)
  inflate and deflate, orjson. The shape matrix's bars are judged against it.

Per record: base64-decode, gunzip, parse the subscription JSON. Per event:
parse a JSON message, add the reserved attributes (or wrap a plain line, or
leave it out with ``only_json``), serialize the entry. Per record: join the S3
lines, gzip them at level 1, base64-encode. The fastest floor does each step
the cheapest way the libraries allow: each message is encoded to UTF-8 once
(the S3 lines are joined from those bytes, so a record's text is never
widened to its widest character), and a JSON log naming none of the
attributes added is not serialized again: they are spliced before its
closing brace, as logship splices them. Then the Datadog request bodies
(gzip level 1) and the response as the Lambda runtime serializes it
(``json.dumps``). No validation, no limits beyond the request's, no status
mapping, no HTTP, no logging.
"""

from __future__ import annotations

import binascii
import json
import zlib
from bisect import bisect_right
from itertools import accumulate
from typing import Any, cast

import orjson
import pybase64
from isal import isal_zlib

_GZIP_WBITS = 31
_ENTRIES_PER_REQUEST = 1_000
# Datadog's logs intake takes at most 1,000 entries and 5 MB per request; aim
# at 4.25 MB as logship (and Vector's Datadog sink) do. Datadog API reference,
# "Send logs". Only the fastest floor keeps the byte limit; the standard
# library's floor predates it and is kept as it was.
_REQUEST_TARGET_BYTES = 4_250_000
# What a record that is not base64(gzip(JSON)) raises: binascii.Error and
# orjson.JSONDecodeError are ValueErrors (isal's stubs do not type its error as one).
_BROKEN_RECORD = (cast("type[Exception]", isal_zlib.error), ValueError)
# A conventional stream, split from the right: ``/<system>/<service>``, container, task.
_CONVENTIONAL_STREAM_PARTS = 3
# ISA-L's level 1 is what logship's level 1 (zlib's scale) maps to.
_ISAL_LEVEL = 1
_PLUS_COMMA = (1).__add__


def floor(
    event: dict[str, Any], *, gzip_level: int = 1, source: str = "firehose", only_json: bool = False
) -> tuple[str, list[bytes]]:
    """Do the job's unavoidable work for ``event`` with the standard library; the response and request bodies.

    ``only_json`` leaves plain lines out of Datadog (``ONLY_JSON`` unset).
    """
    loads = orjson.loads
    dumps = orjson.dumps
    decode_error = orjson.JSONDecodeError
    a2b = binascii.a2b_base64
    b2a = binascii.b2a_base64
    compress = zlib.compress
    decompress = zlib.decompress
    out: list[dict[str, Any]] = []
    entries: list[bytes] = []
    append = entries.append
    for record in event["records"]:
        record_id = record["recordId"]
        try:
            doc = loads(decompress(a2b(record["data"]), _GZIP_WBITS))
        except (zlib.error, binascii.Error, decode_error):
            out.append({"recordId": record_id, "result": "ProcessingFailed"})
            continue
        if doc.get("messageType") != "DATA_MESSAGE" or "logGroup" not in doc:
            out.append({"recordId": record_id, "result": "Dropped"})
            continue
        service = doc["logGroup"].rsplit("/", 1)[-1]
        ddtags = "task:" + doc["logStream"].rsplit("/", 1)[-1]
        messages = []
        for log_event in doc["logEvents"]:
            message = log_event["message"]
            messages.append(message)
            attributes = None
            if message[:1] == "{":
                try:
                    attributes = loads(message)
                except decode_error:
                    attributes = None
            if type(attributes) is dict:
                attributes["ddtags"] = ddtags
                attributes["ddsource"] = source
                attributes["service"] = service
                attributes["timestamp"] = log_event["timestamp"]
            elif only_json:
                continue
            else:
                attributes = {
                    "message": message,
                    "ddsource": source,
                    "ddtags": ddtags,
                    "service": service,
                    "timestamp": log_event["timestamp"],
                }
            append(dumps(attributes))
        lines = ("\n".join(messages) + "\n").encode("utf-8")
        data = b2a(compress(lines, gzip_level, wbits=_GZIP_WBITS), newline=False).decode("ascii")
        out.append({"recordId": record_id, "result": "Ok", "data": data})
    bodies = [
        compress(b"[" + b",".join(entries[i : i + _ENTRIES_PER_REQUEST]) + b"]", gzip_level, wbits=_GZIP_WBITS)
        for i in range(0, len(entries), _ENTRIES_PER_REQUEST)
    ]
    return json.dumps({"records": out}), bodies


def fastest_floor(
    event: dict[str, Any], *, only_json: bool = False, source: str = "firehose"
) -> tuple[str, list[bytes]]:
    """Do the job's unavoidable work for ``event`` with pybase64, ISA-L and orjson; the response and request bodies.

    The entries carry what logship's do for a conventionally named stream:
    ``ddtags`` (``system``, ``service``, ``application``, ``task`` from the
    log group and stream names), ``ddsource``, ``service`` and ``timestamp``
    (an app's own ``service`` and ``timestamp`` are kept). The S3 lines are
    each message followed by a newline. ``only_json`` leaves plain lines out
    of Datadog (``ONLY_JSON`` unset). Request bodies hold at most 1,000
    entries and 4.25 MB; each is joined and compressed as soon as it is full,
    while its entries are still in cache, as logship does.
    """
    loads = orjson.loads
    dumps = orjson.dumps
    b64decode = pybase64.b64decode
    b64encode = pybase64.b64encode_as_string
    compress = isal_zlib.compress
    decompress = isal_zlib.decompress
    out: list[dict[str, Any]] = []
    bodies: list[bytes] = []
    entries: list[bytes] = []  # not yet in a body
    pending_bytes = 0
    append = entries.append
    for record in event["records"]:
        record_id = record["recordId"]
        try:
            doc = loads(decompress(b64decode(record["data"], validate=True), wbits=_GZIP_WBITS))
        except _BROKEN_RECORD:
            out.append({"recordId": record_id, "result": "ProcessingFailed"})
            continue
        if doc.get("messageType") != "DATA_MESSAGE" or "logGroup" not in doc:
            out.append({"recordId": record_id, "result": "Dropped"})
            continue
        ddtags, service = _stream_tags(doc["logGroup"], doc["logStream"])
        tagged = b',"ddtags":' + dumps(ddtags) + b',"ddsource":' + dumps(source)
        service_part = b',"service":' + dumps(service)
        first = len(entries)
        messages = []
        for log_event in doc["logEvents"]:
            message = log_event["message"]
            raw = message.encode()  # once: the S3 line, and the text a JSON log is parsed and spliced from
            messages.append(raw)
            if message[:1] == "{":
                try:
                    attributes = loads(raw)
                except ValueError:
                    attributes = None
                if type(attributes) is dict:
                    if attributes and "ddtags" not in attributes and "ddsource" not in attributes:
                        # The app's own text with the attributes before its closing brace: nothing re-serialized.
                        append(
                            b"%s%s%s%s}"
                            % (
                                raw.rstrip()[:-1],
                                tagged,
                                b"" if "service" in attributes else service_part,
                                b"" if "timestamp" in attributes else b',"timestamp":%d' % log_event["timestamp"],
                            )
                        )
                        continue
                    attributes["ddtags"] = ddtags
                    attributes["ddsource"] = source
                    attributes.setdefault("service", service)
                    attributes.setdefault("timestamp", log_event["timestamp"])
                    append(dumps(attributes))
                    continue
            if only_json:
                continue
            append(
                dumps(
                    {
                        "message": message,
                        "ddsource": source,
                        "ddtags": ddtags,
                        "service": service,
                        "timestamp": log_event["timestamp"],
                    }
                )
            )
        messages.append(b"")
        data = b64encode(compress(b"\n".join(messages), _ISAL_LEVEL, _GZIP_WBITS))
        out.append({"recordId": record_id, "result": "Ok", "data": data})
        pending_bytes += sum(map(len, entries[first:]))
        if len(entries) >= _ENTRIES_PER_REQUEST or pending_bytes >= _REQUEST_TARGET_BYTES:
            full, rest = _request_bodies(entries)
            bodies.extend(compress(body, _ISAL_LEVEL, _GZIP_WBITS) for body in full)
            entries[:] = rest
            pending_bytes = sum(map(len, rest))
    full, rest = _request_bodies(entries)
    if rest:
        full.append(_array(rest))
    bodies.extend(compress(body, _ISAL_LEVEL, _GZIP_WBITS) for body in full)
    return json.dumps({"records": out}), bodies


def _stream_tags(group: str, stream: str) -> tuple[str, str]:
    """``ddtags`` and the service from ``/<system>/<service>`` and ``/<system>/<service>/<container>/<task>``."""
    system, _, service = group[1:].partition("/")
    parts = stream.rsplit("/", 2)
    application, task = (parts[1], parts[2]) if len(parts) == _CONVENTIONAL_STREAM_PARTS else ("", parts[-1])
    return f"system:{system},service:{service},application:{application},task:{task}", service


def _request_bodies(entries: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The full JSON array bodies (1,000 entries, or as many as fit 4.25 MB) in order, and the entries left over.

    A body is full when the next entry would break a limit; one entry too big
    alone gets a body of its own. The ends are found by a search of the
    running sizes (an entry and its comma), not entry by entry.
    """
    totals = list(accumulate(map(_PLUS_COMMA, map(len, entries)), initial=0))
    bodies = []
    start, count = 0, len(entries)
    while start < count:
        end = bisect_right(totals, _REQUEST_TARGET_BYTES - 2 + totals[start], lo=start) - 1  # 2: the brackets
        end = max(min(end, start + _ENTRIES_PER_REQUEST), start + 1)
        if end >= count:
            break
        bodies.append(_array(entries[start:end]))
        start = end
    return bodies, entries[start:]


def _array(batch: list[bytes]) -> bytes:
    # The brackets go onto the first and last entries: one join, no copy of the whole body.
    batch[0] = b"[" + batch[0]
    batch[-1] = batch[-1] + b"]"
    return b",".join(batch)
