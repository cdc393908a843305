"""Datadog metrics: gauges to ``POST /api/v2/series`` through datadog-api-client, packed within the payload limit.

:class:`MetricsClient` turns :class:`Gauge` values into ``MetricPayload`` requests of
at most :data:`METRICS_PAYLOAD_GOAL_BYTES` of JSON each, sends them with
``MetricsApi.submit_metrics`` (the client retries 429 and 5xx, honouring
``X-Ratelimit-Reset``), refetches a refused API key once, and reports a failure as
one :class:`~logship.errors.ApiError` or :class:`~logship.errors.TransportError`.
The API key is the log path's (:class:`~logship.secrets.ApiKeyProvider`); no
application key is needed.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson

from logship.datadog.api import ApiOptions, api_client
from logship.errors import ApiError, TransportError
from logship.secrets import SecretProvider

# "The maximum payload size is 500 kilobytes (512000 bytes)" (API reference, Metrics, "Submit metrics").
METRICS_PAYLOAD_MAX_BYTES = 512_000
# Requests are packed to this much JSON, leaving room for the envelope and the client's own formatting.
METRICS_PAYLOAD_GOAL_BYTES = 450_000
# "The type of metric. The available types are 0 (unspecified), 1 (count), 2 (rate), and 3 (gauge)" (MetricIntakeType).
_GAUGE = 3
_REFUSED_KEYS = (401, 403)
_ANSWER_MAX_CHARS = 300

ClientFactory = Callable[[ApiOptions, str], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Gauge:
    """One gauge point: the metric's name, its value, when (POSIX seconds) and its ``key:value`` tags."""

    metric: str
    value: float
    timestamp: int
    tags: tuple[str, ...] = ()

    def series(self) -> dict[str, Any]:
        """The point as one entry of ``series`` in the v2 payload."""
        return {
            "metric": self.metric,
            "type": _GAUGE,
            "points": [{"timestamp": self.timestamp, "value": self.value}],
            "tags": list(self.tags),
        }


def pack(gauges: Sequence[Gauge], goal_bytes: int = METRICS_PAYLOAD_GOAL_BYTES) -> Iterator[list[dict[str, Any]]]:
    """The gauges' series in batches whose JSON stays within ``goal_bytes``, in order; none for no gauges."""
    batch: list[dict[str, Any]] = []
    size = 0
    for gauge in gauges:
        series = gauge.series()
        length = len(orjson.dumps(series)) + 1
        if batch and size + length > goal_bytes:
            yield batch
            batch, size = [], 0
        batch.append(series)
        size += length
    if batch:
        yield batch


class MetricsClient:
    """Sends gauges to Datadog; thread-safe, the API client made at the first request and reused."""

    def __init__(
        self,
        options: ApiOptions,
        keys: SecretProvider,
        *,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.options = options
        self.keys = keys
        self._client_factory = client_factory or api_client
        self._client: Any = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the client's connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def submit(self, gauges: Sequence[Gauge]) -> int:
        """Send every gauge; the number of requests made.

        Raises ApiError for an answer no retry helped (a refused key names its source), TransportError
        when Datadog could not be reached, ConfigError or AuthError when the key cannot be had.
        """
        requests = 0
        for batch in pack(gauges):
            self._send(batch)
            requests += 1
        return requests

    def _send(self, batch: list[dict[str, Any]]) -> None:
        import urllib3
        from datadog_api_client.exceptions import ApiException
        from datadog_api_client.v2.api.metrics_api import MetricsApi
        from datadog_api_client.v2.model.metric_payload import MetricPayload
        from datadog_api_client.v2.model.metric_series import MetricSeries

        from logship.transport import describe_failure

        payload = MetricPayload(series=[MetricSeries(**series) for series in batch])
        refreshed = False
        while True:
            key = self.keys.get()
            with self._lock:
                if self._client is None:
                    self._client = self._client_factory(self.options, key)
                self._client.configuration.api_key["apiKeyAuth"] = key
                api = MetricsApi(self._client)  # type: ignore[no-untyped-call]  # the client's __init__ is unannotated
            try:
                api.submit_metrics(body=payload)
            except ApiException as err:
                status = int(err.status) if err.status else None
                if status in _REFUSED_KEYS and not refreshed and self.keys.refreshable:
                    refreshed = True
                    self.keys.refresh(key)
                    continue
                if status in _REFUSED_KEYS:
                    raise ApiError(
                        f"Datadog refused the API key for POST /api/v2/series (HTTP {status}); the key comes from "
                        f"{self.keys.source}",
                        status,
                    ) from None
                answer = " ".join(str(err.body if err.body is not None else err.reason).split())[:_ANSWER_MAX_CHARS]
                raise ApiError(f"Datadog answered HTTP {status} to POST /api/v2/series: {answer}", status) from None
            except urllib3.exceptions.HTTPError as err:
                raise TransportError(self.options.url, describe_failure(err)) from None
            return
