"""Ops events: ECS, CodePipeline, CodeBuild and Step Functions state changes, made fit for a person to act on.

The flow is interpret -> route -> build payloads -> send:

- :func:`interpret` reads a Lambda payload (an EventBridge event, or SNS records
  holding them) into one :class:`OpsEvent` or :class:`Skipped` per event;
- :class:`RoutingOptions` says what is ignored and which severities go to Slack;
- :class:`RecentKeys` remembers what a warm container already sent;
- :func:`datadog_event` and :func:`slack_message` build the request bodies;
- :class:`OpsEventsApp` (the Lambda's orchestrator) sends them to Datadog's
  Events API and a Slack webhook, and keeps what a sink did not take in the
  dead letter (:mod:`logship.opsevents.deadletter`).

Names are imported on first use (PEP 562), so ``logship.settings`` can read
:class:`EventsOptions` without loading the readers, and the Firehose Lambda's
cold start pays nothing for this package. Importing it does no I/O.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logship.opsevents.app import EventsSummary, OpsEventsApp
    from logship.opsevents.classify import Classification, classify_stopped_task
    from logship.opsevents.datadog_payload import datadog_event
    from logship.opsevents.dedup import RecentKeys
    from logship.opsevents.envelope import Envelope, unwrap
    from logship.opsevents.interpret import interpret
    from logship.opsevents.model import (
        ContainerFact,
        Fact,
        Kind,
        Link,
        OpsEvent,
        Severity,
        Skipped,
        SkipReason,
        StopCategory,
    )
    from logship.opsevents.options import (
        EventsOptions,
        RoutingOptions,
        parse_ignore_pattern,
        parse_slack_severities,
    )
    from logship.opsevents.severity import SEVERITY, severity_of
    from logship.opsevents.slack_payload import slack_message

# Public name -> the module defining it.
_EXPORTS = {
    "EventsSummary": "app",
    "OpsEventsApp": "app",
    "Classification": "classify",
    "classify_stopped_task": "classify",
    "datadog_event": "datadog_payload",
    "RecentKeys": "dedup",
    "Envelope": "envelope",
    "unwrap": "envelope",
    "interpret": "interpret",
    "ContainerFact": "model",
    "Fact": "model",
    "Kind": "model",
    "Link": "model",
    "OpsEvent": "model",
    "Severity": "model",
    "Skipped": "model",
    "SkipReason": "model",
    "StopCategory": "model",
    "EventsOptions": "options",
    "RoutingOptions": "options",
    "parse_ignore_pattern": "options",
    "parse_slack_severities": "options",
    "SEVERITY": "severity",
    "severity_of": "severity",
    "slack_message": "slack_payload",
}

__all__ = [
    "SEVERITY",
    "Classification",
    "ContainerFact",
    "Envelope",
    "EventsOptions",
    "EventsSummary",
    "Fact",
    "Kind",
    "Link",
    "OpsEvent",
    "OpsEventsApp",
    "RecentKeys",
    "RoutingOptions",
    "Severity",
    "SkipReason",
    "Skipped",
    "StopCategory",
    "classify_stopped_task",
    "datadog_event",
    "interpret",
    "parse_ignore_pattern",
    "parse_slack_severities",
    "severity_of",
    "slack_message",
    "unwrap",
]


def __getattr__(name: str) -> Any:
    """Import the module defining ``name`` on first use and keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
