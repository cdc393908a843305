"""Jobs: the scheduled tasks to watch, from AWS's rule and schedule shapes or from a declared-jobs file.

A :class:`Job` is one scheduled ECS task: its name, schedule, task family, container, cluster and
the ``system`` / ``service`` its logs carry under the convention log group ``/<system>/<service>``.
Everything here is pure: the helpers take what the AWS APIs return (ListRules and
ListTargetsByRule, Scheduler's GetSchedule, ECS DescribeTaskDefinition) as plain dicts, so the
code that calls AWS only makes the calls. The declared-jobs file is TOML (read with the standard
library's ``tomllib``); its shape is in ``docs/cronwatch.md`` and in :func:`parse_jobs_file`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from logship.cronwatch.options import NOTIFY_HANDLE
from logship.cronwatch.schedule import parse_schedule, zone_of
from logship.errors import ConfigError

# Job names become part of a monitor tag (``logship-monitor:<job>/<kind>``), and Datadog tags hold
# letters, digits and ``_ - : . /``, 200 characters at most (docs.datadoghq.com/getting_started/tagging).
# Rule and schedule names are ``[.\-_A-Za-z0-9]+`` of 64 at most (EventBridge PutRule, Scheduler
# CreateSchedule); a rule with several ECS targets gives ``<rule>.<target id>``.
JOB_NAME = re.compile(r"[A-Za-z0-9._-]{1,160}")
# A Datadog tag: starts with a letter; letters, digits, ``_ - : . /``; at most 200 characters.
DATADOG_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_\-:./]{0,199}")
# The convention the log pipeline reads tags from: log group ``/<system>/<service>``.
LOG_GROUP_CONVENTION = re.compile(r"/(?P<system>[^/]+)/(?P<service>[^/]+)")
# Scheduler's universal target for ECS RunTask (Scheduler User Guide, "Using universal targets").
SCHEDULER_RUN_TASK_ARN = "arn:aws:scheduler:::aws-sdk:ecs:runTask"
# An ARN: arn, partition, service, region, account, resource.
_ARN_FIELDS = 6


class JobSource(enum.StrEnum):
    """Where a job was found: an EventBridge rule, an EventBridge Scheduler schedule, or the jobs file."""

    RULE = "rule"
    SCHEDULE = "schedule"
    FILE = "file"


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One scheduled task to watch.

    ``schedule`` is the AWS expression (``rate``, ``cron`` or ``at``) read in ``timezone`` (an IANA
    name; EventBridge rules are always UTC). ``system`` and ``service`` are the names the task's logs
    carry (log group ``/<system>/<service>``); ``max_concurrent`` is how many copies may run at once
    (1: the job must never overlap; None: no limit). ``notify`` holds Datadog handles
    (``@slack-ops``), ``tags`` Datadog tags (``team:billing``). ``schedule_name`` is the rule's or
    schedule's name in AWS, ``schedule_group`` a Scheduler schedule's group, ``region`` the AWS region.
    """

    name: str
    schedule: str
    timezone: str = "UTC"
    source: JobSource = JobSource.FILE
    task_family: str | None = None
    container: str | None = None
    cluster: str | None = None
    system: str | None = None
    service: str | None = None
    log_group: str | None = None
    max_concurrent: int | None = None
    notify: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    schedule_name: str | None = None
    schedule_group: str | None = None
    region: str | None = None


def names_from_log_group(log_group: str | None) -> tuple[str | None, str | None]:
    """``(system, service)`` from a log group that follows ``/<system>/<service>``; ``(None, None)`` otherwise."""
    match = LOG_GROUP_CONVENTION.fullmatch(log_group or "")
    return (match["system"], match["service"]) if match else (None, None)


# --- From AWS's shapes --------------------------------------------------------------------------------------


def _get(mapping: Mapping[str, Any] | None, key: str) -> Any:
    """``mapping[key]``, the key matched without regard to case (``taskDefinition`` or ``TaskDefinition``)."""
    if not isinstance(mapping, Mapping):
        return None
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((value for name, value in mapping.items() if name.lower() == lowered), None)


def _arn_resource(arn: str | None, kind: str) -> str | None:
    """The name in ``arn:aws:<service>:<region>:<account>:<kind>/<name>[:revision]``, or in a bare name.

    ECS accepts a bare cluster name and a bare ``family[:revision]``; the revision is dropped.
    """
    if not arn:
        return None
    name = arn
    if arn.startswith("arn:"):
        resource = arn.split(":", 5)[-1]
        if not resource.startswith(f"{kind}/"):
            return None
        name = resource[len(kind) + 1 :]
    return (name.split(":")[0] if kind == "task-definition" else name.split("/")[-1]) or None


