"""Schedule expressions: parse EventBridge and Scheduler expressions, list their runs, find their longest gap.

Three forms, as AWS documents them:

- ``rate(value unit)``: ``minute``/``minutes``, ``hour``/``hours``, ``day``/``days``; the unit is
  singular for 1 and plural otherwise ("rate(1 hours) and rate(5 hour) aren't valid", EventBridge
  User Guide, *Rate expressions reference*).
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields, wildcards ``, - * ? / L W #``
  per field as in the *Cron expressions reference* table; exactly one of day-of-month and day-of-week
  is ``?``; day-of-week 1-7 is SUN-SAT.
- ``at(yyyy-mm-ddThh:mm:ss)``: an EventBridge Scheduler one-time schedule (Scheduler User Guide,
  *Schedule types*).

EventBridge rules run in UTC. Scheduler schedules carry an IANA time zone, read here the way the
Scheduler User Guide (*Daylight savings time on EventBridge Scheduler*) says AWS does: a cron time
the clock skips in spring does not run that day; a time the clock repeats in autumn runs once, at its
first occurrence; a ``rate`` is a fixed duration ("days represents a 24-hour duration").

:func:`longest_gap` is exact: it walks the calendar a month at a time (a month of a given length
starting on a given weekday always selects the same days), steps down to single days only around a
daylight-saving change, and never iterates minutes. An invalid expression raises :class:`ValueError`
naming the offending field; a valid one with fewer than two runs left raises :class:`NotRecurring`.
"""

from __future__ import annotations

import bisect
import calendar
import dataclasses
import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "At",
    "Cron",
    "Gap",
    "NotRecurring",
    "Rate",
    "Schedule",
    "describe",
    "find_longest_gap",
    "longest_gap",
    "next_runs",
    "parse_schedule",
    "zone_of",
]

# The year field's range: "Year 1970-2199" (EventBridge User Guide, Cron expressions reference).
MIN_YEAR = 1970
MAX_YEAR = 2199
# "#" picks the 1st to 5th such weekday of a month: a month has at most five of any weekday.
MAX_NTH_WEEKDAY = 5
# Names AWS accepts in the month and day-of-week fields (JAN-DEC, SUN-SAT); day-of-week 1 is Sunday.
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# AWS's day-of-week numbers for the weekend.
SUNDAY = 1
SATURDAY = 7
# "Cron expressions have six required fields" (EventBridge User Guide, Cron expressions reference).
CRON_FIELDS = 6
# Rate units and their length in seconds ("Valid values: minute | minutes | hour | hours | day | days").
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
# Zone names that are UTC itself: no daylight saving to look up.
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu"})

