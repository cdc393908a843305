"""Schedule expressions: AWS's syntax, the runs they name, their longest gap, daylight saving, rejections."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from logship.cronwatch import NotRecurring, describe, find_longest_gap, longest_gap, next_runs, parse_schedule
from logship.cronwatch.schedule import Cron, DaySelector, Rate

UTC = dt.UTC
JAN_2024 = dt.datetime(2024, 1, 1, tzinfo=UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


# --- The longest gap of AWS's own examples and of the rare patterns ---------------------------------------

GAPS = [
    # EventBridge User Guide, "Cron expressions reference", examples table.
    ("cron(0 10 * * ? *)", DAY),  # 10:00 every day
    ("cron(15 12 * * ? *)", DAY),  # 12:15 every day
    ("cron(0 18 ? * MON-FRI *)", 3 * DAY),  # 18:00 Monday-Friday: Friday to Monday
    ("cron(0 8 1 * ? *)", 31 * DAY),  # 08:00 on the 1st: a 31-day month
    ("cron(0/15 * * * ? *)", 15 * MINUTE),
    ("cron(0/10 * ? * MON-FRI *)", 2 * DAY + 10 * MINUTE),  # Fri 23:50 -> Mon 00:00
    ("cron(0/5 8-17 ? * MON-FRI *)", 2 * DAY + 14 * HOUR + 5 * MINUTE),  # Fri 17:55 -> Mon 08:00
    ("cron(0 9 ? * 2#1 *)", 35 * DAY),  # first Monday of the month: four or five weeks apart
    # The example: every weekday at 09:00.
    ("cron(0 9 ? * MON-FRI *)", 3 * DAY),
    ("cron(0 9 ? * 2-6 *)", 3 * DAY),
    # Wildcards and names.
    ("cron(0 0 L * ? *)", 31 * DAY),  # last day: Feb 28/29 -> Mar 31
    ("cron(0 12 ? * L *)", 7 * DAY),  # L alone in day-of-week is Saturday
    ("cron(0 22 ? * FRI-MON *)", 4 * DAY),  # a range that wraps: Mon 22:00 -> Fri 22:00
    ("cron(0 9-5 ? * MON-FRI *)", 2 * DAY + HOUR),  # hours 9-23 and 0-5: Fri 23:00 -> Mon 00:00
    ("cron(30 0 1 JAN,APR,JUL,OCT ? *)", 92 * DAY),  # quarterly: Jul 1 -> Oct 1
    ("cron(0 0 1 1-12/3 ? *)", 92 * DAY),  # the same with a step
    ("cron(0 7 ? * MON#1 *)", 35 * DAY),
    ("cron(0 0 29 2 ? *)", 2921 * DAY),  # Feb 29 only: 2096 -> 2104, 2100 is not a leap year
    ("rate(1 minute)", MINUTE),
    ("rate(5 minutes)", 5 * MINUTE),
    ("rate(1 hour)", HOUR),
    ("rate(7 days)", 7 * DAY),
]


@pytest.mark.parametrize(("expression", "gap"), GAPS)
def test_longest_gap_of_documented_and_rare_expressions(expression, gap):
    """Each expression's longest gap is the widest interval between two of its runs, weekends and month ends included."""
    assert longest_gap(expression, after=JAN_2024) == gap


def test_weekday_job_gap_is_friday_to_monday():
    """Every weekday at 09:00: the 3-day gap runs from a Friday 09:00 to the Monday 09:00 after it."""
    gap = find_longest_gap("cron(0 9 ? * MON-FRI *)", after=JAN_2024)
    assert (gap.start, gap.end) == (dt.datetime(2024, 1, 5, 9, tzinfo=UTC), dt.datetime(2024, 1, 8, 9, tzinfo=UTC))
    assert gap.start is not None and gap.start.strftime("%a") == "Fri"


def test_nearest_weekday_and_last_weekday_stay_in_the_month():
    """``1W`` on a Saturday 1st runs Monday the 3rd; ``LW`` on a Sunday last day runs the Friday before."""
    june_2024 = dt.datetime(2024, 6, 1, tzinfo=UTC)  # 2024-06-01 is a Saturday, 2024-06-30 a Sunday
    assert next_runs("cron(0 9 1W * ? *)", june_2024, 1)[0] == dt.datetime(2024, 6, 3, 9, tzinfo=UTC)
    assert next_runs("cron(0 9 LW * ? *)", june_2024, 1)[0] == dt.datetime(2024, 6, 28, 9, tzinfo=UTC)
    # 15W: 2024-09-15 is a Sunday, so Monday 16; 2024-06-15 is a Saturday, so Friday 14.
    runs = next_runs("cron(0 9 15W * ? *)", june_2024, 4)
    assert [r.day for r in runs] == [14, 15, 15, 16]


