"""``logship generate``: write a synthetic Firehose event to a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from logship.cli.sizes import parse_size


def register(sub: Any) -> None:
    """Add the ``generate`` subcommand to ``sub``."""
    gen = sub.add_parser("generate", help="write a synthetic Firehose event")
    gen.add_argument("--size", default="1MB", help="compressed CloudWatch data to generate")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--services", type=int, default=20)
    gen.add_argument("--control", type=int, default=1, help="CONTROL_MESSAGE records")
    gen.add_argument("--corrupt", type=int, default=1, help="corrupt records")
    gen.add_argument("--kinesis-source", help="name a source Kinesis stream (adds partition keys)")
    gen.add_argument("-o", "--out", default="event.json")
    gen.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the event."""
    from logship.testing.synth import generate_event

    event = generate_event(
        target_bytes=parse_size(args.size),
        seed=args.seed,
        services=args.services,
        control_records=args.control,
        corrupt_records=args.corrupt,
        kinesis_source=args.kinesis_source,
    )
    Path(args.out).write_bytes(orjson.dumps(event))
    print(f"wrote {args.out}: {len(event['records'])} records", file=sys.stderr)
    return 0
