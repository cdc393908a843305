"""Datadog delivery: HTTP intake v2 requests, concurrent, with a retry policy per status.

This is the only module that talks to Datadog. Request bodies are built from
already-serialized entries (no model object per log), gzip-compressed, and
sent over pooled keep-alive connections by a few threads. Each status is
classified: 2xx accepted; 408/429/5xx and transport errors retried with
backoff (honouring ``Retry-After`` / ``X-Ratelimit-Reset``) until the
deadline; 413 splits the batch; 400 splits until the rejected entry is
isolated; 401/403 refetch the key once, then stop everything with an
:class:`~logship.errors.AuthError` that names the key's source.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol
from urllib.parse import urlsplit

from logship import _gzip, limits
from logship.datadog.batching import Batcher, payload
from logship.errors import AuthError
from logship.firehose.reingest import backoff_delay

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 425, 429})
# Never hold a thread longer than this between two attempts.
MAX_BACKOFF_SECONDS = 10.0
MAX_ATTEMPTS = 10


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    """Status, headers (lower-cased names) and body of one HTTP response."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""


class Transport(Protocol):
    """Sends one POST; raises ``OSError`` (or ``http.client.HTTPException``) on transport failure."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST ``body`` to ``url``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class _NoDelayHTTPConnection(http.client.HTTPConnection):
    """HTTP with TCP_NODELAY.

    http.client sends headers and body in separate writes; without TCP_NODELAY,
    Nagle's algorithm holds the body until the server's delayed ACK (up to 40 ms
    per request on Linux). urllib3 sets the same option for the same reason.
    """

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _NoDelayHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS with TCP_NODELAY, for the reason given on :class:`_NoDelayHTTPConnection`."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HttpTransport:
    """Keep-alive HTTP(S) connections, one per thread and host, reused across invocations."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()

    def close(self) -> None:
        """Close every connection of every thread."""
        with self._all_lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST over this thread's connection; a stale kept-alive connection is redialled once."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for reuse in (True, False):
            conn, fresh = self._connection(parts.scheme, parts.netloc, timeout, reuse)
            try:
                conn.request("POST", path, body=body, headers=dict(headers))
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(parts.netloc)
                if fresh:
                    raise
                continue  # the server closed an idle connection: dial again once
            except BaseException:
                self._drop(parts.netloc)
                raise
            if response.will_close:
                self._drop(parts.netloc)
            return HttpResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        raise ConnectionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _connection(
        self, scheme: str, netloc: str, timeout: float, reuse: bool
    ) -> tuple[http.client.HTTPConnection, bool]:
        pool: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get(netloc) if reuse else None
        if conn is not None:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, False
        if scheme == "https":
            conn = _NoDelayHTTPSConnection(netloc, timeout=timeout)
        else:
            conn = _NoDelayHTTPConnection(netloc, timeout=timeout)
        pool[netloc] = conn
        with self._all_lock:
            self._all.append(conn)
        return conn, True

    def _drop(self, netloc: str) -> None:
        pool: dict[str, http.client.HTTPConnection] = self._local.__dict__.get("pool", {})
        conn = pool.pop(netloc, None)
        if conn is not None:
            conn.close()
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)


class KeySource(Protocol):
    """Where the API key comes from (see :class:`logship.secrets.ApiKeyProvider`)."""

    source: str

    @property
    def refreshable(self) -> bool:
        """Whether a refetch may give another key."""
        ...

    def get(self) -> str:
        """The current key."""
        ...

    def refresh(self, stale: str) -> str:
        """A freshly fetched key."""
        ...


@dataclasses.dataclass
class DeliveryReport:
    """The outcome of sending entries: every entry is accepted, rejected or undelivered."""

    accepted: int = 0
    rejected: list[tuple[bytes, str]] = dataclasses.field(default_factory=list)
    undelivered: list[bytes] = dataclasses.field(default_factory=list)
    requests: int = 0
    retries: int = 0
    splits: int = 0
    statuses: dict[int, int] = dataclasses.field(default_factory=dict)
    auth_error: str | None = None

    def merge(self, other: DeliveryReport) -> None:
        """Add ``other``'s counts and entries to this report."""
        self.accepted += other.accepted
        self.rejected.extend(other.rejected)
        self.undelivered.extend(other.undelivered)
        self.requests += other.requests
        self.retries += other.retries
        self.splits += other.splits
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.auth_error = self.auth_error or other.auth_error

    @property
    def total(self) -> int:
        """Every entry this report accounts for."""
        return self.accepted + len(self.rejected) + len(self.undelivered)


