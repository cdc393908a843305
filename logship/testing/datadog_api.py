"""The Datadog API beside the intake emulator: events, metrics, monitors and key validation.

Speaks the part of Datadog's API (``https://api.<site>``) logship uses, with
the same authentication rules: every path needs ``DD-API-KEY``; the monitor
paths also need ``DD-APPLICATION-KEY``.

- ``POST /api/v1/events`` -> 202 with the event (id, url); ``title`` and
  ``text`` required, ``text`` at most 4,000 characters.
- ``POST /api/v2/series`` -> 202; a list of series with metric, type, points.
- ``GET /api/v1/validate`` -> ``{"valid": true}`` for an accepted key, 403 otherwise.
- ``GET /api/v1/monitor`` (``monitor_tags``: every tag must match, ``name``: a
  substring, ``page`` and ``page_size``: pages from 0, at most 1,000 monitors),
  ``POST /api/v1/monitor``, ``GET|PUT|DELETE /api/v1/monitor/{id}``,
  ``POST /api/v1/monitor/validate``.
- ``GET|POST /api/v2/logs/config/metrics``, ``GET|PATCH|DELETE
  /api/v2/logs/config/metrics/{metric_id}``: log-based metrics in the JSON:API
  shape of the API reference (``{"data": {"id", "type": "logs_metrics",
  "attributes": {"compute", "filter", "group_by"}}}``); a second metric with one
  id is 409, an unknown id 404, and an update changes only ``filter``,
  ``group_by`` and ``compute.include_percentiles`` (the rest is fixed at creation).

Monitor validation checks the structure Datadog checks first (a known type, a
query whose form fits the type and ends in a comparison, thresholds that agree
with it, windows within a type's limits, options of the documented names and
values); it is not Datadog's full query parser. Monitor and log-metric paths
need the application key too.
"""

from __future__ import annotations

import itertools
import re
import threading
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

# Datadog's Events API: text is cut at 4,000 characters (API reference, Events).
EVENT_TEXT_MAX_CHARS = 4_000
_EVENT_ALERT_TYPES = frozenset(
    {"error", "warning", "info", "success", "user_update", "recommendation", "snapshot"}
)
# Monitor types (API reference, Monitors: "type").
MONITOR_TYPES = frozenset(
    {
        "composite",
        "event alert",
        "event-v2 alert",
        "log alert",
        "metric alert",
        "process alert",
        "query alert",
        "rum alert",
        "service check",
        "synthetics alert",
        "trace-analytics alert",
        "slo alert",
    }
)
_QUERY_PREFIX = {
    "log alert": "logs(",
    "event-v2 alert": "events(",
    "event alert": "events(",
}
_COMPARISON = re.compile(r"(<=|>=|<|>|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$")
# "page_size: Number of monitors to return per page ... Maximum value is 1000" (Monitors API).
MONITORS_MAX_PAGE_SIZE = 1000
# Log and event monitor windows: "#m (between 1 and 2880), #h (between 1 and 48)" (Monitors API, query).
LOG_WINDOW_MAX_MINUTES = 2880
# Metric monitor windows: "last_#m (1-10080) or last_#h (1-168)" (Monitors API, Metric Alert Query).
METRIC_WINDOW_MAX_MINUTES = 10080
# "Integer from 1 (high) to 5 (low) indicating alert severity" (Monitor.priority).
PRIORITY_RANGE = range(1, 6)
# MonitorOptions.on_missing_data values (Monitors API, OnMissingDataOption).
ON_MISSING_DATA = frozenset({"show_no_data", "show_and_notify_no_data", "resolve", "default"})
# MonitorOptions fields of the API reference a client may send.
MONITOR_OPTION_KEYS = frozenset(
    {
        "aggregation", "device_ids", "enable_logs_sample", "enable_samples", "escalation_message",
        "evaluation_delay", "group_retention_duration", "groupby_simple_monitor", "include_tags", "locked",
        "min_failure_duration", "min_location_failed", "new_group_delay", "new_host_delay", "no_data_timeframe",
        "notification_preset_name", "notify_audit", "notify_by", "notify_no_data", "on_missing_data",
        "renotify_interval", "renotify_occurrences", "renotify_statuses", "require_full_window",
        "scheduling_options", "silenced", "synthetics_check_id", "threshold_windows", "thresholds",
        "timeout_h", "variables",
    }
)  # fmt: skip
_LOG_WINDOW = re.compile(r'\.last\("(\d+)([mh])"\)')
_METRIC_WINDOW = re.compile(r"^\w+\(last_(\d+)([mh])\):")
LOGS_METRICS_PATH = "/api/v2/logs/config/metrics"
# Log-based metric aggregations (API reference, LogsMetricComputeAggregationType).
LOGS_METRIC_AGGREGATIONS = frozenset({"count", "distribution"})
# Fields Datadog fills in on a monitor; a client never sends them.
SERVER_FIELDS = ("id", "created", "modified", "creator", "overall_state", "deleted", "org_id", "multi", "state")

