"""The ``logship`` command: one module per subcommand, each running the code the Lambda runs.

Only the collaborators differ (local stand-ins or real AWS and Datadog).
:func:`main` builds the parser from every command module's ``register``.
"""

from __future__ import annotations

import argparse

from logship.cli import check, demo, emulator, events, generate, process, replay

COMMANDS = (demo, generate, process, emulator, replay, check, events)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="logship",
        description="Ship CloudWatch Logs from a Firehose transformation Lambda to Datadog and S3.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``logship`` command."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
