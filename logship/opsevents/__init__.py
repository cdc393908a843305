"""Ops events: ECS, CodePipeline, CodeBuild and Step Functions state changes, made fit for a person to act on.

The flow is interpret -> route, all pure:

- :func:`interpret` reads a Lambda payload (an EventBridge event, or SNS records
  holding them) into one :class:`OpsEvent` or :class:`Skipped` per event;
- :class:`RoutingOptions` says what is ignored and which severities go to Slack.

Sending, settings and the handler live elsewhere and use these. Importing this
package does no I/O.
"""

from logship.opsevents.classify import Classification, classify_stopped_task
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

__all__ = [
    "SEVERITY",
    "Classification",
    "ContainerFact",
    "Envelope",
    "Fact",
    "Kind",
    "Link",
    "OpsEvent",
    "RoutingOptions",
    "Severity",
    "SkipReason",
    "Skipped",
    "StopCategory",
    "classify_stopped_task",
    "interpret",
    "parse_ignore_pattern",
    "parse_slack_severities",
    "severity_of",
    "unwrap",
]