Answer = tuple[int, dict[str, str], bytes]


def _json(status: int, doc: Any) -> Answer:
    return status, {"Content-Type": "application/json"}, orjson.dumps(doc)


class DatadogApi:
    """The API's state: events, series and monitors received, keys accepted. Thread-safe."""

    def __init__(self, api_keys: set[str] | None = None, app_keys: set[str] | None = None) -> None:
        #: API keys accepted (None: any non-empty key).
        self.api_keys = api_keys
        #: Application keys accepted for the monitor paths (None: any non-empty key).
        self.app_keys = app_keys
        self.events: list[dict[str, Any]] = []
        self.series: list[dict[str, Any]] = []
        self.monitors: dict[int, dict[str, Any]] = {}
        #: Log-based metrics by id, as the API shows them (``{"id", "type", "attributes"}``).
        self.log_metrics: dict[str, dict[str, Any]] = {}
        #: Every monitor and log-metric call received: (method, path), in order.
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1001)
        self._clock = itertools.count(1)

    def reset(self) -> None:
        """Forget everything received."""
        with self.lock:
            self.events.clear()
            self.series.clear()
            self.monitors.clear()
            self.log_metrics.clear()
            self.calls.clear()

    @staticmethod
    def serves(path: str) -> bool:
        """Whether ``path`` is an API path this emulator answers."""
        return path.startswith(
            ("/api/v1/events", "/api/v2/series", "/api/v1/validate", "/api/v1/monitor", LOGS_METRICS_PATH)
        )

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:  # noqa: PLR0911 - one return per route
        """Answer one request to the API: (status, headers, body)."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        refused = self._refuse(path, headers)
        if refused is not None:
            return refused
        if path == "/api/v1/validate":
            return _json(HTTPStatus.OK, {"valid": True})
        try:
            doc = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return _json(HTTPStatus.BAD_REQUEST, {"errors": ["invalid JSON"]})
        if path.startswith(("/api/v1/monitor", LOGS_METRICS_PATH)):
            with self.lock:
                self.calls.append((method, path))
            if path.startswith(LOGS_METRICS_PATH):
                return self._log_metric(method, path, doc)
            return self._monitor(method, path, parse_qs(parts.query), doc)
        routes = {("POST", "/api/v1/events"): self._event, ("POST", "/api/v2/series"): self._series}
        route = routes.get((method, path))
        if route is None:
            return _json(HTTPStatus.NOT_FOUND, {"errors": ["not found"]})
        return route(doc)

    def _refuse(self, path: str, headers: dict[str, str]) -> Answer | None:
        """The answer to a request whose keys are missing or refused; None when they are accepted."""
        key = headers.get("dd-api-key", "")
        if not key:
            return _json(HTTPStatus.UNAUTHORIZED, {"errors": ["API key required"]})
        if self.api_keys is not None and key not in self.api_keys:
            answer = {"valid": False} if path == "/api/v1/validate" else {"errors": ["Forbidden"]}
            return _json(HTTPStatus.FORBIDDEN, answer)
        if path.startswith(("/api/v1/monitor", LOGS_METRICS_PATH)):
            app_key = headers.get("dd-application-key", "")
            if not app_key or (self.app_keys is not None and app_key not in self.app_keys):
                return _json(HTTPStatus.FORBIDDEN, {"errors": ["Forbidden: an application key is required"]})
        return None

    # --- events and metrics ---------------------------------------------------
    def _event(self, doc: Any) -> Answer:
        if not isinstance(doc, dict) or not isinstance(doc.get("title"), str) or not isinstance(doc.get("text"), str):
            return _json(HTTPStatus.BAD_REQUEST, {"errors": ["title and text are required"]})
        if doc.get("alert_type") is not None and doc["alert_type"] not in _EVENT_ALERT_TYPES:
            return _json(HTTPStatus.BAD_REQUEST, {"errors": [f"invalid alert_type {doc['alert_type']!r}"]})
        if len(doc["text"]) > EVENT_TEXT_MAX_CHARS:
            return _json(HTTPStatus.BAD_REQUEST, {"errors": ["text is longer than 4000 characters"]})
        with self.lock:
            event_id = next(self._ids)
            stored = {**doc, "id": event_id, "url": f"/event/event?id={event_id}"}
            self.events.append(stored)
        return _json(HTTPStatus.ACCEPTED, {"status": "ok", "event": stored})

    def _series(self, doc: Any) -> Answer:
        series = doc.get("series") if isinstance(doc, dict) else None
        if not isinstance(series, list) or not all(
            isinstance(s, dict) and isinstance(s.get("metric"), str) and isinstance(s.get("points"), list)
            for s in series
        ):
            return _json(HTTPStatus.BAD_REQUEST, {"errors": ["series must be a list of {metric, points, ...}"]})
        with self.lock:
            self.series.extend(series)
        return _json(HTTPStatus.ACCEPTED, {"errors": []})

    # --- monitors -----------------------------------------------------------
    def _monitor(self, method: str, path: str, query: dict[str, list[str]], doc: Any) -> Answer:
        rest = path.removeprefix("/api/v1/monitor").strip("/")
        if rest == "validate" and method == "POST":
            problems = validate_monitor(doc)
            return _json(HTTPStatus.BAD_REQUEST, {"errors": problems}) if problems else _json(HTTPStatus.OK, {})
        if not rest and method in ("GET", "POST"):
            return _json(HTTPStatus.OK, self._list(query)) if method == "GET" else self._create(doc)
        with self.lock:
            found = self.monitors.get(int(rest)) if rest.isdigit() else None
        if found is None:
            return _json(HTTPStatus.NOT_FOUND, {"errors": ["Monitor not found"]})
        if method == "PUT":
            return self._update(found["id"], found, doc)
        if method == "DELETE":
            with self.lock:
                del self.monitors[found["id"]]
            return _json(HTTPStatus.OK, {"deleted_monitor_id": found["id"]})
        return _json(HTTPStatus.OK, found)

    def _list(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        wanted = {t for value in query.get("monitor_tags", []) for t in value.split(",") if t}
        name = query.get("name", [""])[0]
        with self.lock:
            monitors = sorted(self.monitors.values(), key=lambda m: int(m["id"]))
        found = [m for m in monitors if wanted <= set(m.get("tags", [])) and name in m.get("name", "")]
        if "page" not in query and "page_size" not in query:
            return found
        page = int(query.get("page", ["0"])[0])
        size = min(int(query.get("page_size", ["100"])[0]), MONITORS_MAX_PAGE_SIZE)
        return found[page * size : (page + 1) * size]

    def _create(self, doc: Any) -> Answer:
        problems = validate_monitor(doc)
        if problems:
            return _json(HTTPStatus.BAD_REQUEST, {"errors": problems})
        with self.lock:
            monitor_id = next(self._ids)
            stamp = next(self._clock)
            stored = {
                **{k: v for k, v in doc.items() if k not in SERVER_FIELDS},
                "id": monitor_id,
                "created": f"2026-01-01T00:00:{stamp:02d}+00:00",
                "modified": f"2026-01-01T00:00:{stamp:02d}+00:00",
                "overall_state": "No Data",
                "multi": False,
            }
            stored.setdefault("options", {})
            stored.setdefault("tags", [])
            self.monitors[monitor_id] = stored
        return _json(HTTPStatus.OK, stored)

    def _update(self, monitor_id: int, current: dict[str, Any], doc: Any) -> Answer:
        if not isinstance(doc, dict):
            return _json(HTTPStatus.BAD_REQUEST, {"errors": ["a JSON object is required"]})
        merged = {**current, **{k: v for k, v in doc.items() if k not in SERVER_FIELDS}}
        problems = validate_monitor(merged)
        if problems:
            return _json(HTTPStatus.BAD_REQUEST, {"errors": problems})
        with self.lock:
            merged["modified"] = f"2026-01-01T00:01:{next(self._clock):02d}+00:00"
            self.monitors[monitor_id] = merged
        return _json(HTTPStatus.OK, merged)

    # --- log-based metrics ----------------------------------------------------------
    def _log_metric(self, method: str, path: str, doc: Any) -> Answer:  # noqa: PLR0911 - one return per method
        metric_id = path.removeprefix(LOGS_METRICS_PATH).strip("/")
        if not metric_id:
            if method == "GET":
                with self.lock:
                    return _json(HTTPStatus.OK, {"data": [dict(m) for m in self.log_metrics.values()]})
            if method == "POST":
                return self._create_log_metric(doc)
            return _json(HTTPStatus.METHOD_NOT_ALLOWED, {"errors": ["method not allowed"]})
        with self.lock:
            found = self.log_metrics.get(metric_id)
        if found is None:
            return _json(HTTPStatus.NOT_FOUND, {"errors": [f"log-based metric {metric_id!r} not found"]})
        if method == "GET":
            return _json(HTTPStatus.OK, {"data": found})
        if method == "DELETE":
            with self.lock:
                del self.log_metrics[metric_id]
            return HTTPStatus.NO_CONTENT, {}, b""
        if method == "PATCH":
            return self._update_log_metric(found, doc)
        return _json(HTTPStatus.METHOD_NOT_ALLOWED, {"errors": ["method not allowed"]})

    def _create_log_metric(self, doc: Any) -> Answer:
        data = doc.get("data") if isinstance(doc, dict) else None
        attributes = data.get("attributes") if isinstance(data, dict) else None
        problems = _log_metric_problems(data, attributes)
        if problems:
            return _json(HTTPStatus.BAD_REQUEST, {"errors": problems})
        assert isinstance(data, dict) and isinstance(attributes, dict)
        stored = {
            "id": data["id"],
            "type": "logs_metrics",
            "attributes": {
                "compute": dict(attributes["compute"]),
                "filter": dict(attributes.get("filter") or {"query": "*"}),
                "group_by": list(attributes.get("group_by") or []),
            },
        }
        with self.lock:
            if data["id"] in self.log_metrics:
                return _json(HTTPStatus.CONFLICT, {"errors": [f"a log-based metric {data['id']!r} already exists"]})
            self.log_metrics[data["id"]] = stored
        return _json(HTTPStatus.OK, {"data": stored})

    def _update_log_metric(self, current: dict[str, Any], doc: Any) -> Answer:
        data = doc.get("data") if isinstance(doc, dict) else None
        attributes = data.get("attributes") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("type") != "logs_metrics" or not isinstance(attributes, dict):
            problem = "data.type logs_metrics and data.attributes are required"
            return _json(HTTPStatus.BAD_REQUEST, {"errors": [problem]})
        unknown = set(attributes) - {"compute", "filter", "group_by"}
        compute = attributes.get("compute") or {}
        if unknown or not isinstance(compute, dict) or set(compute) - {"include_percentiles"}:
            return _json(HTTPStatus.BAD_REQUEST, {"errors": ["only filter, group_by and compute.include_percentiles "
                                                             "can be updated"]})  # fmt: skip
        updated = {**current, "attributes": {**current["attributes"]}}
        if "filter" in attributes:
            updated["attributes"]["filter"] = dict(attributes["filter"])
        if "group_by" in attributes:
            updated["attributes"]["group_by"] = list(attributes["group_by"])
        if compute:
            updated["attributes"]["compute"] = {**current["attributes"]["compute"], **compute}
        with self.lock:
            self.log_metrics[current["id"]] = updated
        return _json(HTTPStatus.OK, {"data": updated})


def _log_metric_problems(data: Any, attributes: Any) -> list[str]:
    """What is wrong with a log-based metric creation request, following the API reference's required fields."""
    if not isinstance(data, dict) or not isinstance(attributes, dict):
        return ["data with id, type and attributes is required"]
    problems = []
    if not isinstance(data.get("id"), str) or not data["id"]:
        problems.append("data.id (the metric's name) is required")
    if data.get("type") != "logs_metrics":
        problems.append("data.type must be logs_metrics")
    compute = attributes.get("compute")
    if not isinstance(compute, dict) or compute.get("aggregation_type") not in LOGS_METRIC_AGGREGATIONS:
        problems.append("attributes.compute.aggregation_type must be count or distribution")
    elif compute["aggregation_type"] == "distribution" and not compute.get("path"):
        problems.append("a distribution metric needs attributes.compute.path")
    for group in attributes.get("group_by") or []:
        if not isinstance(group, dict) or not isinstance(group.get("path"), str) or not group["path"]:
            problems.append("every group_by needs a path")
    return problems


