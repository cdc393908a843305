"""Options of cron watch read from the environment: notification handles, the jobs file, the watch's summary.

:class:`CronwatchOptions` is cron watch's section of :class:`logship.settings.Settings`;
``logship.settings`` builds it once at cold start with :func:`parse_notify` and
:func:`parse_jobs_file_location`, which raise :class:`~logship.errors.ConfigError`
naming the variable. This module imports nothing of the rest of cron watch, so
reading settings in the log path's Lambda costs nothing more.
"""

from __future__ import annotations

import dataclasses
import re

from logship import s3uri
from logship.errors import ConfigError

MONITOR_NOTIFY_ENV = "LOGSHIP_MONITOR_NOTIFY"
JOBS_FILE_ENV = "LOGSHIP_JOBS_FILE"
# A notification handle as Datadog writes them in monitor messages: @slack-..., @pagerduty-..., @user@x.
NOTIFY_HANDLE = re.compile(r"@[^\s@][^\s]*")
_SEPARATORS = re.compile(r"[\s,]+")


@dataclasses.dataclass(frozen=True, slots=True)
class CronwatchOptions:
    """What cron watch reads from the environment.

    - ``notify``: Datadog handles (``@slack-cron-alerts``) every managed monitor notifies, after a
      job's own (``LOGSHIP_MONITOR_NOTIFY``).
    - ``jobs_file``: the declared-jobs file (``LOGSHIP_JOBS_FILE``), a local path or
      ``s3://bucket/key``; ``logship monitors --jobs`` defaults to it and the run watch reads it.
    - ``watch_summary``: the run watch posts its summary to Slack at every run
      (``LOGSHIP_WATCH_SUMMARY``), not only when its event asks for one.
    """

    notify: tuple[str, ...] = ()
    jobs_file: str | None = None
    watch_summary: bool = False


def parse_notify(value: str | None, *, variable: str = MONITOR_NOTIFY_ENV) -> tuple[str, ...]:
    """``@slack-ops, @pagerduty-cron`` (commas or blanks between) -> the handles; ConfigError naming ``variable``."""
    handles = tuple(dict.fromkeys(part for part in _SEPARATORS.split(value or "") if part))
    for handle in handles:
        if not NOTIFY_HANDLE.fullmatch(handle):
            raise ConfigError(f"{variable}: {handle!r} is not a Datadog handle such as @slack-ops")
    return handles


def parse_jobs_file_location(value: str | None, *, variable: str = JOBS_FILE_ENV) -> str | None:
    """A jobs file's location, a path or ``s3://bucket/key`` (checked for shape, not read); None when unset."""
    text = (value or "").strip()
    if not text:
        return None
    if text.startswith("s3://"):
        try:
            _, key = s3uri.parse(text)
        except ValueError as err:
            raise ConfigError(f"{variable}: {err}") from None
        if not key or text.endswith("/"):
            raise ConfigError(f"{variable}: {text!r} names a folder; give the jobs file's key (s3://bucket/jobs.toml)")
    return text
