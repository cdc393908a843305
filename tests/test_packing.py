"""Packing and splitting: every item once, in order, within both limits; halving until accepted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logship.packing import pack, split_until


@given(st.lists(st.integers(1, 2_000), max_size=300), st.integers(1, 50), st.integers(2_000, 20_000))
def test_pack_respects_counts_and_bytes(sizes, max_items, max_bytes):
    """Every index once, in order; no group over either limit."""
    groups = pack(range(len(sizes)), max_items=max_items, max_bytes=max_bytes, size=lambda i: sizes[i])
    assert [i for g in groups for i in g] == list(range(len(sizes)))
    for group in groups:
        assert len(group) <= max_items
        assert sum(sizes[i] for i in group) <= max_bytes


@given(st.lists(st.integers(0, 100), max_size=200), st.integers(1, 400))
def test_split_until_halves_until_every_part_fits(values, limit):
    """Accepted parts cover the input in order; refused items are exactly those over the limit alone."""
    accepted: list[list[int]] = []

    def accept(part):
        if sum(part) <= limit:
            accepted.append(list(part))
            return True
        return False

    refused = split_until(values, accept) if values else []
    assert refused == [v for v in values if v > limit]
    assert sorted(v for part in accepted for v in part) == sorted(v for v in values if v <= limit)
    assert all(sum(part) <= limit for part in accepted)
