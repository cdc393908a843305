"""Lambda entry point for a Firehose data-transformation function: ``handlers.firehose.handler``.

Settings are read and logging configured at the first invocation, not at
import: importing this module does no I/O and creates no AWS client. Each
invocation's metrics go to stdout as one EMF line, which CloudWatch Logs turns
into CloudWatch metrics (namespace ``logship``).
"""

from __future__ import annotations

from typing import Any

from logship import emf
from logship.firehose.app import LambdaContext, Logship
from logship.jsonlog import configure_logging
from logship.settings import Settings

_app: Logship | None = None


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Transform one Firehose batch of CloudWatch Logs records."""
    global _app  # noqa: PLW0603 - the one piece of warm-start state, on purpose
    if _app is None:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        _app = Logship(settings, metrics=emf.to_stdout)
    return _app.handle(event, context)
