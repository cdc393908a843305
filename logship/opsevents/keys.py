"""Dedup and aggregation keys: the same key for a redelivery, one group per resource.

- The dedup key is the EventBridge ``id`` (a redelivery keeps it). ECS task
  events use the task ARN and ``detail.version`` instead: ECS may send the same
  task change twice under two event ids, and duplicates carry the same
  ``version`` (ECS Developer Guide, "Amazon ECS events").
- The aggregation key names the resource, not the change, so every failure of a
  crash-looping service lands in one Datadog group. Datadog allows at most 100
  characters; a longer key keeps its start and ends in a hash of the whole, so
  two long names stay two groups.
"""

from __future__ import annotations

import hashlib

from logship.opsevents.limits import DATADOG_AGGREGATION_KEY_MAX_CHARS as AGGREGATION_KEY_MAX_CHARS

_HASH_CHARS = 12


def aggregation_key(*parts: str) -> str:
    """``part:part:...`` (empty parts left out), at most 100 characters."""
    key = ":".join(part for part in parts if part)
    if len(key) <= AGGREGATION_KEY_MAX_CHARS:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    return f"{key[: AGGREGATION_KEY_MAX_CHARS - _HASH_CHARS - 1]}~{digest}"


def task_dedup_key(task_arn: str, version: int | None, event_id: str) -> str:
    """``<taskArn>#<detail.version>`` for an ECS task change; the event id when either is missing."""
    if task_arn and version is not None:
        return f"{task_arn}#{version}"
    return event_id


def event_dedup_key(event_id: str, *fallback: str) -> str:
    """The event id; without one, the fallback parts joined (a resource and its state), so a retry still matches."""
    if event_id:
        return event_id
    return "#".join(part for part in fallback if part)
