"""A local Datadog logs intake (HTTP v2) with fault injection, for tests, demos and other pipelines.

Speaks the part of the intake protocol logship relies on: ``POST
/api/v2/logs`` with ``DD-API-KEY``, a JSON array body, optionally gzip or
deflate, the 5 MB / 1,000-entry request limits, and 202 on success. As
Datadog does, an entry whose date is more than 18 hours old or 2 hours ahead
is answered 202 and silently not kept (it lands in ``discarded``). Faults
are injected on demand: scripted statuses (``503, 503, 202``), ``Retry-After``
headers, slow answers, dropped connections, an outage (one answer for every
request until it ends), requests accepted but answered only after the client
gave up, 413 above a size, 400 for a poisoned entry, and keys that are refused.

The same server answers the Datadog API paths logship uses (events, metrics,
monitors, key validation; :mod:`logship.testing.datadog_api`), so one URL serves
as both ``DD_URL`` and ``DD_API_URL``; scripted faults apply to those too.

Used from Python (``with IntakeEmulator() as dd: ... dd.entries``) or run alone
with ``logship emulator``; then ``GET /logship/entries`` lists what arrived.
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import threading
import time
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from logship import _gzip, limits
from logship.errors import DecodeError
from logship.firehose.timestamps import DATE_ATTRIBUTES, DateWindow, datadog_date_ms
from logship.testing._serving import BackgroundServer
from logship.testing.datadog_api import DatadogApi

INTAKE_PATH = "/api/v2/logs"
# Inflate at most this much of one request body; past it the request is a 413 anyway.
_MAX_INFLATED = 64 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Fault:
    """One scripted answer: a status (0 drops the connection), headers, and a delay in seconds.

    With ``accept`` the request is handled as usual (its entries are kept) and
    only the answer waits ``delay`` seconds: a client whose timeout is shorter
    counts as undelivered what Datadog has in fact accepted. ``status`` is
    then unused.
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    accept: bool = False


@dataclasses.dataclass(frozen=True)
class RequestLog:
    """What the emulator saw of one request and what it answered."""

    status: int
    entries: int
    raw_bytes: int
    body_bytes: int
    api_key_ok: bool


