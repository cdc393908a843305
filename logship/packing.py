"""Packing and splitting: the two ways logship fits items into a receiver's limits.

:class:`Packer` groups items, in order, greedily, into groups within a count
and a byte limit (Datadog requests, re-ingest calls). :func:`split_until`
halves a group until every part is accepted (a record too big for the
response, a request Datadog answers 413 or 400). Both are pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Packer(Generic[T]):
    """Collects items and hands back each group as soon as it is full.

    A group holds at most ``max_items`` and at most ``max_bytes``, counting
    ``frame_bytes`` once per group and ``size(item) + item_overhead`` per item
    (a JSON array: brackets as the frame, a comma per item). An item too big
    for an empty group gets a group of its own; the receiver decides its fate.
    """

    __slots__ = ("_group", "_size", "frame_bytes", "item_overhead", "max_bytes", "max_items", "size")

    def __init__(
        self,
        *,
        max_items: int,
        max_bytes: int,
        size: Callable[[T], int] = len,  # type: ignore[assignment]  # len: items here are sized
        frame_bytes: int = 0,
        item_overhead: int = 0,
    ) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.size = size
        self.frame_bytes = frame_bytes
        self.item_overhead = item_overhead
        self._group: list[T] = []
        self._size = frame_bytes

    def add(self, items: Iterable[T]) -> list[list[T]]:
        """Take ``items``; return the groups they filled (often none)."""
        items = items if isinstance(items, list) else list(items)
        group, used, size, overhead = self._group, self._size, self.size, self.item_overhead
        # Most calls bring a few items that fit the open group whole: count them in C.
        extra = sum(map(size, items)) + overhead * len(items)
        if len(group) + len(items) <= self.max_items and used + extra <= self.max_bytes:
            group.extend(items)
            self._size = used + extra
            return []
        full: list[list[T]] = []
        max_items, max_bytes, frame = self.max_items, self.max_bytes, self.frame_bytes
        for item in items:
            extra = size(item) + overhead
            if group and (len(group) >= max_items or used + extra > max_bytes):
                full.append(group)
                group, used = [], frame
            group.append(item)
            used += extra
        self._group, self._size = group, used
        return full

    def flush(self) -> list[T] | None:
        """The last, partly filled group, if any."""
        group = self._group
        self._group, self._size = [], self.frame_bytes
        return group or None


def pack(
    items: Iterable[T],
    *,
    max_items: int,
    max_bytes: int,
    size: Callable[[T], int] = len,  # type: ignore[assignment]  # as in Packer
    frame_bytes: int = 0,
    item_overhead: int = 0,
) -> list[list[T]]:
    """Every item, in order, in groups within both limits (see :class:`Packer`)."""
    packer = Packer(
        max_items=max_items, max_bytes=max_bytes, size=size, frame_bytes=frame_bytes, item_overhead=item_overhead
    )
    groups = packer.add(items)
    last = packer.flush()
    if last:
        groups.append(last)
    return groups


def split_until(items: Sequence[T], accept: Callable[[Sequence[T]], bool]) -> list[T]:
    """Halve ``items`` until ``accept`` takes every part; return the single items it refused.

    Parts are offered in order, first half first. ``accept`` decides (and does
    whatever accepting means: keeping the part, sending it); a part it refuses
    is halved again, and a refused part of one item is given back.
    """
    refused: list[T] = []
    stack = [items]
    while stack:
        part = stack.pop()
        if accept(part):
            continue
        if len(part) == 1:
            refused.append(part[0])
            continue
        middle = len(part) // 2
        stack.append(part[middle:])
        stack.append(part[:middle])
    return refused
