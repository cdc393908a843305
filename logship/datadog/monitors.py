"""Datadog monitors and log-based metrics through datadog-api-client: list, validate, create, update, delete.

:class:`MonitorsClient` is the only code that talks to ``/api/v1/monitor`` and
``/api/v2/logs/config/metrics``; it takes and gives plain dicts (the shapes of the
API reference), builds the client's own models from them (``Monitor(**body)``),
so the client's validations run before anything is sent, and turns every
failure into one :class:`~logship.errors.ApiError` (an answer) or
:class:`~logship.errors.TransportError` (no answer) naming the call. Managing
monitors needs the API key and an application key (``DD-APPLICATION-KEY``); both
come from :class:`~logship.secrets.SecretProvider` objects, fetched at the first
call and never logged. 429 and 5xx are retried by the client
(:func:`logship.datadog.api.api_client`), honouring ``X-Ratelimit-Reset``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from logship.datadog.api import ApiOptions, api_client
from logship.errors import ApiError, TransportError
from logship.secrets import SecretProvider

# "page_size: Number of monitors to return per page ... Maximum value is 1000" (API reference,
# Monitors, "Get all monitor details").
MONITORS_PAGE_SIZE = 1000
# Datadog's error bodies are short JSON ({"errors": [...]}); keep at most this much in a message.
_ANSWER_MAX_CHARS = 300
_HTTP_BAD_REQUEST = 400
_HTTP_NOT_FOUND = 404
_REFUSED_KEYS = (401, 403)
# Fields of a monitor an update may carry: the type cannot change (the planner recreates instead).
_UPDATE_FIELDS = ("name", "query", "message", "tags", "priority", "options")

T = TypeVar("T")
ClientFactory = Callable[[ApiOptions, str, "str | None"], Any]


class MonitorsClient:
    """Monitors and log-based metrics of one Datadog organization, as plain dicts; thread-safe, closed after use.

    ``page_size`` is how many monitors one list request asks for (Datadog's most by default).
    """

    def __init__(
        self,
        options: ApiOptions,
        api_key: SecretProvider,
        app_key: SecretProvider,
        *,
        client_factory: ClientFactory | None = None,
        page_size: int = MONITORS_PAGE_SIZE,
    ) -> None:
        self.options = options
        self.page_size = page_size
        self.api_key = api_key
        self.app_key = app_key
        self._client_factory = client_factory or api_client
        self._client: Any = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the client's connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> MonitorsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prepare(self) -> None:
        """Fetch both keys now; ConfigError or AuthError naming the source of the one that cannot be had."""
        self.api_key.get()
        self.app_key.get()

    # --- monitors ------------------------------------------------------------------------------------------
    def list_monitors(self, tag: str) -> list[dict[str, Any]]:
        """Every monitor carrying ``tag`` (``GET /api/v1/monitor?monitor_tags=``), page by page, as dicts."""
        from datadog_api_client.v1.api.monitors_api import MonitorsApi

        api = MonitorsApi(self._api_client())  # type: ignore[no-untyped-call]  # the client's __init__ is unannotated
        found: list[dict[str, Any]] = []
        page = 0
        while True:

            def one_page(page: int = page) -> Any:
                return api.list_monitors(monitor_tags=tag, page=page, page_size=self.page_size)

            batch = self._call(f"GET /api/v1/monitor (page {page})", one_page)
            found += (_plain(monitor) for monitor in batch)
            if len(batch) < self.page_size:
                return found
            page += 1

    def validate(self, body: Mapping[str, Any]) -> list[str]:
        """Datadog's objections to ``body`` (``POST /api/v1/monitor/validate``); empty when it is valid."""
        from datadog_api_client.exceptions import ApiException
        from datadog_api_client.v1.api.monitors_api import MonitorsApi
        from datadog_api_client.v1.model.monitor import Monitor

        model = self._model(Monitor, body, "monitor")
        api = MonitorsApi(self._api_client())  # type: ignore[no-untyped-call]
        try:
            self._call(
                "POST /api/v1/monitor/validate", lambda: api.validate_monitor(body=model), passed=_HTTP_BAD_REQUEST
            )
        except ApiException as err:  # 400: the monitor is not valid, and the answer says why
            return _errors_of(err)
        return []

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create the monitor ``body``; Datadog's copy, with its ``id``."""
        from datadog_api_client.v1.api.monitors_api import MonitorsApi
        from datadog_api_client.v1.model.monitor import Monitor

        model = self._model(Monitor, body, "monitor")
        api = MonitorsApi(self._api_client())  # type: ignore[no-untyped-call]
        created = self._call("POST /api/v1/monitor", lambda: api.create_monitor(body=model))
        return _plain(created)

    def update(self, monitor_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the fields logship owns (name, query, message, tags, priority, options) of monitor ``monitor_id``."""
        from datadog_api_client.v1.api.monitors_api import MonitorsApi
        from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest

        fields = {key: body[key] for key in _UPDATE_FIELDS if key in body}
        model = self._model(MonitorUpdateRequest, fields, "monitor update")
        api = MonitorsApi(self._api_client())  # type: ignore[no-untyped-call]
        updated = self._call(f"PUT /api/v1/monitor/{monitor_id}", lambda: api.update_monitor(monitor_id, body=model))
        return _plain(updated)

    def delete(self, monitor_id: int) -> None:
        """Delete monitor ``monitor_id``."""
        from datadog_api_client.v1.api.monitors_api import MonitorsApi

        api = MonitorsApi(self._api_client())  # type: ignore[no-untyped-call]
        self._call(f"DELETE /api/v1/monitor/{monitor_id}", lambda: api.delete_monitor(monitor_id))

    # --- log-based metrics ----------------------------------------------------------------------------------
    def get_log_metric(self, metric_id: str) -> dict[str, Any] | None:
        """The log-based metric ``metric_id`` (its ``data``), or None when it does not exist."""
        from datadog_api_client.exceptions import ApiException
        from datadog_api_client.v2.api.logs_metrics_api import LogsMetricsApi

        api = LogsMetricsApi(self._api_client())  # type: ignore[no-untyped-call]
        what = f"GET /api/v2/logs/config/metrics/{metric_id}"
        try:
            found = self._call(what, lambda: api.get_logs_metric(metric_id), passed=_HTTP_NOT_FOUND)
        except ApiException:  # 404: no such metric
            return None
        return dict(_plain(found)["data"])

    def create_log_metric(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a log-based metric from ``body`` (``{"data": {"id", "type", "attributes"}}``); its ``data``."""
        from datadog_api_client.v2.api.logs_metrics_api import LogsMetricsApi
        from datadog_api_client.v2.model.logs_metric_create_request import LogsMetricCreateRequest

        model = self._model(LogsMetricCreateRequest, body, "log-based metric")
        api = LogsMetricsApi(self._api_client())  # type: ignore[no-untyped-call]
        created = self._call("POST /api/v2/logs/config/metrics", lambda: api.create_logs_metric(body=model))
        return dict(_plain(created)["data"])

    def update_log_metric(self, metric_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Update a log-based metric's ``filter`` and ``group_by`` (what Datadog lets change); its ``data``."""
        from datadog_api_client.v2.api.logs_metrics_api import LogsMetricsApi
        from datadog_api_client.v2.model.logs_metric_update_request import LogsMetricUpdateRequest

        body = {"data": {"type": "logs_metrics", "attributes": dict(attributes)}}
        model = self._model(LogsMetricUpdateRequest, body, "log-based metric update")
        api = LogsMetricsApi(self._api_client())  # type: ignore[no-untyped-call]
        what = f"PATCH /api/v2/logs/config/metrics/{metric_id}"
        updated = self._call(what, lambda: api.update_logs_metric(metric_id, body=model))
        return dict(_plain(updated)["data"])

    # --- plumbing ----------------------------------------------------------------------------------------------
    def _api_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory(self.options, self.api_key.get(), self.app_key.get())
            return self._client

    @staticmethod
    def _model(model: Callable[..., T], body: Mapping[str, Any], what: str) -> T:
        """The client's model of ``body``; ApiError when the client's own checks refuse it (nothing is sent)."""
        try:
            return model(**body)
        except (TypeError, ValueError) as err:  # the client's ApiTypeError and ApiValueError
            raise ApiError(f"not a {what} Datadog's API takes: {' '.join(str(err).split())}") from None

    def _call(self, what: str, call: Callable[[], T], *, passed: int | None = None) -> T:
        """``call()``, its failures as ApiError or TransportError naming ``what``; an answer ``passed`` is re-raised."""
        import urllib3
        from datadog_api_client.exceptions import ApiException

        from logship.transport import describe_failure

        try:
            return call()
        except ApiException as err:
            if passed is not None and err.status == passed:
                raise
            raise self._api_error(what, err) from None
        except urllib3.exceptions.HTTPError as err:
            raise TransportError(self.options.url, describe_failure(err)) from None

    def _api_error(self, what: str, err: Any) -> ApiError:
        status = int(err.status) if err.status else None
        if status in _REFUSED_KEYS:
            return ApiError(
                f"Datadog refused the keys for {what} (HTTP {status}): the API key comes from {self.api_key.source}, "
                f"the application key from {self.app_key.source}; monitors need an application key allowed to "
                "write monitors (and to generate log metrics for the log-based metric)",
                status,
            )
        answer = " ".join(str(err.body if err.body is not None else err.reason).split())[:_ANSWER_MAX_CHARS]
        return ApiError(f"Datadog answered HTTP {status} to {what}: {answer}", status)


def _plain(model: Any) -> dict[str, Any]:
    """A model the client returned, as the API's JSON shape."""
    return dict(model.to_dict())


def _errors_of(err: Any) -> list[str]:
    """The ``errors`` list of an error answer, or its text."""
    import json

    try:
        doc = json.loads(err.body or "")
    except (TypeError, ValueError):
        return [" ".join(str(err.body or err.reason).split())[:_ANSWER_MAX_CHARS]]
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors:
        return [str(item) for item in errors]
    return [" ".join(str(err.body).split())[:_ANSWER_MAX_CHARS]]
