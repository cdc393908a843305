"""Ops events: ECS, CodePipeline, CodeBuild and Step Functions state changes, made fit for a person to act on.

The flow is interpret -> route -> build payloads, all pure:

- :func:`interpret` reads a Lambda payload (an EventBridge event, or SNS records
  holding them) into one :class:`OpsEvent` or :class:`Skipped` per event;
- :class:`RoutingOptions` says what is ignored and which severities go to Slack;
- :class:`RecentKeys` remembers what a warm container already sent;
- :func:`datadog_event` and :func:`slack_message` build the request bodies.

Sending (the Events API, the Slack webhook), settings and the handler live
elsewhere and use these. Importing this package does no I/O.
"""

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
from logship.opsevents.options import RoutingOptions, parse_ignore_pattern, parse_slack_severities
from logship.opsevents.severity import SEVERITY, severity_of
from logship.opsevents.slack_payload import slack_message

__all__ = [
    "SEVERITY",
    "Classification",
    "ContainerFact",
    "Envelope",
    "Fact",
    "Kind",
    "Link",
    "OpsEvent",
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
