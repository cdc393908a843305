"""Entry step: one Datadog log entry per CloudWatch log event, serialized once.

A JSON object message becomes structured attributes; a plain line becomes
``{"message": line}`` (only when ``ONLY_JSON=false``, as in the original
design). No model object per log: a JSON log that uses none of the reserved
names keeps its own text with the reserved attributes spliced in (see
:class:`_Splice`); other entries are plain dicts serialized once with orjson.
The app's own fields are kept and never make this fail.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import orjson

from logship import limits
from logship.firehose.redact import MessageFilter
from logship.firehose.subscription import LogBatch
from logship.firehose.tags import StreamTags

TRUNCATION_MARKER = "...[TRUNCATED]"
# Where a numeric ``status`` (an HTTP code, usually) is kept when ``status`` is
# set to a level.
STATUS_CODE_KEY = "status_code"

_LEVELS = {
    "emerg": "emergency",
    "emergency": "emergency",
    "panic": "emergency",
    "alert": "alert",
    "crit": "critical",
    "critical": "critical",
    "fatal": "critical",
    "err": "error",
    "error": "error",
    "eror": "error",
    "warn": "warning",
    "warning": "warning",
    "notice": "notice",
    "info": "info",
    "information": "info",
    "informational": "info",
    "debug": "debug",
    "trace": "debug",
    "verbose": "debug",
    "ok": "ok",
    "success": "ok",
}
# Numeric levels: syslog severities 0-7 and pino/bunyan's 10-60.
_NUMERIC_LEVELS = {
    0: "emergency",
    1: "alert",
    2: "critical",
    3: "error",
    4: "warning",
    5: "notice",
    6: "info",
    7: "debug",
    10: "debug",
    20: "debug",
    30: "info",
    40: "warning",
    50: "error",
    60: "critical",
}


@dataclasses.dataclass(frozen=True)
class EntryOptions:
    """How entries are built: source, user tags, ``ONLY_JSON`` and the message filter."""

    source: str = "firehose"
    extra_tags: tuple[str, ...] = ()
    only_json: bool = True
    message_filter: MessageFilter | None = None
    max_entry_bytes: int = limits.DATADOG_MAX_LOG_BYTES


# Exact spellings seen in the wild (lower, upper, capitalised) answer with one
# dict lookup on the hot path; anything else goes through level_of.
_FAST_LEVELS = {
    spelling: status for name, status in _LEVELS.items() for spelling in (name, name.upper(), name.capitalize())
}
_LEVEL_KEYS = ("level", "loglevel", "severity")
# Names whose presence in an app's log needs the careful merge of _enrich.
_RESERVED = frozenset({"ddtags", "ddsource", "service", "timestamp", "date", "status", "log"})
# A message is parsed as JSON only when it starts with one of these (text or UTF-8 bytes).
_OPEN_BRACE = frozenset({"{", b"{"})


def level_of(value: object) -> str | None:
    """A Datadog status for a level value, or None when the value is not a level.

    Known names are normalised (``warn`` -> ``warning``, ``fatal`` ->
    ``critical``); other strings pass through lower-cased, as Datadog's
    remapper matches them by prefix. Integers are syslog (0-7) or pino (10-60)
    levels; any other number is not a level.
    """
    if type(value) is str:
        lowered = value.strip().lower()
        return _LEVELS.get(lowered, lowered) or None
    if type(value) is int:
        return _NUMERIC_LEVELS.get(value)
    return None


def status_of(attributes: dict[str, Any]) -> str | None:
    """The first level found in ``status``, ``level``, ``loglevel``, ``severity`` or ``log.level``.

    A numeric ``status`` is skipped: apps log HTTP codes there.
    """
    status = attributes.get("status")
    if type(status) is str:
        found = _FAST_LEVELS.get(status) or level_of(status)
        if found:
            return found
    for key in _LEVEL_KEYS:
        value = attributes.get(key)
        if value is not None:
            found = _FAST_LEVELS.get(value) if type(value) is str else None
            found = found or level_of(value)
            if found:
                return found
    log = attributes.get("log")
    if type(log) is dict:
        return level_of(log.get("level"))
    return None


class Entries(list[bytes]):
    """Serialized entries (a plain list to every caller), with the count of events left out and why.

    ``not_json``: events not sent because ``ONLY_JSON`` keeps only JSON
    objects; ``filtered``: events the include/exclude filters left out.
    """

    __slots__ = ("filtered", "not_json")

    def __init__(self) -> None:
        super().__init__()
        self.not_json = 0
        self.filtered = 0


def build_entries(
    batch: LogBatch, tags: StreamTags, options: EntryOptions, *, encoded: list[bytes] | None = None
) -> Entries:
    """Serialized Datadog entries for every event of ``batch`` that should be sent, in order.

    ``encoded``, when given, is :func:`logship.output.encode_messages` of the
    batch's events: JSON messages are then parsed from those bytes instead of
    being encoded once more. The result counts the events left out (see
    :class:`Entries`).
    """
    ddtags = tags.ddtags(options.extra_tags)
    service = tags.service
    source = options.source
    only_json = options.only_json
    message_filter = options.message_filter
    max_bytes = options.max_entry_bytes
    events = batch.events
    texts: Sequence[str | bytes | None]
    if message_filter is not None:
        texts = [message_filter.apply(event["message"]) for event in events]
    elif encoded is not None:
        texts = encoded
    else:
        texts = [event["message"] for event in events]
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    splice = _Splice(ddtags, service, source)
    out = Entries()
    append = out.append
    not_json = filtered = 0
    for event, text in zip(events, texts, strict=True):
        if text is None:  # left out by the message filter
            filtered += 1
            continue
        if text[:1] in _OPEN_BRACE:
            try:
                attributes: Any = loads(text)
            except decode_error:
                attributes = None
            if type(attributes) is dict:
                entry = splice.entry(text, attributes, event["timestamp"])
                if entry is None or len(entry) > max_bytes:
                    entry = _careful_entry(
                        attributes,
                        text,
                        ddtags=ddtags,
                        service=service,
                        source=source,
                        timestamp=event["timestamp"],
                        max_bytes=max_bytes,
                    )
                append(entry)
                continue
        if only_json:
            not_json += 1
            continue
        message = text if type(text) is str else event["message"]
        attributes = {"message": message, "ddsource": source, "ddtags": ddtags, "timestamp": event["timestamp"]}
        if service:
            attributes["service"] = service
        entry = _dumps(attributes)
        if len(entry) > max_bytes:
            entry = truncate_entry(attributes, message, max_bytes)
        append(entry)
    out.not_json, out.filtered = not_json, filtered
    return out


def _careful_entry(
    attributes: dict[str, Any],
    text: str | bytes,
    *,
    ddtags: str,
    service: str | None,
    source: str,
    timestamp: int,
    max_bytes: int,
) -> bytes:
    """An app's JSON log that uses reserved names, or is too big: merged, serialized, truncated if need be."""
    _enrich(attributes, ddtags, service, source, timestamp)
    entry = _dumps(attributes)
    if len(entry) > max_bytes:
        message = text.decode("utf-8") if isinstance(text, bytes) else text
        entry = truncate_entry(attributes, message, max_bytes)
    return entry


