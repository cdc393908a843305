"""Discovery: the scheduled ECS tasks of an account and region, from EventBridge, Scheduler and the jobs file.

:func:`discover` makes the calls and leaves the reading to the pure converters of
:mod:`logship.cronwatch.jobs`:

- EventBridge: ListRules (every page) on the default event bus, which is where
  schedule expressions live, then ListTargetsByRule (every page) for each rule with a
  ``ScheduleExpression``, and ListTagsForResource for each rule that runs an ECS task:
  a tag ``logship:max-concurrent`` sets the job's ``max_concurrent``.
- EventBridge Scheduler: ListSchedules (every page, every group), then GetSchedule for
  each one (ListSchedules gives no target). Scheduler schedules take no tags. A role
  that may not list schedules gives a note, not a failure: an account that never
  used Scheduler often never granted it.
- ECS: DescribeTaskDefinition once per task definition the targets name, on demand.

:func:`find_jobs` adds the declared-jobs file (``--jobs FILE`` or ``LOGSHIP_JOBS_FILE``,
a path or ``s3://bucket/key``) and its overrides. Clients come from a factory
(``client_factory("events")``), so tests pass moto's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from logship import s3uri
from logship.cronwatch.jobs import Job, JobsFile, apply_jobs_file, job_from_schedule, jobs_from_rule, parse_jobs_file
from logship.errors import ConfigError

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str], Any]

#: The tag of an EventBridge rule that limits the copies of its task running at once (``1``: never overlap).
MAX_CONCURRENT_TAG = "logship:max-concurrent"
# Page sizes: ListRules and ListTargetsByRule "Limit" 1-100 (EventBridge API reference); ListSchedules
# "MaxResults" 1-100 (Scheduler API reference).
RULES_PAGE_SIZE = 100
TARGETS_PAGE_SIZE = 100
SCHEDULES_PAGE_SIZE = 100
# Answers of Scheduler that mean this role may not read it (or the service is not offered here).
_SCHEDULER_UNAVAILABLE = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"})
# The largest jobs file read (a pasted dump is a mistake, not a jobs file).
JOBS_FILE_MAX_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True, slots=True)
class Discovery:
    """The jobs found, and what a person should know about how they were found (a tag ignored, Scheduler unread)."""

    jobs: tuple[Job, ...]
    notes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class JobsFound:
    """The jobs to watch: discovered and declared, overrides applied; override names that matched nothing; notes."""

    jobs: tuple[Job, ...]
    unmatched_overrides: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class TaskDefinitions(Mapping[str, Mapping[str, Any]]):
    """Task definitions by ARN (or ``family:revision``), described on first access and kept.

    A revision never changes once registered, so an answer is good for the life of the
    process. A task definition ECS does not know is a missing key (``get`` gives None).
    """

    def __init__(self, ecs: Any) -> None:
        self._ecs = ecs
        self._found: dict[str, Mapping[str, Any] | None] = {}

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        if not key:
            raise KeyError(key)
        if key not in self._found:
            self._found[key] = self._describe(key)
        found = self._found[key]
        if found is None:
            raise KeyError(key)
        return found

    def _describe(self, key: str) -> Mapping[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            answer = self._ecs.describe_task_definition(taskDefinition=key)
        except ClientError as err:
            # ClientException: "Unable to describe task definition" (deregistered, or never there).
            if err.response.get("Error", {}).get("Code") in {"ClientException", "InvalidParameterException"}:
                return None
            raise
        definition = answer.get("taskDefinition")
        return definition if isinstance(definition, Mapping) else None

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, value in self._found.items() if value is not None])

    def __len__(self) -> int:
        return sum(1 for value in self._found.values() if value is not None)


def max_concurrent_from_tags(tags: Any) -> tuple[int | None, str | None]:
    """``max_concurrent`` from an EventBridge rule's tags (``[{"Key", "Value"}]``), and a note if the tag is wrong."""
    if not isinstance(tags, list):
        return None, None
    value = next((t.get("Value") for t in tags if isinstance(t, Mapping) and t.get("Key") == MAX_CONCURRENT_TAG), None)
    if value is None:
        return None, None
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        return None, f"tag {MAX_CONCURRENT_TAG}={text!r} is not a whole number of at least 1; ignored"
    return int(text), None


def discover(client_factory: ClientFactory, *, page_size: int | None = None) -> Discovery:
    """Every enabled schedule of the account and region that runs an ECS task, as jobs, with notes.

    ``page_size`` asks for smaller pages than the APIs' largest (tests use it to see several pages).
    Raises botocore's errors for anything but a Scheduler that this role may not read.
    """
    definitions = TaskDefinitions(client_factory("ecs"))
    notes: list[str] = []
    jobs = list(_rule_jobs(client_factory("events"), definitions, notes, page_size))
    jobs += _schedule_jobs(client_factory("scheduler"), definitions, notes, page_size)
    return Discovery(tuple(jobs), tuple(notes))