_DAY = 86400
_RUNS_FOR_A_GAP = 2
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_RATE = re.compile(r"rate\(\s*(\S+)\s+(\S+)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_AT = re.compile(r"at\((.*)\)")
_AT_BODY = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")
_NUMBER = re.compile(r"\d{1,2}")
_YEAR = re.compile(r"\d{4}")


class NotRecurring(ValueError):  # noqa: N818 - reads as a state ("not recurring"), like StopIteration
    """A valid expression with fewer than two runs after the given instant, so it has no gap.

    A one-time ``at(...)`` schedule, a ``cron`` whose year range has ended or ends after one more run,
    and a ``cron`` whose days never occur (``cron(0 0 30 2 ? *)``) all raise it. It is a
    :class:`ValueError`, so one ``except ValueError`` covers every expression a watch cannot use.
    """


# --- Parsed forms -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Rate:
    """``rate(value unit)``: a run every ``every``, from when the rule or schedule starts."""

    expression: str
    every: dt.timedelta


@dataclasses.dataclass(frozen=True, slots=True)
class At:
    """``at(yyyy-mm-ddThh:mm:ss)``: one run at ``when``, a wall-clock time in the schedule's zone."""

    expression: str
    when: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class DaySelector:
    """Which days of a month a cron day field picks.

    ``kind`` is ``"days"`` (the day numbers in ``values``: 1-31 for day-of-month, 1-7 SUN-SAT for
    day-of-week), ``"last-day"`` (``L``), ``"last-weekday"`` (``LW``), ``"nearest-weekday"``
    (``nW``, ``values == (n,)``), ``"last-of-weekday"`` (``dL``, ``values == (d,)``) or
    ``"nth-weekday"`` (``d#n``, ``values == (d, n)``).
    """

    field: str
    kind: str
    values: tuple[int, ...] = ()

    def days(self, length: int, first_weekday: int) -> tuple[int, ...]:
        """The days (1-based, ascending) this selects in a month of ``length`` days whose 1st is ``first_weekday``.

        ``first_weekday`` is AWS's numbering, 1 = Sunday ... 7 = Saturday.
        """

        def weekday(day: int) -> int:
            return (first_weekday - 1 + day - 1) % 7 + 1

        if self.field == "day-of-month":
            return self._month_days(length, weekday)
        return self._week_days(length, first_weekday, weekday)

    def _month_days(self, length: int, weekday: Callable[[int], int]) -> tuple[int, ...]:
        if self.kind == "days":
            return tuple(d for d in self.values if d <= length)
        if self.kind == "nearest-weekday":
            return _nearest_weekday(self.values[0], length, weekday)
        last = weekday(length)
        if self.kind == "last-day" or last not in (SUNDAY, SATURDAY):
            return (length,)
        return (length - 2,) if last == SUNDAY else (length - 1,)  # LW on a weekend: the Friday

    def _week_days(self, length: int, first_weekday: int, weekday: Callable[[int], int]) -> tuple[int, ...]:
        if self.kind == "days":
            return tuple(d for d in range(1, length + 1) if weekday(d) in self.values)
        if self.kind == "last-of-weekday":
            return (length - (weekday(length) - self.values[0]) % 7,)
        # nth-weekday: the first such weekday, then (n - 1) weeks on, if the month is long enough.
        target, nth = self.values
        day = 1 + (target - first_weekday) % 7 + 7 * (nth - 1)
        return (day,) if day <= length else ()


def _nearest_weekday(day: int, length: int, weekday: Callable[[int], int]) -> tuple[int, ...]:
    """``nW``: the weekday nearest to day ``day``, never leaving the month (Quartz's rule, which AWS's follows).

    A month without day ``day`` (``31W`` in April) has no run: AWS does not document this case.
    """
    if day > length:
        return ()
    wd = weekday(day)
    if wd == SATURDAY:  # Friday before, or Monday the 3rd when the 1st is a Saturday
        return (3,) if day == 1 else (day - 1,)
    if wd == SUNDAY:  # Monday after, or Friday before when the last day is a Sunday
        return (day - 2,) if day == length else (day + 1,)
    return (day,)


@dataclasses.dataclass(frozen=True, slots=True)
class Cron:
    """``cron(...)``, expanded: the sorted minutes, hours, months and years it runs in, and its day rule.

    Exactly one of ``days_of_month`` and ``days_of_week`` is None (the field that was ``?``).
    """

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: DaySelector | None
    months: tuple[int, ...]
    days_of_week: DaySelector | None
    years: tuple[int, ...]

    @property
    def day_rule(self) -> DaySelector:
        """The day field that is not ``?``."""
        rule = self.days_of_month or self.days_of_week
        assert rule is not None
        return rule

    def times_of_day(self) -> tuple[int, ...]:
        """Every run time of a matching day, in seconds after midnight, ascending."""
        return tuple(h * 3600 + m * 60 for h in self.hours for m in self.minutes)


Schedule = Rate | Cron | At


# --- Parsing --------------------------------------------------------------------------------------------


def parse_schedule(expression: str) -> Schedule:
    """The parsed form of a ``rate(...)``, ``cron(...)`` or ``at(...)`` expression.

    Raises ValueError naming the offending field (``cron day-of-week field '8': ...``) for anything
    AWS would reject, following the EventBridge *Cron expressions reference* and *Rate expressions
    reference* and the Scheduler *Schedule types* page. Leading and trailing blanks are ignored;
    keywords are lowercase, as AWS writes them; names (JAN, MON) and L/W are case-insensitive.
    """
    text = expression.strip()
    if match := _RATE.fullmatch(text):
        return _parse_rate(text, match.group(1), match.group(2))
    if match := _CRON.fullmatch(text):
        return _parse_cron(text, match.group(1))
    if match := _AT.fullmatch(text):
        return _parse_at(text, match.group(1))
    raise ValueError(
        f"schedule expression {expression!r}: expected rate(value unit), cron(minutes hours day-of-month "
        "month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
    )


def _parse_rate(text: str, value: str, unit: str) -> Rate:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"rate value {value!r}: must be a whole number of at least 1")
    count = int(value)
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in RATE_UNITS:
        raise ValueError(f"rate unit {unit!r}: must be minute(s), hour(s) or day(s)")
    if count == 1 and unit != singular:
        raise ValueError(f"rate unit {unit!r}: a value of 1 takes the singular unit, rate(1 {singular})")
    if count > 1 and unit == singular:
        raise ValueError(f"rate unit {unit!r}: a value above 1 takes the plural unit, rate({count} {singular}s)")
    return Rate(text, dt.timedelta(seconds=count * RATE_UNITS[singular]))


