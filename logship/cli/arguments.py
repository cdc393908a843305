"""What the command line accepts: sizes, counts, ports, files and ``s3://`` URIs, each refused in one line.

Every type here raises :class:`argparse.ArgumentTypeError` with a sentence
that says what was expected, so argparse answers a mistake with one line
(``logship generate: error: argument --size: ...``) and exit status 2.
:func:`add_command` gives each subcommand the same parser: defaults shown in
its help, the environment variables it reads listed under it.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from logship import s3uri

#: Exit status of a command-line mistake (argparse's own).
USAGE_ERROR = 2

# Size units: decimal (SI) and binary (IEC), case ignored.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1_000,
    "mb": 1_000_000,
    "gb": 1_000_000_000,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
}
_SIZE = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")
_MAX_PORT = 65_535
# Kinesis data stream names (Kinesis API reference, CreateStream).
_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,128}")
# Firehose delivery stream names (Firehose API reference, CreateDeliveryStream).
_DELIVERY_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,64}")


class Parser(argparse.ArgumentParser):
    """An argument parser that reports a mistake in one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message> (see <prog> --help)`` and exit with status 2."""
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with every default shown ("(default: 1MB)"), and descriptions and epilogs kept as written.

    Flags (a default of False) and options without a default (None) say
    nothing: their help text says what happens when they are left out.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


#: Digits of an epoch-millisecond time from September 2001 to November 2286.
EPOCH_MS_DIGITS = 13
EXAMPLE_EPOCH_MS = 1_700_000_000_000


def aws_env_names(*services: str) -> tuple[str, ...]:
    """The AWS variables a command that calls ``services`` reads (botocore's names), for its help.

    ``services`` are botocore's service ids as ``AWS_ENDPOINT_URL_<SERVICE>``
    spells them (``"S3"``, ``"FIREHOSE"``, ``"KINESIS"``).
    """
    return (
        "AWS_ENDPOINT_URL",
        *(f"AWS_ENDPOINT_URL_{service}" for service in services),
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    )


def add_command(
    sub: Any, name: str, *, summary: str, description: str, env: Sequence[str] = ()
) -> argparse.ArgumentParser:
    """A subcommand parser: ``summary`` in the command list, ``description`` above its options, ``env`` below."""
    if env:
        names = textwrap.fill(", ".join(env), width=76, initial_indent="  ", subsequent_indent="  ")
        epilog = f"environment variables read:\n{names}"
    else:
        epilog = "environment variables read: none"
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=description, epilog=epilog, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
    )
    return parser


def size(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """A type for byte sizes: ``3MB``, ``512KiB``, ``1.5MB``, ``3000000`` (B, KB, MB, GB, KiB, MiB, GiB)."""

    def parse(text: str) -> int:
        match = _SIZE.fullmatch(text)
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _UNITS:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a size: give a number with B, KB, MB, GB, KiB, MiB or GiB, such as 3MB or 512KiB"
            )
        value = math.floor(float(match.group(1)) * _UNITS[unit])
        if value < low or (high is not None and value > high):
            bounds = f"at least {low:,} bytes" if high is None else f"from {low:,} to {high:,} bytes"
            raise argparse.ArgumentTypeError(f"{text!r} is {value:,} bytes; it must be {bounds}")
        return value

    parse.__name__ = "size"
    return parse


def count(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """A type for whole numbers from ``low`` (and up to ``high``)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: it must be {bounds}")
        return value

    parse.__name__ = "count"
    return parse


def epoch_ms(text: str) -> int:
    """A time in epoch milliseconds (13 digits for years 2001-2286), as CloudWatch Logs dates events."""
    value = count(0)(text)
    if len(str(value)) != EPOCH_MS_DIGITS:
        raise argparse.ArgumentTypeError(
            f"{value} is not a time in epoch milliseconds (13 digits, such as {EXAMPLE_EPOCH_MS})"
        )
    return value


def seconds(text: str) -> float:
    """A type for a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the number of seconds must be more than 0")
    return value


def port(text: str) -> int:
    """A type for a TCP port, 0 (any free port) to 65535."""
    return count(0, _MAX_PORT)(text)


def output_file(text: str) -> Path:
    """A type for a file to write: its folder must exist and be writable, and it must not be a folder."""
    path = Path(text)
    folder = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
    return path


def input_file(text: str) -> Path:
    """A type for a file to read: it must exist, be a file and be readable."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"cannot read {text}: no such file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"cannot read {text}: not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {text}: permission denied")
    return path


def s3_uri(text: str) -> str:
    """A type for ``s3://bucket/prefix`` (or one object's ``s3://bucket/key``), the bucket name checked."""
    try:
        s3uri.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text.strip()


def stream_name(text: str) -> str:
    """A type for a Kinesis data stream name: 1 to 128 of letters, digits, ``_``, ``.`` and ``-``."""
    if not _STREAM_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Kinesis stream name (1 to 128 letters, digits, '_', '.' and '-')"
        )
    return text


def delivery_stream_name(text: str) -> str:
    """A type for a Firehose delivery stream name: 1 to 64 of letters, digits, ``_``, ``.`` and ``-``."""
    if not _DELIVERY_STREAM_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a delivery stream name (1 to 64 letters, digits, '_', '.' and '-')"
        )
    return text
