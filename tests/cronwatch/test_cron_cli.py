"""`logship schedule` and `logship monitors plan|apply` as a person runs them: moto for AWS, the emulator for Datadog."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from logship.cronwatch.monitors import MANAGED_BY_TAG
from logship.testing.emulator import IntakeEmulator
from logship.testing.localaws import LocalAws

ROOT = Path(__file__).resolve().parents[2]
# The commands discover every rule of the region: this module has a region of its own on the shared server.
REGION = "eu-north-1"


def logship(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logship.cli", *args], env=env, capture_output=True, text=True, cwd=ROOT, check=False,
        timeout=120,
    )  # fmt: skip


def test_schedule_prints_the_next_runs_and_the_longest_gap(tmp_path):
    """`logship schedule` shows the expression, the next runs and the longest gap: Friday to Monday for weekdays."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    out = logship(["schedule", "cron(0 9 ? * MON-FRI *)", "--count", "3"], env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "cron(0 9 ? * MON-FRI *)  (time zone UTC)"
    assert lines[1].startswith("next 3 runs after ")
    assert len(lines) == 6 and all(line.endswith(" 09:00 UTC") for line in lines[2:5])
    assert not any(line.startswith(("  Sat", "  Sun")) for line in lines[2:5])
    assert lines[5].startswith("longest gap: 3 days, first from Fri ") and " to Mon " in lines[5]


def test_schedule_counts_a_skipped_daylight_saving_run(tmp_path):
    """In New York a daily 02:30 is skipped on the spring change day, so the longest gap is 47 hours."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    out = logship(["schedule", "cron(30 2 * * ? *)", "--timezone", "America/New_York"], env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].startswith("longest gap: 1 day 23 hours, first from ")


@pytest.fixture
def scheduled_rule(local_aws: LocalAws) -> Iterator[str]:
    """One weekday rule running an ECS task whose logs go to /cron/billing-report, limited to one copy."""
    ecs, events = local_aws.client("ecs", REGION), local_aws.client("events", REGION)
    cluster = ecs.create_cluster(clusterName="cron")["cluster"]["clusterArn"]
    definition = ecs.register_task_definition(family="billing-report", containerDefinitions=[{
        "name": "report", "image": "report", "memory": 256, "logConfiguration": {
            "logDriver": "awslogs", "options": {"awslogs-group": "/cron/billing-report"}}}],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    events.put_rule(Name="billing-report", ScheduleExpression="cron(0 9 ? * MON-FRI *)",
                    Tags=[{"Key": "logship:max-concurrent", "Value": "1"}])  # fmt: skip
    events.put_targets(Rule="billing-report", Targets=[{
        "Id": "report", "Arn": cluster, "RoleArn": "arn:aws:iam::123456789012:role/events",
        "EcsParameters": {"TaskDefinitionArn": definition}}])  # fmt: skip
    yield "billing-report"
    events.remove_targets(Rule="billing-report", Ids=["report"])
    events.delete_rule(Name="billing-report")
    ecs.deregister_task_definition(taskDefinition=definition)
    ecs.delete_cluster(cluster="cron")


def test_monitors_plan_apply_and_prune_from_the_command_line(scheduled_rule, local_aws, tmp_path):
    """`plan` changes nothing; `apply` creates the monitors, then nothing; only `--prune` removes a gone job's."""
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        '[defaults]\nnotify = ["@slack-cron"]\n\n'
        '[[job]]\nname = "host-backup"\nschedule = "rate(1 hour)"\nlog_group = "/ops/backup"\n'
    )
    with IntakeEmulator() as datadog:
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_ENDPOINT_URL": local_aws.endpoint,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
            "DD_API_KEY": "k", "DD_APP_KEY": "a", "DD_API_URL": datadog.url,
            "LOGSHIP_MONITOR_NOTIFY": "@pagerduty-cron",
        }  # fmt: skip
        plan = logship(["monitors", "plan", "--jobs", str(jobs)], env)
        assert plan.returncode == 0, plan.stderr
        assert plan.stdout.splitlines()[0] == "Jobs: 2 (1 from EventBridge rules, 1 from the jobs file)."
        assert "+ create log-based metric logship.cronwatch.log_events" in plan.stdout
        assert "Monitors: 6 to create, 0 to update" in plan.stdout
        assert "+ create billing-report/liveness: [cron] billing-report: no log line for 3 days 15 minutes" in plan.stdout
        assert datadog.api.monitors == {} and datadog.api.log_metrics == {}

        applied = logship(["monitors", "apply", "--jobs", str(jobs)], env)
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout.splitlines()[-1] == (
            "Applied: 6 created, 0 updated, 0 recreated, 0 deleted. Log-based metric logship.cronwatch.log_events created."
        )
        monitors = list(datadog.api.monitors.values())
        assert len(monitors) == 6 and all(MANAGED_BY_TAG in m["tags"] for m in monitors)
        report = next(m for m in monitors if "logship-monitor:billing-report/schedule" in m["tags"])
        assert "rulename:billing-report" in report["query"] and f"region:{REGION}" in report["query"]
        assert report["message"].endswith("@slack-cron @pagerduty-cron")

        again = logship(["monitors", "apply", "--jobs", str(jobs)], env)
        assert again.returncode == 0, again.stderr
        assert "Nothing to change." in again.stdout
        assert again.stdout.splitlines()[-1] == "Applied: 0 created, 0 updated, 0 recreated, 0 deleted."

        jobs.write_text('[defaults]\nnotify = ["@slack-cron"]\n')
        kept = logship(["monitors", "apply", "--jobs", str(jobs)], env)
        assert "2 no longer declared (deleted with --prune)" in kept.stdout and len(datadog.api.monitors) == 6
        pruned = logship(["monitors", "apply", "--jobs", str(jobs), "--prune"], env)
        assert pruned.returncode == 0, pruned.stderr
        assert pruned.stdout.splitlines()[-1].startswith("Applied: 0 created, 0 updated, 0 recreated, 2 deleted.")
        assert not any("host-backup" in tag for m in datadog.api.monitors.values() for tag in m["tags"])


def test_the_example_jobs_file_applies_into_the_emulator_without_aws(tmp_path):
    """The README's local run: examples/cronwatch-jobs.toml, --no-discover, into the emulator; every monitor accepted."""
    with IntakeEmulator() as datadog:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "DD_API_URL": datadog.url,
               "DD_API_KEY": "x", "DD_APP_KEY": "x"}  # fmt: skip
        out = logship(["monitors", "apply", "--no-discover", "--jobs", str(ROOT / "examples/cronwatch-jobs.toml")], env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0] == "Jobs: 3 (3 from the jobs file)."
        assert out.stdout.splitlines()[-1].startswith("Applied: 8 created,")
        assert len(datadog.api.monitors) == 8
