"""Stopped-task classifier: stop code, stopped reason and exit codes to a category, a severity and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from logship.opsevents import ContainerFact, Severity, StopCategory, classify_stopped_task
from logship.opsevents.classify import (
    EXIT_CODE_HINTS,
    LABELS,
    REASON_RULES,
    SCHEDULER_RULES,
    STOP_CODES,
    exit_code_hint,
)
from logship.opsevents.model import Kind
from logship.opsevents.severity import SEVERITY

EXITED = "EssentialContainerExited"
ESSENTIAL = "Essential container in task exited"


def c(name: str, exit_code: int | None = None, reason: str = "") -> ContainerFact:
    return ContainerFact(name=name, exit_code=exit_code, reason=reason, last_status="STOPPED")


@pytest.mark.parametrize(
    ("stop_code", "reason", "containers", "standalone", "category", "severity", "hint_words"),
    [
        # exit codes of an essential container that exited on its own
        (EXITED, ESSENTIAL, [c("app", 0)], True, StopCategory.COMPLETED, Severity.SUCCESS, None),
        (EXITED, ESSENTIAL, [c("app", 0), c("datadog-agent", 143)], True, StopCategory.COMPLETED, Severity.SUCCESS,
         None),
        (EXITED, ESSENTIAL, [c("app", 0), c("sidecar", 137)], True, StopCategory.COMPLETED, Severity.SUCCESS, None),
        (EXITED, ESSENTIAL, [c("app", 1), c("log_router", 0)], True, StopCategory.APP_ERROR, Severity.ERROR,
         "exited with an error"),
        (EXITED, ESSENTIAL, [c("app", 127)], False, StopCategory.APP_ERROR, Severity.ERROR, "command not found"),
        (EXITED, ESSENTIAL, [c("app", 139)], False, StopCategory.APP_ERROR, Severity.ERROR, "segmentation fault"),
        (EXITED, ESSENTIAL, [c("app", 137)], True, StopCategory.KILLED, Severity.ERROR, "usually out of memory"),
        (EXITED, ESSENTIAL, [c("app", 143)], True, StopCategory.TERMINATED, Severity.ERROR, "did not stop the task"),
        (EXITED, ESSENTIAL, [c("app")], True, StopCategory.NO_EXIT_CODE, Severity.WARNING, "without an exit code"),
        (EXITED, ESSENTIAL, [c("app", 137, "OutOfMemoryError: Container killed due to memory usage")], False,
         StopCategory.OUT_OF_MEMORY, Severity.ERROR, "raise the task's memory"),
        # TaskFailedToStart, by the reason's prefix
        ("TaskFailedToStart", "CannotPullContainerError: failed to resolve ref x/web:9: not found", [c("app")], False,
         StopCategory.IMAGE_PULL, Severity.ERROR, "does not exist"),
        ("TaskFailedToStart", "CannotPullContainerError: pull access denied, repository does not exist or may "
         "require authorization: AccessDenied", [c("app")], False, StopCategory.IMAGE_PULL, Severity.ERROR,
         "does not exist"),
        ("TaskFailedToStart", "CannotPullContainerError: 403 Forbidden", [c("app")], False,
         StopCategory.IMAGE_PULL, Severity.ERROR, "ECR pull permissions"),
        ("TaskFailedToStart", "CannotPullContainerError: dial tcp 52.0.0.1:443: i/o timeout", [c("app")], False,
         StopCategory.IMAGE_PULL, Severity.ERROR, "network path"),
        ("TaskFailedToStart", "CannotPullContainerError: something new", [c("app")], False,
         StopCategory.IMAGE_PULL, Severity.ERROR,
         "image pull failed: check the image name, the execution role and the network path to the registry"),
        ("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth: ...", [c("app")],
         False, StopCategory.RESOURCE_INIT, Severity.ERROR, "Secrets Manager"),
        ("TaskFailedToStart", "ResourceInitializationError: failed to validate logger args: ...", [c("app")], False,
         StopCategory.RESOURCE_INIT, Severity.ERROR, "log group"),
        ("TaskFailedToStart", "ResourceInitializationError: failed to configure ENI", [c("app")], False,
         StopCategory.RESOURCE_INIT, Severity.ERROR, "DNS resolution"),
        ("TaskFailedToStart", "CannotStartContainerError: exec format error", [c("app")], False,
         StopCategory.CANNOT_START, Severity.ERROR, "entry point"),
        ("TaskFailedToStart", "CannotCreateVolumeError: no such file system", [c("app")], False,
         StopCategory.VOLUME, Severity.ERROR, "volume configuration"),
        ("TaskFailedToStart", "ContainerRuntimeTimeoutError: Could not transition to running", [c("app")], False,
         StopCategory.RUNTIME, Severity.ERROR, "timed out"),
        ("TaskFailedToStart", "DockerTimeoutError: Could not transition to started", [c("app")], False,
         StopCategory.RUNTIME, Severity.ERROR, "timed out"),
        ("TaskFailedToStart", "CannotInspectContainerError: context deadline exceeded", [c("app")], False,
         StopCategory.RUNTIME, Severity.ERROR, "describe the container"),
        ("TaskFailedToStart", "InternalError: unexpected EOF", [c("app")], False, StopCategory.INTERNAL,
         Severity.ERROR, "internal error"),
        ("TaskFailedToStart", "Something AWS adds later", [c("app")], False, StopCategory.FAILED_TO_START,
         Severity.ERROR, "failed to start"),
        # the prefix in a container's reason counts as much as in stoppedReason
        ("TaskFailedToStart", "Task failed to start", [c("app", None, "CannotPullContainerError: not found")],
         False, StopCategory.IMAGE_PULL, Severity.ERROR, "does not exist"),
        # stops ECS, a user or AWS asked for
        ("ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1)", [c("app", 143)], False,
         StopCategory.SCHEDULER, Severity.INFO, "nothing to do"),
        ("ServiceSchedulerInitiated", "Task failed ELB health checks in (target-group arn:...)", [c("app", 143)],
         False, StopCategory.HEALTH_CHECK, Severity.ERROR, "health check path"),
        ("ServiceSchedulerInitiated", "Task failed container health checks", [c("app", 143)], False,
         StopCategory.HEALTH_CHECK, Severity.ERROR, "healthCheck command"),
        ("ServiceSchedulerInitiated", "Something else", [c("app", 0)], False, StopCategory.SCHEDULER, Severity.INFO,
         "service scheduler"),
        ("UserInitiated", "Task stopped by user", [c("app", 137)], True, StopCategory.USER, Severity.INFO,
         "CloudTrail"),
        ("SpotInterruption", "Your Spot Task was interrupted.", [c("app", 143)], True,
         StopCategory.SPOT_INTERRUPTED, Severity.WARNING, "run the job again"),
        ("SpotInterruption", "Your Spot Task was interrupted.", [c("app", 143)], False,
         StopCategory.SPOT_REPLACED, Severity.INFO, "replacement"),
        ("TerminationNotice", "Instance i-0abc is being terminated", [c("app", 143)], True,
         StopCategory.SPOT_INTERRUPTED, Severity.WARNING, "run the job again"),
        ("InfrastructureHealth", "Task stopped due to infrastructure health", [c("app", 143)], False,
         StopCategory.INFRA_REPLACED, Severity.INFO, "replacement"),
        ("InfrastructureHealth", "Task stopped due to infrastructure health", [c("app", 143)], True,
         StopCategory.INFRA_INTERRUPTED, Severity.WARNING, "run the job again"),
        # no stop code at all (old agents) and nonsense
        ("", ESSENTIAL, [c("app", 2)], True, StopCategory.APP_ERROR, Severity.ERROR, "misused"),
        ("", "", [], True, StopCategory.UNKNOWN, Severity.WARNING, "stopped reason"),
        ("SomethingNew", "", [c("app", 0)], True, StopCategory.COMPLETED, Severity.SUCCESS, None),
    ],
)
def test_classifier_table(stop_code, reason, containers, standalone, category, severity, hint_words):
    """Each documented stop code, reason prefix and exit code gives its category, severity and hint."""
    verdict = classify_stopped_task(stop_code, reason, containers, standalone=standalone)
    assert verdict.category is category
    assert verdict.severity is severity
    if hint_words is None:
        assert verdict.hint is None
    else:
        assert verdict.hint is not None and hint_words in verdict.hint


def test_the_deciding_container_and_exit_code_are_named():
    """The container that decided the category is named with its exit code; sidecars stopped after it are not."""
    verdict = classify_stopped_task(EXITED, ESSENTIAL, [c("log_router", 143), c("app", 1)], standalone=True)
    assert (verdict.container, verdict.exit_code, verdict.label) == ("app", 1, "exited with code 1")
    assert [x.hint is not None for x in verdict.containers] == [True, True]


def test_every_category_has_a_label_and_a_severity_in_the_one_table():
    """No category is missing from the labels or from the severity table."""
    for category in StopCategory:
        assert LABELS[category]
        assert (Kind.TASK, category) in SEVERITY


def test_every_reason_rule_is_reachable():
    """Each rule in the reason table is the first match for some reason, so none is shadowed."""
    for index, rule in enumerate(REASON_RULES):
        reason = f"{rule.prefix}: {rule.contains[0] if rule.contains else 'anything else'}"
        first = next(r for r in REASON_RULES if r.matches(reason))
        assert first is REASON_RULES[index], rule


@pytest.mark.parametrize(
    ("code", "words"),
    [(0, None), (None, None), (1, "error"), (126, "not executable"), (127, "not found"), (137, "SIGKILL"),
     (139, "SIGSEGV"), (143, "SIGTERM"), (130, "signal 2"), (3, "status 3"), (-1, "status -1")],
)
def test_exit_code_hints(code, words):
    """Common exit codes have a hint of their own; other signals name the signal; 0 and None have none."""
    hint = exit_code_hint(code)
    if words is None:
        assert hint is None
    else:
        assert hint is not None and words in hint
    if code in EXIT_CODE_HINTS:
        assert hint == EXIT_CODE_HINTS[code]


def test_the_docs_table_names_every_category_and_prefix():
    """docs/opsevents.md's classifier table lists every category, reason prefix and stop code the code knows."""
    doc = (Path(__file__).parents[2] / "docs" / "opsevents.md").read_text(encoding="utf-8")
    for category in StopCategory:
        assert f"`{category.value}`" in doc, category
    for rule in (*REASON_RULES, *SCHEDULER_RULES):
        assert rule.prefix in doc, rule.prefix
    for code in STOP_CODES:
        assert f"`{code}`" in doc, code
