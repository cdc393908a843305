"""The shape matrix: logship against both floors on every log shape and size, interleaved, with its bars.

Each cell is one log shape of :data:`logship.testing.synth.SHAPES` at one
size of compressed input. Before timing, each cell is run once untimed: the
fastest floor, the standard library's floor and logship (against the
validating emulator) must agree on the entries sent to Datadog and the lines
written to S3. Then every contender of every cell runs once per repetition,
cells and contenders interleaved (the contenders' order rotates), so noise
and steal hit them alike; each timed call right after an untimed call of the
same contender, as a warm invocation follows the previous one. Each figure is
the median over the repetitions.

The bars (issue 18): logship within :data:`MAX_SHAPE_FLOOR_RATIO` of the
fastest floor on every shape at every size of 1 MB or more, and the
slowest shape's ratio within :data:`MAX_SHAPE_SPREAD` of the fastest JSON
shape's. The spread compares logship / fastest floor between shapes, so the
work a shape needs anyway (a plain line is not parsed) cancels out.
"""

from __future__ import annotations

import functools
import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.floor import fastest_floor, floor
from bench.harness import (
    bar,
    body_entries,
    busy_ticks,
    cpu_ticks,
    describe,
    make_logship,
    others_share,
    run_logship,
    s3_lines,
    timed,
    verify_logship,
)

FULL_SIZES = (("1 MB", 1_000_000), ("3 MB", 3_000_000))
QUICK_SIZES = (("20 kB", 20_000), ("60 kB", 60_000))
SEED = 1
#: Shapes run with ``ONLY_JSON`` unset (plain lines not sent); the others run with ``ONLY_JSON=false``.
ONLY_JSON_SHAPES = frozenset({"mix"})
CONTENDERS = ("fastest_floor", "stdlib_floor", "logship")

# The bars (issue 18).
MAX_SHAPE_FLOOR_RATIO = 1.5
MAX_SHAPE_SPREAD = 1.25
#: Sizes the bars hold at; a run without any (quick) is judged at its largest size.
BAR_MIN_BYTES = 1_000_000


def shape_names() -> list[str]:
    """Every shape of the matrix, in the order the table shows them."""
    from logship.testing.synth import SHAPES

    return list(SHAPES)


def run_matrix(shapes: Sequence[str], sizes: Sequence[tuple[str, int]], reps: int, url: str) -> dict[str, Any]:
    """Measure every shape at every size against ``url`` (a draining intake); the matrix section of a report."""
    from logship.testing.synth import SHAPES, generate_shape_event, live_start_ms

    apps = {flag: make_logship(url, only_json=flag) for flag in {shape in ONLY_JSON_SHAPES for shape in shapes}}
    cells: list[tuple[dict[str, Any], dict[str, Callable[[], object]]]] = []
    try:
        for shape in shapes:
            kind = SHAPES[shape]
            only_json = shape in ONLY_JSON_SHAPES
            for label, target in sizes:
                event = generate_shape_event(shape, target_bytes=target, seed=SEED, start_ms=live_start_ms())
                row: dict[str, Any] = {
                    "shape": shape,
                    "description": kind.description,
                    "json": kind.json,
                    "only_json": only_json,
                    "label": label,
                    "target_bytes": target,
                    **describe(event),
                    **agreement(event, only_json=only_json),
                }
                app = apps[only_json]
                invocation = app.process(event, None)  # untimed: the counts of what one invocation did
                row["datadog_requests"] = invocation.summary.dd_requests
                row["reingested_records"] = invocation.summary.reingested_records
                contenders: dict[str, Callable[[], object]] = {
                    "fastest_floor": functools.partial(fastest_floor, event, only_json=only_json),
                    "stdlib_floor": functools.partial(floor, event, only_json=only_json),
                    "logship": functools.partial(run_logship, app, event),
                }
                cells.append((row, contenders))
                print(f"  {shape} {label}: {row['events']} events, outputs agree", flush=True)
        machine = _measure(cells, reps)
    finally:
        for app in apps.values():
            app.close()
    rows = [row for row, _ in cells]
    return {
        "reps": reps,
        "seed": SEED,
        "sizes": [label for label, _ in sizes],
        **machine,
        "rows": rows,
        "spread": spread(rows),
    }


