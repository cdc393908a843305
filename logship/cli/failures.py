"""What a command says when it fails, or finds nothing to do: one line that names the cause.

:func:`describe` turns logship's errors, files that cannot be read or written,
AWS's answers (no credentials, no region, an endpoint out of reach, an API
error) and a missing optional package into one sentence; the command prints
it as ``logship <command>: error: <sentence>`` and exits with status 1.
:func:`nothing_found` says that a location held nothing to work on (exit 0).
"""

from __future__ import annotations

import sys

from logship.aws import describe_error
from logship.errors import LogshipError

#: Exit status of a command that failed (a mistake on the command line exits 2).
FAILED = 1
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: Exit status when the reader of stdout went away (128 + SIGPIPE), as shells report it for Unix tools.
BROKEN_PIPE = 141

#: The extra that installs each optional top-level module (``pip install 'logship[<extra>]'``).
EXTRAS = {
    "moto": "demo",
    "flask": "demo",
    "flask_cors": "demo",
    "werkzeug": "demo",
    "datadog_api_client": "datadog",
    "matplotlib": "bench",
}

class CommandError(LogshipError):
    """A command cannot do what it was asked; the message says why and what to do instead."""


def describe(err: BaseException, command: str) -> str:
    """One line for ``err`` raised by ``logship <command>``, never holding a traceback."""
    if isinstance(err, ModuleNotFoundError):
        return _missing_module(err, command)
    botocore = describe_error(err)
    if botocore is not None:
        return botocore
    if isinstance(err, LogshipError):
        return _one_line(str(err))
    if isinstance(err, OSError):
        what = err.strerror or str(err)
        return _one_line(f"{err.filename}: {what}" if err.filename else what)
    return _one_line(
        f"unexpected {type(err).__name__}: {err} (run 'logship --debug {command} ...' to see where it came from)"
    )


def _missing_module(err: ModuleNotFoundError, command: str) -> str:
    module = (err.name or "").split(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return f"a module logship needs is missing ({err.name}): reinstall logship"
    return f"'logship {command}' needs {module}, which is not installed: pip install 'logship[{extra}]'"


def nothing_found(command: str, uri: str, what: str) -> None:
    """Say on stderr, in one line, that ``uri`` holds nothing ``command`` works on (``what`` names it)."""
    print(f"logship {command}: nothing found under {uri} ({what})", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split())
