"""Snapshots: the exact Datadog and Slack payloads of every fixture, committed under tests/snapshots/opsevents.

A change to what people see must show up as a diff of these files in review.
To regenerate them deliberately after such a change, run

    LOGSHIP_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/opsevents/test_ops_snapshots.py

and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from opsfixtures import DD_TAGS, FIXTURE_NAMES, SHOW_ALL, SNAPSHOTS, fixture

from logship.opsevents import OpsEvent, datadog_event, interpret, slack_message

UPDATE = os.environ.get("LOGSHIP_UPDATE_SNAPSHOTS") == "1"


def rendered(name: str) -> dict[str, Any]:
    """What a fixture becomes: per event, the Skipped, or both payloads and whether Slack gets it."""
    outcomes: list[dict[str, Any]] = []
    for outcome in interpret(fixture(name), SHOW_ALL, DD_TAGS):
        if isinstance(outcome, OpsEvent):
            outcomes.append(
                {
                    "severity": outcome.severity.value,
                    "dedup_key": outcome.dedup_key,
                    "to_slack": SHOW_ALL.goes_to_slack(outcome),
                    "datadog": datadog_event(outcome),
                    "slack": slack_message(outcome),
                }
            )
        else:
            outcomes.append(
                {"skipped": {"reason": outcome.reason.value, "detail": outcome.detail, "event_id": outcome.event_id}}
            )
    return {
        "fixture": f"tests/fixtures/opsevents/{name}.json",
        "options": "RoutingOptions(pipeline_stages_and_actions=True, skip_pipeline_builds=False)",
        "dd_tags": list(DD_TAGS),
        "outcomes": outcomes,
    }


def serialized(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_payloads_match_the_committed_snapshot(name):
    """The Datadog and Slack payloads of each fixture are exactly the committed ones."""
    path = SNAPSHOTS / f"{name}.json"
    actual = serialized(rendered(name))
    if UPDATE:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot for {name}: run with LOGSHIP_UPDATE_SNAPSHOTS=1 and review the new file"
    assert actual == path.read_text(encoding="utf-8")


def test_no_snapshot_outlives_its_fixture():
    """Every committed snapshot belongs to a fixture that still exists."""
    assert sorted(path.stem for path in SNAPSHOTS.glob("*.json")) == FIXTURE_NAMES
