"""ECS events (source ``aws.ecs``): task state changes, service deployments and service actions.

Shapes: ECS Developer Guide, "Amazon ECS events" (task state change, service
action and service deployment state change examples). The typed parsers read
only what the ops event needs; a missing or mistyped field reads as empty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from logship.opsevents import _json, arns, console
from logship.opsevents._build import facts, links, make_event, skipped
from logship.opsevents.classify import classify_stopped_task
from logship.opsevents.envelope import Envelope
from logship.opsevents.keys import aggregation_key, event_dedup_key, task_dedup_key
from logship.opsevents.model import ContainerFact, Kind, OpsEvent, Severity, Skipped, SkipReason
from logship.opsevents.options import RoutingOptions
from logship.opsevents.severity import SEVERITY, severity_of

SOURCE = "aws.ecs"
TASK_STATE_CHANGE = "ECS Task State Change"
DEPLOYMENT_STATE_CHANGE = "ECS Deployment State Change"
SERVICE_ACTION = "ECS Service Action"
STOPPED = "STOPPED"


# --- Task state change --------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class TaskStateChange:
    """The fields of an "ECS Task State Change" ``detail`` that an ops event uses."""

    task_arn: str
    cluster_arn: str
    task_definition_arn: str
    group: str
    started_by: str
    last_status: str
    desired_status: str
    stop_code: str
    stopped_reason: str
    containers: tuple[ContainerFact, ...]
    version: int | None
    launch_type: str
    capacity_provider: str
    availability_zone: str

    @property
    def cluster(self) -> str:
        """The cluster's name."""
        return arns.ecs_cluster_name(self.cluster_arn)

    @property
    def task_id(self) -> str:
        """The task's id (last part of its ARN)."""
        return arns.ecs_task_id(self.task_arn)

    @property
    def service(self) -> str:
        """The service that started the task (``group`` ``service:<name>``), or empty."""
        kind, _, name = self.group.partition(":")
        return name if kind == "service" else ""

    @property
    def family(self) -> str:
        """The task definition's family, from its ARN, else from ``group`` ``family:<name>``."""
        family, _ = arns.task_definition(self.task_definition_arn)
        if family:
            return family
        kind, _, name = self.group.partition(":")
        return name if kind == "family" else ""

    @property
    def revision(self) -> int | None:
        """The task definition's revision, from its ARN."""
        return arns.task_definition(self.task_definition_arn)[1]


def parse_task_state_change(detail: Mapping[str, Any]) -> TaskStateChange:
    """Read a task state change's ``detail``; never raises."""
    containers = tuple(
        ContainerFact(
            name=_json.text(container, "name"),
            exit_code=_json.integer(container, "exitCode"),
            reason=_json.text(container, "reason"),
            last_status=_json.text(container, "lastStatus"),
        )
        for container in _json.items(detail, "containers")
    )
    return TaskStateChange(
        task_arn=_json.text(detail, "taskArn"),
        cluster_arn=_json.text(detail, "clusterArn"),
        task_definition_arn=_json.text(detail, "taskDefinitionArn"),
        group=_json.text(detail, "group"),
        started_by=_json.text(detail, "startedBy"),
        last_status=_json.text(detail, "lastStatus"),
        desired_status=_json.text(detail, "desiredStatus"),
        stop_code=_json.text(detail, "stopCode"),
        stopped_reason=_json.text(detail, "stoppedReason"),
        containers=containers,
        version=_json.integer(detail, "version"),
        launch_type=_json.text(detail, "launchType"),
        capacity_provider=_json.text(detail, "capacityProviderName"),
        availability_zone=_json.text(detail, "availabilityZone"),
    )


