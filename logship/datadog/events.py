"""Datadog events: ``POST /api/v1/events`` through datadog-api-client, retried with the shared policy.

One event per call, built as the client's own ``EventCreateRequest`` (so its
validations run before anything is sent) and sent with ``EventsApi.create_event``
on a client made once by :func:`logship.datadog.api.api_client` and reused by
warm invocations. The client's own retries are turned off: every answer is
classified as the logs sender's are (:func:`logship.datadog.answers.classify`),
retried with :class:`~logship.retry.RetryPolicy` within the caller's deadline
(honouring ``Retry-After`` / ``X-Ratelimit-Reset``), and a refused key (401,
403) is refetched once from the same :class:`~logship.secrets.ApiKeyProvider`
the log path uses.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from logship.datadog.answers import Answer, classify, retry_after_seconds
from logship.datadog.api import ApiOptions, api_client
from logship.datadog.logs import KeySource
from logship.delivery import SendResult
from logship.errors import AuthError, ConfigError
from logship.retry import RetryPolicy

logger = logging.getLogger(__name__)

ClientFactory = Callable[[ApiOptions, str], Any]
# Datadog's error bodies are short JSON ({"errors": [...]}); keep at most this much in a message.
_ANSWER_MAX_CHARS = 300


class EventsClient:
    """Sends Datadog events, one per call; thread-safe, the API client made at the first event."""

    name = "datadog"

    def __init__(
        self,
        options: ApiOptions,
        keys: KeySource,
        retry: RetryPolicy,
        *,
        client_factory: ClientFactory | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Retries are ours (the shared policy, within the deadline), never the client's as well.
        self.options = dataclasses.replace(options, max_retries=0)
        self.keys = keys
        self.retry = retry
        self.sleep = sleep
        self.clock = clock
        self._client_factory = client_factory or api_client
        self._client: Any = None
        self._api: Any = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the client's connections."""
        with self._lock:
            client, self._client, self._api = self._client, None, None
        if client is not None:
            client.close()

    def prepare(self) -> None:
        """Fetch the API key now (cached); ConfigError or AuthError, naming its source, when it cannot be had."""
        self.keys.get()

    def send(self, body: Mapping[str, Any], deadline: float) -> SendResult:
        """Create the event ``body`` (a ``POST /api/v1/events`` body) by ``deadline``; never raises."""
        try:
            from datadog_api_client.v1.model.event_create_request import EventCreateRequest
        except ImportError:
            missing = "datadog-api-client is not installed: pip install 'logship[datadog]'"
            return SendResult(False, 0, None, missing, final=True)
        try:
            request = EventCreateRequest(**body)
        except (TypeError, ValueError) as err:  # the client's ApiTypeError and ApiValueError
            return SendResult(False, 0, None, f"not an event the Events API takes: {err}", final=True)
        with self._lock:
            return self._send(request, deadline)

    def _send(self, request: Any, deadline: float) -> SendResult:
        import urllib3
        from datadog_api_client.exceptions import ApiException

        attempts = self.retry.start(deadline, sleep=self.sleep, clock=self.clock)
        refreshed = False
        status: int | None = None
        error = "no attempt fitted the time left"
        while True:
            remaining = attempts.remaining()
            if remaining <= 0:
                return SendResult(False, attempts.made, status, f"{error}; out of time")
            try:
                key = self.keys.get()
                api = self._events_api(key)
            except (ConfigError, AuthError) as err:  # the message names the key's source, never the key
                return SendResult(False, attempts.made, None, str(err), final=True)
            api.api_client.configuration.request_timeout = min(self.options.timeout_seconds, remaining)
            headers: Mapping[str, str] = {}
            try:
                api.create_event(request)
            except ApiException as err:
                status = int(err.status) if err.status else None  # 0: the client's TLS failure, no answer
                headers = {str(k).lower(): str(v) for k, v in (err.headers or {}).items()}
                error = f"HTTP {status} {_answer(err)}" if status else f"no answer: {err.reason}"
            except urllib3.exceptions.HTTPError as err:
                status, error = None, f"no answer from {urlsplit(self.options.url).hostname}: {type(err).__name__}"
            else:
                return SendResult(True, attempts.made, 202)
            answer = classify(status)
            if answer is Answer.KEY and not refreshed and self.keys.refreshable:
                refreshed = True
                try:
                    self.keys.refresh(key)
                except (ConfigError, AuthError) as err:
                    return SendResult(False, attempts.made, status, str(err), final=True)
                continue
            if answer is not Answer.RETRY:
                return SendResult(False, attempts.made, status, self._refusal(answer, status, error), final=True)
            logger.debug("Datadog events API: %s", error)  # one try; the result's error says what came of them
            if not attempts.wait(retry_after_seconds(headers)):
                return SendResult(False, attempts.made, status, f"{error}; stopped by {attempts.stopped_by}")

    def _refusal(self, answer: Answer, status: int | None, error: str) -> str:
        """Why an answer no retry can help stops the event."""
        if answer is Answer.KEY:
            return f"Datadog refused the API key (HTTP {status}); the key comes from {self.keys.source}"
        return f"Datadog refused the event: {error}"

    def _events_api(self, key: str) -> Any:
        """The ``EventsApi`` on the shared client, with ``key`` set (a refetched key replaces the old one)."""
        if self._client is None:
            from datadog_api_client.v1.api.events_api import EventsApi

            self._client = self._client_factory(self.options, key)
            self._api = EventsApi(self._client)  # type: ignore[no-untyped-call]  # the client's __init__ is unannotated
        self._client.configuration.api_key["apiKeyAuth"] = key
        return self._api


def _answer(err: Any) -> str:
    """The body of an error answer, short, on one line."""
    body = err.body if err.body is not None else err.reason
    return " ".join(str(body).split())[:_ANSWER_MAX_CHARS]
