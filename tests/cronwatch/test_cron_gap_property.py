"""Longest gap against a brute-force reference: generated cron expressions, their runs listed one by one."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.cronwatch import NotRecurring, find_longest_gap, next_runs

UTC = dt.UTC
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Zones with an hour's change, a half hour's (Lord Howe), a change at midnight (Santiago), the Ramadan
# changes of Casablanca, and none at all.
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Africa/Casablanca",
    "Asia/Kolkata",
)


@dataclasses.dataclass(frozen=True)
class Generated:
    """A cron expression built from parts, with what each part means computed here, not by the parser."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_rule: Callable[[int, int], set[int]]  # (year, month) -> days of that month


def wrap(low: int, high: int, first: int, last: int) -> list[int]:
    """``first-last`` in a field running ``low``..``high``, wrapping past the top like FRI-MON."""
    if first <= last:
        return list(range(first, last + 1))
    return list(range(first, high + 1)) + list(range(low, last + 1))


@st.composite
def set_field(
    draw,
    low: int,
    high: int,
    names: tuple[str, ...] = (),
    *,
    steps: bool = True,
    min_step: int = 1,
    star: bool = True,
    max_list: int = 4,
    values: st.SearchStrategy[int] | None = None,
):
    """A field of ``*``, a value, a list, a range (possibly wrapping) or a step, as (text, values)."""
    kinds = (
        ["one", "list", "range"] + (["star"] if star else []) + (["step", "range_step", "star_step"] if steps else [])
    )
    kind = draw(st.sampled_from(kinds))

    def token(value: int) -> str:
        if names and draw(st.booleans()):
            spelled = names[value - low]
            return draw(st.sampled_from([spelled, spelled.lower(), spelled.title()]))
        return str(value)

    values = st.integers(low, high) if values is None else values
    if kind == "star":
        return "*", frozenset(range(low, high + 1))
    if kind == "one":
        value = draw(values)
        return token(value), frozenset({value})
    if kind == "list":
        picked = draw(st.lists(values, min_size=2, max_size=max_list))
        return ",".join(token(v) for v in picked), frozenset(picked)
    step = draw(st.integers(min_step, high))
    if kind == "range":
        first, last = draw(values), draw(values)
        return f"{token(first)}-{token(last)}", frozenset(wrap(low, high, first, last))
    if kind == "step":
        first = draw(values)
        return f"{first}/{step}", frozenset(range(first, high + 1, step))
    if kind == "star_step":
        return f"*/{step}", frozenset(range(low, high + 1, step))
    first, last = draw(values), draw(values)
    return f"{first}-{last}/{step}", frozenset(wrap(low, high, first, last)[::step])


def aws_weekday(year: int, month: int, day: int) -> int:
    return dt.date(year, month, day).isoweekday() % 7 + 1  # isoweekday: Monday 1 ... Sunday 7


def month_length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


@st.composite
def day_fields(draw):
    """Day-of-month and day-of-week text, one of them '?', and the rule picking days of a month."""
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["set", "L", "LW", "W"]))
        if kind == "set":
            text, days = draw(set_field(1, 31, max_list=5))
            return text, "?", lambda y, m: {d for d in days if d <= month_length(y, m)}
        if kind == "L":
            return "L", "?", lambda y, m: {month_length(y, m)}
        if kind == "LW":

            def last_weekday(y, m):
                day = month_length(y, m)
                while aws_weekday(y, m, day) in (1, 7):
                    day -= 1
                return {day}

            return "LW", "?", last_weekday
        target = draw(st.one_of(st.integers(1, 31), st.sampled_from([1, 28, 29, 30, 31])))

        def nearest(y, m):
            last = month_length(y, m)
            if target > last:
                return set()
            candidates = [d for d in range(1, last + 1) if aws_weekday(y, m, d) not in (1, 7)]
            # The closest weekday in the month; the earlier one on a tie cannot happen (a tie needs a weekend
            # day between two weekdays one day away on each side, and weekends come in pairs).
            return {min(candidates, key=lambda d: abs(d - target))}

        return f"{target}W", "?", nearest
    kind = draw(st.sampled_from(["set", "L", "nL", "nth"]))
    if kind == "set":
        text, weekdays = draw(set_field(1, 7, WEEKDAYS, steps=False, max_list=5))
        return "?", text, lambda y, m: {d for d in range(1, month_length(y, m) + 1) if aws_weekday(y, m, d) in weekdays}
    if kind == "L":
        return "?", "L", lambda y, m: {d for d in range(1, month_length(y, m) + 1) if aws_weekday(y, m, d) == 7}
    weekday = draw(st.integers(1, 7))
    name = draw(st.sampled_from([str(weekday), WEEKDAYS[weekday - 1]]))
    same = lambda y, m: [d for d in range(1, month_length(y, m) + 1) if aws_weekday(y, m, d) == weekday]  # noqa: E731
    if kind == "nL":
        return "?", f"{name}L", lambda y, m: {same(y, m)[-1]}
    nth = draw(st.integers(1, 5))
    return "?", f"{name}#{nth}", lambda y, m: set(same(y, m)[nth - 1 : nth])


