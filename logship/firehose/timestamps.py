"""Date step: every date Datadog reads from an entry is one it keeps.

Datadog dates a JSON log by the first of its date attributes
(:data:`DATE_ATTRIBUTES`, "Preprocessing for JSON logs") that it can read as
ISO 8601, epoch milliseconds or RFC 3164, and discards, while still answering
202, a log dated more than 18 hours in the past or 2 hours in the future
(:mod:`logship.limits`). So an app's epoch seconds (``1796080859.944``) are
read as a date in 1970 and the log is lost.

:func:`settle_dates` (entries, at send time) reads an app's epoch numbers in
any unit (seconds, milliseconds, microseconds, nanoseconds; integer, float or
numeric text) and ISO 8601 text. A date Datadog would read wrongly is
rewritten in epoch milliseconds; a date it would discard, or that is no
plausible time, is removed. Either way the app's value is kept under
``logship.original_<attribute>`` (``logship.original_timestamp`` for
``timestamp``). When no date the app wrote is left, the entry is dated by the
CloudWatch event time; when even that is outside Datadog's window, the entry
has no date and Datadog dates it at intake. :func:`restamp_dates` (replay of
a dead letter) does the same, reading epoch numbers as Datadog does.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import math
import operator
from itertools import repeat
from typing import Any

from logship import limits

#: The attributes Datadog reads an entry's date from, in its documented order
#: (https://docs.datadoghq.com/logs/log_configuration/pipelines/#preprocessing);
#: ``syslog.timestamp`` is read flat or nested.
DATE_ATTRIBUTES = (
    "@timestamp",
    "timestamp",
    "_timestamp",
    "Timestamp",
    "eventTime",
    "date",
    "published_date",
    "syslog.timestamp",
)
#: Every top-level name that can hold a date Datadog reads (the nested syslog one by ``syslog``).
DATE_NAMES = frozenset(DATE_ATTRIBUTES) | {"syslog"}
#: Where a moved or rewritten date is kept: ``logship.<prefix><attribute>``.
ORIGINAL_PREFIX = "original_"

MAX_AGE_MS = limits.DATADOG_MAX_LOG_AGE_SECONDS * 1000
MAX_AHEAD_MS = limits.DATADOG_MAX_LOG_FUTURE_SECONDS * 1000
# A Lambda runs at most 15 minutes (Lambda quotas), so an entry built now reaches
# Datadog within that, or lands in the dead letter, whose replay checks again.
SEND_MARGIN_MS = 15 * 60 * 1000

# Plausible epoch values, by unit: 2001-09-09 to 2286-11-20 in each. Outside them a
# number is no time anyone logs (and the unit could only be guessed).
# Each unit: (low, high, milliseconds per unit as a fraction: times, divided by).
_UNITS = (
    (1e9, 1e10, 1000, 1),  # seconds: time.time(), zap's ts, GELF, structlog
    (1e12, 1e13, 1, 1),  # milliseconds: Date.now(), pino, Java
    (1e15, 1e16, 1, 1000),  # microseconds
    (1e18, 1e19, 1, 1_000_000),  # nanoseconds: OpenTelemetry, time.time_ns()
)
_MS_LOW, _MS_HIGH = 1e12, 1e13
# Numeric text with more digits than nanoseconds have is no time: read as a float, never a huge int.
_MAX_DATE_DIGITS = 24


@dataclasses.dataclass(frozen=True, slots=True)
class DateWindow:
    """The epoch-millisecond dates Datadog keeps, ``low`` to ``high`` inclusive."""

    low: int
    high: int

    @classmethod
    def around(cls, now_ms: int, margin_ms: int = SEND_MARGIN_MS) -> DateWindow:
        """Datadog's window at ``now_ms``, narrowed by ``margin_ms`` on both sides for the time to intake."""
        return cls(now_ms - MAX_AGE_MS + margin_ms, now_ms + MAX_AHEAD_MS - margin_ms)

    def keeps(self, ms: int) -> bool:
        """True when Datadog keeps a log dated ``ms``."""
        return self.low <= ms <= self.high