def _parse_at(text: str, body: str) -> At:
    match = _AT_BODY.fullmatch(body.strip())
    if not match:
        raise ValueError(f"at date-time {body!r}: expected yyyy-mm-ddThh:mm:ss")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        when = dt.datetime(year, month, day, hour, minute, second)  # a wall-clock time: its zone comes later
    except ValueError as err:
        raise ValueError(f"at date-time {body!r}: {err}") from None
    return At(text, when)


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """One cron field's name, value range, value names and the wildcards AWS allows in it."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    cyclic: bool = True
    slash: bool = True

    def error(self, text: str, reason: str) -> ValueError:
        return ValueError(f"cron {self.name} field {text!r}: {reason}")

    def value(self, token: str, text: str) -> int:
        """One value: a number in range (at most two digits, four for years) or a name."""
        if token in self.names:
            return self.low + self.names.index(token)
        pattern = _YEAR if self.name == "year" else _NUMBER
        if not pattern.fullmatch(token):
            expected = f"a number {self.low}-{self.high}"
            if self.names:
                expected += f" or a name {self.names[0]}-{self.names[-1]}"
            raise self.error(text, f"{token!r} is not {expected}")
        number = int(token)
        if not self.low <= number <= self.high:
            raise self.error(text, f"{number} is outside {self.low}-{self.high}")
        return number

    def span(self, low: int, high: int) -> list[int]:
        """``low-high`` as a list; a range that wraps (``FRI-MON``, ``22-2``) runs past the top to the bottom."""
        if low <= high:
            return list(range(low, high + 1))
        return list(range(low, self.high + 1)) + list(range(self.low, high + 1))

    def expand(self, text: str) -> tuple[int, ...]:
        """A field of comma-separated items (``*``, ``n``, ``a-b``, ``x/step``) as its sorted values."""
        values: set[int] = set()
        for item in text.upper().split(","):
            if not item:
                raise self.error(text, "empty item in a list")
            base, slash, step_text = item.partition("/")
            if slash and not self.slash:
                raise self.error(text, "'/' is not allowed in this field")
            if base == "*":
                picked = list(range(self.low, self.high + 1))
            elif "-" in base:
                low_text, _, high_text = base.partition("-")
                low, high = self.value(low_text, text), self.value(high_text, text)
                if low > high and not self.cyclic:
                    raise self.error(text, f"range {base!r} runs backwards")
                picked = self.span(low, high)
            else:
                start = self.value(base, text)
                # "n/step" starts at n and runs to the top of the field ("1/10": minutes 1, 11, 21, ...).
                picked = list(range(start, self.high + 1)) if slash else [start]
            if slash:
                # Quartz, whose syntax AWS's cron follows, refuses a step above the field's top value
                # (AWS rejects cron(*/60 * * * ? *)); a year step may span the whole year range.
                top = self.high - self.low if self.name == "year" else self.high
                if not step_text.isdigit() or not 1 <= int(step_text) <= top:
                    raise self.error(text, f"step {step_text!r} must be a whole number 1-{top}")
                picked = picked[:: int(step_text)]
            values.update(picked)
        return tuple(sorted(values))


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, WEEKDAY_NAMES, slash=False)
_YEAR_FIELD = _Field("year", MIN_YEAR, MAX_YEAR, cyclic=False)
_FIELD_ORDER = "minutes hours day-of-month month day-of-week year"


def _parse_cron(text: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(
            f"cron expression {text!r}: has {len(fields)} fields, AWS requires {CRON_FIELDS} ({_FIELD_ORDER})"
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(
            f"cron day-of-month field {fields[2]!r} and day-of-week field {fields[4]!r}: exactly one must be '?'"
        )
    for field, value in ((_MINUTES, minutes), (_HOURS, hours), (_MONTH, month), (_YEAR_FIELD, year)):
        if "?" in value:
            raise field.error(value, "'?' is only allowed in day-of-month and day-of-week")
    return Cron(
        expression=text,
        minutes=_MINUTES.expand(minutes),
        hours=_HOURS.expand(hours),
        days_of_month=None if dom == "?" else _day_of_month(dom),
        months=_MONTH.expand(month),
        days_of_week=None if dow == "?" else _day_of_week(dow),
        years=_YEAR_FIELD.expand(year),
    )


def _day_of_month(text: str) -> DaySelector:
    field = _DAY_OF_MONTH
    upper = text.upper()
    if upper == "L":
        return DaySelector(field.name, "last-day")
    if upper == "LW":
        return DaySelector(field.name, "last-weekday")
    if upper.endswith("W"):
        # "nW" names a single day; Quartz refuses W in a list or a range.
        return DaySelector(field.name, "nearest-weekday", (field.value(upper[:-1], text),))
    if "L" in upper or "W" in upper:
        raise field.error(text, "L, LW and nW must be the whole field")
    if "#" in text:
        raise field.error(text, "'#' is only allowed in day-of-week")
    return DaySelector(field.name, "days", field.expand(text))


def _day_of_week(text: str) -> DaySelector:
    field = _DAY_OF_WEEK
    upper = text.upper()
    if upper == "L":  # alone, "the last day of the week": Saturday
        return DaySelector(field.name, "days", (SATURDAY,))
    if "#" in upper:
        # "If you use a '#' character, you can define only one expression in the day-of-week field."
        day_text, _, nth = upper.partition("#")
        if "," in upper or "-" in day_text or "#" in nth:
            raise field.error(text, "'#' allows a single day#n, not a list or a range")
        if not nth.isdigit() or not 1 <= int(nth) <= MAX_NTH_WEEKDAY:
            raise field.error(text, f"{nth!r} after '#' must be 1-{MAX_NTH_WEEKDAY}")
        return DaySelector(field.name, "nth-weekday", (field.value(day_text, text), int(nth)))
    if upper.endswith("L"):
        if "," in upper or "-" in upper:
            raise field.error(text, "'dL' (the last such day of the month) must be the whole field")
        return DaySelector(field.name, "last-of-weekday", (field.value(upper[:-1], text),))
    # No day name holds an L; WED holds the only W.
    if "L" in upper or "W" in upper.replace("WED", ""):
        raise field.error(text, "L must be alone or follow one day (5L); W belongs to day-of-month")
    return DaySelector(field.name, "days", field.expand(text))


# --- Time zones --------------------------------------------------------------------------------------------


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (Scheduler's ``ScheduleExpressionTimezone``); ValueError if unknown.

    Python's ``zoneinfo`` reads the system's time zone database, or the ``tzdata`` package when the
    system has none (as some minimal Lambda images do).
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if not available_timezones():
            raise ValueError(f"time zone {name!r}: no time zone database found; install the tzdata package") from None
        raise ValueError(f"time zone {name!r}: not an IANA time zone name (such as Europe/Paris)") from None


@dataclasses.dataclass(frozen=True, slots=True)
class _Clock:
    """How a zone's wall clock maps to UTC over a range of years, as offset changes.

    ``changes`` holds ``(instant, before, after)``: at UTC second ``instant`` the offset (seconds
    east of UTC) goes from ``before`` to ``after``. ``switches`` holds ``instant + before``, the wall
    time at which the old clock would show the change.
    """

    first_offset: int
    changes: tuple[tuple[int, int, int], ...]
    switches: tuple[int, ...]

    def locate(self, wall: int) -> tuple[int, bool]:
        """The offset of wall time ``wall`` (seconds) and whether AWS runs it.

        A wall time the clock skips (spring) does not run; one it repeats (autumn) runs once, at its
        first occurrence, so it takes the offset from before the change.
        """
        index = bisect.bisect_right(self.switches, wall)
        if index == 0:
            return self.first_offset, True
        instant, _before, after = self.changes[index - 1]
        return after, wall >= instant + after


_UTC_CLOCK = _Clock(0, (), ())


@functools.lru_cache(maxsize=32)
def _clock(zone_name: str, first_year: int, last_year: int) -> _Clock:
    """The offset changes of ``zone_name`` from the start of ``first_year`` to the end of ``last_year``.

    Offsets are sampled once a day and each change is then pinned to the second; zones change
    their offset at most a few times a year, never twice within a day.
    """
    if zone_name in UTC_NAMES:
        return _UTC_CLOCK
    zone = zone_of(zone_name)

    def offset(instant: int) -> int:
        delta = dt.datetime.fromtimestamp(instant, zone).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    start = _wall_seconds(first_year, 1, 1) - 2 * _DAY
    end = _wall_seconds(last_year + 1, 1, 1) + 2 * _DAY
    first = current = offset(start)
    changes: list[tuple[int, int, int]] = []
    instant = start
    while instant < end:
        following = offset(instant + _DAY)
        if following != current:
            low, high = instant, instant + _DAY  # offset(low) == current, offset(high) == following
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            changes.append((high, current, following))
            current = following
        instant += _DAY
    return _Clock(first, tuple(changes), tuple(at + before for at, before, _ in changes))


# --- Calendar helpers -----------------------------------------------------------------------------------


def _wall_seconds(year: int, month: int, day: int) -> int:
    """Seconds from 1970-01-01 00:00 to the start of a date, counting wall-clock days of 86,400 s."""
    return (dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL) * _DAY


def _aws_weekday(date: dt.date) -> int:
    """AWS's day-of-week number: 1 = Sunday ... 7 = Saturday."""
    return (date.weekday() + 1) % 7 + 1


