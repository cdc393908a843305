r"""Log router wrappers: an app's line inside the JSON record a log router wrapped it in.

ECS log routers hand CloudWatch a JSON record per container line, the line
itself under ``log``:

- FireLens (fluent-bit or fluentd): ``{"log", "source": "stdout"|"stderr",
  "container_id", "container_name"}``, plus ``ecs_cluster``, ``ecs_task_arn``
  and ``ecs_task_definition`` with ECS log metadata (on by default);
- the fluentd Docker log driver: the same, plus ``partial_message``,
  ``partial_id``, ``partial_ordinal``, ``partial_last`` for split lines;
- Docker's json-file log (fluent-bit's ``tail`` of ``/var/lib/docker``):
  ``{"log": "...\n", "stream": "stderr", "time": "..."}``;
- fluent-bit's ``tail`` without a parser: ``{"log": "..."}``, with its
  ``Time_Key`` (``date``, ``time``, ...) when one is set.

A record is such a wrapper when ``log`` is text and the record holds ``log``
alone (or with a time), or with one of :data:`MARKERS`. The line under ``log``
is the log: a JSON object line gives the entry its attributes, any other line
is its ``message``. The wrapper's fields stay as attributes; where the app's
own log uses the same name, the app's value wins and the wrapper's is kept
under ``logship.wrapper``.
"""

from __future__ import annotations

from typing import Any

#: Fields that only a log router writes next to ``log``.
MARKERS = frozenset(
    {
        "source",
        "stream",
        "container_id",
        "container_name",
        "ecs_cluster",
        "ecs_task_arn",
        "ecs_task_definition",
        "partial_message",
        "partial_id",
        "logtag",
    }
)
# A time key a router adds (fluent-bit's Time_Key, Docker's time): with ``log`` alone, still a wrapper.
_TIME_KEYS = frozenset({"log", "time", "date", "timestamp", "@timestamp"})
# Routers do not nest deeper than this (a json-file line shipped by FireLens is two).
MAX_DEPTH = 3


def is_wrapper(record: dict[str, Any]) -> bool:
    """True when ``record`` is a log router's wrapper around an app's line (see the module doc)."""
    if type(record.get("log")) is not str:
        return False
    return not MARKERS.isdisjoint(record) or _TIME_KEYS.issuperset(record)


def line_of(record: dict[str, Any]) -> str:
    """The app's line a wrapper holds, without the line end Docker keeps."""
    line: str = record["log"]
    return line.rstrip("\r\n")


def merge(record: dict[str, Any], inner: dict[str, Any]) -> dict[str, Any]:
    """The app's log ``inner`` with the wrapper's fields (all but ``log``) added; ``inner`` wins a clash."""
    merged = dict(inner)
    clashes = {}
    for key, value in record.items():
        if key == "log":
            continue
        if key in merged:
            clashes[key] = value
        else:
            merged[key] = value
    if clashes:
        meta = merged.get("logship")
        if type(meta) is not dict:
            meta = merged["logship"] = {}
        meta["wrapper"] = clashes
    return merged
