"""A local Slack incoming webhook with fault injection, for tests and the ops events demo.

Speaks the part of the webhook protocol logship relies on: ``POST`` of a JSON
body to the webhook's secret path, answered ``200 ok``; the errors Slack
documents as short text bodies (Slack API changelog 2016-05-17, "Improving
error conditions for Incoming Webhooks"): 400 ``invalid_payload`` for a body
that is not a message or breaks a Block Kit limit (50 blocks, a header's 150
characters, a section's 3,000, 10 fields of 2,000, a context's 10 elements),
404 ``no_service`` for any other path (a revoked or mistyped URL), and 429
``rate_limited`` with ``Retry-After`` when messages come faster than
``rate_limit_interval`` (Slack allows about one a second; off unless set).
Faults are scripted with :meth:`SlackWebhookEmulator.fail_next`: statuses in
order (0 drops the connection), with an optional ``Retry-After``.

``messages`` holds every accepted body; :func:`render` shows one as a person
reads it in the channel.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import secrets
import textwrap
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from logship.opsevents import limits
from logship.testing._serving import BackgroundServer

# The text Slack answers each status with (the changelog above; 429 from Slack "Rate limits").
ANSWERS: dict[int, str] = {
    HTTPStatus.OK: "ok",
    HTTPStatus.BAD_REQUEST: "invalid_payload",
    HTTPStatus.FORBIDDEN: "action_prohibited",
    HTTPStatus.NOT_FOUND: "channel_not_found",
    HTTPStatus.GONE: "channel_is_archived",
    HTTPStatus.TOO_MANY_REQUESTS: "rate_limited",
    HTTPStatus.INTERNAL_SERVER_ERROR: "rollup_error",
}
_BLOCK_TYPES = frozenset({"header", "section", "context", "divider", "actions", "image", "rich_text"})


@dataclasses.dataclass(frozen=True)
class Fault:
    """One scripted answer: a status (0 drops the connection) and an optional ``Retry-After`` in seconds."""

    status: int
    retry_after: float | None = None


@dataclasses.dataclass(frozen=True)
class WebhookRequest:
    """What the stand-in saw of one request and what it answered."""

    path_ok: bool
    status: int
    answer: str
    body_bytes: int


class SlackWebhookEmulator(BackgroundServer):
    """A Slack incoming webhook on 127.0.0.1, in a background thread."""

    _thread_name = "slack-webhook"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, rate_limit_interval: float | None = None) -> None:
        #: The secret part of the URL, as Slack's: /services/<team>/<channel hook>/<token>.
        self.path = f"/services/T0LOCAL00/B0LOCAL00/{secrets.token_urlsafe(18)}"
        #: Least seconds between accepted messages; closer ones get 429 with Retry-After (None: no limit).
        self.rate_limit_interval = rate_limit_interval
        self.messages: list[dict[str, Any]] = []
        self.requests: list[WebhookRequest] = []
        self.script: collections.deque[Fault] = collections.deque()
        self.lock = threading.Lock()
        self._last_accepted: float | None = None
        self._server = _Server((host, port), self)

    # --- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        """The webhook URL to put in ``SLACK_WEBHOOK_URL`` (a secret, as a real one is)."""
        return self.base_url + self.path

    # --- fault injection -------------------------------------------------
    def fail_next(self, *statuses: int, retry_after: float | None = None) -> None:
        """Answer the next requests with ``statuses`` in order (0 drops the connection)."""
        with self.lock:
            self.script.extend(Fault(status, retry_after) for status in statuses)

    def reset(self) -> None:
        """Forget messages, requests and faults."""
        with self.lock:
            self.messages.clear()
            self.requests.clear()
            self.script.clear()
            self._last_accepted = None

    # --- the protocol ------------------------------------------------------
    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, str], str]:
        """Answer one POST: (status, headers, text body). Thread-safe."""
        path_ok = secrets.compare_digest(path, self.path)
        with self.lock:
            fault = self.script.popleft() if self.script else None
        if fault is not None:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return self._log(path_ok, fault.status, ANSWERS.get(fault.status, "error"), body, headers)
        if not path_ok:
            return self._log(path_ok, HTTPStatus.NOT_FOUND, "no_service", body)
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._log(path_ok, HTTPStatus.BAD_REQUEST, "invalid_payload", body)
        if message_problems(message):
            return self._log(path_ok, HTTPStatus.BAD_REQUEST, "invalid_payload", body)
        with self.lock:
            now = time.monotonic()
            interval = self.rate_limit_interval
            if interval is not None and self._last_accepted is not None and now - self._last_accepted < interval:
                wait = max(1, round(interval - (now - self._last_accepted) + 0.5))
                status, answer, headers = HTTPStatus.TOO_MANY_REQUESTS, "rate_limited", {"Retry-After": str(wait)}
            else:
                self._last_accepted = now
                self.messages.append(message)
                status, answer, headers = HTTPStatus.OK, "ok", {}
        return self._log(path_ok, status, answer, body, headers)

    def _log(
        self, path_ok: bool, status: int, answer: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        with self.lock:
            self.requests.append(WebhookRequest(path_ok, status, answer, len(body)))
        return status, headers or {}, answer


def message_problems(message: Any) -> list[str]:
    """What makes Slack refuse ``message`` with ``invalid_payload``; empty when it would post it."""
    if not isinstance(message, dict):
        return ["a message is a JSON object"]
    if not any(message.get(field) for field in ("text", "blocks", "attachments")):
        return ["no text, blocks or attachments"]
    if "text" in message and not isinstance(message["text"], str):
        return ["text must be a string"]
    problems = _blocks_problems(message.get("blocks", []), "blocks")
    attachments = message.get("attachments", [])
    if not isinstance(attachments, list):
        return [*problems, "attachments must be an array"]
    for n, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            problems.append(f"attachments[{n}] must be an object")
            continue
        problems.extend(_blocks_problems(attachment.get("blocks", []), f"attachments[{n}].blocks"))
    return problems


def _blocks_problems(blocks: Any, where: str) -> list[str]:
    if not isinstance(blocks, list):
        return [f"{where} must be an array"]
    if len(blocks) > limits.SLACK_MAX_BLOCKS:
        return [f"{where}: {len(blocks)} blocks, over {limits.SLACK_MAX_BLOCKS}"]
    problems: list[str] = []
    for n, block in enumerate(blocks):
        problems.extend(f"{where}[{n}]: {problem}" for problem in _block_problems(block))
    return problems


def _text_of(obj: Any) -> str | None:
    """The ``text`` of a text object, or None when ``obj`` is not one."""
    if isinstance(obj, dict) and obj.get("type") in ("plain_text", "mrkdwn") and isinstance(obj.get("text"), str):
        return str(obj["text"])
    return None


def _block_problems(block: Any) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
        return ["not a known block"]
    check = _CHECKS.get(block["type"])
    return check(block) if check else []


def _header_problems(block: dict[str, Any]) -> list[str]:
    text = _text_of(block.get("text"))
    if text is None or block["text"]["type"] != "plain_text" or not 0 < len(text) <= limits.SLACK_HEADER_MAX_CHARS:
        return [f"a header holds plain_text of 1 to {limits.SLACK_HEADER_MAX_CHARS} characters"]
    return []


def _section_problems(block: dict[str, Any]) -> list[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        return ["a section needs text or fields"]
    if text is not None and not 0 < len(_text_of(text) or "") <= limits.SLACK_SECTION_TEXT_MAX_CHARS:
        return [f"a section's text is 1 to {limits.SLACK_SECTION_TEXT_MAX_CHARS} characters"]
    if fields is None:
        return []
    if not isinstance(fields, list) or len(fields) > limits.SLACK_SECTION_MAX_FIELDS:
        return [f"at most {limits.SLACK_SECTION_MAX_FIELDS} fields"]
    if not all(0 < len(_text_of(f) or "") <= limits.SLACK_FIELD_MAX_CHARS for f in fields):
        return [f"a field is 1 to {limits.SLACK_FIELD_MAX_CHARS} characters"]
    return []


def _context_problems(block: dict[str, Any]) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 0 < len(elements) <= limits.SLACK_CONTEXT_MAX_ELEMENTS:
        return [f"a context holds 1 to {limits.SLACK_CONTEXT_MAX_ELEMENTS} elements"]
    if not all(0 < len(_text_of(e) or "") <= limits.SLACK_TEXT_OBJECT_MAX_CHARS for e in elements):
        return [f"a context's text is 1 to {limits.SLACK_TEXT_OBJECT_MAX_CHARS} characters"]
    return []


_CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "header": _header_problems,
    "section": _section_problems,
    "context": _context_problems,
}


# --- what a person sees ------------------------------------------------------
_EMOJI = {":red_circle:": "🔴", ":warning:": "⚠️", ":white_check_mark:": "✅", ":information_source:": "ℹ️"}  # noqa: RUF001 - the emoji are the point
_LINK = re.compile(r"<([^|>]+)\|([^>]*)>")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")


def _plain(mrkdwn: str) -> str:
    """Slack mrkdwn as it reads: links as their labels, bold and italics as plain words, entities decoded."""
    text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", _LINK.sub(r"\2", mrkdwn)))
    text = "\n".join("│ " + line[2:] if line.startswith("> ") else line for line in text.split("\n"))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render(message: dict[str, Any], *, width: int = 96) -> str:
    """``message`` as it reads in a channel: the header, then each attachment behind its colour bar."""
    lines: list[str] = []
    for block in message.get("blocks", []):
        lines.extend(_render_block(block))
    for attachment in message.get("attachments", []):
        lines.append(f"(colour bar {attachment.get('color', 'none')})")
        for block in attachment.get("blocks", []):
            lines.extend(_render_block(block))
    if not lines:
        lines.append(_plain(str(message.get("text", ""))))
    header, body = lines[:1], lines[1:]
    folded = [part for line in body for part in textwrap.wrap(line, width - 2, break_on_hyphens=False) or [""]]
    return "\n".join([*header, *(f"┃ {line}".rstrip() for line in folded)])


def _render_block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        text = str(block["text"]["text"])
        for code, emoji in _EMOJI.items():
            text = text.replace(code, emoji)
        return [text]
    if kind == "context":
        return [_plain(str(element.get("text", ""))) for element in block.get("elements", [])]
    if kind == "section":
        lines = _plain(str(block["text"]["text"])).splitlines() if "text" in block else []
        for field in block.get("fields", []):
            label, _, value = _plain(str(field.get("text", ""))).partition("\n")
            lines.append(f"{label}: {value}")
        return [*lines, ""]
    return []


class _Server(ThreadingHTTPServer):
    """The HTTP server, knowing the stand-in it serves."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: SlackWebhookEmulator) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator


class _Handler(BaseHTTPRequestHandler):
    """One connection: POST to the webhook; GET /logship/messages lists what was accepted."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: tests and demos print what matters themselves."""

    def _reply(self, status: int, headers: dict[str, str], body: bytes, content_type: str = "text/html") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, headers, answer = self.server.emulator.handle(self.path.split("?")[0], body)
        if status == 0:
            self.close_connection = True
            self.connection.close()
            return
        self._reply(status, headers, answer.encode())

    def do_GET(self) -> None:
        emulator = self.server.emulator
        if self.path.split("?")[0] == "/logship/messages":
            with emulator.lock:
                body = orjson.dumps(emulator.messages)
            self._reply(HTTPStatus.OK, {}, body, "application/json")
        else:
            self._reply(HTTPStatus.NOT_FOUND, {}, b"no_service")
