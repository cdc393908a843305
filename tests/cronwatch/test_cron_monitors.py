"""Monitor bodies: four monitors per job, valid for Datadog's monitor API, snapshotted exactly.

Snapshots live in tests/snapshots/cronwatch/. After an intended change, rewrite them with
``.venv/bin/python tests/cronwatch/test_cron_monitors.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from datadog_api_client import Configuration
from datadog_api_client.model_utils import validate_and_convert_types
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_options import MonitorOptions as ApiMonitorOptions
from datadog_api_client.v1.model.monitor_thresholds import MonitorThresholds
from datadog_api_client.v2.model.logs_metric_create_request import LogsMetricCreateRequest

from logship.cronwatch import (
    LOG_EVENTS_METRIC,
    MANAGED_BY_TAG,
    Job,
    MonitorKind,
    MonitorOptions,
    apply_jobs_file,
    desired_monitors,
    job_from_schedule,
    jobs_from_rule,
    log_metric_definition,
    parse_jobs_file,
)
from logship.errors import ConfigError

TESTS = Path(__file__).parents[1]
SNAPSHOTS = TESTS / "snapshots" / "cronwatch"
FIXTURES = TESTS / "fixtures" / "cronwatch"
AFTER = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fleet() -> dict[str, Job]:
    """The fixture account's jobs, refined by the documented jobs file, by name."""
    rules, schedules = load("eventbridge_rules.json"), load("scheduler_schedules.json")["GetSchedule"]
    definitions = load("task_definitions.json")["DescribeTaskDefinition"]
    found = [
        job
        for rule in rules["ListRules"]["Rules"]
        for job in jobs_from_rule(rule, rules["ListTargetsByRule"][rule["Name"]]["Targets"], definitions)
    ]
    found += [job for schedule in schedules if (job := job_from_schedule(schedule, definitions))]
    docs = (TESTS.parent / "docs" / "cronwatch.md").read_text(encoding="utf-8")
    jobs_file = parse_jobs_file(re.findall(r"```toml\n(.*?)```", docs, re.DOTALL)[0])
    jobs, _ = apply_jobs_file(found, jobs_file)
    return {job.name: job for job in jobs}


SNAPSHOT_JOBS = ["billing-report", "nightly.aggregate", "nightly-export", "invoice-mailer", "finance.ledger-close"]


