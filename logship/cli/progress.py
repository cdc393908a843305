"""Progress of long work on a terminal: one status line on stderr, rewritten in place.

Silent when stderr is not a terminal (a pipe, a file, CI), so logs and
captured output stay clean. A running count is redrawn at most ten times a
second, and the line is cleared before any of logship's own log lines is
written, so the two never share a line.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

# Seconds between two redraws of the line.
_REDRAW_SECONDS = 0.1
# Carriage return, then erase to the end of the line (ECMA-48 "EL").
_CLEAR = "\r\x1b[K"


class Progress:
    """A status line on ``stream`` (default stderr), drawn only when the stream is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, logger: str = "logship") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._logger = logging.getLogger(logger)
        self._drawn_at = float("-inf")
        self._shown = False

    def update(self, text: str) -> None:
        """Show ``text`` in place of the last status (``""`` clears it).

        A status replacing one drawn very recently is skipped (counters update
        faster than anyone reads); one drawn on a clear line always shows.
        """
        if not self.enabled:
            return
        now = time.monotonic()
        if text and self._shown and now - self._drawn_at < _REDRAW_SECONDS:
            return
        for handler in self._logger.handlers:  # logging may have been set up since the last update
            if self._clear_before_logging not in handler.filters:
                handler.addFilter(self._clear_before_logging)
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

    def _clear_before_logging(self, record: logging.LogRecord) -> bool:
        """A logging filter that lets every record through, once the status line is cleared."""
        self.done()
        return True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()
        for handler in self._logger.handlers:
            handler.removeFilter(self._clear_before_logging)
