"""The run watch: counts per cluster and family, gauges, overlaps and the digest, pure and against moto and the emulators."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeContext
from hypothesis import given
from hypothesis import strategies as st

from logship.cronwatch.jobs import Job
from logship.cronwatch.watch import (
    OVERLAP_TAG,
    PENDING_METRIC,
    RUNNING_METRIC,
    FamilyCount,
    RunWatch,
    allowed_copies,
    count_tasks,
    find_overlaps,
    gauges,
    overlap_event,
    summary_event,
)
from logship.datadog.api import ApiOptions
from logship.datadog.metrics import METRICS_PAYLOAD_MAX_BYTES, Gauge, MetricsClient, pack
from logship.errors import DeliveryError
from logship.opsevents.datadog_payload import datadog_event
from logship.opsevents.model import Severity
from logship.opsevents.slack_payload import slack_message
from logship.secrets import ApiKeyProvider, SecretSource
from logship.settings import Settings
from logship.testing.emulator import IntakeEmulator
from logship.testing.localaws import LocalAws
from logship.testing.slack import SlackWebhookEmulator, message_problems

ROOT = Path(__file__).resolve().parents[2]
# The watch counts every cluster of the region: this module has a region of its own on the shared server.
REGION = "ap-southeast-2"
ACCOUNT = "123456789012"
NOW = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)


def task(family: str, status: str = "RUNNING", task_id: str = "t", cluster: str = "cron") -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{task_id}",
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:3",
        "lastStatus": status,
        "group": f"family:{family}",
    }


# --- Pure steps ----------------------------------------------------------------------------------------------


def test_tasks_are_counted_running_or_starting_per_family():
    """RUNNING counts as running, PROVISIONING/PENDING/ACTIVATING as starting; tasks on their way out not at all."""
    tasks = [
        task("report", "RUNNING", "a"), task("report", "PENDING", "b"), task("report", "PROVISIONING", "c"),
        task("export", "ACTIVATING", "d"), task("export", "DEACTIVATING", "e"), task("export", "STOPPING", "f"),
        {"taskArn": "x", "lastStatus": "RUNNING", "group": "family:grouped"}, {"taskArn": "y", "lastStatus": "RUNNING"},
    ]  # fmt: skip
    counts = count_tasks("cron", tasks)
    assert [(c.family, c.running, c.pending, c.task_ids) for c in counts] == [
        ("export", 0, 1, ("d",)),
        ("grouped", 1, 0, ("x",)),
        ("report", 1, 2, ("a", "b", "c")),
    ]
    assert counts[2].copies == 3 and counts[2].task_definition_arns[0].endswith("task-definition/report:3")


@pytest.mark.parametrize(
    ("limits", "expected"),
    [((1,), 1), ((1, 2), 3), ((1, None), None), ((), None)],
)
def test_the_copies_allowed_add_up_over_a_family_s_jobs(limits, expected):
    """Jobs sharing a family allow the sum of their limits; one job without a limit lifts the family's."""
    jobs = [Job(name=f"j{n}", schedule="rate(1 hour)", task_family="f", max_concurrent=limit)
            for n, limit in enumerate(limits)]  # fmt: skip
    assert allowed_copies(jobs) == expected


def test_an_overlap_is_more_copies_than_the_jobs_in_that_cluster_allow():
    """Two copies of a max_concurrent=1 job overlap; in another cluster, or with room to spare, they do not."""
    counts = [
        FamilyCount("cron", "report", 1, 1, ("a", "b"), ()),
        FamilyCount("batch", "report", 2, 0, ("c", "d"), ()),
        FamilyCount("cron", "export", 2, 0, ("e", "f"), ()),
        FamilyCount("cron", "web", 5, 0, ("g", "h", "i", "j", "k"), ()),
    ]
    jobs = [
        Job(name="report", schedule="cron(0 9 * * ? *)", task_family="report", cluster="cron", max_concurrent=1),
        Job(name="export", schedule="rate(1 hour)", task_family="export", max_concurrent=2),
    ]
    (overlap,) = find_overlaps(counts, jobs)
    assert (overlap.count.cluster, overlap.count.family, overlap.allowed, [j.name for j in overlap.jobs]) == (
        "cron", "report", 1, ["report"])
    assert overlap.key == "cronwatch-overlap|cron|report|a,b"


