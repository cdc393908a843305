"""Monitors as code through real HTTP to the Datadog API emulator: plan, apply, drift, prune, and hands off the rest."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.cronwatch.apply import Applied, apply_plan, current_plan, log_metric_change
from logship.cronwatch.jobs import Job, JobSource
from logship.cronwatch.monitors import (
    LOG_EVENTS_METRIC,
    MANAGED_BY_TAG,
    DesiredMonitor,
    MonitorKind,
    MonitorOptions,
    desired_monitors,
    identity_tag,
    log_metric_definition,
)
from logship.cronwatch.planner import MonitorPlan
from logship.datadog.api import ApiOptions
from logship.datadog.monitors import MonitorsClient
from logship.errors import ApiError, TransportError
from logship.secrets import SecretProvider, SecretSource
from logship.testing.emulator import IntakeEmulator

AFTER = dt.datetime(2024, 6, 3, tzinfo=dt.UTC)
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

JOBS = (
    Job(name="billing-report", schedule="cron(0 9 ? * MON-FRI *)", source=JobSource.RULE, task_family="billing-report",
        container="report", cluster="cron", system="cron", service="billing-report", schedule_name="billing-report",
        region="ap-northeast-1", notify=("@slack-billing",), tags=("team:billing",)),
    Job(name="invoice-mailer", schedule="cron(0 7 * * ? *)", source=JobSource.RULE, task_family="invoice-mailer",
        cluster="cron", system="cron", service="invoice-mailer", schedule_name="invoice-mailer", region="ap-northeast-1"),
    Job(name="export", schedule="cron(30 2 * * ? *)", timezone="Europe/Paris", source=JobSource.SCHEDULE,
        task_family="export", cluster="data", system="data", service="export", schedule_name="export",
        schedule_group="default", region="ap-northeast-1"),
    Job(name="host-backup", schedule="rate(1 hour)", service="backup", system="ops"),
)  # fmt: skip


def keys(api_key: str = "k", app_key: str = "a") -> tuple[SecretProvider, SecretProvider]:
    return SecretProvider(SecretSource(value=api_key)), SecretProvider(SecretSource("DD_APP_KEY", value=app_key))


@pytest.fixture
def client(intake: IntakeEmulator) -> Iterator[MonitorsClient]:
    api_key, app_key = keys()
    with MonitorsClient(ApiOptions(intake.url, max_retries=0), api_key, app_key, page_size=3) as made:
        yield made


def desired(jobs=JOBS, **options: Any):
    return desired_monitors(jobs, MonitorOptions(notify=("@slack-cron",), **options), after=AFTER)


def apply(client: MonitorsClient, want, *, prune: bool = False) -> tuple[MonitorPlan, Applied]:
    monitor_plan = current_plan(client, want)
    applied = apply_plan(client, monitor_plan, prune=prune, log_metric=log_metric_change(client, want))
    return monitor_plan, applied


def managed(intake: IntakeEmulator) -> dict[str, dict[str, Any]]:
    """The emulator's managed monitors by identity."""
    found = {}
    for monitor in intake.api.monitors.values():
        tags = monitor.get("tags", [])
        if MANAGED_BY_TAG in tags:
            identity = next(t.split(":", 1)[1] for t in tags if t.startswith("logship-monitor:"))
            found[identity] = monitor
    return found


def mutations(intake: IntakeEmulator) -> list[tuple[str, str]]:
    return [call for call in intake.api.calls if call[0] in MUTATING and not call[1].endswith("/validate")]


def test_apply_creates_everything_then_a_second_apply_changes_nothing(client, intake):
    """The first apply creates every monitor and the log metric; the second finds nothing to change and sends no change."""
    want = desired()
    first_plan, first = apply(client, want)
    assert len(first.created) == len(want.monitors) == len(first_plan.create)
    assert first.log_metric == "created" and LOG_EVENTS_METRIC in intake.api.log_metrics
    stored = managed(intake)
    assert set(stored) == {m.identity for m in want.monitors}
    for monitor in want.monitors:
        for field in ("name", "type", "query", "message", "priority"):
            assert stored[monitor.identity][field] == monitor.body[field], (monitor.identity, field)
    intake.api.calls.clear()
    second_plan, second = apply(client, want)
    assert not second_plan.changes_anything(prune=True) and second_plan.unchanged
    assert not second.changed_anything
    assert mutations(intake) == []