def task_event(envelope: Envelope, options: RoutingOptions, dd_tags: Iterable[str]) -> OpsEvent | Skipped:
    """The ops event for a stopped task; tasks that have not stopped are skipped."""
    task = parse_task_state_change(envelope.detail)
    if task.last_status != STOPPED:
        shown = task.last_status[:40] or "missing"
        return skipped(envelope, SkipReason.NOT_FINAL, f"task lastStatus is {shown}; only stopped tasks are reported")
    cluster = task.cluster
    service, family = task.service, task.family
    name = service or family or task.task_id or "unknown"
    verdict = classify_stopped_task(
        task.stop_code, task.stopped_reason, task.containers, standalone=not task.service
    )
    where = f" in {cluster}" if cluster else ""
    owner = f"service {service}" if service else f"task family {family}" if family else "an unknown task family"
    text = f"Task {task.task_id or '(no id)'} of {owner}{where} stopped"
    if task.stop_code:
        text += f" ({task.stop_code})"
    if task.stopped_reason:
        text += f": {task.stopped_reason}"
    text += "."
    if verdict.container is not None and verdict.exit_code is not None:
        text += f" Container {verdict.container} exited with code {verdict.exit_code}."
    definition = f"{family}:{task.revision}" if family and task.revision is not None else family
    region = envelope.region
    return make_event(
        envelope,
        options,
        dd_tags,
        kind=Kind.TASK,
        state=verdict.category,
        severity=verdict.severity,
        title=f"ECS task {name}{where}: {verdict.label}",
        text=text,
        hint=verdict.hint,
        tag_pairs=(
            ("system", cluster),
            ("service", service or family),
            ("cluster", cluster),
            ("task_family", family),
            ("stop_code", task.stop_code),
            ("exit_code", verdict.exit_code),
        ),
        dedup_key=task_dedup_key(task.task_arn, task.version, envelope.id),
        aggregation_key=aggregation_key("ecs", cluster, task.group or f"family:{family}"),
        names=(cluster, family, service),
        facts=facts(
            ("Cluster", cluster),
            ("Service", service),
            ("Task definition", definition),
            ("Task", task.task_id),
            ("Stop code", task.stop_code),
            ("Started by", task.started_by if not task.started_by.startswith("ecs-svc/") else ""),
            ("Launch type", task.launch_type),
            ("Capacity provider", task.capacity_provider),
            ("Availability zone", task.availability_zone),
        ),
        containers=verdict.containers,
        links=links(
            ("Task", console.ecs_task(region, cluster, task.task_id)),
            ("Task logs", console.ecs_task_logs(region, cluster, task.task_id)),
            ("Service", console.ecs_service(region, cluster, service)),
            ("Task definition", console.ecs_task_definition(region, family, task.revision)),
            ("Cluster", console.ecs_cluster(region, cluster)),
        ),
    )


# --- Service deployment state change ---------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class DeploymentStateChange:
    """The fields of an "ECS Deployment State Change" event."""

    event_type: str
    event_name: str
    deployment_id: str
    reason: str
    updated_at: str
    cluster: str
    service: str

    @property
    def rolling_back(self) -> bool:
        """True for an IN_PROGRESS event the circuit breaker (or an alarm) started to roll back."""
        return self.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS" and "rolling back" in self.reason.lower()


def _service_of(envelope: Envelope) -> tuple[str, str]:
    """``(cluster, service)`` from the event's service ARN, the cluster from ``detail.clusterArn`` if need be."""
    cluster, service = "", ""
    for resource in envelope.resources:
        cluster, service = arns.ecs_service_names(resource)
        if service:
            break
    if not cluster:
        cluster = arns.ecs_cluster_name(_json.text(envelope.detail, "clusterArn"))
    return cluster, service


def parse_deployment_state_change(envelope: Envelope) -> DeploymentStateChange:
    """Read a deployment state change; never raises."""
    detail = envelope.detail
    cluster, service = _service_of(envelope)
    return DeploymentStateChange(
        event_type=_json.text(detail, "eventType"),
        event_name=_json.text(detail, "eventName"),
        deployment_id=_json.text(detail, "deploymentId"),
        reason=_json.text(detail, "reason"),
        updated_at=_json.text(detail, "updatedAt"),
        cluster=cluster,
        service=service,
    )


_DEPLOYMENT_WORDS: Mapping[str, str] = {
    "SERVICE_DEPLOYMENT_FAILED": "failed",
    "ROLLBACK": "rolling back",
    "SERVICE_DEPLOYMENT_IN_PROGRESS": "in progress",
    "SERVICE_DEPLOYMENT_COMPLETED": "completed",
}
_DEPLOYMENT_HINTS: Mapping[str, str] = {
    "SERVICE_DEPLOYMENT_FAILED": "the deployment circuit breaker stopped the rollout: the new tasks fail; "
    "read the service's stopped tasks and events for why",
    "ROLLBACK": "the new deployment's tasks fail, so ECS is rolling back to the last good one: "
    "read the service's stopped tasks for why",
}


