"""EMF documents: what CloudWatch would refuse is refused here, and what it takes has every member in place."""

from __future__ import annotations

import json

import pytest

from logship import emf


def test_a_document_has_the_directive_and_every_member_at_the_top():
    """Metrics and dimensions are top-level members; the directive names them with units; properties stay fields."""
    line = emf.line(
        "logship",
        {"DeliveryStream": "s"},
        [emf.Metric("Records", "Count", 3), emf.Metric("InvocationTime", "Milliseconds", 12.5)],
        timestamp_ms=1_800_000_000_000,
        properties={"invocationId": "abc"},
    )
    assert "\n" not in line
    doc = json.loads(line)
    assert doc == {
        "_aws": {
            "Timestamp": 1_800_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "logship",
                    "Dimensions": [["DeliveryStream"]],
                    "Metrics": [{"Name": "Records", "Unit": "Count"}, {"Name": "InvocationTime", "Unit": "Milliseconds"}],
                }
            ],
        },
        "DeliveryStream": "s",
        "Records": 3,
        "InvocationTime": 12.5,
        "invocationId": "abc",
    }


@pytest.mark.parametrize(
    ("dimensions", "metrics", "properties", "problem"),
    [
        ({"D": "s"}, [emf.Metric("M", "Things", 1)], None, "not a CloudWatch unit"),
        ({"D": "s"}, [emf.Metric("M", "Count", float("nan"))], None, "not a finite number"),
        ({"D": "s"}, [emf.Metric("M", "Count", 1), emf.Metric("M", "Count", 2)], None, "must all differ"),
        ({"M": "s"}, [emf.Metric("M", "Count", 1)], None, "must all differ"),
        ({"D": "s"}, [emf.Metric("M", "Count", 1)], {"D": "x"}, "must all differ"),
        ({"D": ""}, [emf.Metric("M", "Count", 1)], None, "needs a value"),
        ({"D": "s"}, [emf.Metric("", "Count", 1)], None, "names have 1 to 255"),
        ({"D": "s"}, [emf.Metric(f"M{n}", "Count", n) for n in range(101)], None, "at most 100 metrics"),
    ],
)
def test_what_cloudwatch_would_refuse_is_refused(dimensions, metrics, properties, problem):
    """Unknown units, non-finite values, clashing or empty names, over 100 metrics: ValueError saying which."""
    with pytest.raises(ValueError, match=problem):
        emf.document("logship", dimensions, metrics, timestamp_ms=0, properties=properties)
