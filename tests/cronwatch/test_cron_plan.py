"""Planner: create what is missing, update what drifted, delete only managed monitors, ignore Datadog's own fields."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from logship.cronwatch import (
    MANAGED_BY_TAG,
    DesiredMonitor,
    FieldChange,
    Job,
    JobSource,
    MonitorOptions,
    desired_monitors,
    plan,
    render_plan,
)
from logship.cronwatch.planner import MonitorPlan

AFTER = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
JOBS = [
    Job(
        name="billing-report",
        schedule="cron(0 9 ? * MON-FRI *)",
        source=JobSource.RULE,
        task_family="billing-report",
        cluster="cron",
        system="cron",
        service="billing-report",
        schedule_name="billing-report",
        tags=("team:billing",),
        notify=("@slack-billing",),
    ),
    Job(name="cleanup", schedule="rate(15 minutes)", task_family="cleanup", cluster="cron", service="cleanup"),
]
DESIRED = desired_monitors(JOBS, after=AFTER)
_ids = itertools.count(1000)


def as_datadog_returns(body: dict[str, Any], monitor_id: int) -> dict[str, Any]:
    """A monitor as GET /api/v1/monitor answers: Datadog's own fields, option defaults, float thresholds, tags reordered."""
    monitor = copy.deepcopy(body)
    monitor["tags"] = list(reversed(monitor["tags"]))
    options = monitor["options"]
    options["thresholds"] = {key: float(value) for key, value in options["thresholds"].items()} | {"warning": None}
    options |= {"notify_audit": False, "silenced": {}, "new_host_delay": 300, "escalation_message": ""}
    return monitor | {
        "id": monitor_id,
        "created": "2024-01-01T00:00:00.000000+00:00",
        "modified": "2024-01-01T00:00:00.000000+00:00",
        "creator": {"email": "ops@example.com", "handle": "ops@example.com", "name": "Ops"},
        "overall_state": "OK",
        "overall_state_modified": None,
        "multi": False,
        "restricted_roles": None,
        "deleted": None,
        "org_id": 2,
    }


def apply(existing: list[dict[str, Any]], monitor_plan: MonitorPlan, *, prune: bool) -> list[dict[str, Any]]:
    """What Datadog holds after ``apply`` carries out the plan (what phase two's HTTP calls do)."""
    by_id = {m["id"]: m for m in existing}
    for update in monitor_plan.update:
        if update.recreate:
            del by_id[update.monitor_id]
            new_id = next(_ids)
            by_id[new_id] = as_datadog_returns(update.desired.body, new_id)
        else:
            by_id[update.monitor_id] = as_datadog_returns(update.desired.body, update.monitor_id)
    for create in monitor_plan.create:
        new_id = next(_ids)
        by_id[new_id] = as_datadog_returns(create.body, new_id)
    if prune:
        for delete in monitor_plan.delete:
            del by_id[delete.monitor_id]
    return list(by_id.values())


def unmanaged(monitor_id: int, **fields: Any) -> dict[str, Any]:
    return {"id": monitor_id, "name": "someone's monitor", "type": "metric alert", "query": "avg(last_5m):x{*} > 1",
            "message": "", "tags": ["team:web"], "options": {}, **fields}  # fmt: skip


def test_first_plan_creates_everything():
    """Against an empty Datadog every desired monitor is created and nothing else happens."""
    result = plan(DESIRED, [])
    assert [m.identity for m in result.create] == [m.identity for m in DESIRED.monitors]
    assert (result.update, result.delete, result.unchanged) == ((), (), ())


def test_applying_twice_changes_nothing_the_second_time():
    """After apply, Datadog's answers (with its own ids, dates, defaults and floats) plan to no change, twice."""
    state = apply([], plan(DESIRED, []), prune=False)
    for _ in range(2):
        again = plan(DESIRED, state)
        assert not again.changes_anything(prune=True)
        assert set(again.unchanged) == {m.identity for m in DESIRED.monitors}
        state = apply(state, again, prune=True)


