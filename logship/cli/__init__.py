"""The ``logship`` command: one module per subcommand, each running the code the Lambda runs.

Only the collaborators differ (local stand-ins or real AWS and Datadog).
:func:`main` builds the parser from every command module's ``register``.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from logship.cli import check, demo, emulator, generate, process, redrive, replay

COMMANDS = (demo, generate, process, emulator, replay, redrive, check)


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake told in one line (usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per job."""
    parser = _Parser(
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