def validate_monitor(doc: Any) -> list[str]:
    """Structural problems Datadog would refuse a monitor for; empty when it looks valid."""
    if not isinstance(doc, dict):
        return ["a monitor is a JSON object"]
    problems = []
    kind, query = doc.get("type"), doc.get("query")
    if kind not in MONITOR_TYPES:
        problems.append(f"invalid type {kind!r}")
    if not isinstance(query, str) or not query.strip():
        problems.append("query is required")
        return problems
    prefix = _QUERY_PREFIX.get(str(kind))
    if prefix and not query.startswith(prefix):
        problems.append(f"a {kind} query starts with {prefix!r}")
    comparison = _COMPARISON.search(query)
    if kind not in {"composite", "service check"} and comparison is None:
        problems.append("the query must end in a comparison with a threshold")
    for field, expected in (("name", str), ("message", str), ("tags", list), ("options", dict)):
        if field in doc and not isinstance(doc[field], expected):
            problems.append(f"{field} must be a {expected.__name__}")
    if not isinstance(doc.get("name"), str) or not doc.get("name"):
        problems.append("name is required")
    tags = doc.get("tags", [])
    if isinstance(tags, list) and not all(isinstance(t, str) for t in tags):
        problems.append("tags must be strings")
    options = doc.get("options") if isinstance(doc.get("options"), dict) else {}
    critical = (options.get("thresholds") or {}).get("critical") if isinstance(options, dict) else None
    if comparison is not None and critical is not None and float(critical) != float(comparison.group(2)):
        problems.append("options.thresholds.critical must equal the query's threshold")
    problems += _window_problems(str(kind), query)
    problems += _option_problems(options if isinstance(options, dict) else {})
    priority = doc.get("priority")
    if priority is not None and (isinstance(priority, bool) or priority not in PRIORITY_RANGE):
        problems.append("priority must be 1 (high) to 5 (low) or null")
    return problems