@st.composite
def cron_expressions(draw, years: st.SearchStrategy[tuple[str, frozenset[int]]]):
    """A cron expression with at most a few hundred runs a day, so that the reference can list a year of them."""
    # Clocks change between midnight and 03:00: hours there are drawn often, so skipped and repeated
    # times come up.
    hours_text, hours = draw(set_field(0, 23, min_step=2, values=st.one_of(st.integers(0, 3), st.integers(0, 23))))
    if len(hours) <= 2 and draw(st.booleans()):
        minutes_text, minutes = "*", frozenset(range(60))
    else:
        minutes_text, minutes = draw(set_field(0, 59, min_step=10, star=False))
    dom, dow, rule = draw(day_fields())
    month_text, months = draw(set_field(1, 12, MONTHS))
    year_text, year_values = draw(years)
    return Generated(
        f"cron({minutes_text} {hours_text} {dom} {month_text} {dow} {year_text})",
        minutes,
        hours,
        months,
        year_values,
        rule,
    )


def reference_runs(
    cron: Generated, zone_name: str, after: dt.datetime, until: dt.datetime, limit: int | None = None
) -> list[int]:
    """Every run in (after, until] (the first ``limit`` of them), as UTC seconds, listed day by day, minute by minute.

    AWS Scheduler's rules, applied directly: a wall time the zone skips does not run, a repeated one
    runs once at its first occurrence (Python's fold=0).
    """
    zone = ZoneInfo(zone_name)
    runs = []
    day = (after - dt.timedelta(days=2)).date()
    while day <= (until + dt.timedelta(days=2)).date():
        if day.year in cron.years and day.month in cron.months and day.day in cron.day_rule(day.year, day.month):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    wall = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    back = wall.astimezone(UTC).astimezone(zone)
                    if back.replace(tzinfo=None) != wall.replace(tzinfo=None):
                        continue  # skipped by a spring-forward change
                    if after < wall <= until:
                        runs.append(int(wall.timestamp()))
        if limit is not None and len(runs) >= limit + 60 * 24:
            break
        day += dt.timedelta(days=1)
    return sorted(runs)[:limit]


def widest(runs: list[int]) -> int:
    return max(b - a for a, b in itertools.pairwise(runs))


afters = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2031, 12, 31), timezones=st.just(UTC))


@st.composite
def open_ended(draw):
    """An expression over any years and a start instant: the bound property's input."""
    after = draw(afters)
    first = after.year
    years = draw(
        st.sampled_from(
            [
                ("*", frozenset(range(1970, 2200))),
                (f"{first}-{first + 3}", frozenset(range(first, first + 4))),
                (f"{first - 1},{first + 1}", frozenset({first - 1, first + 1})),
                (f"{first}/2", frozenset(range(first, 2200, 2))),
            ]
        )
    )
    return draw(cron_expressions(st.just(years))), draw(st.sampled_from(ZONES)), after


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(open_ended())
def test_no_gap_over_a_year_is_longer_than_the_longest_gap(case):
    """For any valid expression, every gap between consecutive runs over a year is at most the computed longest gap."""
    cron, zone, after = case
    runs = reference_runs(cron, zone, after, after + dt.timedelta(days=366))
    try:
        gap = find_longest_gap(cron.expression, zone, after=after)
    except NotRecurring:
        assert len(runs) < 2, cron.expression
        return
    if len(runs) >= 2:
        assert widest(runs) <= gap.length.total_seconds(), cron.expression
    assert gap.start is not None and gap.end is not None
    assert gap.end - gap.start == gap.length


@st.composite
def one_year(draw):
    """An expression confined to one year, started before or during it: the reference then sees every run left."""
    year = draw(st.integers(2024, 2040))
    after = draw(st.datetimes(dt.datetime(year - 1, 12, 30), dt.datetime(year, 12, 31), timezones=st.just(UTC)))
    return draw(cron_expressions(st.just((str(year), frozenset({year}))))), draw(st.sampled_from(ZONES)), after, year


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_year())
def test_longest_gap_is_exact_when_every_run_is_known(case):
    """With all runs left listed (a single year), the longest gap equals the reference's widest, and starts there too."""
    cron, zone, after, year = case
    runs = reference_runs(cron, zone, after, dt.datetime(year + 1, 1, 3, tzinfo=UTC))
    try:
        gap = find_longest_gap(cron.expression, zone, after=after)
    except NotRecurring:
        assert len(runs) < 2, cron.expression
        return
    assert len(runs) >= 2, cron.expression
    longest = widest(runs)
    assert gap.length.total_seconds() == longest, cron.expression
    first = next(a for a, b in itertools.pairwise(runs) if b - a == longest)
    assert gap.start == dt.datetime.fromtimestamp(first, UTC), cron.expression


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(open_ended())
def test_next_runs_are_the_reference_runs(case):
    """``next_runs`` lists the same runs as the reference, in order, skipped and repeated times included."""
    cron, zone, after = case
    expected = reference_runs(cron, zone, after, after + dt.timedelta(days=400), limit=50)
    runs = next_runs(cron.expression, after, len(expected) or 1, zone)
    assert [int(r.timestamp()) for r in runs][: len(expected)] == expected, cron.expression


@settings(max_examples=150, deadline=None)
@given(day_fields(), st.integers(2024, 2040))
def test_day_rules_pick_the_reference_days(fields, year):
    """Over two years, a daily job runs on exactly the days the reference's reading of the day fields picks."""
    dom, dow, rule = fields
    expression = f"cron(0 12 {dom} * {dow} {year}-{year + 1})"
    start = dt.datetime(year, 1, 1, tzinfo=UTC)
    expected = [dt.date(y, m, d) for y in (year, year + 1) for m in range(1, 13) for d in sorted(rule(y, m))]
    assert [r.date() for r in next_runs(expression, start, 800)] == expected, expression
