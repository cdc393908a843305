"""Monitors as code: the Datadog monitors that watch each job, as JSON bodies for ``POST /api/v1/monitor``.

Four monitors per job, each tagged ``managed-by:logship`` and ``logship-monitor:<job>/<kind>`` (its
identity, which :mod:`logship.cronwatch.planner` matches existing monitors by):

- **liveness**: no log line from the job's ``service`` within its longest gap plus a grace. A
  ``log alert`` counting logs; an empty window counts as zero (``on_missing_data: default``: "for
  monitors using Count queries, an empty monitor evaluation is treated as 0"). Log monitors look
  back 48 hours at most, so a longer window (a weekday job's three days) counts the same logs
  through the log-based metric :data:`LOG_EVENTS_METRIC` with a metric monitor that alerts on no
  data; past seven days (a metric monitor's longest window) the job gets no liveness monitor and
  the plan says why.
- **errors**: log lines of error status or worse above a threshold.
- **failed-runs**: the ops events of this job at error severity: the ops events Lambda
  (``logship.opsevents``) posts a stopped task with ``alert_type: error``, the tags
  ``task_family:`` and ``cluster:``, and ``source_type_name: amazon_ecs``, the source in
  :attr:`MonitorOptions.events_source`.
- **schedule**: the schedule failing to start the task (a RunTask that fails emits no ECS task
  event): the AWS integration's ``aws.events.failed_invocations`` per ``rulename`` for a rule,
  ``aws.scheduler.invocation_dropped_count`` per ``schedulegroup`` for Scheduler (whose metrics
  exist per schedule group only, so one monitor watches a whole group).

Nothing here talks to Datadog: the bodies are plain dicts that datadog-api-client's ``Monitor``
model accepts and that ``/api/v1/monitor/validate`` checks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from logship.cronwatch.jobs import Job, JobSource
from logship.cronwatch.options import NOTIFY_HANDLE
from logship.cronwatch.schedule import NotRecurring, longest_gap
from logship.errors import ConfigError

# Every monitor logship manages carries this tag; nothing without it is ever changed or deleted.
MANAGED_BY_TAG = "managed-by:logship"
# The identity tag's key: ``logship-monitor:<job>/<kind>``.
IDENTITY_TAG_KEY = "logship-monitor"
# Log and event monitor windows: "#m (between 1 and 2880), #h (between 1 and 48)" (Monitors API,
# Logs Alert Query and Event V2 Alert Query).
LOG_ALERT_MAX_WINDOW = dt.timedelta(hours=48)
# Metric monitor windows: "last_#m (1-10080) or last_#h (1-168) ... or last_1w" (Monitors API, Metric Alert Query).
METRIC_ALERT_MAX_WINDOW = dt.timedelta(days=7)
# "Integer from 1 (high) to 5 (low) indicating alert severity" (Monitor.priority).
PRIORITIES = range(1, 6)
# The log-based metric a liveness window longer than 48 hours counts logs with: a count of logs
# grouped by service and system, defined by :func:`log_metric_definition`.
LOG_EVENTS_METRIC = "logship.cronwatch.log_events"
# CloudWatch metrics reach Datadog through the AWS integration's crawler, minutes late; Datadog's
# monitor options recommend an evaluation delay for "AWS CloudWatch and other backfilled metrics".
AWS_METRIC_EVALUATION_DELAY_SECONDS = 900
# Log statuses of error severity or worse (Datadog's status remapper levels).
ERROR_STATUSES = ("emergency", "alert", "critical", "error")
NO_SERVICE = "no service known for its logs: set service (or a /<system>/<service> log_group) in the jobs file"
_SEARCH_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


class MonitorKind(enum.StrEnum):
    """What a monitor watches."""

    LIVENESS = "liveness"
    ERRORS = "errors"
    FAILED_RUNS = "failed-runs"
    SCHEDULE = "schedule"


@dataclasses.dataclass(frozen=True, slots=True)
class MonitorOptions:
    """How the monitors are built; every field has a default, settings can fill them later.

    ``grace`` is added to a job's longest gap before liveness alerts (the run's own duration and
    log delivery fit in it). ``error_threshold``: the errors monitor alerts above this many error
    lines within ``error_window``. ``notify`` holds handles added to every monitor's message (a
    job's own handles come first). ``events_source`` is the ``source`` of the ops events (the
    ``source_type_name`` logship.opsevents gives ECS events). Windows of
    log and event monitors are 48 hours at most (Datadog's limit). ``renotify_minutes`` re-notifies
    while a monitor stays in alert. ``kinds`` lists the monitors to build.
    """

    grace: dt.timedelta = dt.timedelta(minutes=15)
    error_threshold: int = 0
    error_window: dt.timedelta = dt.timedelta(hours=1)
    failed_run_window: dt.timedelta = dt.timedelta(hours=1)
    schedule_window: dt.timedelta = dt.timedelta(hours=1)
    notify: tuple[str, ...] = ()
    events_source: str = "amazon_ecs"
    log_index: str = "*"
    priority: int | None = None
    renotify_minutes: int | None = None
    kinds: tuple[MonitorKind, ...] = tuple(MonitorKind)

    def __post_init__(self) -> None:
        for name in ("error_window", "failed_run_window", "schedule_window"):
            window = getattr(self, name)
            if not dt.timedelta(minutes=1) <= window <= LOG_ALERT_MAX_WINDOW:
                raise ConfigError(f"monitor option {name}: {window} must be from 1 minute to 48 hours")
        if self.grace < dt.timedelta(0):
            raise ConfigError(f"monitor option grace: {self.grace} must not be negative")
        if self.error_threshold < 0:
            raise ConfigError(f"monitor option error_threshold: {self.error_threshold} must not be negative")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise ConfigError(f"monitor option priority: {self.priority} must be 1 (high) to 5 (low)")
        if self.renotify_minutes is not None and self.renotify_minutes < 1:
            raise ConfigError(f"monitor option renotify_minutes: {self.renotify_minutes} must be at least 1")
        for handle in self.notify:
            if not NOTIFY_HANDLE.fullmatch(handle):
                raise ConfigError(f"monitor option notify: {handle!r} is not a Datadog handle such as @slack-ops")
        if not _SEARCH_WORD.fullmatch(self.events_source):
            raise ConfigError(f"monitor option events_source: {self.events_source!r} must be one word")
        if not self.log_index or '"' in self.log_index or "\\" in self.log_index:
            raise ConfigError(f"monitor option log_index: {self.log_index!r} must be an index name or *")


@dataclasses.dataclass(frozen=True, slots=True)
class DesiredMonitor:
    """One monitor as logship wants it: its identity (``<job>/<kind>``, lowercase) and its API body."""

    identity: str
    kind: MonitorKind
    body: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    """A monitor a job cannot have, and why (for the plan's readers)."""

    identity: str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class DesiredMonitors:
    """The monitors for a set of jobs, the ones that could not be built, and whether the log metric is used."""

    monitors: tuple[DesiredMonitor, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def uses_log_metric(self) -> bool:
        """True when a liveness monitor counts logs through :data:`LOG_EVENTS_METRIC`, which must then exist."""
        return any(LOG_EVENTS_METRIC in m.body["query"] for m in self.monitors)


def identity_tag(identity: str) -> str:
    """The tag that names a monitor for logship: ``logship-monitor:<job>/<kind>``."""
    return f"{IDENTITY_TAG_KEY}:{identity}"


def desired_monitors(
    jobs: Iterable[Job], options: MonitorOptions | None = None, *, after: dt.datetime | None = None
) -> DesiredMonitors:
    """Every monitor the jobs need, in a stable order, and the ones they cannot have.

    ``after`` is when the longest gaps are counted from (default: now). Datadog lowercases tags, so
    two jobs whose names differ only in case would share identities: that raises ConfigError.
    """
    options = options or MonitorOptions()
    monitors: list[DesiredMonitor] = []
    skipped: list[Skipped] = []
    owners: dict[str, str] = {}
    groups: dict[str, list[Job]] = {}
    for job in sorted(jobs, key=lambda j: j.name):
        key = job.name.lower()
        if key in owners:
            raise ConfigError(f"jobs {owners[key]!r} and {job.name!r} differ only in case; Datadog tags do not")
        owners[key] = job.name
        built, missing = _job_monitors(job, options, after)
        monitors += built
        skipped += missing
        if MonitorKind.SCHEDULE in options.kinds and job.source is JobSource.SCHEDULE and job.schedule_group:
            groups.setdefault(job.schedule_group, []).append(job)
    for group, members in sorted(groups.items()):
        monitors.append(_scheduler_group_monitor(group, members, options))
    return DesiredMonitors(tuple(monitors), tuple(skipped))


def _job_monitors(
    job: Job, options: MonitorOptions, after: dt.datetime | None
) -> tuple[list[DesiredMonitor], list[Skipped]]:
    built: list[DesiredMonitor] = []
    skipped: list[Skipped] = []

    def skip(kind: MonitorKind, reason: str) -> None:
        skipped.append(Skipped(f"{job.name.lower()}/{kind}", reason))

    kinds = options.kinds
    if MonitorKind.LIVENESS in kinds:
        liveness = _liveness(job, options, after)
        if isinstance(liveness, str):
            skip(MonitorKind.LIVENESS, liveness)
        else:
            built.append(liveness)
    if MonitorKind.ERRORS in kinds:
        if job.service:
            built.append(_errors(job, options))
        else:
            skip(MonitorKind.ERRORS, NO_SERVICE)
    if MonitorKind.FAILED_RUNS in kinds:
        if job.task_family:
            built.append(_failed_runs(job, options))
        else:
            skip(MonitorKind.FAILED_RUNS, "no task family known: set task_family for this job in the jobs file")
    if MonitorKind.SCHEDULE in kinds and job.source is JobSource.RULE and job.schedule_name:
        built.append(_rule_failures(job, options))
    return built, skipped


# --- Query pieces ----------------------------------------------------------------------------------------------


def _search_value(value: str) -> str:
    """A value for Datadog's search syntax: as is when it is one plain word, else quoted."""
    if _SEARCH_WORD.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quoted(search: str) -> str:
    """A search string inside a monitor query's ``logs("...")`` / ``events("...")``."""
    return '"' + search.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _log_search(job: Job, *extra: str) -> str:
    assert job.service
    terms = [f"service:{_search_value(job.service)}"]
    if job.system:
        terms.append(f"system:{_search_value(job.system)}")
    return " ".join([*terms, *extra])


def _tag_value(value: str) -> str:
    """A tag value as Datadog stores it: lowercase, characters other than letters, digits, ``_-:./`` made ``_``."""
    return re.sub(r"[^a-z0-9_\-:./]", "_", value.lower())


def _window(length: dt.timedelta) -> str:
    """A log or event monitor window, ``#h`` when whole hours, else ``#m`` (minutes rounded up)."""
    minutes = math.ceil(length.total_seconds() / 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _metric_window(length: dt.timedelta) -> str:
    minutes = math.ceil(length.total_seconds() / 60)
    return f"last_{minutes // 60}h" if minutes % 60 == 0 else f"last_{minutes}m"


def duration_text(length: dt.timedelta) -> str:
    """A duration as people say it: ``3 days 15 minutes``."""
    seconds = math.ceil(length.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"


# --- Bodies ------------------------------------------------------------------------------------------------------


def _tags(job: Job, identity: str) -> list[str]:
    tags = [MANAGED_BY_TAG, identity_tag(identity), f"logship-job:{_tag_value(job.name)}"]
    if job.service:
        tags.append(f"service:{_tag_value(job.service)}")
    if job.system:
        tags.append(f"system:{_tag_value(job.system)}")
    tags += (tag.lower() for tag in job.tags)
    return sorted(set(tags))


def _handles(job_handles: Iterable[str], options: MonitorOptions) -> str:
    return " ".join(dict.fromkeys((*job_handles, *options.notify)))


def _about(job: Job) -> str:
    """The job's facts, one line each, for a monitor message."""
    lines = [f"Schedule: `{job.schedule}` ({job.timezone}), from {job.source}"]
    task = [
        f"task family `{job.task_family}`" if job.task_family else "",
        f"container `{job.container}`" if job.container else "",
        f"cluster `{job.cluster}`" if job.cluster else "",
    ]
    if any(task):
        lines.append("Task: " + ", ".join(t for t in task if t))
    if job.service:
        lines.append(f"Logs: service `{job.service}`" + (f", system `{job.system}`" if job.system else ""))
    return "\n".join(lines)


def _message(alert: str, recovery: str, job: Job, options: MonitorOptions, *, no_data: bool = False) -> str:
    parts = [f"{{{{#is_alert}}}}{alert}{{{{/is_alert}}}}"]
    if no_data:
        parts.append(f"{{{{#is_no_data}}}}{alert}{{{{/is_no_data}}}}")
    parts.append(f"{{{{#is_recovery}}}}{recovery}{{{{/is_recovery}}}}")
    handles = _handles(job.notify, options)
    return "\n".join(parts) + "\n\n" + _about(job) + (f"\n\n{handles}" if handles else "")


def _options(options: MonitorOptions, critical: int, **kind_options: Any) -> dict[str, Any]:
    return {
        "thresholds": {"critical": critical},
        "renotify_interval": options.renotify_minutes,
        "include_tags": False,
        **kind_options,
    }


def _monitor(
    identity: str, kind: MonitorKind, *, name: str, type_: str, query: str, message: str, tags: list[str],
    priority: int | None, options: dict[str, Any],
) -> DesiredMonitor:  # fmt: skip
    """A desired monitor; its body holds exactly the fields of ``POST /api/v1/monitor`` that logship owns."""
    body = {"name": name, "type": type_, "query": query, "message": message, "tags": tags, "priority": priority,
            "options": options}  # fmt: skip
    return DesiredMonitor(identity, kind, body)


def _liveness(job: Job, options: MonitorOptions, after: dt.datetime | None) -> DesiredMonitor | str:
    """The liveness monitor, or the reason the job cannot have one."""
    if not job.service:
        return NO_SERVICE
    try:
        gap = longest_gap(job.schedule, job.timezone, after=after)
    except NotRecurring:
        return "its schedule has fewer than two runs left, so there is no interval to expect logs in"
    except ValueError as err:
        return f"its schedule cannot be read: {err}"
    window = gap + options.grace
    identity = f"{job.name.lower()}/{MonitorKind.LIVENESS}"
    name = f"[cron] {job.name}: no log line for {duration_text(window)}"
    alert = (
        f"No log line from `{job.service}` for {duration_text(window)} (its longest gap between runs, "
        f"{duration_text(gap)}, plus {duration_text(options.grace)} of grace): **{job.name}** has not run, "
        "or ran without logging. Check the schedule and the failed-runs monitors of this job."
    )
    recovery = f"`{job.service}` logs again."
    if window <= LOG_ALERT_MAX_WINDOW:
        query = (
            f"logs({_quoted(_log_search(job))}).index({_quoted(options.log_index)})"
            f'.rollup("count").last("{_window(window)}") < 1'
        )
        body_options = _options(options, 1, on_missing_data="default", enable_logs_sample=False)
        message = _message(alert, recovery, job, options)
        return _monitor(
            identity,
            MonitorKind.LIVENESS,
            name=name,
            type_="log alert",
            query=query,
            message=message,
            tags=_tags(job, identity),
            priority=options.priority,
            options=body_options,
        )
    hours = math.ceil(window.total_seconds() / 3600)
    if dt.timedelta(hours=hours) > METRIC_ALERT_MAX_WINDOW:
        return (
            f"its longest gap plus grace, {duration_text(window)}, is longer than the longest window a Datadog "
            f"monitor evaluates ({duration_text(METRIC_ALERT_MAX_WINDOW)}); the failed-runs and schedule "
            "monitors still watch it"
        )
    scope = f"service:{_tag_value(job.service)}" + (f",system:{_tag_value(job.system)}" if job.system else "")
    query = f"sum(last_{hours}h):sum:{LOG_EVENTS_METRIC}{{{scope}}}.as_count() < 1"
    body_options = _options(options, 1, notify_no_data=True, no_data_timeframe=hours * 60, require_full_window=False)
    message = _message(alert, recovery, job, options, no_data=True)
    return _monitor(
        identity,
        MonitorKind.LIVENESS,
        name=name,
        type_="query alert",
        query=query,
        message=message,
        tags=_tags(job, identity),
        priority=options.priority,
        options=body_options,
    )


def _errors(job: Job, options: MonitorOptions) -> DesiredMonitor:
    identity = f"{job.name.lower()}/{MonitorKind.ERRORS}"
    statuses = "status:(" + " OR ".join(ERROR_STATUSES) + ")"
    query = (
        f"logs({_quoted(_log_search(job, statuses))}).index({_quoted(options.log_index)})"
        f'.rollup("count").last("{_window(options.error_window)}") > {options.error_threshold}'
    )
    limit = "an error line" if options.error_threshold == 0 else f"more than {options.error_threshold} error lines"
    alert = f"**{job.name}** logged {limit} within {duration_text(options.error_window)} (service `{job.service}`)."
    message = _message(alert, f"**{job.name}** logs no more errors.", job, options)
    body_options = _options(options, options.error_threshold, on_missing_data="default", enable_logs_sample=True)
    name = f"[cron] {job.name}: error logs"
    return _monitor(
        identity,
        MonitorKind.ERRORS,
        name=name,
        type_="log alert",
        query=query,
        message=message,
        tags=_tags(job, identity),
        priority=options.priority,
        options=body_options,
    )


def _failed_runs(job: Job, options: MonitorOptions) -> DesiredMonitor:
    assert job.task_family
    identity = f"{job.name.lower()}/{MonitorKind.FAILED_RUNS}"
    terms = [f"source:{options.events_source}", f"task_family:{_search_value(_tag_value(job.task_family))}"]
    if job.cluster:
        terms.append(f"cluster:{_search_value(_tag_value(job.cluster))}")
    terms.append("status:error")
    query = f'events({_quoted(" ".join(terms))}).rollup("count").last("{_window(options.failed_run_window)}") > 0'
    alert = (
        f"A run of **{job.name}** failed (task family `{job.task_family}`): the ops event names the container, "
        "its exit code and the reason."
    )
    message = _message(alert, f"No failed run of **{job.name}** within the window.", job, options)
    body_options = _options(options, 0, on_missing_data="default")
    name = f"[cron] {job.name}: failed runs"
    return _monitor(
        identity,
        MonitorKind.FAILED_RUNS,
        name=name,
        type_="event-v2 alert",
        query=query,
        message=message,
        tags=_tags(job, identity),
        priority=options.priority,
        options=body_options,
    )


def _rule_failures(job: Job, options: MonitorOptions) -> DesiredMonitor:
    assert job.schedule_name
    identity = f"{job.name.lower()}/{MonitorKind.SCHEDULE}"
    scope = f"rulename:{_tag_value(job.schedule_name)}" + (f",region:{job.region}" if job.region else "")
    query = (
        f"sum({_metric_window(options.schedule_window)}):sum:aws.events.failed_invocations{{{scope}}}.as_count() > 0"
    )
    alert = (
        f"EventBridge rule `{job.schedule_name}` failed to start **{job.name}**: RunTask was refused (capacity, "
        "permissions, a missing task definition or network settings), so no task ran and no task event exists."
    )
    message = _message(alert, f"Rule `{job.schedule_name}` invokes its target again.", job, options)
    body_options = _options(
        options, 0, notify_no_data=False, require_full_window=False,
        evaluation_delay=AWS_METRIC_EVALUATION_DELAY_SECONDS,
    )  # fmt: skip
    name = f"[cron] {job.name}: schedule failed to start the task"
    return _monitor(
        identity,
        MonitorKind.SCHEDULE,
        name=name,
        type_="query alert",
        query=query,
        message=message,
        tags=_tags(job, identity),
        priority=options.priority,
        options=body_options,
    )


def _scheduler_group_monitor(group: str, jobs: list[Job], options: MonitorOptions) -> DesiredMonitor:
    identity = f"schedule-group:{_tag_value(group)}/{MonitorKind.SCHEDULE}"
    scope = f"schedulegroup:{_tag_value(group)}"
    regions = sorted({job.region for job in jobs if job.region})
    if len(regions) == 1:
        scope += f",region:{regions[0]}"
    query = (
        f"sum({_metric_window(options.schedule_window)}):sum:aws.scheduler.invocation_dropped_count{{{scope}}}"
        ".as_count() > 0"
    )
    names = ", ".join(f"**{job.name}**" for job in jobs)
    alert = (
        f"EventBridge Scheduler dropped an invocation in schedule group `{group}` after its retries: a task did "
        f"not start. Jobs in this group: {names}."
    )
    recovery = f"Schedule group `{group}` delivers its invocations again."
    handles = _handles((h for job in jobs for h in job.notify), options)
    message = (
        f"{{{{#is_alert}}}}{alert}{{{{/is_alert}}}}\n{{{{#is_recovery}}}}{recovery}{{{{/is_recovery}}}}"
        f"\n\nScheduler publishes this metric per schedule group, not per schedule."
        + (f"\n\n{handles}" if handles else "")
    )
    tags = sorted({MANAGED_BY_TAG, identity_tag(identity), f"schedule_group:{_tag_value(group)}"})
    body_options = _options(
        options, 0, notify_no_data=False, require_full_window=False,
        evaluation_delay=AWS_METRIC_EVALUATION_DELAY_SECONDS,
    )  # fmt: skip
    name = f"[cron] schedule group {group}: invocations dropped"
    return _monitor(
        identity,
        MonitorKind.SCHEDULE,
        name=name,
        type_="query alert",
        query=query,
        message=message,
        tags=tags,
        priority=options.priority,
        options=body_options,
    )


def log_metric_definition(query: str = "*") -> dict[str, Any]:
    """The body of ``POST /api/v2/logs/config/metrics`` that creates :data:`LOG_EVENTS_METRIC`.

    A count of logs matching ``query``, grouped by ``service`` and the ``system`` tag; liveness
    monitors longer than 48 hours read it. Datadog counts from the metric's creation on.
    """
    return {
        "data": {
            "id": LOG_EVENTS_METRIC,
            "type": "logs_metrics",
            "attributes": {
                "compute": {"aggregation_type": "count"},
                "filter": {"query": query},
                "group_by": [{"path": "service", "tag_name": "service"}, {"path": "system", "tag_name": "system"}],
            },
        }
    }


def job_identity(monitor: Mapping[str, Any]) -> str | None:
    """The ``<job>/<kind>`` identity of an existing monitor from its tags, or None if it has none."""
    prefix = IDENTITY_TAG_KEY + ":"
    tags = monitor.get("tags")
    if not isinstance(tags, list):
        return None
    return next(
        (tag[len(prefix) :].lower() for tag in tags if isinstance(tag, str) and tag.lower().startswith(prefix)), None
    )