def test_gauges_carry_cluster_family_system_service_and_zeros_for_an_idle_cluster():
    """Each family sends running and pending with its tags; a cluster without tasks sends zeros so it has data."""
    counts = [FamilyCount("cron", "report", 2, 1, ("a", "b", "c"), ())]
    points = gauges(counts, ["cron", "idle"], {("cron", "report"): ("cron", "billing")}, 1_717_405_200, ("env:prod",))
    assert points == [
        Gauge(RUNNING_METRIC, 2.0, 1_717_405_200, ("cluster:cron", "task_family:report", "system:cron",
                                                    "service:billing", "env:prod")),
        Gauge(PENDING_METRIC, 1.0, 1_717_405_200, ("cluster:cron", "task_family:report", "system:cron",
                                                    "service:billing", "env:prod")),
        Gauge(RUNNING_METRIC, 0.0, 1_717_405_200, ("cluster:idle", "env:prod")),
        Gauge(PENDING_METRIC, 0.0, 1_717_405_200, ("cluster:idle", "env:prod")),
    ]  # fmt: skip


def test_series_are_packed_within_the_payload_limit():
    """However many gauges, each request's series stay within the goal, and none is lost or reordered."""
    points = [Gauge(RUNNING_METRIC, float(n), 1, (f"task_family:f{n}", "cluster:" + "c" * 150)) for n in range(3000)]
    batches = list(pack(points, goal_bytes=100_000))
    assert len(batches) > 1
    assert [s["points"][0]["value"] for batch in batches for s in batch] == [float(n) for n in range(3000)]
    assert all(len(json.dumps(batch, separators=(",", ":"))) <= 100_000 for batch in batches)
    assert all(len(json.dumps({"series": batch})) < METRICS_PAYLOAD_MAX_BYTES for batch in pack(points))
    assert list(pack([])) == []


FAMILIES = st.text("abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=255)


@given(
    family=FAMILIES,
    cluster=FAMILIES,
    running=st.integers(0, 5000),
    pending=st.integers(0, 5000),
    names=st.lists(st.text(min_size=1, max_size=200), min_size=1, max_size=30),
)
def test_an_overlap_event_fits_slack_and_datadog_whatever_its_size(family, cluster, running, pending, names):
    """The overlap alert and the digest, for any names and counts, are valid Slack messages and Datadog events."""
    ids = tuple(f"{n:032x}" for n in range(running + pending))
    count = FamilyCount(cluster, family, running, pending, ids, ())
    jobs = tuple(Job(name=name, schedule="rate(1 hour)", task_family=family, max_concurrent=1) for name in names)
    from logship.cronwatch.watch import Overlap

    event = overlap_event(Overlap(count, 1, jobs), region=REGION, account=ACCOUNT, now=NOW)
    digest = summary_event([count], [cluster, "idle"], [Overlap(count, 1, jobs)], region=REGION, account=ACCOUNT,
                           now=NOW)  # fmt: skip
    for made in (event, digest):
        assert message_problems(slack_message(made)) == []
        body = datadog_event(made)
        assert len(body["text"]) <= 4_000 and len(body["aggregation_key"]) <= 100
    assert event.severity is Severity.ERROR and OVERLAP_TAG in event.tags
    assert digest.severity is Severity.INFO


# --- Against moto and the emulators ------------------------------------------------------------------------------


def moto_api(aws: LocalAws, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{aws.endpoint}{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


class Cluster:
    """ECS clusters, task definitions and tasks in the test region, removed afterwards."""

    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        self.ecs = aws.client("ecs", REGION)
        self.events = aws.client("events", REGION)
        self.clusters: list[str] = []
        self.definitions: list[str] = []
        self.rules: list[str] = []

    def cluster(self, name: str) -> str:
        arn = str(self.ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"])
        self.clusters.append(name)
        return arn

    def definition(self, family: str, log_group: str | None = None) -> str:
        container: dict[str, Any] = {"name": "app", "image": family, "memory": 128}
        if log_group:
            container["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": log_group}}
        arn = str(self.ecs.register_task_definition(family=family, containerDefinitions=[container])
                  ["taskDefinition"]["taskDefinitionArn"])  # fmt: skip
        self.definitions.append(arn)
        return arn

    def run(self, cluster: str, definition: str, count: int) -> list[str]:
        arns: list[str] = []
        while len(arns) < count:
            answer = self.ecs.run_task(cluster=cluster, taskDefinition=definition, launchType="FARGATE",
                                       count=min(10, count - len(arns)))  # fmt: skip
            arns += [t["taskArn"] for t in answer["tasks"]]
        return arns

    def rule(self, name: str, cluster_arn: str, definition: str, tags: dict[str, str]) -> None:
        self.events.put_rule(Name=name, ScheduleExpression="rate(5 minutes)",
                             Tags=[{"Key": k, "Value": v} for k, v in tags.items()])  # fmt: skip
        self.events.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": cluster_arn, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/x",
                                                      "EcsParameters": {"TaskDefinitionArn": definition}}])  # fmt: skip
        self.rules.append(name)

    def clean(self) -> None:
        for name in self.rules:
            self.events.remove_targets(Rule=name, Ids=["t"])
            self.events.delete_rule(Name=name)
        for name in self.clusters:
            for arn in self.ecs.list_tasks(cluster=name)["taskArns"]:
                self.ecs.stop_task(cluster=name, task=arn, reason="test over")
            self.ecs.delete_cluster(cluster=name)
        for arn in self.definitions:
            self.ecs.deregister_task_definition(taskDefinition=arn)


