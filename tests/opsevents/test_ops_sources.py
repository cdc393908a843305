"""Every source and state, table-driven over the fixtures: severity, title, key tags, hint, keys and links."""

from __future__ import annotations

import re

import pytest
from opsfixtures import DD_TAGS, FIXTURE_NAMES, SHOW_ALL, event, fixture, one

from logship.opsevents import (
    Kind,
    OpsEvent,
    RoutingOptions,
    Severity,
    Skipped,
    SkipReason,
    StopCategory,
    interpret,
)

E, W, S, N = Severity.ERROR, Severity.WARNING, Severity.SUCCESS, Severity.INFO
WEB_TASK = ("system:prod", "service:web", "cluster:prod", "task_family:web")
CRON_TASK = ("system:cron", "service:billing-report", "cluster:cron", "task_family:billing-report")

# fixture -> (severity, words in the title, tags it must carry, words in the hint or None for no hint)
EXPECTED: dict[str, tuple[Severity, str, tuple[str, ...], str | None]] = {
    # ECS stopped tasks: the classifier
    "ecs-task-exit-0-cron": (S, "billing-report in cron: completed", (*CRON_TASK, "exit_code:0"), None),
    "ecs-task-exit-0-sidecar-sigterm": (S, "completed", (*CRON_TASK, "exit_code:0"), None),
    "ecs-task-exit-1": (E, "exited with code 1", (*CRON_TASK, "exit_code:1", "stop_code:EssentialContainerExited"),
                        "application exited with an error"),
    "ecs-task-exit-137-oom": (E, "web in prod: out of memory", (*WEB_TASK, "exit_code:137"),
                              "out of memory: raise the task's memory"),
    "ecs-task-exit-137-killed": (E, "killed (SIGKILL)", (*CRON_TASK, "exit_code:137"), "usually out of memory"),
    "ecs-task-exit-139": (E, "exited with code 139", (*WEB_TASK, "exit_code:139"), "segmentation fault"),
    "ecs-task-exit-143": (E, "terminated (SIGTERM)", (*CRON_TASK, "exit_code:143"), "ECS did not stop the task"),
    "ecs-task-failed-to-start-cannot-pull-not-found": (
        E, "image pull failed", (*WEB_TASK, "stop_code:TaskFailedToStart"), "image or tag does not exist"),
    "ecs-task-failed-to-start-cannot-pull-network": (
        E, "image pull failed", WEB_TASK, "no network path to the registry"),
    "ecs-task-failed-to-start-resource-init-secrets": (
        E, "could not set up its resources", WEB_TASK, "execution role's access to Secrets Manager"),
    "ecs-task-failed-to-start-resource-init-logging": (
        E, "could not set up its resources", WEB_TASK, "log group exists"),
    "ecs-task-failed-to-start-cannot-start": (E, "container could not start", WEB_TASK, "entry point and command"),
    "ecs-task-failed-to-start-cannot-create-volume": (E, "volume could not be created", WEB_TASK, "EFS"),
    "ecs-task-failed-to-start-runtime-timeout": (E, "container runtime error", WEB_TASK, "timed out"),
    "ecs-task-failed-to-start-internal-error": (E, "ECS internal error", WEB_TASK, "internal error"),
    "ecs-task-scale-in": (N, "stopped by its service", (*WEB_TASK, "stop_code:ServiceSchedulerInitiated"),
                          "nothing to do"),
    "ecs-task-deployment-replaced": (N, "stopped by its service", WEB_TASK, "nothing to do"),
    "ecs-task-elb-health-check": (E, "failed health checks", WEB_TASK, "health check path and port"),
    "ecs-task-user-stopped": (N, "stopped by a user", (*CRON_TASK, "stop_code:UserInitiated"), "CloudTrail"),
    "ecs-task-spot-interruption": (W, "Spot capacity reclaimed before it finished",
                                   (*CRON_TASK, "stop_code:SpotInterruption"), "run the job again"),
    "ecs-task-spot-interruption-service": (N, "Spot capacity reclaimed", WEB_TASK, "starts a replacement"),
    # ECS deployments and service actions
    "ecs-deployment-failed": (E, "deployment of web in prod: failed", ("system:prod", "service:web", "cluster:prod"),
                              "circuit breaker"),
    "ecs-deployment-rollback": (W, "rolling back", ("service:web",), "rolling back"),
    "ecs-deployment-in-progress": (N, "in progress", ("service:web",), None),
    "ecs-deployment-completed": (S, "completed", ("service:web",), None),
    "ecs-service-task-start-impaired": (W, "tasks keep failing to start", ("service:web", "cluster:prod"),
                                        "stopped reason"),
    "ecs-service-placement-failure-cpu": (E, "cannot place tasks", ("service:web",), "enough free CPU"),
    "ecs-service-placement-failure-fargate-spot": (E, "cannot place tasks", ("service:web",), "FARGATE_SPOT"),
    "ecs-service-steady-state": (N, "steady state", ("service:web",), None),
    # CodePipeline
    "codepipeline-started": (N, "web-release: started", ("pipeline:web-release",), None),
    "codepipeline-succeeded": (S, "web-release: succeeded", ("pipeline:web-release",), None),
    "codepipeline-failed": (E, "web-release: failed", ("pipeline:web-release",), "which stage and action failed"),
    "codepipeline-canceled": (N, "canceled", ("pipeline:web-release",), "structure changed"),
    "codepipeline-cancelled": (N, "canceled", ("pipeline:web-release",), "structure changed"),
    "codepipeline-resumed": (N, "resumed", ("pipeline:web-release",), None),
    "codepipeline-superseded": (N, "superseded", ("pipeline:web-release",), "newer execution"),
    "codepipeline-stopping": (N, "stopping", ("pipeline:web-release",), None),
    "codepipeline-stopped": (W, "stopped", ("pipeline:web-release",), "did not go out"),
    "codepipeline-stage-failed": (E, "stage Build: failed", ("pipeline:web-release",), "which action failed"),
    "codepipeline-action-failed": (E, "action Build/Build: failed", ("pipeline:web-release",), "details link"),
    "codepipeline-action-approval-rejected": (W, "action Approve/ApproveProduction: failed", ("pipeline:web-release",),
                                              "rejected"),
    # CodeBuild
    "codebuild-failed": (E, "web-test #128: failed", ("project:web-test",), "BUILD phase"),
    "codebuild-succeeded": (S, "web-test #129: succeeded", ("project:web-test",), None),
    "codebuild-in-progress": (N, "web-test #130: started", ("project:web-test",), None),
    "codebuild-stopped": (W, "web-test #131: stopped", ("project:web-test",), "stopped the build"),
    "codebuild-pipeline-initiated": (E, "web-build #57: failed", ("project:web-build", "pipeline:web-release"),
                                     "BUILD phase"),
    # Step Functions
    "stepfunctions-failed": (E, "nightly-settlement: execution 2024-06-11-run failed",
                             ("state_machine:nightly-settlement",), "failed state"),
    "stepfunctions-timed-out": (E, "timed out", ("state_machine:nightly-settlement",), "TimeoutSeconds"),
    "stepfunctions-aborted": (E, "aborted", ("state_machine:nightly-settlement",), "StopExecution"),
    "stepfunctions-succeeded": (S, "succeeded", ("state_machine:nightly-settlement",), None),
    "stepfunctions-running": (N, "started", ("state_machine:nightly-settlement",), None),
}
SKIPPED: dict[str, SkipReason] = {
    "ecs-task-running": SkipReason.NOT_FINAL,
    "ecs-container-instance-unknown-detail-type": SkipReason.UNKNOWN_DETAIL_TYPE,
    "unknown-source": SkipReason.UNKNOWN_SOURCE,
}
MULTI = {"sns-wrapped"}


