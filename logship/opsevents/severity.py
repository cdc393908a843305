"""The one table that says how severe each state change is.

Every source looks its severity up here, by :class:`~logship.opsevents.model.Kind`
and state: the raw AWS state for pipelines, builds, executions and ECS service
events, and the classifier's :class:`~logship.opsevents.model.StopCategory` for
stopped ECS tasks. A state missing from the table is ``info``, so a state AWS
adds later is reported, quietly, rather than dropped or shouted.
"""

from __future__ import annotations

from collections.abc import Mapping

from logship.opsevents.model import Kind, Severity, StopCategory

ERROR, WARNING, SUCCESS, INFO = Severity.ERROR, Severity.WARNING, Severity.SUCCESS, Severity.INFO

# Pipeline, stage and action states: CodePipeline User Guide, "Monitoring CodePipeline
# events" (detail types table). CANCELLED is accepted as CANCELED's other spelling.
# An approval action that FAILED was rejected (or misconfigured), which is a warning.
# ECS deployment events: ECS Developer Guide, "Amazon ECS service deployment state
# change events"; ROLLBACK is logship's name for an IN_PROGRESS event whose reason
# says the circuit breaker is rolling back. ECS service actions are keyed by eventName
# (ECS Developer Guide, "Amazon ECS service action events"); the SERVICE_ACTION keys
# ERROR, WARN and INFO are ECS eventType values, used for a deployment or service action
# whose eventName is not listed. Step Functions: DescribeExecution status values.
SEVERITY: Mapping[tuple[Kind, str], Severity] = {
    # --- ECS stopped tasks, by classifier category ---------------------------
    (Kind.TASK, StopCategory.COMPLETED): SUCCESS,
    (Kind.TASK, StopCategory.APP_ERROR): ERROR,
    (Kind.TASK, StopCategory.OUT_OF_MEMORY): ERROR,
    (Kind.TASK, StopCategory.KILLED): ERROR,
    (Kind.TASK, StopCategory.TERMINATED): ERROR,
    (Kind.TASK, StopCategory.IMAGE_PULL): ERROR,
    (Kind.TASK, StopCategory.RESOURCE_INIT): ERROR,
    (Kind.TASK, StopCategory.CANNOT_START): ERROR,
    (Kind.TASK, StopCategory.VOLUME): ERROR,
    (Kind.TASK, StopCategory.RUNTIME): ERROR,
    (Kind.TASK, StopCategory.INTERNAL): ERROR,
    (Kind.TASK, StopCategory.FAILED_TO_START): ERROR,
    (Kind.TASK, StopCategory.HEALTH_CHECK): ERROR,
    (Kind.TASK, StopCategory.SCHEDULER): INFO,
    (Kind.TASK, StopCategory.USER): INFO,
    (Kind.TASK, StopCategory.SPOT_REPLACED): INFO,
    (Kind.TASK, StopCategory.SPOT_INTERRUPTED): WARNING,
    (Kind.TASK, StopCategory.INFRA_REPLACED): INFO,
    (Kind.TASK, StopCategory.INFRA_INTERRUPTED): WARNING,
    (Kind.TASK, StopCategory.NO_EXIT_CODE): WARNING,
    (Kind.TASK, StopCategory.UNKNOWN): WARNING,
    # --- ECS service deployments ----------------------------------------------
    (Kind.DEPLOYMENT, "SERVICE_DEPLOYMENT_FAILED"): ERROR,
    (Kind.DEPLOYMENT, "ROLLBACK"): WARNING,
    (Kind.DEPLOYMENT, "SERVICE_DEPLOYMENT_IN_PROGRESS"): INFO,
    (Kind.DEPLOYMENT, "SERVICE_DEPLOYMENT_COMPLETED"): SUCCESS,
    # --- ECS service actions ----------------------------------------------------
    (Kind.SERVICE_ACTION, "SERVICE_TASK_START_IMPAIRED"): WARNING,
    (Kind.SERVICE_ACTION, "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY"): WARNING,
    (Kind.SERVICE_ACTION, "SERVICE_TASK_PLACEMENT_FAILURE"): ERROR,
    (Kind.SERVICE_ACTION, "SERVICE_TASK_CONFIGURATION_FAILURE"): ERROR,
    (Kind.SERVICE_ACTION, "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED"): ERROR,
    (Kind.SERVICE_ACTION, "ECS_OPERATION_THROTTLED"): ERROR,
    (Kind.SERVICE_ACTION, "SERVICE_DISCOVERY_OPERATION_THROTTLED"): ERROR,
    (Kind.SERVICE_ACTION, "SERVICE_STEADY_STATE"): INFO,
    (Kind.SERVICE_ACTION, "TASKSET_STEADY_STATE"): INFO,
    (Kind.SERVICE_ACTION, "CAPACITY_PROVIDER_STEADY_STATE"): INFO,
    (Kind.SERVICE_ACTION, "SERVICE_DESIRED_COUNT_UPDATED"): INFO,
    (Kind.SERVICE_ACTION, "ERROR"): ERROR,
    (Kind.SERVICE_ACTION, "WARN"): WARNING,
    (Kind.SERVICE_ACTION, "INFO"): INFO,
    # --- CodePipeline executions --------------------------------------------------
    (Kind.PIPELINE, "STARTED"): INFO,
    (Kind.PIPELINE, "SUCCEEDED"): SUCCESS,
    (Kind.PIPELINE, "FAILED"): ERROR,
    (Kind.PIPELINE, "CANCELED"): INFO,
    (Kind.PIPELINE, "CANCELLED"): INFO,
    (Kind.PIPELINE, "RESUMED"): INFO,
    (Kind.PIPELINE, "SUPERSEDED"): INFO,
    (Kind.PIPELINE, "STOPPING"): INFO,
    (Kind.PIPELINE, "STOPPED"): WARNING,
    (Kind.STAGE, "STARTED"): INFO,
    (Kind.STAGE, "SUCCEEDED"): SUCCESS,
    (Kind.STAGE, "FAILED"): ERROR,
    (Kind.STAGE, "CANCELED"): INFO,
    (Kind.STAGE, "CANCELLED"): INFO,
    (Kind.STAGE, "RESUMED"): INFO,
    (Kind.STAGE, "STOPPING"): INFO,
    (Kind.STAGE, "STOPPED"): WARNING,
    (Kind.ACTION, "STARTED"): INFO,
    (Kind.ACTION, "SUCCEEDED"): SUCCESS,
    (Kind.ACTION, "FAILED"): ERROR,
    (Kind.ACTION, "FAILED_APPROVAL"): WARNING,
    (Kind.ACTION, "ABANDONED"): WARNING,
    (Kind.ACTION, "CANCELED"): INFO,
    (Kind.ACTION, "CANCELLED"): INFO,
    # --- CodeBuild builds (build-status) ------------------------------------------
    (Kind.BUILD, "IN_PROGRESS"): INFO,
    (Kind.BUILD, "SUCCEEDED"): SUCCESS,
    (Kind.BUILD, "FAILED"): ERROR,
    (Kind.BUILD, "FAULT"): ERROR,
    (Kind.BUILD, "TIMED_OUT"): ERROR,
    (Kind.BUILD, "STOPPED"): WARNING,
    # --- Step Functions executions --------------------------------------------------
    (Kind.EXECUTION, "RUNNING"): INFO,
    (Kind.EXECUTION, "SUCCEEDED"): SUCCESS,
    (Kind.EXECUTION, "FAILED"): ERROR,
    (Kind.EXECUTION, "TIMED_OUT"): ERROR,
    (Kind.EXECUTION, "ABORTED"): ERROR,
    (Kind.EXECUTION, "PENDING_REDRIVE"): INFO,
    # --- Cron watch (logship.cronwatch.watch) ------------------------------------------
    (Kind.CRON_OVERLAP, "OVERLAP"): ERROR,
    (Kind.WATCH_SUMMARY, "SUMMARY"): INFO,
}


def severity_of(kind: Kind, state: str) -> Severity:
    """The severity of ``state`` for ``kind`` from :data:`SEVERITY`; ``info`` for a state it does not list."""
    return SEVERITY.get((kind, state), INFO)
