"""Log router wrappers: which records wrap an app's line, and how the wrapper's fields join the app's."""

from __future__ import annotations

import pytest

from logship.firehose.wrappers import is_wrapper, line_of, merge

FIRELENS = {
    "log": '{"level":"error","msg":"boom"}',
    "source": "stderr",
    "container_id": "0123abcd",
    "container_name": "app",
    "ecs_cluster": "prod",
    "ecs_task_arn": "arn:aws:ecs:us-east-1:123456789012:task/prod/0f1e2d3c",
    "ecs_task_definition": "app:7",
}


@pytest.mark.parametrize(
    "record",
    [
        FIRELENS,
        {"log": "line", "source": "stdout", "container_id": "c", "container_name": "/app"},  # no ECS metadata
        {"log": "line\n", "stream": "stderr", "time": "2024-01-01T00:00:00.123456789Z"},  # Docker json-file
        {"log": "part", "container_id": "c", "source": "stdout", "partial_message": "true", "partial_id": "p"},
        {"log": "line"},  # fluent-bit tail without a parser
        {"log": "line", "date": 1700000000.5},  # ... with its Time_Key
    ],
)
def test_router_records_are_wrappers(record):
    """FireLens, the fluentd driver, Docker's json-file and fluent-bit's tail records wrap an app's line."""
    assert is_wrapper(record)


@pytest.mark.parametrize(
    "record",
    [
        {"log": {"level": "error", "logger": "a"}, "message": "ECS logging's nested log object"},
        {"msg": "an app's own log field", "log": "kept as it is"},
        {"log": None, "source": "stdout"},
        {"message": "no log at all", "stream": "stdout"},
    ],
)
def test_app_logs_with_a_log_field_are_not_wrappers(record):
    """An app's own ``log`` field (an object, or text beside the app's fields) is left alone."""
    assert not is_wrapper(record)


def test_the_line_loses_the_line_end_docker_keeps():
    """Docker's json-file keeps the newline of each line; the message does not."""
    assert line_of({"log": "boom\r\n"}) == "boom"


def test_merge_keeps_wrapper_fields_and_the_apps_own_win():
    """The wrapper's fields join the app's log; on a clash the app's value wins and the wrapper's is kept aside."""
    merged = merge(FIRELENS | {"source": "stderr"}, {"level": "error", "source": "billing-api"})
    assert merged == {
        "level": "error",
        "source": "billing-api",
        "container_id": "0123abcd",
        "container_name": "app",
        "ecs_cluster": "prod",
        "ecs_task_arn": FIRELENS["ecs_task_arn"],
        "ecs_task_definition": "app:7",
        "logship": {"wrapper": {"source": "stderr"}},
    }