def test_every_fixture_is_in_a_table():
    """A new fixture must be given its expected outcome here, so no source or state goes untested."""
    assert set(FIXTURE_NAMES) == set(EXPECTED) | set(SKIPPED) | MULTI


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_state_gives_its_severity_title_tags_and_hint(name):
    """Each fixture's ops event has the table's severity, title words, tags and hint."""
    severity, title, tags, hint = EXPECTED[name]
    ops = event(name)
    assert ops.severity is severity
    assert title in ops.title
    assert set(tags) <= set(ops.tags), ops.tags
    if hint is None:
        assert ops.hint is None
    else:
        assert ops.hint is not None and hint in ops.hint
    assert ops.tags[-2:] == DD_TAGS
    assert ops.text and ops.links


@pytest.mark.parametrize("name", sorted(SKIPPED))
def test_what_logship_does_not_report_is_skipped_with_its_reason(name):
    """A task still running, an unknown detail-type and an unknown source give a Skipped, not an exception."""
    outcome = one(name)
    assert isinstance(outcome, Skipped)
    assert outcome.reason is SKIPPED[name]
    assert outcome.source and outcome.event_id and outcome.detail


def test_sns_records_each_become_an_event():
    """Two events in two SNS records give two ops events, in order, each keeping its own id."""
    first, second = interpret(fixture("sns-wrapped"), SHOW_ALL, DD_TAGS)
    assert isinstance(first, OpsEvent) and isinstance(second, OpsEvent)
    assert first.kind is Kind.TASK and first.state == StopCategory.OUT_OF_MEMORY
    assert second.kind is Kind.PIPELINE and second.severity is Severity.ERROR
    assert first.event_id == "3317b2af-7005-947d-b652-f55e762e0004"
    assert second.dedup_key == second.event_id