def deployment_event(envelope: Envelope, options: RoutingOptions, dd_tags: Iterable[str]) -> OpsEvent | Skipped:
    """The ops event for a service deployment state change."""
    change = parse_deployment_state_change(envelope)
    state = "ROLLBACK" if change.rolling_back else change.event_name
    severity = _service_severity(Kind.DEPLOYMENT, state, change.event_type)
    words = _DEPLOYMENT_WORDS.get(state, _readable(change.event_name) or "changed")
    where = f" in {change.cluster}" if change.cluster else ""
    service = change.service or "unknown"
    text = f"Deployment {change.deployment_id or '(no id)'} of service {service}{where}: {words}."
    if change.reason:
        text += f" {change.reason}"
    region = envelope.region
    return make_event(
        envelope,
        options,
        dd_tags,
        kind=Kind.DEPLOYMENT,
        state=state or "UNKNOWN",
        severity=severity,
        title=f"ECS deployment of {service}{where}: {words}",
        text=text,
        hint=_DEPLOYMENT_HINTS.get(state),
        tag_pairs=(
            ("system", change.cluster),
            ("service", change.service),
            ("cluster", change.cluster),
        ),
        dedup_key=event_dedup_key(envelope.id, change.deployment_id, change.event_name, change.updated_at),
        aggregation_key=aggregation_key("ecs", change.cluster, f"service:{change.service}"),
        names=(change.cluster, change.service),
        facts=facts(
            ("Cluster", change.cluster),
            ("Service", change.service),
            ("Deployment", change.deployment_id),
            ("Event", change.event_name),
            ("Updated at", change.updated_at),
        ),
        links=links(
            ("Deployments", console.ecs_service_deployments(region, change.cluster, change.service)),
            ("Service", console.ecs_service(region, change.cluster, change.service)),
        ),
    )


# --- Service action ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceAction:
    """The fields of an "ECS Service Action" event."""

    event_type: str
    event_name: str
    reason: str
    created_at: str
    cluster: str
    service: str
    capacity_providers: tuple[str, ...]
    container_instances: tuple[str, ...]


def parse_service_action(envelope: Envelope) -> ServiceAction:
    """Read a service action; never raises."""
    detail = envelope.detail
    cluster, service = _service_of(envelope)
    return ServiceAction(
        event_type=_json.text(detail, "eventType"),
        event_name=_json.text(detail, "eventName"),
        reason=_json.text(detail, "reason"),
        created_at=_json.text(detail, "createdAt"),
        cluster=cluster,
        service=service,
        capacity_providers=tuple(
            arns.parse_arn(a).resource.rpartition("/")[2] or a for a in _json.strings(detail, "capacityProviderArns")
        ),
        container_instances=tuple(a.rpartition("/")[2] for a in _json.strings(detail, "containerInstanceArns")),
    )


