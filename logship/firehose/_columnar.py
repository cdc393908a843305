"""Entry step, fast path: a record whose events share one shape, built a column at a time.

A CloudWatch Logs record holds the events of one log stream, and one container
writes one kind of log, so a record's events nearly always share their shape:
all JSON objects naming the same reserved attributes, or all plain lines. Such
a record's entries are built column by column: each step is one pass of
``map`` over orjson, dict and bytes methods, run in C, where the per-event path
(:func:`logship.firehose.entries.build_entries`) runs a Python loop body per
event. The steps are those of the per-event path, in its order, so each entry
is the object the per-event path makes (a property test compares both); where
nothing of an app's JSON changes, its own text is kept, as the per-event
splice keeps it.

Anything else returns None and the per-event path builds the record: events
of several shapes (except JSON logs beside plain lines that ``ONLY_JSON``
leaves out), framing before a JSON object, a message orjson refuses, an empty
object, a ``log``, ``logship`` or ``syslog`` attribute (a router's wrapper,
logship's own namespace, nested dates), values of one attribute of several
kinds, more than one date attribute, events or dates on both sides of
Datadog's date window, an entry over the size limit.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from logship.firehose.levels import FAST_LEVELS, STATUSES
from logship.firehose.subscription import LogEvent
from logship.firehose.timestamps import DATE_ATTRIBUTES, DATE_NAMES, KEEP, REWRITE, DateWindow, shared_date_fate

if TYPE_CHECKING:
    from logship.firehose.entries import _Context

__all__ = ["RESERVED", "STATUS_TAILS", "build"]

#: Names whose presence in an app's log needs the careful merge: the attributes logship sets,
#: every date Datadog reads, a log router's ``log``, and logship's own namespace.
RESERVED = frozenset({"ddtags", "ddsource", "service", "status", "log", "logship"}) | DATE_NAMES
#: What closes a kept JSON text, by the entry's status: ``,"status":"<status>"}``, or ``}`` for none.
STATUS_TAILS: dict[str | None, bytes] = {None: b"}"} | {
    status: b',"status":' + orjson.dumps(status) + b"}" for status in sorted(STATUSES)
}

StatusOf = Callable[[dict[str, Any]], "str | None"]

# Reserved names a record may share and still be merged here: the rest (a router's ``log``,
# logship's own namespace, the nested ``syslog`` dates) take the per-event path.
_MERGEABLE = frozenset({"ddtags", "ddsource", "service", "status"}) | frozenset(DATE_ATTRIBUTES)
_DATES = frozenset(DATE_ATTRIBUTES)
# Kinds of ``status`` value that are HTTP codes (never levels): moved to ``status_code``.
_HTTP_CODE_KINDS = frozenset({int, float})
_STATUS_CODE = "status_code"  # entries.STATUS_CODE_KEY
# The same tails after an event time kept under ``logship``, whose object the first brace closes.
_STALE_TAILS = {status: b"}" + tail for status, tail in STATUS_TAILS.items()}
# A merged entry's status, before its date: ``,"status":"<status>"``, or nothing.
_STATUS_PARTS = {status: tail[:-1] for status, tail in STATUS_TAILS.items()}
_STALE_TIMESTAMP = b',"logship":{"original_timestamp":'
_OPEN_BRACE = b"{"
_CLOSE_BRACE = b"}"
# First bytes of a message that may be JSON: a brace, or JSON whitespace or a byte order mark before one.
_MAYBE_JSON = frozenset({b"{", b" ", b"\t", b"\n", b"\r", b"\xef"})

_first_byte = itemgetter(slice(0, 1))
_last_byte = itemgetter(slice(-1, None))
_without_last_byte = itemgetter(slice(None, -1))
_message = itemgetter("message")
_timestamp = itemgetter("timestamp")
_join: Callable[[Iterable[bytes]], bytes] = b"".join
_fast_level: Callable[[Any], str | None] = FAST_LEVELS.get
# Runs an iterator of side effects to its end, in C, keeping nothing.
_consume: Callable[[Iterable[object]], None] = collections.deque[object](maxlen=0).extend


def build(
    events: list[LogEvent],
    raws: Sequence[bytes],
    context: _Context,
    status_of: StatusOf,
    *,
    only_json: bool,
    max_bytes: int,
) -> tuple[list[bytes], int] | None:
    """The entries of a record whose events share one shape, and how many were left out as not JSON; else None.

    ``raws`` are the events' messages in UTF-8; ``status_of`` is the status of
    a JSON log holding neither ``status`` nor ``log`` (the per-event path's).
    """
    firsts = set(map(_first_byte, raws))
    left_out = 0
    if firsts == {_OPEN_BRACE}:
        built = _json_entries(events, raws, context, status_of)
    elif firsts.isdisjoint(_MAYBE_JSON):  # plain lines only
        if only_json:
            return [], len(events)
        built = _plain_entries(events, context)
    elif only_json and firsts & _MAYBE_JSON == {_OPEN_BRACE}:
        # JSON logs between plain lines, which ONLY_JSON leaves out: the JSON logs alone, in order.
        chosen = list(map(_OPEN_BRACE.__eq__, map(_first_byte, raws)))
        built = _json_entries(list(compress(events, chosen)), list(compress(raws, chosen)), context, status_of)
        left_out = len(events) - len(built) if built is not None else 0
    else:
        return None
    if built is None or max(map(len, built), default=0) > max_bytes:
        return None
    return built, left_out


def _json_entries(
    events: list[LogEvent], raws: Sequence[bytes], context: _Context, status_of: StatusOf
) -> list[bytes] | None:
    """Entries of JSON object logs that all name the same reserved attributes; None otherwise."""
    try:
        docs: list[dict[str, Any]] = list(map(orjson.loads, raws))  # each starts with "{": an object or an error
    except orjson.JSONDecodeError:
        return None
    timestamps: list[int] = list(map(_timestamp, events))
    if all(map(RESERVED.isdisjoint, docs)):
        if not all(docs):  # an empty object has no member to splice after
            return None
        return _spliced(docs, raws, timestamps, context, status_of)
    return _merged(docs, raws, timestamps, context, status_of)


def _spliced(
    docs: list[dict[str, Any]], raws: Sequence[bytes], timestamps: list[int], context: _Context, status_of: StatusOf
) -> list[bytes] | None:
    """Each app's own JSON text with the reserved attributes before its closing brace (entries._Splice)."""
    fresh = _window_side(timestamps, context.window)
    if fresh is None:
        return None
    splice = context.splice
    middle, tails = (splice.middle, STATUS_TAILS) if fresh else (splice.stale_middle, _STALE_TAILS)
    statuses = _statuses(docs, status_of)
    return list(map(_join, zip(_heads(raws), repeat(middle), _digits(timestamps), map(tails.__getitem__, statuses))))


def _merged(
    docs: list[dict[str, Any]], raws: Sequence[bytes], timestamps: list[int], context: _Context, status_of: StatusOf
) -> list[bytes] | None:
    """Logs that all name the same reserved attributes, merged as entries._enrich merges each one.

    The app's fields that change (an HTTP ``status`` moved to ``status_code``,
    a level respelled, a date removed or rewritten, ``ddtags`` extended) are
    changed in the parsed logs, which are then serialized; when none changes,
    the app's own text is kept. Either way what logship adds follows, before
    the closing brace, in entries._enrich's order.
    """
    # The first log's reserved names, which every log must name, and no other (checked without a set per log).
    names = RESERVED.intersection(docs[0])
    if not names <= _MERGEABLE or not all(map(RESERVED.difference(names).isdisjoint, docs)):
        return None
    for name in names:
        if not all(map(dict.__contains__, docs, repeat(name))):
            return None
    # Every check first, so that a record handed back to the per-event path is left as it came.
    tags = _tags_step(docs, names, context)
    status = _status_step(docs, names, status_of)
    dates = _date_step(docs, names, timestamps, context.window)
    if tags is None or status is None or dates is None:
        return None
    changes = [step.change for step in (tags, status, dates) if step.change is not None]
    if changes:
        for change in changes:
            change()
        if not all(docs):  # nothing of the app's left: no member to splice after
            return None
        try:
            heads: Iterable[bytes] = list(map(_without_last_byte, map(orjson.dumps, docs)))
        except TypeError:  # what orjson cannot serialize: the per-event path's lenient serializer
            return None
    else:
        heads = _heads(raws)
    # One join per entry of every step's columns; the logs' own length decides (the steps' repeat).
    return list(map(_join, zip(heads, *tags.columns, *status.columns, *dates.columns, strict=False)))


class _Step:
    """One step of a merge: its part of each entry (after the app's fields), and what it changes in them.

    The part is given as columns, each a piece of every entry's part in turn
    (a constant repeated, or one value per log), so that each entry is joined
    once from all the steps' columns. ``change`` runs only once every step has
    accepted the record.
    """

    __slots__ = ("change", "columns")

    def __init__(self, *columns: Iterable[bytes], change: Callable[[], object] | None = None) -> None:
        self.columns = columns
        self.change = change


def _tags_step(docs: list[dict[str, Any]], names: frozenset[str], context: _Context) -> _Step | None:
    """``ddtags`` (logship's, or extended with the app's own), ``ddsource`` and ``service``."""
    ddtags = context.ddtags
    if "service" in names:
        services = _column(docs, "service")
        if set(map(type, services)) != {str} or not all(services):
            return None
        ddtags = context.ddtags_without_service  # the app names its own service
    added: dict[str, str] = {}
    change = None
    if "ddtags" in names:
        own = _column(docs, "ddtags")
        if set(map(type, own)) != {str} or not all(own):
            return None
        if ddtags:
            merged = [f"{ddtags},{tags}" for tags in own]
            change = functools.partial(_consume, map(dict.__setitem__, docs, repeat("ddtags"), merged))
    else:
        added["ddtags"] = ddtags
    if "ddsource" not in names:
        added["ddsource"] = context.source
    if context.service and "service" not in names:
        added["service"] = context.service
    if not added:
        return _Step(change=change)
    return _Step(repeat(b"," + orjson.dumps(added)[1:-1]), change=change)


def _status_step(docs: list[dict[str, Any]], names: frozenset[str], status_of: StatusOf) -> _Step | None:
    """``status``: a level, the app's respelled, or an HTTP code kept as ``status_code`` (entries._settle_status)."""
    if "status" not in names:
        return _Step(map(_STATUS_PARTS.__getitem__, _statuses(docs, status_of)))
    codes = _column(docs, "status")
    kinds = set(map(type, codes))
    if kinds == {str}:  # the app's status names its level, respelled as Datadog's where it differs
        levels = list(map(_fast_level, codes))
        if None in levels:
            return None
        if levels == codes:
            return _Step()
        return _Step(change=functools.partial(_consume, map(dict.__setitem__, docs, repeat("status"), levels)))
    if not kinds <= _HTTP_CODE_KINDS or any(map(dict.__contains__, docs, repeat(_STATUS_CODE))):
        return None
    # HTTP codes: moved to status_code, the level read from the other fields (status_of skips a number).
    return _Step(
        repeat(b',"' + _STATUS_CODE.encode() + b'":'),
        _digits(codes),
        map(_STATUS_PARTS.__getitem__, _statuses(docs, status_of)),
        change=functools.partial(_consume, map(dict.pop, docs, repeat("status"))),
    )


def _date_step(
    docs: list[dict[str, Any]], names: frozenset[str], timestamps: list[int], window: DateWindow
) -> _Step | None:
    """The dates (timestamps.settle_dates): the event time, or one date attribute of the app's, kept or moved."""
    dated = names & _DATES
    if not dated:
        return _event_time(timestamps, window)
    if len(dated) > 1:
        return None
    [name] = dated
    values = _column(docs, name)
    shared = shared_date_fate(values, window)
    if shared is None:
        return None
    fate, ms = shared
    if fate is KEEP:
        return _Step(repeat(b"}"))
    original = b',"logship":{"original_' + name.encode() + b'":'
    if fate is REWRITE:  # in milliseconds, the app's value kept under logship
        rewrite = functools.partial(_consume, map(dict.__setitem__, docs, repeat(name), ms))
        return _Step(repeat(original), map(orjson.dumps, values), repeat(b"}}"), change=rewrite)
    return _removed_date(docs, name, values, timestamps, window)


def _event_time(timestamps: list[int], window: DateWindow) -> _Step | None:
    """Logs without a date of their own: the event time as ``timestamp``, or under logship when Datadog drops it."""
    fresh = _window_side(timestamps, window)
    if fresh is None:
        return None
    if fresh:
        return _Step(repeat(b',"timestamp":'), _digits(timestamps), repeat(b"}"))
    return _Step(repeat(_STALE_TIMESTAMP), _digits(timestamps), repeat(b"}}"))


def _removed_date(
    docs: list[dict[str, Any]], name: str, values: list[Any], timestamps: list[int], window: DateWindow
) -> _Step | None:
    """An app's dates Datadog would drop: kept under logship; the event time dates the entry, or is kept beside."""
    fresh = _window_side(timestamps, window)
    if fresh is None:
        return None
    original = b',"logship":{"original_' + name.encode() + b'":'
    # After the app's value kept under logship: the event time as the entry's, or kept beside it.
    rest: tuple[Iterable[bytes], ...]
    if fresh:
        rest = (repeat(b'},"timestamp":'), _digits(timestamps), repeat(b"}"))
    elif name == "timestamp":  # the app's own is the original timestamp
        rest = (repeat(b"}}"),)
    else:
        rest = (repeat(b',"original_timestamp":'), _digits(timestamps), repeat(b"}}"))
    return _Step(
        repeat(original),
        map(orjson.dumps, values),
        *rest,
        change=functools.partial(_consume, map(dict.pop, docs, repeat(name))),
    )


def _plain_entries(events: list[LogEvent], context: _Context) -> list[bytes] | None:
    """``{"message": line}`` entries (entries._plain_entry), from a byte template around each line."""
    timestamps: list[int] = list(map(_timestamp, events))
    fresh = _window_side(timestamps, context.window)
    if fresh is None:
        return None
    head, middle, tail = context.plain_template(fresh=fresh)
    messages = map(orjson.dumps, map(_message, events))
    return list(map(_join, zip(repeat(head), messages, repeat(middle), _digits(timestamps), repeat(tail))))


def _column(docs: list[dict[str, Any]], name: str) -> list[Any]:
    """Each log's value of ``name`` (None where it has none)."""
    return list(map(dict.get, docs, repeat(name)))


def _heads(raws: Sequence[bytes]) -> Iterable[bytes]:
    """Each JSON text without its closing brace (and the whitespace JSON allows after it)."""
    if set(map(_last_byte, raws)) != {_CLOSE_BRACE}:
        raws = list(map(bytes.rstrip, raws))
    return map(_without_last_byte, raws)


def _digits(numbers: list[int]) -> list[bytes]:
    """Each integer as JSON text: one serialization of the list, cut at its commas."""
    if not numbers:
        return []
    return orjson.dumps(numbers)[1:-1].split(b",")


def _window_side(timestamps: list[int], window: DateWindow) -> bool | None:
    """True when every event time is inside Datadog's window, False when every one is outside, else None."""
    first, last = min(timestamps), max(timestamps)
    if window.low <= first and last <= window.high:
        return True
    if last < window.low or first > window.high:
        return False
    return None


def _statuses(docs: list[dict[str, Any]], status_of: StatusOf) -> list[str | None]:
    """``status_of`` of each log: the usual ``level`` spellings in one lookup each, the rest one by one."""
    try:
        found = list(map(_fast_level, map(dict.get, docs, repeat("level"))))
    except TypeError:  # a level that is an object or an array
        return list(map(status_of, docs))
    if None in found:
        return [status if status is not None else status_of(doc) for status, doc in zip(found, docs, strict=True)]
    return found
