"""``logship replay``: send a dead letter (object or prefix) to Datadog, deleting what was accepted."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from logship.cli import arguments
from logship.cli.failures import CommandError, nothing_found
from logship.cli.progress import Progress

#: AWS variables this command reads besides logship's own (botocore's names).
AWS_ENV_NAMES = arguments.aws_env_names("S3")


def register(sub: Any) -> None:
    """Add the ``replay`` subcommand to ``sub``."""
    from logship.settings import (
        DATADOG_ENV_NAMES,
        DD_API_URL,
        LOGSHIP_DD_CONCURRENCY,
        LOGSHIP_DD_TIMEOUT_SECONDS,
        LOGSHIP_GZIP_LEVEL,
        LOGSHIP_LOG_LEVEL,
        SLACK_WEBHOOK_ENV_NAMES,
    )

    rep = arguments.add_command(
        sub,
        "replay",
        summary="send a dead letter (s3://bucket/prefix or one object) to Datadog",
        description=(
            "Send the entries of a dead letter (every .jsonl.gz object under s3://bucket/prefix, or one\n"
            "object) to Datadog, deleting each object once all of it was accepted; an object accepted in part\n"
            "is rewritten to hold only the rest. Exits 1 when entries are left. Shows progress on a terminal.\n"
            "A URI at or under an 'opsevents' folder holds ops events dead letters instead: each is sent to\n"
            "its own sink (Datadog's Events API or the Slack webhook) and deleted once taken."
        ),
        env=(
            *DATADOG_ENV_NAMES,
            LOGSHIP_DD_CONCURRENCY,
            LOGSHIP_DD_TIMEOUT_SECONDS,
            LOGSHIP_GZIP_LEVEL,
            LOGSHIP_LOG_LEVEL,
            DD_API_URL,
            *SLACK_WEBHOOK_ENV_NAMES,
            *AWS_ENV_NAMES,
        ),
    )
    rep.add_argument("uri", type=arguments.s3_uri, help="s3://bucket/prefix of the dead letter, or one object's URI")
    rep.add_argument("--timeout", type=arguments.seconds, default=600.0, help="seconds allowed per object")
    rep.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="send entries dated more than 17 h back or 1 h ahead with their date (Datadog drops logs "
        "older than 18 h or over 2 h ahead); by default it moves to logship.original_<attribute>",
    )
    rep.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay and print the report; exit 1 with one line saying what is left and why when something is."""
    from logship.cli.events import replays_opsevents, run_replay

    if replays_opsevents(args.uri):  # <prefix>/opsevents/...: each message to its own sink
        return run_replay(args)
    from logship.aws import boto3_client_factory
    from logship.deadletter import RESTAMP_AFTER_SECONDS, replay
    from logship.firehose.app import Logship
    from logship.jsonlog import configure_logging
    from logship.settings import Settings

    settings = Settings.from_env()
    if not settings.datadog_enabled:
        raise CommandError("LOGSHIP_DATADOG_ENABLED is false: nothing may be sent to Datadog, so nothing is replayed")
    configure_logging(settings.log_level)
    with Logship(settings) as app, Progress() as progress:
        app.sender.keys.get()  # a key that cannot be had stops here, in one line, before any object is read
        report = replay(
            args.uri,
            app.sender,
            boto3_client_factory()("s3"),
            deadline_seconds=args.timeout,
            restamp_after_seconds=None if args.keep_timestamps else RESTAMP_AFTER_SECONDS,
            progress=lambda done, total: progress.update(f"replayed {done:,} of {total:,} objects"),
        )
    print(orjson.dumps(report.__dict__).decode())
    if not report.objects:
        nothing_found("replay", args.uri, "no dead-letter objects, *.jsonl.gz")
    if report.left:
        raise CommandError(f"{report.left:,} entries left under {args.uri}: {report.failure}")
    return 0
