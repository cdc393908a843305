"""The benchmark suite runs in quick mode and writes a well-formed report; no timings are asserted."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logship.testing.synth import SHAPES

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
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr  # quick runs are not judged
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


def test_the_exit_status_says_whether_every_bar_was_met() -> None:
    """A full run exits 1 naming each missed bar and 0 when all pass; a quick run is reported, never judged."""
    from bench.run import verdict

    bars = [{"name": "a / b at 1 MB", "pass": True}, {"name": "c at 3 MB", "pass": False}]
    code, message = verdict(bars, quick=False)
    assert code == 1 and "c at 3 MB" in message and "a / b" not in message
    assert verdict(bars, quick=True)[0] == 0
    assert "1 of 2 bars missed at --quick sizes" in verdict(bars, quick=True)[1]
    assert verdict(bars[:1], quick=False) == (0, "")


def test_a_quick_run_is_not_judged(run: tuple[Path, subprocess.CompletedProcess[str]], report: dict[str, Any]) -> None:
    """The quick run exits 0 whatever its bars say, and says how many it missed."""
    done = run[1]
    missed = [bar for bar in report["bars"] if not bar["pass"]]
    assert done.returncode == 0
    if missed:
        assert f"{len(missed)} of {len(report['bars'])} bars missed at --quick sizes" in done.stdout


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
    with pytest.raises(ValueError, match="beside the published figures"):
        report_path(out=PUBLISHED_OUT, publish=False, quick=True)
    with pytest.raises(ValueError, match="beside the published figures"):
        report_path(out=PUBLISHED_OUT.with_name("mine.json"), publish=False, quick=False)


def test_plot_is_written_beside_the_report_when_matplotlib_is_present(out: Path) -> None:
    """With matplotlib installed, a PNG is drawn next to the JSON report."""
    pytest.importorskip("matplotlib")
    png = out.with_name("bench.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the shape matrix --------------------------------------------------------------
def test_the_quick_run_measures_every_shape_at_every_quick_size(report: dict[str, Any]) -> None:
    """The matrix has a row per shape and size, with positive times and ratios derived from those same times."""
    from bench.matrix import QUICK_SIZES, shape_names

    section = report["shapes"]
    assert [(row["shape"], row["label"]) for row in section["rows"]] == [
        (shape, label) for shape in shape_names() for label, _ in QUICK_SIZES
    ]
    for row in section["rows"]:
        for key in ("fastest_floor_s", "stdlib_floor_s", "logship_s", "logship_cpu_s", "events", "input_gzip_bytes"):
            assert _positive(row[key]), (row["shape"], key)
        assert row["logship_over_fastest_floor"] == pytest.approx(row["logship_s"] / row["fastest_floor_s"])
        assert row["logship_over_stdlib_floor"] == pytest.approx(row["logship_s"] / row["stdlib_floor_s"])
        for name in ("fastest_floor", "stdlib_floor", "logship"):
            assert len(row["samples_s"][name]) == section["reps"]
        assert row["only_json"] is (row["shape"] == "mix")
        assert row["reingested_records"] == 0
        assert 0 <= row["steal_share"] <= 1


def test_the_quick_run_checks_that_floors_and_logship_send_the_same(report: dict[str, Any]) -> None:
    """In every cell, both floors and logship sent the same number of entries and wrote the same S3 lines."""
    for row in report["shapes"]["rows"]:
        assert row["fastest_floor_entries"] == row["stdlib_floor_entries"] == row["logship_entries"]
        assert row["fastest_floor_s3_lines"] == row["stdlib_floor_s3_lines"] == row["logship_s3_lines"]
        assert row["logship_s3_lines"] == row["events"]
        if not row["only_json"]:
            assert row["logship_entries"] == row["events"]


def test_the_spread_names_the_slowest_shape_and_the_fastest_json_shape(report: dict[str, Any]) -> None:
    """Per size, the spread is the largest logship / fastest floor over the smallest among JSON shapes."""
    section = report["shapes"]
    assert [item["label"] for item in section["spread"]] == section["sizes"]
    for item in section["spread"]:
        rows = [row for row in section["rows"] if row["label"] == item["label"]]
        ratios = {row["shape"]: row["logship_over_fastest_floor"] for row in rows}
        json_ratios = {row["shape"]: row["logship_over_fastest_floor"] for row in rows if row["json"]}
        assert item["slowest_ratio"] == max(ratios.values()) == ratios[item["slowest_shape"]]
        assert item["fastest_json_ratio"] == min(json_ratios.values()) == json_ratios[item["fastest_json_shape"]]
        assert item["slowest_over_fastest_json"] == pytest.approx(item["slowest_ratio"] / item["fastest_json_ratio"])


def test_the_matrix_bars_judge_every_shape_and_the_spread(report: dict[str, Any]) -> None:
    """The quick run judges each shape against the fastest floor at its largest size, and the spread there."""
    from bench.matrix import MAX_SHAPE_FLOOR_RATIO, MAX_SHAPE_SPREAD, shape_names

    by_name = {bar["name"]: bar for bar in report["bars"]}
    largest = report["shapes"]["sizes"][-1]
    for shape in shape_names():
        found = by_name[f"logship / fastest floor, {shape} at {largest}"]
        assert found["limit"] == MAX_SHAPE_FLOOR_RATIO and found["op"] == "<="
    assert by_name[f"slowest shape / fastest JSON shape at {largest}"]["limit"] == MAX_SHAPE_SPREAD


def test_the_full_suite_bars_are_all_still_judged(report: dict[str, Any]) -> None:
    """Adding the matrix keeps every bar the suite had: floor, seed, import, memory and latency."""
    names = [bar["name"] for bar in report["bars"]]
    assert any(name.startswith("logship / floor at ") for name in names)
    assert sum(name.startswith("seed / logship at ") for name in names) == len(report["throughput"])
    for name in ("import handler / import boto3", "peak RSS - import-only RSS (MB)", "50 ms intake / zero latency"):
        assert name in names


def test_the_shapes_plot_is_written_beside_the_report(out: Path) -> None:
    """With matplotlib installed, the matrix's PNG is drawn next to the JSON report."""
    pytest.importorskip("matplotlib")
    assert out.with_name("bench-shapes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_of_one_shape_measures_only_that_shape(tmp_path: Path) -> None:
    """`--shape NAME` runs the matrix alone, for that shape: no suite sections, only the matrix's bars."""
    out = tmp_path / "one.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--reps", "1", "--shape", "plain", "--out", str(out)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr  # quick runs are not judged
    report = json.loads(out.read_text())
    assert "throughput" not in report and "cold_start" not in report
    assert {row["shape"] for row in report["shapes"]["rows"]} == {"plain"}
    assert report["shapes"]["spread"] == []  # one shape has no spread
    assert all(bar["name"].startswith("logship / fastest floor, plain") for bar in report["bars"])
    assert "shape matrix" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "no-such-shape"], "invalid choice"),
        (["--publish", "--shape", "plain"], "every shape"),
        (["--reps", "0", "--shapes"], "--reps must be 1 or more"),
        (["--shape", "plain", "--quick", "--out", "docs"], "--out: docs is a directory"),
        (["--shape", "plain", "--quick", "--out", "pyproject.toml/x.json"], "--out: pyproject.toml/x.json: "),
        (["--shape", "plain", "--quick", "--plot", "docs"], "--plot: docs is a directory"),
    ],
)
def test_a_mistaken_matrix_option_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    """A wrong shape name, publishing a partial matrix, no repetitions or a report path that cannot be written.

    One error line, exit 2, no traceback, before anything is measured.
    """
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_matrix_run_has_its_own_report_paths() -> None:
    """The matrix alone goes to bench-shapes.json under build/, or with --publish to docs/bench-shapes.json."""
    from bench.run import DEFAULT_SHAPES_OUT, PUBLISHED_SHAPES_OUT, report_path

    assert report_path(out=None, publish=False, quick=False, shapes_only=True) == DEFAULT_SHAPES_OUT
    assert "build" in DEFAULT_SHAPES_OUT.parts
    assert report_path(out=None, publish=True, quick=False, shapes_only=True) == PUBLISHED_SHAPES_OUT
    assert report_path(out=Path("x.json"), publish=False, quick=True, shapes_only=True) == Path("x.json")
    with pytest.raises(ValueError, match="every shape"):
        report_path(out=None, publish=True, quick=False, shapes_only=True, partial=True)