@pytest.fixture
def fleet(local_aws: LocalAws) -> Iterator[Cluster]:
    # moto moves a task one lifecycle step per DescribeTasks; the watch describes every minute and must see it RUNNING.
    moto_api(local_aws, "/moto-api/state-manager/set-transition",
             {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}})  # fmt: skip
    made = Cluster(local_aws)
    try:
        yield made
    finally:
        made.clean()
        moto_api(local_aws, "/moto-api/state-manager/unset-transition", {"model_name": "ecs::task"})


def watch_for(local_aws: LocalAws, datadog: IntakeEmulator, slack: SlackWebhookEmulator, jobs_file: Path,
              **env: str) -> RunWatch:  # fmt: skip
    settings = Settings.from_env({
        "DD_API_KEY": "k", "DD_API_URL": datadog.url, "DD_TAGS": "env:test", "SLACK_WEBHOOK_URL": slack.url,
        "LOGSHIP_JOBS_FILE": str(jobs_file), **env,
    })  # fmt: skip
    metrics = MetricsClient(ApiOptions(datadog.url, max_retries=0), ApiKeyProvider(SecretSource(value="k")))
    return RunWatch(settings, client_factory=lambda service, region=None: local_aws.client(service, region or REGION), metrics=metrics,
                    page_size=2, clock=NOW.timestamp)  # fmt: skip


def series_of(datadog: IntakeEmulator) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s["metric"], tuple(s["tags"])): s["points"][-1]["value"] for s in datadog.api.series}


