"""Datadog and Slack payloads: fields, escaping, and visible truncation at every documented limit."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from datadog_api_client.v1.model.event_create_request import EventCreateRequest
from opsfixtures import DD_TAGS, FIXTURE_NAMES, SHOW_ALL, datadog_limits_hold, event, fixture, slack_limits_hold

from logship.opsevents import ContainerFact, Fact, Link, OpsEvent, Severity, datadog_event, interpret, slack_message
from logship.opsevents.slack_payload import COLORS, FALLBACK_MAX_CHARS
from logship.opsevents.truncate import clean, truncate

MARKER = re.compile(r"\.\.\. \(truncated, ([\d,]+) more characters\)$")


def huge(ops: OpsEvent, size: int = 50_000) -> OpsEvent:
    """``ops`` with every free-text field blown up past every limit."""
    big = "x&<y>" * (size // 5)
    return dataclasses.replace(
        ops,
        title=big,
        text=big,
        hint=big,
        facts=tuple(Fact(f"Fact {n}", big) for n in range(25)),
        containers=tuple(ContainerFact(f"c{n}{big}", n, big, "STOPPED", big) for n in range(80)),
        links=(*ops.links, *(Link(big, f"https://example.com/{n}/{big}") for n in range(5))),
        tags=tuple(f"t{n}:{big}" for n in range(150)),
        event_id=big,
    )


# --- truncation -------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [40, 41, 50, 99, 100, 1_000, 3_000])
def test_truncate_is_visible_exact_and_within_the_limit(limit):
    """A cut text ends with the marker, whose count is exactly what was removed, and fits the limit."""
    text = "abcdefghij" * 1_000
    cut = truncate(text, limit)
    assert len(cut) <= limit
    match = MARKER.search(cut)
    assert match is not None
    head = cut[: match.start()]
    assert text.startswith(head)
    assert int(match.group(1).replace(",", "")) == len(text) - len(head)


def test_truncate_leaves_short_text_alone_and_hard_cuts_below_the_marker():
    """Text within the limit is unchanged; a limit smaller than the marker gives a plain cut."""
    assert truncate("short", 10) == "short"
    assert truncate("x" * 100, 10) == "x" * 10


def test_truncate_never_splits_a_slack_escape_or_link():
    """The cut backs off to before a half ``&amp;`` or a half ``<url|label>``."""
    text = "a" * 60 + "&amp;" + "b" * 200
    for limit in range(95, 100):
        head = MARKER.split(truncate(text, limit))[0]
        assert not re.search(r"&[a-z]*$", head)
    linked = "see " + "<https://example.com/" + "p" * 100 + "|the page>" + " tail" * 100
    head = MARKER.split(truncate(linked, 120))[0]
    assert "<" not in head


def test_clean_replaces_lone_surrogates():
    """A lone surrogate (valid in JSON, not in UTF-8) becomes U+FFFD; good text is unchanged."""
    assert clean("a\ud800b") == "a\ufffdb"
    assert clean("héllo 👋") == "héllo 👋"


# --- Datadog -------------------------------------------------------------------------------


def test_datadog_event_fields():
    """Title, markdown text, alert type, priority, aggregation key, tags, source and POSIX date from the event."""
    body = datadog_event(event("ecs-task-exit-137-oom"))
    assert body["title"] == "ECS task web in prod: out of memory"
    assert (body["alert_type"], body["priority"]) == ("error", "normal")
    assert body["aggregation_key"] == "ecs:prod:service:web"
    assert body["source_type_name"] == "amazon_ecs"
    assert body["date_happened"] == int(datetime(2024, 6, 12, 3, 15, 42, tzinfo=UTC).timestamp())
    assert "exit_code:137" in body["tags"] and body["tags"][-2:] == ["env:prod", "team:platform"]
    assert "OutOfMemoryError: Container killed due to memory usage" in body["text"]
    assert "**What to do:** out of memory" in body["text"]
    assert "[Task logs](https://ap-northeast-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/" in body["text"]
    datadog_limits_hold(body)


@pytest.mark.parametrize(("severity", "priority"), [("success", "low"), ("info", "low"), ("warning", "normal")])
def test_datadog_alert_type_and_priority_follow_severity(severity, priority):
    """alert_type is the severity's name; only errors and warnings are normal priority."""
    body = datadog_event(dataclasses.replace(event("codepipeline-started"), severity=Severity(severity)))
    assert (body["alert_type"], body["priority"]) == (severity, priority)


def test_datadog_date_is_left_out_when_too_old_for_datadog():
    """With ``now`` more than 18 hours after the event, date_happened is left out (Datadog would refuse it)."""
    ops = event("codepipeline-failed")
    assert ops.time is not None
    assert "date_happened" in datadog_event(ops, now=ops.time + timedelta(hours=17))
    assert "date_happened" not in datadog_event(ops, now=ops.time + timedelta(hours=19))
    assert "date_happened" not in datadog_event(dataclasses.replace(ops, time=None))


