"""HTTP for every sink (Datadog, Slack): keep-alive connections, the standard proxy variables.

:class:`HttpTransport` uses urllib3's pools: urllib3 ships with botocore, so it
is already in the Lambda runtime; it keeps connections alive per host, sets
``TCP_NODELAY`` (without it, Nagle's algorithm holds a request's body for the
server's delayed ACK, up to 40 ms per request on Linux), and is thread-safe.
:class:`ThreadLocalTransport`, the logs intake's, keeps one ``http.client``
connection per worker thread and host, and writes each request and reads the
usual answer in the fewest Python steps (:mod:`logship._http11`): the sink
sends hundreds of requests per invocation. Proxies come from
``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` as :mod:`urllib.request` reads
them, as ``requests`` and the AWS SDK do. Neither imports its HTTP library
before the first request.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from logship.errors import TransportError

if TYPE_CHECKING:  # imported at the first request, as urllib3 is: the handler's import stays small
    import http.client
    import socket
    import ssl


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    """Status, headers (lower-cased names) and body of one HTTP response."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""


class Transport(Protocol):
    """Sends one request; raises :class:`~logship.errors.TransportError` when no answer came."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST ``body`` to ``url``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class HttpTransport:
    """Keep-alive HTTP(S) connections, ``maxsize`` per host, reused across invocations.

    Never retries or follows redirects itself: the caller's retry policy
    decides. A failure without an answer (refused, reset, timed out, name not
    resolved) raises :class:`~logship.errors.TransportError` naming the host
    (and port, when the URL gives one).
    """

    def __init__(self, *, maxsize: int = 4, proxies: Mapping[str, str] | None = None) -> None:
        self.maxsize = maxsize
        self._proxies: dict[str, str] | None = dict(proxies) if proxies is not None else None
        self._managers: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            managers, self._managers = self._managers, {}
        for manager in managers.values():
            manager.clear()

    def request(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> HttpResponse:
        """Send one request and read the whole answer."""
        import urllib3

        parts = urlsplit(url)
        host = parts.hostname or url
        where = parts.netloc.rpartition("@")[2] or url  # host:port, as the error names it
        try:
            response = self._manager(parts.scheme, host).request(
                method,
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as err:
            raise TransportError(where, describe_failure(err)) from err
        return HttpResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, response.data)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST ``body`` to ``url``."""
        return self.request("POST", url, body, headers, timeout)

    def _manager(self, scheme: str, host: str) -> Any:
        if self._proxies is None:
            import urllib.request  # at the first request: it imports much of the standard library

            self._proxies = urllib.request.getproxies()
        proxy = self._proxies.get(scheme)
        if proxy and _bypassed(host, self._proxies):
            proxy = None
        manager = self._managers.get(proxy)
        if manager is None:
            import urllib3

            with self._lock:
                manager = self._managers.get(proxy)
                if manager is None:
                    if proxy:
                        manager = urllib3.ProxyManager(proxy, maxsize=self.maxsize, block=False)
                    else:
                        manager = urllib3.PoolManager(maxsize=self.maxsize, block=False)
                    self._managers[proxy] = manager
        return manager


def _bypassed(host: str, proxies: Mapping[str, str]) -> bool:
    """Whether ``NO_PROXY`` (``proxies["no"]``) exempts ``host``, as :mod:`urllib.request` decides."""
    no_proxy = proxies.get("no")
    if not no_proxy:
        return False
    import urllib.request

    # The function urllib.request.proxy_bypass uses on Linux; typeshed does not list it.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(host, {"no": no_proxy}))


