"""The logs intake's transport: one kept-alive connection per thread and host, every failure a TransportError."""

from __future__ import annotations

import datetime
import http.client
import http.server
import ipaddress
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from logship.errors import TransportError
from logship.testing.emulator import IntakeEmulator
from logship.transport import ThreadLocalTransport, _target

HEADERS = {"DD-API-KEY": "k", "Content-Type": "application/json"}


def test_requests_of_one_thread_share_one_connection_with_nagle_off(intake: IntakeEmulator) -> None:
    """A thread's requests reuse one kept-alive connection, with TCP_NODELAY so bodies are not held back."""
    transport = ThreadLocalTransport()
    try:
        for _ in range(3):
            assert transport.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202
        assert intake.connections == 1
        [connection] = transport._local.connections.values()
        assert connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        transport.close()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v2/logs", {"DD-API-KEY": "k\r\nX-Injected: 1"}),
        ("/api/v2/logs", {"Bad:Name": "1"}),
        ("/api/v2/logs", {"Transfer-Encoding": "chunked"}),
        ("/api/v2/l ogs", HEADERS),
        ("/api/v2/l\x7fogs", HEADERS),
    ],
)
def test_a_request_http_client_would_refuse_is_refused_before_anything_is_sent(
    intake: IntakeEmulator, path: str, headers: dict[str, str]
) -> None:
    """A value error, not a transport failure to retry; the kept-alive connection is kept, nothing more is sent."""
    transport = ThreadLocalTransport()
    try:
        assert transport.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202
        url = intake.intake_url.replace("/api/v2/logs", path)
        with pytest.raises((ValueError, http.client.InvalidURL)):
            transport.post(url, b"[]", headers, 5.0)
        assert transport.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202
        assert (len(intake.requests), intake.connections) == (2, 1)
    finally:
        transport.close()


def test_a_url_without_a_port_connects_to_the_scheme_s_port_ipv6_included() -> None:
    """http://[::1]/ is port 80 of ::1, not port 1 of "::" (as http.client would read a bare IPv6 address)."""
    transport = ThreadLocalTransport(proxies={})
    for url, port in (("http://[::1]/api/v2/logs", 80), ("https://[::1]/api/v2/logs", 443), ("http://a.example/", 80)):
        target = _target(url)
        connection = transport._connection(target.key, 1.0)
        assert (connection.host, connection.port) == (target.key[1], port)
    transport.close()


def test_each_thread_has_its_own_connection_and_close_ends_them_all(intake: IntakeEmulator) -> None:
    """Worker threads never share a connection; close() closes every thread's, and the next request reconnects."""
    transport = ThreadLocalTransport()
    barrier = threading.Barrier(3)

    def worker() -> None:
        barrier.wait()
        for _ in range(2):
            assert transport.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert intake.connections == 3
    transport.close()
    assert transport.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202
    assert intake.connections == 4
    transport.close()


def test_answers_come_whole_with_lower_cased_headers(intake: IntakeEmulator) -> None:
    """Status, headers (names lower-cased, as the retry policy reads Retry-After) and body are the server's."""
    intake.fail_next(429, retry_after=7)
    transport = ThreadLocalTransport()
    try:
        answer = transport.post(intake.intake_url, b"[]", HEADERS, 5.0)
        assert answer.status == 429
        assert answer.headers["retry-after"] == "7"
        assert answer.body == b'{"errors":["injected"]}'
    finally:
        transport.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_names_the_host_and_port() -> None:
    """Nothing listening: TransportError '<host>:<port>: connection refused'."""
    port = _closed_port()
    transport = ThreadLocalTransport()
    with pytest.raises(TransportError, match=rf"^127\.0\.0\.1:{port}: connection refused$"):
        transport.post(f"http://127.0.0.1:{port}/api/v2/logs", b"[]", HEADERS, 2.0)


def test_an_answer_slower_than_the_timeout_is_timed_out(intake: IntakeEmulator) -> None:
    """No answer within the timeout: TransportError 'timed out', and the connection is not reused."""
    intake.accept_late(1.0)
    transport = ThreadLocalTransport()
    try:
        with pytest.raises(TransportError, match=r": timed out$"):
            transport.post(intake.intake_url, b"[]", HEADERS, 0.2)
        assert transport.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202
        assert intake.connections == 2
    finally:
        transport.close()


