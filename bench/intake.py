"""The Datadog intake emulator in a process of its own.

A Lambda does not host Datadog's intake, so the emulator's own work (gunzip,
parse, keep) must not compete with logship for the interpreter lock. The
child keeps no entries (a long run would otherwise grow without bound) and
answers every request after ``delay`` seconds.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def serve(delay: float) -> None:
    """Run an emulator until stdin closes; print its URL first."""
    from logship.emulator import IntakeEmulator

    class Forgetful(IntakeEmulator):
        def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
            answer = super().handle(headers, body)
            with self.lock:
                self.entries.clear()
                self.requests.clear()
            return answer

    with Forgetful(delay=delay) as emulator:
        print(emulator.url, flush=True)
        sys.stdin.read()


class IntakeProcess:
    """``with IntakeProcess(delay=0.05) as intake: intake.url``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> IntakeProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", f"from bench.intake import serve; serve({self.delay!r})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError("the intake emulator did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
