r"""Broken characters: lone UTF-16 surrogates and invalid UTF-8 bytes, each replaced by U+FFFD.

One bad character costs that character, never the log around it. Every
replacement, whatever its cause, is U+FFFD (the Unicode replacement
character, shown as ``�``): an app's cut emoji (a lone surrogate such as
``\ud83d``) and a byte that is not UTF-8 look the same in S3 and in Datadog.
A surrogate pair split across two code points is joined back into its
character rather than replaced. These helpers only run once a strict decoder
has refused the input, so the common path never pays for them.
"""

from __future__ import annotations

from typing import Any

#: The one replacement character, U+FFFD.
REPLACEMENT = "\ufffd"
_REPLACEMENT_UTF8 = REPLACEMENT.encode("utf-8")


def scrub_text(text: str) -> tuple[str, int]:
    """``text`` with each lone surrogate replaced by U+FFFD, and how many were replaced.

    A high surrogate followed by a low one is a valid pair: it is joined into
    the character it encodes. Valid text comes back unchanged (and is not copied).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text, 0
    # UTF-16 carries surrogates as code units: passing them through and decoding
    # strictly-but-replacing joins valid pairs and replaces the lone ones.
    fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return fixed, fixed.count(REPLACEMENT) - text.count(REPLACEMENT)


def scrub(value: Any) -> tuple[Any, int]:
    """A parsed JSON value with every string (keys included) scrubbed; and the count of replacements."""
    if type(value) is str:
        return scrub_text(value)
    if type(value) is dict:
        out: dict[str, Any] = {}
        total = 0
        for key, item in value.items():
            fixed_key, n_key = scrub_text(key)
            fixed_item, n_item = scrub(item)
            out[fixed_key] = fixed_item
            total += n_key + n_item
        return out, total
    if type(value) is list:
        items = []
        total = 0
        for item in value:
            fixed_item, n_item = scrub(item)
            items.append(fixed_item)
            total += n_item
        return items, total
    return value, 0


def decode_utf8(raw: bytes) -> tuple[str, int]:
    """``raw`` decoded as UTF-8 with each invalid sequence replaced by U+FFFD; and how many were replaced.

    Invalid sequences are replaced as Python's ``errors="replace"`` does (one
    U+FFFD per maximal invalid subpart, the Unicode Standard's recommendation).
    """
    try:
        return raw.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
    # A valid U+FFFD in the input decodes to itself: only count the new ones.
    return text, text.count(REPLACEMENT) - raw.count(_REPLACEMENT_UTF8)