def app_date_ms(value: object) -> int | None:
    """Epoch milliseconds of an app's date, or None when it is no plausible time.

    Numbers and numeric text are read in the unit their size says (seconds,
    milliseconds, microseconds or nanoseconds since 1970); other text as ISO
    8601 (a time without a zone is UTC).
    """
    number = _number(value)
    if number is not None:
        for low, high, times, divided_by in _UNITS:
            if low <= number < high:
                if type(number) is int:  # exact, for nanoseconds too
                    return number * times // divided_by
                return round(number * times / divided_by)
        return None
    if type(value) is str:
        return _iso_ms(value)
    return None


def datadog_date_ms(value: object) -> int | None:
    """Epoch milliseconds of a date as Datadog reads it (numbers are milliseconds), or None if unreadable."""
    number = _number(value)
    if number is not None:
        return int(number) if math.isfinite(number) else None
    if type(value) is str:
        return _iso_ms(value)
    return None


#: What :func:`settle_dates` does with one of an app's dates (see :func:`date_fate`).
KEEP, REWRITE, REMOVE = "keep", "rewrite", "remove"


def date_fate(value: object, window: DateWindow) -> tuple[str, int | None]:
    """What :func:`settle_dates` does with an app's date ``value``, and its epoch milliseconds.

    :data:`KEEP` when Datadog reads it as logship does and keeps it;
    :data:`REWRITE` (in milliseconds) when it is inside ``window`` but Datadog
    would read it otherwise (epoch seconds, say); :data:`REMOVE` when it is
    no plausible time or outside ``window``.
    """
    ms = app_date_ms(value)
    if ms is None or not window.low <= ms <= window.high:
        return REMOVE, ms
    return (KEEP if _read_as_written(value) else REWRITE), ms


def shared_date_fate(values: list[Any], window: DateWindow) -> tuple[str, list[int | None]] | None:
    """The :func:`date_fate` all of ``values`` share, and the milliseconds they are rewritten to; None when they differ.

    The milliseconds (those :func:`app_date_ms` gives) are each value's when
    the fate is :data:`REWRITE`; for :data:`KEEP` and :data:`REMOVE` the list
    is empty, as no value is written anew. ISO 8601 text and integer epoch
    milliseconds, the usual dates, are judged a column at a time by their
    earliest and latest (``datetime`` and ``min``/``max`` in C); other values
    one by one.
    """
    bounds = _column_bounds(values)
    if bounds is not None:
        first, last = bounds
        if window.low <= first and last <= window.high:
            return KEEP, []  # both kinds are read by Datadog as written
        if last < window.low or first > window.high:
            return REMOVE, []
    fates = list(map(date_fate, values, repeat(window)))
    shared = set(map(_fate, fates))
    if len(shared) != 1:
        return None
    fate = shared.pop()
    return fate, list(map(_ms, fates)) if fate == REWRITE else []


def _column_bounds(values: list[Any]) -> tuple[int, int] | None:
    """:func:`app_date_ms` of the earliest and the latest of integer epoch milliseconds or ISO 8601 text; else None.

    Only text holding a ":" is read (so never a number); None for anything
    else, or when one of them cannot be read. Each text is parsed (so each is
    checked), and only the two bounds are turned into milliseconds: the
    conversion is monotonic.
    """
    kinds = set(map(type, values))
    if kinds == {int}:
        first, last = min(values), max(values)
        return (first, last) if first >= _MS_LOW and last < _MS_HIGH else None
    if kinds != {str} or not all(map(str.__contains__, values, repeat(":"))):
        return None
    try:
        parsed = list(map(_from_iso, values))  # text with spaces around it is read one by one (_iso_ms strips)
    except ValueError:
        return None
    zones = set(map(_zone, parsed))
    if None in zones and len(zones) > 1:  # naive and aware times do not compare
        return None
    earliest, latest = min(parsed), max(parsed)
    if None in zones:  # a time without a zone is UTC
        earliest, latest = _as_utc(earliest), _as_utc(latest)
    try:
        return int(earliest.timestamp() * 1000.0), int(latest.timestamp() * 1000.0)
    except (OverflowError, ValueError):
        return None


