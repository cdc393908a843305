"""``logship process``: run a Firehose event file through the handler's code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson


def register(sub: Any) -> None:
    """Add the ``process`` subcommand to ``sub``."""
    proc = sub.add_parser("process", help="run a Firehose event file through the handler's code")
    proc.add_argument("event")
    proc.add_argument("-o", "--out", help="write the response here (default stdout)")
    proc.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Process the event with settings from the environment and write the response."""
    from logship.firehose.app import Logship
    from logship.jsonlog import configure_logging
    from logship.settings import Settings

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