def _region(arn: str | None) -> str | None:
    """The region of ``arn:<partition>:<service>:<region>:<account>:<resource>``."""
    parts = (arn or "").split(":", _ARN_FIELDS - 1)
    return parts[3] or None if len(parts) == _ARN_FIELDS and parts[0] == "arn" else None


def _overridden_containers(raw_input: Any) -> list[str]:
    """Container names from an ECS target's ``Input``: RunTask ``overrides`` JSON, at the top or under ``overrides``."""
    if not isinstance(raw_input, str):
        return []
    try:
        document = json.loads(raw_input)
    except ValueError:
        return []
    overrides = _get(document, "overrides") if _get(document, "containerOverrides") is None else document
    entries = _get(overrides, "containerOverrides")
    if not isinstance(entries, list):
        return []
    return [name for entry in entries if isinstance(name := _get(entry, "name"), str) and name]


def _task_definition(found: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The ``taskDefinition`` of a DescribeTaskDefinition answer, or the dict itself if it is already that."""
    if not isinstance(found, Mapping):
        return {}
    inner = found.get("taskDefinition")
    return inner if isinstance(inner, Mapping) else found


def _pick_container(definition: Mapping[str, Any], overridden: Sequence[str]) -> Mapping[str, Any] | None:
    """The job's container: the first one the schedule overrides, else the first essential non-sidecar one.

    A sidecar is a FireLens log router (``firelensConfiguration``) or a container marked
    ``essential: false`` (a Datadog Agent, say); ECS's ``essential`` defaults to true.
    """
    containers = [c for c in definition.get("containerDefinitions") or [] if isinstance(c, Mapping)]
    for name in overridden:
        for container in containers:
            if container.get("name") == name:
                return container
    workers = [c for c in containers if c.get("essential", True) and not c.get("firelensConfiguration")]
    chosen = workers or containers
    return chosen[0] if chosen else None


def _log_names(container: Mapping[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    """``(log_group, system, service)`` from a container's ``logConfiguration``.

    ``awslogs`` with ``awslogs-group: /<system>/<service>`` gives both names; a FireLens
    (``awsfirelens``) Datadog output gives the service from its ``dd_service`` option.
    """
    config = container.get("logConfiguration") if container else None
    options = config.get("options") if isinstance(config, Mapping) else None
    if not isinstance(config, Mapping) or not isinstance(options, Mapping):
        return None, None, None
    if config.get("logDriver") == "awslogs":
        group = options.get("awslogs-group")
        group = group if isinstance(group, str) else None
        return (group, *names_from_log_group(group))
    service = options.get("dd_service")
    return None, None, service if isinstance(service, str) and service else None


def names_from_task_definition(found: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``(system, service)`` the logs of a task definition's main container carry, or None for each unknown.

    ``found`` is DescribeTaskDefinition's answer (or its ``taskDefinition``); the main container is
    the first essential one that is not a log router, read as :func:`jobs_from_rule` reads it.
    """
    definition = _task_definition(found)
    _, system, service = _log_names(_pick_container(definition, ()))
    return system, service


def _ecs_job(
    *,
    name: str,
    schedule: str,
    timezone: str,
    source: JobSource,
    cluster_arn: str | None,
    task_definition_arn: str | None,
    raw_input: Any,
    task_definitions: Mapping[str, Mapping[str, Any]],
    schedule_name: str,
    schedule_group: str | None,
    region: str | None,
) -> Job:
    definition = _task_definition(task_definitions.get(task_definition_arn or ""))
    container = _pick_container(definition, _overridden_containers(raw_input))
    log_group, system, service = _log_names(container)
    family = definition.get("family")
    return Job(
        name=name,
        schedule=schedule,
        timezone=timezone,
        source=source,
        task_family=family if isinstance(family, str) else _arn_resource(task_definition_arn, "task-definition"),
        container=container.get("name") if container else None,
        cluster=_arn_resource(cluster_arn, "cluster"),
        system=system,
        service=service,
        log_group=log_group,
        schedule_name=schedule_name,
        schedule_group=schedule_group,
        region=region,
    )


def jobs_from_rule(
    rule: Mapping[str, Any],
    targets: Sequence[Mapping[str, Any]],
    task_definitions: Mapping[str, Mapping[str, Any]],
) -> list[Job]:
    """The jobs of one EventBridge rule: one per target that runs an ECS task.

    ``rule`` is an item of ListRules' ``Rules``; ``targets`` is ListTargetsByRule's ``Targets``;
    ``task_definitions`` maps each target's ``EcsParameters.TaskDefinitionArn`` to what
    DescribeTaskDefinition returned for it (the whole answer or its ``taskDefinition``). A rule
    without a ``ScheduleExpression`` (an event-pattern rule) or not ``ENABLED`` has no jobs. A job
    is named after its rule, or ``<rule>.<target id>`` when the rule runs several tasks. Rules run in
    UTC. A task definition missing from the map still gives a job, with the family read from its ARN.
    """
    expression = rule.get("ScheduleExpression")
    name = rule.get("Name")
    if not isinstance(expression, str) or not isinstance(name, str) or rule.get("State", "ENABLED") != "ENABLED":
        return []
    ecs_targets = [t for t in targets if isinstance(t, Mapping) and isinstance(t.get("EcsParameters"), Mapping)]
    return [
        _ecs_job(
            name=name if len(ecs_targets) == 1 else f"{name}.{target.get('Id')}",
            schedule=expression,
            timezone="UTC",
            source=JobSource.RULE,
            cluster_arn=target.get("Arn"),
            task_definition_arn=target["EcsParameters"].get("TaskDefinitionArn"),
            raw_input=target.get("Input"),
            task_definitions=task_definitions,
            schedule_name=name,
            schedule_group=None,
            region=_region(rule.get("Arn")),
        )
        for target in ecs_targets
    ]


def job_from_schedule(schedule: Mapping[str, Any], task_definitions: Mapping[str, Mapping[str, Any]]) -> Job | None:
    """The job of one EventBridge Scheduler schedule (GetSchedule's answer), or None if it runs no ECS task.

    Both the templated ECS target (``Target.EcsParameters``, ``Target.Arn`` the cluster) and the
    universal ``aws-sdk:ecs:runTask`` target (RunTask parameters as JSON in ``Target.Input``) count.
    A schedule not ``ENABLED`` has no job. The job is named after the schedule, or
    ``<group>.<schedule>`` outside the ``default`` group, and keeps ``ScheduleExpressionTimezone``.
    """
    target = schedule.get("Target")
    expression = schedule.get("ScheduleExpression")
    name = schedule.get("Name")
    if not isinstance(target, Mapping) or not isinstance(expression, str) or not isinstance(name, str):
        return None
    if schedule.get("State", "ENABLED") != "ENABLED":
        return None
    group = schedule.get("GroupName") or "default"
    raw_input = target.get("Input")
    if isinstance(target.get("EcsParameters"), Mapping):
        cluster_arn, definition_arn = target.get("Arn"), target["EcsParameters"].get("TaskDefinitionArn")
    elif target.get("Arn") == SCHEDULER_RUN_TASK_ARN:
        try:
            parameters = json.loads(raw_input) if isinstance(raw_input, str) else {}
        except ValueError:
            parameters = {}
        cluster_arn, definition_arn = _get(parameters, "cluster"), _get(parameters, "taskDefinition")
    else:
        return None
    return _ecs_job(
        name=name if group == "default" else f"{group}.{name}",
        schedule=expression,
        timezone=schedule.get("ScheduleExpressionTimezone") or "UTC",
        source=JobSource.SCHEDULE,
        cluster_arn=cluster_arn if isinstance(cluster_arn, str) else None,
        task_definition_arn=definition_arn if isinstance(definition_arn, str) else None,
        raw_input=raw_input,
        task_definitions=task_definitions,
        schedule_name=name,
        schedule_group=group,
        region=_region(schedule.get("Arn")),
    )


# --- The declared-jobs file ------------------------------------------------------------------------------------

_JOB_KEYS = {
    "name", "schedule", "timezone", "task_family", "container", "cluster", "system", "service", "log_group",
    "max_concurrent", "notify", "tags",
}  # fmt: skip
_OVERRIDE_KEYS = {"name", "container", "system", "service", "max_concurrent", "notify", "tags", "monitor"}
_DEFAULT_KEYS = {"timezone", "cluster", "notify", "tags"}
_TOP_KEYS = {"defaults", "job", "override"}


@dataclasses.dataclass(frozen=True, slots=True)
class JobOverride:
    """A ``[[override]]`` entry: fields that replace a discovered job's, by name; ``monitor = false`` drops it."""

    name: str
    fields: tuple[tuple[str, Any], ...]
    monitor: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class JobsFile:
    """A parsed declared-jobs file: declared jobs, overrides of discovered jobs, and defaults for all.

    ``notify`` and ``tags`` from ``[defaults]`` reach every job: a job's own ``notify`` replaces the
    default handles, its ``tags`` are added to the default tags.
    """

    jobs: tuple[Job, ...] = ()
    overrides: tuple[JobOverride, ...] = ()
    notify: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


class _Reader:
    """Checks one table of the file and names the file, the entry and the field in every error."""

    def __init__(self, source: str, where: str, table: Any, allowed: set[str]) -> None:
        self.source, self.where = source, where
        if not isinstance(table, Mapping):
            raise self.error(None, "must be a table")
        self.table = table
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def error(self, field: str | None, reason: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.where}" + (f" field {field!r}" if field else "") + f": {reason}")

    def text(self, field: str, *, required: bool = False) -> str | None:
        value = self.table.get(field)
        if value is None:
            if required:
                raise self.error(field, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "must be a non-empty string")
        return value.strip()

    def handles(self, field: str) -> tuple[str, ...] | None:
        return self._strings(field, NOTIFY_HANDLE, "a Datadog handle such as @slack-ops")

    def tags(self, field: str) -> tuple[str, ...] | None:
        return self._strings(field, DATADOG_TAG, "a Datadog tag such as team:billing")

    def _strings(self, field: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...] | None:
        value = self.table.get(field)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(field, "must be a list of strings")
        for item in value:
            if not pattern.fullmatch(item):
                raise self.error(field, f"{item!r} is not {what}")
        return tuple(value)

    def positive(self, field: str) -> int | None:
        value = self.table.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(field, "must be a whole number of at least 1")
        return value

    def flag(self, field: str) -> bool | None:
        value = self.table.get(field)
        if value is not None and not isinstance(value, bool):
            raise self.error(field, "must be true or false")
        return value

    def timezone(self, field: str, fallback: str) -> str:
        name = self.text(field) or fallback
        try:
            zone_of(name)
        except ValueError as err:
            raise self.error(field, str(err)) from None
        return name

    def job_name(self) -> str:
        name = self.text("name", required=True)
        assert name is not None
        if not JOB_NAME.fullmatch(name):
            raise self.error("name", f"{name!r} must be 1-160 letters, digits, '.', '_' or '-'")
        return name


def parse_jobs_file(text: str, source: str = "jobs file") -> JobsFile:
    """Parse a declared-jobs TOML document; ConfigError naming ``source``, the job and the field if it is wrong.

    The shape (every table optional)::

        [defaults]
        timezone = "UTC"                # declared jobs without their own
        cluster = "cron"                # declared jobs without their own
        notify = ["@slack-cron-alerts"] # every job without its own
        tags = ["env:prod"]             # added to every job's tags

        [[job]]                         # a schedule that lives outside EventBridge
        name = "nightly-export"         # required; letters, digits, . _ -
        schedule = "cron(0 2 * * ? *)"  # required; rate(...), cron(...) or at(...)
        timezone = "Europe/Paris"
        service = "export"              # or log_group = "/cron/export" (gives system and service)
        system = "cron"
        task_family = "export"
        container = "app"
        cluster = "cron"
        max_concurrent = 1
        notify = ["@slack-data"]
        tags = ["team:data"]

        [[override]]                    # refine a job found in EventBridge, by name
        name = "billing-report"
        service = "billing"             # also: system, container, max_concurrent, notify, tags
        monitor = false                 # leave this job unwatched

    A declared job needs ``service`` (or a conventional ``log_group``) or ``task_family``, so that
    there is something to watch.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from None
    top = _Reader(source, "top level", document, _TOP_KEYS)
    defaults = _Reader(source, "[defaults]", document.get("defaults", {}), _DEFAULT_KEYS)
    default_zone = defaults.timezone("timezone", "UTC")
    default_cluster = defaults.text("cluster")
    jobs: list[Job] = []
    for index, table in enumerate(_array(top, "job")):
        label = table.get("name") if isinstance(table, Mapping) and isinstance(table.get("name"), str) else None
        reader = _Reader(source, f"job {label!r}" if label else f"[[job]] #{index + 1}", table, _JOB_KEYS)
        jobs.append(_declared_job(reader, default_zone, default_cluster))
    overrides = [
        _override(_Reader(source, f"[[override]] #{i + 1}", t, _OVERRIDE_KEYS))
        for i, t in enumerate(_array(top, "override"))
    ]
    for kind, names in (("job", [j.name for j in jobs]), ("override", [o.name for o in overrides])):
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ConfigError(f"{source}: two [[{kind}]] entries are named {duplicate!r}")
    return JobsFile(tuple(jobs), tuple(overrides), defaults.handles("notify") or (), defaults.tags("tags") or ())


def load_jobs_file(path: str | Path) -> JobsFile:
    """Read and parse a declared-jobs file (``--jobs FILE``); ConfigError if it cannot be read or is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"jobs file {str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"jobs file {str(path)!r}: a directory, not a file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"jobs file {str(path)!r}: not UTF-8 text") from None
    except OSError as err:
        raise ConfigError(f"jobs file {str(path)!r}: cannot be read: {err.strerror or err}") from None
    return parse_jobs_file(text, f"jobs file {str(path)!r}")


