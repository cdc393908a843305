"""Jobs: from EventBridge rules, Scheduler schedules and task definitions as AWS returns them, and from the jobs file."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.cronwatch import (
    Job,
    JobSource,
    apply_jobs_file,
    job_from_schedule,
    jobs_from_rule,
    load_jobs_file,
    parse_jobs_file,
)
from logship.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cronwatch"
DOCS = Path(__file__).parents[2] / "docs" / "cronwatch.md"
REGION = "ap-northeast-1"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


RULES = fixture("eventbridge_rules.json")
SCHEDULES = fixture("scheduler_schedules.json")["GetSchedule"]
TASK_DEFINITIONS = fixture("task_definitions.json")["DescribeTaskDefinition"]


def rule_jobs(name: str) -> list[Job]:
    rule = next(r for r in RULES["ListRules"]["Rules"] if r["Name"] == name)
    return jobs_from_rule(rule, RULES["ListTargetsByRule"][name]["Targets"], TASK_DEFINITIONS)


def test_rule_with_an_ecs_target_is_a_job_named_after_the_rule():
    """A scheduled rule running one ECS task: family, overridden container, cluster and /<system>/<service> names."""
    assert rule_jobs("billing-report") == [
        Job(
            name="billing-report",
            schedule="cron(0 9 ? * MON-FRI *)",
            timezone="UTC",
            source=JobSource.RULE,
            task_family="billing-report",
            container="report",
            cluster="cron",
            system="cron",
            service="billing-report",
            log_group="/cron/billing-report",
            schedule_name="billing-report",
            region=REGION,
        )
    ]


def test_firelens_task_takes_its_service_from_the_datadog_output():
    """Without an override the job's container is the essential one that is not the log router; dd_service names it."""
    [job] = rule_jobs("cleanup")
    assert (job.container, job.service, job.system, job.log_group) == ("cleaner", "cleanup", None, None)
    assert (job.task_family, job.schedule) == ("cleanup", "rate(15 minutes)")


def test_rule_with_several_targets_gives_one_job_per_ecs_target():
    """Each ECS target becomes ``<rule>.<target id>``; a non-ECS target is not a job; odd log groups give no names."""
    aggregate, archive = rule_jobs("nightly")
    assert (aggregate.name, aggregate.cluster, aggregate.log_group) == (
        "nightly.aggregate",
        "batch",
        "/ecs/batch/aggregate",
    )
    assert (aggregate.system, aggregate.service) == (None, None)
    assert (archive.name, archive.container, archive.system, archive.service) == (
        "nightly.archive",
        "archiver",
        "batch",
        "archive",
    )


@pytest.mark.parametrize("name", ["ecs-task-stopped", "old-export"])
def test_event_pattern_and_disabled_rules_are_not_jobs(name):
    """A rule without a schedule, or a disabled one, runs nothing on a schedule to watch."""
    assert rule_jobs(name) == []


def test_missing_task_definition_still_gives_the_family_from_the_arn():
    """When DescribeTaskDefinition was not available, the family comes from the target's task definition ARN."""
    rule = RULES["ListRules"]["Rules"][0]
    [job] = jobs_from_rule(rule, RULES["ListTargetsByRule"]["billing-report"]["Targets"], {})
    assert (job.task_family, job.container, job.service) == ("billing-report", None, None)


def test_scheduler_schedule_keeps_its_time_zone():
    """A templated ECS target: the job carries ScheduleExpressionTimezone, its group and names from the log group."""
    job = job_from_schedule(SCHEDULES[0], TASK_DEFINITIONS)
    assert job == Job(
        name="invoice-mailer",
        schedule="cron(30 2 * * ? *)",
        timezone="Asia/Tokyo",
        source=JobSource.SCHEDULE,
        task_family="invoice-mailer",
        container="mailer",
        cluster="cron",
        system="cron",
        service="invoice-mailer",
        log_group="/cron/invoice-mailer",
        schedule_name="invoice-mailer",
        schedule_group="default",
        region=REGION,
    )


def test_scheduler_universal_run_task_target_reads_its_input():
    """The aws-sdk:ecs:runTask target carries cluster, task definition and overrides in Input, in either casing."""
    job = job_from_schedule(SCHEDULES[1], TASK_DEFINITIONS)
    assert job is not None
    assert (job.name, job.cluster, job.task_family, job.container) == (
        "finance.ledger-close",
        "finance",
        "ledger-close",
        "close",
    )
    assert (job.system, job.service, job.timezone) == ("finance", "ledger-close", "America/New_York")


@pytest.mark.parametrize("index", [2, 3])
def test_non_ecs_and_disabled_schedules_are_not_jobs(index):
    """A schedule that sends to SQS, or a disabled one, is not a job."""
    assert job_from_schedule(SCHEDULES[index], TASK_DEFINITIONS) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