def agreement(event: dict[str, Any], *, only_json: bool) -> dict[str, Any]:
    """Run both floors and logship once, untimed; they must send the same entries and write the same S3 lines.

    Raises RuntimeError naming the figures when they differ.
    """
    counts: dict[str, Any] = {}
    for name, fn in (("fastest_floor", fastest_floor), ("stdlib_floor", floor)):
        serialized, bodies = fn(event, only_json=only_json)
        counts[f"{name}_entries"] = body_entries(bodies)
        counts[f"{name}_s3_lines"] = s3_lines(json.loads(serialized))
        counts[f"{name}_response_bytes"] = len(serialized)
    received, response = verify_logship(event, only_json=only_json)
    counts["logship_entries"] = received
    counts["logship_s3_lines"] = s3_lines(response)
    counts["logship_response_bytes"] = len(json.dumps(response))
    for figure in ("entries", "s3_lines"):
        found = {name: counts[f"{name}_{figure}"] for name in CONTENDERS}
        if len(set(found.values())) != 1:
            raise RuntimeError(f"the contenders disagree on {figure}: {found}")
    return counts


def _measure(cells: list[tuple[dict[str, Any], dict[str, Callable[[], object]]]], reps: int) -> dict[str, float]:
    """Time every contender of every cell once per repetition, interleaved; medians into each row.

    Returns the steal and other processes' share over all the timed cells.
    """
    for _, contenders in cells:  # warm-up
        for fn in contenders.values():
            fn()
    wall: list[dict[str, list[float]]] = [{name: [] for name in CONTENDERS} for _ in cells]
    cpu: list[dict[str, list[float]]] = [{name: [] for name in CONTENDERS} for _ in cells]
    ticks = [[0, 0] for _ in cells]  # steal, total
    busy = [[0, 0, 0.0] for _ in cells]  # busy, total, this process's CPU seconds
    for rep in range(reps):
        order = CONTENDERS[rep % len(CONTENDERS) :] + CONTENDERS[: rep % len(CONTENDERS)]
        for index, (_, contenders) in enumerate(cells):
            before, busy_before = cpu_ticks(), busy_ticks()
            for name in order:
                # Each timed call follows an untimed one of the same contender, as a warm invocation follows
                # the previous one: otherwise it would start on the heap the contender before it left (the
                # stdlib floor gives tens of MB back to the system, which the next one faults in again).
                _, untimed_cpu_seconds = timed(contenders[name])
                seconds, cpu_seconds = timed(contenders[name])
                wall[index][name].append(seconds)
                cpu[index][name].append(cpu_seconds)
                busy[index][2] += untimed_cpu_seconds + cpu_seconds
            after, busy_after = cpu_ticks(), busy_ticks()
            ticks[index][0] += after[0] - before[0]
            ticks[index][1] += after[1] - before[1]
            busy[index][0] += busy_after[0] - busy_before[0]
            busy[index][1] += busy_after[1] - busy_before[1]
    for index, (row, _) in enumerate(cells):
        for name in CONTENDERS:
            row[f"{name}_s"] = statistics.median(wall[index][name])
            row[f"{name}_cpu_s"] = statistics.median(cpu[index][name])
        row["samples_s"] = wall[index]
        row["cpu_samples_s"] = cpu[index]
        row["steal_share"] = ticks[index][0] / ticks[index][1] if ticks[index][1] > 0 else 0.0
        row["others_share"] = others_share(int(busy[index][0]), int(busy[index][1]), busy[index][2])
        row["logship_over_fastest_floor"] = row["logship_s"] / row["fastest_floor_s"]
        row["logship_over_stdlib_floor"] = row["logship_s"] / row["stdlib_floor_s"]
        # CPU time of every thread: the work, whatever the machine's other load did to the wall time.
        row["logship_cpu_over_fastest_floor_cpu"] = row["logship_cpu_s"] / row["fastest_floor_cpu_s"]
        row["stdlib_over_fastest_floor"] = row["stdlib_floor_s"] / row["fastest_floor_s"]
        row["logship_s_per_input_mb"] = row["logship_s"] / (row["input_gzip_bytes"] / 1e6)
        row["logship_cpu_s_per_input_mb"] = row["logship_cpu_s"] / (row["input_gzip_bytes"] / 1e6)
    steal, total = sum(t[0] for t in ticks), sum(t[1] for t in ticks)
    return {
        "steal_share": steal / total if total > 0 else 0.0,
        "others_share": others_share(
            int(sum(b[0] for b in busy)), int(sum(b[1] for b in busy)), sum(b[2] for b in busy)
        ),
    }


