"""Dedup: the keys of recently notified events, kept in a warm Lambda container's memory.

EventBridge delivers at least once, and ECS may report one task change twice;
a redelivery carries the same dedup key (:mod:`logship.opsevents.keys`). The
handler asks :meth:`RecentKeys.seen` before sending and calls
:meth:`RecentKeys.remember` once both sinks have the event (or its dead letter
copy). The store is bounded: past :data:`DEFAULT_MAX_KEYS` the least recently
used key goes. It only spans one warm container: a cold start, or a concurrent
container, does not know what another one sent (docs/opsevents.md says what
stronger dedup would need).
"""

from __future__ import annotations

from collections import OrderedDict

# 10,000 keys of ~100 characters (a task ARN and a version) is a few MB of a
# Lambda's memory, and covers hours of a busy account's state changes, well past
# the minutes in which EventBridge and ECS repeat an event.
DEFAULT_MAX_KEYS = 10_000


class RecentKeys:
    """A bounded, least-recently-used set of dedup keys."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.max_keys = max_keys
        self._keys: OrderedDict[str, None] = OrderedDict()

    def seen(self, key: str) -> bool:
        """True when ``key`` was remembered and not yet evicted; a hit counts as a use."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        return False

    def remember(self, key: str) -> None:
        """Keep ``key``, evicting the least recently used key when the store is full."""
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys
