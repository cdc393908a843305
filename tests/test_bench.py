"""The benchmark suite runs in quick mode and writes a well-formed report; no timings are asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    committed = ROOT / "docs" / "bench.json"
    before = committed.read_bytes() if committed.exists() else None
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--reps", "1", "--out", str(out)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    after = committed.read_bytes() if committed.exists() else None
    assert before == after, "the quick run must not touch docs/bench.json"
    return out, done


@pytest.fixture(scope="module")
def out(run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    return run[0]


@pytest.fixture(scope="module")
def report(out: Path) -> dict[str, Any]:
    return json.loads(out.read_text())


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and math.isfinite(value)


def test_throughput_rows_have_positive_times_and_consistent_ratios(report: dict[str, Any]) -> None:
    """Each size has floor, seed and logship times, events/s and ratios derived from those same times."""
    rows = report["throughput"]
    assert len(rows) >= 2
    for row in rows:
        for key in ("input_gzip_bytes", "records", "events", "floor_s", "seed_s", "logship_s", "response_bytes"):
            assert _positive(row[key]), key
        for name in ("floor", "seed", "logship"):
            assert row[f"{name}_events_per_s"] == pytest.approx(row["events"] / row[f"{name}_s"])
        assert row["logship_over_floor"] == pytest.approx(row["logship_s"] / row["floor_s"])
        assert row["seed_over_logship"] == pytest.approx(row["seed_s"] / row["logship_s"])
        assert row["datadog_entries"] == row["events"]
        assert row["intake_received_entries"] == row["events"]
        assert row["reingested_records"] == 0
        assert 0 <= row["steal_share"] <= 1
    assert report["meta"]["intake"] == "draining"
    assert 0 <= report["meta"]["steal_share"] <= 1


def test_cold_start_memory_and_latency_sections_are_complete(report: dict[str, Any]) -> None:
    """Import times, first-call and memory figures, and the latency pair are present and consistent."""
    cold = report["cold_start"]
    for key in ("python_s", "boto3_s", "handler_s"):
        assert _positive(cold[key]), key
    assert cold["handler_over_boto3"] == pytest.approx(cold["handler_s"] / cold["boto3_s"])
    mem = report["fresh_process"]
    for key in ("first_call_s", "second_call_s", "rss_import_only_mb", "rss_peak_mb"):
        assert _positive(mem[key]), key
    assert mem["rss_delta_mb"] == pytest.approx(mem["rss_peak_mb"] - mem["rss_import_only_mb"])
    lat = report["latency"]
    assert _positive(lat["zero_latency_s"]) and _positive(lat["delayed_s"])
    assert lat["delayed_over_zero"] == pytest.approx(lat["delayed_s"] / lat["zero_latency_s"])
    assert lat["requests"] >= 1


def test_every_bar_is_judged_from_its_value(report: dict[str, Any]) -> None:
    """Each bar's verdict follows from its value, limit and direction."""
    names = [bar["name"] for bar in report["bars"]]
    assert any("floor" in n for n in names) and any("seed" in n for n in names)
    assert any("boto3" in n for n in names) and any("RSS" in n for n in names)
    for bar in report["bars"]:
        expected = bar["value"] <= bar["limit"] if bar["op"] == "<=" else bar["value"] >= bar["limit"]
        assert bar["pass"] is expected, bar["name"]


def test_the_exit_status_says_whether_every_bar_was_met(
    run: tuple[Path, subprocess.CompletedProcess[str]], report: dict[str, Any]
) -> None:
    """The run exits 0 when every bar passes, and 1 naming each missed bar otherwise."""
    done = run[1]
    missed = [bar["name"] for bar in report["bars"] if not bar["pass"]]
    assert done.returncode == (1 if missed else 0)
    for name in missed:
        assert name in done.stderr


def test_only_publish_writes_the_published_figures() -> None:
    """By default the report goes under build/; docs/bench.json only with --publish, never from a quick run."""
    from bench.run import DEFAULT_OUT, PUBLISHED_OUT, report_path

    assert report_path(out=None, publish=False, quick=False) == DEFAULT_OUT
    assert report_path(out=None, publish=False, quick=True) == DEFAULT_OUT
    assert DEFAULT_OUT != PUBLISHED_OUT and "build" in DEFAULT_OUT.parts
    assert report_path(out=None, publish=True, quick=False) == PUBLISHED_OUT
    assert report_path(out=Path("x.json"), publish=False, quick=True) == Path("x.json")
    with pytest.raises(ValueError, match="full run"):
        report_path(out=None, publish=True, quick=True)
    with pytest.raises(ValueError, match="not both"):
        report_path(out=Path("x.json"), publish=True, quick=False)


def test_plot_is_written_beside_the_report_when_matplotlib_is_present(out: Path) -> None:
    """With matplotlib installed, a PNG is drawn next to the JSON report."""
    pytest.importorskip("matplotlib")
    png = out.with_name("bench.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
