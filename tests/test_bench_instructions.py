"""The instruction-count benchmark runs under valgrind and reports consistent figures (no counts asserted)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_counts_are_positive_and_ratios_follow(tmp_path: Path) -> None:
    """Each contender gets a positive count per invocation; the ratios are computed from those counts."""
    out = tmp_path / "instructions.json"
    subprocess.run(
        [sys.executable, "-m", "bench.instructions", "--size", "20000", "--calls", "1", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    counts = report["instructions"]
    assert set(counts) == {"floor", "seed", "logship"}
    assert all(isinstance(n, int) and n > 0 for n in counts.values())
    assert report["logship_over_floor"] == pytest.approx(counts["logship"] / counts["floor"])
    assert report["seed_over_logship"] == pytest.approx(counts["seed"] / counts["logship"])


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_counts_per_shape_cover_the_fastest_floor_and_logship(tmp_path: Path) -> None:
    """`--shape` counts the fastest floor and logship on that shape's event; the ratio follows from the counts."""
    out = tmp_path / "shapes.json"
    args = ["--shape", "mix", "--size", "20000", "--calls", "1", "--out", str(out)]
    subprocess.run(
        [sys.executable, "-m", "bench.instructions", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    assert list(report["shapes"]) == ["mix"]
    figures = report["shapes"]["mix"]
    counts = figures["instructions"]
    assert set(counts) == {"fastest_floor", "logship"}
    assert all(isinstance(n, int) and n > 0 for n in counts.values())
    assert figures["only_json"] is True
    assert figures["logship_over_fastest_floor"] == pytest.approx(counts["logship"] / counts["fastest_floor"])
    assert figures["logship_per_event"] == pytest.approx(counts["logship"] / figures["events"])


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_an_instruction_report_names_its_command_start_and_commit(tmp_path: Path) -> None:
    """As the timing reports do: a published count can be traced to the code it measured."""
    out = tmp_path / "shapes.json"
    args = ["--shape", "json", "--size", "20000", "--calls", "1", "--out", str(out)]
    subprocess.run([sys.executable, "-m", "bench.instructions", *args], cwd=ROOT, check=True, capture_output=True)
    meta = json.loads(out.read_text())["meta"]
    assert meta["command"] == "python -m bench.instructions " + " ".join(args)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["started_utc"])
    assert meta["commit"] is None or re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?", meta["commit"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "--calls, --jobs and --size must be 1 or more"),
        (["--jobs", "-1"], "--calls, --jobs and --size must be 1 or more"),
        (["--out", "docs"], "--out: docs is a directory"),
        (["--out", "pyproject.toml/x.json"], "--out: pyproject.toml/x.json: "),
    ],
)
def test_a_mistaken_option_is_one_line_and_exit_2_before_counting(args: list[str], message: str) -> None:
    """No worker to run valgrind, or a report path that cannot be written: refused before the (long) counting."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.instructions", "--shape", "json", *args],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
