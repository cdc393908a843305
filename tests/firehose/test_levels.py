"""Level step: the status of a JSON log from the level field its logging library wrote."""

from __future__ import annotations

import pytest
from conftest import load_fixture
from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.levels import FIELD_NAMES, LEVEL_FIELDS, STATUSES, is_http_code, level_of, status_of

# One log line per logging library family, as each writes it by default (or with its JSON
# formatter), and the Datadog status it should show.
LIBRARY_LOGS = [(row["library"], row["log"], row["status"]) for row in load_fixture("library_logs.json")]


@pytest.mark.parametrize(("library", "log", "status"), LIBRARY_LOGS, ids=[row[0] for row in LIBRARY_LOGS])
def test_each_logging_library_family_gets_its_status(library, log, status):
    """The level field each common logging library writes gives the status Datadog should show."""
    assert status_of(log) == status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("Emergency", "emergency"),
        ("crit", "critical"),
        ("Information", "info"),
        ("FATAL4", "critical"),
        ("alarm", "alert"),  # Datadog's rules: a leading "a" is alert
        ("Notable", "notice"),
        ("bogus", None),  # Datadog's "all others": no level
        ("", None),
        ("  warn  ", "warning"),
        ("3", "error"),  # numeric text reads as a number
        (7, "debug"),
        (10, "debug"),
        (200, None),
        (True, None),
        (None, None),
        ({"name": "error"}, None),
    ],
)
def test_level_values_normalise_or_are_no_level(value, status):
    """Known spellings normalise; other text follows Datadog's status rules; other values are no level."""
    assert level_of(value) == status


def test_numbers_read_by_the_scale_of_their_field():
    """The same number means different levels to pino, Python and OpenTelemetry, and each field reads its own."""
    assert status_of({"level": 30}) == "info"  # pino
    assert status_of({"levelno": 30}) == "warning"  # Python
    assert status_of({"severity_number": 9}) == "info"  # OpenTelemetry
    assert status_of({"severity_number": 0}) is None  # UNSPECIFIED
    assert status_of({"syslog.severity": 30}) is None  # syslog is 0-7 only


@pytest.mark.parametrize("code", [500, 503.0, "500", " 404 ", "200"])
def test_an_http_code_in_status_is_never_the_level(code):
    """A status holding an HTTP code, in any JSON type, is not read as a level; the level field is."""
    assert is_http_code(code)
    assert status_of({"status": code, "level": "error"}) == "error"
    assert status_of({"status": code}) is None


def test_status_is_read_first_when_it_is_a_level():
    """A level in status wins over other level fields; text in status that is no level is skipped."""
    assert status_of({"status": "warn", "level": "error"}) == "warning"
    assert status_of({"status": "pending", "level": "error"}) == "error"


def test_field_names_cover_every_level_field():
    """The set the hot path tests holds every flat field and the first name of every nested one."""
    assert {name for name, _ in LEVEL_FIELDS} | {"status", "log", "syslog", "record"} == FIELD_NAMES


ANY_LEVEL_VALUE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["ERROR", "warn", "Information", "FATAL2", "ERROR+2", "\u001b[33mwarn\u001b[39m"]),
    st.integers(-100, 100_000),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


@given(st.dictionaries(st.sampled_from(sorted(FIELD_NAMES)), ANY_LEVEL_VALUE, max_size=5))
def test_any_level_field_gives_a_datadog_status_or_none(log):
    """Whatever the level fields hold, the status is one of Datadog's or None, and reading it never raises."""
    assert status_of(log) in {*STATUSES, None}
