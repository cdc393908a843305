"""The ops events orchestrator over real HTTP: Datadog emulator, Slack stand-in, S3 dead letter on moto."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import FakeContext
from opsfixtures import FIXTURE_NAMES, fixture

from logship.datadog.events import EventsClient
from logship.errors import ConfigError, DeliveryError
from logship.opsevents import OpsEvent, RoutingOptions, datadog_event, interpret, slack_message
from logship.opsevents.app import OpsEventsApp
from logship.opsevents.deadletter import Letter, replay
from logship.opsevents.sinks import Sink
from logship.retry import RetryPolicy
from logship.secrets import ApiKeyProvider
from logship.settings import Settings
from logship.slack import SlackWebhook

RETRY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=30.0)
OOM = "ecs-task-exit-137-oom"


@pytest.fixture
def build(intake, slack, local_aws) -> Iterator[Any]:
    """Build apps against the emulators (sleeps recorded, not slept); closed when the test ends."""
    apps: list[OpsEventsApp] = []

    def make(*, sleeps: list[float] | None = None, webhook: str | None = None, **env: str) -> OpsEventsApp:
        settings = Settings.from_env(
            {"DD_API_URL": intake.url, "DD_API_KEY": "k", "SLACK_WEBHOOK_URL": webhook or slack.url, **env}
        )
        waited: list[float] = sleeps if sleeps is not None else []
        record = waited.append
        sinks: dict[str, Sink] = {
            "datadog": EventsClient(settings.api, ApiKeyProvider(settings.api_key), RETRY, sleep=record)
        }
        if settings.events.slack.configured:
            options = dataclasses.replace(settings.events.slack, min_interval_seconds=0.0)
            sinks["slack"] = SlackWebhook(options, RETRY, sleep=record)
        app = OpsEventsApp(settings, sinks=sinks, client_factory=local_aws.client)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def canonical(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True)


def stored(intake) -> list[dict[str, Any]]:
    """The events Datadog received, without the fields Datadog adds."""
    return [{k: v for k, v in e.items() if k not in ("id", "url")} for e in intake.api.events]


def dead_letters(local_aws, bucket: str) -> dict[str, Letter]:
    """The dead-letter objects in ``bucket``, by key."""
    s3 = local_aws.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: Letter.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys}


def test_every_fixture_reaches_each_sink_it_should_exactly_once(intake, slack, local_aws):
    """Replaying all fixtures through one warm app: Datadog gets each distinct event once, Slack only errors and warnings."""
    settings = Settings.from_env({"DD_API_URL": intake.url, "DD_API_KEY": "k", "SLACK_WEBHOOK_URL": slack.url})
    slack_options = dataclasses.replace(settings.events.slack, min_interval_seconds=0.0)
    settings = dataclasses.replace(settings, events=dataclasses.replace(settings.events, slack=slack_options))
    expected_dd: dict[str, dict[str, Any]] = {}
    expected_slack: dict[str, dict[str, Any]] = {}
    routing = RoutingOptions()
    for name in FIXTURE_NAMES:
        for outcome in interpret(fixture(name), routing):
            if isinstance(outcome, OpsEvent):
                expected_dd.setdefault(outcome.dedup_key, datadog_event(outcome))
                if routing.goes_to_slack(outcome):
                    expected_slack.setdefault(outcome.dedup_key, slack_message(outcome))
    with OpsEventsApp(settings, client_factory=local_aws.client) as app:
        summaries = [app.handle(fixture(name), FakeContext()) for name in FIXTURE_NAMES]
    assert sorted(stored(intake), key=canonical) == sorted(expected_dd.values(), key=canonical)
    assert sorted(slack.messages, key=canonical) == sorted(expected_slack.values(), key=canonical)
    assert sum(s["datadog_sent"] for s in summaries) == len(expected_dd)
    assert sum(s["slack_sent"] for s in summaries) == len(expected_slack)
    assert sum(s["duplicates"] for s in summaries) == 2  # the SNS fixture repeats two events already sent
    assert all(s["lost"] == 0 and s["dead_lettered"] == 0 for s in summaries)


def test_datadog_5xx_then_success_sends_one_event(build, intake, slack):
    """Datadog answers 503, 502, then 202: one event exists, three requests were made, nothing else changes."""
    sleeps: list[float] = []
    intake.fail_next(503, 502)
    summary = build(sleeps=sleeps).handle(fixture(OOM), FakeContext())
    assert summary["datadog_sent"] == 1 and summary["datadog_requests"] == 3 and summary["datadog_failed"] == 0
    assert len(intake.api.events) == 1 and len(slack.messages) == 1
    assert len(sleeps) == 2


def test_slack_429_with_retry_after_is_waited_out(build, slack):
    """Slack answers 429 Retry-After: 4; the app waits those 4 seconds and the message arrives once."""
    sleeps: list[float] = []
    slack.fail_next(429, retry_after=4)
    summary = build(sleeps=sleeps).handle(fixture(OOM), FakeContext())
    assert summary["slack_sent"] == 1 and summary["slack_requests"] == 2
    assert 4.0 in sleeps
    assert [r.status for r in slack.requests] == [429, 200] and len(slack.messages) == 1


def test_slack_down_dead_letters_only_its_copy_and_replay_sends_it_once(build, intake, slack, local_aws, unique):
    """Slack fails every try: Datadog has the event once, the dead letter holds only Slack's copy, replay posts it once."""
    local_aws.client("s3").create_bucket(Bucket=unique)
    app = build(LOGSHIP_DEAD_LETTER_URI=f"s3://{unique}/dl")
    slack.fail_next(*[503] * RETRY.max_attempts)
    summary = app.handle(fixture(OOM), FakeContext())
    assert summary["datadog_sent"] == 1 and summary["slack_failed"] == 1
    assert summary["dead_lettered"] == 1 and summary["lost"] == 0
    letters = dead_letters(local_aws, unique)
    assert len(letters) == 1
    key, letter = next(iter(letters.items()))
    assert key.startswith("dl/opsevents/slack/") and key.endswith(".json")
    ops = interpret(fixture(OOM))[0]
    assert isinstance(ops, OpsEvent)
    assert letter.sink == "slack" and letter.body == slack_message(ops) and letter.dedup_key == ops.dedup_key
    assert "HTTP 503" in letter.reason

    report = replay(f"s3://{unique}/dl", app.sinks, local_aws.client("s3"))
    assert report.sent == {"slack": 1} and report.deleted == 1 and report.left == 0
    assert slack.messages == [slack_message(ops)]
    assert len(intake.api.events) == 1  # Datadog is never sent to again
    again = replay(f"s3://{unique}/dl/opsevents", app.sinks, local_aws.client("s3"))
    assert again.objects == 0 and len(slack.messages) == 1
    # A redelivery of the event is not notified again by this container, on either sink.
    assert app.handle(fixture(OOM), FakeContext())["duplicates"] == 1
    assert len(slack.messages) == 1 and len(intake.api.events) == 1


