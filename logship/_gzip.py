"""gzip, the one compression every boundary of logship speaks: one member, no timestamp.

Firehose records, S3 output, Datadog request bodies and dead letters are all
single gzip members made here, so the codec can change in one place.
"""

from __future__ import annotations

import zlib

from logship.errors import DecodeError

# zlib's wbits for a gzip header and trailer around a raw deflate stream (16 + 15).
WBITS = 31


def compress(data: bytes, level: int = 6) -> bytes:
    """One gzip member of ``data`` (mtime 0, so the same input gives the same bytes)."""
    return zlib.compress(data, level, wbits=WBITS)


def decompress(data: bytes, *, max_bytes: int) -> bytes:
    """Inflate one gzip member, refusing output past ``max_bytes`` (gzip bombs exist)."""
    inflater = zlib.decompressobj(WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as err:
        raise DecodeError(f"not gzip data: {err}") from err
    if len(out) > max_bytes:
        raise DecodeError(f"decompresses past the cap of {max_bytes} bytes")
    if not inflater.eof:
        raise DecodeError("gzip data is truncated")
    return out
