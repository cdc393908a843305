"""Lambda entry point for ops events (EventBridge rules, or SNS): ``handlers.events.handler``.

Settings are read, logging configured and the app built at the first
invocation, not at import: importing this module does no I/O and creates no
AWS client. The work is in :class:`logship.opsevents.app.OpsEventsApp`.
"""

from __future__ import annotations

from typing import Any

from logship.firehose.app import LambdaContext
from logship.jsonlog import configure_logging
from logship.opsevents.app import OpsEventsApp
from logship.settings import Settings

_app: OpsEventsApp | None = None


def handler(event: Any, context: LambdaContext | None) -> dict[str, Any]:
    """Send the ECS, CodePipeline, CodeBuild or Step Functions event(s) in ``event`` to Datadog and Slack.

    Returns the invocation's summary; raises only when a message could be
    neither delivered nor dead-lettered (or no Datadog key is configured), so
    Lambda's retries and the on-failure destination keep the event.
    """
    global _app  # noqa: PLW0603 - the one piece of warm-start state, on purpose
    if _app is None:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        _app = OpsEventsApp(settings)
    return _app.handle(event, context)