_from_iso = datetime.datetime.fromisoformat
_zone = operator.attrgetter("tzinfo")
_as_utc = functools.partial(datetime.datetime.replace, tzinfo=datetime.UTC)
_fate = operator.itemgetter(0)
_ms = operator.itemgetter(1)


def settle_dates(attributes: dict[str, Any], event_ms: int, window: DateWindow) -> None:
    """Make every date Datadog reads from ``attributes`` one it keeps, in place; see the module doc.

    ``event_ms`` (the CloudWatch event time) dates the entry when no date of
    the app's is left and it is inside ``window``; outside, it is kept under
    ``logship.original_timestamp`` (unless the app's own timestamp is there).
    """
    dated = False
    for name, holder, key, value in _dates(attributes):
        fate, ms = date_fate(value, window)
        if fate is KEEP:
            dated = True
            continue
        if fate is REMOVE:
            del holder[key]
        else:
            holder[key] = ms
            dated = True
        keep_original(attributes, name, value)
    if dated:
        return
    if window.keeps(event_ms):
        attributes["timestamp"] = event_ms
    elif "original_timestamp" not in attributes.get("logship", ()):
        keep_original(attributes, "timestamp", event_ms)


def restamp_dates(attributes: dict[str, Any], window: DateWindow) -> bool:
    """Remove each date Datadog would discard (or cannot read), keeping it under ``logship``; True if any.

    For entries already built (a dead letter's): numbers are read as Datadog
    reads them, in milliseconds. An entry left without a date is dated by
    Datadog at intake.
    """
    changed = False
    for name, holder, key, value in _dates(attributes):
        ms = datadog_date_ms(value)
        if ms is None or not window.keeps(ms):
            del holder[key]
            keep_original(attributes, name, value)
            changed = True
    return changed


def keep_original(attributes: dict[str, Any], name: str, value: object) -> None:
    """Keep an app's date ``value`` of attribute ``name`` under ``logship.original_<name>``."""
    meta = attributes.get("logship")
    if type(meta) is not dict:
        meta = attributes["logship"] = {}
    meta[ORIGINAL_PREFIX + name] = value


def _dates(attributes: dict[str, Any]) -> list[tuple[str, dict[str, Any], str, Any]]:
    """(name, the dict holding it, its key there, value) of every date attribute present, in Datadog's order."""
    found = [(name, attributes, name, attributes[name]) for name in DATE_ATTRIBUTES if name in attributes]
    syslog = attributes.get("syslog")
    if type(syslog) is dict and "timestamp" in syslog:
        found.append(("syslog.timestamp", syslog, "timestamp", syslog["timestamp"]))
    return found


def _number(value: object) -> int | float | None:
    """A number, or numeric text, as an int or float; None for anything else (booleans included)."""
    if type(value) is int or type(value) is float:
        return value
    if type(value) is not str:
        return None
    text = value.strip()
    # ":" is in every ISO 8601 time and in no number: such text is not tried as one (a failed float() is slow).
    if text.lstrip("-")[:1].isdigit() and "_" not in text and ":" not in text:
        try:
            return int(text) if text.isdecimal() and len(text) <= _MAX_DATE_DIGITS else float(text)
        except ValueError:
            return None
    return None


def _read_as_written(value: object) -> bool:
    """True when Datadog reads ``value`` as the same time logship does: integer epoch ms, or ISO text."""
    if type(value) is int:
        return _MS_LOW <= value < _MS_HIGH
    return type(value) is str and _number(value) is None


def _iso_ms(text: str) -> int | None:
    try:
        parsed = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    try:
        return int(parsed.timestamp() * 1000)
    except (OverflowError, ValueError):
        return None