aws_keys = st.sampled_from(
    ["Name", "State", "ScheduleExpression", "Arn", "Target", "EcsParameters", "TaskDefinitionArn", "Input", "Id",
     "GroupName", "ScheduleExpressionTimezone", "containerDefinitions", "logConfiguration", "taskDefinition"]
)  # fmt: skip
aws_shapes = st.recursive(
    st.none() | st.text(max_size=30) | st.integers(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(aws_keys, children, max_size=6),
    max_leaves=25,
)


@given(st.dictionaries(aws_keys, aws_shapes), st.lists(aws_shapes, max_size=3), st.dictionaries(st.text(), aws_shapes))
def test_malformed_aws_answers_never_raise(rule, targets, definitions):
    """Whatever shape AWS (or a fake) returns, turning it into jobs gives jobs or nothing, never an exception."""
    for job in jobs_from_rule(rule, targets, definitions):
        assert isinstance(job, Job)
    job_from_schedule(rule, definitions)


# --- The declared-jobs file ------------------------------------------------------------------------------------


def documented_jobs_file() -> str:
    """The jobs file example in docs/cronwatch.md, so that the documented shape is the one that parses."""
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "docs/cronwatch.md shows a jobs file"
    return blocks[0]


def test_documented_jobs_file_parses():
    """The example in the docs parses into declared jobs, overrides and defaults."""
    parsed = parse_jobs_file(documented_jobs_file())
    assert [job.name for job in parsed.jobs] == ["nightly-export", "warehouse-sync"]
    export = parsed.jobs[0]
    assert (export.schedule, export.timezone, export.system, export.service) == (
        "cron(0 2 * * ? *)", "Europe/Paris", "cron", "export",
    )  # fmt: skip
    assert export.max_concurrent == 1 and export.source is JobSource.FILE
    assert parsed.jobs[1].timezone == "UTC" and parsed.jobs[1].cluster == "cron"  # from [defaults]
    assert [o.name for o in parsed.overrides] == ["billing-report", "cleanup"]
    assert parsed.notify == ("@slack-cron-alerts",) and parsed.tags == ("env:prod",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[job]]\nname = 'a'\nschedule = 'cron(0 9 ? * 8 *)'\nservice = 's'",
         "job 'a' field 'schedule': cron day-of-week field '8': 8 is outside 1-7"),
        ("[[job]]\nname = 'a'\nservice = 's'", "job 'a' field 'schedule': is required"),
        ("[[job]]\nschedule = 'rate(1 hour)'\nservice = 's'", "[[job]] #1 field 'name': is required"),
        ("[[job]]\nname = 'a b'\nschedule = 'rate(1 hour)'\nservice = 's'", "job 'a b' field 'name': 'a b' must be"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'", "job 'a' field 'service': set service"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nlog_group = '/one'", "job 'a' field 'log_group': '/one' does not follow"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\ntimezone = 'Nowhere/City'",
         "job 'a' field 'timezone': time zone 'Nowhere/City'"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\nmax_concurrent = 0",
         "job 'a' field 'max_concurrent': must be a whole number of at least 1"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\nmax_concurrent = true", "field 'max_concurrent'"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\nnotify = ['slack-ops']",
         "job 'a' field 'notify': 'slack-ops' is not a Datadog handle"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\ntags = ['team billing']",
         "job 'a' field 'tags': 'team billing' is not a Datadog tag"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\ntags = 'team:x'", "field 'tags': must be a list of strings"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\nschedul = 'x'", "job 'a' field 'schedul': unknown field"),
        ("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\n[[job]]\nname = 'a'\nschedule = 'rate(2 hours)'\nservice = 't'",
         "two [[job]] entries are named 'a'"),
        ("[defaults]\ntimezone = 'Nowhere/City'", "[defaults] field 'timezone'"),
        ("[defaults]\nschedule = 'rate(1 hour)'", "[defaults] field 'schedule': unknown field"),
        ("[[override]]\nname = 'a'\nschedule = 'rate(1 hour)'", "[[override]] #1 field 'schedule': unknown field"),
        ("[[override]]\nname = 'a'\nmonitor = 'no'", "[[override]] #1 field 'monitor': must be true or false"),
        ("job = 'x'", "top level field 'job': must be an array of tables"),
        ("jobs = []", "top level field 'jobs': unknown field"),
        ("[[job]\nname = 'a'", "not valid TOML"),
    ],
)  # fmt: skip
def test_jobs_file_errors_name_the_job_and_field(text, message):
    """A wrong jobs file raises one ConfigError naming the file, the entry and the field."""
    with pytest.raises(ConfigError) as caught:
        parse_jobs_file(text, "jobs file 'jobs.toml'")
    assert str(caught.value).startswith("jobs file 'jobs.toml': ")
    assert message in str(caught.value)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


