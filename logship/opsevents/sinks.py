"""The two places an ops event goes, Datadog and Slack, behind one small interface.

A :class:`Sink` sends one body (the Events API body, the webhook body) by a
deadline and says what became of it; it never raises. :func:`build_sinks`
makes both from :class:`~logship.settings.Settings`: Datadog unless the
S3-only switch turns it off, Slack only when a webhook is configured. The Lambda's orchestrator and ``logship
replay`` use the same sinks, so a dead letter is re-sent exactly as the
Lambda would have sent it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from logship.delivery import SendResult

if TYPE_CHECKING:
    from logship.aws import ClientFactory
    from logship.settings import Settings

DATADOG = "datadog"
SLACK = "slack"
#: Every sink name, in the order an event is sent to them.
SINK_NAMES = (DATADOG, SLACK)


class Sink(Protocol):
    """Sends one message to one receiver (the Datadog events client, the Slack webhook)."""

    name: str

    def prepare(self) -> None:
        """Fetch what sending needs (the key, the URL) if not yet cached.

        Raises :class:`~logship.errors.ConfigError` when it is not configured
        or cannot be read for a reason of configuration, and
        :class:`~logship.errors.AuthError` for a passing failure to read it.
        """
        ...

    def send(self, body: Mapping[str, Any], deadline: float) -> SendResult:
        """Send ``body`` by ``deadline`` (a ``time.monotonic()`` reading); never raises."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def build_sinks(settings: Settings, client_factory: ClientFactory) -> dict[str, Sink]:
    """Datadog's Events API (unless ``LOGSHIP_DATADOG_ENABLED=false``) and the Slack webhook when one is configured.

    ``client_factory`` makes the boto3 clients the secrets are read with (SSM,
    Secrets Manager); nothing is fetched until the first message.
    """
    from logship.datadog.events import EventsClient
    from logship.secrets import ApiKeyProvider, SecretProvider
    from logship.slack import SlackWebhook

    events = settings.events
    sinks: dict[str, Sink] = {}
    if settings.datadog_enabled:
        keys = ApiKeyProvider(settings.api_key, client_factory)
        sinks[DATADOG] = EventsClient(settings.api, keys, events.retry)
    if events.slack.configured:
        sinks[SLACK] = SlackWebhook(
            events.slack, events.retry, secrets=SecretProvider(events.slack.webhook, client_factory)
        )
    return sinks
