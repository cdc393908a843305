"""Datadog's API through datadog-api-client against the emulator: events, metrics, monitors, key validation."""

from __future__ import annotations

from typing import Any

import pytest
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v1.api.authentication_api import AuthenticationApi
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.event_alert_type import EventAlertType
from datadog_api_client.v1.model.event_create_request import EventCreateRequest
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
from datadog_api_client.v2.model.metric_payload import MetricPayload
from datadog_api_client.v2.model.metric_point import MetricPoint
from datadog_api_client.v2.model.metric_series import MetricSeries

from logship.datadog.api import ApiOptions, api_client
from logship.testing.datadog_api import validate_monitor


def client(intake, api_key: str = "k", app_key: str | None = "a"):
    return api_client(ApiOptions(intake.url, max_retries=0), api_key, app_key)


def test_an_event_is_created_and_kept(intake):
    """POST /api/v1/events through the official client lands in the emulator with its fields."""
    with client(intake) as api:
        answer = EventsApi(api).create_event(
            EventCreateRequest(title="task failed", text="exit 137", alert_type=EventAlertType.ERROR, tags=["cluster:web"])
        )
    assert answer.status == "ok"
    [event] = intake.api.events
    assert (event["title"], event["alert_type"], event["tags"]) == ("task failed", "error", ["cluster:web"])


def test_a_refused_key_fails_validation_and_event(intake):
    """A key the emulator does not accept: validate says not valid (403), events are refused."""
    intake.api_keys = {"good"}
    with client(intake, api_key="bad") as api:
        with pytest.raises(ApiException) as caught:
            AuthenticationApi(api).validate()
        assert caught.value.status == 403
    with client(intake, api_key="good") as api:
        assert AuthenticationApi(api).validate().valid is True


def test_metrics_are_received_as_series(intake):
    """POST /api/v2/series keeps each series with its tags and points."""
    series = MetricSeries(
        metric="logship.tasks.running",
        type=MetricIntakeType.GAUGE,
        points=[MetricPoint(timestamp=1_700_000_000, value=3.0)],
        tags=["cluster:web"],
    )
    with client(intake) as api:
        MetricsApi(api).submit_metrics(body=MetricPayload(series=[series]))
    [got] = intake.api.series
    assert got["metric"] == "logship.tasks.running" and got["tags"] == ["cluster:web"]


def test_monitors_are_created_listed_by_tag_updated_and_deleted(intake):
    """The monitor lifecycle a plan/apply needs, with the application key."""
    monitor = Monitor(
        name="billing is alive",
        type=MonitorType.LOG_ALERT,
        query='logs("service:billing").index("*").rollup("count").last("2h") < 1',
        message="no logs @slack-ops",
        tags=["managed-by:logship", "service:billing"],
    )
    with client(intake) as api:
        monitors = MonitorsApi(api)
        created = monitors.create_monitor(body=monitor)
        assert [m.id for m in monitors.list_monitors(monitor_tags="managed-by:logship")] == [created.id]
        assert monitors.list_monitors(monitor_tags="managed-by:someone-else") == []
        monitors.update_monitor(created.id, body=MonitorUpdateRequest(message="still no logs"))
        assert monitors.get_monitor(created.id).message == "still no logs"
        monitors.delete_monitor(created.id)
        assert monitors.list_monitors() == []


