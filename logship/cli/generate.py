"""``logship generate``: write a synthetic Firehose event to a file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from logship.cli import arguments
from logship.cli.progress import Progress

#: The largest event ``generate`` makes: it is built in memory, and Firehose hands
#: a Lambda at most 3 MB of records at a time.
MAX_GENERATE_BYTES = 256 * 1024 * 1024


def register(sub: Any) -> None:
    """Add the ``generate`` subcommand to ``sub``."""
    gen = arguments.add_command(
        sub,
        "generate",
        summary="write a synthetic Firehose event",
        description=(
            "Write a Firehose transformation event of CloudWatch Logs records: many services, 80% JSON logs,\n"
            "20% plain lines, plus CONTROL_MESSAGE and corrupt records. The events are dated from five minutes\n"
            "ago, as Firehose delivers live logs (Datadog keeps dates of the last 18 hours); the same seed and\n"
            "--start give the same event."
        ),
    )
    gen.add_argument(
        "--size",
        type=arguments.size(1, MAX_GENERATE_BYTES),
        default="1MB",
        help="compressed CloudWatch data to generate (B, KB, MB, GB, KiB, MiB, GiB)",
    )
    gen.add_argument("--seed", type=int, default=0, help="random seed")
    gen.add_argument(
        "--start",
        type=arguments.epoch_ms,
        default=None,
        metavar="EPOCH_MS",
        help="time of the first event, in epoch milliseconds (default: five minutes ago)",
    )
    gen.add_argument("--services", type=arguments.count(1), default=20, help="services the logs come from")
    gen.add_argument("--control", type=arguments.count(0), default=1, help="CONTROL_MESSAGE records to add")
    gen.add_argument("--corrupt", type=arguments.count(0), default=1, help="corrupt records to add")
    gen.add_argument(
        "--kinesis-source",
        type=arguments.stream_name,
        help="name a source Kinesis data stream (adds partition keys); by default the event is Direct PUT",
    )
    gen.add_argument("-o", "--out", type=arguments.output_file, default="event.json", help="file to write")
    gen.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the event, showing progress on a terminal."""
    from logship.testing.synth import generate_event, live_start_ms

    with Progress() as progress:
        event = generate_event(
            target_bytes=args.size,
            seed=args.seed,
            start_ms=args.start if args.start is not None else live_start_ms(),
            services=args.services,
            control_records=args.control,
            corrupt_records=args.corrupt,
            kinesis_source=args.kinesis_source,
            progress=lambda made: progress.update(f"generating: {made:,} of {args.size:,} bytes"),
        )
        progress.update(f"writing {args.out}")
        args.out.write_bytes(orjson.dumps(event))
    print(f"wrote {args.out}: {len(event['records'])} records", file=sys.stderr)
    return 0
