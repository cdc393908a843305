"""Lambda entry point of cron watch's run watch, scheduled every minute: ``handlers.watch.handler``.

Settings are read, logging configured and the watch built at the first
invocation, not at import: importing this module does no I/O and creates no
AWS client. The work is in :class:`logship.cronwatch.watch.RunWatch`.
"""

from __future__ import annotations

from typing import Any

from logship.cronwatch.watch import RunWatch
from logship.firehose.app import LambdaContext
from logship.jsonlog import configure_logging
from logship.settings import Settings

_watch: RunWatch | None = None


def handler(event: Any, context: LambdaContext | None) -> dict[str, Any]:
    """Count the ECS tasks, send the gauges, flag overlaps; ``{"summary": true}`` also posts the Slack digest.

    Returns the run's summary; raises when the gauges, an overlap alert or the digest could not be
    sent (or the jobs could not be read), after doing all the rest, so the function's Errors alarm
    shows it. The next run comes a minute later either way.
    """
    global _watch  # noqa: PLW0603 - the one piece of warm-start state, on purpose
    if _watch is None:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        _watch = RunWatch(settings)
    return _watch.handle(event, context)