def test_a_dropped_connection_is_a_transport_error_and_the_next_request_reconnects(intake: IntakeEmulator) -> None:
    """The server drops the connection mid-request: 'connection lost', then a fresh connection serves the next."""
    intake.fail_next(0)
    transport = ThreadLocalTransport()
    try:
        with pytest.raises(TransportError, match=r": connection lost"):
            transport.post(intake.intake_url, b"[]", HEADERS, 5.0)
        assert transport.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202
    finally:
        transport.close()


class _OneAnswerThenClose(socketserver.BaseRequestHandler):
    """Answers one request as keep-alive, then closes the connection as a server whose idle timeout passed."""

    def handle(self) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            received += self.request.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        while len(body) < length:
            body += self.request.recv(65536)
        self.server.answered += 1  # type: ignore[attr-defined]  # counted before the client can read the answer
        self.request.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")


@pytest.fixture
def closing_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _OneAnswerThenClose)
    server.daemon_threads = True
    server.answered = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_connection_the_server_closed_while_idle_is_replaced_before_use(
    closing_server: socketserver.ThreadingTCPServer,
) -> None:
    """A kept-alive connection idle past the check, closed by the server meanwhile, is replaced: no error."""
    import time

    url = f"http://127.0.0.1:{closing_server.server_address[1]}/api/v2/logs"
    transport = ThreadLocalTransport()
    transport.IDLE_CHECK_SECONDS = 0.05
    try:
        assert transport.post(url, b"[1]", HEADERS, 5.0).status == 202
        time.sleep(0.2)  # the server has closed its end by now
        assert transport.post(url, b"[2]", HEADERS, 5.0).status == 202
        assert closing_server.answered == 2  # type: ignore[attr-defined]
    finally:
        transport.close()


def test_a_proxy_carries_the_request_unless_no_proxy_exempts_the_host(intake: IntakeEmulator) -> None:
    """With a proxy for the scheme, requests go through it (here none listens); NO_PROXY hosts are reached directly."""
    port = _closed_port()
    proxied = ThreadLocalTransport(proxies={"http": f"http://127.0.0.1:{port}"})
    with pytest.raises(TransportError, match="connection refused"):
        proxied.post(intake.intake_url, b"[]", HEADERS, 2.0)
    proxied.close()
    exempt = ThreadLocalTransport(proxies={"http": f"http://127.0.0.1:{port}", "no": "127.0.0.1"})
    try:
        assert exempt.post(intake.intake_url, b"[]", HEADERS, 5.0).status == 202
    finally:
        exempt.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, and the key: a server no default trust store trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Accepting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""


def test_tls_verifies_the_server_against_the_trusted_certificates(tmp_path: Path) -> None:
    """HTTPS refuses a server whose certificate no trusted authority signed, and talks to one it trusts."""
    cert_path, key_path = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/api/v2/logs"
    try:
        system_trust = ThreadLocalTransport(proxies={})
        with pytest.raises(TransportError, match=r"cannot connect: .*CERTIFICATE_VERIFY_FAILED"):
            system_trust.post(url, b"[]", HEADERS, 5.0)
        system_trust.close()
        trusting = ThreadLocalTransport(proxies={}, tls=ssl.create_default_context(cafile=str(cert_path)))
        try:
            assert trusting.post(url, b"[]", HEADERS, 5.0).status == 202
        finally:
            trusting.close()
    finally:
        server.shutdown()
        server.server_close()


def test_https_to_a_plain_http_server_says_to_write_http(intake: IntakeEmulator) -> None:
    """An https:// URL (or DD_URL's host-only form) for a server that speaks plain HTTP: the error says so."""
    transport = ThreadLocalTransport()
    try:
        with pytest.raises(TransportError, match=r"does not speak TLS \(.+\); for a plain-HTTP endpoint write http://"):
            transport.post(intake.intake_url.replace("http://", "https://", 1), b"[]", HEADERS, 5.0)
    finally:
        transport.close()
