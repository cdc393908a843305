"""``logship replay``: send a dead letter (object or prefix) to Datadog, deleting what was accepted."""

from __future__ import annotations

import argparse
from typing import Any

import orjson


def register(sub: Any) -> None:
    """Add the ``replay`` subcommand to ``sub``."""
    rep = sub.add_parser("replay", help="send a dead letter (s3://bucket/prefix or object) to Datadog")
    rep.add_argument("uri")
    rep.add_argument("--timeout", type=float, default=600.0, help="seconds per object")
    rep.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="send entries dated more than 17 h back or 1 h ahead with their date (Datadog drops logs "
        "older than 18 h or over 2 h ahead); by default it moves to logship.original_<attribute>",
    )
    rep.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay and print the report; exit 1 when something is left."""
    import boto3

    from logship.deadletter import RESTAMP_AFTER_SECONDS, replay
    from logship.firehose.app import Logship
    from logship.jsonlog import configure_logging
    from logship.settings import Settings

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
