"""Visible truncation and text hygiene for the Slack and Datadog payloads.

A cut text ends with ``... (truncated, 1,234 more characters)`` so a reader
knows something is missing and how much. Lengths are Python characters (code
points), the unit Slack's and Datadog's documented limits use. Lone UTF-16
surrogates (valid JSON escapes, invalid Unicode) become U+FFFD so every payload
encodes as UTF-8.
"""

from __future__ import annotations

_MARKER = "... (truncated, {n:,} more characters)"
# Longest tail a markup construct cut in half can leave: a Slack escape like
# "&amp;" or a link "<https://...|label>".
_ENTITY_MAX = 6
_LINK_MAX = 2_200


def clean(text: str) -> str:
    """``text`` with lone surrogates replaced, so it always encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def truncate(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters; otherwise its start and the visible marker, within ``limit``.

    The cut never splits a Slack escape (``&amp;``) or link (``<url|label>``).
    A limit too small for the marker gives a hard cut.
    """
    if len(text) <= limit:
        return text
    keep = limit
    for _ in range(3):  # the marker's length depends on the count it shows; settles in two rounds
        marker = _MARKER.format(n=len(text) - keep)
        keep = limit - len(marker)
        if keep < 0:
            return text[:limit]
    head = _unsplit(text[:keep])
    while True:  # each round shortens head, so it ends; the marker always shows the exact count
        marker = _MARKER.format(n=len(text) - len(head))
        if len(head) + len(marker) <= limit:
            return head + marker
        if not head:
            return text[:limit]
        head = _unsplit(head[: max(0, limit - len(marker))])


def _unsplit(head: str) -> str:
    """``head`` without a trailing half of a Slack escape or link."""
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:] and len(head) - amp < _ENTITY_MAX:
        head = head[:amp]
    opening = head.rfind("<")
    if opening != -1 and ">" not in head[opening:] and len(head) - opening < _LINK_MAX:
        head = head[:opening]
    return head
