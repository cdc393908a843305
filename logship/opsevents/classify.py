"""Stopped-task classifier: why an ECS task stopped, how bad that is, and what a person can do.

It reads what the "ECS Task State Change" event carries: ``stopCode``, the
``stoppedReason``, and each container's ``exitCode`` and ``reason``. Three
tables drive it, each a plain tuple or mapping a reader can check against AWS's
documentation:

- :data:`REASON_RULES`: error prefixes of ``stoppedReason`` / container ``reason``
  (ECS Developer Guide, "Stopped tasks error codes" and "CannotPullContainer task
  errors"), first match wins;
- :data:`SCHEDULER_RULES`: ``stoppedReason`` prefixes of tasks the service
  scheduler stopped (ECS Developer Guide, "Viewing stopped task errors"; AWS
  re:Post "Why is my Amazon ECS task stopped?");
- :data:`EXIT_CODE_HINTS`: what a container's exit code usually means (128 + signal
  number for a process killed by a signal).

Severity is not decided here: each category is looked up in the one table,
:data:`logship.opsevents.severity.SEVERITY`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from logship.opsevents.model import ContainerFact, Kind, Severity, StopCategory
from logship.opsevents.severity import severity_of

# stopCode values: ECS API Reference, Task.stopCode / TaskStopCode.
TASK_FAILED_TO_START = "TaskFailedToStart"
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
USER_INITIATED = "UserInitiated"
SERVICE_SCHEDULER_INITIATED = "ServiceSchedulerInitiated"
SPOT_INTERRUPTION = "SpotInterruption"
TERMINATION_NOTICE = "TerminationNotice"
INFRASTRUCTURE_HEALTH = "InfrastructureHealth"
STOP_CODES = (
    TASK_FAILED_TO_START,
    ESSENTIAL_CONTAINER_EXITED,
    USER_INITIATED,
    SERVICE_SCHEDULER_INITIATED,
    SPOT_INTERRUPTION,
    TERMINATION_NOTICE,
    INFRASTRUCTURE_HEALTH,
)

# Exit codes of a process killed by a signal: 128 + the signal number.
SIGNAL_EXIT_BASE = 128
MAX_SIGNAL = 64  # Linux signals are 1-64 (real-time ones included)
EXIT_SIGKILL = 137
EXIT_SIGTERM = 143
# Exit codes that do not by themselves show a failure: none, 0, and the signals
# ECS sends the other containers once the essential one has exited.
_NOT_FAILURES = frozenset({None, 0, EXIT_SIGKILL, EXIT_SIGTERM})

OOM_HINT = (
    "out of memory: raise the task's memory (or the container's hard memory limit) or lower what the process uses"
)
PULL_HINT = "image pull failed: check the image name, the execution role and the network path to the registry"


@dataclasses.dataclass(frozen=True, slots=True)
class ReasonRule:
    """A reason prefix (and optionally words it must contain) that names a category and a hint."""

    prefix: str
    category: StopCategory
    hint: str
    contains: tuple[str, ...] = ()

    def matches(self, reason: str) -> bool:
        """True when ``reason`` starts with the prefix and holds one of ``contains`` (if any), case-insensitively."""
        if not reason.startswith(self.prefix):
            return False
        lowered = reason.lower()
        return not self.contains or any(word in lowered for word in self.contains)


# Error prefixes ECS and Fargate write at the start of stoppedReason and of a
# container's reason. Narrow rules (with `contains`) come before the broad rule
# for the same prefix.
REASON_RULES: tuple[ReasonRule, ...] = (
    ReasonRule("OutOfMemoryError", StopCategory.OUT_OF_MEMORY, OOM_HINT),
    ReasonRule(
        "CannotPullContainerError",
        StopCategory.IMAGE_PULL,
        "image pull failed: the image or tag does not exist; check the image name and tag in the task definition",
        ("not found", "manifest unknown", "does not exist"),
    ),
    ReasonRule(
        "CannotPullContainerError",
        StopCategory.IMAGE_PULL,
        "image pull failed: access denied; give the task execution role ECR pull permissions "
        "(ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer) or fix the registry credentials",
        ("accessdenied", "access denied", "not authorized", "unauthorized", "403"),
    ),
    ReasonRule(
        "CannotPullContainerError",
        StopCategory.IMAGE_PULL,
        "image pull failed: no network path to the registry; give the subnet a NAT gateway or a public IP, "
        "or add VPC endpoints for ecr.api, ecr.dkr and S3",
        ("i/o timeout", "timeout", "deadline exceeded", "dial tcp", "no such host"),
    ),
    ReasonRule("CannotPullContainerError", StopCategory.IMAGE_PULL, PULL_HINT),
    ReasonRule(
        "ResourceInitializationError",
        StopCategory.RESOURCE_INIT,
        "secrets or registry credentials could not be fetched: check the execution role's access to "
        "Secrets Manager / SSM Parameter Store (and KMS), the secret names, and the network path to those endpoints",
        ("secret", "registry auth", "ssm", "asm"),
    ),
    ReasonRule(
        "ResourceInitializationError",
        StopCategory.RESOURCE_INIT,
        "the log driver could not start: check that the log group exists (or awslogs-create-group is set), "
        "the execution role's CloudWatch Logs permissions and the network path to CloudWatch Logs",
        ("logger", "logging driver", "log stream", "log group"),
    ),
    ReasonRule(
        "ResourceInitializationError",
        StopCategory.RESOURCE_INIT,
        "the task's resources could not be set up: check the subnet (DNS resolution, routes to AWS endpoints), "
        "the execution role, and the network path to ECR, Secrets Manager, SSM and CloudWatch Logs",
    ),
    ReasonRule(
        "CannotStartContainerError",
        StopCategory.CANNOT_START,
        "the container could not start: check the entry point and command, the user, file permissions and mounts",
    ),
    ReasonRule(
        "CannotCreateVolumeError",
        StopCategory.VOLUME,
        "a volume could not be created: check the volume configuration (EFS file system, access point, "
        "mount targets in the task's subnets, security groups)",
    ),
    ReasonRule(
        "ContainerRuntimeTimeoutError",
        StopCategory.RUNTIME,
        "the container runtime timed out starting or stopping the container: run the task again; "
        "if it repeats, look at the image's size and start-up and at the host",
    ),
    ReasonRule(
        "DockerTimeoutError",
        StopCategory.RUNTIME,
        "the container runtime timed out starting or stopping the container: run the task again; "
        "if it repeats, look at the image's size and start-up and at the host",
    ),
    ReasonRule(
        "CannotInspectContainerError",
        StopCategory.RUNTIME,
        "the container runtime could not describe the container: run the task again; if it repeats, check the host",
    ),
    ReasonRule(
        "CannotStopContainerError",
        StopCategory.RUNTIME,
        "the container runtime could not stop the container: check the host; the task is stopped now",
    ),
    ReasonRule(
        "InternalError",
        StopCategory.INTERNAL,
        "ECS reported an internal error: run the task again; open an AWS support case if it repeats",
    ),
)

# stoppedReason prefixes of tasks stopped with stopCode ServiceSchedulerInitiated.
SCHEDULER_RULES: tuple[ReasonRule, ...] = (
    ReasonRule(
        "Task failed ELB health checks",
        StopCategory.HEALTH_CHECK,
        "the load balancer marked the task unhealthy: check the target group's health check path and port, "
        "the security groups between load balancer and task, and the service's health check grace period",
    ),
    ReasonRule(
        "Task failed container health checks",
        StopCategory.HEALTH_CHECK,
        "the container's own health check failed: check the healthCheck command, its timeout and startPeriod, "
        "and the application's logs",
    ),
    ReasonRule(
        "Scaling activity initiated by",
        StopCategory.SCHEDULER,
        "nothing to do: the service replaced or removed this task (a deployment or a scale-in)",
    ),
)

SPOT_REPLACED_HINT = "nothing to do: the capacity was reclaimed and the service starts a replacement"
SPOT_INTERRUPTED_HINT = (
    "the capacity was reclaimed before the task finished: run the job again, make it safe to restart, "
    "or run it on on-demand capacity (FARGATE instead of FARGATE_SPOT)"
)
INFRA_REPLACED_HINT = "nothing to do: AWS retired the task's infrastructure and the service starts a replacement"
INFRA_INTERRUPTED_HINT = "AWS stopped the task's infrastructure before the task finished: run the job again"
USER_HINT = "nothing to do unless the stop was unexpected: CloudTrail's StopTask records who stopped it"

# What an exit code usually means; 128 + n is "killed by signal n".
EXIT_CODE_HINTS: Mapping[int, str] = {
    1: "the application exited with an error: read its logs just before the exit",
    2: "the command was misused (bad arguments or shell syntax): check the command in the task definition",
    126: "the command is not executable: check the entry point's file permissions",
    127: "command not found: check the entry point and command, and the image's PATH",
    134: "the process aborted (SIGABRT): read its logs for an assertion or a fatal runtime error",
    137: "killed with SIGKILL (exit 137): usually out of memory, so raise the task's memory; "
    "otherwise the process ignored SIGTERM for the whole stop timeout",
    139: "segmentation fault (SIGSEGV, exit 139): a crash in native code; check native libraries and the image's "
    "architecture",
    143: "terminated with SIGTERM (exit 143): something asked the process to stop",
    255: "the process exited with status 255: read its logs just before the exit",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Classification:
    """What the classifier concluded about one stopped task.

    ``exit_code`` and ``container`` name the container that decided the category,
    when one did; ``containers`` carries every container with its own hint.
    """

    category: StopCategory
    severity: Severity
    hint: str | None
    label: str
    exit_code: int | None = None
    container: str | None = None
    containers: tuple[ContainerFact, ...] = ()


# A few words for the title, per category.
LABELS: Mapping[StopCategory, str] = {
    StopCategory.COMPLETED: "completed",
    StopCategory.APP_ERROR: "exited with an error",
    StopCategory.OUT_OF_MEMORY: "out of memory",
    StopCategory.KILLED: "killed (SIGKILL)",
    StopCategory.TERMINATED: "terminated (SIGTERM)",
    StopCategory.IMAGE_PULL: "image pull failed",
    StopCategory.RESOURCE_INIT: "could not set up its resources",
    StopCategory.CANNOT_START: "container could not start",
    StopCategory.VOLUME: "volume could not be created",
    StopCategory.RUNTIME: "container runtime error",
    StopCategory.INTERNAL: "ECS internal error",
    StopCategory.FAILED_TO_START: "failed to start",
    StopCategory.HEALTH_CHECK: "failed health checks",
    StopCategory.SCHEDULER: "stopped by its service (deployment or scale-in)",
    StopCategory.USER: "stopped by a user",
    StopCategory.SPOT_REPLACED: "Spot capacity reclaimed",
    StopCategory.SPOT_INTERRUPTED: "Spot capacity reclaimed before it finished",
    StopCategory.INFRA_REPLACED: "stopped for infrastructure maintenance",
    StopCategory.INFRA_INTERRUPTED: "stopped for infrastructure maintenance before it finished",
    StopCategory.NO_EXIT_CODE: "essential container exited",
    StopCategory.UNKNOWN: "stopped",
}


def _rule_for(reason: str, rules: Sequence[ReasonRule]) -> ReasonRule | None:
    for rule in rules:
        if rule.matches(reason):
            return rule
    return None


def exit_code_hint(exit_code: int | None) -> str | None:
    """What an exit code usually means; None for 0, None, and codes without a common meaning."""
    if exit_code is None or exit_code == 0:
        return None
    if exit_code in EXIT_CODE_HINTS:
        return EXIT_CODE_HINTS[exit_code]
    if SIGNAL_EXIT_BASE < exit_code <= SIGNAL_EXIT_BASE + MAX_SIGNAL:
        return f"killed by signal {exit_code - SIGNAL_EXIT_BASE} (exit {exit_code})"
    return f"the application exited with status {exit_code}: read its logs just before the exit"


def container_hint(container: ContainerFact) -> str | None:
    """The hint for one container: its reason's rule first, then its exit code."""
    rule = _rule_for(container.reason, REASON_RULES)
    if rule is not None:
        return rule.hint
    return exit_code_hint(container.exit_code)


