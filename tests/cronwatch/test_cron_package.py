"""The public face of cron watch: logship.longest_gap, the package's names, and no cost to the other Lambdas' cold start."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import logship
import logship.cronwatch
from logship.cronwatch import apply, discovery, jobs, monitors, planner, schedule, watch

ROOT = Path(__file__).resolve().parents[2]


def test_longest_gap_is_exported_from_the_top_level_with_its_docstring():
    """`logship.longest_gap` is the schedule parser's function, listed in __all__ and documented."""
    assert "longest_gap" in logship.__all__
    assert logship.longest_gap is schedule.longest_gap
    assert logship.longest_gap("cron(0 9 ? * MON-FRI *)", after=dt.datetime(2024, 6, 3, tzinfo=dt.UTC)) == (
        dt.timedelta(days=3)
    )
    doc = logship.longest_gap.__doc__ or ""
    assert "ValueError" in doc and "timezone" in doc


def test_every_public_name_of_the_package_resolves_to_what_its_module_defines():
    """Each name of logship.cronwatch.__all__ is its module's object, never a submodule of the same name."""
    for module in pkgutil.iter_modules(logship.cronwatch.__path__):
        importlib.import_module(f"logship.cronwatch.{module.name}")  # each import sets the package's attribute
    for name in logship.cronwatch.__all__:
        value = getattr(logship.cronwatch, name)
        assert not isinstance(value, types.ModuleType), name
        assert any(getattr(module, name, None) is value for module in (apply, discovery, jobs, monitors, planner, schedule, watch)), name


def test_the_log_path_and_ops_events_handlers_do_not_import_cron_watch():
    """Importing the Firehose and ops events handlers loads only cron watch's options, not its parser or planner."""
    code = (
        "import sys, handlers.firehose, handlers.events, logship\n"
        "print(sorted(m for m in sys.modules if m.startswith('logship.cronwatch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "['logship.cronwatch', 'logship.cronwatch.options']"


def test_zoneinfo_finds_scheduler_time_zones_without_the_system_database():
    """With no system time zone database (as on the Lambda images), zoneinfo reads the tzdata package."""
    code = (
        "import zoneinfo\n"
        "zoneinfo.reset_tzpath([])\n"
        "from logship.cronwatch.schedule import longest_gap\n"
        "import datetime as dt\n"
        "after = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)\n"
        "print(longest_gap('cron(30 2 * * ? 2024)', 'America/New_York', after=after))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1 day, 1:00:00"
