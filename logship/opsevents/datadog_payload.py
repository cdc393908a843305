r"""Datadog payload: the body of ``POST /api/v1/events`` for one ops event, as plain JSON-able data.

The sender passes it to datadog-api-client (``EventCreateRequest(**body)``) or
posts it as JSON. ``text`` is markdown (``%%% \\n ... \\n %%%``): what happened
and the hint first, then the facts, the containers and the links, cut visibly
to Datadog's 4,000 characters with the links kept. ``date_happened`` is the
event's time in POSIX seconds, left out when the event has none or is older
than Datadog accepts (the text keeps the original time).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from logship.opsevents import limits
from logship.opsevents._build import iso
from logship.opsevents.model import ContainerFact, OpsEvent, Severity
from logship.opsevents.truncate import clean, truncate

# Datadog event `source_type_name` per EventBridge source, in Datadog's integration
# naming (Datadog docs, "New events sources": CodeBuild -> amazon_codebuild).
SOURCE_TYPE_NAMES = {
    "aws.ecs": "amazon_ecs",
    "aws.codepipeline": "amazon_codepipeline",
    "aws.codebuild": "amazon_codebuild",
    "aws.states": "amazon_step_functions",
}
MARKDOWN_OPEN = "%%% \n"
MARKDOWN_CLOSE = "\n %%%"
# Room the links and the footer may take at most, so the cut falls on the details above them.
_TAIL_MAX_CHARS = 1_200
# One container's reason, one fact, the summary: each cut before the whole is measured.
_REASON_MAX_CHARS = 600
_FACT_MAX_CHARS = 300
_SUMMARY_MAX_CHARS = 1_500
# Datadog requires a title; an event without one (never one of ours) still gets a readable one.
_UNTITLED = "AWS state change"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def _one_line(text: str) -> str:
    return " ".join(clean(text).split())


def md(text: str) -> str:
    """``text`` with markdown's special characters escaped, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean(text)).replace("\r", " ").replace("\n", " ")


def _md_url(url: str) -> str:
    """A URL safe inside markdown's ``(...)``: parentheses and spaces percent-encoded."""
    return clean(url).replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _container_line(container: ContainerFact) -> str:
    code = f"exit {container.exit_code}" if container.exit_code is not None else "no exit code"
    line = f"- **{md(truncate(container.name or '?', 200))}**: {code}"
    if container.reason:
        line += f" - {md(truncate(container.reason, _REASON_MAX_CHARS))}"
    if container.hint:
        line += f" _({md(truncate(container.hint, _REASON_MAX_CHARS))})_"
    return line


def event_text(event: OpsEvent) -> str:
    """The markdown body, wrapped in ``%%%`` markers, at most 4,000 characters."""
    head = [md(truncate(event.text, _SUMMARY_MAX_CHARS))]
    if event.hint:
        head.append(f"**What to do:** {md(truncate(event.hint, _SUMMARY_MAX_CHARS))}")
    details = [f"- **{md(f.label)}:** {md(truncate(f.value, _FACT_MAX_CHARS))}" for f in event.facts]
    if event.containers:
        details.extend(("", "**Containers**"))
        size = sum(len(line) + 1 for line in details)
        for index, container in enumerate(event.containers):
            if size > limits.DATADOG_EVENT_TEXT_MAX_CHARS:  # the rest could not be shown: count it instead
                details.append(f"- ... and {len(event.containers) - index:,} more containers: see the task's page")
                break
            line = _container_line(container)
            details.append(line)
            size += len(line) + 1
    tail_parts = []
    if event.links:
        tail_parts.append(" | ".join(f"[{md(link.label)}]({_md_url(link.url)})" for link in event.links))
    footer = " - ".join(part for part in (event.source, event.detail_type, iso(event.time), event.event_id) if part)
    tail_parts.append(f"_{md(truncate(footer, 400))}_")
    tail = truncate("\n\n".join(tail_parts), _TAIL_MAX_CHARS)
    budget = limits.DATADOG_EVENT_TEXT_MAX_CHARS - len(MARKDOWN_OPEN) - len(MARKDOWN_CLOSE) - len(tail) - 2
    body = truncate("\n\n".join(["\n\n".join(head), "\n".join(details)]).strip(), budget)
    return f"{MARKDOWN_OPEN}{body}\n\n{tail}{MARKDOWN_CLOSE}"


def alert_type(severity: Severity) -> str:
    """Datadog's ``alert_type`` for a severity (the names are the same)."""
    return severity.value


def priority(severity: Severity) -> str:
    """``normal`` for errors and warnings, ``low`` for the rest, so the event stream's default view shows alerts."""
    return "normal" if severity in (Severity.ERROR, Severity.WARNING) else "low"


def datadog_event(event: OpsEvent, *, now: datetime | None = None) -> dict[str, Any]:
    """The ``POST /api/v1/events`` body for ``event``, within every documented limit.

    ``now`` (aware) lets a replay leave out a ``date_happened`` older than
    Datadog's 18 hours, which Datadog would refuse; without it the event's time
    is always sent.
    """
    body: dict[str, Any] = {
        "title": truncate(_one_line(event.title) or _UNTITLED, limits.DATADOG_EVENT_TITLE_MAX_CHARS),
        "text": event_text(event),
        "alert_type": alert_type(event.severity),
        "priority": priority(event.severity),
        "aggregation_key": clean(event.aggregation_key)[: limits.DATADOG_AGGREGATION_KEY_MAX_CHARS],
        "source_type_name": SOURCE_TYPE_NAMES.get(event.source, "amazon_web_services"),
        "tags": [tag for tag in (clean(t).strip()[: limits.DATADOG_TAG_MAX_CHARS] for t in event.tags) if tag][
            : limits.DATADOG_EVENT_MAX_TAGS
        ],
    }
    if event.time is not None:
        happened = int(event.time.timestamp())
        too_old = now is not None and now.timestamp() - happened > limits.DATADOG_EVENT_MAX_AGE_SECONDS
        if not too_old:
            body["date_happened"] = happened
    return body
