"""What the command says when a command fails: one line that names the cause and what to do.

:func:`describe` turns logship's errors, files that cannot be read or written,
AWS's answers (no credentials, no region, an endpoint out of reach, an API
error) and a missing optional package into one sentence; the command prints
it as ``logship <command>: error: <sentence>`` and exits with status 1.
"""

from __future__ import annotations

import sys

from logship.errors import LogshipError

#: Exit status of a command that failed (a mistake on the command line exits 2).
FAILED = 1
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130

#: The extra that installs each optional top-level module (``pip install 'logship[<extra>]'``).
EXTRAS = {
    "moto": "demo",
    "flask": "demo",
    "flask_cors": "demo",
    "werkzeug": "demo",
    "datadog_api_client": "datadog",
    "matplotlib": "bench",
}

_NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(for a local endpoint, AWS_ENDPOINT_URL and any dummy keys)"
)


class CommandError(LogshipError):
    """A command cannot do what it was asked; the message says why and what to do instead."""


def describe(err: BaseException, command: str) -> str:
    """One line for ``err`` raised by ``logship <command>``, never holding a traceback."""
    if isinstance(err, ModuleNotFoundError):
        return _missing_module(err, command)
    botocore = _botocore_problem(err)
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


def _botocore_problem(err: BaseException) -> str | None:
    """The sentence for one of botocore's errors; None for anything else (botocore is not imported here)."""
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None or not isinstance(err, exceptions.BotoCoreError | exceptions.ClientError):
        return None
    if isinstance(err, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return _NO_CREDENTIALS
    if isinstance(err, exceptions.NoRegionError):
        return "no AWS region set: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)"
    if isinstance(err, exceptions.EndpointConnectionError):
        return f"cannot reach AWS at {err.kwargs.get('endpoint_url')}: check AWS_ENDPOINT_URL and the network"
    if isinstance(err, exceptions.ClientError):
        error = err.response.get("Error", {})
        return _one_line(f"AWS {err.operation_name} failed: {error.get('Code')}: {error.get('Message', '')}")
    return _one_line(f"AWS: {err}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
