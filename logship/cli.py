"""The ``logship`` command: process an event file, generate events, run the demo, the emulator, replay.

Every subcommand runs the same code the Lambda runs; only the collaborators
(local stand-ins or real AWS and Datadog) differ.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from logship import _gzip
from logship.settings import Settings


def _size(text: str) -> int:
    units = {"kb": 1_000, "mb": 1_000_000, "k": 1_000, "m": 1_000_000, "b": 1}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            return int(float(lowered[: -len(unit)]) * factor)
    return int(lowered)


def cmd_generate(args: argparse.Namespace) -> int:
    """Write a synthetic Firehose event to a file."""
    from logship.synth import generate_event

    event = generate_event(
        target_bytes=_size(args.size),
        seed=args.seed,
        services=args.services,
        control_records=args.control,
        corrupt_records=args.corrupt,
        kinesis_source=args.kinesis_source,
    )
    Path(args.out).write_bytes(orjson.dumps(event))
    print(f"wrote {args.out}: {len(event['records'])} records", file=sys.stderr)
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    """Run an event file through the handler's code with settings from the environment."""
    from logship.app import Logship
    from logship.telemetry import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    event = orjson.loads(Path(args.event).read_bytes())
    with Logship(settings) as app:
        response = app.handle(event)
    out = orjson.dumps(response)
    if args.out:
        Path(args.out).write_bytes(out)
    else:
        sys.stdout.buffer.write(out + b"\n")
    return 0


