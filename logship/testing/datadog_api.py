"""The Datadog API beside the intake emulator: events, metrics, monitors and key validation.

Speaks the part of Datadog's API (``https://api.<site>``) logship uses, with
the same authentication rules: every path needs ``DD-API-KEY``; the monitor
paths also need ``DD-APPLICATION-KEY``.

- ``POST /api/v1/events`` -> 202 with the event (id, url); ``title`` and
  ``text`` required, ``text`` at most 4,000 characters.
- ``POST /api/v2/series`` -> 202; a list of series with metric, type, points.
- ``GET /api/v1/validate`` -> ``{"valid": true}`` for an accepted key, 403 otherwise.
- ``GET /api/v1/monitor`` (``monitor_tags``: every tag must match, ``name``: a
  substring), ``POST /api/v1/monitor``, ``GET|PUT|DELETE /api/v1/monitor/{id}``,
  ``POST /api/v1/monitor/validate``.

Monitor validation checks the structure Datadog checks first (a known type, a
query whose form fits the type and ends in a comparison, thresholds that agree
with it); it is not Datadog's full query parser.
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
        self.lock = threading.Lock()
        self._ids = itertools.count(1001)
        self._clock = itertools.count(1)

    def reset(self) -> None:
        """Forget everything received."""
        with self.lock:
            self.events.clear()
            self.series.clear()
            self.monitors.clear()

    @staticmethod
    def serves(path: str) -> bool:
        """Whether ``path`` is an API path this emulator answers."""
        return path.startswith(("/api/v1/events", "/api/v2/series", "/api/v1/validate", "/api/v1/monitor"))

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
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
        if path.startswith("/api/v1/monitor"):
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
        if path.startswith("/api/v1/monitor"):
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
            monitors = list(self.monitors.values())
        return [m for m in monitors if wanted <= set(m.get("tags", [])) and name in m.get("name", "")]

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
    return problems
