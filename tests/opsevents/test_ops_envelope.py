"""Envelope step: EventBridge events, SNS-wrapped events and anything else, never an exception."""

from __future__ import annotations

import json

import pytest
from opsfixtures import fixture

from logship.opsevents import Envelope, Skipped, SkipReason, interpret, unwrap
from logship.opsevents.envelope import parse_time


def sns(*messages: object, message_ids: tuple[str, ...] = ()) -> dict[str, object]:
    records = []
    for index, message in enumerate(messages):
        body = message if isinstance(message, str) else json.dumps(message)
        message_id = message_ids[index] if index < len(message_ids) else f"msg-{index}"
        records.append({"EventSource": "aws:sns", "Sns": {"MessageId": message_id, "Message": body}})
    return {"Records": records}


def test_an_eventbridge_event_gives_its_top_level_fields():
    """Every documented top-level field is read; detail is kept as the parsed object."""
    (envelope,) = unwrap(fixture("codepipeline-failed"))
    assert isinstance(envelope, Envelope)
    assert envelope.source == "aws.codepipeline"
    assert envelope.detail_type == "CodePipeline Pipeline Execution State Change"
    assert envelope.id == "b128b002-09fd-4574-4eba-271527200003"
    assert (envelope.account, envelope.region, envelope.version) == ("111122223333", "ap-northeast-1", "0")
    assert envelope.resources == ("arn:aws:codepipeline:ap-northeast-1:111122223333:web-release",)
    assert envelope.detail["state"] == "FAILED"
    assert envelope.time is not None and envelope.time.isoformat() == "2024-06-12T04:20:43+00:00"
    assert not envelope.via_sns


def test_sns_records_are_unwrapped_in_order():
    """Each SNS record's Message is parsed as an event, in record order, marked as coming through SNS."""
    outcomes = unwrap(fixture("sns-wrapped"))
    assert [type(o) for o in outcomes] == [Envelope, Envelope]
    assert [o.source for o in outcomes if isinstance(o, Envelope)] == ["aws.ecs", "aws.codepipeline"]
    assert all(o.via_sns for o in outcomes if isinstance(o, Envelope))


def test_a_bad_sns_record_does_not_lose_the_others():
    """A record that is not JSON, not an event or has no Message is skipped; the good record still reads."""
    good = fixture("codepipeline-failed")
    outcomes = unwrap(sns("not json", [1, 2], good, {"hello": "world"}))
    assert [type(o) for o in outcomes] == [Skipped, Skipped, Envelope, Skipped]
    assert all(o.reason is SkipReason.NOT_AN_EVENT for o in outcomes if isinstance(o, Skipped))
    broken = {"Records": [{"Sns": {"MessageId": "m", "Message": 12}}, {"Sns": None}, "text"]}
    assert [o.reason for o in unwrap(broken) if isinstance(o, Skipped)] == [SkipReason.NOT_AN_EVENT] * 3


def test_codestar_notifications_spelling_and_sns_message_id_stand_in():
    """A processed event's ``detailType`` is read as detail-type, and the SNS MessageId replaces a missing id."""
    processed = fixture("codepipeline-failed")
    processed["detailType"] = processed.pop("detail-type")
    del processed["id"]
    (envelope,) = unwrap(sns(processed, message_ids=("95df01b4-ee98-5cb9-9903-4c221d41eb5e",)))
    assert isinstance(envelope, Envelope)
    assert envelope.detail_type == "CodePipeline Pipeline Execution State Change"
    assert envelope.id == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"


@pytest.mark.parametrize(
    "payload",
    [None, 1, 1.5, True, "event", [], [{"source": "aws.ecs"}], {}, {"source": "aws.ecs"}, {"detail-type": "x"},
     {"Records": []}, {"Records": "x"}, {"Records": None}],
)
def test_anything_that_is_not_an_event_is_skipped(payload):
    """Null, scalars, arrays, empty objects and objects without source and detail-type are Skipped, not errors."""
    (outcome,) = interpret(payload)
    assert isinstance(outcome, Skipped)
    assert outcome.reason is SkipReason.NOT_AN_EVENT


def test_fields_of_the_wrong_type_read_as_empty():
    """A mistyped field gives an empty value: resources that are not strings, a detail that is not an object."""
    raw = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "id": 7,
           "region": ["x"], "time": 12, "resources": ["ok", 1, None], "detail": "text"}
    (envelope,) = unwrap(raw)
    assert isinstance(envelope, Envelope)
    assert (envelope.id, envelope.region, envelope.time) == ("7", "", None)
    assert envelope.resources == ("ok",)
    assert dict(envelope.detail) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-01-23T17:57:58Z", "2020-01-23T17:57:58+00:00"),
        ("2020-01-23T17:57:58.103Z", "2020-01-23T17:57:58.103000+00:00"),
        ("2020-01-24T02:57:58+09:00", "2020-01-23T17:57:58+00:00"),
        ("2020-01-23T17:57:58", "2020-01-23T17:57:58+00:00"),
        ("", None),
        ("yesterday", None),
        ("9" * 100, None),
    ],
)
def test_event_time_parsing(text, expected):
    """ISO 8601 times become aware UTC datetimes; anything else is None."""
    parsed = parse_time(text)
    assert (parsed.isoformat() if parsed else None) == expected
