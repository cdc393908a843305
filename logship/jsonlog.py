"""logship's own logs: one JSON object per line, fields from ``extra=`` included.

Only the ``logship`` logger is configured, never the root logger, and only by
the entry points (:mod:`handlers`, the command line).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: level, logger, message, then every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line for ``record``."""
        doc: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode("utf-8")


def configure_logging(level: str = "INFO") -> logging.Logger:
    """Send the ``logship`` logger's records, as JSON lines, to stderr; idempotent."""
    logger = logging.getLogger("logship")
    logger.setLevel(level)
    if not any(getattr(h, "_logship", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler._logship = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    return logger