class DatadogSender:
    """Sends serialized entries to the logs intake; :meth:`send` never raises for Datadog's faults."""

    def __init__(
        self,
        url: str,
        keys: KeySource,
        *,
        transport: Transport | None = None,
        concurrency: int = 4,
        timeout: float = 10.0,
        gzip_level: int = 1,
        max_batch_bytes: int = limits.DATADOG_TARGET_REQUEST_BYTES,
        max_batch_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.keys = keys
        self.transport = transport or HttpTransport()
        self.concurrency = concurrency
        self.timeout = timeout
        self.gzip_level = gzip_level
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_entries = max_batch_entries
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._rng = random.Random()  # noqa: S311 - jitter, not cryptography

    def close(self) -> None:
        """Stop the worker threads and close their connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.transport.close()

    def __enter__(self) -> DatadogSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, *, deadline: float = float("inf")) -> Delivery:
        """Start a delivery that runs until ``deadline`` (monotonic); add entries as they are built."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="logship-dd")
        self._stop.clear()
        return Delivery(self, deadline)

    def send(self, entries: Iterable[bytes], *, deadline: float = float("inf")) -> DeliveryReport:
        """Send every entry, ``concurrency`` requests at a time, until ``deadline`` (monotonic).

        What has not been accepted by the deadline comes back as undelivered.
        """
        delivery = self.open(deadline=deadline)
        delivery.add(entries)
        return delivery.finish()

    def _deliver(self, batch: list[bytes], deadline: float, body: bytes | None = None) -> DeliveryReport:
        """Deliver one batch, splitting on 413 and 400; never raises."""
        report = DeliveryReport()
        stack = [batch]
        while stack:
            part = stack.pop()
            if self._stop.is_set():
                report.undelivered.extend(part)
                continue
            try:
                status = self._post(part, deadline, report, body if part is batch else None)
            except Exception as err:  # noqa: BLE001 - a bug or key-fetch failure must not lose entries
                logger.error("Datadog delivery failed: %s: %s", type(err).__name__, err)
                if isinstance(err, AuthError):  # the key could not be read: name its source
                    report.auth_error = report.auth_error or str(err)
                self._stop.set()
                report.undelivered.extend(part)
                continue
            if status is not None and 200 <= status < 300:
                report.accepted += len(part)
            elif status in (400, 413) and len(part) > 1:
                report.splits += 1
                middle = len(part) // 2
                stack.append(part[middle:])
                stack.append(part[:middle])
            elif status in (400, 413):
                report.rejected.append((part[0], f"HTTP {status}"))
            elif status in (401, 403):
                report.auth_error = (
                    f"Datadog refused the API key (HTTP {status}); the key comes from {self.keys.source}"
                )
                self._stop.set()
                report.undelivered.extend(part)
            else:
                # Out of time or attempts, or a status no retry can fix (404: wrong URL).
                if status is not None:
                    logger.error("Datadog answered HTTP %s; %d entries not delivered", status, len(part))
                report.undelivered.extend(part)
        return report

    def _post(self, part: list[bytes], deadline: float, report: DeliveryReport, raw: bytes | None = None) -> int | None:
        """POST one batch (``raw``: its JSON array, when already joined) with retries.

        Returns the final status, or None when time or attempts ran out.
        """
        body = _gzip.compress(payload(part) if raw is None else raw, self.gzip_level)
        refreshed = False
        attempt = 0
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0 or self._stop.is_set():
                return None
            key = self.keys.get()
            headers = {
                "DD-API-KEY": key,
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": "logship",
            }
            report.requests += 1
            retry_after: float | None = None
            try:
                response = self.transport.post(self.url, body, headers, min(self.timeout, remaining))
            except (OSError, http.client.HTTPException) as err:
                status: int | None = None
                logger.warning("Datadog transport error: %s: %s", type(err).__name__, err)
            else:
                status = response.status
                report.statuses[status] = report.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    return status
                if status in (401, 403):
                    if not refreshed and self.keys.refreshable:
                        refreshed = True
                        self.keys.refresh(key)
                        continue
                    return status
                if status not in RETRYABLE and status < 500:
                    return status
                retry_after = retry_after_seconds(response.headers)
            attempt += 1
            if attempt >= self.max_attempts:
                return None
            delay = (
                retry_after
                if retry_after is not None
                else backoff_delay(attempt, base=0.2, cap=MAX_BACKOFF_SECONDS, rng=self._rng)
            )
            if self.clock() + delay >= deadline:
                return None
            report.retries += 1
            self.sleep(delay)


class Delivery:
    """One run of sending: full batches leave for the worker threads while more entries are added.

    Adding never blocks on Datadog, so the caller (building the S3 response)
    never waits for it; :meth:`finish` waits for the requests and reports.
    """

    def __init__(self, sender: DatadogSender, deadline: float) -> None:
        self._sender = sender
        self._deadline = deadline
        self._batcher = Batcher(max_entries=sender.max_batch_entries, max_bytes=sender.max_batch_bytes)
        self._futures: list[Future[DeliveryReport]] = []
        self._report = DeliveryReport()

    def add(self, entries: Iterable[bytes]) -> None:
        """Queue entries; each batch they fill goes out at once."""
        for batch in self._batcher.add(entries):
            self._dispatch(batch)

    def _dispatch(self, batch: list[bytes]) -> None:
        sender = self._sender
        if sender._stop.is_set() or sender._pool is None:
            self._report.undelivered.extend(batch)
            return
        # The body is joined here, while the entries are still in this core's cache,
        # rather than by a worker that would take the interpreter lock to do it.
        self._futures.append(sender._pool.submit(sender._deliver, batch, self._deadline, payload(batch)))

    def finish(self) -> DeliveryReport:
        """Send what is left, wait for every request, and account for every entry."""
        last = self._batcher.flush()
        if last:
            self._dispatch(last)
        for future in self._futures:
            self._report.merge(future.result())
        self._futures = []
        return self._report


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds) or ``X-Ratelimit-Reset``, capped; None if absent."""
    for name in ("retry-after", "x-ratelimit-reset"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return min(max(float(value), 0.0), MAX_BACKOFF_SECONDS)
        except ValueError:
            continue
    return None