def spread(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size: the slowest shape and the fastest JSON shape by logship / fastest floor, and their ratio."""
    out = []
    for label in dict.fromkeys(row["label"] for row in rows):
        at = [row for row in rows if row["label"] == label]
        json_rows = [row for row in at if row["json"]]
        if len(at) < 2 or not json_rows:  # a spread needs two shapes, one of them JSON
            continue
        slowest = max(at, key=lambda row: row["logship_over_fastest_floor"])
        fastest = min(json_rows, key=lambda row: row["logship_over_fastest_floor"])
        out.append(
            {
                "label": label,
                "target_bytes": at[0]["target_bytes"],
                "slowest_shape": slowest["shape"],
                "slowest_ratio": slowest["logship_over_fastest_floor"],
                "fastest_json_shape": fastest["shape"],
                "fastest_json_ratio": fastest["logship_over_fastest_floor"],
                "slowest_over_fastest_json": slowest["logship_over_fastest_floor"]
                / fastest["logship_over_fastest_floor"],
            }
        )
    return out


def _judged_sizes(rows: Sequence[dict[str, Any]]) -> set[int]:
    sizes = {row["target_bytes"] for row in rows}
    big = {size for size in sizes if size >= BAR_MIN_BYTES}
    return big or ({max(sizes)} if sizes else set())


def bars(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The matrix's bars: each shape against the fastest floor, and the spread between shapes, per judged size."""
    judged = _judged_sizes(section["rows"])
    out = [
        bar(
            f"logship / fastest floor, {row['shape']} at {row['label']}",
            row["logship_over_fastest_floor"],
            MAX_SHAPE_FLOOR_RATIO,
            "<=",
        )
        for row in section["rows"]
        if row["target_bytes"] in judged
    ]
    out.extend(
        bar(
            f"slowest shape / fastest JSON shape at {item['label']}",
            item["slowest_over_fastest_json"],
            MAX_SHAPE_SPREAD,
            "<=",
        )
        for item in section["spread"]
        if item["target_bytes"] in judged
    )
    return out


def table(section: dict[str, Any]) -> str:
    """The matrix as plain text: one line per shape and size, then the spread per size."""
    lines = [
        f"shape matrix (medians of {section['reps']}; logship, fastest floor = pybase64 + ISA-L + orjson, "
        "stdlib floor = binascii + zlib + orjson; wall s, CPU s of every thread; steal and other processes' "
        "share of the machine's CPU while the cell ran)",
        f"{'shape':<15}{'size':<7}{'events':>7}{'gzip in':>10}  {'fastest s':>9}{'stdlib s':>9}{'logship s':>10}"
        f"{'ls cpu s':>9}  {'ls/fastest':>10}{'ls/stdlib':>10}{'cpu ls/f':>9}{'steal':>6}{'others':>7}",
    ]
    for r in section["rows"]:
        lines.append(
            f"{r['shape']:<15}{r['label']:<7}{r['events']:>7}{r['input_gzip_bytes']:>10}  "
            f"{r['fastest_floor_s']:>9.3f}{r['stdlib_floor_s']:>9.3f}{r['logship_s']:>10.3f}"
            f"{r['logship_cpu_s']:>9.3f}  "
            f"{r['logship_over_fastest_floor']:>10.2f}{r['logship_over_stdlib_floor']:>10.2f}"
            f"{r['logship_cpu_over_fastest_floor_cpu']:>9.2f}{r['steal_share']:>6.0%}{r['others_share']:>7.0%}"
        )
    lines.append(
        f"  while timing: {section['steal_share']:.0%} of the machine's CPU stolen, "
        f"{section['others_share']:.0%} used by other processes"
    )
    for item in section["spread"]:
        lines.append(
            f"  {item['label']}: slowest shape {item['slowest_shape']} ({item['slowest_ratio']:.2f}) / fastest JSON "
            f"shape {item['fastest_json_shape']} ({item['fastest_json_ratio']:.2f}) = "
            f"{item['slowest_over_fastest_json']:.2f}"
        )
    return "\n".join(lines)


def plot(section: dict[str, Any], path: Path) -> bool:
    """logship / fastest floor per shape, one bar per size, with the bar's limit; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = section["rows"]
    shapes = list(dict.fromkeys(row["shape"] for row in rows))
    labels = section["sizes"]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        by_shape = {row["shape"]: row["logship_over_fastest_floor"] for row in rows if row["label"] == label}
        xs = [n + (i - (len(labels) - 1) / 2) * width for n in range(len(shapes))]
        drawn = ax.bar(xs, [by_shape.get(shape, 0.0) for shape in shapes], width, label=label)
        ax.bar_label(drawn, fmt="%.2f", fontsize=6)
    ax.axhline(MAX_SHAPE_FLOOR_RATIO, color="#e4572e", linestyle="--", linewidth=1, label="bar")
    ax.set_xticks(range(len(shapes)), shapes, rotation=30, ha="right")
    ax.set_ylabel("logship / fastest floor (wall, median)")
    ax.set_title("Cost per log shape, against the fastest floor")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
