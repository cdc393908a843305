"""Cron watch: scheduled ECS tasks, their schedules' longest gaps, and the Datadog monitors that watch them.

The public names below are imported from their modules at first use (PEP 562): settings import
:mod:`logship.cronwatch.options` in every Lambda, and the rest of cron watch would add tens of
milliseconds to the log path's cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logship.cronwatch.apply import Applied, apply_plan, current_plan, log_metric_change
    from logship.cronwatch.discovery import (
        MAX_CONCURRENT_TAG,
        Discovery,
        JobsFound,
        TaskDefinitions,
        discover,
        find_jobs,
        read_jobs_file,
    )
    from logship.cronwatch.jobs import (
        Job,
        JobOverride,
        JobsFile,
        JobSource,
        apply_jobs_file,
        job_from_schedule,
        jobs_from_rule,
        load_jobs_file,
        names_from_log_group,
        parse_jobs_file,
    )
    from logship.cronwatch.monitors import (
        LOG_EVENTS_METRIC,
        MANAGED_BY_TAG,
        DesiredMonitor,
        DesiredMonitors,
        MonitorKind,
        MonitorOptions,
        Skipped,
        desired_monitors,
        identity_tag,
        log_metric_definition,
    )
    from logship.cronwatch.planner import Delete, FieldChange, MonitorPlan, Update, plan, render_plan
    from logship.cronwatch.schedule import (
        At,
        Cron,
        Gap,
        NotRecurring,
        Rate,
        Schedule,
        describe,
        find_longest_gap,
        longest_gap,
        next_runs,
        parse_schedule,
    )
    from logship.cronwatch.watch import (
        PENDING_METRIC,
        RUNNING_METRIC,
        FamilyCount,
        Overlap,
        RunWatch,
        WatchSummary,
        count_tasks,
        find_overlaps,
        overlap_event,
        summary_event,
    )

__all__ = [
    "LOG_EVENTS_METRIC",
    "MANAGED_BY_TAG",
    "MAX_CONCURRENT_TAG",
    "PENDING_METRIC",
    "RUNNING_METRIC",
    "Applied",
    "At",
    "Cron",
    "Delete",
    "DesiredMonitor",
    "DesiredMonitors",
    "Discovery",
    "FamilyCount",
    "FieldChange",
    "Gap",
    "Job",
    "JobOverride",
    "JobSource",
    "JobsFile",
    "JobsFound",
    "MonitorKind",
    "MonitorOptions",
    "MonitorPlan",
    "NotRecurring",
    "Overlap",
    "Rate",
    "RunWatch",
    "Schedule",
    "Skipped",
    "TaskDefinitions",
    "Update",
    "WatchSummary",
    "apply_jobs_file",
    "apply_plan",
    "count_tasks",
    "current_plan",
    "describe",
    "desired_monitors",
    "discover",
    "find_jobs",
    "find_longest_gap",
    "find_overlaps",
    "identity_tag",
    "job_from_schedule",
    "jobs_from_rule",
    "load_jobs_file",
    "log_metric_change",
    "log_metric_definition",
    "longest_gap",
    "names_from_log_group",
    "next_runs",
    "overlap_event",
    "parse_jobs_file",
    "parse_schedule",
    "plan",
    "read_jobs_file",
    "render_plan",
    "summary_event",
]

# Each public name and the module that defines it.
_HOMES = {
    **dict.fromkeys(
        ("PENDING_METRIC", "RUNNING_METRIC", "FamilyCount", "Overlap", "RunWatch", "WatchSummary", "count_tasks",
         "find_overlaps", "overlap_event", "summary_event"),
        "watch",
    ),
    **dict.fromkeys(("Applied", "apply_plan", "current_plan", "log_metric_change"), "apply"),
    **dict.fromkeys(
        ("MAX_CONCURRENT_TAG", "Discovery", "JobsFound", "TaskDefinitions", "discover", "find_jobs", "read_jobs_file"),
        "discovery",
    ),
    **dict.fromkeys(
        ("Job", "JobOverride", "JobsFile", "JobSource", "apply_jobs_file", "job_from_schedule", "jobs_from_rule",
         "load_jobs_file", "names_from_log_group", "parse_jobs_file"),
        "jobs",
    ),
    **dict.fromkeys(
        ("LOG_EVENTS_METRIC", "MANAGED_BY_TAG", "DesiredMonitor", "DesiredMonitors", "MonitorKind", "MonitorOptions",
         "Skipped", "desired_monitors", "identity_tag", "log_metric_definition"),
        "monitors",
    ),
    **dict.fromkeys(("Delete", "FieldChange", "MonitorPlan", "Update", "plan", "render_plan"), "planner"),
    **dict.fromkeys(
        ("At", "Cron", "Gap", "NotRecurring", "Rate", "Schedule", "describe", "find_longest_gap", "longest_gap",
         "next_runs", "parse_schedule"),
        "schedule",
    ),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """A public name of cron watch, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'logship.cronwatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"logship.cronwatch.{home}"), name)
    globals()[name] = value
    return value
