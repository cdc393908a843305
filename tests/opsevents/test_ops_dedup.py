"""Dedup: a bounded, least-recently-used memory of the keys a warm container already notified."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opsfixtures import SHOW_ALL, fixture

from logship.opsevents import OpsEvent, RecentKeys, interpret
from logship.opsevents.dedup import DEFAULT_MAX_KEYS


def test_a_remembered_key_is_seen_and_a_new_one_is_not():
    """After remember(k), seen(k) is True; keys never remembered are not seen."""
    keys = RecentKeys()
    assert not keys.seen("a")
    keys.remember("a")
    assert keys.seen("a")
    assert not keys.seen("b")
    assert len(keys) == 1 and keys.max_keys == DEFAULT_MAX_KEYS


def test_the_least_recently_used_key_goes_first():
    """Past the bound the oldest key is evicted, and a key that was seen again counts as recent."""
    keys = RecentKeys(max_keys=3)
    for key in "abc":
        keys.remember(key)
    assert keys.seen("a")  # a is now the most recent
    keys.remember("d")
    assert "b" not in keys
    assert all(k in keys for k in "acd")
    assert len(keys) == 3


def test_a_bound_below_one_is_refused():
    """A store that could hold nothing is a configuration mistake."""
    with pytest.raises(ValueError, match="at least 1"):
        RecentKeys(max_keys=0)


@settings(deadline=None)
@given(st.lists(st.text(max_size=5), max_size=200), st.integers(1, 20))
def test_never_holds_more_than_its_bound_and_keeps_the_newest(keys_added, bound):
    """Whatever is remembered, the store holds at most its bound, and the last key remembered is always there."""
    keys = RecentKeys(max_keys=bound)
    for key in keys_added:
        keys.remember(key)
        assert len(keys) <= bound
        assert keys.seen(key)


def test_a_redelivered_task_change_is_recognised():
    """The same ECS task change delivered twice, under two event ids, has one dedup key: the second is seen."""
    first = fixture("ecs-task-exit-137-oom")
    second = dict(first, id="a-different-event-id")
    keys = RecentKeys()
    outcomes = [*interpret(first, SHOW_ALL), *interpret(second, SHOW_ALL)]
    assert all(isinstance(o, OpsEvent) for o in outcomes)
    notified = []
    for outcome in outcomes:
        assert isinstance(outcome, OpsEvent)
        if not keys.seen(outcome.dedup_key):
            notified.append(outcome)
            keys.remember(outcome.dedup_key)
    assert len(notified) == 1
    newer = fixture("ecs-task-exit-137-oom")
    newer["detail"]["version"] = 6
    (later,) = interpret(newer, SHOW_ALL)
    assert isinstance(later, OpsEvent) and not keys.seen(later.dedup_key)
