"""Slack payload: the incoming-webhook body for one ops event, as plain JSON-able data.

Layout (Block Kit): a top-level ``text`` (the notification and fallback
line), a header block with the title, then one attachment whose ``color``
shows the severity and whose blocks hold what happened and the hint, the facts
as two-column fields, one section per container of a stopped task, the links,
and a footer. Colour is only available on attachments, which is why the
details sit in one. Every text is escaped for mrkdwn (``&``, ``<``, ``>``) and
cut visibly to Slack's limits (:mod:`logship.opsevents.limits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logship.opsevents import limits
from logship.opsevents._build import iso
from logship.opsevents.model import ContainerFact, Link, OpsEvent, Severity
from logship.opsevents.truncate import clean, truncate

# Attachment colours: Slack's brand red, yellow, green and blue.
COLORS: Mapping[Severity, str] = {
    Severity.ERROR: "#E01E5A",
    Severity.WARNING: "#ECB22E",
    Severity.SUCCESS: "#2EB67D",
    Severity.INFO: "#36C5F0",
}
EMOJI: Mapping[Severity, str] = {
    Severity.ERROR: ":red_circle:",
    Severity.WARNING: ":warning:",
    Severity.SUCCESS: ":white_check_mark:",
    Severity.INFO: ":information_source:",
}
# A notification shows a line or two; the blocks hold the rest.
FALLBACK_MAX_CHARS = 1_000
# Containers shown one section each; the rest are counted in one line.
MAX_CONTAINER_SECTIONS = 10


def escape(text: str) -> str:
    """``text`` escaped for Slack mrkdwn: ``&``, ``<`` and ``>`` as entities (Slack's "Escaping text")."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(item: Link) -> str:
    """``<url|label>``, with the characters that would end the link percent-encoded in the URL."""
    url = clean(item.url).replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"<{url}|{escape(item.label)}>"


def _section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, limits.SLACK_SECTION_TEXT_MAX_CHARS) or " "},
    }


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, limits.SLACK_TEXT_OBJECT_MAX_CHARS) or " "}],
    }


def _container_section(container: ContainerFact) -> dict[str, Any]:
    code = f"exit {container.exit_code}" if container.exit_code is not None else "no exit code"
    status = f", {escape(container.last_status)}" if container.last_status else ""
    lines = [f"*{escape(truncate(container.name or '?', 255))}* ({code}{status})"]
    if container.reason:
        lines.append(f"> {escape(truncate(container.reason, 1_024))}")
    if container.hint:
        lines.append(f"_{escape(container.hint)}_")
    return _section("\n".join(lines))


def _fact_sections(event: OpsEvent) -> list[dict[str, Any]]:
    limit = limits.SLACK_FIELD_MAX_CHARS
    fields = [
        {"type": "mrkdwn", "text": truncate(f"*{escape(fact.label)}*\n{escape(fact.value)}", limit)}
        for fact in event.facts
    ]
    step = limits.SLACK_SECTION_MAX_FIELDS
    return [{"type": "section", "fields": fields[i : i + step]} for i in range(0, len(fields), step)]


def fallback_text(event: OpsEvent) -> str:
    """The top-level ``text``: severity, title and what happened, for notifications and old clients."""
    line = f"{event.severity.value.upper()}: {event.title} - {event.text}"
    return truncate(escape(line.replace("\n", " ")), min(FALLBACK_MAX_CHARS, limits.SLACK_TEXT_MAX_CHARS))


def slack_message(event: OpsEvent) -> dict[str, Any]:
    """The incoming-webhook body for ``event``, within Slack's block and text limits."""
    words = " ".join(clean(event.title).split()) or "AWS state change"
    title = truncate(f"{EMOJI[event.severity]} {words}", limits.SLACK_HEADER_MAX_CHARS)
    header = {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}

    summary = escape(event.text)
    if event.hint:
        summary += f"\n*What to do:* {escape(event.hint)}"
    details: list[dict[str, Any]] = [_section(summary), *_fact_sections(event)]
    tail: list[dict[str, Any]] = []
    if event.links:
        tail.append(_section("*Links:* " + " · ".join(link(item) for item in event.links)))
    footer = " · ".join(part for part in (event.source, event.detail_type, event.region, iso(event.time)) if part)
    if event.event_id:
        footer += f" · id {event.event_id}"
    tail.append(_context(escape(footer)))

    # Blocks left for containers, keeping one for the "more containers" line.
    room = limits.SLACK_MAX_BLOCKS - 1 - len(details) - len(tail) - 1
    shown = list(event.containers[: max(0, min(MAX_CONTAINER_SECTIONS, room))])
    details.extend(_container_section(container) for container in shown)
    hidden = len(event.containers) - len(shown)
    if hidden:
        details.append(_context(f"... and {hidden:,} more containers: see the task's page"))

    blocks = [header]
    attachment_blocks = (details + tail)[: limits.SLACK_MAX_BLOCKS - len(blocks)]
    return {
        "text": fallback_text(event),
        "blocks": blocks,
        "attachments": [{"color": COLORS[event.severity], "blocks": attachment_blocks}],
    }
