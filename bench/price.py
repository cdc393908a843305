"""What the measured work costs on Lambda: GB-seconds and dollars per TB of CloudWatch Logs data.

``python -m bench.price [REPORT]`` reads a report with the shape matrix
(default ``docs/bench-shapes.json``) and prices logship's CPU time per MB of
compressed input at the template's memory size (``deploy/template.yaml``,
``LambdaMemorySize``) and buffer (``BufferSizeInMBs``), per TB of compressed
input (what Firehose hands the Lambda) and per TB of log messages (what the
apps wrote; CloudWatch Logs bills ingestion on the uncompressed size).

The model: Lambda gives a function CPU in proportion to its memory, one vCPU
at 1,769 MB (AWS Lambda developer guide, "Configure Lambda function
memory"). logship keeps that share busy (two threads: the main thread and
the sender's), so an invocation lasts its CPU time over the share, and its
GB-seconds are CPU seconds x 1.7275 (1,769 MB in GB of 1,024 MB, as Lambda
bills), whatever the memory size. The CPU time
was measured on the benchmark machine; Graviton's cores are not this
machine's, so the figures are estimates of order, not a quote.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "template.yaml"
DEFAULT_REPORT = ROOT / "docs" / "bench-shapes.json"

#: One vCPU's worth of CPU at this memory size (AWS Lambda developer guide).
LAMBDA_MB_PER_VCPU = 1_769
#: US East (N. Virginia) list prices, arm64: first 7.5 billion GB-seconds a month,
#: and per request (AWS Lambda pricing page, 2024-2026 copies).
LAMBDA_ARM64_USD_PER_GB_S = 0.0000133334
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
TB = 1_000_000_000_000
MB = 1_000_000


def template_defaults(template: Path = TEMPLATE) -> tuple[int, float]:
    """The template's default ``LambdaMemorySize`` (MB) and the Lambda processor's ``BufferSizeInMBs`` (gzip output).

    Raises ValueError when the template does not say.
    """
    text = template.read_text()
    memory = re.search(r"LambdaMemorySize:\s*\n\s*Type: Number\s*\n\s*Default: (\d+)", text)
    buffer = re.search(r"ParameterName: BufferSizeInMBs\s*\n\s*ParameterValue: !If \[GzipOutput, \"([\d.]+)\"", text)
    if memory is None or buffer is None:
        raise ValueError(f"{template}: no LambdaMemorySize default or BufferSizeInMBs found")
    return int(memory.group(1)), float(buffer.group(1))


def price(cpu_s_per_mb: float, *, memory_mb: int, buffer_mb: float) -> dict[str, float]:
    """GB-seconds, duration and dollars for ``cpu_s_per_mb`` of CPU per MB of compressed input.

    Returns the duration of one invocation of ``buffer_mb``, GB-seconds per TB
    of compressed input, and the dollars of duration and of requests per TB.
    """
    share = memory_mb / LAMBDA_MB_PER_VCPU
    duration_s = cpu_s_per_mb * buffer_mb / share
    invocations = TB / (buffer_mb * MB)
    gb_s = invocations * duration_s * memory_mb / 1024
    return {
        "vcpu_share": share,
        "invocation_s": duration_s,
        "gb_s_per_tb": gb_s,
        "usd_duration_per_tb": gb_s * LAMBDA_ARM64_USD_PER_GB_S,
        "usd_requests_per_tb": invocations * LAMBDA_USD_PER_REQUEST,
    }


def price_report(report: dict[str, Any], *, memory_mb: int, buffer_mb: float) -> list[dict[str, Any]]:
    """One priced row per shape and size of the report's matrix."""
    out = []
    for row in report["shapes"]["rows"]:
        priced = price(row["logship_cpu_s_per_input_mb"], memory_mb=memory_mb, buffer_mb=buffer_mb)
        ratio = row["message_bytes"] / row["input_gzip_bytes"]
        usd = priced["usd_duration_per_tb"] + priced["usd_requests_per_tb"]
        out.append(
            {
                "shape": row["shape"],
                "label": row["label"],
                "cpu_s_per_mb": row["logship_cpu_s_per_input_mb"],
                **priced,
                "usd_per_tb": usd,
                "compression_ratio": ratio,
                "usd_per_tb_of_messages": usd / ratio,
            }
        )
    return out


def _priced(path: Path, *, memory_mb: int, buffer_mb: float) -> tuple[dict[str, Any], list[dict[str, Any]]] | str:
    """The report at ``path`` and its priced rows, or why it cannot be priced (one line)."""
    try:
        report = json.loads(path.read_bytes())
    except OSError as err:
        return str(err)
    except ValueError:
        return "not JSON (python -m bench writes its reports as JSON)"
    try:
        rows = price_report(report, memory_mb=memory_mb, buffer_mb=buffer_mb)
    except (KeyError, TypeError, AttributeError) as err:
        if _counts_instructions(report):
            return "an instruction-count report (python -m bench.instructions); prices come from a timed one"
        missing = f"no {err} in it; " if isinstance(err, KeyError) else ""
        return f"not a benchmark report with the shape matrix ({missing}python -m bench --shapes writes one)"
    return (report, rows) if rows else "its shape matrix has no rows"


def _counts_instructions(report: object) -> bool:
    """True for a report of ``python -m bench.instructions`` (counts per shape, no timings)."""
    shapes = report.get("shapes") if isinstance(report, dict) else None
    return isinstance(shapes, dict) and any(isinstance(v, dict) and "instructions" in v for v in shapes.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.price", description=__doc__.splitlines()[0])
    parser.add_argument(
        "report",
        nargs="?",
        type=Path,
        default=DEFAULT_REPORT,
        help=f"a report with the shape matrix (default: {DEFAULT_REPORT.relative_to(DEFAULT_REPORT.parent.parent)})",
    )
    args = parser.parse_args(argv)
    try:
        memory_mb, buffer_mb = template_defaults()
    except (OSError, ValueError) as err:
        print(f"python -m bench.price: {err}", file=sys.stderr)
        return 2
    loaded = _priced(args.report, memory_mb=memory_mb, buffer_mb=buffer_mb)
    if isinstance(loaded, str):
        print(f"python -m bench.price: {args.report}: {loaded}", file=sys.stderr)
        return 2
    report, rows = loaded
    meta = report.get("meta") or {}
    if meta.get("quick"):
        print("(a quick run: tiny sizes, not figures to price a deployment on)", file=sys.stderr)
    if meta.get("command"):
        commit = meta.get("commit") or "an unknown commit"
        print(f"{args.report}: {meta['command']}, at {commit}, started {meta.get('started_utc')}")
    print(
        f"Lambda arm64 at {memory_mb} MB ({memory_mb / LAMBDA_MB_PER_VCPU:.2f} vCPU), {buffer_mb:g} MB buffers, "
        f"${LAMBDA_ARM64_USD_PER_GB_S:.10f} per GB-s, ${LAMBDA_USD_PER_REQUEST * 1e6:.2f} per million requests"
    )
    print(
        f"{'shape':<15}{'size':<7}{'CPU s/MB':>9}{'s/invoc':>9}{'GB-s/TB':>10}{'$/TB':>8}{'ratio':>7}"
        f"{'$/TB msgs':>10}"
    )
    for r in rows:
        print(
            f"{r['shape']:<15}{r['label']:<7}{r['cpu_s_per_mb']:>9.3f}{r['invocation_s']:>9.3f}{r['gb_s_per_tb']:>10,.0f}"
            f"{r['usd_per_tb']:>8.2f}{r['compression_ratio']:>7.1f}{r['usd_per_tb_of_messages']:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
