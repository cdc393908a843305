"""Synthetic Firehose events of CloudWatch Logs records, for the demo, tests and benchmarks.

:func:`generate_event` makes a realistic mix: many services following the
naming convention (and a few that do not), 80% JSON logs with nested fields,
levels and unicode, 20% plain lines, plus CONTROL_MESSAGE and corrupt records
on request. :func:`generate_shape_event` makes one :class:`LogShape` of
:data:`SHAPES` (JSON with or without reserved names, plain lines, nested or
large JSON, ...), for measuring how the kind of log changes the cost.
Deterministic for a given seed.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from logship import _gzip

_WORDS = [
    "request",
    "handled",
    "user",
    "order",
    "payment",
    "invoice",
    "cache",
    "miss",
    "hit",
    "retry",
    "timeout",
    "connected",
    "closed",
    "queue",
    "job",
    "started",
    "finished",
    "failed",
    "upstream",
    "downstream",
    "latency",
    "db",
    "query",
    "token",
    "refresh",
    "session",
    "billing",
    "report",
    "export",
    "import",
]
_UNICODE = ("ユーザー", "注文完了", "café", "naïve", "Größe", "📦", "✅", "Ωmega", "日本語ログ")
_SYSTEMS = ("cron", "web", "batch", "api")
_LEVELS = ("info", "info", "info", "debug", "warn", "error", "fatal")
# Shares of the mix: messages with a unicode word, JSON logs naming their level
# "loglevel" (the rest "level"), JSON logs with an HTTP status, streams outside
# the naming convention.
_UNICODE_SHARE = 0.15
_LOGLEVEL_SHARE = 0.5
_HTTP_STATUS_SHARE = 0.3
_UNCONVENTIONAL_SHARE = 0.05


def _message(rng: random.Random, service: str, json_share: float) -> str:
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14)))
    if rng.random() < _UNICODE_SHARE:
        words += " " + rng.choice(_UNICODE)
    if rng.random() >= json_share:
        return f"{rng.choice(['INFO', 'WARN', 'ERROR'])} [{service}] {words}"
    doc: dict[str, Any] = {
        "loglevel" if rng.random() < _LOGLEVEL_SHARE else "level": rng.choice(_LEVELS),
        "msg": words,
        "request": {
            "id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "method": rng.choice(["GET", "POST", "PUT"]),
            "path": f"/v1/{rng.choice(_WORDS)}/{rng.randint(1, 99999)}",
            "duration_ms": round(rng.random() * 900, 3),
        },
        "user": {"id": rng.randint(1, 10**6), "name": rng.choice(_UNICODE)},
    }
    if rng.random() < _HTTP_STATUS_SHARE:
        doc["status"] = rng.choice([200, 201, 404, 500])
    return orjson.dumps(doc).decode()


def subscription_payload(
    log_group: str,
    log_stream: str,
    events: list[dict[str, Any]],
    *,
    message_type: str = "DATA_MESSAGE",
    owner: str = "123456789012",
) -> bytes:
    """gzip(JSON) of a CloudWatch Logs subscription message (what Firehose receives, before base64)."""
    doc = {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["logship"],
        "logEvents": events,
    }
    return _gzip.compress(orjson.dumps(doc))


def firehose_record(record_id: str, payload: bytes, partition_key: str | None = None) -> dict[str, Any]:
    """One Firehose input record carrying ``payload``."""
    record: dict[str, Any] = {
        "recordId": record_id,
        "approximateArrivalTimestamp": 1_700_000_000_000,
        "data": base64.b64encode(payload).decode("ascii"),
    }
    if partition_key is not None:
        record["kinesisRecordMetadata"] = {
            "shardId": "shardId-000000000000",
            "partitionKey": partition_key,
            "sequenceNumber": "1",
            "subsequenceNumber": 0,
            "approximateArrivalTimestamp": 1_700_000_000_000,
        }
    return record


#: How long before now :func:`live_start_ms` dates the first event: Firehose hands logs over
#: seconds to minutes after they are written, well inside Datadog's date window (18 hours back).
LIVE_AGE_MS = 5 * 60 * 1000


def live_start_ms() -> int:
    """Epoch milliseconds :data:`LIVE_AGE_MS` before now: a first event time that live logs could have."""
    return time.time_ns() // 1_000_000 - LIVE_AGE_MS


def firehose_event(
    records: list[dict[str, Any]],
    *,
    stream: str = "logship-demo",
    region: str = "us-east-1",
    kinesis_source: str | None = None,
) -> dict[str, Any]:
    """A Firehose transformation event around ``records``."""
    event: dict[str, Any] = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": f"arn:aws:firehose:{region}:123456789012:deliverystream/{stream}",
        "region": region,
        "records": records,
    }
    if kinesis_source:
        event["sourceKinesisStreamArn"] = f"arn:aws:kinesis:{region}:123456789012:stream/{kinesis_source}"
    return event


def generate_event(
    *,
    target_bytes: int = 300_000,
    seed: int = 0,
    services: int = 20,
    events_per_record: tuple[int, int] = (20, 200),
    json_share: float = 0.8,
    control_records: int = 1,
    corrupt_records: int = 1,
    start_ms: int | None = None,
    stream: str = "logship-demo",
    kinesis_source: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """A Firehose event whose records hold about ``target_bytes`` of compressed CloudWatch data.

    ``progress``, when given, is called with the bytes made so far after each record.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    start = start_ms if start_ms is not None else 1_700_000_000_000
    names = []
    for n in range(services):
        system = _SYSTEMS[n % len(_SYSTEMS)]
        names.append((system, f"svc-{n:03d}", rng.choice(["app", "worker", "nginx"])))
    records: list[dict[str, Any]] = []
    total = 0
    event_id = 0
    while total < target_bytes:
        system, service, container = rng.choice(names)
        task = uuid.UUID(int=rng.getrandbits(128)).hex
        if rng.random() < _UNCONVENTIONAL_SHARE:  # a group outside the convention
            group, log_stream = f"/aws/lambda/{service}", f"2024/01/01/[$LATEST]{task}"
        else:
            group, log_stream = f"/{system}/{service}", f"/{system}/{service}/{container}/{task}"
        events = []
        for _ in range(rng.randint(*events_per_record)):
            event_id += 1
            events.append(
                {
                    "id": f"{event_id:056d}",
                    "timestamp": start + event_id,
                    "message": _message(rng, service, json_share),
                }
            )
        payload = subscription_payload(group, log_stream, events)
        total += len(payload)
        if progress is not None:
            progress(total)
        key = f"pk-{len(records)}" if kinesis_source else None
        records.append(firehose_record(f"rec-{len(records):06d}", payload, key))
    for _ in range(control_records):
        payload = subscription_payload(
            "",
            "",
            [
                {
                    "id": "",
                    "timestamp": start,
                    "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
                }
            ],
            message_type="CONTROL_MESSAGE",
        )
        records.insert(rng.randrange(len(records) + 1), firehose_record(f"ctl-{len(records):06d}", payload))
    for n in range(corrupt_records):
        bad = [
            b"not gzip at all",
            _gzip.compress(b"{not json"),
            _gzip.compress(b'{"messageType":"DATA_MESSAGE"}'),
        ][n % 3]
        records.insert(rng.randrange(len(records) + 1), firehose_record(f"bad-{len(records):06d}", bad))
    return firehose_event(records, stream=stream, kinesis_source=kinesis_source)


