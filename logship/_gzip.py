"""gzip, the one compression every boundary of logship speaks: one member, no timestamp.

Firehose records, S3 output, Datadog request bodies and dead letters are all
single gzip members made here. ISA-L (the ``isal`` package) compresses about 3x
and inflates about 2x faster than zlib here, and releases the GIL, so
compression overlaps with parsing; stdlib zlib is the fallback where no
``isal`` wheel exists. Both write standard gzip.
"""

from __future__ import annotations

import zlib
from types import ModuleType

from logship.errors import DecodeError

_codec: ModuleType
try:
    from isal import isal_zlib as _codec

    # ISA-L has levels 0-3; map zlib's 1-9 onto them (1-3 -> 1, 4-6 -> 2, 7-9 -> 3).
    _LEVELS = {level: min(3, (level + 2) // 3) for level in range(10)}
except ImportError:  # pragma: no cover - exercised where isal has no wheel
    _codec = zlib
    _LEVELS = {level: level for level in range(10)}

# zlib's wbits for a gzip header and trailer around a raw deflate stream (16 + 15).
WBITS = 31
_MAGIC = b"\x1f\x8b"


def compress(data: bytes, level: int = 6) -> bytes:
    """One gzip member of ``data``; ``level`` is zlib's 1 (fast) to 9 (small)."""
    out: bytes = _codec.compress(data, _LEVELS[level], wbits=WBITS)
    return out


def decompress(data: bytes, *, max_bytes: int) -> bytes:
    """Inflate one gzip member, refusing output past ``max_bytes`` (gzip bombs exist)."""
    if not data.startswith(_MAGIC):
        raise DecodeError("not gzip data: no gzip header")
    inflater = _codec.decompressobj(WBITS)
    try:
        out: bytes = inflater.decompress(data, max_bytes + 1)
    except (zlib.error, _codec.error) as err:
        raise DecodeError(f"not gzip data: {err}") from err
    if len(out) > max_bytes:
        raise DecodeError(f"decompresses past the cap of {max_bytes} bytes")
    if not inflater.eof:
        raise DecodeError("gzip data is truncated")
    return out
