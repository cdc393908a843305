"""The two senders over real HTTP: Datadog's Events API (datadog-api-client) and a Slack incoming webhook."""

from __future__ import annotations

import json
import socket
import time

from opsfixtures import event

from logship.datadog.api import ApiOptions
from logship.datadog.events import EventsClient
from logship.opsevents import datadog_event, slack_message
from logship.retry import RetryPolicy
from logship.secrets import ApiKeyProvider, SecretProvider, SecretSource
from logship.slack import WEBHOOK_URL_FIELDS, SlackOptions, SlackWebhook

RETRY = RetryPolicy(max_attempts=5, base_seconds=0.01, cap_seconds=30.0)
BODY = datadog_event(event("ecs-task-exit-137-oom"))
MESSAGE = slack_message(event("ecs-task-exit-137-oom"))


def deadline(seconds: float = 60.0) -> float:
    return time.monotonic() + seconds


def events_client(intake, sleeps, key: str = "k", retry: RetryPolicy = RETRY) -> EventsClient:
    keys = ApiKeyProvider(SecretSource(value=key))
    return EventsClient(ApiOptions(url=intake.url), keys, retry, sleep=sleeps.append)


def webhook(url: str, sleeps, *, interval: float = 0.0, secrets: SecretProvider | None = None) -> SlackWebhook:
    source = SecretSource(env_name="SLACK_WEBHOOK_URL", value=url, json_fields=WEBHOOK_URL_FIELDS)
    options = SlackOptions(webhook=source, min_interval_seconds=interval)
    return SlackWebhook(options, RETRY, secrets=secrets, sleep=sleeps.append)


def no_sleep(seconds: float) -> None:
    """Waits nothing: these tests check what was asked to be waited, not the clock."""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Datadog ------------------------------------------------------------------


def test_datadog_event_is_created_once_after_5xx_answers(intake):
    """Two 5xx answers are retried with backoff; the third try creates the event, and only one exists."""
    sleeps: list[float] = []
    intake.fail_next(503, 500)
    client = events_client(intake, sleeps)
    result = client.send(BODY, deadline())
    client.close()
    assert result.delivered and result.attempts == 3
    assert len(sleeps) == 2
    assert [e["title"] for e in intake.api.events] == [BODY["title"]]
    stored = {k: v for k, v in intake.api.events[0].items() if k not in ("id", "url")}
    assert stored == BODY


def test_datadog_rate_limit_reset_is_honoured(intake):
    """A 429 with X-Ratelimit-Reset waits that many seconds (Datadog's own header), then sends."""
    sleeps: list[float] = []
    intake.fail_next(429, retry_after=7)  # the emulator sends Retry-After; answers.py reads both names
    result = events_client(intake, sleeps).send(BODY, deadline())
    assert result.delivered and sleeps == [7.0]


def test_datadog_400_is_final_and_not_retried(intake):
    """A refused event (400) stops at once, marked final, with Datadog's answer in the error."""
    sleeps: list[float] = []
    intake.fail_next(400)
    result = events_client(intake, sleeps).send(BODY, deadline())
    assert not result.delivered and result.final and result.attempts == 1 and result.status == 400
    assert "Datadog refused the event: HTTP 400" in result.error
    assert sleeps == [] and intake.api.events == []


def test_datadog_refused_key_is_refetched_once_from_ssm(intake, local_aws, unique):
    """A 403 refetches the key from its SSM parameter (rotated meanwhile) and the retry is accepted."""
    ssm = local_aws.client("ssm")
    name = f"/{unique}/dd-api-key"
    ssm.put_parameter(Name=name, Value="old-key", Type="SecureString")
    keys = ApiKeyProvider(SecretSource(ssm_name=name), local_aws.client)
    assert keys.get() == "old-key"
    ssm.put_parameter(Name=name, Value="new-key", Type="SecureString", Overwrite=True)
    intake.api_keys = {"new-key"}
    result = EventsClient(ApiOptions(url=intake.url), keys, RETRY, sleep=no_sleep).send(BODY, deadline())
    assert result.delivered and result.attempts == 1  # the refetch is not a retry of the policy
    assert len(intake.api.events) == 1


def test_datadog_refused_key_names_its_source_never_the_key(intake):
    """A key refused again stops with an error naming where the key comes from, without the key."""
    intake.api_keys = {"right"}
    result = events_client(intake, [], key="wrong-secret-key").send(BODY, deadline())
    assert not result.delivered and result.final and result.status == 403
    assert "environment variable DD_API_KEY" in result.error
    assert "wrong-secret-key" not in result.error


def test_datadog_dropped_connection_is_retried(intake):
    """No answer at all (the connection dropped) is retried like a 5xx."""
    intake.fail_next(0)
    result = events_client(intake, []).send(BODY, deadline())
    assert result.delivered and result.attempts == 2