def snapshot_text(name: str) -> str:
    desired = desired_monitors([fleet()[name]], after=AFTER)
    document = {
        "monitors": [{"identity": m.identity, "body": m.body} for m in desired.monitors],
        "skipped": [dataclasses.asdict(s) for s in desired.skipped],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", SNAPSHOT_JOBS)
def test_monitor_bodies_match_their_snapshot(name):
    """Each job's monitors (and the ones it cannot have) are exactly the committed snapshot."""
    expected = (SNAPSHOTS / f"{name}.json").read_text(encoding="utf-8")
    assert snapshot_text(name) == expected


def assert_valid_for_datadog(body: dict[str, Any]) -> None:
    """The body deserializes into datadog-api-client's Monitor with known enums, fields and options only."""
    model = validate_and_convert_types(body, (Monitor,), ["body"], True, True, Configuration())
    assert not model._unparsed, body["name"]  # an unknown enum value (type, on_missing_data, ...)
    assert set(body) <= set(Monitor.attribute_map) - Monitor.read_only_vars
    assert set(body["options"]) <= set(ApiMonitorOptions.attribute_map)
    assert set(body["options"]["thresholds"]) <= set(MonitorThresholds.attribute_map)
    threshold = body["options"]["thresholds"]["critical"]
    assert re.search(rf" [<>] {threshold}$", body["query"]), "the query's threshold is the critical threshold"
    if body["type"] in ("log alert", "event-v2 alert"):
        window = re.search(r'\.last\("(\d+)([mh])"\)', body["query"])
        assert window, body["query"]
        minutes = int(window[1]) * (60 if window[2] == "h" else 1)
        assert 1 <= minutes <= 2880, "log and event monitors look back 48 hours at most"
    else:
        window = re.match(r"sum\(last_(\d+)([mh])\):", body["query"])
        assert window, body["query"]
        assert int(window[1]) * (60 if window[2] == "h" else 1) <= 10080, "metric monitors look back a week at most"
    tags = body["tags"]
    assert MANAGED_BY_TAG in tags and tags == sorted(set(tags)) and all(t == t.lower() for t in tags)
    assert all(len(t) <= 200 for t in tags)


OPTION_VARIANTS = [
    MonitorOptions(),
    MonitorOptions(
        grace=dt.timedelta(0), error_threshold=5, priority=1, renotify_minutes=60, notify=("@pagerduty-ops",)
    ),
    MonitorOptions(error_window=dt.timedelta(hours=48), failed_run_window=dt.timedelta(minutes=1), log_index="main"),
]


@pytest.mark.parametrize("options", OPTION_VARIANTS)
def test_every_body_is_valid_for_the_monitor_api(options):
    """Every monitor of the fleet, under several options, is a valid POST /api/v1/monitor body within Datadog's windows."""
    desired = desired_monitors(fleet().values(), options, after=AFTER)
    assert desired.monitors
    for monitor in desired.monitors:
        assert_valid_for_datadog(monitor.body)
        assert f"logship-monitor:{monitor.identity}" in monitor.body["tags"]
    identities = [m.identity for m in desired.monitors]
    assert len(identities) == len(set(identities))


def test_each_job_gets_the_four_kinds():
    """A rule job with a service and a family gets liveness, errors, failed runs and schedule monitors."""
    desired = desired_monitors([fleet()["billing-report"]], after=AFTER)
    assert [m.kind for m in desired.monitors] == list(MonitorKind)
    assert desired.skipped == ()


def job(schedule: str, **fields: Any) -> Job:
    values = {"name": "probe", "schedule": schedule, "service": "probe", "task_family": "probe", **fields}
    return Job(**values)


@pytest.mark.parametrize(
    ("schedule", "kind", "window"),
    [
        ("rate(15 minutes)", "log alert", '.last("30m")'),
        ("rate(2865 minutes)", "log alert", '.last("48h")'),  # + 15 minutes of grace: exactly 48 hours
        ("rate(2866 minutes)", "query alert", "sum(last_49h):"),  # a minute more: the log metric
        ("cron(0 9 ? * MON-FRI *)", "query alert", "sum(last_73h):"),  # 3 days + 15 minutes, rounded up
        ("rate(10065 minutes)", "query alert", "sum(last_168h):"),  # exactly 7 days
    ],
)
def test_liveness_window_is_the_longest_gap_plus_grace(schedule, kind, window):
    """Up to 48 hours liveness is a log monitor; beyond, a metric monitor on the log count, up to 7 days."""
    [liveness] = [m for m in desired_monitors([job(schedule)], after=AFTER).monitors if m.kind is MonitorKind.LIVENESS]
    assert liveness.body["type"] == kind
    assert window in liveness.body["query"]
    if kind == "query alert":
        assert LOG_EVENTS_METRIC in liveness.body["query"]
        assert liveness.body["options"]["notify_no_data"] is True
        hours = re.search(r"last_(\d+)h", window)
        assert hours is not None
        assert liveness.body["options"]["no_data_timeframe"] == int(hours[1]) * 60
    else:
        assert liveness.body["options"]["on_missing_data"] == "default"


@pytest.mark.parametrize(
    ("job_fields", "reason"),
    [
        ({"schedule": "rate(10066 minutes)"}, "longer than the longest window a Datadog monitor evaluates"),
        ({"schedule": "at(2030-01-01T00:00:00)"}, "fewer than two runs left"),
        ({"schedule": "cron(0 9 ? * L-2 *)"}, "its schedule cannot be read: cron day-of-week field 'L-2'"),
        ({"schedule": "rate(1 hour)", "service": None}, "no service known"),
    ],
)
def test_jobs_that_cannot_have_a_liveness_monitor_say_why(job_fields, reason):
    """No liveness monitor is made up: the plan gets a reason instead, and the other kinds are still built."""
    desired = desired_monitors([job(**job_fields)], after=AFTER)
    skipped = {s.identity: s.reason for s in desired.skipped}
    assert reason in skipped["probe/liveness"]
    assert MonitorKind.FAILED_RUNS in [m.kind for m in desired.monitors]


def test_scheduler_jobs_share_one_monitor_per_schedule_group():
    """Scheduler's metrics exist per schedule group, so two jobs of one group share one schedule monitor."""
    twin = dataclasses.replace(fleet()["invoice-mailer"], name="statement-mailer", notify=("@slack-statements",))
    desired = desired_monitors([fleet()["invoice-mailer"], twin], after=AFTER)
    [group] = [m for m in desired.monitors if m.kind is MonitorKind.SCHEDULE]
    assert group.identity == "schedule-group:default/schedule"
    assert "{schedulegroup:default,region:ap-northeast-1}" in group.body["query"]
    assert "**invoice-mailer**, **statement-mailer**" in group.body["message"]
    assert "@slack-statements" in group.body["message"]


def test_declared_jobs_have_no_schedule_monitor():
    """A job from the jobs file has no AWS schedule to watch, so no schedule monitor and no reason needed."""
    desired = desired_monitors([fleet()["nightly-export"]], after=AFTER)
    assert MonitorKind.SCHEDULE not in [m.kind for m in desired.monitors]


def test_search_values_with_spaces_are_quoted_inside_the_query():
    """A service name that is not one word is quoted in the search, and the quotes escaped inside logs("...")."""
    [liveness, errors] = desired_monitors([job("rate(1 hour)", service="billing report")], MonitorOptions(
        kinds=(MonitorKind.LIVENESS, MonitorKind.ERRORS)), after=AFTER).monitors  # fmt: skip
    assert liveness.body["query"].startswith('logs("service:\\"billing report\\"").index("*")')
    assert "service:billing_report" in liveness.body["tags"]
    assert errors.body["query"].startswith('logs("service:\\"billing report\\" status:(emergency OR alert')


def test_kinds_option_limits_the_monitors():
    """Only the kinds named in the options are built."""
    desired = desired_monitors(fleet().values(), MonitorOptions(kinds=(MonitorKind.ERRORS,)), after=AFTER)
    assert {m.kind for m in desired.monitors} == {MonitorKind.ERRORS}


def test_names_differing_only_in_case_are_refused():
    """Datadog lowercases tags, so two jobs named alike but for case would share identities: ConfigError."""
    with pytest.raises(ConfigError, match="differ only in case"):
        desired_monitors([job("rate(1 hour)", name="Report"), job("rate(1 hour)", name="report")], after=AFTER)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"error_window": dt.timedelta(hours=49)}, "monitor option error_window"),
        ({"failed_run_window": dt.timedelta(seconds=30)}, "monitor option failed_run_window"),
        ({"grace": dt.timedelta(minutes=-1)}, "monitor option grace"),
        ({"error_threshold": -1}, "monitor option error_threshold"),
        ({"priority": 6}, "monitor option priority: 6 must be 1 (high) to 5 (low)"),
        ({"renotify_minutes": 0}, "monitor option renotify_minutes"),
        ({"notify": ("slack-ops",)}, "monitor option notify: 'slack-ops'"),
        ({"events_source": "log ship"}, "monitor option events_source"),
        ({"log_index": 'a"b'}, "monitor option log_index"),
    ],
)
def test_monitor_options_are_checked(fields, message):
    """Each wrong option raises one ConfigError naming it."""
    with pytest.raises(ConfigError) as caught:
        MonitorOptions(**fields)
    assert message in str(caught.value)


