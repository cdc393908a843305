"""One HTTP/1.1 POST and its answer on a connected socket, in as few Python steps as the usual answer allows.

The logs sender posts hundreds of requests per invocation from worker
threads, and every Python step of a request holds the interpreter lock the
main thread needs. ``http.client`` writes a request in two sends after a
``putheader`` call per header, and parses every answer's headers with the
``email`` package. A whole post of 30 kB through the logs transport took
134-145 us of CPU that way, and takes 64-65 us here, the socket calls
included (``docs/benchmarks.md``).

The request is written as ``http.client`` writes it (the same request line,
``Host``, ``Accept-Encoding: identity`` and ``Content-Length`` headers, the
same checks of header names and values), in one send. The answer is read
here only in its usual shape: an ``HTTP/1.1`` status line with a final
status, header lines of a token, a colon and a value, and a body framed by a
single ``Content-Length``. Anything else (an interim ``1xx`` answer,
``Transfer-Encoding``, an ``HTTP/1.0`` answer, a body up to the close, a head
longer than 64 KiB or a line this reader does not take) is handed to
``http.client`` with the bytes already read, so its parser and errors decide.
Property tests hold both paths to ``http.client``'s reading of the same bytes.
"""

from __future__ import annotations

import functools
import http.client
import io
import re
from collections.abc import Mapping
from typing import Protocol

# What the fast path reads: a status line with a final status, then field lines of a token name
# (RFC 9112 sections 4 and 5), each ended by CR LF.
_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([2-9][0-9][0-9])(?: [^\r\n]*)?\r\n")
_FIELD_LINES = re.compile(rb"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n]*\r\n)*")
_FIELD_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)\r\n")
# http.client takes at most 100 lines after the status line, the empty line that ends the head
# included (its _MAXHEADERS), each of at most 64 KiB.
_MAX_HEADER_LINES = 100
# http.client's own checks of what a request's head may hold (CPython's Lib/http/client.py).
_LEGAL_NAME = re.compile(rb"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])").search
_ILLEGAL_PATH = re.compile("[\x00-\x20\x7f]").search
# http.client reads a line of at most 64 KiB; a longer head goes to it, to be read or refused in its words.
_MAX_HEAD_BYTES = 65_536
_RECV_BYTES = 65_536
# Answers whose body is empty whatever their headers say (RFC 9110 section 6.4.1).
_BODILESS = frozenset({204, 304})


class Connected(Protocol):
    """What the exchange needs of a connected socket (:class:`socket.socket`, :class:`ssl.SSLSocket`)."""

    def sendall(self, data: bytes, /) -> None: ...

    def recv(self, bufsize: int, /) -> bytes: ...

    def recv_into(self, buffer: memoryview, /) -> int: ...


def request_head(connection: http.client.HTTPConnection, path: str, headers: Mapping[str, str], length: int) -> bytes:
    """The head of a POST of ``length`` bytes to ``path`` on ``connection``'s host, as http.client writes it.

    Raises ValueError for a header name or value, and
    ``http.client.InvalidURL`` for a path, that http.client refuses to send
    (a control character, a line break), before anything is sent.
    """
    before, after = _head(connection.host, connection.port, connection.default_port, path, tuple(headers.items()))
    return b"%s%d\r\n%s" % (before, length, after)


