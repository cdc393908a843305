"""HTTP for every sink (Datadog, Slack): urllib3's keep-alive pools, the standard proxy variables.

urllib3 ships with botocore, so it is already in the Lambda runtime; it keeps
connections alive per host, sets ``TCP_NODELAY`` (without it, Nagle's
algorithm holds a request's body for the server's delayed ACK, up to 40 ms per
request on Linux), and is thread-safe. Proxies come from ``HTTPS_PROXY`` /
``HTTP_PROXY`` / ``NO_PROXY`` as :mod:`urllib.request` reads them, as
``requests`` and the AWS SDK do. urllib3 is imported at the first request, not
at import time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from logship.errors import TransportError


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
