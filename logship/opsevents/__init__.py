"""Ops events: ECS, CodePipeline, CodeBuild and Step Functions state changes, made fit for a person to act on.

So far: the types every source turns into, the one severity table, and the
stopped-task classifier. Importing this package does no I/O.
"""

from logship.opsevents.classify import Classification, classify_stopped_task
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
from logship.opsevents.severity import SEVERITY, severity_of

__all__ = [
    "SEVERITY",
    "Classification",
    "ContainerFact",
    "Fact",
    "Kind",
    "Link",
    "OpsEvent",
    "Severity",
    "SkipReason",
    "Skipped",
    "StopCategory",
    "classify_stopped_task",
    "severity_of",
]