class IntakeEmulator(BackgroundServer):
    """A Datadog logs intake on 127.0.0.1, in a background thread."""

    _thread_name = "dd-intake"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: set[str] | None = None,
        delay: float = 0.0,
        max_request_bytes: int = limits.DATADOG_MAX_REQUEST_BYTES,
        max_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST,
    ) -> None:
        self._api_keys = api_keys
        self.delay = delay
        self.max_request_bytes = max_request_bytes
        self.max_entries = max_entries
        self.reject_above_bytes: int | None = None
        self.poison: str | None = None
        self.script: collections.deque[Fault] = collections.deque()
        #: The answer to every request the script does not answer, while Datadog is "down".
        self.outage: Fault | None = None
        self.entries: list[dict[str, Any]] = []
        # Accepted with 202 but dropped for their date, as Datadog does.
        self.discarded: list[dict[str, Any]] = []
        self.requests: list[RequestLog] = []
        #: The Datadog API beside the intake: events, metrics, monitors (see :mod:`logship.testing.datadog_api`).
        self.api = DatadogApi(api_keys)
        #: TCP connections accepted so far (kept-alive clients reuse theirs).
        self.connections = 0
        self.lock = threading.Lock()
        self._server = _Server((host, port), self)

    @property
    def api_keys(self) -> set[str] | None:
        """API keys accepted by the intake and the API (None: any non-empty key)."""
        return self._api_keys

    @api_keys.setter
    def api_keys(self, keys: set[str] | None) -> None:
        self._api_keys = keys
        self.api.api_keys = keys

    # --- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to put in ``DD_URL``."""
        return self.base_url

    @property
    def intake_url(self) -> str:
        """The full URL logs are POSTed to."""
        return self.url + INTAKE_PATH

    # --- fault injection -------------------------------------------------
    def fail_next(self, *statuses: int, retry_after: float | None = None, delay: float = 0.0) -> None:
        """Answer the next requests with ``statuses`` in order (0 drops the connection)."""
        headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
        with self.lock:
            self.script.extend(Fault(status, headers, delay) for status in statuses)

    def accept_late(self, delay: float, count: int = 1) -> None:
        """Accept the next ``count`` requests as usual but answer each only after ``delay`` seconds."""
        with self.lock:
            self.script.extend(Fault(202, (), delay, accept=True) for _ in range(count))

    def start_outage(self, status: int = 503, *, retry_after: float | None = None, delay: float = 0.0) -> None:
        """Answer every request with ``status`` (0 drops the connection) until :meth:`end_outage`."""
        headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
        self.outage = Fault(status, headers, delay)

    def end_outage(self) -> None:
        """Answer requests as usual again (scripted faults still come first)."""
        self.outage = None

    def clear_faults(self) -> None:
        """Answer as a healthy intake again; what was received is kept."""
        with self.lock:
            self.script.clear()
        self.reject_above_bytes = None
        self.poison = None
        self.delay = 0.0
        self.outage = None

    def reset(self) -> None:
        """Forget received entries, requests and faults."""
        with self.lock:
            self.entries.clear()
            self.discarded.clear()
            self.requests.clear()
            self.connections = 0
        self.api.reset()
        self.clear_faults()

    # --- the protocol ------------------------------------------------------
    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one intake request: (status, headers, body). Thread-safe."""
        with self.lock:
            fault = self.script.popleft() if self.script else self.outage
        if fault is not None and fault.accept:
            answer = self._intake(headers, body)
            time.sleep(self.delay + fault.delay)
            return answer
        delay = self.delay + (fault.delay if fault else 0.0)
        if delay:
            time.sleep(delay)
        if fault is not None:
            self._log(fault.status, 0, len(body), len(body), self._key_ok(headers))
            return fault.status, dict(fault.headers), b'{"errors":["injected"]}'
        return self._intake(headers, body)

    def _key_ok(self, headers: dict[str, str]) -> bool:
        key = headers.get("dd-api-key", "")
        return bool(key) and (self.api_keys is None or key in self.api_keys)

    def _intake(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:  # noqa: PLR0911 - one return per intake answer
        """What the intake answers a request when no fault is injected."""
        key = headers.get("dd-api-key", "")
        key_ok = self._key_ok(headers)
        if not key_ok:
            status = 401 if not key else 403
            self._log(status, 0, len(body), len(body), key_ok)
            return status, {}, b'{"errors":["Forbidden"]}'
        try:
            raw = _decompress(headers.get("content-encoding", ""), body)
        except (OSError, zlib.error, EOFError, DecodeError):
            self._log(400, 0, len(body), len(body), key_ok)
            return 400, {}, b'{"errors":["bad content encoding"]}'
        limit = self.reject_above_bytes if self.reject_above_bytes is not None else self.max_request_bytes
        if len(raw) > limit:
            self._log(413, 0, len(raw), len(body), key_ok)
            return 413, {}, b'{"errors":["Payload too large"]}'
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._log(400, 0, len(raw), len(body), key_ok)
            return 400, {}, b'{"errors":["invalid JSON"]}'
        items = doc if isinstance(doc, list) else [doc]
        if len(items) > self.max_entries or not all(isinstance(i, dict) for i in items):
            self._log(400, len(items), len(raw), len(body), key_ok)
            return 400, {}, b'{"errors":["too many entries or not objects"]}'
        if self.poison is not None and any(self.poison in str(i.get("message", "")) for i in items):
            self._log(400, len(items), len(raw), len(body), key_ok)
            return 400, {}, b'{"errors":["rejected entry"]}'
        window = DateWindow.around(int(time.time() * 1000), margin_ms=0)
        with self.lock:
            for item in items:
                (self.entries if _kept_for_date(item, window) else self.discarded).append(item)
        self._log(202, len(items), len(raw), len(body), key_ok)
        return 202, {}, b"{}"

    def _log(self, status: int, entries: int, raw: int, body: int, key_ok: bool) -> None:
        with self.lock:
            self.requests.append(RequestLog(status, entries, raw, body, key_ok))


def _kept_for_date(entry: dict[str, Any], window: DateWindow) -> bool:
    """False when the first date attribute Datadog reads is a date outside its window."""
    syslog = entry.get("syslog")
    nested = {"syslog.timestamp": syslog["timestamp"]} if type(syslog) is dict and "timestamp" in syslog else {}
    for name in DATE_ATTRIBUTES:
        if name in entry or name in nested:
            ms = datadog_date_ms(entry[name] if name in entry else nested[name])
            return ms is None or window.keeps(ms)
    return True


def _decompress(encoding: str, body: bytes) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return _gzip.decompress(body, max_bytes=_MAX_INFLATED)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


class _Server(ThreadingHTTPServer):
    """The HTTP server, knowing the emulator it serves."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: IntakeEmulator) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout before a late answer) is expected here; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """One connection: the intake path, and the ``/logship/...`` paths that inspect and script the emulator."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real intake
    # Headers and body go out in two writes; without this, Nagle's algorithm
    # holds the body for the client's delayed ACK (about 40 ms per request).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: tests and demos print what matters themselves."""

    def setup(self) -> None:
        super().setup()
        with self.server.emulator.lock:
            self.server.emulator.connections += 1

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _path(self) -> str:
        return self.path.split("?")[0]

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _api(self, method: str, body: bytes) -> bool:
        """Answer a Datadog API request (events, metrics, monitors, validate); False when the path is not one."""
        emulator = self.server.emulator
        if not DatadogApi.serves(self._path()):
            return False
        with emulator.lock:
            fault = emulator.script.popleft() if emulator.script else None
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status == 0:
            self.close_connection = True
            self.connection.close()
            return True
        if fault is not None:
            self._reply(fault.status, dict(fault.headers), b'{"errors":["injected"]}')
            return True
        status, headers, answer = emulator.api.handle(
            method, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        self._reply(status, headers, answer)
        return True

    def do_PUT(self) -> None:
        if not self._api("PUT", self._body()):
            self._reply(HTTPStatus.NOT_FOUND, {}, b'{"errors":["not found"]}')

    def do_PATCH(self) -> None:
        if not self._api("PATCH", self._body()):
            self._reply(HTTPStatus.NOT_FOUND, {}, b'{"errors":["not found"]}')

    def do_POST(self) -> None:
        body = self._body()
        emulator = self.server.emulator
        if self._api("POST", body):
            return
        if self._path() == "/logship/faults":
            self._configure(body)
            return
        if self._path() != INTAKE_PATH:
            self._reply(HTTPStatus.NOT_FOUND, {}, b'{"errors":["not found"]}')
            return
        status, headers, answer = emulator.handle({k.lower(): v for k, v in self.headers.items()}, body)
        if status == 0:
            self.close_connection = True
            self.connection.close()
            return
        self._reply(status, headers, answer)

    def do_GET(self) -> None:
        emulator = self.server.emulator
        if self._api("GET", b""):
            return
        if self._path() == "/logship/entries":
            with emulator.lock:
                body = orjson.dumps(emulator.entries)
            self._reply(HTTPStatus.OK, {}, body)
        elif self._path() == "/logship/requests":
            with emulator.lock:
                body = orjson.dumps([dataclasses.asdict(r) for r in emulator.requests])
            self._reply(HTTPStatus.OK, {}, body)
        else:
            self._reply(HTTPStatus.NOT_FOUND, {}, b'{"errors":["not found"]}')

    def do_DELETE(self) -> None:
        if self._api("DELETE", b""):
            return
        self.server.emulator.reset()
        self._reply(HTTPStatus.OK, {}, b"{}")

    def _configure(self, body: bytes) -> None:
        """``POST /logship/faults``: statuses, retry_after, delay, poison, reject_above_bytes, outage, accept_late.

        ``outage`` is a status to answer everything with (null ends it);
        ``accept_late`` is ``{"delay": seconds, "count": n}``.
        """
        emulator = self.server.emulator
        doc = orjson.loads(body or b"{}")
        emulator.fail_next(*doc.get("statuses", []), retry_after=doc.get("retry_after"))
        if "outage" in doc:
            if doc["outage"] is None:
                emulator.end_outage()
            else:
                emulator.start_outage(int(doc["outage"]), retry_after=doc.get("retry_after"))
        if "accept_late" in doc:
            late = doc["accept_late"]
            emulator.accept_late(float(late["delay"]), int(late.get("count", 1)))
        if "delay" in doc:
            emulator.delay = float(doc["delay"])
        if "poison" in doc:
            emulator.poison = doc["poison"]
        if "reject_above_bytes" in doc:
            emulator.reject_above_bytes = doc["reject_above_bytes"]
        self._reply(HTTPStatus.OK, {}, b"{}")
