"""Helpers for the ops events tests: the fixture events and one way to interpret them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from logship.opsevents import OpsEvent, RoutingOptions, Skipped, interpret, limits

FIXTURES = Path(__file__).parent.parent / "fixtures" / "opsevents"
SNAPSHOTS = Path(__file__).parent.parent / "snapshots" / "opsevents"
FIXTURE_NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))
# Everything visible: stage and action changes on, pipeline-started builds reported.
SHOW_ALL = RoutingOptions(pipeline_stages_and_actions=True, skip_pipeline_builds=False)
DD_TAGS = ("env:prod", "team:platform")


def fixture(name: str) -> Any:
    """The fixture event ``tests/fixtures/opsevents/<name>.json``."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def one(name: str, options: RoutingOptions = SHOW_ALL) -> OpsEvent | Skipped:
    """The single outcome of a fixture that holds one event."""
    outcomes = interpret(fixture(name), options, DD_TAGS)
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def event(name: str, options: RoutingOptions = SHOW_ALL) -> OpsEvent:
    """The single OpsEvent of a fixture (fails the test when it was skipped)."""
    outcome = one(name, options)
    assert isinstance(outcome, OpsEvent), outcome
    return outcome


def slack_limits_hold(message: dict[str, Any]) -> None:
    """Assert every Slack limit (shared with the property tests)."""
    assert 0 < len(message["text"]) <= limits.SLACK_TEXT_MAX_CHARS
    blocks = list(message["blocks"])
    for attachment in message.get("attachments", []):
        blocks.extend(attachment["blocks"])
    assert len(blocks) <= limits.SLACK_MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= limits.SLACK_HEADER_MAX_CHARS
        elif block["type"] == "section":
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= limits.SLACK_SECTION_TEXT_MAX_CHARS
            fields = block.get("fields", [])
            assert len(fields) <= limits.SLACK_SECTION_MAX_FIELDS
            assert all(0 < len(f["text"]) <= limits.SLACK_FIELD_MAX_CHARS for f in fields)
            assert "text" in block or fields
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= limits.SLACK_CONTEXT_MAX_ELEMENTS
            assert all(0 < len(e["text"]) <= limits.SLACK_TEXT_OBJECT_MAX_CHARS for e in block["elements"])
        else:
            raise AssertionError(f"unexpected block {block['type']}")
    json.dumps(message, ensure_ascii=False).encode("utf-8")


def datadog_limits_hold(body: dict[str, Any]) -> None:
    """Assert every Datadog Events API limit (shared with the property tests)."""
    assert 0 < len(body["title"]) <= limits.DATADOG_EVENT_TITLE_MAX_CHARS
    assert len(body["text"]) <= limits.DATADOG_EVENT_TEXT_MAX_CHARS
    assert body["text"].startswith("%%% \n") and body["text"].endswith("\n %%%")
    assert len(body["aggregation_key"]) <= limits.DATADOG_AGGREGATION_KEY_MAX_CHARS
    assert body["alert_type"] in {"error", "warning", "success", "info"}
    assert body["priority"] in {"normal", "low"}
    assert len(body["tags"]) <= limits.DATADOG_EVENT_MAX_TAGS
    assert all(0 < len(tag) <= limits.DATADOG_TAG_MAX_CHARS for tag in body["tags"])
    assert isinstance(body.get("date_happened", 0), int)
    json.dumps(body, ensure_ascii=False).encode("utf-8")