# --- log shapes ---------------------------------------------------------------------
#: Events per record: CloudWatch Logs batches a busy stream's events by the hundred.
SHAPE_EVENTS_PER_RECORD = (80, 120)
#: Large events come a few per record: a PutLogEvents batch holds at most 1 MB
#: (CloudWatch Logs quotas), so a record of 10-100 kB events holds about ten.
LARGE_EVENTS_PER_RECORD = (5, 15)
#: Size of one message of the ``large`` shape, in bytes of JSON.
LARGE_EVENT_BYTES = (10_000, 100_000)
#: Share of JSON logs in the ``mix`` shape; the rest are plain lines.
MIX_JSON_SHARE = 0.8
_HTTP_STATUSES = (200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 429, 500, 503)
# Room left under LARGE_EVENT_BYTES' upper end for the last item added past the target.
_LARGE_SLACK_BYTES = 200

#: Makes one message: ``(rng, service, timestamp_ms) -> message``.
MessageMaker = Callable[[random.Random, str, int], str]


@dataclasses.dataclass(frozen=True)
class LogShape:
    """One kind of log as services write it: how each message looks and how many come per record.

    ``json`` is True when every message is a JSON object.
    """

    name: str
    description: str
    message: MessageMaker
    events_per_record: tuple[int, int] = SHAPE_EVENTS_PER_RECORD
    json: bool = True