def _array(top: _Reader, key: str) -> list[Any]:
    value = top.table.get(key, [])
    if not isinstance(value, list):
        raise top.error(key, f"must be an array of tables, written [[{key}]]")
    return value


def _declared_job(reader: _Reader, default_zone: str, default_cluster: str | None) -> Job:
    name = reader.job_name()
    expression = reader.text("schedule", required=True)
    assert expression is not None
    try:
        parse_schedule(expression)
    except ValueError as err:
        raise reader.error("schedule", str(err)) from None
    log_group = reader.text("log_group")
    system, service = names_from_log_group(log_group)
    if log_group and service is None:
        raise reader.error("log_group", f"{log_group!r} does not follow /<system>/<service>; set service instead")
    service = reader.text("service") or service
    family = reader.text("task_family")
    if service is None and family is None:
        raise reader.error("service", "set service (or a log_group /<system>/<service>) or task_family")
    return Job(
        name=name,
        schedule=expression,
        timezone=reader.timezone("timezone", default_zone),
        source=JobSource.FILE,
        task_family=family,
        container=reader.text("container"),
        cluster=reader.text("cluster") or default_cluster,
        system=reader.text("system") or system,
        service=service,
        log_group=log_group,
        max_concurrent=reader.positive("max_concurrent"),
        notify=reader.handles("notify") or (),
        tags=reader.tags("tags") or (),
    )


