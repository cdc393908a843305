"""The local Slack webhook answers as Slack documents: ok, invalid_payload over the limits, no_service, 429."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from opsfixtures import FIXTURE_NAMES, SHOW_ALL, fixture

from logship.opsevents import OpsEvent, interpret, slack_message
from logship.testing.slack import message_problems, render


def post(url: str, body: bytes) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_a_valid_message_is_answered_ok_and_recorded(slack):
    """A message within every limit gets 200 ok and is kept as sent."""
    message = {"text": "hello", "blocks": [section("*hi*")]}
    assert post(slack.url, json.dumps(message).encode())[:2] == (200, "ok")
    assert slack.messages == [message]


@pytest.mark.parametrize(
    "message",
    [
        {"text": "x", "blocks": [section("b")] * 51},
        {"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
        {"text": "x", "blocks": [section("s" * 3001)]},
        {"text": "x", "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]},
        {"text": "x", "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}]},
        {"text": "x", "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}]},
        {"text": "x", "attachments": [{"color": "#fff", "blocks": [section("")]}]},
        {"text": "x", "blocks": [{"type": "no-such-block"}]},
        {"username": "nothing to show"},
        ["not", "an", "object"],
    ],
    ids=["51-blocks", "long-header", "long-section", "11-fields", "long-field", "11-elements", "empty-text",
         "unknown-block", "no-text", "not-an-object"],
)
def test_a_message_over_slack_limits_is_invalid_payload(slack, message):
    """A body Slack would refuse gets 400 invalid_payload and is not recorded."""
    assert message_problems(message)
    assert post(slack.url, json.dumps(message).encode())[:2] == (400, "invalid_payload")
    assert slack.messages == []


def test_not_json_is_invalid_payload(slack):
    """A body that is not JSON gets 400 invalid_payload."""
    assert post(slack.url, b"{nope")[:2] == (400, "invalid_payload")


def test_any_other_path_is_no_service(slack):
    """A URL with another token (revoked, mistyped) gets 404 no_service."""
    assert post(slack.url + "x", b'{"text": "hi"}')[:2] == (404, "no_service")
    assert slack.messages == [] and not slack.requests[0].path_ok


def test_scripted_faults_come_in_order_with_retry_after(slack):
    """fail_next answers the next requests with the scripted statuses and Retry-After, then behaves again."""
    slack.fail_next(429, 500, retry_after=2)
    first = post(slack.url, b'{"text": "a"}')
    second = post(slack.url, b'{"text": "a"}')
    third = post(slack.url, b'{"text": "a"}')
    assert (first[0], first[1], first[2].get("Retry-After")) == (429, "rate_limited", "2")
    assert second[:2] == (500, "rollup_error")
    assert third[:2] == (200, "ok") and len(slack.messages) == 1


def test_rate_limit_answers_429_with_retry_after_past_one_message_a_second(slack):
    """With rate_limit_interval set, a second message right after the first gets 429 and a Retry-After."""
    slack.rate_limit_interval = 60.0
    assert post(slack.url, b'{"text": "a"}')[0] == 200
    status, answer, headers = post(slack.url, b'{"text": "b"}')
    assert (status, answer) == (429, "rate_limited") and int(headers["Retry-After"]) >= 1
    assert [m["text"] for m in slack.messages] == ["a"]


def test_every_fixture_message_is_one_slack_accepts():
    """Every fixture's Slack body passes the stand-in's checks (the same limits the builder keeps)."""
    checked = 0
    for name in FIXTURE_NAMES:
        for outcome in interpret(fixture(name), SHOW_ALL):
            if isinstance(outcome, OpsEvent):
                assert message_problems(slack_message(outcome)) == [], name
                checked += 1
    assert checked > 40


def test_render_shows_the_message_as_a_person_reads_it():
    """A rendered message gives the header with its emoji, the colour, facts as 'label: value', links as their labels."""
    outcome = interpret(fixture("ecs-task-exit-137-oom"), SHOW_ALL)[0]
    assert isinstance(outcome, OpsEvent)
    text = render(slack_message(outcome))
    lines = text.splitlines()
    assert lines[0] == "🔴 ECS task web in prod: out of memory"
    assert lines[1] == "┃ (colour bar #E01E5A)"
    assert "┃ Cluster: prod" in lines
    assert "┃ Links: Task · Task logs · Service · Task definition · Cluster" in lines
    assert "https://" not in text and "&lt;" not in text
