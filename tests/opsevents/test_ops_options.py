"""Routing options and the parsers settings will use for LOGSHIP_SLACK_SEVERITIES and LOGSHIP_EVENTS_IGNORE."""

from __future__ import annotations

import pytest

from logship.errors import ConfigError
from logship.opsevents import RoutingOptions, Severity, parse_ignore_pattern, parse_slack_severities
from logship.opsevents.options import DEFAULT_SLACK_SEVERITIES, IGNORE_PATTERN_MAX_CHARS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {Severity.ERROR, Severity.WARNING}),
        ("", {Severity.ERROR, Severity.WARNING}),
        ("  ", {Severity.ERROR, Severity.WARNING}),
        ("error", {Severity.ERROR}),
        ("error,warning,success", {Severity.ERROR, Severity.WARNING, Severity.SUCCESS}),
        (" Error , INFO ", {Severity.ERROR, Severity.INFO}),
        ("error,,warning,", {Severity.ERROR, Severity.WARNING}),
        ("all", set(Severity)),
        ("none", set()),
    ],
)
def test_slack_severities_parse(value, expected):
    """A comma-separated list of severities, case-insensitive; unset is error and warning; all and none work."""
    assert parse_slack_severities(value) == frozenset(expected)


@pytest.mark.parametrize("value", ["errors", "error,critical", "all,error", "none,error", "1"])
def test_unknown_slack_severity_names_the_variable(value):
    """An unknown name raises ConfigError naming LOGSHIP_SLACK_SEVERITIES and the offending word."""
    with pytest.raises(ConfigError, match=r"^LOGSHIP_SLACK_SEVERITIES: unknown severity"):
        parse_slack_severities(value)


def test_ignore_pattern_parses_and_matches_names():
    """A regular expression is compiled once and searched in names; unset or blank ignores nothing."""
    assert parse_ignore_pattern(None) is None
    assert parse_ignore_pattern("   ") is None
    pattern = parse_ignore_pattern(r"^hoge-auto-test$|-sandbox$")
    assert pattern is not None
    options = RoutingOptions(ignore=pattern)
    assert options.ignores(("web-release", "hoge-auto-test")) == "hoge-auto-test"
    assert options.ignores(("web-sandbox",)) == "web-sandbox"
    assert options.ignores(("web-release", "")) is None
    assert RoutingOptions().ignores(("anything",)) is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("(unclosed", "not a regular expression"),
        (".*", "matches an empty string"),
        ("test|", "matches an empty string"),
        ("x" * (IGNORE_PATTERN_MAX_CHARS + 1), "characters, over"),
    ],
)
def test_bad_ignore_pattern_names_the_variable(value, words):
    """A pattern that does not compile, matches every name or is absurdly long raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match=r"^LOGSHIP_EVENTS_IGNORE: ") as raised:
        parse_ignore_pattern(value)
    assert words in str(raised.value)


def test_variable_name_can_be_given():
    """Settings can read the same formats under another variable name, which the error then names."""
    with pytest.raises(ConfigError, match=r"^OTHER_VAR: "):
        parse_slack_severities("bogus", variable="OTHER_VAR")


def test_defaults():
    """By default Slack hears errors and warnings, nothing is ignored, pipeline builds are left to pipelines."""
    options = RoutingOptions()
    assert options.slack_severities == DEFAULT_SLACK_SEVERITIES == {Severity.ERROR, Severity.WARNING}
    assert options.ignore is None and options.extra_tags == ()
    assert options.skip_pipeline_builds and not options.pipeline_stages_and_actions
