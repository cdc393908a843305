"""Step Functions events (source ``aws.states``): "Step Functions Execution Status Change".

Shape: Step Functions Developer Guide, "EventBridge events for Step Functions
execution status changes": ``detail`` is what DescribeExecution returns
(``executionArn``, ``stateMachineArn``, ``name``, ``status``, ``startDate`` and
``stopDate`` in epoch milliseconds, ``error``, ``cause``). FAILED, TIMED_OUT
and ABORTED are alerts. Only Standard workflows send these events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from logship.opsevents import _json, arns, console
from logship.opsevents._build import facts, iso, links, make_event
from logship.opsevents.envelope import Envelope
from logship.opsevents.keys import aggregation_key, event_dedup_key
from logship.opsevents.model import Kind, OpsEvent, Skipped
from logship.opsevents.options import RoutingOptions
from logship.opsevents.severity import severity_of

SOURCE = "aws.states"
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
# Epoch milliseconds beyond year 9999 are not a date.
_MAX_EPOCH_MS = 253_402_300_799_000


@dataclasses.dataclass(frozen=True, slots=True)
class ExecutionStatusChange:
    """The fields of an execution status change that an ops event uses."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: str
    started: datetime | None
    stopped: datetime | None
    error: str
    cause: str
    redrive_count: int | None

    @property
    def state_machine(self) -> str:
        """The state machine's name, from its ARN (``...:stateMachine:<name>[:<version or alias>]``).

        Without one, from the execution ARN (``...:execution:<state machine>:<execution>``).
        """
        kind, _, rest = arns.parse_arn(self.state_machine_arn).resource.partition(":")
        name = rest.partition(":")[0]
        if kind == "stateMachine" and name:
            return name
        kind, _, rest = arns.parse_arn(self.execution_arn).resource.partition(":")
        name, separator, _ = rest.partition(":")
        return name if kind in ("execution", "express") and separator else ""


def _epoch_ms(value: int | None) -> datetime | None:
    if value is None or not 0 <= value <= _MAX_EPOCH_MS:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def parse_execution_status_change(envelope: Envelope) -> ExecutionStatusChange:
    """Read an execution status change; never raises."""
    detail = envelope.detail
    return ExecutionStatusChange(
        execution_arn=_json.text(detail, "executionArn"),
        state_machine_arn=_json.text(detail, "stateMachineArn"),
        name=_json.text(detail, "name"),
        status=_json.text(detail, "status").upper(),
        started=_epoch_ms(_json.integer(detail, "startDate")),
        stopped=_epoch_ms(_json.integer(detail, "stopDate")),
        error=_json.text(detail, "error"),
        cause=_json.text(detail, "cause"),
        redrive_count=_json.integer(detail, "redriveCount"),
    )


_WORDS: Mapping[str, str] = {
    "RUNNING": "started",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed out",
    "ABORTED": "aborted",
    "PENDING_REDRIVE": "pending redrive",
}
_HINTS: Mapping[str, str] = {
    "FAILED": "open the execution's graph to find the failed state and its input; redrive it once fixed",
    "TIMED_OUT": "the execution ran past the state machine's TimeoutSeconds: raise it or find the slow state "
    "in the execution's event history",
    "ABORTED": "the execution was stopped (StopExecution): CloudTrail records who stopped it",
}


def _duration(started: datetime | None, stopped: datetime | None) -> str:
    if started is None or stopped is None or stopped < started:
        return ""
    seconds = int((stopped - started).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


def execution_event(envelope: Envelope, options: RoutingOptions, dd_tags: Iterable[str]) -> OpsEvent | Skipped:
    """The ops event for an execution status change."""
    change = parse_execution_status_change(envelope)
    machine = change.state_machine or "unknown"
    words = _WORDS.get(change.status, change.status.lower()[:40] or "changed")
    text = f"Execution {change.name or '(no name)'} of state machine {machine} {words}."
    if change.error:
        text += f" Error: {change.error}."
    if change.cause:
        text += f" Cause: {change.cause}"
    hint = _HINTS.get(change.status)
    region = envelope.region
    return make_event(
        envelope,
        options,
        dd_tags,
        kind=Kind.EXECUTION,
        state=change.status or "UNKNOWN",
        severity=severity_of(Kind.EXECUTION, change.status),
        title=f"Step Functions {machine}: execution {change.name or '(no name)'} {words}",
        text=text,
        hint=hint,
        tag_pairs=(("state_machine", change.state_machine),),
        dedup_key=event_dedup_key(envelope.id, change.execution_arn, change.status),
        aggregation_key=aggregation_key("states", change.state_machine),
        names=(change.state_machine,),
        facts=facts(
            ("State machine", change.state_machine),
            ("Execution", change.name),
            ("Status", change.status),
            ("Error", change.error),
            ("Started", iso(change.started)),
            ("Stopped", iso(change.stopped)),
            ("Duration", _duration(change.started, change.stopped)),
            ("Redrive count", change.redrive_count if change.redrive_count else None),
        ),
        links=links(("Execution", console.stepfunctions_execution(region, change.execution_arn))),
    )
