"""Cron watch: scheduled ECS tasks, their schedules' longest gaps, and the Datadog monitors that watch them."""

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

__all__ = [
    "At",
    "Cron",
    "Gap",
    "NotRecurring",
    "Rate",
    "Schedule",
    "describe",
    "find_longest_gap",
    "longest_gap",
    "next_runs",
    "parse_schedule",
]
