"""The ``logship`` command: one module per subcommand, each running the code the Lambda runs.

Only the collaborators differ (local stand-ins or real AWS and Datadog).
:func:`main` builds the parser from every command module's ``register`` and
is the one place errors are answered: a mistake on the command line exits 2,
a failure exits 1, each with one line on stderr and no traceback unless
``--debug`` is given. A reader of stdout that goes away (``logship ... | head``)
ends the command quietly with 141, as it ends a Unix tool (128 + SIGPIPE).
"""

from __future__ import annotations

import argparse
import os
import sys

from logship import __version__
from logship.cli import check, demo, emulator, events, generate, monitors, process, redrive, replay, schedule
from logship.cli.arguments import HelpFormatter, Parser
from logship.cli.failures import BROKEN_PIPE, FAILED, INTERRUPTED, describe

COMMANDS = (demo, generate, process, emulator, replay, redrive, check, events, schedule, monitors)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per job."""
    parser = Parser(
        prog="logship",
        description="Ship CloudWatch Logs from a Firehose transformation Lambda to Datadog and S3.",
        epilog="Run 'logship COMMAND --help' for a command's options and the environment variables it reads.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"logship {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``logship`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a reader gone away is met here, not in the interpreter's last flush
    except BrokenPipeError:
        _drop_stdout()
        return BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"logship {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as err:
        if args.debug:
            raise
        print(f"logship {args.command}: error: {describe(err, args.command)}", file=sys.stderr)
        return FAILED
    return status


def _drop_stdout() -> None:
    """Point stdout at the null device, so that what is still buffered cannot fail again at exit.

    The Python documentation's advice for SIGPIPE ("Note on SIGPIPE", the signal module).
    """
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (a test's capture): nothing is flushed at exit
        pass
