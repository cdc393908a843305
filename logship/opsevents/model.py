"""The types every source turns into: one normalized :class:`OpsEvent`, or a :class:`Skipped` with its reason.

Both are frozen: the payload builders, the router and the dead letter read
them and never change them.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime


class Severity(enum.StrEnum):
    """How much a person should care, from most to least urgent.

    The values are Datadog's ``alert_type`` names for the same four levels.
    """

    ERROR = "error"
    WARNING = "warning"
    SUCCESS = "success"
    INFO = "info"


class Kind(enum.StrEnum):
    """What changed state: the first half of a key in the severity table."""

    TASK = "ecs_task"
    DEPLOYMENT = "ecs_deployment"
    SERVICE_ACTION = "ecs_service_action"
    PIPELINE = "codepipeline_pipeline"
    STAGE = "codepipeline_stage"
    ACTION = "codepipeline_action"
    BUILD = "codebuild_build"
    EXECUTION = "stepfunctions_execution"
    CRON_OVERLAP = "cron_overlap"
    """Cron watch: a task family running more copies at once than its job allows."""
    WATCH_SUMMARY = "cron_watch_summary"
    """Cron watch: the periodic digest of the tasks running in each cluster."""


class StopCategory(enum.StrEnum):
    """Why an ECS task stopped, as the classifier reads ``stopCode``, ``stoppedReason`` and exit codes."""

    COMPLETED = "completed"
    """The essential container exited 0: a job that finished."""
    APP_ERROR = "app_error"
    """A container exited non-zero on its own (1, 2, 126, 127, 139, ...)."""
    OUT_OF_MEMORY = "out_of_memory"
    """A container was killed for using more memory than its limit (``OutOfMemoryError``)."""
    KILLED = "killed"
    """The essential container exited 137 (SIGKILL) with no reason given: usually memory."""
    TERMINATED = "terminated"
    """The essential container exited 143 (SIGTERM) although ECS did not stop the task."""
    IMAGE_PULL = "image_pull"
    """``CannotPullContainerError``: the image could not be pulled."""
    RESOURCE_INIT = "resource_init"
    """``ResourceInitializationError``: secrets, registry auth, log driver or network setup failed."""
    CANNOT_START = "cannot_start"
    """``CannotStartContainerError``: the runtime could not start the container."""
    VOLUME = "volume"
    """``CannotCreateVolumeError``: a volume in the task definition could not be created."""
    RUNTIME = "runtime"
    """The container runtime timed out or failed (``ContainerRuntimeTimeoutError`` and kin)."""
    INTERNAL = "internal"
    """``InternalError``: an error inside ECS or Fargate."""
    FAILED_TO_START = "failed_to_start"
    """``TaskFailedToStart`` with a reason the classifier has no rule for."""
    HEALTH_CHECK = "health_check"
    """The service scheduler replaced the task after failed ELB or container health checks."""
    SCHEDULER = "scheduler"
    """The service scheduler stopped the task: a deployment replacing it, or a scale-in."""
    USER = "user"
    """Someone (or a tool acting for them) stopped the task."""
    SPOT_REPLACED = "spot_replaced"
    """Spot capacity or the instance was reclaimed; the task's service starts a replacement."""
    SPOT_INTERRUPTED = "spot_interrupted"
    """Spot capacity or the instance was reclaimed under a standalone task, which did not finish."""
    INFRA_REPLACED = "infra_replaced"
    """AWS stopped the task for infrastructure health or maintenance; its service replaces it."""
    INFRA_INTERRUPTED = "infra_interrupted"
    """AWS stopped a standalone task for infrastructure health or maintenance; it did not finish."""
    NO_EXIT_CODE = "no_exit_code"
    """An essential container exited but the event carries no exit code."""
    UNKNOWN = "unknown"
    """A stop code or reason the classifier does not know."""


class SkipReason(enum.StrEnum):
    """Why an input gave no ops event; the handler logs each reason once per invocation and counts it."""

    NOT_AN_EVENT = "not_an_event"
    """The input (or an SNS message) is not a JSON object with ``source`` and ``detail-type``."""
    UNKNOWN_SOURCE = "unknown_source"
    """The ``source`` is not one logship reads (aws.ecs, aws.codepipeline, aws.codebuild, aws.states)."""
    UNKNOWN_DETAIL_TYPE = "unknown_detail_type"
    """A known source, but a ``detail-type`` logship does not read (say ECS Container Instance State Change)."""
    NOT_FINAL = "not_final"
    """An ECS task that has not stopped yet (PENDING, RUNNING, ...): only stopped tasks are reported."""
    IGNORED = "ignored"
    """A pipeline, project, cluster, task family or state machine name matched the ignore pattern."""
    PIPELINE_BUILD = "pipeline_build"
    """A build started by CodePipeline, left to the pipeline's own event (an option)."""
    STAGE_OR_ACTION = "stage_or_action"
    """A CodePipeline stage or action change while those are turned off (an option)."""
    UNREADABLE = "unreadable"
    """A reader failed on an input nobody foresaw; logged with its traceback (a bug to report)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    """An input that gives no ops event, with a reason to count and a sentence to log."""

    reason: SkipReason
    detail: str
    source: str = ""
    detail_type: str = ""
    event_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Fact:
    """One labelled value a person reads, such as ``Cluster: prod``."""

    label: str
    value: str


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    """A console or log page, with the words a person clicks."""

    label: str
    url: str


@dataclasses.dataclass(frozen=True, slots=True)
class ContainerFact:
    """One container of a stopped ECS task: its exit code, AWS's reason and what to do about it."""

    name: str
    exit_code: int | None
    reason: str
    last_status: str
    hint: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OpsEvent:
    """One state change, normalized: what both payload builders and the router read.

    - ``title`` is one line; ``text`` is the plain sentence(s) saying what
      happened; ``hint`` is what a person can do about it (None when nothing is to be done).
    - ``severity`` comes from the one table in :mod:`logship.opsevents.severity`.
    - ``tags`` are Datadog ``key:value`` tags, the user's ``DD_TAGS`` and extra tags last.
    - ``dedup_key`` is the same for a redelivery of the same change (event ``id``; an ECS
      task's ARN and ``detail.version``); ``aggregation_key`` (at most 100 characters) is
      the same for every change of one resource, so a crash-looping service is one group.
    - ``time`` is the event's ``time`` (UTC), None when the event has none.
    - ``names`` are the resource names the ignore pattern is matched against.
    """

    kind: Kind
    state: str
    title: str
    text: str
    severity: Severity
    hint: str | None
    tags: tuple[str, ...]
    dedup_key: str
    aggregation_key: str
    time: datetime | None
    source: str
    detail_type: str
    event_id: str
    region: str
    account: str
    facts: tuple[Fact, ...] = ()
    containers: tuple[ContainerFact, ...] = ()
    links: tuple[Link, ...] = ()
    names: tuple[str, ...] = ()