def test_a_drifted_monitor_is_updated_back(client, intake):
    """Someone edits a managed monitor's query, threshold and message in Datadog: the plan names the fields, apply restores them."""
    want = desired()
    apply(client, want)
    identity = "billing-report/errors"
    monitor = managed(intake)[identity]
    edited = copy.deepcopy(monitor)
    edited["query"] = edited["query"].replace("> 0", "> 5")
    edited["options"]["thresholds"]["critical"] = 5
    edited["message"] = "edited by hand"
    intake.api.monitors[monitor["id"]] = edited
    monitor_plan = current_plan(client, want)
    (update,) = monitor_plan.update
    assert (update.monitor_id, update.desired.identity, update.recreate) == (monitor["id"], identity, False)
    assert {change.path for change in update.changes} == {"query", "message", "options.thresholds.critical"}
    applied = apply_plan(client, monitor_plan)
    assert applied.updated == (identity,)
    restored = intake.api.monitors[monitor["id"]]
    wanted = next(m for m in want.monitors if m.identity == identity).body
    assert (restored["query"], restored["message"], restored["options"]["thresholds"]) == (
        wanted["query"], wanted["message"], {"critical": 0})
    assert not current_plan(client, want).changes_anything(prune=True)


def test_a_monitor_whose_type_changed_is_recreated_without_a_gap(client, intake):
    """A liveness window that crosses 48 hours turns a log monitor into a metric one: a new monitor, then the old one goes."""
    daily = [dataclasses.replace(JOBS[1], schedule="cron(0 7 * * ? *)")]
    apply(client, desired(daily))
    old = managed(intake)["invoice-mailer/liveness"]
    assert old["type"] == "log alert"
    twice_a_week = [dataclasses.replace(JOBS[1], schedule="cron(0 7 ? * MON,THU *)")]
    intake.api.calls.clear()
    _, applied = apply(client, desired(twice_a_week))
    assert applied.recreated == ("invoice-mailer/liveness",) and applied.log_metric == "created"
    new = managed(intake)["invoice-mailer/liveness"]
    assert new["type"] == "query alert" and new["id"] != old["id"] and old["id"] not in intake.api.monitors
    made = mutations(intake)
    assert made.index(("POST", "/api/v1/monitor")) < made.index(("DELETE", f"/api/v1/monitor/{old['id']}"))


def test_only_prune_deletes_monitors_no_longer_declared(client, intake):
    """A job that is gone leaves its monitors listed for deletion: apply keeps them, apply with prune deletes them."""
    apply(client, desired())
    gone = {identity for identity in managed(intake) if identity.startswith("host-backup/")}
    assert gone
    remaining = desired(JOBS[:3])
    monitor_plan, applied = apply(client, remaining)
    assert {d.identity for d in monitor_plan.delete} == gone and applied.deleted == ()
    assert gone <= set(managed(intake))
    _, pruned = apply(client, remaining, prune=True)
    assert set(pruned.deleted) == gone
    assert not gone & set(managed(intake))
    assert not current_plan(client, remaining).changes_anything(prune=True)


def test_monitors_without_the_managed_by_tag_are_never_touched(client, intake):
    """Hand-made monitors, even named and tagged like logship's but without managed-by:logship, survive apply --prune."""
    want = desired()
    lookalike = dict(next(m for m in want.monitors if m.identity == "billing-report/errors").body)
    lookalike["tags"] = [t for t in lookalike["tags"] if t != MANAGED_BY_TAG]
    hand_made = {
        "name": "billing is alive (by hand)", "type": "log alert", "message": "@slack-billing",
        "query": 'logs("service:billing-report").index("*").rollup("count").last("48h") < 1', "tags": ["team:billing"],
        "options": {"thresholds": {"critical": 1}},
    }  # fmt: skip
    ids = [client.create(body)["id"] for body in (lookalike, hand_made)]
    before = {monitor_id: copy.deepcopy(intake.api.monitors[monitor_id]) for monitor_id in ids}
    intake.api.calls.clear()
    apply(client, want, prune=True)
    apply(client, desired(JOBS[:1]), prune=True)
    assert {monitor_id: intake.api.monitors[monitor_id] for monitor_id in ids} == before
    touched = {path for _, path in mutations(intake)}
    assert not {f"/api/v1/monitor/{monitor_id}" for monitor_id in ids} & touched


def test_monitors_are_listed_across_pages(client, intake):
    """With three monitors a page, the planner still sees every managed monitor (page 0, 1, ... until a short one)."""
    apply(client, desired())
    assert len(managed(intake)) > 2 * client.page_size
    listed = client.list_monitors(MANAGED_BY_TAG)
    assert sorted(m["id"] for m in listed) == sorted(m["id"] for m in managed(intake).values())
    pages = [path for method, path in intake.api.calls if method == "GET" and path == "/api/v1/monitor"]
    assert len(pages) > 1


def test_a_monitor_datadog_refuses_stops_apply_before_any_change(client, intake):
    """Validation runs for every monitor first: one refused body means nothing is created, and the error names it."""
    want = desired()
    good = want.monitors[0]
    bad_body = {**want.monitors[1].body, "query": 'logs("service:x").index("*").rollup("count").last("72h") < 1'}
    bad = DesiredMonitor("x/liveness", MonitorKind.LIVENESS, bad_body)
    with pytest.raises(ApiError, match=r"refused x/liveness .*window is 1 minute to 48 hours.*nothing was changed"):
        apply_plan(client, MonitorPlan(create=(good, bad)))
    assert intake.api.monitors == {} and mutations(intake) == []


