"""``logship demo``: the pipeline end to end on local stand-ins (see :mod:`logship.testing.demo`)."""

from __future__ import annotations

import argparse
from typing import Any

from logship.cli.sizes import parse_size


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand to ``sub``."""
    demo = sub.add_parser("demo", help="run end to end on local stand-ins")
    demo.add_argument("--size", default="1MB", help="compressed input size (default 1MB)")
    demo.add_argument("--response-limit", default="600KB", help="response limit, small to show re-ingest")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--verbose", action="store_true", help="print logship's own JSON log lines")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from logship.testing.demo import run_demo

    return run_demo(
        size=parse_size(args.size),
        response_limit=parse_size(args.response_limit),
        seed=args.seed,
        verbose=args.verbose,
    )