def _conclude(
    category: StopCategory,
    hint: str | None,
    containers: tuple[ContainerFact, ...],
    decider: ContainerFact | None = None,
) -> Classification:
    return Classification(
        category=category,
        severity=severity_of(Kind.TASK, category),
        hint=hint,
        label=f"exited with code {decider.exit_code}"
        if category is StopCategory.APP_ERROR and decider is not None and decider.exit_code is not None
        else LABELS[category],
        exit_code=decider.exit_code if decider else None,
        container=decider.name if decider else None,
        containers=containers,
    )


def classify_stopped_task(
    stop_code: str,
    stopped_reason: str,
    containers: Sequence[ContainerFact],
    *,
    standalone: bool,
) -> Classification:
    """Classify a stopped task from its stop code, stopped reason and containers.

    ``standalone`` is True for a task no service owns (``group`` ``family:...``):
    reclaimed capacity then means an unfinished job (a warning) instead of a
    replaced service task (info). Never raises; unknown input gives ``UNKNOWN``.
    """
    hinted = tuple(dataclasses.replace(c, hint=container_hint(c)) for c in containers)

    # 1. An error prefix, in the task's stoppedReason or a container's reason.
    rule = _rule_for(stopped_reason, REASON_RULES)
    if rule is not None:
        decider = next((c for c in hinted if rule.matches(c.reason)), None)
        return _conclude(rule.category, rule.hint, hinted, decider)
    for container in hinted:
        rule = _rule_for(container.reason, REASON_RULES)
        if rule is not None:
            return _conclude(rule.category, rule.hint, hinted, container)

    # 2. Stops that ECS, a user or AWS asked for.
    requested = _requested_stop(stop_code, stopped_reason, standalone=standalone)
    if requested is not None:
        return _conclude(requested[0], requested[1], hinted)

    # 3. A container exited on its own (EssentialContainerExited, or no stop code at all).
    return _classify_exits(stop_code, hinted)


