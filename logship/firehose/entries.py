"""Entry step: one Datadog log entry per CloudWatch log event, serialized once.

A JSON object message (after any leading whitespace, line ends or byte order
mark) becomes structured attributes; a plain line becomes
``{"message": line}`` (only when ``ONLY_JSON=false``, as in the original
design). No model object per log: a JSON log that uses none of the reserved
names keeps its own text with the reserved attributes spliced in (see
:class:`_Splice`); other entries are plain dicts serialized once with orjson.
The app's own fields are kept and never make this fail.

What each entry says, so a user can predict what Datadog shows:

- **status**: from the log's level field (:mod:`logship.firehose.levels`),
  one of Datadog's statuses or none; an HTTP code in ``status`` (number or
  numeric text) is kept as ``status_code``, other text that names no level
  as ``logship.original_status``.
- **date**: every date Datadog reads is one it keeps
  (:mod:`logship.firehose.timestamps`); otherwise the CloudWatch event time,
  or none (Datadog dates it at intake).
- **wrappers**: a log router's record around an app's line is unwrapped
  (:mod:`logship.firehose.wrappers`).
- **service**: the app's own ``service`` text when it sets one (the derived
  ``service:`` tags are then left out of ``ddtags``), else ``service:`` from
  ``DD_TAGS``, else the service read from the log group.
- **broken characters**: a lone surrogate costs that character (U+FFFD),
  never the log's structure (:mod:`logship.firehose.characters`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from logship import limits
from logship.firehose import _columnar, wrappers
from logship.firehose.characters import scrub, scrub_text
from logship.firehose.levels import FAST_LEVELS, FIELD_NAMES, is_http_code, level_of, status_of
from logship.firehose.redact import MessageFilter
from logship.firehose.s3_output import encode_messages
from logship.firehose.subscription import LogBatch, LogEvent
from logship.firehose.tags import StreamTags, service_tag
from logship.firehose.timestamps import DATE_ATTRIBUTES, DATE_NAMES, DateWindow, keep_original, settle_dates

__all__ = [
    "STATUS_CODE_KEY",
    "TRUNCATION_MARKER",
    "EntryOptions",
    "build_entries",
    "level_of",
    "parse_json_log",
    "status_of",
    "truncate_entry",
]

TRUNCATION_MARKER = "...[TRUNCATED]"
# Where a numeric ``status`` (an HTTP code, usually) is kept when ``status`` is
# set to a level.
STATUS_CODE_KEY = "status_code"


@dataclasses.dataclass(frozen=True)
class EntryOptions:
    """How entries are built: source, user tags, ``ONLY_JSON``, the message filter, and the clock.

    ``clock`` gives the time (epoch seconds) dates are judged against, as
    Datadog judges them at intake.
    """

    source: str = "firehose"
    extra_tags: tuple[str, ...] = ()
    only_json: bool = True
    message_filter: MessageFilter | None = None
    max_entry_bytes: int = limits.DATADOG_MAX_LOG_BYTES
    clock: Callable[[], float] = time.time


# Names whose presence in an app's log needs the careful merge of _enrich: the
# attributes logship sets, every date Datadog reads, a log router's ``log``, and
# logship's own namespace.
_RESERVED = _columnar.RESERVED
# Level fields the hot path does not read itself (it reads level, loglevel, severity).
_OTHER_LEVEL_FIELDS = FIELD_NAMES - _RESERVED - {"level", "loglevel", "severity"}
# Bound once: CPython 3.11 compiles ``imported_name.get(...)`` as an attribute load that
# builds a bound method per call (it takes the name for a module), which the hot path feels.
_fast_level = FAST_LEVELS.get
# A message is parsed as JSON only when it starts with "{" after framing: JSON's
# whitespace and a byte order mark (b"\xef" starts its UTF-8 form). One set per type:
# "{" and b"{" hash alike, and a set holding both compares them on every lookup.
_OPEN_BRACE = {str: frozenset({"{"}), bytes: frozenset({b"{"})}
_FRAMING = {str: frozenset({" ", "\t", "\n", "\r", "\ufeff"}), bytes: frozenset({b" ", b"\t", b"\n", b"\r", b"\xef"})}
_BOM = b"\xef\xbb\xbf"
_STATUS_TAILS = _columnar.STATUS_TAILS


class _Context:
    """What every entry of one batch shares, built once per batch."""

    __slots__ = (
        "_extra",
        "_plain",
        "_splice",
        "_tags",
        "_without_service",
        "ddtags",
        "high",
        "low",
        "service",
        "source",
        "window",
    )

    def __init__(self, tags: StreamTags, extra: tuple[str, ...], source: str, window: DateWindow) -> None:
        self.ddtags = tags.ddtags(extra)
        self.service = service_tag(extra) or tags.service
        self.source = source
        self.window = window
        # The dates Datadog keeps, as plain ints: ``low <= ms <= high`` is the cheapest test.
        self.low, self.high = window.low, window.high
        self._tags, self._extra = tags, extra
        self._without_service: str | None = None
        self._splice: _Splice | None = None
        self._plain: dict[bool, tuple[bytes, bytes, bytes]] = {}

    @property
    def ddtags_without_service(self) -> str:
        """``ddtags`` without any ``service:`` tag, for an entry whose app names its own service."""
        if self._without_service is None:
            self._without_service = self._tags.ddtags(self._extra, service=False)
        return self._without_service

    @property
    def splice(self) -> _Splice:
        """The reserved attributes to splice into an app's JSON text (see :class:`_Splice`)."""
        if self._splice is None:
            self._splice = _Splice(self)
        return self._splice

    def plain_template(self, *, fresh: bool) -> tuple[bytes, bytes, bytes]:
        """A plain line's entry (:func:`_plain_entry`) around its JSON string and its event time: the three parts.

        ``fresh``: the event time is inside Datadog's window (else it is kept
        under ``logship.original_timestamp``).
        """
        template = self._plain.get(fresh)
        if template is None:
            fixed = orjson.dumps({"ddsource": self.source, "ddtags": self.ddtags})[1:-1]
            date = b',"timestamp":' if fresh else b',"logship":{"original_timestamp":'
            service = b',"service":' + orjson.dumps(self.service) if self.service else b""
            template = self._plain[fresh] = (
                b'{"message":',
                b"," + fixed + date,
                (b"" if fresh else b"}") + service + b"}",
            )
        return template


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

    ``encoded``, when given, is :func:`logship.firehose.s3_output.encode_messages`
    of the batch's events: JSON messages are then parsed from those bytes
    instead of being encoded once more. The result counts the events left out
    (see :class:`Entries`). A batch whose events share one shape is built a
    column at a time (:mod:`logship.firehose._columnar`), any other event by
    event; both give the same entries (parsed, the same objects).
    """
    window = DateWindow.around(int(options.clock() * 1000))
    context = _Context(tags, options.extra_tags, options.source, window)
    events = batch.events
    if options.message_filter is None and events:
        raws = encoded if encoded is not None else encode_messages(events)
        if raws is not None:
            built = _columnar.build(
                events,
                raws,
                context,
                _unreserved_status,
                only_json=options.only_json,
                max_bytes=options.max_entry_bytes,
            )
            if built is not None:
                out = Entries()
                out.extend(built[0])
                out.not_json = built[1]
                return out
        encoded = raws
    return _entries_one_by_one(batch, context, options, encoded)


def _entries_one_by_one(
    batch: LogBatch, context: _Context, options: EntryOptions, encoded: list[bytes] | None
) -> Entries:
    """:func:`build_entries` event by event: any batch, whatever its events look like."""
    only_json = options.only_json
    max_bytes = options.max_entry_bytes
    events = batch.events
    texts = _texts(events, options.message_filter, encoded)
    kind = bytes if texts is encoded else str
    open_brace, framing = _OPEN_BRACE[kind], _FRAMING[kind]
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    splice = context.splice
    out = Entries()
    append = out.append
    filtered = 0
    for event, text in zip(events, texts, strict=True):
        if text is None:  # left out by the message filter
            filtered += 1
            continue
        first = text[:1]
        if first in open_brace:
            json_text = text
        elif first in framing and (json_text := _strip_framing(text))[:1] in open_brace:
            pass  # JSON after whitespace, line ends or a byte order mark
        else:
            json_text = None
        if json_text is not None:
            try:
                attributes: Any = loads(json_text)
            except decode_error:
                # Not JSON to orjson: a lone surrogate, NaN, or not JSON at all.
                attributes = _loads_leniently(json_text)
                if attributes is not None:
                    append(_careful_entry(attributes, json_text, context, event["timestamp"], max_bytes))
                    continue
            else:
                if type(attributes) is dict:
                    entry = splice.entry(json_text, attributes, event["timestamp"])
                    if entry is None or len(entry) > max_bytes:
                        entry = _careful_entry(attributes, json_text, context, event["timestamp"], max_bytes)
                    append(entry)
                    continue
        if not only_json:
            append(
                _plain_entry(text if type(text) is str else event["message"], event["timestamp"], context, max_bytes)
            )
    # With ONLY_JSON every event is sent, filtered out, or left out for not being JSON.
    out.filtered = filtered
    out.not_json = len(events) - filtered - len(out) if only_json else 0
    return out


def _texts(
    events: list[LogEvent], message_filter: MessageFilter | None, encoded: list[bytes] | None
) -> Sequence[str | bytes | None]:
    """What each event's entry is made from: its filtered message, its UTF-8 bytes, or its message."""
    if message_filter is not None:
        return [message_filter.apply(event["message"]) for event in events]
    if encoded is not None:
        return encoded
    return [event["message"] for event in events]


