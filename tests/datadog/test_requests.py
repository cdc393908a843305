"""Batch step: requests within the intake's entry and byte limits, sized by real bytes."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from logship.datadog.requests import batch_entries, batcher, payload


@given(
    st.lists(st.binary(min_size=2, max_size=300).map(lambda b: orjson.dumps(b.hex())), max_size=200),
    st.integers(1, 50),
    st.integers(50, 2000),
)
def test_batches_keep_order_and_limits(entries, max_entries, max_bytes):
    """Batches hold every entry once, in order, each within both limits (a lone oversize entry alone)."""
    batches = list(batch_entries(entries, max_entries=max_entries, max_bytes=max_bytes))
    assert [e for b in batches for e in b] == entries
    for batch in batches:
        assert 1 <= len(batch) <= max_entries
        body = payload(batch)
        assert len(body) <= max_bytes or len(batch) == 1
        assert orjson.loads(body) == [orjson.loads(e) for e in batch]
    assert payload([]) == b"[]"


def test_multibyte_characters_count_as_bytes():
    """Sizes are UTF-8 bytes: three-byte characters fill a batch three times faster."""
    entry = orjson.dumps("日" * 100)  # 302 bytes
    batches = list(batch_entries([entry] * 10, max_bytes=1000))
    assert [len(b) for b in batches] == [3, 3, 3, 1]


@given(
    st.lists(st.binary(min_size=2, max_size=300).map(lambda b: orjson.dumps(b.hex())), max_size=200),
    st.lists(st.integers(0, 40), max_size=30),
    st.integers(1, 50),
    st.integers(50, 2000),
)
def test_adding_in_chunks_batches_as_adding_one_by_one(entries, cuts, max_entries, max_bytes):
    """A batcher fed whole records (chunks of any size) makes the batches it makes entry by entry."""
    chunked = batcher(max_entries=max_entries, max_bytes=max_bytes)
    batches, start = [], 0
    for cut in [*cuts, len(entries)]:
        batches += chunked.add(iter(entries[start : start + cut]))
        start += cut
    if start < len(entries):
        batches += chunked.add(entries[start:])
    last = chunked.flush()
    batches += [last] if last else []
    assert batches == list(batch_entries(entries, max_entries=max_entries, max_bytes=max_bytes))