def test_datadog_down_dead_letters_only_its_copy(build, intake, slack, local_aws, unique):
    """Datadog fails every try: Slack has the message once, the dead letter holds the exact Events API body."""
    local_aws.client("s3").create_bucket(Bucket=unique)
    app = build(LOGSHIP_DEAD_LETTER_URI=f"s3://{unique}/dl")
    intake.fail_next(*[500] * RETRY.max_attempts)
    summary = app.handle(fixture(OOM), FakeContext())
    assert summary["slack_sent"] == 1 and summary["datadog_failed"] == 1 and summary["dead_lettered"] == 1
    (key, letter), = dead_letters(local_aws, unique).items()
    ops = interpret(fixture(OOM))[0]
    assert isinstance(ops, OpsEvent)
    assert key.startswith("dl/opsevents/datadog/") and letter.body == datadog_event(ops)
    report = replay(f"s3://{unique}/dl/opsevents/datadog", app.sinks, local_aws.client("s3"), restamp_after_seconds=None)
    assert report.sent == {"datadog": 1}
    assert stored(intake) == [datadog_event(ops)] and len(slack.messages) == 1


def test_without_a_dead_letter_a_failed_sink_fails_the_invocation_and_the_retry_sends_only_what_is_missing(
    build, intake, slack
):
    """No dead letter and Slack down: the invocation raises; Lambda's retry posts to Slack and not again to Datadog."""
    app = build()
    slack.fail_next(*[502] * RETRY.max_attempts)
    with pytest.raises(DeliveryError, match=r"1 message\(s\) not taken by slack and no dead letter is configured"):
        app.handle(fixture(OOM), FakeContext())
    assert len(intake.api.events) == 1 and slack.messages == []
    summary = app.handle(fixture(OOM), FakeContext())  # Lambda's async retry of the same event
    assert summary["slack_sent"] == 1 and summary["datadog_sent"] == 0
    assert len(intake.api.events) == 1 and len(slack.messages) == 1