def test_task_dedup_key_is_task_arn_and_detail_version():
    """A task's dedup key is its ARN and detail.version, so a redelivery under a new event id is still one."""
    ops = event("ecs-task-exit-137-oom")
    assert ops.dedup_key == "arn:aws:ecs:ap-northeast-1:111122223333:task/prod/3c4d5e6f708192a3b4c5d6e7f8091a2b#5"
    redelivered = fixture("ecs-task-exit-137-oom")
    redelivered["id"] = "another-event-id"
    (again,) = interpret(redelivered, SHOW_ALL)
    assert isinstance(again, OpsEvent) and again.dedup_key == ops.dedup_key


def test_other_dedup_keys_are_the_event_id():
    """Pipelines, builds, executions and ECS service events dedup on the EventBridge id."""
    for name in ("codepipeline-failed", "codebuild-failed", "stepfunctions-failed", "ecs-deployment-failed"):
        ops = event(name)
        assert ops.dedup_key == fixture(name)["id"]


def test_a_crash_looping_service_is_one_aggregation_group():
    """Every failure of one service, its deployments and service actions share one aggregation key."""
    keys = {
        event(name).aggregation_key
        for name in (
            "ecs-task-exit-137-oom",
            "ecs-task-exit-139",
            "ecs-task-elb-health-check",
            "ecs-deployment-failed",
            "ecs-service-task-start-impaired",
        )
    }
    assert keys == {"ecs:prod:service:web"}
    assert event("ecs-task-exit-1").aggregation_key == "ecs:cron:family:billing-report"
    assert event("codepipeline-failed").aggregation_key == "codepipeline:web-release"
    assert event("codebuild-failed").aggregation_key == "codebuild:web-test"
    assert event("stepfunctions-failed").aggregation_key == "states:nightly-settlement"


def test_a_long_aggregation_key_is_cut_to_100_characters_and_stays_distinct():
    """Names past Datadog's 100 characters give keys within the limit that still tell two services apart."""
    keys = set()
    for service in ("a" * 150 + "-one", "a" * 150 + "-two"):
        raw = fixture("ecs-deployment-failed")
        raw["resources"] = [f"arn:aws:ecs:ap-northeast-1:111122223333:service/prod/{service}"]
        (ops,) = interpret(raw, SHOW_ALL)
        assert isinstance(ops, OpsEvent)
        assert len(ops.aggregation_key) <= 100
        keys.add(ops.aggregation_key)
    assert len(keys) == 2


def test_event_time_is_the_eventbridge_time_in_utc():
    """The ops event's time is the envelope's ``time``, aware and in UTC."""
    ops = event("codepipeline-failed")
    assert ops.time is not None and ops.time.isoformat() == "2024-06-12T04:20:43+00:00"


def test_failed_task_lists_each_container_with_exit_code_reason_and_hint():
    """A failed task carries every container: name, exit code, AWS's reason and a hint of its own."""
    ops = event("ecs-task-exit-137-oom")
    app, router = ops.containers
    assert (app.name, app.exit_code, app.reason) == ("app", 137, "OutOfMemoryError: Container killed due to memory usage")
    assert app.hint is not None and "out of memory" in app.hint
    assert (router.name, router.exit_code, router.hint) == ("log_router", 0, None)


def test_failed_task_links_to_task_logs_service_and_definition():
    """A task's links are its page, its Logs tab (the event has no log configuration), its service and revision."""
    ops = event("ecs-task-exit-137-oom")
    base = "https://ap-northeast-1.console.aws.amazon.com/ecs/v2"
    task = "3c4d5e6f708192a3b4c5d6e7f8091a2b"
    assert {link.label: link.url for link in ops.links} == {
        "Task": f"{base}/clusters/prod/tasks/{task}/configuration?region=ap-northeast-1",
        "Task logs": f"{base}/clusters/prod/tasks/{task}/logs?region=ap-northeast-1",
        "Service": f"{base}/clusters/prod/services/web/health?region=ap-northeast-1",
        "Task definition": f"{base}/task-definitions/web/42/containers?region=ap-northeast-1",
        "Cluster": f"{base}/clusters/prod/services?region=ap-northeast-1",
    }


