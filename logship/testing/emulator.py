"""A local Datadog logs intake (HTTP v2) with fault injection, for tests, demos and other pipelines.

Speaks the part of the intake protocol logship relies on: ``POST
/api/v2/logs`` with ``DD-API-KEY``, a JSON array body, optionally gzip or
deflate, the 5 MB / 1,000-entry request limits, and 202 on success. As
Datadog does, an entry whose date is more than 18 hours old or 2 hours ahead
is answered 202 and silently not kept (it lands in ``discarded``). Faults
are injected on demand: scripted statuses (``503, 503, 202``), ``Retry-After``
headers, slow answers, dropped connections, 413 above a size, 400 for a
poisoned entry, and keys that are refused.

Used from Python (``with IntakeEmulator() as dd: ... dd.entries``) or run alone
with ``logship emulator``; then ``GET /logship/entries`` lists what arrived.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from logship import _gzip, limits
from logship.errors import DecodeError
from logship.firehose.timestamps import DATE_ATTRIBUTES, DateWindow, datadog_date_ms

INTAKE_PATH = "/api/v2/logs"
# Inflate at most this much of one request body; past it the request is a 413 anyway.
_MAX_INFLATED = 64 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Fault:
    """One scripted answer: a status (0 drops the connection), headers, and a delay in seconds."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclasses.dataclass(frozen=True)
class RequestLog:
    """What the emulator saw of one request and what it answered."""

    status: int
    entries: int
    raw_bytes: int
    body_bytes: int
    api_key_ok: bool


class IntakeEmulator:
    """A Datadog logs intake on 127.0.0.1, in a background thread."""

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
        self.api_keys = api_keys
        self.delay = delay
        self.max_request_bytes = max_request_bytes
        self.max_entries = max_entries
        self.reject_above_bytes: int | None = None
        self.poison: str | None = None
        self.script: collections.deque[Fault] = collections.deque()
        self.entries: list[dict[str, Any]] = []
        # Accepted with 202 but dropped for their date, as Datadog does.
        self.discarded: list[dict[str, Any]] = []
        self.requests: list[RequestLog] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to put in ``DD_URL``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def intake_url(self) -> str:
        """The full URL logs are POSTed to."""
        return self.url + INTAKE_PATH

    def start(self) -> IntakeEmulator:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="dd-intake", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> IntakeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- fault injection -------------------------------------------------
    def fail_next(self, *statuses: int, retry_after: float | None = None, delay: float = 0.0) -> None:
        """Answer the next requests with ``statuses`` in order (0 drops the connection)."""
        headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
        with self.lock:
            self.script.extend(Fault(status, headers, delay) for status in statuses)

    def reset(self) -> None:
        """Forget received entries, requests and faults."""
        with self.lock:
            self.entries.clear()
            self.discarded.clear()
            self.requests.clear()
            self.script.clear()
        self.reject_above_bytes = None
        self.poison = None
        self.delay = 0.0

    # --- the protocol ------------------------------------------------------
    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:  # noqa: PLR0911 - one return per intake answer
        """Answer one intake request: (status, headers, body). Thread-safe."""
        with self.lock:
            fault = self.script.popleft() if self.script else None
        delay = self.delay + (fault.delay if fault else 0.0)
        if delay:
            time.sleep(delay)
        key = headers.get("dd-api-key", "")
        key_ok = bool(key) and (self.api_keys is None or key in self.api_keys)
        if fault is not None:
            self._log(fault.status, 0, len(body), len(body), key_ok)
            return fault.status, dict(fault.headers), b'{"errors":["injected"]}'
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


def _handler_for(emulator: IntakeEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real intake
        # Headers and body go out in two writes; without this, Nagle's algorithm
        # holds the body for the client's delayed ACK (about 40 ms per request).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Stay quiet: tests and demos print what matters themselves."""

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path.split("?")[0] == "/logship/faults":
                self._configure(body)
                return
            if self.path.split("?")[0] != INTAKE_PATH:
                self._reply(404, {}, b'{"errors":["not found"]}')
                return
            status, headers, answer = emulator.handle({k.lower(): v for k, v in self.headers.items()}, body)
            if status == 0:
                self.close_connection = True
                self.connection.close()
                return
            self._reply(status, headers, answer)

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/logship/entries":
                with emulator.lock:
                    body = orjson.dumps(emulator.entries)
                self._reply(200, {}, body)
            elif self.path.split("?")[0] == "/logship/requests":
                with emulator.lock:
                    body = orjson.dumps([dataclasses.asdict(r) for r in emulator.requests])
                self._reply(200, {}, body)
            else:
                self._reply(404, {}, b'{"errors":["not found"]}')

        def do_DELETE(self) -> None:
            emulator.reset()
            self._reply(200, {}, b"{}")

        def _configure(self, body: bytes) -> None:
            """``POST /logship/faults``: statuses, retry_after, delay, poison, reject_above_bytes."""
            doc = orjson.loads(body or b"{}")
            emulator.fail_next(*doc.get("statuses", []), retry_after=doc.get("retry_after"))
            if "delay" in doc:
                emulator.delay = float(doc["delay"])
            if "poison" in doc:
                emulator.poison = doc["poison"]
            if "reject_above_bytes" in doc:
                emulator.reject_above_bytes = doc["reject_above_bytes"]
            self._reply(200, {}, b"{}")

    return Handler