def _plain_entry(message: str, timestamp: int, context: _Context, max_bytes: int) -> bytes:
    """A line that is not a JSON object: ``{"message": line}`` with logship's reserved attributes."""
    attributes: dict[str, Any] = {"message": message, "ddsource": context.source, "ddtags": context.ddtags}
    if context.low <= timestamp <= context.high:
        attributes["timestamp"] = timestamp
    else:
        attributes["logship"] = {"original_timestamp": timestamp}
    if context.service:
        attributes["service"] = context.service
    entry = _dumps(attributes)
    if len(entry) > max_bytes:
        entry = truncate_entry(attributes, message, max_bytes)
    return entry


def parse_json_log(text: str | bytes) -> dict[str, Any] | None:
    """The JSON object a log line holds, or None when it holds none.

    Framing around the object (JSON whitespace, line ends, a byte order mark)
    is ignored; lone surrogates become U+FFFD; NaN and Infinity are kept as
    text; integers past 64 bits are kept.
    """
    open_brace = _OPEN_BRACE[type(text)]
    if text[:1] not in open_brace:
        text = _strip_framing(text)
        if text[:1] not in open_brace:
            return None
    try:
        attributes = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _loads_leniently(text)
    return attributes if type(attributes) is dict else None


def _strip_framing(text: str | bytes) -> str | bytes:
    if isinstance(text, str):
        return text.lstrip(" \t\r\n\ufeff")
    stripped = text.lstrip(b" \t\r\n")
    while stripped.startswith(_BOM):
        stripped = stripped[len(_BOM) :].lstrip(b" \t\r\n")
    return stripped