def test_the_watch_counts_across_batches_and_clusters_sends_gauges_and_flags_an_overlap_once(
    fleet, local_aws, tmp_path, intake, slack
):
    """Tasks in three DescribeTasks batches, clusters busy and idle: each counted and sent; an overlap alerted once.

    230 tasks run in one cluster, three in another, none in a third; the rule's max-concurrent tag says
    billing-report runs alone, and two copies run: one alert, to Datadog and Slack, until the tasks change.
    """
    cron, web = fleet.cluster("cron"), fleet.cluster("web")
    fleet.cluster("idle")
    report = fleet.definition("billing-report", "/cron/billing-report")
    filler = fleet.definition("filler", "/batch/filler")
    export = fleet.definition("export")
    fleet.rule("billing-report", cron, report, {"logship:max-concurrent": "1"})
    first, _second = fleet.run(cron, report, 2)
    fleet.run(cron, filler, 226)
    fleet.run(cron, export, 2)
    fleet.run(web, fleet.definition("web"), 3)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nname = "export"\nschedule = "rate(1 hour)"\nservice = "export"\ntask_family = "export"\n'
                    "max_concurrent = 2\n")  # fmt: skip
    with watch_for(local_aws, intake, slack, jobs) as watch:
        result = watch.handle({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events"}, FakeContext())
        assert (result["clusters"], result["families"], result["running"], result["pending"]) == (3, 4, 233, 0)
        assert (result["overlaps"], result["overlap_events"], result["summary_sent"], result["failures"]) == (
            1, 1, False, [])
        sent = series_of(intake)
        assert sent[(RUNNING_METRIC, ("cluster:cron", "task_family:filler", "system:batch", "service:filler",
                                      "env:test"))] == 226  # fmt: skip
        assert sent[(RUNNING_METRIC, ("cluster:cron", "task_family:billing-report", "system:cron",
                                      "service:billing-report", "env:test"))] == 2  # fmt: skip
        assert sent[(RUNNING_METRIC, ("cluster:cron", "task_family:export", "service:export", "env:test"))] == 2
        assert sent[(RUNNING_METRIC, ("cluster:web", "task_family:web", "env:test"))] == 3
        assert sent[(RUNNING_METRIC, ("cluster:idle", "env:test"))] == 0
        assert sent[(PENDING_METRIC, ("cluster:idle", "env:test"))] == 0
        assert all(s["points"][0]["timestamp"] == int(NOW.timestamp()) for s in intake.api.series)
        (event,) = intake.api.events
        assert event["title"] == "Cron job billing-report: 2 copies running in cron (allows 1)"
        assert event["alert_type"] == "error" and OVERLAP_TAG in event["tags"]
        assert {"cluster:cron", "task_family:billing-report", "logship-job:billing-report", "env:test"} <= set(
            event["tags"])
        assert len(slack.messages) == 1 and "billing-report" in slack.messages[0]["text"]

        again = watch.handle({}, FakeContext())
        assert (again["overlaps"], again["overlap_events"]) == (1, 0)  # the same overlap: not sent again
        assert len(intake.api.events) == 1 and len(slack.messages) == 1

        fleet.ecs.stop_task(cluster="cron", task=first, reason="test")
        assert watch.handle({}, FakeContext())["overlaps"] == 0
        fleet.run(cron, report, 1)
        assert watch.handle({}, FakeContext())["overlap_events"] == 1  # other tasks: a new overlap
        assert len(intake.api.events) == 2


def test_the_digest_goes_to_slack_only_when_asked(fleet, local_aws, tmp_path, intake, slack):
    """{"summary": true} (or LOGSHIP_WATCH_SUMMARY) posts one digest to Slack; Datadog gets no event for it."""
    cron = fleet.cluster("cron")
    fleet.run(cron, fleet.definition("report"), 3)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text("")
    with watch_for(local_aws, intake, slack, jobs) as watch:
        assert watch.handle({}, FakeContext())["summary_sent"] is False
        assert watch.handle({"summary": True}, FakeContext())["summary_sent"] is True
    (digest,) = slack.messages
    assert digest["text"].startswith("INFO: Cron watch: 3 task(s) running, 0 starting in 1 cluster(s)")
    assert message_problems(digest) == [] and intake.api.events == []
    with watch_for(local_aws, intake, slack, jobs, LOGSHIP_WATCH_SUMMARY="true") as every_run:
        assert every_run.handle({}, FakeContext())["summary_sent"] is True


def test_metrics_that_cannot_be_sent_fail_the_run_after_the_rest_is_done(fleet, local_aws, tmp_path, intake, slack):
    """Datadog refusing the series: the overlap alert still reaches Slack, then the run raises naming the metrics."""
    cron = fleet.cluster("cron")
    report = fleet.definition("report")
    fleet.run(cron, report, 2)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nname = "report"\nschedule = "rate(1 hour)"\ntask_family = "report"\nmax_concurrent = 1\n')
    intake.fail_next(400)
    refused = r"run watch: metrics not sent: Datadog answered HTTP 400 to POST /api/v2/series"
    with watch_for(local_aws, intake, slack, jobs) as watch, pytest.raises(DeliveryError, match=refused):
        watch.handle({}, FakeContext())
    assert len(slack.messages) == 1 and len(intake.api.events) == 1


def test_the_handler_runs_from_the_environment_and_imports_nothing_it_does_not_need(fleet, local_aws, tmp_path, intake, slack):
    """handlers.watch.handler, configured by the environment, counts through AWS_ENDPOINT_URL; no network at import."""
    cron = fleet.cluster("cron")
    fleet.run(cron, fleet.definition("report"), 2)
    code = (
        "import socket, sys\n"
        "real = socket.socket.connect\n"
        "socket.socket.connect = lambda *a, **k: (_ for _ in ()).throw(AssertionError('network I/O at import'))\n"
        "import handlers.watch\n"
        "assert 'boto3' not in sys.modules and 'datadog_api_client' not in sys.modules\n"
        "socket.socket.connect = real\n"
        "result = handlers.watch.handler({'summary': True}, None)\n"
        "print(result['running'], result['summary_sent'], result['metric_requests'])\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_ENDPOINT_URL": local_aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "DD_API_KEY": "k", "DD_API_URL": intake.url, "SLACK_WEBHOOK_URL": slack.url,
    }  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT, check=False,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "True", "1"]
    assert len(slack.messages) == 1