def test_datadog_unreachable_gives_up_within_the_deadline():
    """Nothing listening: tries until attempts run out, then reports not delivered (not final), without raising."""
    options = ApiOptions(url=f"http://127.0.0.1:{closed_port()}", timeout_seconds=1)
    client = EventsClient(options, ApiKeyProvider(SecretSource(value="k")), RETRY, sleep=no_sleep)
    result = client.send(BODY, deadline())
    assert not result.delivered and not result.final and result.attempts == RETRY.max_attempts
    assert result.status is None and "no answer" in result.error


def test_datadog_past_deadline_sends_nothing(intake):
    """A deadline already past makes no request at all."""
    result = events_client(intake, []).send(BODY, time.monotonic() - 1)
    assert not result.delivered and intake.api.events == []
    assert "out of time" in result.error


# --- Slack ----------------------------------------------------------------------


def test_slack_message_is_posted_once(slack):
    """A message is posted to the webhook and arrives as sent."""
    result = webhook(slack.url, []).send(MESSAGE, deadline())
    assert result.delivered and result.status == 200
    assert slack.messages == [MESSAGE]


def test_slack_429_waits_the_retry_after_seconds(slack):
    """A 429 with Retry-After: 3 waits exactly 3 seconds (the server's word, not the backoff), then posts."""
    sleeps: list[float] = []
    slack.fail_next(429, retry_after=3)
    result = webhook(slack.url, sleeps).send(MESSAGE, deadline())
    assert result.delivered and result.attempts == 2
    assert sleeps == [3.0]
    assert [r.status for r in slack.requests] == [429, 200]
    assert len(slack.messages) == 1


def test_slack_retry_after_past_the_deadline_gives_up(slack):
    """A Retry-After that would end after the deadline is not waited for: not delivered, not final."""
    sleeps: list[float] = []
    slack.fail_next(429, retry_after=20)
    result = webhook(slack.url, sleeps).send(MESSAGE, deadline(5))
    assert not result.delivered and not result.final and sleeps == []
    assert "HTTP 429 rate_limited" in result.error and "stopped by time" in result.error


def test_slack_5xx_is_retried(slack):
    """rollup_error (500) and a dropped connection are retried; the message arrives once."""
    slack.fail_next(500, 0)
    result = webhook(slack.url, []).send(MESSAGE, deadline())
    assert result.delivered and result.attempts == 3 and len(slack.messages) == 1


def test_slack_invalid_payload_is_final(slack):
    """A body over Slack's 50 blocks is refused with invalid_payload, and not retried."""
    too_many = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "b"}}] * 51}
    result = webhook(slack.url, []).send(too_many, deadline())
    assert not result.delivered and result.final and result.attempts == 1
    assert result.error == "Slack refused the message: HTTP 400 invalid_payload"


def test_slack_pacing_keeps_about_a_second_between_messages(slack):
    """A second message right after the first waits for the rest of the one-second interval first."""
    sleeps: list[float] = []
    sender = webhook(slack.url, sleeps, interval=1.0)
    assert sender.send(MESSAGE, deadline()).delivered
    assert sender.send(MESSAGE, deadline()).delivered
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1.0
    assert len(slack.messages) == 2


def test_slack_webhook_url_never_appears_in_an_error(slack):
    """A wrong webhook path (404 no_service) and an unreachable host give errors without the URL's secret path."""
    wrong = slack.url + "x"
    refused = webhook(wrong, []).send(MESSAGE, deadline())
    assert refused.final and refused.status == 404 and "no_service" in refused.error
    gone = f"http://127.0.0.1:{closed_port()}/services/T1/B1/very-secret-token"
    unreachable = webhook(gone, []).send(MESSAGE, deadline())
    assert not unreachable.delivered and unreachable.status is None
    for result, url in ((refused, wrong), (unreachable, gone)):
        assert url not in result.error
        assert url.rsplit("/", 1)[-1] not in result.error


def test_slack_rotated_webhook_is_refetched_once(slack, local_aws, unique):
    """A revoked URL (404) refetches the secret from Secrets Manager; the rotated URL then takes the message."""
    sm = local_aws.client("secretsmanager")
    arn = sm.create_secret(Name=unique, SecretString=json.dumps({"SLACK_WEBHOOK_URL": slack.url + "-old"}))["ARN"]
    source = SecretSource(env_name="SLACK_WEBHOOK_URL", secret_arn=arn, json_fields=WEBHOOK_URL_FIELDS)
    secrets = SecretProvider(source, local_aws.client)
    assert secrets.get().endswith("-old")
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"SLACK_WEBHOOK_URL": slack.url}))
    result = webhook("unused", [], secrets=secrets).send(MESSAGE, deadline())
    assert result.delivered and [r.status for r in slack.requests] == [404, 200]


def test_slack_secret_that_is_not_a_url_is_refused_without_quoting_it():
    """A secret holding something other than a URL stops with an error naming the variable, not the value."""
    result = webhook("not-a-url-but-secret", []).send(MESSAGE, deadline())
    assert result.final and not result.delivered
    assert result.error == "SLACK_WEBHOOK_URL from environment variable SLACK_WEBHOOK_URL is not an http(s) URL"