def test_a_dead_letter_that_cannot_be_written_fails_the_invocation(build, slack, unique):
    """A dead-letter bucket that does not exist: the Slack copy cannot be kept, so the invocation raises."""
    app = build(LOGSHIP_DEAD_LETTER_URI=f"s3://{unique}-missing/dl")
    slack.fail_next(*[503] * RETRY.max_attempts)
    with pytest.raises(DeliveryError, match="the dead letter could not be written"):
        app.handle(fixture(OOM), FakeContext())


def test_a_redelivered_task_change_is_notified_once(build, intake, slack):
    """The same ECS change under a new event id (same task ARN and detail.version) is sent once; a new version is sent."""
    app = build()
    first = fixture(OOM)
    redelivered = copy.deepcopy(first)
    redelivered["id"] = "another-delivery-id"
    newer = copy.deepcopy(first)
    newer["id"], newer["detail"]["version"] = "newer-id", first["detail"]["version"] + 1
    results = [app.handle(e, FakeContext()) for e in (first, first, redelivered, newer)]
    assert [r["duplicates"] for r in results] == [0, 1, 1, 0]
    assert len(intake.api.events) == 2 and len(slack.messages) == 2


def test_unknown_input_is_counted_and_logged_once_per_kind(build, intake, caplog):
    """Unknown sources and detail-types never raise, are counted each time and logged once per kind."""
    app = build()
    caplog.set_level(logging.INFO, logger="logship")
    inputs = [fixture("unknown-source"), fixture("unknown-source"), fixture("ecs-container-instance-unknown-detail-type"),
              {"Records": "nope"}, [], "text", None]
    summaries = [app.handle(item, FakeContext()) for item in inputs]
    assert [s["skipped"] for s in summaries[:3]] == [
        {"unknown_source": 1}, {"unknown_source": 1}, {"unknown_detail_type": 1}
    ]
    assert all(s["events"] == 0 for s in summaries) and intake.api.events == []
    skipped = [r for r in caplog.records if r.getMessage().startswith("ops event skipped")]
    assert [r.__dict__["reason"] for r in skipped] == ["unknown_source", "unknown_detail_type", "not_an_event"]


def test_ignored_names_and_routing_options_are_applied(build, intake, slack):
    """LOGSHIP_EVENTS_IGNORE skips matching names for both sinks; LOGSHIP_SLACK_SEVERITIES=all sends info to Slack."""
    ignoring = build(LOGSHIP_EVENTS_IGNORE="^web$")
    assert ignoring.handle(fixture(OOM), FakeContext())["skipped"] == {"ignored": 1}
    assert intake.api.events == [] and slack.messages == []
    everything = build(LOGSHIP_SLACK_SEVERITIES="all")
    everything.handle(fixture("stepfunctions-running"), FakeContext())
    assert len(intake.api.events) == 1 and len(slack.messages) == 1


def test_without_a_webhook_events_go_to_datadog_only(intake, slack, local_aws):
    """No SLACK_WEBHOOK_URL (nor _SSM_NAME, _SECRET_ARN): Datadog gets the event, nothing is posted to Slack."""
    settings = Settings.from_env({"DD_API_URL": intake.url, "DD_API_KEY": "k"})
    with OpsEventsApp(settings, client_factory=local_aws.client) as app:
        summary = app.handle(fixture(OOM), FakeContext())
        assert set(app.sinks) == {"datadog"}
    assert summary["datadog_sent"] == 1 and summary["slack_not_routed"] == 1 and slack.requests == []


