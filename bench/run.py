"""The benchmark runner: throughput, cold start, memory and latency, in one run, side by side.

``python -m bench`` runs the full suite and writes ``build/bench/bench.json``
and ``bench.png`` beside it; ``--publish`` writes the published figures,
``docs/bench.json`` and ``docs/bench.png``, instead (full runs only);
``--quick`` runs tiny sizes with few repetitions; ``--out PATH`` writes the
JSON elsewhere (the plot goes beside it). It exits 1 when a bar is missed.
Every figure is the median of several repetitions, and every ratio compares
figures from the same run.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import functools
import json
import logging
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

from bench.floor import floor
from bench.intake import IntakeProcess
from bench.seed import SocketSink, seed_handler

ROOT = Path(__file__).resolve().parent.parent
#: Where a run writes its report unless told otherwise: ignored by git.
DEFAULT_OUT = ROOT / "build" / "bench" / "bench.json"
#: The published figures (the README's picture, docs/benchmarks.md): written only with --publish.
PUBLISHED_OUT = ROOT / "docs" / "bench.json"
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
def median_time(fn: Callable[[], object], reps: int) -> tuple[float, list[float]]:
    """Median wall time of ``reps`` calls of ``fn`` (after the caller's warm-up)."""
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), samples


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks of the whole machine so far, from /proc/stat (0, 0 elsewhere).

    Steal is time the hypervisor gave this machine's vCPUs to someone else: a
    run with much of it measured a slower machine than one without.
    """
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal [guest guest_nice, counted in user]
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of CPU time stolen between two :func:`cpu_ticks` readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def describe(event: dict[str, Any]) -> dict[str, int]:
    """Input bytes (gzip payloads, what the generator targets), records and log events."""
    import zlib

    import orjson

    gzip_bytes = events = data_records = 0
    for record in event["records"]:
        raw = base64.b64decode(record["data"])
        gzip_bytes += len(raw)
        try:
            doc = orjson.loads(zlib.decompress(raw, 31))
        except (zlib.error, orjson.JSONDecodeError):
            continue
        if doc.get("messageType") == "DATA_MESSAGE" and isinstance(doc.get("logEvents"), list):
            data_records += 1
            events += len(doc["logEvents"])
    return {
        "input_gzip_bytes": gzip_bytes,
        "records": len(event["records"]),
        "data_records": data_records,
        "events": events,
    }


@dataclasses.dataclass
class NullReingester:
    """Re-ingest into memory: the Firehose limits, every put accepted."""

    target: str = "memory"
    max_records: int = 500
    max_batch_bytes: int = 4 * 1024 * 1024
    max_record_bytes: int = 1000 * 1024
    items: int = 0

    def item_size(self, item: Any) -> int:
        return len(item.data)

    def put_batch(self, items: Sequence[Any]) -> list[str | None]:
        self.items += len(items)
        return [None] * len(items)


def make_logship(url: str) -> Any:
    from logship.firehose.app import Logship
    from logship.settings import Settings

    env = {"DD_URL": url, "DD_API_KEY": "k", "ONLY_JSON": "false", "LOGSHIP_RESPONSE_LIMIT_BYTES": "6000000"}
    settings = Settings.from_env(env)
    return Logship(settings, reingester_factory=lambda _event: NullReingester())


def run_logship(app: Any, event: dict[str, Any]) -> str:
    """One invocation as the Lambda runtime sees it: handle, then serialize the response."""
    return json.dumps(app.handle(event, None))


def verify_logship(event: dict[str, Any]) -> int:
    """Entries the validating emulator accepted from one untimed logship invocation of ``event``."""
    from logship.testing.emulator import IntakeEmulator

    with IntakeEmulator() as emulator:
        app = make_logship(emulator.url)
        try:
            response = app.handle(event, None)
        finally:
            app.sender.close()
        received = len(emulator.entries)
    if [r["recordId"] for r in response["records"]] != [r["recordId"] for r in event["records"]]:
        raise RuntimeError("logship's response does not answer every recordId once, in order")
    return received


def run_seed(event: dict[str, Any]) -> str:
    sink = SocketSink()
    try:
        return json.dumps(seed_handler(event, sink, only_json=False))
    finally:
        sink.close()


def quiet_logship_logs() -> None:
    """Keep logship's per-invocation summary and per-record errors off the terminal."""
    logger = logging.getLogger("logship")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


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
    from logship.testing.synth import generate_event

    rows = []
    app = make_logship(url)
    for label, target in sizes:
        event = generate_event(target_bytes=target, seed=SEED)
        row: dict[str, Any] = {"label": label, "target_bytes": target, **describe(event)}
        row["intake_received_entries"] = verify_logship(event)
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
    from logship.testing.synth import generate_event

    env = child_env(url)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "event.json"
        path.write_text(json.dumps(generate_event(target_bytes=target, seed=SEED)))
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
    from logship.testing.synth import generate_event

    event = generate_event(target_bytes=target, seed=SEED)
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
    """Each bar with its measured value, its limit and whether it passes."""
    out = []
    big = [row for row in report["throughput"] if row["target_bytes"] >= 1_000_000] or report["throughput"][-1:]
    for row in big:
        out.append(_bar(f"logship / floor at {row['label']}", row["logship_over_floor"], MAX_FLOOR_RATIO, "<="))
    for row in report["throughput"]:
        out.append(_bar(f"seed / logship at {row['label']}", row["seed_over_logship"], MIN_SEED_SPEEDUP, ">="))
    cold = report["cold_start"]
    out.append(_bar("import handler / import boto3", cold["handler_over_boto3"], MAX_IMPORT_RATIO, "<="))
    mem = report["fresh_process"]
    out.append(_bar("peak RSS - import-only RSS (MB)", mem["rss_delta_mb"], MAX_RSS_DELTA_MB, "<="))
    lat = report["latency"]
    out.append(_bar("50 ms intake / zero latency", lat["delayed_over_zero"], MAX_LATENCY_RATIO, "<="))
    return out