def test_log_metric_definition_is_valid_for_the_logs_metrics_api():
    """The log-based metric behind long liveness windows is a valid logs-metrics create request, used only when needed."""
    body = log_metric_definition()
    request = validate_and_convert_types(body, (LogsMetricCreateRequest,), ["body"], True, True, Configuration())
    assert not request._unparsed
    assert body["data"]["id"] == LOG_EVENTS_METRIC
    assert desired_monitors([job("cron(0 9 ? * MON-FRI *)")], after=AFTER).uses_log_metric
    assert not desired_monitors([job("rate(1 hour)")], after=AFTER).uses_log_metric


def test_failed_runs_read_the_ops_events_of_the_job():
    """Failed runs count error ops events of the job's family and cluster from the configured source."""
    desired = desired_monitors([fleet()["billing-report"]], MonitorOptions(events_source="opsevents"), after=AFTER)
    [failed] = [m for m in desired.monitors if m.kind is MonitorKind.FAILED_RUNS]
    assert failed.body["type"] == "event-v2 alert"
    assert failed.body["query"] == (
        'events("source:opsevents task_family:billing-report cluster:cron status:error").rollup("count").last("1h") > 0'
    )


if __name__ == "__main__":
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for snapshot in SNAPSHOT_JOBS:
        (SNAPSHOTS / f"{snapshot}.json").write_text(snapshot_text(snapshot), encoding="utf-8")
        sys.stdout.write(f"wrote {SNAPSHOTS / snapshot}.json\n")