field_names = st.sampled_from(
    ["name", "schedule", "timezone", "service", "system", "log_group", "task_family", "container", "cluster",
     "max_concurrent", "notify", "tags", "monitor", "other"]
)  # fmt: skip
field_values = st.one_of(
    st.sampled_from(["rate(1 hour)", "cron(0 9 ? * MON-FRI *)", "cron(0 9 ? * 9 *)", "Asia/Tokyo", "/cron/x", "a"]),
    st.text(max_size=15),
    st.integers(-2, 3),
    st.booleans(),
    st.lists(st.sampled_from(["@slack-ops", "team:x", "bad tag", ""]), max_size=3),
)
tables = st.dictionaries(field_names, field_values, max_size=8)


@given(st.lists(st.tuples(st.sampled_from(["job", "override"]), tables), max_size=4), tables)
def test_any_jobs_document_is_jobs_or_one_config_error(entries, defaults):
    """Any document of jobs, overrides and defaults, well or badly typed, parses or raises ConfigError only."""
    lines = ["[defaults]", *(f"{k} = {toml_value(v)}" for k, v in defaults.items() if k in ("timezone", "notify"))]
    for kind, table in entries:
        lines += [f"[[{kind}]]", *(f"{key} = {toml_value(value)}" for key, value in table.items())]
    try:
        parsed = parse_jobs_file("\n".join(lines))
    except ConfigError as err:
        assert str(err).startswith("jobs file: ")
        return
    for job in parsed.jobs:
        assert job.service or job.task_family


@given(st.text(max_size=300))
def test_any_text_is_a_jobs_file_or_one_config_error(text):
    """Any text either parses or raises ConfigError, never another exception."""
    with contextlib.suppress(ConfigError):
        parse_jobs_file(text)


def test_load_jobs_file_reads_a_path_and_names_it_in_errors(tmp_path):
    """``load_jobs_file`` parses a file and a missing file is a ConfigError naming its path."""
    path = tmp_path / "jobs.toml"
    path.write_text("[[job]]\nname = 'a'\nschedule = 'rate(1 hour)'\nservice = 's'\n", encoding="utf-8")
    assert [job.name for job in load_jobs_file(path).jobs] == ["a"]
    with pytest.raises(ConfigError, match=r"missing\.toml.*no such file"):
        load_jobs_file(tmp_path / "missing.toml")


def test_overrides_refine_discovered_jobs_and_defaults_reach_every_job():
    """Overrides replace fields by name, monitor = false drops a job, defaults add tags and fill notify."""
    discovered = [*rule_jobs("billing-report"), *rule_jobs("cleanup"), *rule_jobs("nightly")]
    jobs, unmatched = apply_jobs_file(discovered, parse_jobs_file(documented_jobs_file()))
    by_name = {job.name: job for job in jobs}
    assert set(by_name) == {
        "billing-report",
        "nightly.aggregate",
        "nightly.archive",
        "nightly-export",
        "warehouse-sync",
    }
    billing = by_name["billing-report"]
    assert billing.max_concurrent == 1
    assert billing.notify == ("@slack-billing", "@pagerduty-billing")
    assert billing.tags == ("env:prod", "team:billing")
    assert by_name["nightly.aggregate"].notify == ("@slack-cron-alerts",)  # the default handles
    assert by_name["nightly.aggregate"].tags == ("env:prod",)
    assert unmatched == ()


def test_unmatched_overrides_are_reported():
    """An override naming no discovered job comes back, so that a typo is seen rather than ignored."""
    jobs_file = parse_jobs_file("[[override]]\nname = 'biling-report'\nmax_concurrent = 1\n")
    jobs, unmatched = apply_jobs_file(rule_jobs("billing-report"), jobs_file)
    assert unmatched == ("biling-report",)
    assert jobs[0].max_concurrent is None


def test_one_name_must_mean_one_job():
    """A declared job named like a discovered one, or a rule and a schedule with one name, is a ConfigError."""
    declared = parse_jobs_file("[[job]]\nname = 'billing-report'\nschedule = 'rate(1 hour)'\nservice = 's'\n")
    with pytest.raises(ConfigError, match="two jobs are named 'billing-report'"):
        apply_jobs_file(rule_jobs("billing-report"), declared)
    twin = dataclasses.replace(rule_jobs("billing-report")[0], source=JobSource.SCHEDULE)
    with pytest.raises(ConfigError, match="two jobs are named"):
        apply_jobs_file([*rule_jobs("billing-report"), twin], parse_jobs_file(""))