def _override(reader: _Reader) -> JobOverride:
    name = reader.job_name()
    fields: list[tuple[str, Any]] = []
    for key in ("container", "system", "service"):
        if (value := reader.text(key)) is not None:
            fields.append((key, value))
    if (limit := reader.positive("max_concurrent")) is not None:
        fields.append(("max_concurrent", limit))
    for key, strings in (("notify", reader.handles("notify")), ("tags", reader.tags("tags"))):
        if strings is not None:
            fields.append((key, strings))
    return JobOverride(name, tuple(fields), reader.flag("monitor") is not False)


def apply_jobs_file(discovered: Iterable[Job], jobs_file: JobsFile) -> tuple[tuple[Job, ...], tuple[str, ...]]:
    """The jobs to watch, and the override names that matched no discovered job (a typo, or a job gone).

    Overrides refine discovered jobs by name (``monitor = false`` drops one), declared jobs are
    added, and the file's default ``notify`` and ``tags`` reach every job. Two jobs with one name
    (a rule and a schedule both called ``nightly``, or a declared job named like a discovered one)
    raise ConfigError: one name must mean one job.
    """
    overrides = {o.name: o for o in jobs_file.overrides}
    watched: dict[str, Job] = {}
    seen: set[str] = set()
    for job in (*discovered, *jobs_file.jobs):
        if job.name in seen:
            raise ConfigError(
                f"two jobs are named {job.name!r} ({job.source} and another); rename one, or drop the "
                "discovered one with [[override]] monitor = false"
            )
        seen.add(job.name)
        override = overrides.get(job.name) if job.source is not JobSource.FILE else None
        if override is not None and not override.monitor:
            continue
        watched[job.name] = dataclasses.replace(job, **dict(override.fields)) if override is not None else job
    discovered_names = seen - {job.name for job in jobs_file.jobs}
    unmatched = tuple(sorted(set(overrides) - discovered_names))
    return tuple(_with_defaults(job, jobs_file) for job in watched.values()), unmatched


def _with_defaults(job: Job, jobs_file: JobsFile) -> Job:
    tags = tuple(dict.fromkeys((*jobs_file.tags, *job.tags)))
    return dataclasses.replace(job, notify=job.notify or jobs_file.notify, tags=tags)