def test_last_and_nth_weekday_of_the_month():
    """``5L`` is the month's last Thursday; ``6#3`` its third Friday; a month without a fifth one is skipped."""
    assert [r.date() for r in next_runs("cron(0 9 ? * 5L *)", JAN_2024, 2)] == [
        dt.date(2024, 1, 25),
        dt.date(2024, 2, 29),
    ]
    assert [r.date() for r in next_runs("cron(0 9 ? * 6#3 *)", JAN_2024, 2)] == [
        dt.date(2024, 1, 19),
        dt.date(2024, 2, 16),
    ]
    # Fifth Monday: January 2024 has one (the 29th), February and March do not, April 2024 does (the 29th).
    assert [r.date() for r in next_runs("cron(0 9 ? * MON#5 *)", JAN_2024, 2)] == [
        dt.date(2024, 1, 29),
        dt.date(2024, 4, 29),
    ]


def test_aws_scheduler_example_last_friday_for_two_years():
    """Scheduler's own example, cron(15 10 ? * 6L 2022-2023): last Fridays, 35 days apart at most, then it ends."""
    assert longest_gap("cron(15 10 ? * 6L 2022-2023)", after=dt.datetime(2022, 1, 1, tzinfo=UTC)) == 35 * DAY
    runs = next_runs("cron(15 10 ? * 6L 2022-2023)", dt.datetime(2023, 12, 1, tzinfo=UTC), 5)
    assert runs == [dt.datetime(2023, 12, 29, 10, 15, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("expression", "after", "why"),
    [
        ("cron(15 10 ? * 6L 2022-2023)", dt.datetime(2023, 12, 1, tzinfo=UTC), "one run left"),
        ("cron(15 10 ? * 6L 2022-2023)", JAN_2024, "the years have ended"),
        ("cron(0 0 30 2 ? *)", JAN_2024, "February 30th never comes"),
        ("cron(0 0 1 1 ? 2199)", JAN_2024, "a single run"),
        ("at(2030-05-01T10:00:00)", JAN_2024, "a one-time schedule"),
    ],
)
def test_schedules_without_two_future_runs_have_no_gap(expression, after, why):
    """A valid schedule with fewer than two runs left raises NotRecurring, a ValueError, instead of a made-up gap."""
    with pytest.raises(NotRecurring, match="no gap"):
        longest_gap(expression, after=after)
    assert issubclass(NotRecurring, ValueError), why


def test_gap_counts_only_runs_after_the_given_instant():
    """Runs before ``after`` do not count: a year list's old gap is forgotten once it has passed."""
    expression = "cron(0 0 1 1 ? 2020,2030,2031)"
    assert longest_gap(expression, after=dt.datetime(2019, 6, 1, tzinfo=UTC)) == dt.timedelta(days=3653)
    assert longest_gap(expression, after=dt.datetime(2025, 6, 1, tzinfo=UTC)) == dt.timedelta(days=365)


def test_gap_ignores_earlier_runs_of_the_same_month():
    """A run earlier in the month than ``after`` is not the start of a gap: only what is still to come counts."""
    assert longest_gap("cron(0 12 1,31 1,2 ? 2025)", after=dt.datetime(2025, 1, 15, tzinfo=UTC)) == DAY


def test_gap_starts_from_the_local_date_west_of_utc():
    """At 01:00 UTC on Feb 1 it is still Jan 31 in New York, so that evening's 23:00 run is still to come."""
    after = dt.datetime(2024, 2, 1, 1, tzinfo=UTC)
    assert longest_gap("cron(0 23 31,1 1,2 ? 2024)", "America/New_York", after=after) == DAY
    runs = next_runs("cron(0 23 31,1 1,2 ? 2024)", after, 5, "America/New_York")
    assert [r.date() for r in runs] == [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]


def test_longest_gap_defaults_to_now():
    """Without ``after`` the gap is counted from now, and is the same for a schedule that repeats forever."""
    assert longest_gap("cron(0 9 ? * MON-FRI *)") == 3 * DAY


# --- Daylight saving (EventBridge Scheduler) ----------------------------------------------------------------


def test_autumn_change_lengthens_a_daily_gap_by_an_hour():
    """A daily 02:30 job in America/New_York waits 25 hours across the November change (02:30 EDT -> 02:30 EST)."""
    gap = find_longest_gap("cron(30 2 * * ? 2024)", "America/New_York", after=dt.datetime(2024, 6, 1, tzinfo=UTC))
    assert gap.length == 25 * HOUR
    new_york = ZoneInfo("America/New_York")
    assert gap.start == dt.datetime(2024, 11, 2, 2, 30, tzinfo=new_york)
    assert gap.end == dt.datetime(2024, 11, 3, 2, 30, tzinfo=new_york)


def test_spring_change_skips_a_time_that_does_not_exist():
    """02:30 does not exist on 2024-03-10 in New York: Scheduler skips that day, so the gap is 47 hours."""
    assert longest_gap("cron(30 2 * * ? *)", "America/New_York", after=JAN_2024) == 47 * HOUR
    runs = next_runs("cron(30 2 * * ? *)", dt.datetime(2024, 3, 9, 12, tzinfo=UTC), 2, "America/New_York")
    assert [r.date() for r in runs] == [dt.date(2024, 3, 11), dt.date(2024, 3, 12)]


def test_a_repeated_time_runs_once_at_its_first_occurrence():
    """01:30 happens twice on 2024-11-03 in New York; Scheduler runs it once, in daylight time (05:30 UTC)."""
    runs = next_runs("cron(30 1 * * ? *)", dt.datetime(2024, 11, 2, 12, tzinfo=UTC), 2, "America/New_York")
    assert [r.astimezone(UTC) for r in runs] == [
        dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        dt.datetime(2024, 11, 4, 6, 30, tzinfo=UTC),
    ]
    assert (
        longest_gap("cron(30 1 * * ? 2024)", "America/New_York", after=dt.datetime(2024, 6, 1, tzinfo=UTC)) == 25 * HOUR
    )


@pytest.mark.parametrize(
    ("expression", "zone", "gap"),
    [
        # Every minute in London: 00:59 BST (23:59 UTC) ... 01:59 BST, then 02:00 GMT an hour and a minute later.
        ("cron(* * * * ? 2024)", "Europe/London", HOUR + MINUTE),
        # Southern hemisphere: Sydney skips 02:00-03:00 on the first Sunday of October.
        ("cron(30 2 * * ? 2024)", "Australia/Sydney", 47 * HOUR),
        # Lord Howe Island moves its clock by 30 minutes: 01:50 then 02:00 half an hour later plus ten minutes.
        ("cron(0/10 * * * ? 2024)", "Australia/Lord_Howe", 40 * MINUTE),
        # Santiago changes at midnight: 00:30 does not exist on 2024-09-08.
        ("cron(30 0 * * ? 2024)", "America/Santiago", 47 * HOUR),
        # No daylight saving: every gap is a day.
        ("cron(30 2 * * ? 2024)", "Asia/Tokyo", DAY),
        ("cron(30 2 * * ? 2024)", "UTC", DAY),
    ],
)
def test_daylight_saving_in_several_zones(expression, zone, gap):
    """Each zone's own changes, of an hour or of half an hour, at 02:00 or at midnight, shape the longest gap."""
    assert longest_gap(expression, zone, after=dt.datetime(2024, 1, 1, tzinfo=UTC)) == gap


def test_rate_is_a_fixed_duration_whatever_the_zone():
    """``rate(1 day)`` is 24 hours even across a daylight-saving change (Scheduler User Guide)."""
    assert longest_gap("rate(1 day)", "America/New_York") == DAY
    runs = next_runs("rate(1 day)", dt.datetime(2024, 3, 9, 12, tzinfo=UTC), 2, "America/New_York")
    assert runs[1] - runs[0] == DAY
    assert runs[0] == dt.datetime(2024, 3, 10, 12, tzinfo=UTC)


def test_rate_runs_count_from_the_start_instant():
    """A rate's runs are ``start + k * interval``, the first of them strictly after ``after``."""
    start = dt.datetime(2024, 1, 1, 0, 7, tzinfo=UTC)
    runs = next_runs("rate(15 minutes)", dt.datetime(2024, 1, 1, 1, 0, tzinfo=UTC), 3, start=start)
    assert [r.strftime("%H:%M") for r in runs] == ["01:07", "01:22", "01:37"]


def test_at_runs_once_in_its_zone():
    """``at(...)`` is a wall-clock time in the schedule's zone, run once."""
    runs = next_runs("at(2030-05-01T10:00:00)", JAN_2024, 5, "Asia/Tokyo")
    assert [r.astimezone(UTC) for r in runs] == [dt.datetime(2030, 5, 1, 1, tzinfo=UTC)]
    assert next_runs("at(2020-05-01T10:00:00)", JAN_2024, 5) == []


def test_next_runs_are_aware_and_in_the_schedule_zone():
    """Runs come back as aware datetimes in the schedule's zone, strictly after ``after``, in order."""
    runs = next_runs("cron(0 9 ? * MON-FRI *)", dt.datetime(2024, 1, 5, 9, tzinfo=UTC), 3)
    assert runs == [dt.datetime(2024, 1, d, 9, tzinfo=UTC) for d in (8, 9, 10)]
    tokyo = next_runs("cron(0 9 * * ? *)", JAN_2024, 1, "Asia/Tokyo")[0]
    assert tokyo.utcoffset() == 9 * HOUR and tokyo.hour == 9
    with pytest.raises(ValueError, match="aware"):
        next_runs("cron(0 9 * * ? *)", dt.datetime(2024, 1, 1), 1)


# --- Parsing --------------------------------------------------------------------------------------------------


def test_fields_expand_to_sorted_values():
    """Lists, ranges, steps, names and wrapping ranges expand to the values AWS means."""
    cron = parse_schedule("cron(1/20 22-2 ? jan-mar,DEC fri-mon 2024-2030/3)")
    assert isinstance(cron, Cron)
    assert cron.minutes == (1, 21, 41)
    assert cron.hours == (0, 1, 2, 22, 23)
    assert cron.months == (1, 2, 3, 12)
    assert cron.days_of_week == DaySelector("day-of-week", "days", (1, 2, 6, 7))
    assert cron.days_of_month is None
    assert cron.years == (2024, 2027, 2030)
    assert parse_schedule("rate(2 hours)") == Rate("rate(2 hours)", 2 * HOUR)
    assert parse_schedule("  cron(0 0 * * ? *) ").expression == "cron(0 0 * * ? *)"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 9 ? * 8 *)", "cron day-of-week field '8': 8 is outside 1-7"),
        ("cron(0 9 ? * 0 *)", "cron day-of-week field '0'"),
        ("cron(60 9 * * ? *)", "cron minutes field '60'"),
        ("cron(0 24 * * ? *)", "cron hours field '24'"),
        ("cron(0 009 * * ? *)", "cron hours field '009'"),
        ("cron(0 9 32 * ? *)", "cron day-of-month field '32'"),
        ("cron(0 9 0 * ? *)", "cron day-of-month field '0'"),
        ("cron(0 9 * 13 ? *)", "cron month field '13'"),
        ("cron(0 9 * JANUARY ? *)", "cron month field 'JANUARY'"),
        ("cron(0 9 * * ? 1969)", "cron year field '1969'"),
        ("cron(0 9 * * ? 2200)", "cron year field '2200'"),
        ("cron(0 9 * * ? 2025-2024)", "cron year field '2025-2024': range '2025-2024' runs backwards"),
        ("cron(0 9 * * MON *)", "exactly one must be '?'"),  # "You can't use * in both"
        ("cron(0 18 * * * *)", "day-of-month field '*' and day-of-week field '*'"),
        ("cron(0 9 ? * ? *)", "exactly one must be '?'"),
        ("cron(7 20 * * 1-7 *)", "exactly one must be '?'"),  # AWS answers ValidationException
        ("cron(*/60 * * * ? *)", "cron minutes field '*/60': step '60'"),  # AWS rejects this one
        ("cron(0/0 * * * ? *)", "cron minutes field '0/0'"),
        ("cron(0 9 ? * MON/2 *)", "cron day-of-week field 'MON/2': '/' is not allowed"),
        ("cron(0 9 ? * 3#1,6#3 *)", "cron day-of-week field '3#1,6#3'"),  # AWS's own counter-example
        ("cron(0 9 ? * 2#6 *)", "cron day-of-week field '2#6'"),
        ("cron(0 9 ? * 2#0 *)", "cron day-of-week field '2#0'"),
        ("cron(0 9 ? * L-2 *)", "cron day-of-week field 'L-2'"),
        ("cron(0 9 ? * 1W *)", "cron day-of-week field '1W'"),
        ("cron(0 9 ? * 2L,3 *)", "cron day-of-week field '2L,3'"),
        ("cron(0 9 L-3 * ? *)", "cron day-of-month field 'L-3'"),
        ("cron(0 9 3L * ? *)", "cron day-of-month field '3L'"),
        ("cron(0 9 W * ? *)", "cron day-of-month field 'W'"),
        ("cron(0 9 1-5W * ? *)", "cron day-of-month field '1-5W'"),
        ("cron(0 9 1,L * ? *)", "cron day-of-month field '1,L'"),
        ("cron(0 9 32W * ? *)", "cron day-of-month field '32W'"),
        ("cron(0 9 1#2 * ? *)", "cron day-of-month field '1#2'"),
        ("cron(0 ? * * ? *)", "cron hours field '?'"),
        ("cron(0 9 * * ? 2024,)", "cron year field '2024,': empty item"),
        ("cron(0 -1 * * ? *)", "cron hours field '-1'"),
        ("cron(0 9 * * ?)", "has 5 fields, AWS requires 6"),
        ("cron(0 0 9 * * ? *)", "has 7 fields"),
        ("rate(0 minutes)", "rate value '0'"),
        ("rate(-1 minutes)", "rate value '-1'"),
        ("rate(1.5 hours)", "rate value '1.5'"),
        ("rate(1 hours)", "rate unit 'hours': a value of 1 takes the singular unit, rate(1 hour)"),
        ("rate(5 hour)", "rate unit 'hour': a value above 1 takes the plural unit, rate(5 hours)"),
        ("rate(2 weeks)", "rate unit 'weeks'"),
        ("at(2024-02-30T00:00:00)", "at date-time '2024-02-30T00:00:00': day is out of range"),
        ("at(2024-1-1T00:00:00)", "expected yyyy-mm-ddThh:mm:ss"),
        ("every 5 minutes", "expected rate(value unit), cron("),
        ("CRON(0 9 * * ? *)", "expected rate(value unit)"),
    ],
)
def test_invalid_expressions_name_the_offending_field(expression, message):
    """What AWS would reject raises one ValueError whose message names the field and its text."""
    with pytest.raises(ValueError) as caught:
        parse_schedule(expression)
    assert message in str(caught.value)
    assert not isinstance(caught.value, NotRecurring)