# --- the floors -------------------------------------------------------------------
def _s3_data(response: dict[str, Any]) -> list[bytes]:
    import base64
    import zlib

    return [zlib.decompress(base64.b64decode(r["data"]), 31) for r in response["records"] if r["result"] == "Ok"]


def _entries(bodies: list[bytes]) -> list[dict[str, Any]]:
    import zlib

    import orjson

    return [entry for body in bodies for entry in orjson.loads(zlib.decompress(body, 31))]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_floors_send_and_write_what_logship_does(shape: str) -> None:
    """On every shape, both floors send as many entries as logship and write the very S3 lines it writes."""
    from bench.floor import fastest_floor, floor
    from bench.matrix import ONLY_JSON_SHAPES
    from logship.firehose.app import Logship
    from logship.settings import Settings
    from logship.testing.emulator import IntakeEmulator
    from logship.testing.synth import generate_shape_event

    only_json = shape in ONLY_JSON_SHAPES
    event = generate_shape_event(shape, target_bytes=30_000, seed=5)
    with IntakeEmulator() as emulator:
        env = {"DD_URL": emulator.url, "DD_API_KEY": "k"}
        if not only_json:
            env["ONLY_JSON"] = "false"
        with Logship(Settings.from_env(env)) as app:
            response = app.handle(event, None)
        received = list(emulator.entries)
    for contender in (fastest_floor, floor):
        serialized, bodies = contender(event, only_json=only_json)
        floor_response = json.loads(serialized)
        assert [r["recordId"] for r in floor_response["records"]] == [r["recordId"] for r in response["records"]]
        assert _s3_data(floor_response) == _s3_data(response)
        assert len(_entries(bodies)) == len(received)
    if shape in ("json", "plain"):
        # Where no app field is involved, the fastest floor tags as logship does (same bytes to compress).
        fastest_entries = _entries(fastest_floor(event, only_json=only_json)[1])
        assert sorted(e["ddtags"] for e in fastest_entries) == sorted(e["ddtags"] for e in received)


