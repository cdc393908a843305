"""``logship emulator``: serve the local Datadog intake emulator until interrupted."""

from __future__ import annotations

import argparse
import errno
import time
from typing import Any

from logship.cli import arguments
from logship.cli.failures import CommandError


def register(sub: Any) -> None:
    """Add the ``emulator`` subcommand to ``sub``."""
    emu = arguments.add_command(
        sub,
        "emulator",
        summary="serve the local Datadog intake emulator",
        description=(
            "Serve the Datadog logs intake emulator until Ctrl-C: POST /api/v2/logs as Datadog answers it,\n"
            "GET /api/v1/validate for 'logship check', and GET /logship/entries to see what arrived.\n"
            "Point logship at it with DD_URL (and DD_API_URL for 'logship check')."
        ),
    )
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emu.add_argument("--port", type=arguments.port, default=8080, help="port to listen on (0: any free port)")
    emu.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from logship.testing.emulator import IntakeEmulator

    try:
        emulator = IntakeEmulator(host=args.host, port=args.port).start()
    except OSError as err:
        hint = " (another emulator? choose another --port)" if err.errno == errno.EADDRINUSE else ""
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}{hint}") from None
    print(f"Datadog intake emulator on {emulator.url} (DD_URL={emulator.url}); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0
