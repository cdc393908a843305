"""What every measurement shares: the contenders' invocations, timing, stolen CPU and what an event holds.

logship is run as the Lambda runtime runs it (handle, then ``json.dumps`` of
the response), with an in-memory re-ingester; the seed writes to a socket
pair. The counting helpers read the outputs of any contender (a response's
S3 lines, request bodies' entries) without logship's code.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.seed import SocketSink, seed_handler

_GZIP_WBITS = 31


def median_time(fn: Callable[[], object], reps: int) -> tuple[float, list[float]]:
    """Median wall time of ``reps`` calls of ``fn`` (after the caller's warm-up)."""
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), samples


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall time and CPU time (every thread of this process) of one call of ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks of the whole machine so far, from /proc/stat (0, 0 elsewhere).

    Steal is time the hypervisor gave this machine's vCPUs to someone else: a
    run with much of it measured a slower machine than one without.
    """
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal [guest guest_nice, counted in user]
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat (0, 0 elsewhere).

    Busy is user, nice, system, irq and softirq time: every process's work,
    this one's included. See :func:`others_share`.
    """
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal
    return sum(fields[i] for i in (0, 1, 2, 5, 6) if i < len(fields)), sum(fields[:8])


def others_share(busy: int, total: int, own_cpu_s: float) -> float:
    """Share of the machine's CPU time used by other processes: ``busy`` ticks less this process's CPU seconds.

    ``busy`` and ``total`` are :func:`busy_ticks` differences over the span
    in which this process used ``own_cpu_s``. Other sessions' work on a
    shared machine shows here, not as steal: it takes the cores from inside
    the machine. The intake process counts as other (it only drains).
    """
    if total <= 0:
        return 0.0
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    return max(busy - own_cpu_s * ticks_per_s, 0.0) / total


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of CPU time stolen between two :func:`cpu_ticks` readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def describe(event: dict[str, Any]) -> dict[str, int]:
    """Input bytes (gzip payloads, what the generator targets), records, log events and their messages' bytes."""
    gzip_bytes = events = data_records = message_bytes = 0
    for record in event["records"]:
        raw = base64.b64decode(record["data"])
        gzip_bytes += len(raw)
        try:
            doc = orjson.loads(zlib.decompress(raw, _GZIP_WBITS))
        except (zlib.error, orjson.JSONDecodeError):
            continue
        if doc.get("messageType") == "DATA_MESSAGE" and isinstance(doc.get("logEvents"), list):
            data_records += 1
            events += len(doc["logEvents"])
            message_bytes += sum(len(e["message"].encode("utf-8", "replace")) for e in doc["logEvents"])
    return {
        "input_gzip_bytes": gzip_bytes,
        "records": len(event["records"]),
        "data_records": data_records,
        "events": events,
        "message_bytes": message_bytes,
    }


def s3_lines(response: dict[str, Any]) -> int:
    """Lines in the S3 output of a response's Ok records (each gzip ``data`` inflated)."""
    lines = 0
    for record in response["records"]:
        if record["result"] == "Ok":
            lines += zlib.decompress(base64.b64decode(record["data"]), _GZIP_WBITS).count(b"\n")
    return lines


def body_entries(bodies: Sequence[bytes]) -> int:
    """Entries in gzipped JSON-array request bodies."""
    return sum(len(orjson.loads(zlib.decompress(body, _GZIP_WBITS))) for body in bodies)


@dataclasses.dataclass
class NullReingester:
    """Re-ingest into memory: the Firehose limits, every put accepted."""

    target: str = "memory"
    max_records: int = 500
    max_batch_bytes: int = 4 * 1024 * 1024
    max_record_bytes: int = 1000 * 1024
    items: int = 0

    def item_size(self, item: Any) -> int:
        return len(item.data)

    def put_batch(self, items: Sequence[Any]) -> list[str | None]:
        self.items += len(items)
        return [None] * len(items)


def make_logship(url: str, *, only_json: bool = False) -> Any:
    """A warm-able ``Logship`` sending to ``url``; ``only_json`` leaves ``ONLY_JSON`` unset (JSON only)."""
    from logship.firehose.app import Logship
    from logship.settings import Settings

    env = {"DD_URL": url, "DD_API_KEY": "k", "LOGSHIP_RESPONSE_LIMIT_BYTES": "6000000"}
    if not only_json:
        env["ONLY_JSON"] = "false"
    settings = Settings.from_env(env)
    return Logship(settings, reingester_factory=lambda _event: NullReingester())


def run_logship(app: Any, event: dict[str, Any]) -> str:
    """One invocation as the Lambda runtime sees it: handle, then serialize the response."""
    return json.dumps(app.handle(event, None))


def verify_logship(event: dict[str, Any], *, only_json: bool = False) -> tuple[int, dict[str, Any]]:
    """Entries the validating emulator accepted from one untimed logship invocation of ``event``, and the response."""
    from logship.testing.emulator import IntakeEmulator

    with IntakeEmulator() as emulator:
        app = make_logship(emulator.url, only_json=only_json)
        try:
            response = app.handle(event, None)
        finally:
            app.sender.close()
        received = len(emulator.entries)
    if [r["recordId"] for r in response["records"]] != [r["recordId"] for r in event["records"]]:
        raise RuntimeError("logship's response does not answer every recordId once, in order")
    return received, response


def run_seed(event: dict[str, Any]) -> str:
    """One invocation of the original design, writing to a local socket pair."""
    sink = SocketSink()
    try:
        return json.dumps(seed_handler(event, sink, only_json=False))
    finally:
        sink.close()


def unwritable(path: Path) -> str | None:
    """Why a report cannot be written to ``path`` (checked before measuring, so no run is lost); None when it can.

    Makes the missing folders, as writing the report would.
    """
    if path.is_dir():
        return f"{path} is a directory"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"{path}: {err.strerror or err}"
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{path}: not writable"
    return None


def quiet_logship_logs() -> None:
    """Keep logship's per-invocation summary and per-record errors off the terminal."""
    logger = logging.getLogger("logship")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def bar(name: str, value: float, limit: float, op: str) -> dict[str, Any]:
    """One bar: its measured value, its limit, the direction (``<=`` or ``>=``) and whether it passes."""
    ok = value <= limit if op == "<=" else value >= limit
    return {"name": name, "value": value, "limit": limit, "op": op, "pass": ok}
