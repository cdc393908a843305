"""Batch step: group serialized entries into intake requests within Datadog's limits.

Pure: sizes are the real UTF-8 bytes of each serialized entry, plus the JSON
array's brackets and commas.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from logship import limits


def batch_entries(
    entries: Iterable[bytes],
    *,
    max_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST,
    max_bytes: int = limits.DATADOG_TARGET_REQUEST_BYTES,
) -> Iterator[list[bytes]]:
    """Yield lists of entries whose JSON array (``[a,b,...]``) stays within both limits.

    An entry bigger than ``max_bytes`` alone is yielded alone; entries are
    truncated to the per-log limit before they get here, which is far smaller.
    """
    batch: list[bytes] = []
    size = 2  # the brackets
    for entry in entries:
        extra = len(entry) + (1 if batch else 0)
        if batch and (len(batch) >= max_entries or size + extra > max_bytes):
            yield batch
            batch, size, extra = [], 2, len(entry)
        batch.append(entry)
        size += extra
    if batch:
        yield batch


def payload(batch: list[bytes]) -> bytes:
    """The JSON array body of a request."""
    return b"[" + b",".join(batch) + b"]"
