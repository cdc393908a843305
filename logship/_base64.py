"""base64 for Firehose record data, in and out.

pybase64 (SIMD) decodes a 3 MB batch's records about 9x faster than binascii
here (37 -> 4 ms, docs/benchmarks.md); binascii is the fallback where it has
no wheel. Decoding is strict: anything outside the alphabet is an error.
"""

from __future__ import annotations

import binascii

try:
    import pybase64

    def decode(data: str | bytes) -> bytes:
        """Bytes of base64 ``data``; raise ``binascii.Error`` (a ``ValueError``) if it is not base64."""
        out: bytes = pybase64.b64decode(data, validate=True)
        return out

    def encode(data: bytes) -> str:
        """base64 text of ``data``."""
        return str(pybase64.b64encode_as_string(data))

except ImportError:  # pragma: no cover - exercised where pybase64 has no wheel

    def decode(data: str | bytes) -> bytes:
        """Bytes of base64 ``data``; raise ``binascii.Error`` (a ``ValueError``) if it is not base64."""
        return binascii.a2b_base64(data, strict_mode=True)

    def encode(data: bytes) -> str:
        """base64 text of ``data``."""
        return binascii.b2a_base64(data, newline=False).decode("ascii")
