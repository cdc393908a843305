"""The logs transport's HTTP/1.1 exchange reads and writes what http.client would, byte for byte.

Pure functions over a socket's bytes: the answers arrive cut at arbitrary
points, as TCP may deliver them, and http.client's reading of the same bytes
is the oracle. The exchange over real sockets is tests/test_transport.py's.
"""

from __future__ import annotations

import http.client
import io
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship import _http11

TOKEN = "!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"


class Cut(io.RawIOBase):
    """A socket's receiving side that gives back ``data`` in the pieces ``cuts`` make, then the close.

    ``kept_open``: after ``data``, reading times out, as on a kept-alive connection with nothing more to read.
    """

    def __init__(self, data: bytes, cuts: list[int], *, kept_open: bool = False) -> None:
        super().__init__()
        self.kept_open = kept_open
        bounds = sorted({0, len(data), *(cut for cut in cuts if 0 < cut < len(data))})
        self.pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
        self.sent = b""

    def readable(self) -> bool:
        return True

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            if self.kept_open:
                raise TimeoutError("timed out")
            return b""
        piece = self.pieces[0][:size]
        self.pieces[0] = self.pieces[0][size:]
        if not self.pieces[0]:
            self.pieces.pop(0)
        return piece

    def recv_into(self, buffer: Any) -> int:
        piece = self.recv(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)

    def readinto(self, buffer: Any) -> int:
        return self.recv_into(buffer)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self)

    def sendall(self, data: bytes) -> None:
        self.sent += data


def outcome(read: Any) -> tuple[Any, ...]:
    try:
        return ("answer", *read())
    except (http.client.HTTPException, OSError) as err:
        return ("error", type(err).__name__)


def by_http_client(data: bytes, cuts: list[int], *, kept_open: bool = False) -> tuple[Any, ...]:
    def read() -> tuple[Any, ...]:
        response = http.client.HTTPResponse(Cut(data, cuts, kept_open=kept_open), method="POST")  # type: ignore[arg-type]
        response.begin()
        body = response.read()
        return (
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            body,
            response.will_close,
        )

    return outcome(read)


def by_exchange(data: bytes, cuts: list[int], *, kept_open: bool = False) -> tuple[Any, ...]:
    return outcome(lambda: _http11.read_answer(Cut(data, cuts, kept_open=kept_open)))


names = st.one_of(
    st.text(TOKEN, min_size=1, max_size=12),
    st.sampled_from(["Content-Length", "content-length", "Connection", "Transfer-Encoding", "Retry-After"]),
    st.text(TOKEN + ' :"\t\x7f', min_size=0, max_size=8),  # some no token
)
values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=20),
    st.sampled_from(["close", "keep-alive", "Close", "chunked", "2", " 2", "2 ", "-1", "12x", ""]),
    st.text(st.characters(max_codepoint=0xFF), max_size=6),  # control bytes too
)


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """An answer as servers write them, and as they should not: odd lines, framings, truncations."""
    newline = draw(st.sampled_from([b"\r\n"] * 9 + [b"\n"]))
    interim = draw(st.sampled_from([b"", b"", b"", b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early\r\n\r\n"]))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 6 + [b"HTTP/1.0", b"HTTP/2", b"ICY", b"http/1.1"]))
    status = draw(st.one_of(st.sampled_from([200, 202, 204, 304, 400, 403, 413, 429, 500, 503]), st.integers(0, 1200)))
    reason = draw(st.sampled_from([b" Accepted", b"", b" ", b"  Odd reason", b" \x85x"]))
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "length", "chunked", "close", "none"]))
    fields = [(draw(names).encode("latin-1"), draw(values).encode("latin-1")) for _ in range(draw(st.integers(0, 6)))]
    if framing == "length":
        fields.insert(draw(st.integers(0, len(fields))), (b"Content-Length", str(len(body)).encode()))
    elif framing == "chunked":
        fields.append((b"Transfer-Encoding", b"chunked"))
        sizes = draw(st.lists(st.integers(1, 64), max_size=6))
        chunks, rest = [], body
        for size in sizes:
            if rest:
                chunks.append(b"%x\r\n%s\r\n" % (len(rest[:size]), rest[:size]))
                rest = rest[size:]
        if rest:
            chunks.append(b"%x\r\n%s\r\n" % (len(rest), rest))
        body = b"".join(chunks) + b"0\r\n\r\n"
    separator = draw(st.sampled_from([b": ", b":", b":\t ", b" : "]))
    head = version + b" %d" % status + reason + newline
    head += b"".join(name + separator + value + newline for name, value in fields) + newline
    data = interim + head + body
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:  # the server closes early
        data = data[: draw(st.integers(0, len(data)))]
    return data


@given(answers(), st.lists(st.integers(0, 600), max_size=8), st.booleans())
def test_an_answer_reads_as_http_client_reads_it_however_it_is_cut(
    data: bytes, cuts: list[int], kept_open: bool
) -> None:
    ours, theirs = by_exchange(data, cuts, kept_open=kept_open), by_http_client(data, cuts, kept_open=kept_open)
    if ours[0] == theirs[0] == "answer" and ours[4] != theirs[4]:
        # The one difference allowed: bytes after the body mean the connection is not used again.
        assert ours[4] and len(data.partition(b"\r\n\r\n")[2]) > len(ours[3])
        ours = (*ours[:4], theirs[4])
    assert ours == theirs