def cmd_emulator(args: argparse.Namespace) -> int:
    """Serve the Datadog intake emulator until interrupted."""
    from logship.emulator import IntakeEmulator

    emulator = IntakeEmulator(host=args.host, port=args.port).start()
    print(f"Datadog intake emulator on {emulator.url} (DD_URL={emulator.url}); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Send a dead letter (object or prefix) to Datadog, deleting what was accepted."""
    import boto3

    from logship.app import Logship
    from logship.deadletter import RESTAMP_AFTER_SECONDS, replay
    from logship.telemetry import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    with Logship(settings) as app:
        report = replay(
            args.uri,
            app.sender,
            boto3.client("s3"),
            deadline_seconds=args.timeout,
            restamp_after_seconds=None if args.keep_timestamps else RESTAMP_AFTER_SECONDS,
        )
    print(orjson.dumps(report.__dict__).decode())
    return 0 if report.left == 0 else 1


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the configured API key against the configured site with datadog-api-client."""
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.v1.api.authentication_api import AuthenticationApi

    from logship.secrets import ApiKeyProvider

    settings = Settings.from_env()
    keys = ApiKeyProvider(settings)
    configuration = Configuration()  # type: ignore[no-untyped-call]
    configuration.server_variables["site"] = settings.dd_site
    configuration.api_key["apiKeyAuth"] = keys.get()
    with ApiClient(configuration) as client:
        valid = AuthenticationApi(client).validate().valid  # type: ignore[no-untyped-call]
    print(f"API key from {keys.source} is {'valid' if valid else 'NOT valid'} for site {settings.dd_site}")
    print(f"logs go to {settings.intake_url}")
    return 0 if valid else 1


def _decoded_lines(data_b64: str, compressed: bool) -> list[str]:
    raw = base64.b64decode(data_b64)
    if compressed:
        raw = _gzip.decompress(raw, max_bytes=1 << 31)
    return raw.decode("utf-8").splitlines()


def cmd_demo(args: argparse.Namespace) -> int:
    """End to end on local stand-ins: intake emulator, moto for re-ingest, synthetic CloudWatch data."""
    from logship.app import Logship
    from logship.emulator import IntakeEmulator
    from logship.localaws import LocalAws
    from logship.synth import firehose_event, firehose_record, generate_event
    from logship.telemetry import configure_logging

    configure_logging("ERROR" if not args.verbose else "INFO")
    bucket, stream = "logship-demo", "logship-demo"
    with IntakeEmulator() as intake, LocalAws() as aws, contextlib.ExitStack() as cleanup:
        aws.delivery_stream(stream, bucket)
        settings = Settings(
            dd_url=intake.url,
            dd_api_key="demo-key",
            dd_tags=("env:demo",),
            only_json=False,
            response_limit_bytes=_size(args.response_limit),
        )
        app = cleanup.enter_context(Logship(settings, client_factory=aws.client))
        event = generate_event(target_bytes=_size(args.size), seed=args.seed, stream=stream)
        sent_events = _count_input_events(event)
        print(
            f"== Firehose event: {len(event['records'])} records, {sent_events} log events "
            f"(+1 CONTROL_MESSAGE, +1 corrupt record), response limit {settings.response_limit_bytes:,} bytes"
        )
        started = time.perf_counter()
        response = app.handle(event)
        elapsed = (time.perf_counter() - started) * 1000
        counts = app.last_summary
        print(
            f"== Invocation 1 in {elapsed:.0f} ms: {counts['Ok']} Ok, {counts['Dropped']} Dropped "
            f"({counts['control']} control, {counts['reingested_records']} re-ingested), "
            f"{counts['ProcessingFailed']} ProcessingFailed"
        )
        _show_s3(response)
        print(
            f"== Datadog intake received {len(intake.entries)} entries in "
            f"{sum(1 for r in intake.requests if r.status == 202)} requests; first one:"
        )
        print("   " + orjson.dumps(intake.entries[0]).decode()[:400])
        total_s3 = counts["events_to_s3"]
        for round_number in range(2, 12):
            reingested = aws.delivered_records(bucket, take=True)
            if not reingested:
                break
            print(f"== Re-ingested into Firehose (local AWS): {len(reingested)} records come back")
            again = firehose_event(
                [firehose_record(f"r{round_number}-{n}", data) for n, data in enumerate(reingested)],
                stream=stream,
            )
            app.handle(again)
            counts = app.last_summary
            total_s3 += counts["events_to_s3"]
            print(f"== Invocation {round_number}: {counts['Ok']} Ok, {counts['reingested_records']} re-ingested again")
        print(f"== Totals: {sent_events} events in, {total_s3} events to S3, {len(intake.entries)} entries in Datadog")
        if total_s3 != sent_events:
            print("!! events were lost or duplicated", file=sys.stderr)
            return 1
        print("== Every event landed in S3 exactly once.")
    return 0


def _count_input_events(event: dict[str, Any]) -> int:
    from logship.decode import decode_record
    from logship.errors import DecodeError

    total = 0
    for record in event["records"]:
        try:
            batch = decode_record(record["data"])
        except DecodeError:
            continue
        total += len(batch.events)
    return total


def _show_s3(response: dict[str, Any]) -> None:
    ok = [r for r in response["records"] if r["result"] == "Ok"]
    if not ok:
        return
    lines = _decoded_lines(ok[0]["data"], compressed=True)
    print(f"== S3 gets newline-separated messages (gzip per record); first record, {len(lines)} lines:")
    for line in lines[:3]:
        print("   " + line[:160])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per job."""
    parser = argparse.ArgumentParser(prog="logship", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run end to end on local stand-ins")
    demo.add_argument("--size", default="1MB", help="compressed input size (default 1MB)")
    demo.add_argument("--response-limit", default="600KB", help="response limit, small to show re-ingest")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--verbose", action="store_true", help="print logship's own JSON log lines")
    demo.set_defaults(func=cmd_demo)

    gen = sub.add_parser("generate", help="write a synthetic Firehose event")
    gen.add_argument("--size", default="1MB", help="compressed CloudWatch data to generate")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--services", type=int, default=20)
    gen.add_argument("--control", type=int, default=1, help="CONTROL_MESSAGE records")
    gen.add_argument("--corrupt", type=int, default=1, help="corrupt records")
    gen.add_argument("--kinesis-source", help="name a source Kinesis stream (adds partition keys)")
    gen.add_argument("-o", "--out", default="event.json")
    gen.set_defaults(func=cmd_generate)

    proc = sub.add_parser("process", help="run a Firehose event file through the handler's code")
    proc.add_argument("event")
    proc.add_argument("-o", "--out", help="write the response here (default stdout)")
    proc.set_defaults(func=cmd_process)

    emu = sub.add_parser("emulator", help="serve the local Datadog intake emulator")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8080)
    emu.set_defaults(func=cmd_emulator)

    rep = sub.add_parser("replay", help="send a dead letter (s3://bucket/prefix or object) to Datadog")
    rep.add_argument("uri")
    rep.add_argument("--timeout", type=float, default=600.0, help="seconds per object")
    rep.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="send entries older than 17 h with their timestamp (Datadog drops logs older than 18 h); "
        "by default it moves to logship.original_timestamp",
    )
    rep.set_defaults(func=cmd_replay)

    check = sub.add_parser("check", help="validate the Datadog API key (needs datadog-api-client)")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``logship`` command."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
