"""The Datadog intake emulator in a process of its own, for timing.

A Lambda does not host Datadog's intake, so the intake's own work must not
compete with logship, neither for the interpreter lock (hence a process of
its own) nor for the machine's cores. Timed runs therefore use a *draining*
intake: it reads every request in full and answers 202 (after ``delay``
seconds) without inflating or parsing it, as the seed baseline's sink reads
and counts bytes. On a 2-core machine the validating emulator's gunzip and
JSON parse of every request took about a fifth of a core from logship's
main thread (``docs/benchmarks.md``).

What logship sent is checked separately, untimed, against the validating
emulator (``validate=True``, or :class:`logship.emulator.IntakeEmulator`
in-process): every event must arrive as an entry.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any


def serve(delay: float, validate: bool = False) -> None:
    """Run an intake until stdin closes; print its URL first."""
    from logship.testing.emulator import IntakeEmulator

    class Forgetful(IntakeEmulator):
        """The validating emulator, keeping nothing (a long run would otherwise grow without bound)."""

        def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
            answer = super().handle(headers, body)
            with self.lock:
                self.entries.clear()
                self.requests.clear()
            return answer

    class Draining(IntakeEmulator):
        """Reads each request (the HTTP layer does) and accepts it without decoding the body."""

        def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
            if self.delay:
                time.sleep(self.delay)
            return 202, {}, b"{}"

    intake = Forgetful if validate else Draining
    with intake(delay=delay) as emulator:
        print(emulator.url, flush=True)
        sys.stdin.read()


class IntakeProcess:
    """``with IntakeProcess(delay=0.05) as intake: intake.url``."""

    def __init__(self, delay: float = 0.0, *, validate: bool = False) -> None:
        self.delay = delay
        self.validate = validate
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> IntakeProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", f"from bench.intake import serve; serve({self.delay!r}, {self.validate!r})"],
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