def test_datadog_text_escapes_markdown_in_aws_values():
    """AWS's text cannot open links, code or emphasis: markdown characters are escaped."""
    ops = dataclasses.replace(event("codepipeline-failed"), text="[click](https://evil.example) *bold* `code`")
    text = datadog_event(ops)["text"]
    assert r"\[click\](https://evil.example) \*bold\* \`code\`" in text


def test_datadog_payload_stays_within_limits_with_huge_values_and_keeps_the_links():
    """Huge titles, texts, facts and containers are cut visibly; every limit holds; the first links survive."""
    ops = huge(event("ecs-task-exit-137-oom"))
    body = datadog_event(ops)
    datadog_limits_hold(body)
    assert MARKER.search(body["title"])
    assert "more characters)" in body["text"]
    assert "[Task](https://ap-northeast-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/" in body["text"]


# --- Slack ------------------------------------------------------------------------------------


def test_slack_message_layout():
    """Header with the title, a coloured attachment with summary, fields, one section per container, links."""
    message = slack_message(event("ecs-task-exit-137-oom"))
    assert message["text"].startswith("ERROR: ECS task web in prod: out of memory - Task ")
    (header,) = message["blocks"]
    assert header["text"]["text"] == ":red_circle: ECS task web in prod: out of memory"
    (attachment,) = message["attachments"]
    assert attachment["color"] == COLORS[Severity.ERROR]
    summary, fields, app, router, links, footer = attachment["blocks"]
    assert "*What to do:* out of memory" in summary["text"]["text"]
    assert {"type": "mrkdwn", "text": "*Cluster*\nprod"} in fields["fields"]
    assert app["text"]["text"].startswith("*app* (exit 137, STOPPED)\n> OutOfMemoryError")
    assert router["text"]["text"] == "*log_router* (exit 0, STOPPED)"
    assert "|Task logs>" in links["text"]["text"]
    assert footer["type"] == "context"
    slack_limits_hold(message)


@pytest.mark.parametrize(("name", "severity"), [("codepipeline-failed", Severity.ERROR),
                                                ("codepipeline-stopped", Severity.WARNING),
                                                ("codepipeline-succeeded", Severity.SUCCESS),
                                                ("codepipeline-started", Severity.INFO)])
def test_slack_colour_follows_severity(name, severity):
    """Each severity has its own attachment colour."""
    assert slack_message(event(name))["attachments"][0]["color"] == COLORS[severity]


def test_slack_escapes_mrkdwn_so_aws_text_cannot_mention_or_link():
    """``<!channel>`` or a ``<url|label>`` in AWS's text shows as text, never as a mention or a link."""
    ops = dataclasses.replace(event("codepipeline-failed"), text="<!channel> see <https://evil.example|here> & more")
    message = slack_message(ops)
    summary = message["attachments"][0]["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; more" in summary
    assert "<!channel>" not in json.dumps(message)


def test_slack_link_urls_cannot_end_the_link_early():
    """A ``|`` or ``>`` inside a URL is percent-encoded, so the label stays the label."""
    ops = dataclasses.replace(event("codepipeline-failed"), links=(Link("Odd", "https://example.com/a|b>c"),))
    links = slack_message(ops)["attachments"][0]["blocks"][-2]["text"]["text"]
    assert links == "*Links:* <https://example.com/a%7Cb%3Ec|Odd>"


def test_slack_stays_within_limits_with_huge_values_and_says_what_it_left_out():
    """Huge values are cut visibly, blocks stay at 50 or fewer, and hidden containers are counted."""
    message = slack_message(huge(event("ecs-task-exit-137-oom")))
    slack_limits_hold(message)
    blocks = message["attachments"][0]["blocks"]
    assert MARKER.search(message["blocks"][0]["text"]["text"])
    assert MARKER.search(blocks[0]["text"]["text"])
    assert any("more containers" in json.dumps(b) for b in blocks)
    assert len(message["text"]) <= FALLBACK_MAX_CHARS


def test_slack_with_many_containers_counts_the_ones_it_does_not_show():
    """Past ten containers, the rest are one line with their number."""
    ops = dataclasses.replace(
        event("ecs-task-exit-1"),
        containers=tuple(ContainerFact(f"c{n}", 1, "", "STOPPED") for n in range(14)),
    )
    blocks = slack_message(ops)["attachments"][0]["blocks"]
    assert sum(1 for b in blocks if b.get("text", {}).get("text", "").startswith("*c")) == 10
    assert any(b["type"] == "context" and "and 4 more containers" in b["elements"][0]["text"] for b in blocks)


def test_datadog_body_is_accepted_by_datadog_api_client_for_every_fixture():
    """Each body builds datadog-api-client's EventCreateRequest, whose own validations (text, key lengths) pass."""
    built = 0
    for name in FIXTURE_NAMES:
        for outcome in interpret(fixture(name), SHOW_ALL, DD_TAGS):
            if isinstance(outcome, OpsEvent):
                for ops in (outcome, huge(outcome, size=5_000)):
                    request = EventCreateRequest(**datadog_event(ops))
                    assert request.alert_type.value == ops.severity.value
                    built += 1
    assert built > 100
