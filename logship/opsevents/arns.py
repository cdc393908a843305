"""Names read out of ARNs, for the resource formats the ops events carry; never raises.

ECS task and service ARNs come in the long format
(``...:task/<cluster>/<id>``, ``...:service/<cluster>/<name>``) and the old
short one (``...:task/<id>``, ``...:service/<name>``).
"""

from __future__ import annotations

import dataclasses

# arn:<partition>:<service>:<region>:<account>:<resource>
_ARN_PARTS = 6
# A task definition revision is a count; more digits than this is not one.
_MAX_REVISION_DIGITS = 11


@dataclasses.dataclass(frozen=True, slots=True)
class Arn:
    """The parts of ``arn:<partition>:<service>:<region>:<account>:<resource>``; empty strings where missing."""

    partition: str = ""
    service: str = ""
    region: str = ""
    account: str = ""
    resource: str = ""


def parse_arn(value: str) -> Arn:
    """Split an ARN; a value that is not one gives an empty Arn."""
    parts = value.split(":", _ARN_PARTS - 1)
    if len(parts) != _ARN_PARTS or parts[0] != "arn":
        return Arn()
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def resource_path(value: str, kind: str) -> tuple[str, ...]:
    """The ``/``-separated names after ``<kind>/`` in an ARN's resource; () when the ARN is not of that kind."""
    resource = parse_arn(value).resource
    prefix = f"{kind}/"
    if not resource.startswith(prefix):
        return ()
    return tuple(part for part in resource[len(prefix) :].split("/") if part)


def ecs_cluster_name(cluster_arn: str) -> str:
    """``prod`` from ``arn:aws:ecs:...:cluster/prod``; the value itself when it is a bare name."""
    path = resource_path(cluster_arn, "cluster")
    if path:
        return path[-1]
    return "" if cluster_arn.startswith("arn:") else cluster_arn


def ecs_task_id(task_arn: str) -> str:
    """The task id, last part of a task ARN in either format."""
    path = resource_path(task_arn, "task")
    return path[-1] if path else ""


def ecs_service_names(service_arn: str) -> tuple[str, str]:
    """``(cluster, service)`` from a service ARN; the cluster is empty for the old short format."""
    path = resource_path(service_arn, "service")
    if len(path) > 1:
        return path[-2], path[-1]
    if len(path) == 1:
        return "", path[0]
    return "", ""


def task_definition(task_definition_arn: str) -> tuple[str, int | None]:
    """``(family, revision)`` from ``...:task-definition/<family>:<revision>``."""
    path = resource_path(task_definition_arn, "task-definition")
    if not path:
        return "", None
    family, _, revision = path[-1].rpartition(":")
    if not family:
        return revision, None
    counted = revision.isascii() and revision.isdigit() and len(revision) <= _MAX_REVISION_DIGITS
    return family, int(revision) if counted else None


def last_segment(arn: str, separator: str = ":") -> str:
    """The text after the last ``separator`` of an ARN's resource (a state machine's or pipeline's name)."""
    resource = parse_arn(arn).resource
    return resource.rsplit(separator, 1)[-1] if resource else ""
