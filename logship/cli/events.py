"""``logship events``: the ops events Lambda's commands; ``logship events demo`` runs it on local stand-ins."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from logship.cli import arguments
from logship.cli.failures import CommandError, nothing_found


def register(sub: Any) -> None:
    """Add the ``events`` subcommand (and its own subcommands) to ``sub``."""
    events = arguments.add_command(
        sub,
        "events",
        summary="ops events: ECS, CodePipeline, CodeBuild and Step Functions changes to Datadog and Slack",
        description=(
            "The ops events Lambda (handlers.events.handler) on local stand-ins. Its dead letters are\n"
            "re-sent with 'logship replay s3://bucket/prefix/opsevents'."
        ),
    )
    commands = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    demo = arguments.add_command(
        commands,
        "demo",
        summary="replay the fixture events through the Lambda's code into a local Datadog and Slack",
        description=(
            "Send every fixture event (EventBridge and SNS, one file each) through the ops events\n"
            "Lambda's code into the Datadog API emulator and a local Slack webhook, and print what each\n"
            "received; then one Slack message and one Datadog event in full, and a Slack outage whose\n"
            "dead letter is replayed (needs the demo extra for a local S3)."
        ),
    )
    demo.add_argument(
        "--fixtures", type=Path, default=None, help="folder of event JSON files (default: the test fixtures)"
    )
    demo.add_argument("--full", action="store_true", help="print every Slack message in full")
    demo.add_argument("--verbose", action="store_true", help="print logship's own JSON log lines")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit 1 when a sink did not get exactly what it should."""
    from logship.testing.events_demo import DEFAULT_FIXTURES, read_fixtures, run_events_demo

    folder = args.fixtures or DEFAULT_FIXTURES
    try:
        read_fixtures(folder)
    except ValueError as err:
        if args.fixtures is None and not folder.is_dir():
            # An installed wheel carries no tests/: the fixtures are in a source checkout.
            raise CommandError(
                f"{err}: the demo replays the fixture events of a source checkout (tests/fixtures/opsevents); "
                "run it from a clone, or give a folder of EventBridge event JSON files with --fixtures"
            ) from None
        raise CommandError(f"{err}; give a folder of event JSON files with --fixtures") from None
    return run_events_demo(fixtures=folder, full=args.full, verbose=args.verbose)


def replays_opsevents(uri: str) -> bool:
    """Whether ``logship replay URI`` is for ops events: ``URI`` is at or under an ``opsevents`` folder."""
    from logship.opsevents.deadletter import is_opsevents_uri

    return is_opsevents_uri(uri)


def run_replay(args: argparse.Namespace) -> int:
    """``logship replay s3://.../opsevents``: send each dead-lettered message to its own sink; exit 1 if any is left."""
    import orjson

    from logship.aws import boto3_client_factory
    from logship.jsonlog import configure_logging
    from logship.opsevents.app import OpsEventsApp
    from logship.opsevents.deadletter import RESTAMP_AFTER_SECONDS, replay
    from logship.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    with OpsEventsApp(settings) as app:
        report = replay(
            args.uri,
            app.sinks,
            boto3_client_factory()("s3"),
            deadline_seconds=args.timeout,
            restamp_after_seconds=None if args.keep_timestamps else RESTAMP_AFTER_SECONDS,
        )
    print(orjson.dumps(dataclasses.asdict(report)).decode())
    if not report.objects:
        nothing_found("replay", args.uri, "no ops events dead letters, opsevents/**/*.json")
    if report.left:
        raise CommandError(f"{report.left:,} ops events dead letters left under {args.uri}: {report.failure}")
    return 0