@dataclasses.dataclass(frozen=True, slots=True)
class _MonthPattern:
    """The days a cron picks in one kind of month, and the widest step between two of them."""

    days: tuple[int, ...]
    widest_step: int  # days; 0 when fewer than two days
    widest_at: int  # index in ``days`` where the widest step starts


class _Calendar:
    """The matching months and days of one cron, one month at a time, from a start month on."""

    def __init__(self, cron: Cron) -> None:
        self.cron = cron
        self._patterns: dict[tuple[int, int], _MonthPattern] = {}

    def pattern(self, year: int, month: int) -> _MonthPattern:
        first_weekday = _aws_weekday(dt.date(year, month, 1))
        length = calendar.monthrange(year, month)[1]
        key = (length, first_weekday)
        if key not in self._patterns:
            days = self.cron.day_rule.days(length, first_weekday)
            steps = [b - a for a, b in itertools.pairwise(days)]
            widest = max(steps, default=0)
            self._patterns[key] = _MonthPattern(days, widest, steps.index(widest) if steps else 0)
        return self._patterns[key]

    def months(self, start_year: int, start_month: int) -> Iterator[tuple[int, int, _MonthPattern]]:
        """``(year, month, pattern)`` for every month the cron allows, from the start month on, with days."""
        first = bisect.bisect_left(self.cron.years, start_year)
        for year in self.cron.years[first:]:
            for month in self.cron.months:
                if (year, month) < (start_year, start_month):
                    continue
                pattern = self.pattern(year, month)
                if pattern.days:
                    yield year, month, pattern


