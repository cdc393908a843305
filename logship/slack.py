"""Slack incoming webhooks: POST one message, retried with the shared policy, about one message per second.

The webhook URL is a secret (anyone holding it can post to the channel): it
comes from a :class:`~logship.secrets.SecretSource` (``SLACK_WEBHOOK_URL``,
``SLACK_WEBHOOK_URL_SSM_NAME`` or ``SLACK_WEBHOOK_URL_SECRET_ARN``), is fetched
at the first message, and never appears in a log line, an exception or a
:class:`~logship.delivery.SendResult`; errors name where it comes from instead.

Answers (Slack API changelog 2016-05-17, "Improving error conditions for
Incoming Webhooks"; Slack "Rate limits"): 200 ``ok``; 400 ``invalid_payload``,
403 ``action_prohibited``, 404 ``channel_not_found`` / ``no_service``, 410
``channel_is_archived``, 500 ``rollup_error``; 429 with ``Retry-After``
(seconds) past about one message per second per webhook. 408, 429, 5xx and no
answer are retried; 403, 404 and 410 refetch the URL once (it may have been
rotated), then stop; the rest stop at once.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import orjson

from logship.datadog.answers import retry_after_seconds
from logship.delivery import SendResult
from logship.errors import AuthError, ConfigError, TransportError
from logship.retry import RetryPolicy
from logship.secrets import SecretProvider, SecretSource
from logship.transport import HttpTransport, Transport

SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
#: JSON fields a Secrets Manager secret may hold the webhook URL in.
WEBHOOK_URL_FIELDS = ("SLACK_WEBHOOK_URL", "slack_webhook_url", "webhook_url", "url")
# Slack "Rate limits": incoming webhooks allow about one message per second per
# webhook, with short bursts; beyond that they answer 429 with Retry-After.
MIN_INTERVAL_SECONDS = 1.0
# Slack's error answers are one short word ("invalid_payload"); keep at most this much of one.
_ANSWER_MAX_CHARS = 100
_RETRY = frozenset({HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS})
# A revoked or rotated webhook answers these; a fresh copy of the secret may hold the new URL.
_REFETCH = frozenset({HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.GONE})


@dataclasses.dataclass(frozen=True)
class SlackOptions:
    """Where the webhook URL comes from and how patient to be.

    ``timeout_seconds`` bounds one request; ``min_interval_seconds`` is the
    least time between two messages to the webhook (0 turns pacing off).
    """

    webhook: SecretSource = SecretSource(env_name=SLACK_WEBHOOK_URL, json_fields=WEBHOOK_URL_FIELDS)
    timeout_seconds: float = 10.0
    min_interval_seconds: float = MIN_INTERVAL_SECONDS

    @property
    def configured(self) -> bool:
        """Whether a webhook is set at all (without one, nothing goes to Slack)."""
        return self.webhook.configured


def is_webhook_url(value: str) -> bool:
    """Whether ``value`` looks like a webhook URL: http(s), a host and a path."""
    parts = urlsplit(value.strip())
    return parts.scheme in ("https", "http") and bool(parts.netloc) and " " not in value


class SlackWebhook:
    """Posts messages to one incoming webhook; thread-safe, paced, reused across warm invocations."""

    name = "slack"

    def __init__(
        self,
        options: SlackOptions,
        retry: RetryPolicy,
        *,
        secrets: SecretProvider | None = None,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.retry = retry
        self.secrets = secrets or SecretProvider(options.webhook)
        self.transport = transport or HttpTransport(maxsize=1)
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()
        self._last_sent: float | None = None

    def close(self) -> None:
        """Release connections."""
        self.transport.close()

    def prepare(self) -> None:
        """Fetch the webhook URL now (cached) and check it is one; ConfigError or AuthError naming its source."""
        self._url()

    def send(self, message: Mapping[str, Any], deadline: float) -> SendResult:
        """POST ``message`` (a webhook body) by ``deadline`` (a ``clock`` reading); never raises."""
        with self._lock:  # one message at a time keeps the pace per webhook
            return self._send(orjson.dumps(message), deadline)

    def _send(self, body: bytes, deadline: float) -> SendResult:
        attempts = self.retry.start(deadline, sleep=self.sleep, clock=self.clock)
        refetched = False
        status: int | None = None
        error = "no attempt fitted the time left"
        while True:
            try:
                url = self._url()
            except (ConfigError, AuthError) as err:  # the message names the source, never the URL
                return SendResult(False, attempts.made, None, str(err), final=True)
            if not self._pace(deadline):
                return SendResult(False, attempts.made, status, f"{error}; out of time", final=False)
            remaining = attempts.remaining()
            retry_after: float | None = None
            try:
                response = self.transport.post(
                    url, body, {"Content-Type": "application/json"}, min(self.options.timeout_seconds, remaining)
                )
            except TransportError as err:
                status, error = None, _redact(f"no answer from {err.host}: {err.reason}", url)
            else:
                status = response.status
                answer = _redact(response.body[:_ANSWER_MAX_CHARS].decode("utf-8", "replace").strip(), url)
                error = f"HTTP {status} {answer}".strip()
                if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
                    return SendResult(True, attempts.made, status)
                if status in _REFETCH and not refetched and self.secrets.refreshable:
                    refetched = True
                    try:
                        self.secrets.refresh(url)
                    except (ConfigError, AuthError) as err:
                        return SendResult(False, attempts.made, status, str(err), final=True)
                    continue
                if status not in _RETRY and status < HTTPStatus.INTERNAL_SERVER_ERROR:
                    return SendResult(False, attempts.made, status, f"Slack refused the message: {error}", final=True)
                retry_after = retry_after_seconds(response.headers)
            if not attempts.wait(retry_after):
                return SendResult(False, attempts.made, status, f"{error}; stopped by {attempts.stopped_by}")

    def _url(self) -> str:
        url = self.secrets.get()
        if not is_webhook_url(url):
            raise ConfigError(f"{self.options.webhook.env_name} from {self.secrets.source} is not an http(s) URL")
        return url

    def _pace(self, deadline: float) -> bool:
        """Wait until the webhook may take another message; False when that is past ``deadline``."""
        now = self.clock()
        if self._last_sent is not None:
            ready = self._last_sent + self.options.min_interval_seconds
            if ready >= deadline:
                return False
            if ready > now:
                self.sleep(ready - now)
        self._last_sent = max(now, self.clock())
        return True


def _redact(text: str, url: str) -> str:
    """``text`` with the webhook URL, and its path (the secret part), replaced by ``<webhook>``."""
    path = urlsplit(url).path
    text = text.replace(url, "<webhook>")
    return text.replace(path, "<webhook>") if len(path) > 1 else text