_ACTION_WORDS: Mapping[str, str] = {
    "SERVICE_TASK_START_IMPAIRED": "tasks keep failing to start",
    "SERVICE_TASK_PLACEMENT_FAILURE": "cannot place tasks",
    "SERVICE_TASK_CONFIGURATION_FAILURE": "task configuration error",
    "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY": "unhealthy in service discovery",
    "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED": "daemon task violates a placement constraint",
    "ECS_OPERATION_THROTTLED": "throttled by the ECS API",
    "SERVICE_DISCOVERY_OPERATION_THROTTLED": "throttled by the Cloud Map API",
    "SERVICE_STEADY_STATE": "steady state",
    "TASKSET_STEADY_STATE": "task set steady state",
    "CAPACITY_PROVIDER_STEADY_STATE": "capacity provider steady state",
    "SERVICE_DESIRED_COUNT_UPDATED": "desired count updated",
}
_ACTION_HINTS: Mapping[str, str] = {
    "SERVICE_TASK_START_IMPAIRED": "the service cannot start tasks consistently: read the stopped reason of its "
    "recently stopped tasks",
    "SERVICE_TASK_PLACEMENT_FAILURE": "no capacity matches the task's requirements: add capacity, lower the task's "
    "CPU or memory, or relax its placement constraints",
    "SERVICE_TASK_CONFIGURATION_FAILURE": "the task could not be configured: check the task role and the tags on "
    "the service (the reason says which)",
    "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY": "a task is unhealthy in Cloud Map: check the container's health check",
    "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED": "a daemon task no longer meets the service's placement "
    "constraints: check the container instances' attributes",
    "ECS_OPERATION_THROTTLED": "the service scheduler hit ECS API limits: spread out deployments and API callers",
    "SERVICE_DISCOVERY_OPERATION_THROTTLED": "the service scheduler hit Cloud Map API limits: spread out deployments",
}
# Placement failure reasons: ECS Developer Guide, "API failure reasons" (TaskFailedToStart: RESOURCE:*, AGENT, ...).
_PLACEMENT_HINTS: tuple[tuple[str, str], ...] = (
    ("RESOURCE:CPU", "no container instance has enough free CPU: add instances (or capacity provider scaling), "
     "or lower the task's CPU"),
    ("RESOURCE:MEMORY", "no container instance has enough free memory: add instances (or capacity provider "
     "scaling), or lower the task's memory"),
    ("RESOURCE:PORTS", "the task's host ports are taken on every instance: use dynamic host ports or awsvpc"),
    ("RESOURCE:ENI", "no instance can attach another network interface: use ENI trunking or more instances"),
    ("RESOURCE:GPU", "no container instance has a free GPU: add GPU instances"),
    ("RESOURCE:FARGATE", "Fargate has no capacity for this task right now (often FARGATE_SPOT): it retries; "
     "add FARGATE to the capacity provider strategy to fall back to on-demand"),
    ("AGENT", "the ECS agent on the chosen instance is disconnected: check the instance and its agent"),
    ("ATTRIBUTE", "no container instance has the attributes the placement constraints require"),
)


def _placement_hint(reason: str) -> str | None:
    for prefix, hint in _PLACEMENT_HINTS:
        if reason.startswith(prefix):
            return hint
    return None


def service_action_event(envelope: Envelope, options: RoutingOptions, dd_tags: Iterable[str]) -> OpsEvent | Skipped:
    """The ops event for a service action (steady state, placement failure, start impaired, ...)."""
    action = parse_service_action(envelope)
    severity = _service_severity(Kind.SERVICE_ACTION, action.event_name, action.event_type)
    words = _ACTION_WORDS.get(action.event_name, _readable(action.event_name) or "service event")
    where = f" in {action.cluster}" if action.cluster else ""
    service = action.service or "unknown"
    text = f"Service {service}{where}: {words} ({action.event_name or 'no event name'}, {action.event_type or '-'})."
    if action.reason:
        text += f" Reason: {action.reason}."
    hint = _placement_hint(action.reason) if action.event_name == "SERVICE_TASK_PLACEMENT_FAILURE" else None
    region = envelope.region
    return make_event(
        envelope,
        options,
        dd_tags,
        kind=Kind.SERVICE_ACTION,
        state=action.event_name or action.event_type or "UNKNOWN",
        severity=severity,
        title=f"ECS service {service}{where}: {words}",
        text=text,
        hint=hint or _ACTION_HINTS.get(action.event_name),
        tag_pairs=(
            ("system", action.cluster),
            ("service", action.service),
            ("cluster", action.cluster),
        ),
        dedup_key=event_dedup_key(envelope.id, action.service, action.event_name, action.created_at),
        aggregation_key=aggregation_key("ecs", action.cluster, f"service:{action.service}"),
        names=(action.cluster, action.service),
        facts=facts(
            ("Cluster", action.cluster),
            ("Service", action.service),
            ("Event", action.event_name),
            ("Event type", action.event_type),
            ("Reason", action.reason),
            ("Capacity providers", ", ".join(action.capacity_providers)),
            ("Container instances", ", ".join(action.container_instances)),
        ),
        links=links(
            ("Service", console.ecs_service(region, action.cluster, action.service)),
            ("Cluster", console.ecs_cluster(region, action.cluster)),
        ),
    )


def _service_severity(kind: Kind, state: str, event_type: str) -> Severity:
    """The table's severity for ``state``; for a state it lacks, the one for the ECS ``eventType``."""
    if (kind, state) in SEVERITY:
        return SEVERITY[(kind, state)]
    return severity_of(Kind.SERVICE_ACTION, event_type)


def _readable(name: str) -> str:
    """``SERVICE_TASK_X`` -> ``service task x``, for names without words of their own."""
    return name.replace("_", " ").lower()[:100]