# --- Runs ---------------------------------------------------------------------------------------------------


def next_runs(
    expression: str,
    after: dt.datetime,
    count: int,
    timezone: str = "UTC",
    *,
    start: dt.datetime | None = None,
) -> list[dt.datetime]:
    """The next ``count`` runs strictly after ``after``, as aware datetimes in ``timezone``.

    ``after`` must be aware. A ``rate`` has no fixed phase: it runs every interval from when the rule
    or schedule starts, so pass that instant as ``start`` (``StartDate``, or the rule's creation);
    without it the runs are counted from ``after``. A cron time skipped by a daylight-saving change
    is left out and a repeated one appears once, at its first occurrence, as Scheduler runs them.
    Fewer than ``count`` runs come back when the schedule ends. Raises ValueError for an invalid
    expression or time zone.
    """
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime (with tzinfo)")
    zone = zone_of(timezone)
    schedule = parse_schedule(expression)
    runs: list[dt.datetime] = []
    if isinstance(schedule, Rate):
        anchor = start or after
        steps = max(0, (after - anchor) // schedule.every + 1)
        return [(anchor + (steps + k) * schedule.every).astimezone(zone) for k in range(count)]
    if isinstance(schedule, At):
        when = schedule.when.replace(tzinfo=zone)
        return [when] if when > after and count > 0 else []
    local_after = after.astimezone(zone)
    times = [dt.time(h, m) for h in schedule.hours for m in schedule.minutes]
    for year, month, pattern in _Calendar(schedule).months(local_after.year, local_after.month):
        for day in pattern.days:
            date = dt.date(year, month, day)
            if date < local_after.date() - dt.timedelta(days=1):
                continue
            for time in times:
                run = dt.datetime.combine(date, time, zone)
                if _exists(run) and run > after:
                    runs.append(run)
                    if len(runs) == count:
                        return runs
    return runs


def _exists(local: dt.datetime) -> bool:
    """Whether a wall-clock time occurs in its zone (False inside a spring-forward gap)."""
    back = local.astimezone(dt.UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


@dataclasses.dataclass(frozen=True, slots=True)
class Gap:
    """The longest time between two consecutive runs, and its first occurrence (aware, UTC)."""

    length: dt.timedelta
    start: dt.datetime | None  # None for a rate: every gap is the same
    end: dt.datetime | None


def longest_gap(expression: str, timezone: str = "UTC", *, after: dt.datetime | None = None) -> dt.timedelta:
    """The longest time between two consecutive runs of ``expression`` from ``after`` (default: now) on.

    A job that runs every weekday at 09:00 has a longest gap of 3 days (Friday to Monday), not 1.
    EventBridge rules run in UTC; a Scheduler schedule's ``ScheduleExpressionTimezone`` goes in
    ``timezone`` and daylight saving counts: a daily 02:30 job in America/New_York has a 25-hour gap
    in autumn and, since its 02:30 does not exist on the spring change day and is skipped, a 47-hour
    gap in spring. A rate's gap is its interval. Runs are counted to the end of the cron's years
    (2199 at most), so a ``cron(0 0 29 2 ? *)`` sees the 8 years from 2096 to 2104.

    Raises ValueError naming the field for an expression AWS would reject or an unknown time zone,
    and :class:`NotRecurring` (a ValueError) when fewer than two runs remain after ``after``.
    """
    return find_longest_gap(expression, timezone, after=after).length


def find_longest_gap(expression: str, timezone: str = "UTC", *, after: dt.datetime | None = None) -> Gap:
    """Like :func:`longest_gap`, with where the longest gap first happens (for :func:`describe`)."""
    zone_of(timezone)
    schedule = parse_schedule(expression)
    if isinstance(schedule, Rate):
        return Gap(schedule.every, None, None)
    if isinstance(schedule, At):
        raise NotRecurring(f"{expression!r} is a one-time schedule: it runs once, so it has no gap")
    moment = after or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        raise ValueError("after must be an aware datetime (with tzinfo)")
    instant = int(moment.timestamp())
    found = _cron_longest_gap(schedule, timezone, instant)
    if found is None:
        raise NotRecurring(f"{expression!r} has fewer than two runs after {moment.isoformat()}: it has no gap")
    length, start = found
    begin = dt.datetime.fromtimestamp(start, dt.UTC)
    return Gap(dt.timedelta(seconds=length), begin, begin + dt.timedelta(seconds=length))


class _GapTracker:
    """Follows consecutive runs (UTC seconds) and keeps the widest gap and where it first starts.

    Gaps are offered in the order they start, so the first widest one is kept.
    """

    def __init__(self) -> None:
        self.previous: int | None = None
        self.runs = 0
        self.widest = -1
        self.widest_start = 0

    def consider(self, length: int, start: int) -> None:
        if length > self.widest:
            self.widest, self.widest_start = length, start

    def block(self, first: int, last: int, count: int, inner: int, inner_start: int) -> None:
        """Runs ``first`` .. ``last`` (``count`` of them) whose widest inner gap is ``inner`` at ``inner_start``."""
        if self.previous is not None:
            self.consider(first - self.previous, self.previous)
        if count > 1:
            self.consider(inner, inner_start)
        self.previous = last
        self.runs += count


def _cron_longest_gap(cron: Cron, zone_name: str, after: int) -> tuple[int, int] | None:
    """The widest gap (seconds) between consecutive runs after UTC second ``after``, and its start."""
    times = cron.times_of_day()
    steps = [b - a for a, b in itertools.pairwise(times)]
    day_widest = max(steps, default=0)
    day_widest_at = steps.index(day_widest) if steps else 0
    day_span = times[-1] - times[0]
    start = dt.datetime.fromtimestamp(after, dt.UTC) - dt.timedelta(days=2)  # the earliest wall date in any zone
    if start.year > cron.years[-1]:
        return None
    clock = _clock(zone_name, max(start.year, MIN_YEAR), cron.years[-1])
    tracker = _GapTracker()
    for year, month, pattern in _Calendar(cron).months(start.year, start.month):
        base = _wall_seconds(year, month, 1) - _DAY
        first_wall = base + pattern.days[0] * _DAY + times[0]
        last_wall = base + pattern.days[-1] * _DAY + times[-1]
        offset, runs = clock.locate(first_wall)
        uniform = runs and bisect.bisect_right(clock.switches, first_wall) == bisect.bisect_right(
            clock.switches, last_wall
        )
        if uniform and first_wall - offset > after:
            # One offset for the whole month: gaps are wall-clock gaps, read off the month's pattern.
            tracker.block(
                first_wall - offset,
                last_wall - offset,
                len(pattern.days) * len(times),
                day_widest,
                first_wall - offset + (times[day_widest_at] - times[0]),
            )
            if len(pattern.days) > 1:
                at = base + pattern.days[pattern.widest_at] * _DAY + times[-1] - offset
                tracker.consider(pattern.widest_step * _DAY - day_span, at)
            continue
        for day in pattern.days:
            _day_runs(tracker, clock, _Day(times, steps, day_widest, day_widest_at), base + day * _DAY, after)
    if tracker.runs < _RUNS_FOR_A_GAP:
        return None
    return tracker.widest, tracker.widest_start


@dataclasses.dataclass(frozen=True, slots=True)
class _Day:
    """A matching day's run times (seconds after midnight), the steps between them and the widest step."""

    times: Sequence[int]
    steps: Sequence[int]
    widest: int
    widest_at: int


def _day_runs(tracker: _GapTracker, clock: _Clock, plan: _Day, day: int, after: int) -> None:
    """Feed one day's runs (``day`` is its wall-clock midnight) to ``tracker``, cut where the offset changes."""
    times, steps = plan.times, plan.steps
    lo = bisect.bisect_right(clock.switches, day + times[0])
    hi = bisect.bisect_right(clock.switches, day + times[-1])
    offset, runs = clock.locate(day + times[0])
    if lo == hi and runs and day + times[0] - offset > after:
        tracker.block(
            day + times[0] - offset,
            day + times[-1] - offset,
            len(times),
            plan.widest,
            day + times[plan.widest_at] - offset,
        )
        return
    cuts = {0, len(times)}
    for index in range(max(lo - 1, 0), hi):
        instant, _before, after_offset = clock.changes[index]
        for wall in (clock.switches[index], instant + after_offset):
            cuts.add(min(max(bisect.bisect_left(times, wall - day), 0), len(times)))
    edges = sorted(cuts)
    for edge, end in itertools.pairwise(edges):
        if edge == end:
            continue
        offset, runs = clock.locate(day + times[edge])
        if not runs:
            continue
        begin = max(edge, bisect.bisect_right(times, after + offset - day))
        if begin >= end:
            continue
        inner, inner_at = 0, begin
        if end - begin > 1:
            inner = max(steps[begin : end - 1])
            inner_at = begin + steps[begin : end - 1].index(inner)
        tracker.block(
            day + times[begin] - offset,
            day + times[end - 1] - offset,
            end - begin,
            inner,
            day + times[inner_at] - offset,
        )


# --- For people -----------------------------------------------------------------------------------------------


def describe(
    expression: str,
    timezone: str = "UTC",
    count: int = 5,
    *,
    after: dt.datetime | None = None,
) -> list[str]:
    """The lines ``logship schedule EXPRESSION`` prints: the expression, its next runs and its longest gap.

    Raises ValueError (naming the field) for an invalid expression or time zone; a schedule that
    has ended or runs once is described, not refused.
    """
    moment = after or dt.datetime.now(dt.UTC)
    schedule = parse_schedule(expression)
    zone = zone_of(timezone)
    lines = [f"{schedule.expression}  (time zone {timezone})"]
    runs = next_runs(expression, moment, count, timezone)
    if isinstance(schedule, Rate):
        lines.append(f"runs every {_duration(schedule.every)}, counted from when the rule or schedule starts;")
        lines.append(f"if it started at {_stamp(moment.astimezone(zone))}, the next {count} runs would be:")
    elif runs:
        lines.append(f"next {len(runs)} run{'s' if len(runs) > 1 else ''} after {_stamp(moment.astimezone(zone))}:")
    else:
        lines.append(f"no run after {_stamp(moment.astimezone(zone))}")
    lines.extend(f"  {_stamp(run)}" for run in runs)
    try:
        gap = find_longest_gap(expression, timezone, after=moment)
    except NotRecurring:
        lines.append("longest gap: none (fewer than two runs left)")
        return lines
    if gap.start is None or gap.end is None:
        lines.append(f"longest gap: {_duration(gap.length)} (every gap)")
    else:
        lines.append(
            f"longest gap: {_duration(gap.length)}, first from {_stamp(gap.start.astimezone(zone))} "
            f"to {_stamp(gap.end.astimezone(zone))}"
        )
    return lines


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M %Z")


def _duration(length: dt.timedelta) -> str:
    """A duration as people say it: ``3 days``, ``1 day 1 hour``, ``47 hours`` is written ``1 day 23 hours``."""
    seconds = int(length.total_seconds())
    parts = []
    for unit, size in (("day", _DAY), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"