def test_the_fastest_floor_keeps_each_request_within_datadogs_limits() -> None:
    """Request bodies of the fastest floor hold at most 1,000 entries and 4.25 MB, in order, none lost."""
    import zlib

    import orjson

    from bench.floor import fastest_floor
    from logship.testing.synth import generate_shape_event

    for shape, size in (("plain", 120_000), ("large", 1_200_000)):
        event = generate_shape_event(shape, target_bytes=size, seed=3)
        _, bodies = fastest_floor(event)
        raw = [zlib.decompress(body, 31) for body in bodies]
        assert len(raw) > 1
        assert all(len(body) <= 4_250_000 and len(orjson.loads(body)) <= 1_000 for body in raw)
        timestamps = [entry["timestamp"] for body in raw for entry in orjson.loads(body)]
        assert timestamps == sorted(timestamps) and len(timestamps) == len(set(timestamps))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 3_000),
    st.integers(1, 6_000),
    st.randoms(use_true_random=False),
    st.lists(st.tuples(st.integers(0, 3_000), st.integers(1_000_000, 2_500_000)), max_size=4),
)
def test_the_fastest_floor_cuts_request_bodies_as_the_entry_by_entry_rule(
    count: int, widest: int, rng: random.Random, large: list[tuple[int, int]]
) -> None:
    """Found by a search, the full bodies and the rest are those of closing a body when the next entry breaks a limit.

    Up to 3,000 entries (bodies end at 1,000) and a few of 1-2.5 MB among them (bodies end by bytes too).
    """
    from bench.floor import _ENTRIES_PER_REQUEST, _REQUEST_TARGET_BYTES, _request_bodies

    sizes = [rng.randint(1, widest) for _ in range(count)]
    for position, size in large:
        sizes.insert(min(position, len(sizes)), size)
    entries = [b"x" * size for size in sizes]
    expected, start, size = [], 0, 2  # the brackets
    for position, entry in enumerate(entries):
        grown = size + len(entry) + 1
        if position - start == _ENTRIES_PER_REQUEST or (grown > _REQUEST_TARGET_BYTES and position > start):
            expected.append(b"[" + b",".join(entries[start:position]) + b"]")
            start, grown = position, 2 + len(entry) + 1
        size = grown
    bodies, rest = _request_bodies(list(entries))
    assert bodies == expected
    assert rest == entries[start:]


def test_the_floors_import_nothing_of_logship() -> None:
    """The floors measure the primitives alone: importing and running them loads no logship module."""
    code = (
        "import sys, json\n"
        "from bench.floor import fastest_floor, floor\n"
        "event = json.loads(sys.stdin.read())\n"
        "fastest_floor(event); floor(event)\n"
        "print(sorted(m for m in sys.modules if m == 'logship' or m.startswith('logship.')))\n"
    )
    from logship.testing.synth import generate_shape_event

    event = generate_shape_event("mix", target_bytes=5_000, seed=1)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        input=json.dumps(event),
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"


