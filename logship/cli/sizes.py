"""Sizes on the command line: ``300KB``, ``1MB``, ``3000000``."""

from __future__ import annotations


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional unit (B, KB, MB, K, M; decimal units)."""
    units = {"kb": 1_000, "mb": 1_000_000, "k": 1_000, "m": 1_000_000, "b": 1}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            return int(float(lowered[: -len(unit)]) * factor)
    return int(lowered)
