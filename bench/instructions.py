"""Instructions per invocation, counted by valgrind's callgrind: figures that steal time cannot move.

``python -m bench.instructions [--size BYTES] [--calls N]`` runs floor, seed
and logship on the same synthetic event, each in a fresh interpreter under
callgrind, once with one call and once with ``1 + N`` calls; the difference
over ``N`` is the cost of one warm invocation, start-up and imports excluded.
``--shape NAME`` (repeatable) or ``--shapes`` (every shape) counts the
fastest floor and logship on each log shape of the matrix instead
(:mod:`bench.matrix`: the same events, the same ``ONLY_JSON``).
All threads are counted (callgrind runs them one at a time), so logship's
worker threads are in its figure; the intake (draining, as in ``python -m
bench``) runs outside valgrind. ``PYTHONHASHSEED=0`` makes runs repeatable.

Instructions are not time: a cache miss costs more than an add, and a second
core does work in parallel. They are the figure to compare two builds of the
same code on a noisy machine; wall time on a quiet one is the bar's figure.
Needs ``valgrind`` on PATH (``apt-get install valgrind``); a 0.3 MB event takes
about a minute, a 1 MB shape about three per contender.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS = ("floor", "seed", "logship")
#: What is counted per log shape: the floor the shape bars are judged against, and logship.
SHAPE_CONTENDERS = ("fastest_floor", "logship")
_COLLECTED = re.compile(r"Collected : (\d+)")


def child(name: str, event_path: str, calls: int, url: str, only_json: bool = False) -> None:
    """Run ``calls`` invocations of ``name`` on the event (this is what valgrind runs)."""
    from bench.harness import make_logship, quiet_logship_logs, run_logship, run_seed

    with open(event_path, "rb") as f:
        event = json.load(f)
    if name == "floor":
        from bench.floor import floor

        for _ in range(calls):
            floor(event, only_json=only_json)
    elif name == "fastest_floor":
        from bench.floor import fastest_floor

        for _ in range(calls):
            fastest_floor(event, only_json=only_json)
    elif name == "seed":
        for _ in range(calls):
            run_seed(event)
    else:
        quiet_logship_logs()
        app = make_logship(url, only_json=only_json)
        for _ in range(calls):
            run_logship(app, event)
        app.close()


def count(name: str, event_path: str, calls: int, url: str, only_json: bool = False) -> int:
    """Instructions callgrind collects over a fresh interpreter doing ``calls`` invocations."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                "-m",
                "bench.instructions",
                "--child",
                name,
                event_path,
                str(calls),
                url,
                "true" if only_json else "false",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind reported no instruction count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(size: int, calls: int, jobs: int = 2) -> dict[str, Any]:
    """Instructions per warm invocation for each contender, and the ratios the bars use."""
    from bench.intake import IntakeProcess
    from logship.testing.synth import generate_event, live_start_ms

    with tempfile.TemporaryDirectory() as tmp, IntakeProcess() as intake, ThreadPoolExecutor(jobs) as pool:
        path = Path(tmp) / "event.json"
        path.write_text(json.dumps(generate_event(target_bytes=size, seed=1, start_ms=live_start_ms())))
        runs = {
            (name, n): pool.submit(count, name, str(path), n, intake.url) for name in CONTENDERS for n in (1, 1 + calls)
        }
        per_call = {name: (runs[name, 1 + calls].result() - runs[name, 1].result()) // calls for name in CONTENDERS}
    return {
        "target_bytes": size,
        "calls": calls,
        "instructions": per_call,
        "logship_over_floor": per_call["logship"] / per_call["floor"],
        "seed_over_logship": per_call["seed"] / per_call["logship"],
    }


def measure_shapes(shapes: Sequence[str], size: int, calls: int, jobs: int = 2) -> dict[str, Any]:
    """Instructions per warm invocation of the fastest floor and logship on each shape, and their ratio."""
    from bench.harness import describe
    from bench.intake import IntakeProcess
    from bench.matrix import ONLY_JSON_SHAPES, SEED
    from logship.testing.synth import generate_shape_event, live_start_ms

    out: dict[str, Any] = {"target_bytes": size, "calls": calls, "seed": SEED, "shapes": {}}
    with tempfile.TemporaryDirectory() as tmp, IntakeProcess() as intake, ThreadPoolExecutor(jobs) as pool:
        runs = {}
        for shape in shapes:
            event = generate_shape_event(shape, target_bytes=size, seed=SEED, start_ms=live_start_ms())
            path = Path(tmp) / f"{shape}.json"
            path.write_text(json.dumps(event))
            only_json = shape in ONLY_JSON_SHAPES
            out["shapes"][shape] = {"only_json": only_json, **describe(event)}
            for name in SHAPE_CONTENDERS:
                for n in (1, 1 + calls):
                    runs[shape, name, n] = pool.submit(count, name, str(path), n, intake.url, only_json)
        for shape, figures in out["shapes"].items():
            per_call = {
                name: (runs[shape, name, 1 + calls].result() - runs[shape, name, 1].result()) // calls
                for name in SHAPE_CONTENDERS
            }
            figures["instructions"] = per_call
            figures["logship_over_fastest_floor"] = per_call["logship"] / per_call["fastest_floor"]
            figures["logship_per_event"] = per_call["logship"] / max(figures["events"], 1)
            figures["fastest_floor_per_event"] = per_call["fastest_floor"] / max(figures["events"], 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from bench.matrix import shape_names

    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="gzip payload bytes of the event (default 0.3 MB, shapes 1 MB)")
    parser.add_argument("--calls", type=int, default=2, help="warm invocations counted (default 2)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="valgrind runs at once (default: cores)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--shape",
        action="append",
        choices=shape_names(),
        metavar="NAME",
        help=f"count the fastest floor and logship on this log shape (repeatable): {', '.join(shape_names())}",
    )
    parser.add_argument("--shapes", action="store_true", help="count the fastest floor and logship on every shape")
    parser.add_argument(
        "--child", nargs=5, metavar=("NAME", "EVENT", "CALLS", "URL", "ONLY_JSON"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        name, event_path, calls, url, only_json = args.child
        child(name, event_path, int(calls), url, only_json == "true")
        return 0
    if args.calls < 1 or args.jobs < 1 or (args.size is not None and args.size < 1):
        parser.error("--calls, --jobs and --size must be 1 or more")
    from bench.harness import unwritable

    problem = unwritable(args.out) if args.out is not None else None
    if problem:
        parser.error(f"--out: {problem}")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if args.shape or args.shapes:
        shapes = list(dict.fromkeys(args.shape)) if args.shape else shape_names()
        report = measure_shapes(shapes, args.size or 1_000_000, args.calls, args.jobs)
        print(f"{'shape':<15}{'events':>7}{'fastest floor':>16}{'logship':>16}{'ls/fastest':>11}{'ls/event':>10}")
        for shape, figures in report["shapes"].items():
            counts = figures["instructions"]
            print(
                f"{shape:<15}{figures['events']:>7}{counts['fastest_floor']:>16,}{counts['logship']:>16,}"
                f"{figures['logship_over_fastest_floor']:>11.2f}{figures['logship_per_event']:>10,.0f}"
            )
    else:
        report = measure(args.size or 300_000, args.calls, args.jobs)
        for name, value in report["instructions"].items():
            print(f"{name:<8} {value:>15,} instructions per invocation")
        print(f"logship / floor {report['logship_over_floor']:.2f}, seed / logship {report['seed_over_logship']:.2f}")
    if args.out:
        from bench.run import checkout_commit

        report["meta"] = {
            "command": " ".join(["python -m bench.instructions", *(argv if argv is not None else sys.argv[1:])]),
            "started_utc": started,
            "commit": checkout_commit(),
        }
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