def exchange(sock: Connected, head: bytes, body: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Send ``head`` and ``body`` in one write and read the answer: the status, headers, body and will-close.

    Header names come back lower-cased (the last of repeated ones). The
    fourth item is True when the connection cannot carry another request
    (the server said ``Connection: close``, bytes followed the body, or the
    body ran to the close). Raises ``OSError`` (``TimeoutError`` after the
    socket's timeout) and ``http.client.HTTPException`` as ``http.client`` would.
    """
    sock.sendall(head + body)
    return read_answer(sock)


@functools.lru_cache(maxsize=16)
def _head(
    host: str, port: int, default_port: int, path: str, headers: tuple[tuple[str, str], ...]
) -> tuple[bytes, bytes]:
    """The request's head up to the ``Content-Length`` value, and what follows it (as http.client builds both)."""
    if _ILLEGAL_PATH(path):
        raise http.client.InvalidURL(f"URL can't contain control characters. {path!r}")
    given = {name.lower() for name, _ in headers}
    lines = [b"POST " + path.encode("ascii") + b" HTTP/1.1"]
    if "host" not in given:
        try:
            encoded = host.encode("ascii")
        except UnicodeEncodeError:
            encoded = host.encode("idna")
        if ":" in host:  # an IPv6 address
            encoded = b"[" + encoded + b"]"
        lines.append(b"Host: " + (encoded if port == default_port else b"%s:%d" % (encoded, port)))
    if "accept-encoding" not in given:
        lines.append(b"Accept-Encoding: identity")
    fields = []
    for name, value in headers:
        raw_name, raw_value = name.encode("ascii"), str(value).encode("latin-1")
        if not _LEGAL_NAME(raw_name):
            raise ValueError(f"Invalid header name {raw_name!r}")
        if _ILLEGAL_VALUE(raw_value):
            raise ValueError(f"Invalid header value {raw_value!r}")
        if name.lower() in {"content-length", "transfer-encoding"}:
            raise ValueError(f"{name} is set from the body")
        fields.append(raw_name + b": " + raw_value + b"\r\n")
    lines.append(b"Content-Length: ")
    return b"\r\n".join(lines), b"".join(fields) + b"\r\n"


def read_answer(sock: Connected) -> tuple[int, dict[str, str], bytes, bool]:
    """Read one answer from ``sock``: the status, lower-cased headers, body, and whether the connection must close.

    Raises ``http.client.RemoteDisconnected`` when the connection closes
    before an answer, ``http.client.IncompleteRead`` when it closes inside
    the body, and whatever ``http.client`` raises for an answer it refuses.
    """
    data = sock.recv(_RECV_BYTES)
    if not data:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    data, status, end = _read_head(sock, data)
    if not status:
        return _by_http_client(data, sock)
    pairs = [(name.lower(), value) for name, value in _FIELD_LINE.findall(data, data.find(b"\n") + 1, end)]
    lengths = [value for name, value in pairs if name == b"content-length"]
    framed = len(lengths) == 1 and lengths[0].isdigit() and not any(name == b"transfer-encoding" for name, _ in pairs)
    if status in _BODILESS or not framed:
        return _by_http_client(data, sock)
    length = int(lengths[0])
    body = data[end + 2 :]
    if len(body) < length:
        parts, have = [body], len(body)
        while have < length:
            more = sock.recv(min(length - have, _RECV_BYTES))
            if not more:
                raise http.client.IncompleteRead(b"".join(parts), length - have)
            parts.append(more)
            have += len(more)
        body = b"".join(parts)
    connection = next((value for name, value in pairs if name == b"connection"), b"")
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in pairs}
    # Bytes past the body break the framing of whatever follows: the connection is not used again.
    return status, headers, body[:length], len(body) > length or b"close" in connection.lower()


def _read_head(sock: Connected, data: bytes) -> tuple[bytes, int, int]:
    """The bytes read, the status and where the empty line after the head starts; status 0 for another head.

    The head is checked as its lines arrive, each line once (a head in small
    pieces costs no more than one in a piece): the status line, then field
    lines up to the empty line. A line outside that grammar, a head over
    http.client's limits or a close inside the head stops the reading at once:
    status 0, for http.client to read on or refuse.
    """
    buffer: bytearray | None = None  # the bytes read when the head came in more than one piece
    checked = fields = status = 0  # how far the lines are the usual head's; how many field lines
    lines_end = searched = 0  # where the lines read whole end; how far that was searched
    while True:
        read = data if buffer is None else buffer
        lines_end = max(lines_end, read.rfind(b"\n", searched) + 1)
        searched = len(read)
        if not checked and lines_end:
            status_line = _STATUS_LINE.match(read, 0, lines_end)
            if status_line is None:
                return bytes(read), 0, 0
            status, checked = int(status_line[1]), status_line.end()
        if checked:
            fields_end = _FIELD_LINES.match(read, checked, lines_end).end()  # type: ignore[union-attr]
            fields += read.count(b"\n", checked, fields_end)
            checked = fields_end
            complete = read.startswith(b"\r\n", checked)  # the empty line
            if (checked < lines_end and not complete) or fields + complete > _MAX_HEADER_LINES:
                return bytes(read), 0, 0
            if complete:
                return bytes(read), (status if checked <= _MAX_HEAD_BYTES else 0), checked
        more = sock.recv(_RECV_BYTES) if len(read) <= _MAX_HEAD_BYTES else b""
        if not more:  # closed inside the head, or a line longer than http.client takes
            return bytes(read), 0, 0
        if buffer is None:
            buffer = bytearray(data)
        buffer += more


def _by_http_client(read: bytes, sock: Connected) -> tuple[int, dict[str, str], bytes, bool]:
    """The answer as ``http.client`` reads it, from the bytes already read and then the socket."""
    response = http.client.HTTPResponse(_Replay(read, sock), method="POST")  # type: ignore[arg-type]
    try:
        response.begin()
        body = response.read()
    finally:
        response.close()
    headers = {name.lower(): value for name, value in response.getheaders()}
    return response.status, headers, body, bool(response.will_close)


class _Replay:
    """A socket for ``http.client.HTTPResponse``: the bytes already read, then the socket's."""

    def __init__(self, read: bytes, sock: Connected) -> None:
        self._raw = _ReplayIO(read, sock)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self._raw)


class _ReplayIO(io.RawIOBase):
    def __init__(self, read: bytes, sock: Connected) -> None:
        super().__init__()
        self._read = memoryview(read)
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._read:
            count = min(len(buffer), len(self._read))
            buffer[:count] = self._read[:count]
            self._read = self._read[count:]
            return count
        return self._sock.recv_into(buffer)