def describe_failure(err: Exception) -> str:
    """What went wrong, in a few words a person can act on (the host is named by the caller).

    ``connection refused``, ``name not resolved``, ``cannot connect: ...``,
    ``timed out`` or ``connection lost: ...``. In urllib3 2 a failed connection
    (NewConnectionError, NameResolutionError) is also a ConnectTimeoutError, so
    those are told apart before any timeout.
    """
    import urllib3

    reason = getattr(err, "reason", None) or err
    text = str(reason)
    # NameResolutionError is urllib3 2's; the Lambda runtime may bring urllib3 1.26.
    name_errors = getattr(urllib3.exceptions, "NameResolutionError", ())
    if isinstance(reason, name_errors) or "Name or service not known" in text or "getaddrinfo" in text:
        return "name not resolved"
    if "Connection refused" in text or isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "cannot connect: " + text.rpartition("Failed to establish a new connection: ")[2]
    if isinstance(err, urllib3.exceptions.TimeoutError) or isinstance(reason, urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(err, urllib3.exceptions.ProtocolError):
        return f"connection lost: {text}"
    return f"{type(reason).__name__}: {text}"


# OpenSSL's reasons when the other end answered a TLS hello with something else (plain HTTP).
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"})


class ThreadLocalTransport:
    """Keep-alive HTTP(S) with one standard-library connection per thread and host, for the logs intake.

    The logs sender posts hundreds of requests per invocation from a few
    worker threads, and every Python step of a request holds the interpreter
    lock the main thread needs to build entries. ``http.client`` opens each
    connection (TCP, ``TCP_NODELAY``, TLS); the request is written in one send
    and the usual answer (HTTP/1.1, a ``Content-Length`` body) read by
    :mod:`logship._http11`, in half the CPU of ``http.client``'s
    request and parse, and any other answer by ``http.client`` itself
    (``docs/benchmarks.md``). Each worker thread keeps its own connection per
    host, so none is shared or locked. TLS verifies the server with the
    system's certificates (:func:`ssl.create_default_context`).

    The contract is :class:`HttpTransport`'s: never retries or follows
    redirects; a failure without an answer raises
    :class:`~logship.errors.TransportError` naming the host. A connection
    idle for :data:`IDLE_CHECK_SECONDS` is checked before use and replaced if
    the server closed it. Requests through a proxy (``HTTPS_PROXY`` /
    ``HTTP_PROXY``, ``NO_PROXY``) go to an :class:`HttpTransport`, which
    speaks to proxies.
    """

    #: A connection unused this long is checked for a close by the server before it is used again.
    IDLE_CHECK_SECONDS = 1.0

    def __init__(self, *, proxies: Mapping[str, str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        """Proxies, and the TLS context HTTPS connections verify servers with.

        ``proxies`` as :func:`urllib.request.getproxies` gives them (read at
        the first request when None); ``tls`` defaults to the system's
        certificates (:func:`ssl.create_default_context`).
        """
        self._proxies: dict[str, str] | None = dict(proxies) if proxies is not None else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()
        self._proxied: HttpTransport | None = None
        self._tls = tls

    def close(self) -> None:
        """Close every thread's connections (a thread's next request opens a new one)."""
        with self._lock:
            connections, self._open = self._open, set()
            proxied, self._proxied = self._proxied, None
        for connection in connections:
            connection.close()
        if proxied is not None:
            proxied.close()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST ``body`` to ``url`` and read the whole answer."""
        import http.client

        from logship import _http11

        target = _target(url)
        if self._proxy_applies(target.key[0], target.key[1]):
            return self._via_proxy().post(url, body, headers, timeout)
        key, where = target.key, target.where
        connection = self._connection(key, timeout)
        # What http.client refuses to send (ValueError, InvalidURL) is refused before any connecting.
        head = _http11.request_head(connection, target.path, headers, len(body))
        try:
            if connection.sock is None:
                connection.connect()
            status, answer_headers, data, will_close = _http11.exchange(connection.sock, head, body)
        except (OSError, http.client.HTTPException) as err:
            self._drop(key, connection)
            raise TransportError(where, describe_socket_failure(err)) from err
        if will_close:
            self._drop(key, connection)
        else:
            self._local.used[key] = time.monotonic()
        return HttpResponse(status, answer_headers, data)

    def _connection(self, key: tuple[str, str, int | None], timeout: float) -> http.client.HTTPConnection:
        """The calling thread's connection to ``key``'s host, opened when there is none (or the server closed it)."""
        import http.client
        import ssl

        local = self._local
        if not hasattr(local, "connections"):
            local.connections, local.used = {}, {}
        connection: http.client.HTTPConnection | None = local.connections.get(key)
        if connection is not None:
            idle = time.monotonic() - local.used.get(key, 0.0)
            if connection.sock is None or (idle > self.IDLE_CHECK_SECONDS and _closed_by_server(connection.sock)):
                self._drop(key, connection)
                connection = None
        if connection is None:
            scheme, host, port = key
            if scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
            else:
                connection = http.client.HTTPConnection(host, port, timeout=timeout)
            local.connections[key] = connection
            with self._lock:
                self._open.add(connection)
        connection.timeout = timeout  # each connect, write and read
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def _drop(self, key: tuple[str, str, int | None], connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connections.pop(key, None)
        with self._lock:
            self._open.discard(connection)

    def _proxy_applies(self, scheme: str, host: str) -> bool:
        if self._proxies is None:
            import urllib.request  # at the first request: it imports much of the standard library

            self._proxies = urllib.request.getproxies()
        return bool(self._proxies.get(scheme)) and not _bypassed(host, self._proxies)

    def _via_proxy(self) -> HttpTransport:
        with self._lock:
            if self._proxied is None:
                self._proxied = HttpTransport(proxies=self._proxies)
            return self._proxied


# Each scheme's port when a URL names none (RFC 9110 sections 4.2.1 and 4.2.2).
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    """What a request needs of its URL: the connection's key (scheme, host, port), host:port for errors, the path.

    The key's port is the scheme's when the URL names none (``http://h/`` and
    ``http://h:80/`` share a connection), so http.client is always given one:
    left to find it in the host, it would read a bare IPv6 address's last
    group as the port.
    """

    key: tuple[str, str, int | None]
    where: str
    path: str


@functools.lru_cache(maxsize=64)
def _target(url: str) -> _Target:
    """``url`` taken apart once (the logs sender posts to one URL hundreds of times per invocation).

    Raises ValueError for a port that is not a number, as :func:`urllib.parse.urlsplit` does.
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    # host:port, as the error names it
    return _Target((parts.scheme, parts.hostname or url, port), parts.netloc.rpartition("@")[2] or url, path)


def _closed_by_server(sock: socket.socket) -> bool:
    """True when an idle kept-alive connection has something to read: the server's close (or stray bytes)."""
    import select

    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def describe_socket_failure(err: BaseException) -> str:
    """:func:`describe_failure` for the standard library's errors (``socket``, ``ssl``, ``http.client``)."""
    import http.client
    import socket
    import ssl

    plain: tuple[tuple[type[BaseException], str], ...] = (
        (socket.gaierror, "name not resolved"),
        (ConnectionRefusedError, "connection refused"),
        (TimeoutError, "timed out"),
    )
    for kind, words in plain:
        if isinstance(err, kind):
            return words
    if isinstance(err, ssl.SSLError | ssl.CertificateError):
        reason = getattr(err, "reason", None)
        if reason in _NOT_TLS_REASONS:
            return f"cannot connect: the server does not speak TLS ({reason}); for a plain-HTTP endpoint write http://"
        return f"cannot connect: {err}"
    if isinstance(err, ConnectionError | http.client.HTTPException):
        return f"connection lost: {err!r}" if not str(err) else f"connection lost: {err}"
    return f"{type(err).__name__}: {err}"
