"""``logship emulator``: serve the local Datadog intake emulator until interrupted."""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(sub: Any) -> None:
    """Add the ``emulator`` subcommand to ``sub``."""
    emu = sub.add_parser("emulator", help="serve the local Datadog intake emulator")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8080)
    emu.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from logship.testing.emulator import IntakeEmulator

    emulator = IntakeEmulator(host=args.host, port=args.port).start()
    print(f"Datadog intake emulator on {emulator.url} (DD_URL={emulator.url}); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0
