"""Progress of long work on a terminal: one status line on stderr, rewritten in place.

Silent when stderr is not a terminal (a pipe, a file, CI), so logs and
captured output stay clean. Updates are shown at most ten times a second.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

# Seconds between two redraws of the line.
_REDRAW_SECONDS = 0.1
# Carriage return, then erase to the end of the line (ECMA-48 "EL").
_CLEAR = "\r\x1b[K"


class Progress:
    """A status line on ``stream`` (default stderr), drawn only when the stream is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._drawn_at = float("-inf")
        self._shown = False

    def update(self, text: str) -> None:
        """Show ``text`` in place of the last status (``""`` clears it); skipped when redrawn very recently."""
        if not self.enabled:
            return
        now = time.monotonic()
        if text and now - self._drawn_at < _REDRAW_SECONDS:
            return
        self._drawn_at = now
        self.stream.write(_CLEAR + text)
        self.stream.flush()
        self._shown = bool(text)

    def done(self) -> None:
        """Clear the status line, so what is printed next starts on a clean line."""
        if self._shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()
