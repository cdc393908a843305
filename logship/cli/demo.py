"""``logship demo``: the pipeline end to end on local stand-ins (see :mod:`logship.testing.demo`)."""

from __future__ import annotations

import argparse
from typing import Any

from logship import limits
from logship.cli import arguments
from logship.cli.progress import Progress

#: The largest demo event: the demo holds it, and everything made of it, in memory.
MAX_DEMO_BYTES = 64 * 1024 * 1024
#: The smallest response limit logship accepts (LOGSHIP_RESPONSE_LIMIT_BYTES).
MIN_RESPONSE_LIMIT = 1_000


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand to ``sub``."""
    demo = arguments.add_command(
        sub,
        "demo",
        summary="run end to end on local stand-ins (needs the demo extra)",
        description=(
            "Run the Lambda's code end to end on local stand-ins: a synthetic event, the Datadog intake\n"
            "emulator, and a local AWS (moto server: pip install 'logship[demo]') for re-ingest. A small\n"
            "response limit shows re-ingest at work. Shows progress on a terminal."
        ),
    )
    demo.add_argument(
        "--size",
        type=arguments.size(1, MAX_DEMO_BYTES),
        default="1MB",
        help="compressed input size (B, KB, MB, GB, KiB, MiB, GiB)",
    )
    demo.add_argument(
        "--response-limit",
        type=arguments.size(MIN_RESPONSE_LIMIT, limits.LAMBDA_RESPONSE_HARD_LIMIT_BYTES),
        default="600KB",
        help="response limit, small to show re-ingest",
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed of the event")
    demo.add_argument("--verbose", action="store_true", help="print logship's own JSON log lines")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from logship.testing.demo import run_demo

    with Progress() as progress:
        return run_demo(
            size=args.size,
            response_limit=args.response_limit,
            seed=args.seed,
            verbose=args.verbose,
            status=progress.update,
        )
