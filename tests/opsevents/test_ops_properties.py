"""Hypothesis: no JSON value makes interpret raise, and every payload stays within Slack's and Datadog's limits."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opsfixtures import FIXTURE_NAMES, SHOW_ALL, datadog_limits_hold, fixture, slack_limits_hold

from logship.opsevents import (
    ContainerFact,
    Fact,
    Kind,
    Link,
    OpsEvent,
    RoutingOptions,
    Severity,
    Skipped,
    SkipReason,
    datadog_event,
    interpret,
    slack_message,
)
from logship.opsevents.interpret import READERS

# Text with markup Slack and markdown care about, lone surrogates, and now and then a huge value.
TEXT = st.text(st.characters(codec=None), max_size=60) | st.sampled_from(
    ["&", "<", ">", "<!channel>", "|", "*", "`", "%%%", "\ud800", "\n", "OutOfMemoryError: x",
     "CannotPullContainerError: not found", "codepipeline/p", "service:web", "family:job", "STOPPED", "FAILED"]
)
HUGE = st.integers(2_100, 12_000).map(lambda n: ("<&x|" * (n // 4 + 1))[:n])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
    | HUGE
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=20,
)
DELETE = object()
OPTIONS = st.sampled_from([SHOW_ALL, RoutingOptions()])


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(paths(child, (*prefix, index)))
    return found


def set_at(root: Any, path: tuple[Any, ...], value: Any) -> None:
    """Replace (or delete) the value at ``path``; a path made stale by an earlier change is left alone."""
    parent = root
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(parent, dict) or (isinstance(parent, list) and isinstance(last, int) and last < len(parent)):
        if value is DELETE and isinstance(parent, dict):
            parent.pop(last, None)
        elif value is not DELETE:
            parent[last] = value


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> Any:
    """A fixture event with a few of its fields replaced by any JSON (huge strings included) or removed."""
    event = copy.deepcopy(fixture(draw(st.sampled_from(FIXTURE_NAMES))))
    candidates = paths(event)
    for path in draw(st.lists(st.sampled_from(candidates), max_size=6)):
        set_at(event, path, draw(JSON | HUGE | st.just(DELETE)))
    return event


@st.composite
def event_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """A known source and detail-type with a detail of arbitrary JSON, so every reader sees garbage."""
    source, detail_type = draw(st.sampled_from(sorted(READERS)))
    return {
        "source": source,
        "detail-type": detail_type,
        "id": draw(TEXT),
        "time": draw(st.sampled_from(["2024-06-12T04:20:43Z", "", "junk"]) | TEXT),
        "region": draw(st.sampled_from(["ap-northeast-1", "cn-north-1", "us-gov-west-1", ""]) | TEXT),
        "account": draw(TEXT),
        "resources": draw(st.lists(TEXT | HUGE, max_size=3) | JSON),
        "detail": draw(st.dictionaries(TEXT, JSON, max_size=8) | JSON),
    }


def check(payload: Any, options: RoutingOptions) -> None:
    """The payload reads without an exception, no reader fails, and each event's payloads keep every limit."""
    outcomes = interpret(payload, options, ("env:prod",))
    assert outcomes
    for outcome in outcomes:
        assert isinstance(outcome, OpsEvent | Skipped)
        if isinstance(outcome, Skipped):
            assert outcome.reason is not SkipReason.UNREADABLE, outcome
            continue
        datadog_limits_hold(datadog_event(outcome))
        slack_limits_hold(slack_message(outcome))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON, OPTIONS)
def test_any_json_value_never_raises(payload, options):
    """Any JSON value as the Lambda's payload gives OpsEvents or Skipped, never an exception."""
    check(payload, options)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(TEXT, JSON, max_size=10), OPTIONS)
def test_any_json_object_never_raises(payload, options):
    """Any JSON object, including ones with Records, gives OpsEvents or Skipped, never an exception."""
    check(payload, options)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event_shaped(), OPTIONS)
def test_known_event_types_with_any_detail_never_raise_and_keep_limits(payload, options):
    """Every reader, given a detail of any shape, reads it without an error and its payloads keep the limits."""
    check(payload, options)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_fixtures(), OPTIONS)
def test_real_events_with_any_field_changed_never_raise_and_keep_limits(payload, options):
    """The fixtures with fields replaced by any JSON, huge values or nothing still read, within every limit."""
    check(payload, options)


def _comparable(outcome: OpsEvent | Skipped) -> Any:
    """An outcome without the ids an SNS MessageId may stand in for."""
    if isinstance(outcome, OpsEvent):
        return dataclasses.replace(outcome, event_id="", dedup_key="")
    return outcome.reason


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_fixtures())
def test_sns_wrapping_gives_the_same_outcome_as_the_bare_event(payload):
    """An event read through an SNS record gives the same ops event as the event itself."""
    if not isinstance(payload, dict) or "Records" in payload:
        return
    bare = interpret(payload, SHOW_ALL)
    wrapped = interpret({"Records": [{"Sns": {"MessageId": "m-1", "Message": json.dumps(payload)}}]}, SHOW_ALL)
    assert [_comparable(o) for o in wrapped] == [_comparable(o) for o in bare]
    for before, after in zip(bare, wrapped, strict=True):
        if isinstance(before, OpsEvent) and isinstance(after, OpsEvent) and before.event_id:
            assert after.dedup_key == before.dedup_key


OPS_EVENTS = st.builds(
    OpsEvent,
    kind=st.sampled_from(Kind),
    state=TEXT,
    title=TEXT | HUGE,
    text=TEXT | HUGE,
    severity=st.sampled_from(Severity),
    hint=st.none() | TEXT | HUGE,
    tags=st.lists(TEXT | HUGE, max_size=150).map(tuple),
    dedup_key=TEXT,
    aggregation_key=TEXT | HUGE,
    time=st.none() | st.datetimes(timezones=st.just(UTC)),
    source=TEXT,
    detail_type=TEXT,
    event_id=TEXT | HUGE,
    region=TEXT,
    account=TEXT,
    facts=st.lists(st.builds(Fact, TEXT | HUGE, TEXT | HUGE), max_size=30).map(tuple),
    containers=st.lists(
        st.builds(ContainerFact, TEXT | HUGE, st.none() | st.integers(), TEXT | HUGE, TEXT, st.none() | TEXT | HUGE),
        max_size=70,
    ).map(tuple),
    links=st.lists(st.builds(Link, TEXT | HUGE, TEXT | HUGE), max_size=12).map(tuple),
    names=st.just(()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(OPS_EVENTS)
def test_any_ops_event_gives_payloads_within_every_limit(ops):
    """Whatever an OpsEvent holds, the Datadog body and the Slack message keep every documented limit."""
    datadog_limits_hold(datadog_event(ops))
    slack_limits_hold(slack_message(ops))