@given(
    st.sampled_from([200, 202, 400, 413, 429, 503]),
    st.lists(st.tuples(st.text(TOKEN, min_size=1, max_size=10), st.text(" abc,;=/0123", max_size=12)), max_size=5),
    st.binary(max_size=5000),
    st.lists(st.integers(0, 6000), max_size=6),
)
def test_the_usual_answer_is_read_without_http_client(
    status: int, fields: list[tuple[str, str]], body: bytes, cuts: list[int]
) -> None:
    """HTTP/1.1, token names, one Content-Length: read here, with http.client's result."""
    fields = [(name, value) for name, value in fields if name.lower() not in {"content-length", "transfer-encoding"}]
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields)
    data = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    handed_over = []
    original = _http11._by_http_client

    def spy(read: bytes, sock: Any) -> Any:
        handed_over.append(read)
        return original(read, sock)

    _http11._by_http_client = spy  # wrapped, not replaced: it still reads the answer
    try:
        ours = by_exchange(data, cuts)
    finally:
        _http11._by_http_client = original
    assert handed_over == []
    assert ours == by_http_client(data, cuts)


@pytest.mark.parametrize("kept_open", [False, True])
@pytest.mark.parametrize(
    "head",
    [
        # With Content-Length and the empty line: 100 lines after the status line, taken; 101, refused.
        b"HTTP/1.1 202 Accepted\r\n" + b"X-A: 1\r\n" * 98,
        b"HTTP/1.1 202 Accepted\r\n" + b"X-A: 1\r\n" * 99,
        b"HTTP/1.1 202 Accepted\r\n" + b"X-A: 1\r\n" * 100,
        b"HTTP/1.1 202 Accepted\r\nX-A: " + b"a" * 65_530 + b"\r\n",  # a line of 64 KiB: taken
        b"HTTP/1.1 202 Accepted\r\nX-A: " + b"a" * 70_000 + b"\r\n",  # longer: refused
        b"HTTP/1.1 202 Accepted\r\n" + b"X-A: " + b"a" * 40_000 + b"\r\n" + b"X-B: " + b"b" * 40_000 + b"\r\n",
    ],
)
def test_http_client_s_limits_on_a_head_hold(head: bytes, kept_open: bool) -> None:
    data = head + b"Content-Length: 2\r\n\r\n{}"
    for cuts in ([len(head)], [len(head) - 8]):  # the head cut short of its end, then the rest (or a timeout)
        assert by_exchange(data, cuts, kept_open=kept_open) == by_http_client(data, cuts, kept_open=kept_open)
        assert by_exchange(head, cuts, kept_open=kept_open) == by_http_client(head, cuts, kept_open=kept_open)
    for cuts in ([], [1000, 65_536, 65_600], list(range(0, len(data), 4096))):
        expected = by_http_client(data, cuts, kept_open=kept_open)
        assert by_exchange(data, cuts, kept_open=kept_open) == expected


def test_bytes_past_the_body_close_the_connection() -> None:
    data = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}extra"
    assert _http11.read_answer(Cut(data, [])) == (202, {"content-length": "2"}, b"{}", True)
    assert _http11.read_answer(Cut(data[:-5], [])) == (202, {"content-length": "2"}, b"{}", False)


def test_a_close_inside_the_body_is_an_incomplete_read() -> None:
    with pytest.raises(http.client.IncompleteRead):
        _http11.read_answer(Cut(b"HTTP/1.1 202 Accepted\r\nContent-Length: 20\r\n\r\n{}", [30]))


def sent_by_http_client(host: str, port: int | None, path: str, headers: dict[str, str], body: bytes) -> bytes:
    connection = http.client.HTTPConnection(host, port)
    sock = Cut(b"", [])
    connection.sock = sock
    connection.request("POST", path, body, headers)
    return sock.sent


header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30)


@given(
    st.sampled_from(["intake.example", "127.0.0.1", "::1", "http-intake.logs.datadoghq.eu", "bücher.example"]),
    st.sampled_from([None, 80, 8080, 443]),
    st.sampled_from(["/api/v2/logs", "/", "/v1/input?ddsource=x&a=%20b"]),
    st.dictionaries(st.text(TOKEN, min_size=1, max_size=12), header_values, max_size=5),
    st.binary(max_size=200),
)
def test_a_request_is_written_as_http_client_writes_it(
    host: str, port: int | None, path: str, headers: dict[str, str], body: bytes
) -> None:
    headers = {name: value for name, value in headers.items() if name.lower() not in {"content-length", "host"}}
    expected = sent_by_http_client(host, port, path, headers, body)
    connection = http.client.HTTPConnection(host, port)
    sock = Cut(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}", [])
    head = _http11.request_head(connection, path, headers, len(body))
    assert _http11.exchange(sock, head, body) == (202, {"content-length": "2"}, b"{}", False)
    assert sock.sent == expected


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"DD-API-KEY": "abc\r\nX-Injected: 1"}, "/api/v2/logs"),
        ({"Bad:Name": "1"}, "/api/v2/logs"),
        ({"DD-API-KEY": "abc"}, "/api/v2/logs HTTP/1.1\r\nX: y"),
    ],
)
def test_what_http_client_refuses_to_send_has_no_head(headers: dict[str, str], path: str) -> None:
    """A line break in a header or the path, or a colon in a name: refused as http.client refuses it."""
    with pytest.raises((ValueError, http.client.InvalidURL)):
        sent_by_http_client("intake.example", None, path, headers, b"{}")
    with pytest.raises((ValueError, http.client.InvalidURL)):
        _http11.request_head(http.client.HTTPConnection("intake.example"), path, headers, 2)
