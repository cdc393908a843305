"""``logship monitors plan|apply``: the Datadog monitors of every scheduled job, as code.

Both commands find the jobs (EventBridge rules and Scheduler schedules that run
ECS tasks, through the AWS credentials of the environment, and the jobs file of
``--jobs``), build their monitors, and compare them with the monitors Datadog
holds that carry ``managed-by:logship``. ``plan`` prints the difference and
changes nothing; ``apply`` validates, then creates, updates and, with
``--prune``, deletes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from logship.cli import arguments
from logship.cli.failures import CommandError

T = TypeVar("T")


def register(sub: Any) -> None:
    """Add the ``monitors`` subcommand (``plan`` and ``apply``) to ``sub``."""
    from logship.settings import (
        DATADOG_ENV_NAMES,
        DD_API_URL,
        DD_APP_KEY,
        DD_APP_KEY_SECRET_ARN,
        DD_APP_KEY_SSM_NAME,
        LOGSHIP_JOBS_FILE,
        LOGSHIP_MONITOR_NOTIFY,
    )

    env = (
        *DATADOG_ENV_NAMES, DD_API_URL, DD_APP_KEY, DD_APP_KEY_SSM_NAME, DD_APP_KEY_SECRET_ARN,
        LOGSHIP_MONITOR_NOTIFY, LOGSHIP_JOBS_FILE,
        *arguments.aws_env_names(),
    )  # fmt: skip
    monitors = arguments.add_command(
        sub,
        "monitors",
        summary="cron watch: the Datadog monitors of every scheduled job, as code",
        description=(
            "Find the scheduled ECS tasks (EventBridge rules and Scheduler schedules of the AWS account and\n"
            "region, and the jobs file) and keep their Datadog monitors (liveness, error logs, failed runs,\n"
            "the schedule itself) in step. Only monitors tagged managed-by:logship are ever changed.\n"
            "Needs the API key and an application key (DD_APP_KEY). See docs/cronwatch.md."
        ),
        env=env,
    )
    commands = monitors.add_subparsers(dest="monitors_command", required=True, metavar="COMMAND")
    plan = arguments.add_command(
        commands,
        "plan",
        summary="print what apply would change, and change nothing",
        description="Print the monitors to create, update and delete (deleted only by 'apply --prune').",
        env=env,
    )
    apply = arguments.add_command(
        commands,
        "apply",
        summary="create missing monitors, update drifted ones, delete undeclared ones with --prune",
        description=(
            "Validate every monitor with Datadog first (nothing changes if one is refused), create the\n"
            "log-based metric long liveness windows need, then create and update monitors. --prune also\n"
            "deletes managed monitors of jobs no longer found or declared."
        ),
        env=env,
    )
    apply.add_argument("--prune", action="store_true", help="also delete managed monitors nobody declares any more")
    for command, func in ((plan, run_plan), (apply, run_apply)):
        command.add_argument(
            "--jobs",
            metavar="FILE",
            default=None,
            help="declared-jobs file (TOML; a path or s3://bucket/key); LOGSHIP_JOBS_FILE when not given",
        )
        command.add_argument(
            "--no-discover",
            action="store_true",
            help="leave AWS alone: only the jobs of --jobs (schedules that live elsewhere)",
        )
        command.set_defaults(func=func)


def run_plan(args: argparse.Namespace) -> int:
    """Print the plan; change nothing."""
    with _Session(args) as session:
        for line in session.plan_lines():
            print(line)
    return 0


def run_apply(args: argparse.Namespace) -> int:
    """Print the plan, then carry it out, one line per change."""
    from logship.cronwatch.apply import apply_plan

    with _Session(args) as session:
        for line in session.plan_lines(prune=args.prune):
            print(line)
        applied = session.guard(
            lambda: apply_plan(
                session.client,
                session.monitor_plan,
                prune=args.prune,
                log_metric=session.log_metric,
                report=lambda line: print(f"  {line}", flush=True),
            )
        )
        print(applied.summary())
    return 0


class _Session:
    """One command's run: settings, keys, jobs, desired monitors, the Datadog client and the plan."""

    def __init__(self, args: argparse.Namespace) -> None:
        from logship.aws import boto3_client_factory
        from logship.cronwatch.discovery import find_jobs, read_jobs_file
        from logship.cronwatch.monitors import MonitorOptions, desired_monitors
        from logship.datadog.monitors import MonitorsClient
        from logship.secrets import ApiKeyProvider, SecretProvider
        from logship.settings import Settings

        settings = Settings.from_env()
        if not settings.datadog_enabled:
            raise CommandError("LOGSHIP_DATADOG_ENABLED is false: logship sends nothing to Datadog, so no monitors")
        self.url = settings.api.url
        factory = boto3_client_factory()
        location = args.jobs or settings.cronwatch.jobs_file
        jobs_file = read_jobs_file(location, factory) if location else None
        if args.no_discover and jobs_file is None:
            raise CommandError("--no-discover leaves only the jobs file, and none was given: add --jobs FILE")
        self.client = MonitorsClient(
            settings.api, ApiKeyProvider(settings.api_key, factory), SecretProvider(settings.app_key, factory)
        )
        self.client.prepare()  # both keys, before anything is asked of AWS or Datadog
        self.found = find_jobs(None if args.no_discover else factory, jobs_file)
        self.desired = desired_monitors(self.found.jobs, MonitorOptions(notify=settings.cronwatch.notify))
        self.monitor_plan = self.guard(self._plan)
        self.log_metric = self.guard(self._log_metric)

    def _plan(self) -> Any:
        from logship.cronwatch.apply import current_plan

        return current_plan(self.client, self.desired)

    def _log_metric(self) -> str | None:
        from logship.cronwatch.apply import log_metric_change

        return log_metric_change(self.client, self.desired)

    def guard(self, call: Callable[[], T]) -> T:
        """``call()``, a Datadog API that cannot be reached told in one line."""
        from logship.errors import TransportError

        try:
            return call()
        except TransportError as err:
            raise CommandError(f"cannot reach the Datadog API at {self.url}: {err.reason}") from None

    def plan_lines(self, *, prune: bool = False) -> list[str]:
        """The jobs found, notes, the log-based metric's change and the monitors' plan, for people."""
        from collections import Counter

        from logship.cronwatch.monitors import LOG_EVENTS_METRIC
        from logship.cronwatch.planner import render_plan

        names = {"rule": "EventBridge rules", "schedule": "Scheduler schedules", "file": "the jobs file"}
        sources = Counter(names[str(job.source)] for job in self.found.jobs)
        origin = ", ".join(f"{count} from {name}" for name, count in sorted(sources.items())) or "none found"
        lines = [f"Jobs: {len(self.found.jobs)} ({origin})."]
        lines += (f"note: {note}" for note in self.found.notes)
        if self.log_metric:
            lines.append(
                f"{'+' if self.log_metric == 'create' else '~'} {self.log_metric} log-based metric {LOG_EVENTS_METRIC} "
                "(a count of logs by service and system, for liveness windows over 48 hours)"
            )
        return lines + render_plan(self.monitor_plan, prune=prune)

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
