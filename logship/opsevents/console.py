"""AWS console links for the resources an ops event is about, in the event's region.

URL shapes are those of the current consoles (ECS console v2, CodeSuite for
CodePipeline and CodeBuild, Step Functions ``#/v2/executions``, CloudWatch
``#logsV2``). The console's host depends on the partition: China regions
(``cn-``) use ``console.amazonaws.cn`` and GovCloud (``us-gov-``)
``console.amazonaws-us-gov.com``. Every name is URL-quoted, so an odd name
gives an odd link, never a broken or injected one. An empty region gives no link.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# A URL found in an event longer than this is not a console link.
URL_MAX_CHARS = 2_000
# A region is letters, digits and dashes (us-east-1, cn-north-1, us-gov-west-1).
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z0-9]+)+-\d+$")


def console_host(region: str) -> str | None:
    """``https://<region>.console...`` for the region's partition; None for a value that is not a region."""
    if not _REGION.fullmatch(region):
        return None
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return f"https://{region}.console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _q(name: str) -> str:
    return quote(name, safe="")


def ecs_task(region: str, cluster: str, task_id: str) -> str | None:
    """The task's configuration page (ECS console v2)."""
    host = console_host(region)
    if host is None or not cluster or not task_id:
        return None
    return f"{host}/ecs/v2/clusters/{_q(cluster)}/tasks/{_q(task_id)}/configuration?region={region}"


def ecs_task_logs(region: str, cluster: str, task_id: str) -> str | None:
    """The task's Logs tab (ECS console v2): every container's log, whatever the log configuration."""
    host = console_host(region)
    if host is None or not cluster or not task_id:
        return None
    return f"{host}/ecs/v2/clusters/{_q(cluster)}/tasks/{_q(task_id)}/logs?region={region}"


def ecs_service(region: str, cluster: str, service: str) -> str | None:
    """The service's Health and metrics page (ECS console v2)."""
    host = console_host(region)
    if host is None or not cluster or not service:
        return None
    return f"{host}/ecs/v2/clusters/{_q(cluster)}/services/{_q(service)}/health?region={region}"


def ecs_service_deployments(region: str, cluster: str, service: str) -> str | None:
    """The service's Deployments tab (ECS console v2)."""
    host = console_host(region)
    if host is None or not cluster or not service:
        return None
    return f"{host}/ecs/v2/clusters/{_q(cluster)}/services/{_q(service)}/deployments?region={region}"


def ecs_cluster(region: str, cluster: str) -> str | None:
    """The cluster's services list (ECS console v2)."""
    host = console_host(region)
    if host is None or not cluster:
        return None
    return f"{host}/ecs/v2/clusters/{_q(cluster)}/services?region={region}"


def ecs_task_definition(region: str, family: str, revision: int | None) -> str | None:
    """A task definition revision (or the family, without a revision) in the ECS console v2."""
    host = console_host(region)
    if host is None or not family:
        return None
    if revision is None:
        return f"{host}/ecs/v2/task-definitions/{_q(family)}?region={region}"
    return f"{host}/ecs/v2/task-definitions/{_q(family)}/{revision}/containers?region={region}"


def pipeline_execution(region: str, pipeline: str, execution_id: str) -> str | None:
    """A pipeline execution's timeline (CodePipeline console); the pipeline's page without an execution id."""
    host = console_host(region)
    if host is None or not pipeline:
        return None
    base = f"{host}/codesuite/codepipeline/pipelines/{_q(pipeline)}"
    if not execution_id:
        return f"{base}/view?region={region}"
    return f"{base}/executions/{_q(execution_id)}/timeline?region={region}"


def codebuild_build(region: str, account: str, project: str, build_id: str) -> str | None:
    """A build's page (CodeBuild console); ``build_id`` is ``<project>:<uuid>``."""
    host = console_host(region)
    if host is None or not project or not build_id or not account:
        return None
    return f"{host}/codesuite/codebuild/{_q(account)}/projects/{_q(project)}/build/{_q(build_id)}/?region={region}"


def stepfunctions_execution(region: str, execution_arn: str) -> str | None:
    """An execution's details page (Step Functions console)."""
    host = console_host(region)
    if host is None or not execution_arn:
        return None
    return f"{host}/states/home?region={region}#/v2/executions/details/{_q(execution_arn)}"


def _cloudwatch_part(name: str) -> str:
    # The CloudWatch console's log pages quote a name twice and write '%' as '$'
    # (a group /aws/codebuild/x appears as $252Faws$252Fcodebuild$252Fx).
    return quote(quote(name, safe=""), safe="").replace("%", "$")


def cloudwatch_log_stream(region: str, group: str, stream: str) -> str | None:
    """A log stream's events in the CloudWatch console (the log group's page without a stream)."""
    host = console_host(region)
    if host is None or not group:
        return None
    url = f"{host}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{_cloudwatch_part(group)}"
    if stream:
        url += f"/log-events/{_cloudwatch_part(stream)}"
    return url


def safe_url(url: str) -> str | None:
    """A URL taken from an event, kept only when it is ``https://`` and has no whitespace or angle brackets."""
    if not url.startswith("https://") or len(url) > URL_MAX_CHARS:
        return None
    if any(ch.isspace() or ch in "<>|\"'`" for ch in url):
        return None
    return url