_SCHEDULER_DEFAULT = ReasonRule("", StopCategory.SCHEDULER, "nothing to do: the service scheduler stopped this task")
# Stop codes whose meaning does not depend on the reason.
_FIXED: Mapping[str, tuple[StopCategory, str]] = {
    USER_INITIATED: (StopCategory.USER, USER_HINT),
    TASK_FAILED_TO_START: (
        StopCategory.FAILED_TO_START,
        "the task failed to start: read the stopped reason and each container's reason",
    ),
}
# Capacity or infrastructure taken away: (standalone task, service task).
_RECLAIMED: Mapping[str, tuple[tuple[StopCategory, str], tuple[StopCategory, str]]] = {
    SPOT_INTERRUPTION: (
        (StopCategory.SPOT_INTERRUPTED, SPOT_INTERRUPTED_HINT),
        (StopCategory.SPOT_REPLACED, SPOT_REPLACED_HINT),
    ),
    TERMINATION_NOTICE: (
        (StopCategory.SPOT_INTERRUPTED, SPOT_INTERRUPTED_HINT),
        (StopCategory.SPOT_REPLACED, SPOT_REPLACED_HINT),
    ),
    INFRASTRUCTURE_HEALTH: (
        (StopCategory.INFRA_INTERRUPTED, INFRA_INTERRUPTED_HINT),
        (StopCategory.INFRA_REPLACED, INFRA_REPLACED_HINT),
    ),
}