class _Splice:
    """The common case, an app's JSON log using none of the reserved names, without re-serializing it.

    The app's own JSON text (already checked by parsing it) is kept as written
    and the reserved attributes are appended before its closing brace. The
    entry parses to what :func:`_enrich` would make of it; only the app's own
    spelling (spacing, escapes, numbers) is kept rather than re-serialized.
    Serializing the parsed log again cost more than the splice (instruction
    counts in ``docs/benchmarks.md``).
    """

    __slots__ = ("_middle", "_tails")

    def __init__(self, ddtags: str, service: str | None, source: str) -> None:
        fixed: dict[str, str] = {"ddtags": ddtags, "ddsource": source}
        if service:
            fixed["service"] = service
        # ',"ddtags":...,"ddsource":...,"service":...,"timestamp":' then the number.
        self._middle = b"," + orjson.dumps(fixed)[1:-1] + b',"timestamp":'
        self._tails: dict[str | None, bytes] = {None: b"}"}

    def entry(self, text: str | bytes, attributes: dict[str, Any], timestamp: int) -> bytes | None:
        """The entry for the JSON ``text`` parsed as ``attributes``; None when the careful path must build it."""
        if not attributes or not _RESERVED.isdisjoint(attributes):
            return None
        status = _unreserved_status(attributes)
        tail = self._tails.get(status)
        if tail is None:
            tail = self._tails[status] = b',"status":' + orjson.dumps(status) + b"}"
        # For a str, the parser filled its UTF-8 cache, so this is a copy, not an encode.
        raw = text if type(text) is bytes else text.encode("utf-8")  # type: ignore[union-attr]
        if raw[-1:] != b"}":
            raw = raw.rstrip()  # JSON allows trailing whitespace; the brace must be last
        return b"".join((raw[:-1], self._middle, b"%d" % timestamp, tail))


