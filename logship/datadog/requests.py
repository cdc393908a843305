"""Logs intake requests, built purely: entries grouped within Datadog's limits, joined and gzipped.

Sizes are the real UTF-8 bytes of each serialized entry, plus the JSON
array's brackets and commas. Limits (``logship.limits``): at most 1,000
entries and 5 MB uncompressed per request; logship aims at 4.25 MB, as
Vector's Datadog logs sink does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from logship import _gzip, limits
from logship.packing import Packer

# A request body is a JSON array: two brackets, and a comma before every entry
# but the first (counted for the first too: one byte of slack).
_ARRAY_FRAME_BYTES = 2
_COMMA_BYTES = 1


def batcher(
    *,
    max_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST,
    max_bytes: int = limits.DATADOG_TARGET_REQUEST_BYTES,
) -> Packer[bytes]:
    """A :class:`~logship.packing.Packer` of serialized entries into request bodies within both limits."""
    return Packer(
        max_items=max_entries, max_bytes=max_bytes, frame_bytes=_ARRAY_FRAME_BYTES, item_overhead=_COMMA_BYTES
    )


def batch_entries(
    entries: Iterable[bytes],
    *,
    max_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST,
    max_bytes: int = limits.DATADOG_TARGET_REQUEST_BYTES,
) -> Iterator[list[bytes]]:
    """Yield lists of entries whose JSON array stays within both limits, in order."""
    packer = batcher(max_entries=max_entries, max_bytes=max_bytes)
    for entry in entries:
        yield from packer.add((entry,))
    last = packer.flush()
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


def compress(body: bytes, level: int) -> bytes:
    """The request body as sent: one gzip member (``Content-Encoding: gzip``)."""
    return _gzip.compress(body, level)


def headers(api_key: str) -> dict[str, str]:
    """The request headers of the logs intake."""
    return {
        "DD-API-KEY": api_key,
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "User-Agent": "logship",
    }
