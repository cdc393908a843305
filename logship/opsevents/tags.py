"""Datadog tags for ops events: the logs' ``system`` / ``service`` convention plus one tag per resource name.

For ECS the cluster is the ``system`` and the service (or, for a standalone
task, the task family) is the ``service``, the same names the log path reads
from ``/<system>/<service>`` log groups, so a task's events and its logs share
``system:`` and ``service:``. Other sources have no such pair and get only
their own tags (``pipeline:``, ``project:``, ``state_machine:``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from logship.opsevents.limits import DATADOG_TAG_MAX_CHARS as TAG_MAX_CHARS

# Datadog tags: letters, digits, '_', '-', ':', '.', '/'; anything else becomes
# '_'. https://docs.datadoghq.com/getting_started/tagging/
_TAG_BAD_CHARS = re.compile(r"[^\w\-:./]", re.ASCII)


def clean_value(value: str) -> str | None:
    """A tag value Datadog keeps as written: bad characters become ``_``; None if nothing is left."""
    cleaned = _TAG_BAD_CHARS.sub("_", value.strip())
    return cleaned or None


def tag(key: str, value: str | int | None) -> str | None:
    """``key:value`` cut to Datadog's 200 characters, or None when the value is empty."""
    if value is None:
        return None
    cleaned = clean_value(str(value))
    if cleaned is None:
        return None
    return f"{key}:{cleaned}"[:TAG_MAX_CHARS]


def build_tags(pairs: Iterable[tuple[str, str | int | None]], *extra: Iterable[str]) -> tuple[str, ...]:
    """Tags from ``(key, value)`` pairs (empty values left out), then each ``extra`` list, without repeats."""
    seen: dict[str, None] = {}
    for key, value in pairs:
        made = tag(key, value)
        if made is not None:
            seen.setdefault(made, None)
    for group in extra:
        for item in group:
            stripped = item.strip()[:TAG_MAX_CHARS]
            if stripped:
                seen.setdefault(stripped, None)
    return tuple(seen)