def test_build_links_to_its_page_and_the_event_log_deep_link():
    """A build links to its console page and to the log deep link the event carries."""
    links = {link.label: link.url for link in event("codebuild-failed").links}
    assert links["Build"] == (
        "https://ap-northeast-1.console.aws.amazon.com/codesuite/codebuild/111122223333/projects/web-test/build/"
        "web-test%3A8745a7a9-c340-456a-9166-edf953571001/?region=ap-northeast-1"
    )
    assert links["Logs"] == fixture("codebuild-failed")["detail"]["additional-information"]["logs"]["deep-link"]


def test_pipeline_and_execution_link_to_their_console_pages():
    """A pipeline execution links to its timeline; a Step Functions execution to its details page."""
    (pipeline,) = event("codepipeline-failed").links
    assert pipeline.url == (
        "https://ap-northeast-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/web-release/executions/"
        "e17b5773-cc0d-4db2-9ad7-594c73888de8/timeline?region=ap-northeast-1"
    )
    (execution,) = event("stepfunctions-failed").links
    assert execution.url.startswith("https://ap-northeast-1.console.aws.amazon.com/states/home?region=ap-northeast-1")
    assert execution.url.endswith(
        "#/v2/executions/details/arn%3Aaws%3Astates%3Aap-northeast-1%3A111122223333%3Aexecution%3A"
        "nightly-settlement%3A2024-06-11-run"
    )


def test_action_failure_links_to_the_external_execution():
    """A failed CodeBuild action links to the build page CodePipeline names in execution-result."""
    links = {link.label: link.url for link in event("codepipeline-action-failed").links}
    assert links["CodeBuild details"].startswith("https://console.aws.amazon.com/codebuild/home?region=")


def test_step_functions_failure_carries_error_cause_and_duration():
    """A failed execution's text holds the error and cause; its facts the start, stop and duration."""
    ops = event("stepfunctions-failed")
    assert "States.TaskFailed" in ops.text and "ledger-db timed out" in ops.text
    facts = {fact.label: fact.value for fact in ops.facts}
    assert facts["Started"] == "2024-06-12T05:10:14Z"
    assert facts["Duration"] == "10m 2s"


def test_pipeline_started_builds_are_left_to_the_pipeline_by_default():
    """With the default options a build whose initiator is codepipeline/... is skipped; turned off, it is reported."""
    outcome = one("codebuild-pipeline-initiated", RoutingOptions())
    assert isinstance(outcome, Skipped) and outcome.reason is SkipReason.PIPELINE_BUILD
    assert "web-release" in outcome.detail
    assert isinstance(one("codebuild-failed", RoutingOptions()), OpsEvent)


def test_stage_and_action_changes_are_off_unless_asked_for():
    """Stage and action changes are skipped by default and reported with the option on."""
    for name in ("codepipeline-stage-failed", "codepipeline-action-failed"):
        outcome = one(name, RoutingOptions())
        assert isinstance(outcome, Skipped) and outcome.reason is SkipReason.STAGE_OR_ACTION
        assert isinstance(one(name, RoutingOptions(pipeline_stages_and_actions=True)), OpsEvent)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("codepipeline-failed", r"^web-rel"),
        ("codebuild-failed", r"-test$"),
        ("ecs-task-exit-1", r"^cron$"),
        ("ecs-task-exit-1", r"billing"),
        ("ecs-deployment-failed", r"^web$"),
        ("stepfunctions-failed", r"settlement"),
    ],
)
def test_ignore_pattern_skips_matching_names(name, pattern):
    """A pipeline, project, cluster, task family, service or state machine name matching the pattern is skipped."""
    outcome = one(name, RoutingOptions(ignore=re.compile(pattern)))
    assert isinstance(outcome, Skipped) and outcome.reason is SkipReason.IGNORED
    assert isinstance(one(name, RoutingOptions(ignore=re.compile(r"^nothing-matches$"),
                                               pipeline_stages_and_actions=True)), OpsEvent)


def test_extra_tags_follow_dd_tags():
    """The options' extra tags come after the user's DD_TAGS, without repeats."""
    ops = event("codepipeline-failed", RoutingOptions(extra_tags=("source:logship", "env:prod")))
    assert ops.tags[-3:] == ("env:prod", "team:platform", "source:logship")


def test_routing_sends_errors_and_warnings_to_slack_by_default():
    """The default options send error and warning events to Slack, and not success or info."""
    options = RoutingOptions()
    assert options.goes_to_slack(event("codepipeline-failed"))
    assert options.goes_to_slack(event("codepipeline-stopped"))
    assert not options.goes_to_slack(event("codepipeline-succeeded"))
    assert not options.goes_to_slack(event("codepipeline-started"))
