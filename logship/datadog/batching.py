"""Batch step: group serialized entries into intake requests within Datadog's limits.

Pure: sizes are the real UTF-8 bytes of each serialized entry, plus the JSON
array's brackets and commas.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from logship import limits


class Batcher:
    """Collects entries and hands back each batch as soon as it is full.

    A batch's JSON array (``[a,b,...]``) stays within ``max_bytes`` and holds at
    most ``max_entries``; an entry bigger than ``max_bytes`` alone gets a batch
    of its own (entries are truncated to the per-log limit before they get
    here, which is far smaller).
    """

    def __init__(
        self,
        *,
        max_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST,
        max_bytes: int = limits.DATADOG_TARGET_REQUEST_BYTES,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._batch: list[bytes] = []
        self._size = 2  # the brackets

    def add(self, entries: Iterable[bytes]) -> list[list[bytes]]:
        """Take ``entries``; return the batches they filled (often none)."""
        entries = entries if isinstance(entries, list) else list(entries)
        batch, size = self._batch, self._size
        # Most calls bring one record's entries, which fit the open batch whole: count
        # them in C and take them at once.
        extra = sum(map(len, entries)) + len(entries)  # each entry and the comma before it
        if len(batch) + len(entries) <= self.max_entries and size + extra <= self.max_bytes:
            batch.extend(entries)
            self._size = size + extra
            return []
        full: list[list[bytes]] = []
        max_entries, max_bytes = self.max_entries, self.max_bytes
        for entry in entries:
            extra = len(entry) + 1  # the comma before it (one too many for the first: safe)
            if batch and (len(batch) >= max_entries or size + extra > max_bytes):
                full.append(batch)
                batch, size = [], 2
            batch.append(entry)
            size += extra
        self._batch, self._size = batch, size
        return full

    def flush(self) -> list[bytes] | None:
        """The last, partly filled batch, if any."""
        batch = self._batch
        self._batch, self._size = [], 2
        return batch or None


def batch_entries(
    entries: Iterable[bytes],
    *,
    max_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST,
    max_bytes: int = limits.DATADOG_TARGET_REQUEST_BYTES,
) -> Iterator[list[bytes]]:
    """Yield lists of entries whose JSON array stays within both limits, in order."""
    batcher = Batcher(max_entries=max_entries, max_bytes=max_bytes)
    for entry in entries:
        yield from batcher.add((entry,))
    last = batcher.flush()
    if last:
        yield last


def payload(batch: list[bytes]) -> bytes:
    """The JSON array body of a request.

    The brackets go onto the first and last entries so the body is built by
    one join: ``b"[" + joined + b"]"`` would copy the whole body twice more,
    and at a few hundred kB each copy is a fresh, page-faulting allocation
    (about 10x the cost of the join itself, measured).
    """
    if not batch:
        return b"[]"
    parts = list(batch)
    parts[0] = b"[" + parts[0]
    parts[-1] = parts[-1] + b"]"
    return b",".join(parts)
