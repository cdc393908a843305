"""Discovery against moto over HTTP: EventBridge rules and targets, Scheduler schedules, task definitions, the jobs file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from logship.cronwatch.discovery import (
    MAX_CONCURRENT_TAG,
    TaskDefinitions,
    discover,
    find_jobs,
    max_concurrent_from_tags,
    read_jobs_file,
)
from logship.cronwatch.jobs import Job, JobSource, parse_jobs_file
from logship.errors import ConfigError
from logship.testing.localaws import LocalAws

# Discovery lists every rule and schedule of a region: these tests have a region of their own on the shared server.
REGION = "eu-west-3"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsEventsRole"


def awslogs(group: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": {"awslogs-group": group, "awslogs-region": REGION}}


class Fleet:
    """Creates rules, schedules and task definitions in the test region, and removes them afterwards."""

    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        self.events = aws.client("events", REGION)
        self.scheduler = aws.client("scheduler", REGION)
        self.ecs = aws.client("ecs", REGION)
        self.rules: list[str] = []
        self.schedules: list[tuple[str, str]] = []
        self.groups: list[str] = []
        self.definitions: list[str] = []
        self.cluster_arn = self.ecs.create_cluster(clusterName="cron")["cluster"]["clusterArn"]

    def task_definition(self, family: str, containers: list[dict[str, Any]], tags: dict[str, str] | None = None) -> str:
        # ECS (and moto) want memory on each container when the task sets none.
        kwargs: dict[str, Any] = {"family": family, "containerDefinitions": [{"memory": 256, **c} for c in containers]}
        if tags:
            kwargs["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        arn = self.ecs.register_task_definition(**kwargs)["taskDefinition"]["taskDefinitionArn"]
        self.definitions.append(arn)
        return str(arn)

    def rule(self, name: str, targets: list[dict[str, Any]], *, schedule: str | None = "cron(0 9 ? * MON-FRI *)",
             tags: dict[str, str] | None = None, state: str = "ENABLED", pattern: dict[str, Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"Name": name, "State": state}
        if schedule:
            kwargs["ScheduleExpression"] = schedule
        if pattern:
            kwargs["EventPattern"] = json.dumps(pattern)
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.events.put_rule(**kwargs)
        self.rules.append(name)
        if targets:
            self.events.put_targets(Rule=name, Targets=targets)

    def ecs_target(self, target_id: str, definition_arn: str, **extra: Any) -> dict[str, Any]:
        return {
            "Id": target_id,
            "Arn": self.cluster_arn,
            "RoleArn": ROLE,
            "EcsParameters": {"TaskDefinitionArn": definition_arn, "TaskCount": 1, "LaunchType": "FARGATE"},
            **extra,
        }

    def schedule(self, name: str, target: dict[str, Any], *, expression: str = "cron(30 2 * * ? *)",
                 timezone: str | None = None, group: str = "default", state: str = "ENABLED") -> None:
        if group != "default" and group not in self.groups:
            self.scheduler.create_schedule_group(Name=group)
            self.groups.append(group)
        kwargs: dict[str, Any] = {
            "Name": name, "GroupName": group, "ScheduleExpression": expression, "State": state,
            "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": target,
        }
        if timezone:
            kwargs["ScheduleExpressionTimezone"] = timezone
        self.scheduler.create_schedule(**kwargs)
        self.schedules.append((group, name))

    def clean(self) -> None:
        for name in self.rules:
            targets = self.events.list_targets_by_rule(Rule=name)["Targets"]
            if targets:
                self.events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
            self.events.delete_rule(Name=name)
        for group, name in self.schedules:
            self.scheduler.delete_schedule(Name=name, GroupName=group)
        for group in self.groups:
            self.scheduler.delete_schedule_group(Name=group)
        for arn in self.definitions:
            self.ecs.deregister_task_definition(taskDefinition=arn)
        self.ecs.delete_cluster(cluster="cron")


@pytest.fixture
def fleet(local_aws: LocalAws) -> Iterator[Fleet]:
    made = Fleet(local_aws)
    yield made
    made.clean()


def factory(aws: LocalAws):
    return lambda service: aws.client(service, REGION)


def by_name(jobs) -> dict[str, Job]:
    return {job.name: job for job in jobs}


def build_rules(fleet: Fleet) -> None:
    """Rules in the shapes a fleet has: awslogs and FireLens containers, several targets, overrides, tags, noise."""
    report = fleet.task_definition("billing-report", [
        {"name": "log_router", "image": "fluent-bit", "essential": True, "firelensConfiguration": {"type": "fluentbit"}},
        {"name": "report", "image": "report", "essential": True, "logConfiguration": awslogs("/cron/billing-report")},
    ])
    mailer = fleet.task_definition("invoice-mailer", [
        {"name": "app", "image": "mailer", "logConfiguration": {
            "logDriver": "awsfirelens", "options": {"Name": "datadog", "dd_service": "invoice-mailer"}}},
        {"name": "datadog-agent", "image": "agent", "essential": False},
    ])
    tools = fleet.task_definition("tools", [
        {"name": "shell", "image": "tools", "logConfiguration": awslogs("/ops/shell")},
        {"name": "migrate", "image": "tools", "logConfiguration": awslogs("/ops/migrate")},
    ])
    fleet.rule("billing-report", [fleet.ecs_target("report", report)], tags={MAX_CONCURRENT_TAG: "1", "team": "billing"})
    fleet.rule("nightly", [
        fleet.ecs_target("mailer", mailer),
        fleet.ecs_target("gone", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/retired-export:7"),
    ], schedule="rate(1 day)", tags={MAX_CONCURRENT_TAG: "two"})
    fleet.rule("db-migrate", [fleet.ecs_target(
        "migrate", tools, Input=json.dumps({"containerOverrides": [{"name": "migrate", "command": ["migrate"]}]}))],
        schedule="cron(0 3 1 * ? *)")
    fleet.rule("on-failure", [fleet.ecs_target("t", report)], schedule=None,
               pattern={"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]})
    fleet.rule("lambda-cron", [{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cleanup"}],
               schedule="rate(5 minutes)")
    fleet.rule("paused", [fleet.ecs_target("report", report)], state="DISABLED")
    fleet.rule("no-targets-yet", [])


def test_rules_of_every_shape_become_jobs_across_pages(fleet, local_aws):
    """Scheduled rules running ECS tasks become jobs (one per target), read from their task definitions; the rest not."""
    build_rules(fleet)
    found = discover(factory(local_aws), page_size=2)
    jobs = by_name(found.jobs)
    assert set(jobs) == {"billing-report", "nightly.mailer", "nightly.gone", "db-migrate"}
    report = jobs["billing-report"]
    assert (report.source, report.schedule, report.timezone) == (JobSource.RULE, "cron(0 9 ? * MON-FRI *)", "UTC")
    assert (report.task_family, report.container, report.cluster) == ("billing-report", "report", "cron")
    assert (report.system, report.service, report.log_group) == ("cron", "billing-report", "/cron/billing-report")
    assert (report.max_concurrent, report.schedule_name, report.region) == (1, "billing-report", REGION)
    mailer = jobs["nightly.mailer"]
    assert (mailer.container, mailer.service, mailer.system, mailer.max_concurrent) == (
        "app", "invoice-mailer", None, None)
    gone = jobs["nightly.gone"]
    assert (gone.task_family, gone.container, gone.service) == ("retired-export", None, None)
    migrate = jobs["db-migrate"]
    assert (migrate.container, migrate.system, migrate.service) == ("migrate", "ops", "migrate")
    assert found.notes == (f"rule nightly: tag {MAX_CONCURRENT_TAG}='two' is not a whole number of at least 1; ignored",)


def test_page_size_does_not_change_what_is_found(fleet, local_aws):
    """One page or many, discovery finds the same jobs (ListRules and ListTargetsByRule follow NextToken)."""
    build_rules(fleet)
    # Targets in different clusters: moto pages ListTargetsByRule by target ARN, which is the cluster's.
    for index in range(5):
        targets = [{**fleet.ecs_target(f"t{n}", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/x:1"),
                    "Arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c{n}"} for n in range(3)]
        fleet.rule(f"extra-{index}", targets, schedule="rate(1 hour)")
    small = discover(factory(local_aws), page_size=2)
    large = discover(factory(local_aws))
    assert small == large
    assert len(small.jobs) == 4 + 5 * 3


def test_scheduler_schedules_become_jobs_with_their_time_zone(fleet, local_aws):
    """Templated and universal ECS targets, in the default group and another, keep their time zone; the rest not."""
    export = fleet.task_definition("export", [{"name": "export", "image": "e", "logConfiguration": awslogs("/data/export")}])
    ledger = fleet.task_definition("ledger", [{"name": "close", "image": "l", "logConfiguration": awslogs("/finance/ledger")}])
    fleet.schedule("export", {"Arn": fleet.cluster_arn, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": export}},
                   timezone="Europe/Paris")
    fleet.schedule("ledger-close", {
        "Arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask", "RoleArn": ROLE,
        "Input": json.dumps({"Cluster": "finance", "TaskDefinition": ledger}),
    }, group="finance", expression="cron(0 6 L * ? *)", timezone="Asia/Tokyo")
    fleet.schedule("ping", {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ping", "RoleArn": ROLE})
    fleet.schedule("off", {"Arn": fleet.cluster_arn, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": export}},
                   state="DISABLED")
    for index in range(3):
        fleet.schedule(f"more-{index}", {"Arn": fleet.cluster_arn, "RoleArn": ROLE,
                                        "EcsParameters": {"TaskDefinitionArn": export}})
    jobs = by_name(discover(factory(local_aws), page_size=2).jobs)
    assert set(jobs) == {"export", "finance.ledger-close", "more-0", "more-1", "more-2"}
    export_job = jobs["export"]
    assert (export_job.source, export_job.timezone, export_job.schedule_group) == (
        JobSource.SCHEDULE, "Europe/Paris", "default")
    assert (export_job.system, export_job.service, export_job.cluster) == ("data", "export", "cron")
    ledger_job = jobs["finance.ledger-close"]
    assert (ledger_job.timezone, ledger_job.cluster, ledger_job.task_family, ledger_job.service) == (
        "Asia/Tokyo", "finance", "ledger", "ledger")


def test_task_definitions_are_described_once_each(fleet, local_aws):
    """The lazy map describes a task definition at its first use and answers from memory after; unknown is missing."""
    arn = fleet.task_definition("once", [{"name": "app", "image": "a"}])
    definitions = TaskDefinitions(local_aws.client("ecs", REGION))
    assert definitions[arn]["family"] == "once"
    assert definitions.get(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/never:1") is None
    fleet.ecs.deregister_task_definition(taskDefinition=arn)  # a revision never changes: the copy stays right
    assert definitions[arn]["family"] == "once"
    assert (len(definitions), list(definitions)) == (1, [arn])


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([{"Key": MAX_CONCURRENT_TAG, "Value": "1"}], (1, None)),
        ([{"Key": MAX_CONCURRENT_TAG, "Value": " 3 "}], (3, None)),
        ([{"Key": "team", "Value": "x"}], (None, None)),
        (None, (None, None)),
        ([{"Key": MAX_CONCURRENT_TAG, "Value": "0"}], (None, f"tag {MAX_CONCURRENT_TAG}='0' is not a whole number "
                                                           "of at least 1; ignored")),
    ],
)
def test_max_concurrent_comes_from_the_rule_tag(tags, expected):
    """The rule tag gives max_concurrent; a value that is not a whole number of at least 1 is ignored with a note."""
    assert max_concurrent_from_tags(tags) == expected


JOBS_FILE = """
[defaults]
notify = ["@slack-cron"]
tags = ["env:prod"]

