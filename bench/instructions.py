"""Instructions per invocation, counted by valgrind's callgrind: figures that steal time cannot move.

``python -m bench.instructions [--size BYTES] [--calls N]`` runs floor, seed
and logship on the same synthetic event, each in a fresh interpreter under
callgrind, once with one call and once with ``1 + N`` calls; the difference
over ``N`` is the cost of one warm invocation, start-up and imports excluded.
All threads are counted (callgrind runs them one at a time), so logship's
worker threads are in its figure; the intake (draining, as in ``python -m
bench``) runs outside valgrind. ``PYTHONHASHSEED=0`` makes runs repeatable.

Instructions are not time: a cache miss costs more than an add, and a second
core does work in parallel. They are the figure to compare two builds of the
same code on a noisy machine; wall time on a quiet one is the bar's figure.
Needs ``valgrind`` on PATH (``apt-get install valgrind``); a 0.3 MB event takes
about a minute.
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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS = ("floor", "seed", "logship")
_COLLECTED = re.compile(r"Collected : (\d+)")


def child(name: str, event_path: str, calls: int, url: str) -> None:
    """Run ``calls`` invocations of ``name`` on the event (this is what valgrind runs)."""
    from bench.run import make_logship, quiet_logship_logs, run_logship, run_seed

    with open(event_path, "rb") as f:
        event = json.load(f)
    if name == "floor":
        from bench.floor import floor

        for _ in range(calls):
            floor(event)
    elif name == "seed":
        for _ in range(calls):
            run_seed(event)
    else:
        quiet_logship_logs()
        app = make_logship(url)
        for _ in range(calls):
            run_logship(app, event)
        app.close()


def count(name: str, event_path: str, calls: int, url: str) -> int:
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
    from logship.testing.synth import generate_event

    with tempfile.TemporaryDirectory() as tmp, IntakeProcess() as intake, ThreadPoolExecutor(jobs) as pool:
        path = Path(tmp) / "event.json"
        path.write_text(json.dumps(generate_event(target_bytes=size, seed=1)))
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300_000, help="gzip payload bytes of the event (default 0.3 MB)")
    parser.add_argument("--calls", type=int, default=2, help="warm invocations counted (default 2)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="valgrind runs at once (default: cores)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--child", nargs=4, metavar=("NAME", "EVENT", "CALLS", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, event_path, calls, url = args.child
        child(name, event_path, int(calls), url)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    report = measure(args.size, args.calls, args.jobs)
    for name, value in report["instructions"].items():
        print(f"{name:<8} {value:>15,} instructions per invocation")
    print(f"logship / floor {report['logship_over_floor']:.2f}, seed / logship {report['seed_over_logship']:.2f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
