"""Date step: every date Datadog reads from an entry is one it keeps; app dates in any unit become epoch ms."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.timestamps import (
    DATE_ATTRIBUTES,
    DateWindow,
    app_date_ms,
    datadog_date_ms,
    date_fate,
    restamp_dates,
    settle_dates,
    shared_date_fate,
)

NOW_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z
HOUR_MS = 3_600_000
WINDOW = DateWindow.around(NOW_MS)
EVENT_MS = NOW_MS - 1_000


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1_800_000_000, 1_800_000_000_000),  # seconds
        (1_799_999_999.944, 1_799_999_999_944),  # float seconds (time.time(), zap, GELF, structlog)
        (1_800_000_000_123, 1_800_000_000_123),  # milliseconds
        (1_800_000_000_123.7, 1_800_000_000_124),  # float milliseconds
        (1_800_000_000_123_456, 1_800_000_000_123),  # microseconds
        (1_800_000_000_123_456_789, 1_800_000_000_123),  # nanoseconds, exact
        ("1800000000", 1_800_000_000_000),  # numeric text
        (" 1799999999.5 ", 1_799_999_999_500),
        ("1800000000123456789", 1_800_000_000_123),
        ("2027-01-15T08:00:00Z", 1_800_000_000_000),  # ISO 8601
        ("2027-01-15T09:00:00.123456789+01:00", 1_800_000_000_123),
        ("2027-01-15 08:00:00,250", 1_800_000_000_250),  # Python's asctime, no zone: UTC
        (12345, None),  # no plausible time in any unit
        (0, None),
        (-1_800_000_000, None),
        (float("inf"), None),
        ("yesterday", None),
        ("1_800_000_000", None),
        (True, None),
        (None, None),
        ({"epochSecond": 1_800_000_000}, None),
    ],
)
def test_app_dates_in_any_unit_read_as_epoch_ms(value, ms):
    """Numbers and numeric text are read in the unit their size says; ISO text as ISO; the rest is no time."""
    assert app_date_ms(value) == ms


def test_datadog_reads_every_number_as_milliseconds():
    """What Datadog itself reads: epoch seconds are a date in 1970, nanoseconds one far ahead."""
    assert datadog_date_ms(1_800_000_000) == 1_800_000_000
    assert datadog_date_ms(1_800_000_000_000) == 1_800_000_000_000
    assert datadog_date_ms("2027-01-15T08:00:00Z") == 1_800_000_000_000
    assert datadog_date_ms("Jan  1 00:00:00") is None


def test_the_window_is_datadogs_narrowed_by_the_time_to_intake():
    """18 hours back and 2 hours ahead of now, minus the 15 minutes an entry may take to reach Datadog."""
    assert DateWindow(NOW_MS - 18 * HOUR_MS + 900_000, NOW_MS + 2 * HOUR_MS - 900_000) == WINDOW
    assert WINDOW.keeps(NOW_MS) and not WINDOW.keeps(NOW_MS - 18 * HOUR_MS)


def test_epoch_seconds_become_milliseconds_and_the_apps_value_stays_visible():
    """An app's epoch-seconds timestamp is rewritten in ms; its own value is kept under logship."""
    log = {"timestamp": 1_799_999_999.944, "level": "info"}
    settle_dates(log, EVENT_MS, WINDOW)
    assert log == {
        "timestamp": 1_799_999_999_944,
        "level": "info",
        "logship": {"original_timestamp": 1_799_999_999.944},
    }


def test_dates_datadog_reads_right_stay_as_written():
    """Epoch ms and ISO text inside the window are what Datadog reads: kept byte for byte, nothing added."""
    log = {"timestamp": NOW_MS - HOUR_MS, "@timestamp": "2027-01-15T07:59:00Z"}
    settle_dates(log, EVENT_MS, WINDOW)
    assert log == {"timestamp": NOW_MS - HOUR_MS, "@timestamp": "2027-01-15T07:59:00Z"}