def _requested_stop(stop_code: str, stopped_reason: str, *, standalone: bool) -> tuple[StopCategory, str] | None:
    """The category and hint of a stop ECS, a user or AWS asked for; None when the stop code is not one."""
    if stop_code == SERVICE_SCHEDULER_INITIATED:
        rule = _rule_for(stopped_reason, SCHEDULER_RULES) or _SCHEDULER_DEFAULT
        return rule.category, rule.hint
    if stop_code in _RECLAIMED:
        standalone_case, service_case = _RECLAIMED[stop_code]
        return standalone_case if standalone else service_case
    return _FIXED.get(stop_code)


def _classify_exits(stop_code: str, containers: tuple[ContainerFact, ...]) -> Classification:
    """The exit-code half: non-zero exits beat a clean exit, and a clean exit beats sidecars stopped after it.

    When the essential container exits, ECS stops the other containers with
    SIGTERM (then SIGKILL after the stop timeout), so their 143 or 137 follows
    from the exit and says nothing about it.
    """
    failing = next((c for c in containers if c.exit_code not in _NOT_FAILURES), None)
    if failing is not None:
        return _conclude(StopCategory.APP_ERROR, failing.hint, containers, failing)
    finished = next((c for c in containers if c.exit_code == 0), None)
    if finished is not None:
        return _conclude(StopCategory.COMPLETED, None, containers, finished)
    killed = next((c for c in containers if c.exit_code == EXIT_SIGKILL), None)
    if killed is not None:
        return _conclude(StopCategory.KILLED, killed.hint, containers, killed)
    terminated = next((c for c in containers if c.exit_code == EXIT_SIGTERM), None)
    if terminated is not None:
        return _conclude(
            StopCategory.TERMINATED,
            "terminated with SIGTERM (exit 143) although ECS did not stop the task: something inside the task "
            "or on the host stopped the process",
            containers,
            terminated,
        )
    if stop_code == ESSENTIAL_CONTAINER_EXITED:
        return _conclude(
            StopCategory.NO_EXIT_CODE,
            "an essential container exited without an exit code: read each container's reason and the task's logs",
            containers,
        )
    return _conclude(StopCategory.UNKNOWN, "read the stopped reason on the task's page", containers)
