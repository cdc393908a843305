"""The demo: the whole Lambda path on local stand-ins (intake emulator, moto), printed step by step.

A synthetic Firehose event goes through :class:`~logship.firehose.app.Logship`;
what Datadog received, what S3 gets and what was re-ingested is shown, and
re-ingested records are fed back through the handler until every event has
landed in S3 exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson

from logship import _gzip


def run_demo(
    *, size: int, response_limit: int, seed: int, verbose: bool, status: Callable[[str], None] | None = None
) -> int:
    """Run the demo and print it; 0 when every event landed in S3 exactly once, else 1.

    ``status``, when given, is told what the demo is waiting for before each
    slow step, and ``""`` once the step is done (a terminal's progress line).
    """
    say = status or (lambda _text: None)
    from logship.firehose.app import Logship
    from logship.jsonlog import configure_logging
    from logship.settings import Settings
    from logship.testing.emulator import IntakeEmulator
    from logship.testing.localaws import LocalAws
    from logship.testing.synth import firehose_event, firehose_record, generate_event, live_start_ms

    configure_logging("ERROR" if not verbose else "INFO")
    bucket, stream = "logship-demo", "logship-demo"
    say("starting the Datadog intake emulator and a local AWS (moto server)")
    with IntakeEmulator() as intake, LocalAws() as aws, contextlib.ExitStack() as cleanup:
        aws.delivery_stream(stream, bucket)
        settings = Settings.from_env(
            {
                "DD_URL": intake.url,
                "DD_API_KEY": "demo-key",
                "DD_TAGS": "env:demo",
                "ONLY_JSON": "false",
                "LOGSHIP_RESPONSE_LIMIT_BYTES": str(response_limit),
            }
        )
        app = cleanup.enter_context(Logship(settings, client_factory=aws.client))
        event = generate_event(
            target_bytes=size,
            seed=seed,
            start_ms=live_start_ms(),
            stream=stream,
            progress=lambda made: say(f"generating the event: {made:,} of {size:,} bytes"),
        )
        sent_events = count_input_events(event)
        say("")
        print(
            f"== Firehose event: {len(event['records'])} records, {sent_events} log events "
            f"(+1 CONTROL_MESSAGE, +1 corrupt record), response limit {response_limit:,} bytes"
        )
        say("invocation 1: transforming, sending to the intake, re-ingesting")
        started = time.perf_counter()
        first = app.process(event)
        elapsed = (time.perf_counter() - started) * 1000
        say("")
        counts = first.summary
        print(
            f"== Invocation 1 in {elapsed:.0f} ms: {counts.ok} Ok, {counts.dropped} Dropped "
            f"({counts.control} control, {counts.reingested_records} re-ingested), "
            f"{counts.processing_failed} ProcessingFailed"
        )
        _show_s3(first.response)
        print(
            f"== Datadog intake received {len(intake.entries)} entries in "
            f"{sum(1 for r in intake.requests if r.status == HTTPStatus.ACCEPTED)} requests; first one:"
        )
        print("   " + orjson.dumps(intake.entries[0]).decode()[:400])
        total_s3 = counts.events_to_s3
        for round_number in range(2, 12):
            reingested = aws.delivered_records(bucket, take=True)
            if not reingested:
                break
            print(f"== Re-ingested into Firehose (local AWS): {len(reingested)} records come back")
            again = firehose_event(
                [firehose_record(f"r{round_number}-{n}", data) for n, data in enumerate(reingested)],
                stream=stream,
            )
            say(f"invocation {round_number}: {len(reingested)} re-ingested records")
            counts = app.process(again).summary
            say("")
            total_s3 += counts.events_to_s3
            print(f"== Invocation {round_number}: {counts.ok} Ok, {counts.reingested_records} re-ingested again")
        print(f"== Totals: {sent_events} events in, {total_s3} events to S3, {len(intake.entries)} entries in Datadog")
        if total_s3 != sent_events:
            print("!! events were lost or duplicated", file=sys.stderr)
            return 1
        print("== Every event landed in S3 exactly once.")
    return 0


def count_input_events(event: dict[str, Any]) -> int:
    """Log events in a Firehose event's decodable records."""
    from logship.errors import DecodeError
    from logship.firehose.subscription import decode_record

    total = 0
    for record in event["records"]:
        try:
            batch = decode_record(record["data"])
        except DecodeError:
            continue
        total += len(batch.events)
    return total


def _decoded_lines(data_b64: str, compressed: bool) -> list[str]:
    raw = base64.b64decode(data_b64)
    if compressed:
        raw = _gzip.decompress(raw, max_bytes=1 << 31)
    return raw.decode("utf-8").splitlines()


def _show_s3(response: dict[str, Any]) -> None:
    ok = [r for r in response["records"] if r["result"] == "Ok"]
    if not ok:
        return
    lines = _decoded_lines(ok[0]["data"], compressed=True)
    print(f"== S3 gets newline-separated messages (gzip per record); first record, {len(lines)} lines:")
    for line in lines[:3]:
        print("   " + line[:160])