def _loads_leniently(text: str | bytes) -> dict[str, Any] | None:
    """A JSON object orjson refused, read by the stdlib parser with broken characters replaced; else None."""
    try:
        attributes = json.loads(text, parse_constant=str)
        if type(attributes) is not dict:
            return None
        scrubbed: dict[str, Any] = scrub(attributes)[0]
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return scrubbed


def _careful_entry(
    attributes: dict[str, Any], text: str | bytes, context: _Context, timestamp: int, max_bytes: int
) -> bytes:
    """An app's JSON log that uses reserved names, or is too big: merged, serialized, truncated if need be."""
    attributes = _enrich(attributes, context, timestamp)
    entry = _dumps(attributes)
    if len(entry) > max_bytes:
        message = text.decode("utf-8") if isinstance(text, bytes) else scrub_text(text)[0]
        entry = truncate_entry(attributes, message, max_bytes)
    return entry


class _Splice:
    """The common case, an app's JSON log using none of the reserved names, without re-serializing it.

    The app's own JSON text (already checked by parsing it) is kept as written
    and the reserved attributes are appended before its closing brace. The
    entry parses to what :func:`_enrich` would make of it; only the app's own
    spelling (spacing, escapes, numbers) is kept rather than re-serialized.
    Serializing the parsed log again cost more than the splice (instruction
    counts in ``docs/benchmarks.md``). An event dated outside Datadog's
    window keeps its time under ``logship.original_timestamp`` instead.
    """

    __slots__ = ("_high", "_low", "middle", "stale_middle")

    def __init__(self, context: _Context) -> None:
        fixed: dict[str, str] = {"ddtags": context.ddtags, "ddsource": context.source}
        if context.service:
            fixed["service"] = context.service
        reserved = b"," + orjson.dumps(fixed)[1:-1]
        #: ',"ddtags":...,"ddsource":...,"service":...,"timestamp":', then the event time and
        #: :data:`_columnar.STATUS_TAILS`; for an event Datadog would discard for its date,
        #: ``stale_middle`` puts the time under logship, and one more brace closes it.
        self.middle = reserved + b',"timestamp":'
        self.stale_middle = reserved + b',"logship":{"original_timestamp":'
        self._low, self._high = context.low, context.high

    def entry(self, text: str | bytes, attributes: dict[str, Any], timestamp: int) -> bytes | None:
        """The entry for the JSON ``text`` parsed as ``attributes``; None when the careful path must build it."""
        if not attributes or not _RESERVED.isdisjoint(attributes):
            return None
        tail = _STATUS_TAILS[_unreserved_status(attributes)]
        # For a str, the parser filled its UTF-8 cache, so this is a copy, not an encode.
        raw = text if type(text) is bytes else text.encode("utf-8")  # type: ignore[union-attr]
        if raw[-1:] != b"}":
            raw = raw.rstrip()  # JSON allows trailing whitespace; the brace must be last
        if self._low <= timestamp <= self._high:
            return b"".join((raw[:-1], self.middle, b"%d" % timestamp, tail))
        return b"".join((raw[:-1], self.stale_middle, b"%d" % timestamp, b"}", tail))


