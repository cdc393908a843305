"""The benchmark runner: throughput, cold start, memory, latency and the shape matrix, in one run, side by side.

``python -m bench`` runs the full suite and writes ``build/bench/bench.json``
with ``bench.png`` and ``bench-shapes.png`` beside it; ``--shapes`` runs only
the shape matrix (:mod:`bench.matrix`) into ``build/bench/bench-shapes.json``,
``--shape NAME`` (repeatable) only those shapes; ``--publish`` writes the
published figures instead, ``docs/bench.json`` and ``docs/bench.png``, and,
when the whole matrix ran, ``docs/bench-shapes.json`` and ``bench-shapes.png``
(full runs only); ``--quick`` runs tiny sizes with few repetitions; ``--out
PATH`` writes the JSON elsewhere (the plots go beside it). It exits 1 when a
bar is missed (a ``--quick`` run reports the bars but is not judged: they are
set for the full sizes). Every figure is the median of several repetitions, and every
ratio compares figures from the same run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import matrix
from bench.floor import floor
from bench.harness import (
    bar,
    cpu_ticks,
    describe,
    make_logship,
    median_time,
    quiet_logship_logs,
    run_logship,
    run_seed,
    steal_share,
    unwritable,
    verify_logship,
)
from bench.intake import IntakeProcess

ROOT = Path(__file__).resolve().parent.parent
#: Where a run writes its report unless told otherwise: ignored by git.
DEFAULT_OUT = ROOT / "build" / "bench" / "bench.json"
#: The published figures (the README's picture, docs/benchmarks.md): written only with --publish.
PUBLISHED_OUT = ROOT / "docs" / "bench.json"
#: Where a run of the shape matrix alone writes its report unless told otherwise.
DEFAULT_SHAPES_OUT = ROOT / "build" / "bench" / "bench-shapes.json"
#: The published shape matrix: written by a --publish run that measured every shape.
PUBLISHED_SHAPES_OUT = ROOT / "docs" / "bench-shapes.json"
FULL_SIZES = (("0.3 MB", 300_000), ("1 MB", 1_000_000), ("3 MB", 3_000_000))
QUICK_SIZES = (("20 kB", 20_000), ("60 kB", 60_000))
SEED = 1
INTAKE_DELAY_S = 0.05

# The bars the suite is held to (issue 6).
MAX_FLOOR_RATIO = 1.3
MIN_SEED_SPEEDUP = 4.0
MAX_IMPORT_RATIO = 1.15
MAX_RSS_DELTA_MB = 100.0
MAX_LATENCY_RATIO = 2.0


# --- helpers -----------------------------------------------------------------
def child_env(url: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if url:
        env.update(DD_URL=url, DD_API_KEY="k", ONLY_JSON="false", LOGSHIP_LOG_LEVEL="ERROR")
    return env


def fresh(args: Sequence[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time and stdout of a fresh interpreter running ``args``."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def child(args: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """The figures ``python -m bench.child ARGS`` prints as its last line (the handler's EMF lines come first)."""
    return dict(json.loads(fresh(["-m", "bench.child", *args], env)[1].splitlines()[-1]))


# --- the measurements -----------------------------------------------------------
def throughput(sizes: Sequence[tuple[str, int]], reps: int, url: str) -> list[dict[str, Any]]:
    """Floor, seed and logship on the same events, interleaved, medians of ``reps``."""
    from logship.testing.synth import generate_event, live_start_ms

    rows = []
    app = make_logship(url)
    for label, target in sizes:
        event = generate_event(target_bytes=target, seed=SEED, start_ms=live_start_ms())
        row: dict[str, Any] = {"label": label, "target_bytes": target, **describe(event)}
        row["intake_received_entries"] = verify_logship(event)[0]
        if row["intake_received_entries"] != row["events"]:
            raise RuntimeError(f"{label}: the intake received {row['intake_received_entries']} of {row['events']}")
        steal_before = cpu_ticks()
        contenders: dict[str, Callable[[], object]] = {
            "floor": functools.partial(floor, event),
            "seed": functools.partial(run_seed, event),
            "logship": functools.partial(run_logship, app, event),
        }
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for fn in contenders.values():  # warm-up
            fn()
        for _ in range(reps):
            for name, fn in contenders.items():
                fn()  # untimed: each timed call starts on its own heap, not the one the contender before it left
                samples[name].append(median_time(fn, 1)[0])
        row["steal_share"] = steal_share(steal_before, cpu_ticks())
        invocation = app.process(event, None)
        counts = invocation.summary
        response = json.dumps(invocation.response)
        floor_response = json.dumps(json.loads(floor(event)[0]))
        for name in contenders:
            seconds = statistics.median(samples[name])
            row[f"{name}_s"] = seconds
            row[f"{name}_events_per_s"] = row["events"] / seconds
        row["samples_s"] = samples
        row["logship_over_floor"] = row["logship_s"] / row["floor_s"]
        row["seed_over_logship"] = row["seed_s"] / row["logship_s"]
        row["response_bytes"] = len(response)
        row["floor_response_bytes"] = len(floor_response)
        row["datadog_requests"] = counts.dd_requests
        row["datadog_entries"] = counts.dd_accepted
        row["reingested_records"] = counts.reingested_records
        rows.append(row)
        print(
            f"  {label}: {row['events']} events, floor {row['floor_s']:.3f}s, seed {row['seed_s']:.3f}s, "
            f"logship {row['logship_s']:.3f}s",
            flush=True,
        )
    app.sender.close()
    return rows


def cold_start(reps: int) -> dict[str, Any]:
    """Fresh interpreters: nothing, boto3 alone, the handler module; interleaved, medians."""
    env = child_env()
    programs = {
        "python_s": ["-c", "pass"],
        "boto3_s": ["-c", "import boto3"],
        "handler_s": ["-c", "import handlers.firehose"],
    }
    samples: dict[str, list[float]] = {name: [] for name in programs}
    for args in programs.values():  # warm the page cache
        fresh(args, env)
    for _ in range(reps):
        for name, args in programs.items():
            samples[name].append(fresh(args, env)[0])
    out: dict[str, Any] = {name: statistics.median(s) for name, s in samples.items()}
    out["samples_s"] = samples
    out["handler_over_boto3"] = out["handler_s"] / out["boto3_s"]
    # Net of interpreter start-up, for reading only; the bar uses the totals.
    out["net_boto3_s"] = out["boto3_s"] - out["python_s"]
    out["net_handler_s"] = out["handler_s"] - out["python_s"]
    # What the handler module pulls in (self-reported by -X importtime).
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import handlers.firehose"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    out["imports_boto3"] = any(line.rstrip().endswith("| boto3") for line in imported.splitlines())
    return out


def fresh_process(target: int, url: str, reps: int) -> dict[str, Any]:
    """A fresh Lambda-like process: first vs second invocation, and peak memory, for one event."""
    from logship.testing.synth import generate_event, live_start_ms

    env = child_env(url)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "event.json"
        path.write_text(json.dumps(generate_event(target_bytes=target, seed=SEED, start_ms=live_start_ms())))
        runs = [child(["handle", str(path)], env) for _ in range(reps)]
    imports = [child(["import"], env) for _ in range(reps)]
    med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    rss_import = statistics.median(run["rss_import_mb"] for run in imports)
    return {
        "target_bytes": target,
        "first_call_s": med["call1_s"],
        "second_call_s": med["call2_s"],
        "first_call_extra_s": med["call1_s"] - med["call2_s"],
        "rss_import_only_mb": rss_import,
        "rss_event_loaded_mb": med["rss_event_mb"],
        # The bar: one batch handled by a fresh process.
        "rss_peak_mb": med["rss_call1_mb"],
        "rss_delta_mb": med["rss_call1_mb"] - rss_import,
        # The same process after a second, warm invocation of the same batch.
        "rss_peak_warm_mb": med["rss_call2_mb"],
        "rss_warm_delta_mb": med["rss_call2_mb"] - rss_import,
        "runs": runs,
    }


def latency(target: int, reps: int, url: str, *, validate: bool = False) -> dict[str, Any]:
    """The same event against an intake answering at once and one answering after 50 ms."""
    from logship.testing.synth import generate_event, live_start_ms

    event = generate_event(target_bytes=target, seed=SEED, start_ms=live_start_ms())
    with IntakeProcess(delay=INTAKE_DELAY_S, validate=validate) as slow:
        fast_app, slow_app = make_logship(url), make_logship(slow.url)
        run_logship(fast_app, event)
        requests = slow_app.process(event, None).summary.dd_requests
        samples: dict[str, list[float]] = {"zero": [], "delayed": []}
        for _ in range(reps):
            samples["zero"].append(median_time(lambda: run_logship(fast_app, event), 1)[0])
            samples["delayed"].append(median_time(lambda: run_logship(slow_app, event), 1)[0])
        concurrency = slow_app.settings.logs.concurrency
        fast_app.sender.close()
        slow_app.sender.close()
    zero, delayed = statistics.median(samples["zero"]), statistics.median(samples["delayed"])
    return {
        "target_bytes": target,
        "delay_s": INTAKE_DELAY_S,
        "zero_latency_s": zero,
        "delayed_s": delayed,
        "delayed_over_zero": delayed / zero,
        "requests": requests,
        "concurrency": concurrency,
        # Requests in flight at once cannot exceed the concurrency, so this is the wait a
        # perfectly overlapped sender still pays.
        "min_added_wait_s": -(-requests // concurrency) * INTAKE_DELAY_S,
        "samples_s": samples,
    }


def bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each bar with its measured value, its limit and whether it passes (the matrix's last)."""
    out = [] if "throughput" not in report else suite_bars(report)
    if "shapes" in report:
        out.extend(matrix.bars(report["shapes"]))
    return out


def suite_bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The bars of throughput, cold start, memory and latency."""
    out = []
    big = [row for row in report["throughput"] if row["target_bytes"] >= 1_000_000] or report["throughput"][-1:]
    for row in big:
        out.append(bar(f"logship / floor at {row['label']}", row["logship_over_floor"], MAX_FLOOR_RATIO, "<="))
    for row in report["throughput"]:
        out.append(bar(f"seed / logship at {row['label']}", row["seed_over_logship"], MIN_SEED_SPEEDUP, ">="))
    cold = report["cold_start"]
    out.append(bar("import handler / import boto3", cold["handler_over_boto3"], MAX_IMPORT_RATIO, "<="))
    mem = report["fresh_process"]
    out.append(bar("peak RSS - import-only RSS (MB)", mem["rss_delta_mb"], MAX_RSS_DELTA_MB, "<="))
    lat = report["latency"]
    out.append(bar("50 ms intake / zero latency", lat["delayed_over_zero"], MAX_LATENCY_RATIO, "<="))
    return out


# --- output -------------------------------------------------------------------
def table(report: dict[str, Any]) -> str:
    """The report as plain text."""
    lines = [] if "throughput" not in report else suite_table(report)
    if "shapes" in report:
        lines.append(matrix.table(report["shapes"]))
    meta = report["meta"]
    lines.append(
        f"intake for timed runs: {meta['intake']}; CPU stolen by the hypervisor over the run: {meta['steal_share']:.0%}"
    )
    lines.append("bars:")
    for b in report["bars"]:
        verdict = "pass" if b["pass"] else "MISS"
        lines.append(f"  {b['name']:<52} {b['value']:>8.2f} {b['op']} {b['limit']:<6g} {verdict}")
    return "\n".join(lines)


def suite_table(report: dict[str, Any]) -> list[str]:
    """Throughput, cold start, memory and latency as lines of text."""
    lines = []
    rows = report["throughput"]
    lines.append(
        f"{'size':<8}{'records':>8}{'events':>8}{'gzip in':>10}  "
        f"{'floor s':>8}{'seed s':>8}{'logship s':>10}  {'floor ev/s':>11}{'seed ev/s':>10}"
        f"{'logship ev/s':>13}  {'ls/floor':>8}{'seed/ls':>8}"
    )
    for r in rows:
        lines.append(
            f"{r['label']:<8}{r['records']:>8}{r['events']:>8}{r['input_gzip_bytes']:>10}  "
            f"{r['floor_s']:>8.3f}{r['seed_s']:>8.3f}{r['logship_s']:>10.3f}  "
            f"{r['floor_events_per_s']:>11,.0f}{r['seed_events_per_s']:>10,.0f}{r['logship_events_per_s']:>13,.0f}  "
            f"{r['logship_over_floor']:>8.2f}{r['seed_over_logship']:>8.2f}"
        )
    for r in rows:
        lines.append(
            f"  {r['label']}: response {r['response_bytes']:,} B (limit 6,000,000), re-ingested records "
            f"{r['reingested_records']}, Datadog requests {r['datadog_requests']}, entries {r['datadog_entries']} "
            f"(validating intake received {r['intake_received_entries']}), CPU stolen {r['steal_share']:.0%}"
        )
    c = report["cold_start"]
    lines.append(
        f"cold start (fresh interpreter, wall): python -c pass {c['python_s'] * 1000:.0f} ms, "
        f"import boto3 {c['boto3_s'] * 1000:.0f} ms, import handlers.firehose {c['handler_s'] * 1000:.0f} ms "
        f"(net of start-up: {c['net_boto3_s'] * 1000:.0f} vs {c['net_handler_s'] * 1000:.0f} ms; "
        f"handler imports boto3: {c['imports_boto3']})"
    )
    m = report["fresh_process"]
    lines.append(
        f"fresh process, {m['target_bytes'] / 1e6:g} MB event: first call {m['first_call_s']:.3f} s, "
        f"second {m['second_call_s']:.3f} s (first-call extra {m['first_call_extra_s'] * 1000:.0f} ms); "
        f"max RSS import-only {m['rss_import_only_mb']:.1f} MB, event loaded {m['rss_event_loaded_mb']:.1f} MB, "
        f"peak after call 1 {m['rss_peak_mb']:.1f} MB, after warm call 2 {m['rss_peak_warm_mb']:.1f} MB"
    )
    lat = report["latency"]
    lines.append(
        f"latency, {lat['target_bytes'] / 1e6:g} MB event: zero {lat['zero_latency_s']:.3f} s, "
        f"{lat['delay_s'] * 1000:.0f} ms per request {lat['delayed_s']:.3f} s ({lat['requests']} requests, "
        f"concurrency {lat['concurrency']}, least added wait {lat['min_added_wait_s']:.2f} s)"
    )
    return lines


def plot(report: dict[str, Any], path: Path) -> bool:
    """Events/s per size for floor, seed and logship as grouped bars; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = report["throughput"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    width = 0.27
    for i, (name, colour) in enumerate((("floor", "#9e9e9e"), ("seed", "#e4572e"), ("logship", "#2e86ab"))):
        xs = [n + (i - 1) * width for n in range(len(rows))]
        values = [r[f"{name}_events_per_s"] / 1000 for r in rows]
        drawn = ax.bar(xs, values, width, label=name, color=colour)
        ax.bar_label(drawn, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(rows)), [f"{r['label']}\n{r['events']:,} events" for r in rows])
    ax.set_ylabel("thousand log events / s (median)")
    ax.set_title("Firehose batch throughput: floor, seed approach, logship")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (seconds)")
    parser.add_argument("--reps", type=int, help="repetitions per measurement (default 5, quick 2)")
    parser.add_argument(
        "--out",
        type=Path,
        help=f"JSON report path (default: {DEFAULT_OUT.relative_to(ROOT)}, "
        f"with --shapes {DEFAULT_SHAPES_OUT.relative_to(ROOT)})",
    )
    parser.add_argument("--plot", type=Path, help="PNG path (default: beside --out, named as the report)")
    parser.add_argument(
        "--publish",
        action="store_true",
        help=f"write the published figures, {PUBLISHED_OUT.relative_to(ROOT)} and "
        f"{PUBLISHED_SHAPES_OUT.relative_to(ROOT)} (with --shapes only the latter) and the PNGs beside them "
        "(full runs only)",
    )
    parser.add_argument("--shapes", action="store_true", help="run only the shape matrix, every shape")
    parser.add_argument(
        "--shape",
        action="append",
        choices=matrix.shape_names(),
        metavar="NAME",
        help=f"run only the shape matrix, for this shape (repeatable): {', '.join(matrix.shape_names())}",
    )
    parser.add_argument(
        "--validating-intake",
        action="store_true",
        help="time against the emulator that inflates and parses every request (it then shares the cores)",
    )
    args = parser.parse_args(argv)
    if args.reps is not None and args.reps < 1:
        parser.error("--reps must be 1 or more")
    shapes_only = bool(args.shapes or args.shape)
    shapes = list(dict.fromkeys(args.shape)) if args.shape else matrix.shape_names()
    try:
        args.out = report_path(
            out=args.out, publish=args.publish, quick=args.quick, shapes_only=shapes_only, partial=bool(args.shape)
        )
    except ValueError as err:
        parser.error(str(err))
    for flag, path in (("--out", args.out), ("--plot", args.plot)):
        problem = unwritable(path) if path is not None else None
        if problem:
            parser.error(f"{flag}: {problem}")
    reps = args.reps or (2 if args.quick else 5)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    largest = sizes[-1][1]
    quiet_logship_logs()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "meta": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "quick": args.quick,
            "reps": reps,
            "seed": SEED,
            "intake": "validating" if args.validating_intake else "draining",
            "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": checkout_commit(),
            "loadavg_start": os.getloadavg(),
        }
    }
    if args.quick:
        print("quick run: tiny sizes, 2 repetitions; its bars are reported, not judged (full runs are)", flush=True)
    ticks = cpu_ticks()
    with IntakeProcess(validate=args.validating_intake) as intake:
        if not shapes_only:
            print("measuring throughput", flush=True)
            report["throughput"] = throughput(sizes, reps, intake.url)
            print("measuring cold start", flush=True)
            report["cold_start"] = cold_start(reps * 3)
            print("measuring a fresh process: first call and memory", flush=True)
            report["fresh_process"] = fresh_process(largest, intake.url, max(reps // 2, 1) + 1)
            print("measuring latency", flush=True)
            report["latency"] = latency(largest, reps, intake.url, validate=args.validating_intake)
        print("measuring the shape matrix", flush=True)
        report["shapes"] = matrix.run_matrix(
            shapes, matrix.QUICK_SIZES if args.quick else matrix.FULL_SIZES, reps, intake.url
        )
    report["meta"]["steal_share"] = steal_share(ticks, cpu_ticks())
    report["meta"]["loadavg_end"] = os.getloadavg()
    report["bars"] = bars(report)
    report["meta"]["seconds"] = time.perf_counter() - started
    written = write_report(report, args.out, args.plot)
    if args.publish and not shapes_only:
        matrix_only = {"meta": report["meta"], "shapes": report["shapes"], "bars": matrix.bars(report["shapes"])}
        written += write_report(matrix_only, PUBLISHED_SHAPES_OUT, None)
    print(table(report))
    print(f"wrote {', '.join(str(path) for path in written)}")
    if not any(path.suffix == ".png" for path in written):
        print("(no plot: install the bench extra for matplotlib)")
    code, message = verdict(report["bars"], quick=args.quick)
    if message:
        print(message, file=sys.stderr if code else sys.stdout)
    return code


def checkout_commit() -> str | None:
    """The checkout's commit (``git rev-parse --short HEAD``), ``+dirty`` with uncommitted changes; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def verdict(bars: list[dict[str, Any]], *, quick: bool) -> tuple[int, str]:
    """The exit status and what to say: 1 naming each missed bar, 0 when all pass or the run was ``--quick``.

    The bars are set for the full sizes; at ``--quick`` sizes fixed costs
    dominate, so a quick run reports its bars without being judged by them.
    """
    missed = [bar["name"] for bar in bars if not bar["pass"]]
    if not missed:
        return 0, ""
    if quick:
        return 0, f"{len(missed)} of {len(bars)} bars missed at --quick sizes (judged on full runs only)"
    return 1, f"missed {len(missed)} of {len(bars)} bars: {'; '.join(missed)}"


def write_report(report: dict[str, Any], out: Path, png: Path | None) -> list[Path]:
    """Write the JSON report and its plots (``png`` or beside it); the paths written.

    A report with the suite gets ``<name>.png`` (events/s) and, with the
    matrix, ``<name>-shapes.png``; a report of the matrix alone gets
    ``<name>.png`` for the matrix.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    written = [out]
    main_png = png or out.with_name(out.stem + ".png")
    if "throughput" in report:
        if plot(report, main_png):
            written.append(main_png)
        if "shapes" in report:
            shapes_png = main_png.with_name(main_png.stem + "-shapes.png")
            if matrix.plot(report["shapes"], shapes_png):
                written.append(shapes_png)
    elif matrix.plot(report["shapes"], main_png):
        written.append(main_png)
    return written


def report_path(
    *, out: Path | None, publish: bool, quick: bool, shapes_only: bool = False, partial: bool = False
) -> Path:
    """Where the JSON report goes: ``out``, the published figures with ``publish``, else the default.

    ``shapes_only``: the run measures the shape matrix alone (its own
    defaults); ``partial``: only some of its shapes. Raises ValueError when
    publishing is asked of a quick or partial run, or together with ``out``,
    and for an ``out`` in the published figures' folder (``docs/``).
    """
    if publish and quick:
        raise ValueError("--publish writes the published figures: a full run only, not --quick")
    if publish and partial:
        raise ValueError("--publish writes the published figures: every shape, not --shape")
    if publish and out is not None:
        raise ValueError("--publish writes docs/bench.json: give --publish or --out, not both")
    if publish:
        return PUBLISHED_SHAPES_OUT if shapes_only else PUBLISHED_OUT
    if out is not None and out.resolve().parent == PUBLISHED_OUT.resolve().parent:
        raise ValueError(f"{out} is beside the published figures: write there with --publish (a full run) only")
    return out or (DEFAULT_SHAPES_OUT if shapes_only else DEFAULT_OUT)
