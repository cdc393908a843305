"""``logship schedule EXPRESSION``: a schedule expression's next runs and longest gap, for a person checking it."""

from __future__ import annotations

import argparse
from typing import Any

from logship.cli import arguments

#: Runs shown by default, and at most.
DEFAULT_COUNT = 5
MAX_COUNT = 100


def expression(text: str) -> str:
    """A type for a schedule expression AWS accepts; the error names the offending field."""
    from logship.cronwatch.schedule import parse_schedule

    try:
        parse_schedule(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text.strip()


def timezone(text: str) -> str:
    """A type for an IANA time zone name (Scheduler's ``ScheduleExpressionTimezone``)."""
    from logship.cronwatch.schedule import zone_of

    try:
        zone_of(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def register(sub: Any) -> None:
    """Add the ``schedule`` subcommand to ``sub``."""
    command = arguments.add_command(
        sub,
        "schedule",
        summary="print a schedule expression's next runs and its longest gap",
        description=(
            "Read an EventBridge or Scheduler schedule expression as AWS does and print its next runs\n"
            "and the longest time between two runs (what cron watch's liveness monitor waits for).\n"
            "Examples:\n"
            "  logship schedule 'cron(0 9 ? * MON-FRI *)'\n"
            "  logship schedule 'cron(30 2 * * ? *)' --timezone America/New_York --count 10\n"
            "An expression AWS would reject is answered with the field at fault and exit status 2."
        ),
    )
    command.add_argument(
        "expression", type=expression, metavar="EXPRESSION", help="rate(value unit), cron(6 fields) or at(...)"
    )
    command.add_argument(
        "--timezone", type=timezone, default="UTC", help="IANA time zone the expression runs in (EventBridge: UTC)"
    )
    command.add_argument(
        "--count", type=arguments.count(1, MAX_COUNT), default=DEFAULT_COUNT, help="how many next runs to show"
    )
    command.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the description; the expression and zone were checked by the parser."""
    from logship.cronwatch.schedule import describe

    for line in describe(args.expression, args.timezone, args.count):
        print(line)
    return 0
