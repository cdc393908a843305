"""CodePipeline events (source ``aws.codepipeline``): pipeline, stage and action execution state changes.

Shapes: CodePipeline User Guide, "Monitoring CodePipeline events" (pipeline-,
stage- and action-level examples, including ``execution-trigger`` and
``execution-result``). Pipeline states: STARTED, SUCCEEDED, FAILED, CANCELED
(CANCELLED accepted), RESUMED, SUPERSEDED, STOPPING, STOPPED; actions also
ABANDONED.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from logship.opsevents import _json, arns, console
from logship.opsevents._build import facts, links, make_event, skipped
from logship.opsevents.envelope import Envelope
from logship.opsevents.keys import aggregation_key, event_dedup_key
from logship.opsevents.model import Kind, OpsEvent, Skipped, SkipReason
from logship.opsevents.options import RoutingOptions
from logship.opsevents.severity import severity_of

SOURCE = "aws.codepipeline"
PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
STAGE_EXECUTION = "CodePipeline Stage Execution State Change"
ACTION_EXECUTION = "CodePipeline Action Execution State Change"
_KIND_OF: Mapping[str, Kind] = {
    PIPELINE_EXECUTION: Kind.PIPELINE,
    STAGE_EXECUTION: Kind.STAGE,
    ACTION_EXECUTION: Kind.ACTION,
}


@dataclasses.dataclass(frozen=True, slots=True)
class PipelineChange:
    """The fields of a pipeline, stage or action execution state change that an ops event uses."""

    pipeline: str
    execution_id: str
    state: str
    stage: str
    action: str
    attempt: int | None
    trigger_type: str
    trigger_detail: str
    branch: str
    tag_name: str
    commit_id: str
    commit_message: str
    repository: str
    stop_comments: str
    action_category: str
    action_provider: str
    result_url: str
    result_summary: str
    error_code: str


def parse_pipeline_change(envelope: Envelope) -> PipelineChange:
    """Read a pipeline, stage or action change; the pipeline name falls back to the resource ARN."""
    detail: Mapping[str, Any] = envelope.detail
    trigger = _json.mapping(detail, "execution-trigger")
    action_type = _json.mapping(detail, "type")
    result = _json.mapping(detail, "execution-result")
    pipeline = _json.text(detail, "pipeline")
    if not pipeline and envelope.resources:
        pipeline = arns.last_segment(envelope.resources[0])
    return PipelineChange(
        pipeline=pipeline,
        execution_id=_json.text(detail, "execution-id"),
        state=_json.text(detail, "state").upper(),
        stage=_json.text(detail, "stage"),
        action=_json.text(detail, "action"),
        attempt=_json.integer(detail, "pipeline-execution-attempt"),
        trigger_type=_json.text(trigger, "trigger-type"),
        trigger_detail=_json.text(trigger, "trigger-detail"),
        branch=_json.text(trigger, "branch-name"),
        tag_name=_json.text(trigger, "tag-name"),
        commit_id=_json.text(trigger, "commit-id"),
        commit_message=_json.text(trigger, "commit-message"),
        repository=_json.text(trigger, "full-repository-name"),
        stop_comments=_json.text(detail, "stop-execution-comments"),
        action_category=_json.text(action_type, "category"),
        action_provider=_json.text(action_type, "provider"),
        result_url=_json.text(result, "external-execution-url"),
        result_summary=_json.text(result, "external-execution-summary"),
        error_code=_json.text(result, "error-code"),
    )


_WORDS: Mapping[str, str] = {
    "STARTED": "started",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELED": "canceled",
    "CANCELLED": "canceled",
    "RESUMED": "resumed",
    "SUPERSEDED": "superseded",
    "STOPPING": "stopping",
    "STOPPED": "stopped",
    "ABANDONED": "abandoned",
}
_HINTS: Mapping[tuple[Kind, str], str] = {
    (Kind.PIPELINE, "FAILED"): "open the execution to see which stage and action failed; the failed action's "
    "details link to its logs",
    (Kind.PIPELINE, "STOPPED"): "the execution was stopped before it finished, so the change did not go out: "
    "start it again (Release change) when ready",
    (Kind.PIPELINE, "CANCELED"): "nothing to do: the pipeline's structure changed while this execution ran",
    (Kind.PIPELINE, "CANCELLED"): "nothing to do: the pipeline's structure changed while this execution ran",
    (Kind.PIPELINE, "SUPERSEDED"): "nothing to do: a newer execution took its place",
    (Kind.STAGE, "FAILED"): "open the stage to see which action failed; retry the stage once the cause is fixed",
    (Kind.STAGE, "STOPPED"): "the stage was stopped before it finished",
    (Kind.ACTION, "FAILED"): "read the action's summary and open its details link for the logs",
    (Kind.ACTION, "FAILED_APPROVAL"): "the approval was rejected (or the approval action is misconfigured)",
    (Kind.ACTION, "ABANDONED"): "the action was abandoned when the execution was stopped",
}


def pipeline_event(envelope: Envelope, options: RoutingOptions, dd_tags: Iterable[str]) -> OpsEvent | Skipped:
    """The ops event for a pipeline, stage or action change; stages and actions only when the option is on."""
    kind = _KIND_OF[envelope.detail_type]
    if kind is not Kind.PIPELINE and not options.pipeline_stages_and_actions:
        return skipped(envelope, SkipReason.STAGE_OR_ACTION, "CodePipeline stage and action changes are turned off")
    change = parse_pipeline_change(envelope)
    state = change.state
    if kind is Kind.ACTION and state == "FAILED" and change.action_category == "Approval":
        state = "FAILED_APPROVAL"
    words = _WORDS.get(change.state, change.state.lower()[:40] or "changed")
    pipeline = change.pipeline or "unknown"
    if kind is Kind.STAGE:
        subject = f"CodePipeline {pipeline}, stage {change.stage or '?'}"
    elif kind is Kind.ACTION:
        subject = f"CodePipeline {pipeline}, action {change.stage or '?'}/{change.action or '?'}"
    else:
        subject = f"CodePipeline {pipeline}"
    text = f"{_what(kind, change)} {words}."
    if change.result_summary:
        text += f" {change.result_summary}"
    if change.stop_comments:
        text += f" Comment: {change.stop_comments}"
    trigger = change.trigger_type
    if change.trigger_detail:
        trigger = f"{trigger} ({change.trigger_detail})" if trigger else change.trigger_detail
    region = envelope.region
    result_url = console.safe_url(change.result_url)
    return make_event(
        envelope,
        options,
        dd_tags,
        kind=kind,
        state=state or "UNKNOWN",
        severity=severity_of(kind, state),
        title=f"{subject}: {words}",
        text=text,
        hint=_HINTS.get((kind, state)),
        tag_pairs=(("pipeline", change.pipeline),),
        dedup_key=event_dedup_key(
            envelope.id, change.pipeline, change.execution_id, change.stage, change.action, change.state
        ),
        aggregation_key=aggregation_key("codepipeline", change.pipeline),
        names=(change.pipeline,),
        facts=facts(
            ("Pipeline", change.pipeline),
            ("Execution", change.execution_id),
            ("Stage", change.stage),
            ("Action", change.action),
            ("Provider", change.action_provider),
            ("Error code", change.error_code),
            ("Attempt", change.attempt if change.attempt and change.attempt > 1 else None),
            ("Trigger", trigger),
            ("Branch", change.branch),
            ("Tag", change.tag_name),
            ("Commit", " ".join(part for part in (change.commit_id[:12], change.commit_message) if part)),
        ),
        links=links(
            ("Execution", console.pipeline_execution(region, change.pipeline, change.execution_id)),
            (f"{change.action_provider or 'Action'} details", result_url),
        ),
    )


def _what(kind: Kind, change: PipelineChange) -> str:
    execution = f"execution {change.execution_id}" if change.execution_id else "an execution"
    pipeline = change.pipeline or "an unknown pipeline"
    if kind is Kind.STAGE:
        return f"Stage {change.stage or '?'} of {execution} of pipeline {pipeline}"
    if kind is Kind.ACTION:
        return f"Action {change.stage or '?'}/{change.action or '?'} of {execution} of pipeline {pipeline}"
    return f"Pipeline {pipeline} {execution}"
