"""The floor: the primitives any implementation of the job must call, in one tight loop.

Per record: base64-decode, gunzip, parse the subscription JSON (orjson). Per
event: parse a JSON message (orjson), add the reserved attributes (or wrap a
plain line), serialize the entry (orjson). Per record: join the S3 lines, gzip
them at level 1, base64-encode. Then the Datadog request bodies (1,000 entries
each, gzip level 1) and the response as the Lambda runtime serializes it
(``json.dumps``). No validation, no limits, no HTTP, no logging.
"""

from __future__ import annotations

import binascii
import json
import zlib
from typing import Any

import orjson

_GZIP_WBITS = 31
_ENTRIES_PER_REQUEST = 1_000


def floor(event: dict[str, Any], *, gzip_level: int = 1, source: str = "firehose") -> tuple[str, list[bytes]]:
    """Do the job's unavoidable work for ``event``; return the serialized response and the request bodies."""
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