def test_no_datadog_key_configured_fails_the_invocation_before_sending(slack):
    """Without any Datadog key source the invocation raises ConfigError naming the variables; Slack gets nothing."""
    with OpsEventsApp(Settings.from_env({"SLACK_WEBHOOK_URL": slack.url})) as app, pytest.raises(
        ConfigError, match="no DD_API_KEY configured: set DD_API_KEY, DD_API_KEY_SSM_NAME or DD_API_KEY_SECRET_ARN"
    ):
        app.handle(fixture(OOM), FakeContext())
    assert slack.requests == []


def test_an_unreadable_webhook_secret_fails_the_invocation_before_sending(intake, local_aws, unique):
    """A webhook SSM parameter that does not exist raises ConfigError naming the variable; Datadog gets nothing."""
    settings = Settings.from_env(
        {"DD_API_URL": intake.url, "DD_API_KEY": "k", "SLACK_WEBHOOK_URL_SSM_NAME": f"/{unique}/missing"}
    )
    with OpsEventsApp(settings, client_factory=local_aws.client) as app, pytest.raises(
        ConfigError, match="check SLACK_WEBHOOK_URL_SSM_NAME"
    ):
        app.handle(fixture(OOM), FakeContext())
    assert intake.api.events == []


def test_with_datadog_turned_off_events_go_to_slack_only(slack, local_aws):
    """LOGSHIP_DATADOG_ENABLED=false: no key is needed, Slack gets the message, and with no webhook either it is an error."""
    settings = Settings.from_env({"LOGSHIP_DATADOG_ENABLED": "false", "SLACK_WEBHOOK_URL": slack.url})
    with OpsEventsApp(settings, client_factory=local_aws.client) as app:
        summary = app.handle(fixture(OOM), FakeContext())
        quiet = app.handle(fixture("stepfunctions-running"), FakeContext())
    assert summary["slack_sent"] == 1 and summary["datadog_sent"] == 0 and len(slack.messages) == 1
    assert quiet["events"] == 1 and quiet["duplicates"] == 0 and quiet["slack_not_routed"] == 1
    with OpsEventsApp(Settings.from_env({"LOGSHIP_DATADOG_ENABLED": "false"})) as app, pytest.raises(
        ConfigError, match="ops events have nowhere to go"
    ):
        app.handle(fixture(OOM), FakeContext())


def test_no_time_left_dead_letters_instead_of_sending(build, intake, slack, local_aws, unique):
    """With less time left than LOGSHIP_TIME_MARGIN_MS, nothing is sent and both copies are dead-lettered."""
    local_aws.client("s3").create_bucket(Bucket=unique)
    app = build(LOGSHIP_DEAD_LETTER_URI=f"s3://{unique}/dl")
    summary = app.handle(fixture(OOM), FakeContext(remaining_ms=1_000))
    assert summary["dead_lettered"] == 2 and intake.api.events == [] and slack.requests == []
    assert sorted(letter.sink for letter in dead_letters(local_aws, unique).values()) == ["datadog", "slack"]


def test_the_webhook_url_is_never_logged_nor_dead_lettered(build, slack, local_aws, unique, caplog):
    """Through every failure path (404 on a wrong token, 5xx, dead letter) the webhook's secret path appears nowhere."""
    local_aws.client("s3").create_bucket(Bucket=unique)
    caplog.set_level(logging.DEBUG, logger="logship")
    wrong = slack.url + "-revoked"
    app = build(webhook=wrong, LOGSHIP_DEAD_LETTER_URI=f"s3://{unique}/dl")
    refused = app.handle(fixture(OOM), FakeContext())
    slack.fail_next(*[500] * RETRY.max_attempts)
    failed = app.handle(fixture("ecs-task-exit-1"), FakeContext())
    assert refused["slack_failed"] == failed["slack_failed"] == 1
    assert refused["dead_lettered"] == failed["dead_lettered"] == 1
    assert [r.status for r in slack.requests] == [404] + [500] * RETRY.max_attempts
    token = wrong.rsplit("/", 1)[-1]
    # logship's own log lines; urllib3's DEBUG lines (off unless the root logger is set to DEBUG) name request paths.
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("logship"))
    assert "no_service" in logged and token not in logged and slack.path not in logged
    for letter in dead_letters(local_aws, unique).values():
        assert token not in letter.to_json().decode()