def _words(rng: random.Random) -> str:
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14)))
    if rng.random() < _UNICODE_SHARE:
        words += " " + rng.choice(_UNICODE)
    return words


def _iso(timestamp_ms: int) -> str:
    """ISO 8601 in UTC with milliseconds, as logging libraries write it: ``2023-11-14T22:13:20.001Z``."""
    moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _app_log(rng: random.Random, text_key: str = "msg") -> dict[str, Any]:
    """An app's JSON log naming none of the reserved attributes: level, text, request and user."""
    return {
        "level": rng.choice(_LEVELS),
        text_key: _words(rng),
        "request": {
            "id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "method": rng.choice(["GET", "POST", "PUT"]),
            "path": f"/v1/{rng.choice(_WORDS)}/{rng.randint(1, 99999)}",
            "duration_ms": round(rng.random() * 900, 3),
        },
        "user": {"id": rng.randint(1, 10**6), "name": rng.choice(_UNICODE)},
    }


def _json_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    return orjson.dumps(_app_log(rng)).decode()


def _json_message_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    return orjson.dumps(_app_log(rng, "message")).decode()


def _json_service_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    doc = _app_log(rng)
    doc["service"] = service
    return orjson.dumps(doc).decode()


def _json_status_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    doc = _app_log(rng)
    doc["status"] = rng.choice(_HTTP_STATUSES)
    return orjson.dumps(doc).decode()


def _json_timestamp_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    doc = _app_log(rng)
    doc["timestamp"] = _iso(timestamp_ms)
    return orjson.dumps(doc).decode()


def _plain_line(rng: random.Random, service: str, timestamp_ms: int) -> str:
    return f"{_iso(timestamp_ms)} {rng.choice(['INFO', 'WARN', 'ERROR'])} [{service}] {_words(rng)}"


def _mixed_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    if rng.random() < MIX_JSON_SHARE:
        return _json_status_log(rng, service, timestamp_ms)
    return _plain_line(rng, service, timestamp_ms)


def _nested_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    """A JSON log four levels deep (HTTP exchange, user, trace, deployment), no reserved names at the top."""
    doc = {
        "level": rng.choice(_LEVELS),
        "msg": _words(rng),
        "http": {
            "request": {
                "method": rng.choice(["GET", "POST", "PUT", "DELETE"]),
                "path": f"/v1/{rng.choice(_WORDS)}/{rng.randint(1, 99999)}",
                "query": {"page": rng.randint(1, 50), "size": rng.choice([10, 50, 100])},
                "headers": {
                    "user-agent": f"client/{rng.randint(1, 9)}.{rng.randint(0, 20)}",
                    "accept": "application/json",
                    "x-request-id": uuid.UUID(int=rng.getrandbits(128)).hex,
                },
            },
            "response": {
                "status_code": rng.choice(_HTTP_STATUSES),
                "bytes": rng.randint(0, 200_000),
                "duration_ms": round(rng.random() * 900, 3),
            },
        },
        "user": {
            "id": rng.randint(1, 10**6),
            "name": rng.choice(_UNICODE),
            "roles": [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))],
            "org": {"id": rng.randint(1, 5000), "plan": rng.choice(["free", "team", "enterprise"])},
        },
        "trace": {
            "id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "span": {"id": f"{rng.getrandbits(64):016x}", "parent": f"{rng.getrandbits(64):016x}"},
        },
        "context": {
            "deployment": {
                "region": rng.choice(["eu-west-1", "us-east-1"]),
                "version": f"1.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
                "host": {"name": f"ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)}", "zone": "a"},
            }
        },
    }
    return orjson.dumps(doc).decode()