def _window_problems(kind: str, query: str) -> list[str]:
    """A log or event monitor looks back 48 hours at most, a metric monitor a week."""
    minutes_of = {"m": 1, "h": 60}
    if kind in _QUERY_PREFIX:
        match = _LOG_WINDOW.search(query)
        if match is None:
            return [f"a {kind} query needs .last(\"#m\") or .last(\"#h\")"]
        minutes = int(match.group(1)) * minutes_of[match.group(2)]
        if not 1 <= minutes <= LOG_WINDOW_MAX_MINUTES:
            return [f"a {kind} window is 1 minute to 48 hours, got {match.group(1)}{match.group(2)}"]
    elif kind in {"query alert", "metric alert"}:
        match = _METRIC_WINDOW.search(query)
        if match is not None and not 1 <= int(match.group(1)) * minutes_of[match.group(2)] <= METRIC_WINDOW_MAX_MINUTES:
            return [f"a metric monitor window is 1 minute to 1 week, got last_{match.group(1)}{match.group(2)}"]
    return []


def _option_problems(options: dict[str, Any]) -> list[str]:
    """Options of names the API reference does not list, or of values it does not allow."""
    problems = [f"unknown option {key!r}" for key in sorted(set(options) - MONITOR_OPTION_KEYS)]
    missing = options.get("on_missing_data")
    if missing is not None and missing not in ON_MISSING_DATA:
        problems.append(f"options.on_missing_data must be one of {sorted(ON_MISSING_DATA)}")
    for key in ("renotify_interval", "no_data_timeframe", "evaluation_delay"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problems.append(f"options.{key} must be a whole number")
    return problems
