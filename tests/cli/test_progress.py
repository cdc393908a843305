"""The progress line: drawn only on a terminal, cleared before a log line and at the end, never left behind."""

from __future__ import annotations

import io
import logging

from logship.cli.progress import Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_log_line_never_shares_the_status_line():
    """A log record clears the status first; the next status is drawn again; the end leaves a clean line."""
    term = Terminal()
    logger = logging.getLogger("logship-progress-test")
    handler = logging.StreamHandler(term)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with Progress(term, logger=logger.name) as progress:
            progress.update("working: 1 of 3")
            logger.warning("a log line")
            progress.update("working: 2 of 3")
        assert term.getvalue() == (
            "\r\x1b[Kworking: 1 of 3" "\r\x1b[Ka log line\n" "\r\x1b[Kworking: 2 of 3" "\r\x1b[K"
        )
        assert handler.filters == []
    finally:
        logger.removeHandler(handler)


def test_nothing_is_drawn_off_a_terminal():
    """Into a pipe or a file, the progress line writes nothing at all."""
    stream = io.StringIO()
    with Progress(stream) as progress:
        progress.update("working")
        progress.update("")
    assert stream.getvalue() == ""
