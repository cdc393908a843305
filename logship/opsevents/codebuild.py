"""CodeBuild events (source ``aws.codebuild``): "CodeBuild Build State Change".

Shape: CodeBuild User Guide, "Build notifications input format reference"
(``build-status``, ``project-name``, ``build-id``, ``additional-information``
with ``initiator``, ``build-number``, ``logs.deep-link`` and ``phases``).
``build-status`` is IN_PROGRESS, SUCCEEDED, FAILED or STOPPED (the API's
FAULT and TIMED_OUT are read too). A build CodePipeline started has the
initiator ``codepipeline/<pipeline>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from logship.opsevents import _json, arns, console
from logship.opsevents._build import facts, links, make_event, skipped
from logship.opsevents.envelope import Envelope
from logship.opsevents.keys import aggregation_key, event_dedup_key
from logship.opsevents.model import Kind, OpsEvent, Skipped, SkipReason
from logship.opsevents.options import RoutingOptions
from logship.opsevents.severity import severity_of

SOURCE = "aws.codebuild"
BUILD_STATE_CHANGE = "CodeBuild Build State Change"
PIPELINE_INITIATOR_PREFIX = "codepipeline/"


@dataclasses.dataclass(frozen=True, slots=True)
class Phase:
    """One build phase: its type, status and the context CodeBuild gives for a failure."""

    phase_type: str
    status: str
    context: str


@dataclasses.dataclass(frozen=True, slots=True)
class BuildStateChange:
    """The fields of a build state change that an ops event uses."""

    status: str
    project: str
    build_arn: str
    build_number: int | None
    initiator: str
    source_version: str
    deep_link: str
    log_group: str
    log_stream: str
    timeout_minutes: int | None
    phases: tuple[Phase, ...]

    @property
    def build_id(self) -> str:
        """``<project>:<uuid>``, the id the console and the API use."""
        path = arns.resource_path(self.build_arn, "build")
        return path[-1] if path else self.build_arn

    @property
    def pipeline(self) -> str:
        """The pipeline that started the build, from an initiator ``codepipeline/<name>``; empty otherwise."""
        if self.initiator.startswith(PIPELINE_INITIATOR_PREFIX):
            return self.initiator[len(PIPELINE_INITIATOR_PREFIX) :]
        return ""

    @property
    def failed_phase(self) -> Phase | None:
        """The first phase that did not succeed (FAILED, FAULT, TIMED_OUT, STOPPED)."""
        return next((p for p in self.phases if p.status and p.status not in ("SUCCEEDED", "IN_PROGRESS")), None)


def parse_build_state_change(envelope: Envelope) -> BuildStateChange:
    """Read a build state change; never raises."""
    detail = envelope.detail
    info = _json.mapping(detail, "additional-information")
    logs = _json.mapping(info, "logs")
    phases = tuple(
        Phase(
            phase_type=_json.text(phase, "phase-type"),
            status=_json.text(phase, "phase-status"),
            context=" ".join(item for item in _json.strings(phase, "phase-context") if item),
        )
        for phase in _json.items(info, "phases")
    )
    return BuildStateChange(
        status=_json.text(detail, "build-status").upper(),
        project=_json.text(detail, "project-name"),
        build_arn=_json.text(detail, "build-id"),
        build_number=_json.integer(info, "build-number"),
        initiator=_json.text(info, "initiator"),
        source_version=_json.text(info, "source-version"),
        deep_link=_json.text(logs, "deep-link"),
        log_group=_json.text(logs, "group-name"),
        log_stream=_json.text(logs, "stream-name"),
        timeout_minutes=_json.integer(info, "timeout-in-minutes"),
        phases=phases,
    )


_WORDS: Mapping[str, str] = {
    "IN_PROGRESS": "started",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "FAULT": "failed (CodeBuild fault)",
    "TIMED_OUT": "timed out",
    "STOPPED": "stopped",
}


def _hint(build: BuildStateChange) -> str | None:
    if build.status == "FAILED":
        phase = build.failed_phase
        where = f" from the {phase.phase_type} phase" if phase and phase.phase_type else ""
        return f"read the build log (the Logs link){where}"
    if build.status == "FAULT":
        return "CodeBuild itself failed: run the build again; open an AWS support case if it repeats"
    if build.status == "TIMED_OUT":
        limit = f" ({build.timeout_minutes} minutes)" if build.timeout_minutes else ""
        return f"the build ran past the project's timeout{limit}: raise the timeout or find the slow phase in the log"
    if build.status == "STOPPED":
        return "someone stopped the build; run it again when ready"
    return None


def build_event(envelope: Envelope, options: RoutingOptions, dd_tags: Iterable[str]) -> OpsEvent | Skipped:
    """The ops event for a build state change; builds CodePipeline started are skipped when the option says so."""
    build = parse_build_state_change(envelope)
    if build.pipeline and options.skip_pipeline_builds:
        return skipped(
            envelope,
            SkipReason.PIPELINE_BUILD,
            f"build started by pipeline {build.pipeline[:200]!r}; the pipeline's own events report it",
        )
    words = _WORDS.get(build.status, build.status.lower()[:40] or "changed")
    project = build.project or "unknown"
    number = f" #{build.build_number}" if build.build_number is not None else ""
    text = f"Build {build.build_id or '(no id)'} of project {project} {words}."
    phase = build.failed_phase
    if phase is not None:
        text += f" Phase {phase.phase_type or '?'} ended {phase.status}"
        text += f": {phase.context}" if phase.context else "."
    region = envelope.region
    logs_url = console.safe_url(build.deep_link) or console.cloudwatch_log_stream(
        region, build.log_group, build.log_stream
    )
    return make_event(
        envelope,
        options,
        dd_tags,
        kind=Kind.BUILD,
        state=build.status or "UNKNOWN",
        severity=severity_of(Kind.BUILD, build.status),
        title=f"CodeBuild {project}{number}: {words}",
        text=text,
        hint=_hint(build),
        tag_pairs=(("project", build.project), ("pipeline", build.pipeline)),
        dedup_key=event_dedup_key(envelope.id, build.build_arn, build.status),
        aggregation_key=aggregation_key("codebuild", build.project),
        names=(build.project, build.pipeline),
        facts=facts(
            ("Project", build.project),
            ("Build number", build.build_number),
            ("Build", build.build_id),
            ("Status", build.status),
            ("Failed phase", f"{phase.phase_type} ({phase.status})" if phase else None),
            ("Initiator", build.initiator),
            ("Source version", build.source_version),
        ),
        links=links(
            ("Build", console.codebuild_build(region, envelope.account, build.project, build.build_id)),
            ("Logs", logs_url),
            ("Pipeline", console.pipeline_execution(region, build.pipeline, "")),
        ),
    )
