"""CloudWatch embedded metric format (EMF): metrics as one JSON log line, with no API call.

CloudWatch Logs reads a log event that is an EMF document and publishes its
metrics; in Lambda, a line printed to stdout is such a log event. The
document (CloudWatch User Guide, "Specification: Embedded metric format"):

    {"_aws": {"Timestamp": <epoch ms>,
              "CloudWatchMetrics": [{"Namespace": "...",
                                     "Dimensions": [["<dimension>", ...]],
                                     "Metrics": [{"Name": "<metric>", "Unit": "Count"}, ...]}]},
     "<dimension>": "<value>", "<metric>": <number>, ...}

Every dimension and metric named in the directive is a top-level member of
the document; other top-level members are kept as searchable log fields.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

#: Metrics in one directive (EMF specification: at most 100 MetricDefinitions).
MAX_METRICS = 100
#: Dimensions in one dimension set (EMF specification: at most 30).
MAX_DIMENSIONS = 30
#: Length of a namespace, metric name or dimension name (CloudWatch API reference: 1 to 255).
MAX_NAME_LENGTH = 255
#: Length of a dimension value (CloudWatch API reference, Dimension: 1 to 1024).
MAX_DIMENSION_VALUE_LENGTH = 1024

#: CloudWatch's standard units (CloudWatch API reference, MetricDatum.Unit).
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class Metric:
    """One metric value: its name, its CloudWatch unit (one of :data:`UNITS`) and a finite number."""

    name: str
    unit: str
    value: float


def document(
    namespace: str,
    dimensions: Mapping[str, str],
    metrics: Sequence[Metric],
    *,
    timestamp_ms: int,
    properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One EMF document: ``metrics`` in ``namespace``, under the one dimension set ``dimensions``.

    ``timestamp_ms`` is epoch milliseconds; ``properties`` are extra log fields
    (not metrics). Raises ValueError for what CloudWatch would refuse: an
    unknown unit, a name used twice, a non-finite value, an empty or overlong
    name or dimension value, too many metrics or dimensions.
    """
    _check_name(namespace)
    if len(metrics) > MAX_METRICS or len(dimensions) > MAX_DIMENSIONS:
        raise ValueError(f"at most {MAX_METRICS} metrics and {MAX_DIMENSIONS} dimensions per document")
    doc: dict[str, Any] = dict(properties or {})
    for name, value in dimensions.items():
        _check_name(name)
        if not value or len(value) > MAX_DIMENSION_VALUE_LENGTH:
            raise ValueError(f"dimension {name} needs a value of 1 to {MAX_DIMENSION_VALUE_LENGTH} characters")
        doc[name] = value
    for metric in metrics:
        _check_name(metric.name)
        if metric.unit not in UNITS:
            raise ValueError(f"metric {metric.name}: {metric.unit!r} is not a CloudWatch unit")
        if not math.isfinite(metric.value):
            raise ValueError(f"metric {metric.name}: {metric.value} is not a finite number")
        doc[metric.name] = metric.value
    if len(doc) != len(properties or {}) + len(dimensions) + len(metrics) or "_aws" in doc:
        raise ValueError("metric, dimension and property names must all differ (and none may be _aws)")
    doc["_aws"] = {
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [
            {
                "Namespace": namespace,
                "Dimensions": [list(dimensions)],
                "Metrics": [{"Name": metric.name, "Unit": metric.unit} for metric in metrics],
            }
        ],
    }
    return doc


def line(
    namespace: str,
    dimensions: Mapping[str, str],
    metrics: Sequence[Metric],
    *,
    timestamp_ms: int,
    properties: Mapping[str, Any] | None = None,
) -> str:
    """:func:`document` serialized as one line of JSON (no newline), as CloudWatch Logs takes it."""
    return orjson.dumps(
        document(namespace, dimensions, metrics, timestamp_ms=timestamp_ms, properties=properties), default=str
    ).decode("utf-8")


def to_stdout(text: str) -> None:
    """Write one EMF line to stdout and flush it (in Lambda, stdout becomes the function's log)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_LENGTH or name.startswith(":"):
        raise ValueError(f"{name!r}: names have 1 to {MAX_NAME_LENGTH} characters and do not start with ':'")