def test_drift_is_detected_and_diffed_field_by_field():
    """A changed query, a lost tag and an option edited in Datadog become one update listing each change."""
    state = apply([], plan(DESIRED, []), prune=False)
    target = next(m for m in state if "logship-monitor:cleanup/errors" in m["tags"])
    original_query = target["query"]
    target["query"] = original_query.replace("> 0", "> 5")
    target["tags"] = [t for t in target["tags"] if not t.startswith("logship-job:")]
    target["options"]["renotify_interval"] = 60
    result = plan(DESIRED, state)
    [update] = result.update
    assert update.monitor_id == target["id"]
    assert update.desired.identity == "cleanup/errors"
    assert not update.recreate
    assert update.changes == (
        FieldChange("query", original_query.replace("> 0", "> 5"), original_query),
        FieldChange(
            "tags",
            sorted(t for t in update.desired.body["tags"] if not t.startswith("logship-job:")),
            update.desired.body["tags"],
        ),
        FieldChange("options.renotify_interval", 60, None),
    )
    assert not plan(DESIRED, apply(state, result, prune=False)).changes_anything(prune=True)


def test_a_changed_type_recreates_the_monitor():
    """A liveness monitor moving from a log to a metric monitor (a longer gap) is deleted and created again."""
    state = apply([], plan(DESIRED, []), prune=False)
    slower = desired_monitors([JOBS[0], dataclasses.replace(JOBS[1], schedule="rate(3 days)")], after=AFTER)
    updates = {u.desired.identity: u for u in plan(slower, state).update}
    liveness = updates.pop("cleanup/liveness")
    assert liveness.recreate
    assert FieldChange("type", "log alert", "query alert") in liveness.changes
    assert updates and not any(u.recreate for u in updates.values())  # the others' messages name the schedule


def test_prune_only_deletes_managed_monitors_no_longer_declared():
    """A job removed from the fleet leaves managed monitors to delete; unmanaged ones are never listed."""
    state = apply([], plan(DESIRED, []), prune=False)
    state += [unmanaged(1), unmanaged(2, tags=["logship-monitor:cleanup/liveness"])]  # a lookalike without managed-by
    fewer = desired_monitors(JOBS[:1], after=AFTER)
    result = plan(fewer, state)
    assert {d.identity for d in result.delete} == {"cleanup/liveness", "cleanup/errors", "cleanup/failed-runs"}
    assert {1, 2}.isdisjoint({d.monitor_id for d in result.delete} | {u.monitor_id for u in result.update})
    assert not result.changes_anything(prune=False)
    assert result.changes_anything(prune=True)
    pruned = apply(state, result, prune=True)
    assert {m["id"] for m in pruned} >= {1, 2}
    assert not plan(fewer, pruned).changes_anything(prune=True)


def test_never_touches_a_monitor_without_managed_by():
    """A monitor carrying our identity tag but not managed-by:logship is neither updated nor deleted: ours is created."""
    lookalike = unmanaged(7, tags=["logship-monitor:cleanup/errors"], name="hand-made")
    result = plan(DESIRED, [lookalike])
    assert "cleanup/errors" in [m.identity for m in result.create]
    assert (result.update, result.delete) == ((), ())


def test_duplicates_and_untagged_managed_monitors_are_deletions():
    """Of two managed monitors with one identity the matching one is kept; a managed one without identity goes."""
    state = apply([], plan(DESIRED, []), prune=False)
    original = next(m for m in state if "logship-monitor:cleanup/errors" in m["tags"])
    duplicate = copy.deepcopy(original) | {"id": 5000}
    untagged = unmanaged(6000, tags=[MANAGED_BY_TAG])
    result = plan(DESIRED, [*state, duplicate, untagged])
    assert [(d.monitor_id, d.reason) for d in result.delete] == [
        (5000, f"duplicate of monitor {original['id']}"),
        (6000, "managed by logship but without a logship-monitor tag"),
    ]
    assert not result.create and not result.update


def test_plan_renders_for_people():
    """The plan prints a summary, then creations with their queries, updates with their changes, and deletions."""
    state = apply([], plan(DESIRED, []), prune=False)
    target = next(m for m in state if "logship-monitor:cleanup/errors" in m["tags"])
    target["options"]["renotify_interval"] = 60
    target["message"] = target["message"].replace("logs no more errors", "is fine")
    fewer = desired_monitors([JOBS[1]], after=AFTER)
    lines = render_plan(plan(fewer, state))
    assert lines[0] == ("Monitors: 0 to create, 1 to update, 4 no longer declared (deleted with --prune), 2 unchanged.")
    assert lines[1] == f"~ update cleanup/errors (monitor {target['id']}): [cron] cleanup: error logs"
    assert lines[2:6] == [
        "    message:",
        "      -{{#is_recovery}}**cleanup** is fine.{{/is_recovery}}",
        "      +{{#is_recovery}}**cleanup** logs no more errors.{{/is_recovery}}",
        "    options.renotify_interval: 60 -> (unset)",
    ]
    deletions = [line for line in lines if line.startswith("? delete")]
    assert len(deletions) == 4 and "billing-report/liveness" in deletions[0]
    assert render_plan(plan(fewer, state), prune=True)[0].startswith("Monitors: 0 to create, 1 to update, 4 to delete")