def _large_log(rng: random.Random, service: str, timestamp_ms: int) -> str:
    """A JSON log of 10-100 kB: an app log with a stack trace and an array of order lines."""
    target = rng.randint(LARGE_EVENT_BYTES[0], LARGE_EVENT_BYTES[1] - _LARGE_SLACK_BYTES)
    doc = _app_log(rng)
    size = len(orjson.dumps(doc)) + len(',"stack":"","items":[]')
    frames = []
    while size < target // 2:
        package, name, method = rng.choice(_WORDS), rng.choice(_WORDS).capitalize(), rng.choice(_WORDS)
        frame = f"at com.example.{package}.{name}Service.{method}({name}Service.java:{rng.randint(1, 999)})"
        frames.append(frame)
        size += len(frame) + 2  # the newline joining frames is two bytes in JSON: \n
    items = []
    while size < target:
        item = {
            "sku": f"{rng.choice(_WORDS)}-{rng.randint(1, 99999)}",
            "quantity": rng.randint(1, 20),
            "price": round(rng.random() * 100, 2),
        }
        items.append(item)
        size += len(orjson.dumps(item)) + 1
    doc["stack"] = "\n".join(frames)
    doc["items"] = items
    return orjson.dumps(doc).decode()


#: The log shapes :func:`generate_shape_event` makes, by name.
SHAPES: Mapping[str, LogShape] = {
    shape.name: shape
    for shape in (
        LogShape("json", "JSON with no reserved names (level, msg, request, user)", _json_log),
        LogShape("json-message", "JSON whose `message` holds the text", _json_message_log),
        LogShape("json-service", "JSON with an app `service`", _json_service_log),
        LogShape("json-status", "JSON with a numeric HTTP `status`", _json_status_log),
        LogShape("json-timestamp", "JSON with its own ISO 8601 `timestamp`", _json_timestamp_log),
        LogShape("mix", "80% JSON each with an HTTP `status`, 20% plain lines", _mixed_log, json=False),
        LogShape("plain", "plain lines only", _plain_line, json=False),
        LogShape("nested", "JSON objects nested four levels deep", _nested_log),
        LogShape("large", "JSON of 10-100 kB each", _large_log, events_per_record=LARGE_EVENTS_PER_RECORD),
    )
}


def generate_shape_event(
    shape: str,
    *,
    target_bytes: int = 1_000_000,
    seed: int = 0,
    services: int = 20,
    start_ms: int | None = None,
    stream: str = "logship-bench",
) -> dict[str, Any]:
    """A Firehose event whose records hold about ``target_bytes`` of compressed CloudWatch data of one shape.

    Every message has the shape named ``shape`` (a key of :data:`SHAPES`);
    every record is a DATA_MESSAGE of one stream named by the convention
    (``/<system>/<service>``, ``/<system>/<service>/<container>/<task-id>``).
    Raises ValueError for an unknown shape.
    """
    kind = SHAPES.get(shape)
    if kind is None:
        raise ValueError(f"unknown log shape {shape!r}; known: {', '.join(SHAPES)}")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    start = start_ms if start_ms is not None else 1_700_000_000_000
    names = [
        (_SYSTEMS[n % len(_SYSTEMS)], f"svc-{n:03d}", rng.choice(["app", "worker", "nginx"])) for n in range(services)
    ]
    records: list[dict[str, Any]] = []
    total = 0
    event_id = 0
    while total < target_bytes:
        system, service, container = rng.choice(names)
        task = uuid.UUID(int=rng.getrandbits(128)).hex
        events = []
        for _ in range(rng.randint(*kind.events_per_record)):
            event_id += 1
            timestamp = start + event_id
            events.append(
                {"id": f"{event_id:056d}", "timestamp": timestamp, "message": kind.message(rng, service, timestamp)}
            )
        payload = subscription_payload(f"/{system}/{service}", f"/{system}/{service}/{container}/{task}", events)
        total += len(payload)
        records.append(firehose_record(f"rec-{len(records):06d}", payload))
    return firehose_event(records, stream=stream)