def _dumps(attributes: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(attributes)
    except TypeError:
        return _dumps_lenient(attributes)


def _unreserved_status(attributes: dict[str, Any]) -> str | None:
    """:func:`status_of` for a log using none of the reserved names (so no ``status`` or ``log``)."""
    level = attributes.get("level")
    if level is None:
        level = attributes.get("loglevel")
        if level is None:
            level = attributes.get("severity")
    if level is None:
        # No usual level field: one set test decides whether another one is there.
        return None if _OTHER_LEVEL_FIELDS.isdisjoint(attributes) else status_of(attributes)
    # One dict lookup for the usual spellings; status_of for everything else.
    return (_fast_level(level) if type(level) is str else None) or status_of(attributes)


def _enrich(attributes: dict[str, Any], context: _Context, timestamp: int) -> dict[str, Any]:
    """Add logship's reserved attributes to an app's JSON log, keeping the app's own values; the entry's dict.

    The result is ``attributes`` itself, changed in place, unless a log
    router's wrapper had to be opened.
    """
    present = _RESERVED.intersection(attributes)  # one pass over the log's names
    if not present:
        return _add_reserved(attributes, context, timestamp)
    if "log" in present and type(attributes["log"]) is str:
        attributes = _unwrapped(attributes)
        present = _RESERVED.intersection(attributes)
    own_service = attributes["service"] if "service" in present else None
    ddtags = context.ddtags_without_service if type(own_service) is str and own_service else context.ddtags
    own_tags = attributes.get("ddtags")
    if type(own_tags) is str and own_tags:
        attributes["ddtags"] = f"{ddtags},{own_tags}" if ddtags else own_tags
    else:
        attributes["ddtags"] = ddtags
    if "ddsource" not in present:
        attributes["ddsource"] = context.source
    if context.service and "service" not in present:
        attributes["service"] = context.service
    level = _settle_status(attributes) if "status" in present else status_of(attributes)
    if level is not None:
        attributes["status"] = level
    if not present.isdisjoint(DATE_NAMES) or "logship" in attributes:
        settle_dates(attributes, timestamp, context.window)
    elif context.low <= timestamp <= context.high:  # no date of the app's, the usual case: the event time
        attributes["timestamp"] = timestamp
    else:
        attributes["logship"] = {"original_timestamp": timestamp}
    return attributes


def _add_reserved(attributes: dict[str, Any], context: _Context, timestamp: int) -> dict[str, Any]:
    """:func:`_enrich` of a log using none of the reserved names (too big to keep its text, or empty)."""
    attributes["ddtags"] = context.ddtags
    attributes["ddsource"] = context.source
    if context.service:
        attributes["service"] = context.service
    if context.low <= timestamp <= context.high:
        attributes["timestamp"] = timestamp
    else:
        attributes["logship"] = {"original_timestamp": timestamp}
    status = _unreserved_status(attributes)
    if status:
        attributes["status"] = status
    return attributes


def _unwrapped(attributes: dict[str, Any]) -> dict[str, Any]:
    """The app's log inside a log router's wrapper (or wrappers), with the wrapper's fields; else ``attributes``."""
    for _depth in range(wrappers.MAX_DEPTH):
        if not wrappers.is_wrapper(attributes):
            break
        line = wrappers.line_of(attributes)
        attributes = wrappers.merge(attributes, parse_json_log(line) or {"message": line})
    return attributes


def _settle_status(attributes: dict[str, Any]) -> str | None:
    """The level of a log holding ``status``; a ``status`` that is no level is moved out of the way (never lost).

    A number or numeric text goes to ``status_code``; other text to
    ``logship.original_status``; null is dropped.
    """
    status = attributes["status"]
    if type(status) is str and not is_http_code(status):
        level = level_of(status)
        if level is not None:
            return level
        del attributes["status"]
        keep_original(attributes, "status", status)
        return status_of(attributes)
    del attributes["status"]
    if status is not None:
        attributes.setdefault(STATUS_CODE_KEY, int(status) if type(status) is str else status)
    return status_of(attributes)


def _dumps_lenient(attributes: dict[str, Any]) -> bytes:
    """Serialize what orjson refuses: lone surrogates (as U+FFFD, as the S3 output has them), huge integers."""
    text = json.dumps(attributes, ensure_ascii=False, default=str)
    return scrub_text(text)[0].encode("utf-8")


# The attributes a truncated entry keeps, when they hold a scalar.
_KEPT_WHEN_TRUNCATED = ("ddtags", "ddsource", "service", "status", *DATE_ATTRIBUTES, "hostname")


def truncate_entry(attributes: dict[str, Any], message: str, max_bytes: int) -> bytes:
    """A plain entry, under ``max_bytes``, holding the start of an oversized log and saying so.

    Keeps the reserved attributes (tags, source, service, status, dates,
    hostname), replaces the rest by the raw message cut at a UTF-8 boundary
    plus :data:`TRUNCATION_MARKER`, and records the original size under
    ``logship`` (with any date logship moved there).
    """
    kept: dict[str, Any] = {
        key: attributes[key]
        for key in _KEPT_WHEN_TRUNCATED
        if key in attributes and type(attributes[key]) in (str, int, float)
    }
    meta = attributes.get("logship")
    moved = {k: v for k, v in meta.items() if k.startswith("original_")} if type(meta) is dict else {}
    original = len(message.encode("utf-8", "surrogatepass"))
    kept["logship"] = {**moved, "truncated": True, "original_bytes": original}
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