def test_render_lists_creations_and_impossible_monitors():
    """Creations show their query; a monitor a job cannot have is listed with its reason."""
    jobs = [Job(name="monthly", schedule="cron(0 0 1 * ? *)", service="monthly", task_family="monthly")]
    lines = render_plan(plan(desired_monitors(jobs, after=AFTER), []))
    assert (
        lines[0]
        == "Monitors: 2 to create, 0 to update, 0 no longer declared (deleted with --prune), 0 unchanged, 1 not possible."
    )
    assert lines[1] == "+ create monthly/errors: [cron] monthly: error logs (log alert)"
    assert lines[-1].startswith("! no monthly/liveness: its longest gap plus grace, 31 days 15 minutes, is longer")
    assert render_plan(plan(desired_monitors([], after=AFTER), []))[-1] == "Nothing to change."


# --- Property: any starting state converges in one apply ------------------------------------------------------------

FLEET = desired_monitors(
    [
        *JOBS,
        Job(
            name="nightly",
            schedule="cron(30 2 * * ? *)",
            timezone="Asia/Tokyo",
            source=JobSource.SCHEDULE,
            task_family="nightly",
            service="nightly",
            schedule_name="nightly",
            schedule_group="default",
        ),
    ],
    MonitorOptions(notify=("@slack-ops",)),
    after=AFTER,
).monitors

drifts = st.sampled_from(["none", "query", "name", "tag", "option", "type", "drop-managed-tag"])


@st.composite
def datadog_states(draw):
    """Some desired monitors, some declared ones missing, some drifted, duplicates, and strangers' monitors."""
    declared = draw(st.lists(st.sampled_from(FLEET), unique_by=lambda m: m.identity))
    existing = []
    for monitor in draw(st.lists(st.sampled_from(FLEET), max_size=10)):
        current = as_datadog_returns(monitor.body, draw(st.integers(1, 10_000)))
        drift = draw(drifts)
        if drift == "query":
            current["query"] += " "
        elif drift == "name":
            current["name"] = "renamed in the UI"
        elif drift == "tag":
            current["tags"].append("added:in-ui")
        elif drift == "option":
            current["options"]["thresholds"]["critical"] = 42.0
        elif drift == "type":
            current["type"] = "metric alert"
        elif drift == "drop-managed-tag":
            current["tags"].remove(MANAGED_BY_TAG)
        existing.append(current)
    existing += [unmanaged(draw(st.integers(10_001, 20_000))) for _ in range(draw(st.integers(0, 3)))]
    unique = {m["id"]: m for m in existing}
    return declared, list(unique.values())


@given(datadog_states(), st.booleans())
def test_one_apply_converges_and_strangers_are_untouched(state, prune):
    """From any state: each declared monitor is created, updated or unchanged exactly once; one apply converges."""
    declared, existing = state
    result = plan(declared, existing)
    accounted = (
        [m.identity for m in result.create] + [u.desired.identity for u in result.update] + list(result.unchanged)
    )
    assert sorted(accounted) == sorted(m.identity for m in declared)
    managed_ids = {m["id"] for m in existing if MANAGED_BY_TAG in m["tags"]}
    assert {d.monitor_id for d in result.delete} | {u.monitor_id for u in result.update} <= managed_ids
    after = apply(existing, result, prune=prune)
    strangers = [m for m in existing if MANAGED_BY_TAG not in m["tags"]]
    assert all(m in after for m in strangers)
    second = plan(declared, after)
    assert not second.create and not second.update
    assert bool(second.delete) == (not prune and bool(result.delete))


def test_plan_accepts_a_plain_list_of_desired_monitors():
    """``plan`` takes DesiredMonitors or any iterable of DesiredMonitor."""
    first: list[DesiredMonitor] = list(DESIRED.monitors[:2])
    assert [m.identity for m in plan(first, []).create] == [m.identity for m in first]