def _dumps(attributes: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(attributes)
    except TypeError:
        return _dumps_lenient(attributes)


def _add_reserved(attributes: dict[str, Any], ddtags: str, service: str | None, source: str, timestamp: int) -> None:
    """The common case of :func:`_enrich`: an app log using none of the reserved names, so nothing to merge."""
    attributes["ddtags"] = ddtags
    attributes["ddsource"] = source
    if service:
        attributes["service"] = service
    attributes["timestamp"] = timestamp
    status = _unreserved_status(attributes)
    if status:
        attributes["status"] = status


def _unreserved_status(attributes: dict[str, Any]) -> str | None:
    """:func:`status_of` for a log using none of the reserved names (so no ``status`` or ``log``)."""
    level = attributes.get("level")
    if level is None:
        level = attributes.get("loglevel")
        if level is None:
            level = attributes.get("severity")
    if level is None:
        return None
    # One dict lookup for the usual spellings; status_of for everything else.
    return (_FAST_LEVELS.get(level) if type(level) is str else None) or status_of(attributes)


def _enrich(attributes: dict[str, Any], ddtags: str, service: str | None, source: str, timestamp: int) -> None:
    """Add logship's reserved attributes to an app's JSON log, keeping the app's own values."""
    if _RESERVED.isdisjoint(attributes):
        _add_reserved(attributes, ddtags, service, source, timestamp)
        return
    own_tags = attributes.get("ddtags")
    if type(own_tags) is str and own_tags:
        attributes["ddtags"] = f"{ddtags},{own_tags}" if ddtags else own_tags
    else:
        attributes["ddtags"] = ddtags
    if "ddsource" not in attributes:
        attributes["ddsource"] = source
    if service and "service" not in attributes:
        attributes["service"] = service
    if "timestamp" not in attributes and "date" not in attributes:
        attributes["timestamp"] = timestamp
    status = attributes.get("status")
    level = status_of(attributes)
    if status is not None and type(status) is not str:
        # A numeric (or other non-text) status is not a level; keep it elsewhere so
        # ``status`` can carry the level and nothing the app logged is lost.
        attributes.setdefault(STATUS_CODE_KEY, status)
        del attributes["status"]
    if level is not None:
        attributes["status"] = level


def _dumps_lenient(attributes: dict[str, Any]) -> bytes:
    """Serialize a log holding lone surrogates (invalid Unicode) with "?" in their place, as the S3 output has them."""
    text = json.dumps(attributes, ensure_ascii=False)
    return text.encode("utf-8", "replace")


def truncate_entry(attributes: dict[str, Any], message: str, max_bytes: int) -> bytes:
    """A plain entry, under ``max_bytes``, holding the start of an oversized log and saying so.

    Keeps the reserved attributes (tags, source, service, status, timestamp),
    replaces the rest by the raw message cut at a UTF-8 boundary plus
    :data:`TRUNCATION_MARKER`, and records the original size under ``logship``.
    """
    kept: dict[str, Any] = {
        key: attributes[key]
        for key in ("ddtags", "ddsource", "service", "status", "timestamp", "date", "hostname")
        if key in attributes and type(attributes[key]) in (str, int, float)
    }
    original = len(message.encode("utf-8", "surrogatepass"))
    kept["logship"] = {"truncated": True, "original_bytes": original}
    budget = max_bytes - len(_dumps_lenient(kept)) - 64
    text = message
    while True:
        raw = text.encode("utf-8", "surrogatepass")[: max(budget, 0)]
        text = raw.decode("utf-8", "ignore")
        kept["message"] = text + TRUNCATION_MARKER
        entry = _dumps_lenient(kept)
        if len(entry) <= max_bytes:
            return entry
        # JSON escapes (control characters, quotes) made the text longer than its bytes.
        budget -= len(entry) - max_bytes + 64