[[job]]
name = "host-backup"
schedule = "cron(0 1 * * ? *)"
log_group = "/ops/backup"
max_concurrent = 1

[[override]]
name = "billing-report"
service = "billing"
notify = ["@slack-billing"]

[[override]]
name = "nightly.gone"
monitor = false

[[override]]
name = "typo-job"
max_concurrent = 1
"""


def test_found_and_declared_jobs_together(fleet, local_aws, tmp_path):
    """The jobs file adds its jobs, refines and drops found ones, reaches every job with its defaults, names typos."""
    build_rules(fleet)
    path = tmp_path / "jobs.toml"
    path.write_text(JOBS_FILE)
    found = find_jobs(factory(local_aws), read_jobs_file(path), page_size=3)
    jobs = by_name(found.jobs)
    assert set(jobs) == {"billing-report", "nightly.mailer", "db-migrate", "host-backup"}
    assert (jobs["billing-report"].service, jobs["billing-report"].notify) == ("billing", ("@slack-billing",))
    assert jobs["billing-report"].max_concurrent == 1  # from the rule's tag, kept
    assert jobs["db-migrate"].notify == ("@slack-cron",) and jobs["db-migrate"].tags == ("env:prod",)
    backup = jobs["host-backup"]
    assert (backup.source, backup.system, backup.service, backup.max_concurrent) == (JobSource.FILE, "ops", "backup", 1)
    assert found.unmatched_overrides == ("typo-job",)
    assert "[[override]] 'typo-job' matches no job found in AWS (a typo, or a job that is gone)" in found.notes


def test_declared_jobs_alone_need_no_aws():
    """Without a client factory only the declared jobs count, and no override is reported as unmatched."""
    found = find_jobs(None, parse_jobs_file(JOBS_FILE))
    assert [job.name for job in found.jobs] == ["host-backup"]
    assert (found.unmatched_overrides, found.notes) == ((), ())


def test_the_jobs_file_is_read_from_s3(local_aws, unique):
    """An s3:// location is read with GetObject; a missing object is one ConfigError naming it."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="cron/jobs.toml", Body=JOBS_FILE.encode())
    jobs_file = read_jobs_file(f"s3://{unique}/cron/jobs.toml", local_aws.client)
    assert [job.name for job in jobs_file.jobs] == ["host-backup"]
    with pytest.raises(ConfigError, match=rf"jobs file 's3://{unique}/missing.toml': cannot be read: NoSuchKey"):
        read_jobs_file(f"s3://{unique}/missing.toml", local_aws.client)
    s3.put_object(Bucket=unique, Key="bad.toml", Body=b'[[job]]\nname = "x"\nschedule = "cron(0 9 * * MON *)"\n')
    with pytest.raises(ConfigError, match="job 'x' field 'schedule': cron day-of-month field"):
        read_jobs_file(f"s3://{unique}/bad.toml", local_aws.client)
