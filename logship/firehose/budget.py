"""Response budget: fit Ok records into Lambda's response limit, measured as serialized.

The Lambda Python runtime serializes the returned dict with the stdlib JSON
encoder. ``json.dumps`` with its defaults (``", "``/``": "`` separators, ASCII
escapes) is never smaller than what the runtime sends, so sizes measured with
it are safe upper bounds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_WRAPPER = len(json.dumps({"records": []}))  # '{"records": []}'
_SEPARATOR = len(", ")


def response_bytes(record_bytes: Iterable[int]) -> int:
    """Bytes of a response whose records serialize to ``record_bytes`` each (see :func:`entry_size`)."""
    sizes = list(record_bytes)
    return _WRAPPER + sum(sizes) + _SEPARATOR * max(len(sizes) - 1, 0)


def response_size(response: Mapping[str, Any]) -> int:
    """Bytes of ``response`` as the Lambda runtime would send it (an upper bound)."""
    return len(json.dumps(response).encode("utf-8"))


def entry_size(record_id: str, result: str, data_len: int = -1, partition_keys: Mapping[str, str] | None = None) -> int:
    """Serialized size of one response record; ``data_len`` is the base64 length, -1 for none.

    Counted, not serialized: ``json.dumps`` of ``{"recordId", "result", "data"?,
    "metadata"?}`` is its fixed text plus each value's JSON text (a property
    test holds the two equal).
    """
    size = _ENTRY_FIXED + _json_text_length(record_id) + _json_text_length(result)
    if data_len >= 0:
        # base64 needs no JSON escaping, so the data adds exactly its length.
        size += _DATA_FIXED + data_len
    if partition_keys is not None:
        size += _METADATA_KEY + len(json.dumps({"partitionKeys": dict(partition_keys)}))
    return size


# '{"recordId": "", "result": ""}' less the quotes of its two empty strings.
_ENTRY_FIXED = len(json.dumps({"recordId": "", "result": ""})) - 4
_DATA_FIXED = len(', "data": ""')
_METADATA_KEY = len(', "metadata": ')


def _json_text_length(text: str) -> int:
    """``len(json.dumps(text))``: printable ASCII without quotes or backslashes is itself in quotes."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(json.dumps(text))


class ResponseBudget:
    """Tracks the response size while records are accepted one by one.

    Every record is first charged as ``ProcessingFailed`` (the longest answer
    without data), so the budget holds whatever each record ends up being; an
    Ok record then pays only the difference.
    """

    def __init__(self, limit: int, record_ids: Sequence[str]) -> None:
        self.limit = limit
        self._reserved = {rid: entry_size(rid, "ProcessingFailed") for rid in record_ids}
        #: The size of the response if every record were answered without data.
        self.used_without_data = _WRAPPER + sum(self._reserved.values()) + _SEPARATOR * max(len(record_ids) - 1, 0)
        self.used = self.used_without_data

    @property
    def room(self) -> int:
        """Bytes still free."""
        return self.limit - self.used

    def reserved(self, record_id: str) -> int:
        """Bytes reserved for ``record_id``: its answer as ``ProcessingFailed``, the longest without data."""
        return self._reserved[record_id]

    def ok_cost(self, record_id: str, data_len: int, partition_keys: Mapping[str, str] | None) -> int:
        """Extra bytes an Ok answer with ``data_len`` base64 characters needs over the reservation."""
        return entry_size(record_id, "Ok", data_len, partition_keys) - self._reserved[record_id]

    def fits_alone(self, cost: int) -> bool:
        """Whether a record of this cost could fit if no other record carried data."""
        return cost <= self.limit - self.used_without_data

    def take(self, cost: int) -> bool:
        """Charge ``cost`` if it fits; return whether it did."""
        if cost > self.room:
            return False
        self.used += cost
        return True