# --- the price ---------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(
    cpu=st.floats(0.001, 10.0),
    memory=st.integers(128, 1_769),
    buffer=st.sampled_from([0.25, 1.0, 3.0]),
)
def test_gb_seconds_of_cpu_bound_work_do_not_depend_on_memory(cpu: float, memory: int, buffer: float) -> None:
    """Below one vCPU, more memory shortens a CPU-bound invocation in proportion: GB-seconds stay CPU x 1.769 GB."""
    from bench.price import TB, price

    priced = price(cpu, memory_mb=memory, buffer_mb=buffer)
    assert priced["gb_s_per_tb"] == pytest.approx(TB / 1e6 * cpu * 1_769 / 1_024)
    assert priced["invocation_s"] == pytest.approx(cpu * buffer * 1_769 / memory)
    assert priced["usd_requests_per_tb"] == pytest.approx(TB / (buffer * 1e6) * 0.20 / 1e6)


def test_the_price_reads_the_templates_memory_and_buffer() -> None:
    """The priced memory size and buffer are the template's defaults, as CloudFormation would read them."""
    from cfnlint.decode import decode

    from bench.price import TEMPLATE, template_defaults

    template, errors = decode(str(TEMPLATE))
    assert not errors and template is not None
    stream = next(r for r in template["Resources"].values() if r["Type"] == "AWS::KinesisFirehose::DeliveryStream")
    processors = [
        p
        for dest in stream["Properties"].values()
        if isinstance(dest, dict) and "ProcessingConfiguration" in dest
        for p in dest["ProcessingConfiguration"]["Processors"]
        if p["Type"] == "Lambda"
    ]
    buffer = next(par["ParameterValue"] for par in processors[0]["Parameters"] if par["ParameterName"] == "BufferSizeInMBs")
    assert template_defaults() == (template["Parameters"]["LambdaMemorySize"]["Default"], float(buffer["Fn::If"][1]))


def test_the_price_of_a_run_prices_every_cell(out: Path) -> None:
    """`python -m bench.price REPORT` prints one priced line per shape and size; a missing report is one line, exit 2."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.price", str(out)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    from bench.matrix import shape_names

    lines = done.stdout.splitlines()
    for shape in shape_names():
        assert sum(line.startswith(f"{shape} ") for line in lines) == 2
    missing = subprocess.run(
        [sys.executable, "-m", "bench.price", str(out.with_name("nothing.json"))],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1 and "Traceback" not in missing.stderr


def test_the_price_of_a_file_that_is_no_report_is_one_line(tmp_path: Path) -> None:
    """JSON without the shape matrix (another tool's figures, say) is named as such in one line, exit 2."""
    for doc in ({"a": 1}, {"shapes": {"rows": [{"shape": "json"}]}}):
        path = tmp_path / "other.json"
        path.write_text(json.dumps(doc))
        done = subprocess.run(
            [sys.executable, "-m", "bench.price", str(path)], cwd=ROOT, check=False, capture_output=True, text=True
        )
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert "not a benchmark report with the shape matrix" in done.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not JSON"),
        (b"bench: 1\n", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"null", "not a benchmark report with the shape matrix"),
        (b"[1, 2]", "not a benchmark report with the shape matrix"),
        (b'{"shapes": []}', "not a benchmark report with the shape matrix"),
        (b'{"shapes": {"rows": []}}', "its shape matrix has no rows"),
        (b'{"shapes": {"json": {"instructions": {"logship": 1}}}}', "an instruction-count report"),
    ],
)
def test_the_price_of_a_malformed_file_says_what_it_is_in_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    """Not JSON, JSON of another shape, an empty matrix or another tool's report: named in words, exit 2."""
    path = tmp_path / "report.json"
    path.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "bench.price", str(path)], cwd=ROOT, check=False, capture_output=True, text=True
    )
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr


def test_the_price_names_the_run_it_prices(out: Path, report: dict[str, Any]) -> None:
    """The priced report's command, commit and start come first, so a price can be traced to its run."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.price", str(out)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    meta = report["meta"]
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"{out}: {meta['command']}, at ") and meta["started_utc"] in first


def test_a_report_names_when_and_from_which_commit_it_was_made(report: dict[str, Any]) -> None:
    """The report's meta holds the UTC start time and the checkout's commit, so a published figure can be traced."""
    import re

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["meta"]["started_utc"])
    if (ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?", report["meta"]["commit"])
    else:  # not a git checkout (an unpacked archive): nothing to name
        assert report["meta"]["commit"] is None
