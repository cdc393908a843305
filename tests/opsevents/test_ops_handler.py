"""The ops events Lambda entry point: no I/O at import, the handler's path end to end, any JSON never raises."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opsfixtures import FIXTURE_NAMES, FIXTURES, fixture

from logship.datadog.events import EventsClient
from logship.errors import DeliveryError
from logship.opsevents.app import OpsEventsApp
from logship.opsevents.sinks import Sink
from logship.retry import RetryPolicy
from logship.secrets import ApiKeyProvider
from logship.settings import Settings
from logship.slack import SlackWebhook
from logship.testing.emulator import IntakeEmulator
from logship.testing.slack import SlackWebhookEmulator, message_problems

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_handler_does_no_network_io_and_builds_no_client():
    """Importing handlers.events opens no socket, imports neither boto3 nor datadog-api-client."""
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise AssertionError('network I/O at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "import handlers.events\n"
        "assert 'boto3' not in sys.modules, 'boto3 imported at import time'\n"
        "assert 'datadog_api_client' not in sys.modules, 'datadog-api-client imported at import time'\n"
        "print('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def test_the_handler_sends_a_fixture_and_loads_no_dev_kit_module(intake, slack):
    """handlers.events.handler, configured by the environment, sends to both stand-ins; nothing of logship.testing loads."""
    code = (
        "import json, sys\n"
        "import handlers.events\n"
        "event = json.load(open(sys.argv[1]))\n"
        "first = handlers.events.handler(event, None)\n"
        "again = handlers.events.handler(event, None)\n"
        "assert (first['datadog_sent'], first['slack_sent'], again['duplicates']) == (1, 1, 1), (first, again)\n"
        "dev = sorted(m for m in sys.modules if m.startswith(('logship.testing', 'http.server', 'moto', 'hypothesis')))\n"
        "print(','.join(dev) or 'clean')\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DD_API_URL": intake.url,
        "DD_API_KEY": "k",
        "SLACK_WEBHOOK_URL": slack.url,
        "DD_TAGS": "env:test",
    }
    path = str(FIXTURES / "ecs-task-exit-137-oom.json")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"
    assert len(intake.api.events) == 1 and "env:test" in intake.api.events[0]["tags"]
    assert len(slack.messages) == 1
    assert slack.url not in out.stderr and slack.path not in out.stderr  # its one JSON log line per invocation
    assert '"message":"ops events invocation"' in out.stderr


def test_the_handler_fails_when_a_sink_is_down_and_no_dead_letter_is_set(intake, slack):
    """Through handlers.events: Slack down and no dead letter, the invocation exits with DeliveryError."""
    code = (
        "import json, sys\n"
        "import handlers.events\n"
        "handlers.events.handler(json.load(open(sys.argv[1])), None)\n"
    )
    slack.fail_next(*[503] * 100)
    env = {"PATH": os.environ.get("PATH", ""), "DD_API_URL": intake.url, "DD_API_KEY": "k", "SLACK_WEBHOOK_URL": slack.url}
    path = str(FIXTURES / "ecs-task-exit-1.json")
    # A short Lambda budget: LOGSHIP_TIME_MARGIN_MS leaves one second of the default minute for retries.
    env["LOGSHIP_TIME_MARGIN_MS"] = "59000"
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert out.returncode == 1
    assert "DeliveryError: 1 message(s) not taken by slack and no dead letter is configured" in out.stderr
    assert len(intake.api.events) == 1


# --- any JSON object through the handler's path --------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(["source", "detail-type", "detail", "id", "time", "region", "account", "resources",
                        "Records", "lastStatus", "stopCode", "containers", "exitCode", "state", "status"])


@st.composite
def mutated_fixture(draw: st.DrawFn) -> dict[str, Any]:
    """A fixture event with random fields replaced, removed or added, at the top and in ``detail``."""
    event: dict[str, Any] = fixture(draw(st.sampled_from(FIXTURE_NAMES)))
    if "Records" in event:
        return event
    event["id"] = draw(st.text(max_size=20))  # a fresh id each time, so dedup does not hide the sinks
    target = event["detail"] if draw(st.booleans()) and isinstance(event.get("detail"), dict) else event
    for _ in range(draw(st.integers(0, 3))):
        key = draw(KEYS | st.sampled_from(sorted(target)) if target else KEYS)
        if draw(st.booleans()):
            target[key] = draw(JSON)
        else:
            target.pop(key, None)
    return event


EVENTS = st.dictionaries(st.text(max_size=12) | KEYS, JSON, max_size=8) | mutated_fixture()


@pytest.fixture(scope="module")
def stand_ins():
    with IntakeEmulator() as datadog, SlackWebhookEmulator() as slack:
        yield datadog, slack


def quick_app(datadog: IntakeEmulator, slack: SlackWebhookEmulator) -> OpsEventsApp:
    environ = {"DD_API_URL": datadog.url, "DD_API_KEY": "k", "SLACK_WEBHOOK_URL": slack.url, "LOGSHIP_SLACK_SEVERITIES": "all"}
    config = Settings.from_env(environ)
    retry = RetryPolicy(max_attempts=2, base_seconds=0.0, cap_seconds=0.0)
    sinks: dict[str, Sink] = {
        "datadog": EventsClient(config.api, ApiKeyProvider(config.api_key), retry),
        "slack": SlackWebhook(dataclasses.replace(config.events.slack, min_interval_seconds=0.0), retry),
    }
    return OpsEventsApp(config, sinks=sinks)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(EVENTS)
def test_any_json_object_never_raises_and_every_body_sent_is_accepted(stand_ins, payload):
    """Any JSON object as the Lambda payload: no exception, and every message sent is one both receivers accept."""
    datadog, slack = stand_ins
    before = (len(datadog.api.events), len(slack.messages))
    with quick_app(datadog, slack) as app:
        summary = app.handle(json.loads(json.dumps(payload)), FakeContext())
    assert summary["lost"] == 0 and summary["datadog_failed"] == summary["slack_failed"] == 0
    assert len(datadog.api.events) - before[0] == summary["datadog_sent"]
    assert len(slack.messages) - before[1] == summary["slack_sent"]
    assert all(message_problems(m) == [] for m in slack.messages[before[1]:])


def test_only_a_final_sink_failure_raises(stand_ins):
    """The one exception the handler's path lets out: a message neither delivered nor dead-lettered."""
    datadog, slack = stand_ins
    slack.fail_next(400, 400)
    with quick_app(datadog, slack) as app, pytest.raises(DeliveryError):
        app.handle(fixture("ecs-task-exit-1"), FakeContext())