@pytest.mark.parametrize("name", [n for n in DATE_ATTRIBUTES if n != "timestamp"])
def test_any_date_attribute_datadog_would_discard_moves_aside(name):
    """A date 48 h old in any attribute Datadog reads is moved under logship; the event time dates the entry."""
    log = {name: "2027-01-13T08:00:00Z", "msg": "m"}
    settle_dates(log, EVENT_MS, WINDOW)
    assert log == {"msg": "m", "logship": {f"original_{name}": "2027-01-13T08:00:00Z"}, "timestamp": EVENT_MS}


def test_nested_syslog_timestamp_is_checked_too():
    """syslog.timestamp is read nested as well as flat."""
    log = {"syslog": {"timestamp": NOW_MS + 5 * HOUR_MS, "appname": "a"}}
    settle_dates(log, EVENT_MS, WINDOW)
    assert log == {
        "syslog": {"appname": "a"},
        "logship": {"original_syslog.timestamp": NOW_MS + 5 * HOUR_MS},
        "timestamp": EVENT_MS,
    }


def test_an_event_time_outside_the_window_leaves_no_date():
    """When even the CloudWatch event time would be discarded, the entry has no date: Datadog dates it at intake."""
    log: dict[str, Any] = {"timestamp": "garbage"}
    settle_dates(log, NOW_MS - 20 * HOUR_MS, WINDOW)
    assert log == {"logship": {"original_timestamp": "garbage"}}


def test_restamp_moves_what_datadog_would_discard_as_datadog_reads_it():
    """For built entries numbers are ms: epoch seconds (1970) and old ISO text move; recent ones stay."""
    entry = {
        "timestamp": 1_800_000_000,
        "date": "2027-01-13T08:00:00Z",
        "eventTime": NOW_MS - HOUR_MS,
        "syslog": {"timestamp": "2027-01-15T07:00:00Z"},
    }
    assert restamp_dates(entry, WINDOW)
    assert entry == {
        "eventTime": NOW_MS - HOUR_MS,
        "syslog": {"timestamp": "2027-01-15T07:00:00Z"},
        "logship": {"original_timestamp": 1_800_000_000, "original_date": "2027-01-13T08:00:00Z"},
    }
    assert not restamp_dates(entry, WINDOW)


DATE_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(1_000_000_000, 2_000_000_000_000_000_000),
    st.floats(1e9, 1e19),
    st.text(max_size=30),
    st.datetimes().map(lambda d: d.isoformat()),
    st.booleans(),
    st.none(),
)


@given(st.dictionaries(st.sampled_from(DATE_ATTRIBUTES), DATE_VALUES, max_size=4), st.integers(0, 2**45))
def test_every_date_left_is_one_datadog_keeps(log, event_ms):
    """Whatever dates an app wrote, each one left after settling is read by Datadog inside its window."""
    settle_dates(log, event_ms, WINDOW)
    for name in DATE_ATTRIBUTES:
        if name in log:
            ms = datadog_date_ms(log[name])
            assert ms is not None and WINDOW.keeps(ms)


COLUMNS = st.one_of(
    st.lists(DATE_VALUES, min_size=1, max_size=5),
    st.lists(st.integers(NOW_MS - 30 * HOUR_MS, NOW_MS + 10 * HOUR_MS), min_size=1, max_size=5),
    st.lists(
        st.integers(NOW_MS - 30 * HOUR_MS, NOW_MS + 10 * HOUR_MS).map(
            lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(timespec="milliseconds")
        ),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.datetimes(timezones=st.none() | st.just(datetime.UTC)).map(str), min_size=1, max_size=5),
)


@given(COLUMNS)
def test_a_column_of_dates_shares_a_fate_only_when_each_date_has_it(values):
    """Read a column at a time, dates share a fate exactly when each one, read alone, has it; the same milliseconds."""
    fates = [date_fate(value, WINDOW) for value in values]
    shared = shared_date_fate(values, WINDOW)
    if shared is None:
        assert len({fate for fate, _ms in fates}) > 1
    else:
        assert {fate for fate, _ms in fates} == {shared[0]}
        if shared[0] == "rewrite":
            assert shared[1] == [ms for _fate, ms in fates]