def test_monitor_paths_need_an_application_key(intake):
    """Without DD-APPLICATION-KEY the monitor API answers 403."""
    with client(intake, app_key=None) as api, pytest.raises(ApiException) as caught:
        MonitorsApi(api).list_monitors()
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("monitor", "problem"),
    [
        ({"type": "log alert", "query": 'logs("x").last("1h") < 1'}, "name is required"),
        ({"name": "n", "type": "nope", "query": "avg:x{*} > 1"}, "invalid type"),
        ({"name": "n", "type": "log alert", "query": 'events("x").last("1h") < 1'}, "starts with 'logs('"),
        ({"name": "n", "type": "log alert", "query": 'logs("x").last("1h")'}, "comparison"),
        (
            {"name": "n", "type": "log alert", "query": 'logs("x").last("1h") > 5', "options": {"thresholds": {"critical": 3}}},
            "must equal",
        ),
        ({"name": "n", "type": "log alert", "query": 'logs("x").last("3d") < 1'}, 'needs .last("#m")'),
        ({"name": "n", "type": "log alert", "query": 'logs("x").last("49h") < 1'}, "1 minute to 48 hours"),
        ({"name": "n", "type": "query alert", "query": "sum(last_169h):sum:m{*}.as_count() < 1"}, "1 minute to 1 week"),
        ({"name": "n", "type": "log alert", "query": 'logs("x").last("1h") < 1', "priority": 9}, "priority must be"),
        (
            {"name": "n", "type": "log alert", "query": 'logs("x").last("1h") < 1', "options": {"notify_when": 1}},
            "unknown option 'notify_when'",
        ),
        (
            {"name": "n", "type": "log alert", "query": 'logs("x").last("1h") < 1', "options": {"on_missing_data": "zero"}},
            "on_missing_data must be one of",
        ),
    ],
)
def test_monitor_validation_names_the_problem(monitor, problem):
    """Invalid monitors are refused with a reason naming what is wrong."""
    assert any(problem in p for p in validate_monitor(monitor))


def test_a_valid_monitor_has_no_problems():
    """A well-formed log monitor passes validation."""
    monitor = {
        "name": "n",
        "type": "log alert",
        "query": 'logs("service:x").index("*").rollup("count").last("2h") < 1',
        "options": {"thresholds": {"critical": 1}},
        "tags": ["a:b"],
    }
    assert validate_monitor(monitor) == []


def test_log_based_metrics_are_created_listed_updated_and_refused_twice(intake):
    """/api/v2/logs/config/metrics: create, list, get, a second create is 409, update changes filter and grouping, 404."""
    from datadog_api_client.v2.api.logs_metrics_api import LogsMetricsApi
    from datadog_api_client.v2.model.logs_metric_create_request import LogsMetricCreateRequest
    from datadog_api_client.v2.model.logs_metric_update_request import LogsMetricUpdateRequest

    create: dict[str, Any] = {
        "data": {
            "id": "cron.log_events",
            "type": "logs_metrics",
            "attributes": {
                "compute": {"aggregation_type": "count"},
                "filter": {"query": "*"},
                "group_by": [{"path": "service", "tag_name": "service"}],
            },
        }
    }
    with client(intake) as api:
        metrics = LogsMetricsApi(api)
        created = metrics.create_logs_metric(body=LogsMetricCreateRequest(**create))
        assert created.data.id == "cron.log_events"
        assert [m.id for m in metrics.list_logs_metrics().data] == ["cron.log_events"]
        with pytest.raises(ApiException) as conflict:
            metrics.create_logs_metric(body=LogsMetricCreateRequest(**create))
        assert conflict.value.status == 409
        update: dict[str, Any] = {"data": {"type": "logs_metrics", "attributes": {"filter": {"query": "service:*"}}}}
        metrics.update_logs_metric("cron.log_events", body=LogsMetricUpdateRequest(**update))
        got = metrics.get_logs_metric("cron.log_events").data.attributes
        assert got.filter.query == "service:*" and str(got.compute.aggregation_type) == "count"
        with pytest.raises(ApiException) as missing:
            metrics.get_logs_metric("nope")
        assert missing.value.status == 404
    assert intake.api.log_metrics["cron.log_events"]["attributes"]["group_by"] == [{"path": "service", "tag_name": "service"}]


def test_log_based_metric_paths_need_an_application_key(intake):
    """Without DD-APPLICATION-KEY the log-based metrics API answers 403, as the monitors API does."""
    from datadog_api_client.v2.api.logs_metrics_api import LogsMetricsApi

    with client(intake, app_key=None) as api, pytest.raises(ApiException) as caught:
        LogsMetricsApi(api).list_logs_metrics()
    assert caught.value.status == 403