def test_the_log_metric_is_created_once_and_its_drift_updated(client, intake):
    """The metric long liveness windows read is created when first needed, left alone, and put back if edited."""
    want = desired()
    assert log_metric_change(client, want) == "create"
    apply(client, want)
    assert log_metric_change(client, want) is None
    assert intake.api.log_metrics[LOG_EVENTS_METRIC]["attributes"] == log_metric_definition()["data"]["attributes"]
    intake.api.log_metrics[LOG_EVENTS_METRIC]["attributes"]["group_by"] = [{"path": "service", "tag_name": "service"}]
    assert log_metric_change(client, want) == "update"
    _, applied = apply(client, want)
    assert applied.log_metric == "updated"
    assert intake.api.log_metrics[LOG_EVENTS_METRIC]["attributes"] == log_metric_definition()["data"]["attributes"]
    short_only = desired(JOBS[1:2])
    assert not short_only.uses_log_metric and log_metric_change(client, short_only) is None


def test_a_refused_application_key_names_where_both_keys_come_from(intake):
    """Datadog refusing the application key is one ApiError naming both keys' sources, never a key."""
    intake.api.app_keys = {"the-right-one"}
    api_key, app_key = keys(app_key="wrong-app-key")
    client = MonitorsClient(ApiOptions(intake.url, max_retries=0), api_key, app_key)
    with client, pytest.raises(ApiError) as caught:
        client.list_monitors(MANAGED_BY_TAG)
    text = str(caught.value)
    assert caught.value.status == 403 and "environment variable DD_APP_KEY" in text
    assert "environment variable DD_API_KEY" in text and "wrong-app-key" not in text


def test_an_api_out_of_reach_is_a_transport_error_at_once():
    """A refused connection is a TransportError naming the URL and the reason, without the client's backoff."""
    api_key, app_key = keys()
    client = MonitorsClient(ApiOptions("http://127.0.0.1:9", max_retries=3), api_key, app_key)
    with client, pytest.raises(TransportError) as caught:
        client.list_monitors(MANAGED_BY_TAG)
    assert (caught.value.host, caught.value.reason) == ("http://127.0.0.1:9", "connection refused")


# --- Every monitor logship builds is one Datadog's validate endpoint accepts ---------------------------------------

NAMES = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=30)
EXPRESSIONS = st.sampled_from([
    "rate(1 minute)", "rate(15 minutes)", "rate(6 hours)", "rate(1 day)", "cron(0 9 ? * MON-FRI *)",
    "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 0 L * ? *)", "cron(30 2 * * ? *)", "cron(0 12 ? * 6#3 *)",
    "cron(0 3 ? * SUN *)", "cron(15 10 1 * ? *)", "at(2030-01-01T00:00:00)",
])  # fmt: skip


@st.composite
def jobs_strategy(draw: st.DrawFn) -> Job:
    source = draw(st.sampled_from(list(JobSource)))
    return Job(
        name=draw(NAMES),
        schedule=draw(EXPRESSIONS),
        timezone=draw(st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])),
        source=source,
        task_family=draw(st.none() | NAMES),
        cluster=draw(st.none() | NAMES),
        system=draw(st.none() | NAMES),
        service=draw(st.none() | st.text(min_size=1, max_size=20).filter(str.strip)),
        schedule_name=draw(NAMES) if source is not JobSource.FILE else None,
        schedule_group=draw(NAMES) if source is JobSource.SCHEDULE else None,
        region=draw(st.sampled_from([None, "us-east-1", "eu-west-3"])),
        notify=tuple(draw(st.lists(st.sampled_from(["@slack-ops", "@pagerduty-cron", "@dev@example.com"]), max_size=2))),
        tags=tuple(draw(st.lists(st.sampled_from(["team:data", "env:prod", "tier:1"]), max_size=2))),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    jobs=st.lists(jobs_strategy(), min_size=1, max_size=4, unique_by=lambda job: job.name.lower()),
    grace=st.integers(0, 120),
    threshold=st.integers(0, 50),
    priority=st.none() | st.integers(1, 5),
    renotify=st.none() | st.integers(1, 1440),
)
def test_every_monitor_built_passes_the_validate_endpoint(client, jobs, grace, threshold, priority, renotify):
    """Whatever the jobs and options, each monitor body is accepted by POST /api/v1/monitor/validate."""
    want = desired_monitors(
        jobs,
        MonitorOptions(grace=dt.timedelta(minutes=grace), error_threshold=threshold, priority=priority,
                       renotify_minutes=renotify, notify=("@slack-cron",)),
        after=AFTER,
    )  # fmt: skip
    for monitor in want.monitors:
        assert client.validate(monitor.body) == [], monitor.body
        assert identity_tag(monitor.identity) in monitor.body["tags"]