def _bar(name: str, value: float, limit: float, op: str) -> dict[str, Any]:
    ok = value <= limit if op == "<=" else value >= limit
    return {"name": name, "value": value, "limit": limit, "op": op, "pass": ok}


# --- output -------------------------------------------------------------------
def table(report: dict[str, Any]) -> str:
    """The report as plain text."""
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
    meta = report["meta"]
    lines.append(
        f"intake for timed runs: {meta['intake']}; CPU stolen by the hypervisor over the run: {meta['steal_share']:.0%}"
    )
    lines.append("bars:")
    for b in report["bars"]:
        verdict = "pass" if b["pass"] else "MISS"
        lines.append(f"  {b['name']:<40} {b['value']:>8.2f} {b['op']} {b['limit']:<6g} {verdict}")
    return "\n".join(lines)


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
    parser.add_argument("--out", type=Path, help=f"JSON report path (default: {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--plot", type=Path, help="PNG path (default: beside --out, bench.png)")
    parser.add_argument(
        "--publish",
        action="store_true",
        help=f"write the published figures, {PUBLISHED_OUT.relative_to(ROOT)} and the PNG beside it (full runs only)",
    )
    parser.add_argument(
        "--validating-intake",
        action="store_true",
        help="time against the emulator that inflates and parses every request (it then shares the cores)",
    )
    args = parser.parse_args(argv)
    try:
        args.out = report_path(out=args.out, publish=args.publish, quick=args.quick)
    except ValueError as err:
        parser.error(str(err))
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
        }
    }
    ticks = cpu_ticks()
    with IntakeProcess(validate=args.validating_intake) as intake:
        print("throughput", flush=True)
        report["throughput"] = throughput(sizes, reps, intake.url)
        print("cold start", flush=True)
        report["cold_start"] = cold_start(reps * 3)
        print("fresh process: first call and memory", flush=True)
        report["fresh_process"] = fresh_process(largest, intake.url, max(reps // 2, 1) + 1)
        print("latency", flush=True)
        report["latency"] = latency(largest, reps, intake.url, validate=args.validating_intake)
    report["meta"]["steal_share"] = steal_share(ticks, cpu_ticks())
    report["bars"] = bars(report)
    report["meta"]["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    png = args.plot or args.out.with_name(args.out.stem + ".png")
    drew = plot(report, png)
    print(table(report))
    print(f"wrote {args.out}" + (f" and {png}" if drew else " (no plot: install the bench extra for matplotlib)"))
    missed = [bar["name"] for bar in report["bars"] if not bar["pass"]]
    if missed:
        print(f"missed {len(missed)} of {len(report['bars'])} bars: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def report_path(*, out: Path | None, publish: bool, quick: bool) -> Path:
    """Where the JSON report goes: ``out``, the published figures with ``publish``, else :data:`DEFAULT_OUT`.

    Raises ValueError when publishing is asked of a quick run or together with ``out``.
    """
    if publish and quick:
        raise ValueError("--publish writes the published figures: a full run only, not --quick")
    if publish and out is not None:
        raise ValueError("--publish writes docs/bench.json: give --publish or --out, not both")
    if publish:
        return PUBLISHED_OUT
    return out or DEFAULT_OUT