def _rule_jobs(events: Any, definitions: TaskDefinitions, notes: list[str], page_size: int | None) -> Iterator[Job]:
    rules = pages(events, "list_rules", "Rules", page_size or RULES_PAGE_SIZE)
    for rule in (item for item in rules if isinstance(item, dict)):
        if not isinstance(rule.get("ScheduleExpression"), str) or rule.get("State", "ENABLED") != "ENABLED":
            continue
        name = rule["Name"]
        found_targets = pages(events, "list_targets_by_rule", "Targets", page_size or TARGETS_PAGE_SIZE, Rule=name)
        targets = [target for target in found_targets if isinstance(target, dict)]
        found = jobs_from_rule(rule, targets, definitions)
        if not found:
            continue
        limit, problem = max_concurrent_from_tags(events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags"))
        if problem:
            notes.append(f"rule {name}: {problem}")
        for job in found:
            yield dataclasses.replace(job, max_concurrent=limit) if limit is not None else job


def _schedule_jobs(scheduler: Any, definitions: TaskDefinitions, notes: list[str], page_size: int | None) -> list[Job]:
    from botocore.exceptions import ClientError

    jobs: list[Job] = []
    try:
        summaries = list(pages(scheduler, "list_schedules", "Schedules", page_size or SCHEDULES_PAGE_SIZE))
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code not in _SCHEDULER_UNAVAILABLE:
            raise
        notes.append(
            f"EventBridge Scheduler schedules were not read ({code}): grant scheduler:ListSchedules and "
            "scheduler:GetSchedule to watch them"
        )
        return jobs
    for summary in summaries:
        if not isinstance(summary, dict) or summary.get("State", "ENABLED") != "ENABLED":
            continue
        schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName") or "default")
        job = job_from_schedule(schedule, definitions)
        if job is not None:
            jobs.append(job)
    return jobs


def pages(client: Any, operation: str, key: str, page_size: int, **parameters: Any) -> Iterator[Any]:
    """Every item under ``key`` of every page of ``operation``, with botocore's paginator.

    The paginator follows ``NextToken`` and stops with a PaginationError if a service hands the
    same token back twice, rather than loop.
    """
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(**parameters, PaginationConfig={"PageSize": page_size}):
        yield from page.get(key) or []


# --- The jobs file and everything together ----------------------------------------------------------------


def read_jobs_file(location: str | Path, client_factory: ClientFactory | None = None) -> JobsFile:
    """Read and parse the jobs file at ``location``, a path or ``s3://bucket/key``; ConfigError naming it.

    An S3 location is read with ``client_factory("s3")``; a missing object or bucket, or a role that
    may not read it, is a ConfigError.
    """
    text = str(location)
    if not text.startswith(s3uri.SCHEME):
        from logship.cronwatch.jobs import load_jobs_file

        return load_jobs_file(text)
    from botocore.exceptions import ClientError

    bucket, key = s3uri.parse(text)
    if client_factory is None:
        raise ConfigError(f"jobs file {text!r}: no S3 client to read it with")
    try:
        answer = client_factory("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{JOBS_FILE_MAX_BYTES}")
        body = answer["Body"].read()
    except ClientError as err:
        error = err.response.get("Error", {})
        raise ConfigError(
            f"jobs file {text!r}: cannot be read: {error.get('Code')}: {error.get('Message', '')}"
        ) from None
    if len(body) > JOBS_FILE_MAX_BYTES:
        raise ConfigError(f"jobs file {text!r}: larger than {JOBS_FILE_MAX_BYTES:,} bytes; is it a jobs file?")
    try:
        document = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"jobs file {text!r}: not UTF-8 text") from None
    return parse_jobs_file(document, f"jobs file {text!r}")


def find_jobs(
    client_factory: ClientFactory | None,
    jobs_file: JobsFile | None = None,
    *,
    page_size: int | None = None,
) -> JobsFound:
    """The jobs to watch: discovered in AWS (unless ``client_factory`` is None) and declared in ``jobs_file``.

    Raises ConfigError when two jobs share a name (see :func:`~logship.cronwatch.jobs.apply_jobs_file`).
    """
    discovery = discover(client_factory, page_size=page_size) if client_factory is not None else Discovery(())
    jobs, unmatched = apply_jobs_file(discovery.jobs, jobs_file or JobsFile())
    notes = list(discovery.notes)
    if client_factory is not None:
        notes += (
            f"[[override]] {name!r} matches no job found in AWS (a typo, or a job that is gone)" for name in unmatched
        )
    return JobsFound(jobs, unmatched if client_factory is not None else (), tuple(notes))