def test_unknown_time_zone_is_a_value_error():
    """A ScheduleExpressionTimezone that is not an IANA name raises ValueError naming it."""
    with pytest.raises(ValueError, match="time zone 'Mars/Olympus_Mons'"):
        longest_gap("cron(0 9 * * ? *)", "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="time zone"):
        next_runs("cron(0 9 * * ? *)", JAN_2024, 1, "../etc/passwd")


# --- For people -------------------------------------------------------------------------------------------------


def test_describe_prints_next_runs_and_the_longest_gap():
    """``describe`` gives the lines ``logship schedule`` prints: the expression, next runs, longest gap and where."""
    assert describe("cron(0 9 ? * MON-FRI *)", count=3, after=dt.datetime(2024, 1, 4, tzinfo=UTC)) == [
        "cron(0 9 ? * MON-FRI *)  (time zone UTC)",
        "next 3 runs after Thu 2024-01-04 00:00 UTC:",
        "  Thu 2024-01-04 09:00 UTC",
        "  Fri 2024-01-05 09:00 UTC",
        "  Mon 2024-01-08 09:00 UTC",
        "longest gap: 3 days, first from Fri 2024-01-05 09:00 UTC to Mon 2024-01-08 09:00 UTC",
    ]


def test_describe_shows_daylight_saving_in_local_time():
    """In a zone with daylight saving, the runs and the gap are shown in local time, offsets named."""
    lines = describe("cron(30 2 * * ? *)", "America/New_York", count=2, after=dt.datetime(2024, 3, 9, 5, tzinfo=UTC))
    assert lines == [
        "cron(30 2 * * ? *)  (time zone America/New_York)",
        "next 2 runs after Sat 2024-03-09 00:00 EST:",
        "  Sat 2024-03-09 02:30 EST",
        "  Mon 2024-03-11 02:30 EDT",
        "longest gap: 1 day 23 hours, first from Sat 2024-03-09 02:30 EST to Mon 2024-03-11 02:30 EDT",
    ]


def test_describe_rates_one_time_and_ended_schedules():
    """A rate says it counts from its start; a one-time or ended schedule says it has no gap."""
    rate = describe("rate(1 hour)", count=2, after=JAN_2024)
    assert rate[1].startswith("runs every 1 hour, counted from when the rule or schedule starts")
    assert rate[-1] == "longest gap: 1 hour (every gap)"
    once = describe("at(2030-05-01T10:00:00)", "Europe/Paris", after=JAN_2024)
    assert once[1:] == [
        "next 1 run after Mon 2024-01-01 01:00 CET:",
        "  Wed 2030-05-01 10:00 CEST",
        "longest gap: none (fewer than two runs left)",
    ]
    ended = describe("cron(0 0 1 1 ? 2020)", after=JAN_2024)
    assert ended[1:] == ["no run after Mon 2024-01-01 00:00 UTC", "longest gap: none (fewer than two runs left)"]
    with pytest.raises(ValueError, match="day-of-week field"):
        describe("cron(0 9 ? * 9 *)")
