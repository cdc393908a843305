"""Synthetic Firehose events of CloudWatch Logs records, for the demo, tests and benchmarks.

A realistic mix: many services following the naming convention (and a few
that do not), 80% JSON logs with nested fields, levels and unicode, 20% plain
lines, plus CONTROL_MESSAGE and corrupt records on request. Deterministic for
a given seed.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
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
