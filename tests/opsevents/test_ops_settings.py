"""The ops events section of Settings: read once from a mapping, the webhook a secret, every bad value reported."""

from __future__ import annotations

import pytest

from logship.errors import ConfigError
from logship.opsevents import Severity
from logship.settings import ALL_ENV_NAMES, Settings

WEBHOOK = "https://hooks.slack.com/services/T000/B000/secret-token-123"


def test_defaults_send_errors_and_warnings_to_slack_and_need_no_webhook():
    """Nothing set: no webhook (Datadog only), error and warning for Slack, nothing ignored."""
    events = Settings.from_env({}).events
    assert not events.slack.configured
    assert events.routing.slack_severities == {Severity.ERROR, Severity.WARNING}
    assert events.routing.ignore is None
    assert events == Settings().events


def test_each_variable_reaches_its_field():
    """The webhook from each of its three sources, the severities and the ignore pattern are read."""
    settings = Settings.from_env(
        {
            "SLACK_WEBHOOK_URL": WEBHOOK,
            "LOGSHIP_SLACK_SEVERITIES": "Error, success",
            "LOGSHIP_EVENTS_IGNORE": "^test-|-sandbox$",
            "DD_TAGS": "env:prod",
            "DD_API_URL": "http://127.0.0.1:9/",
        }
    )
    events = settings.events
    assert events.slack.webhook.value == WEBHOOK and events.slack.webhook.env_name == "SLACK_WEBHOOK_URL"
    assert events.routing.slack_severities == {Severity.ERROR, Severity.SUCCESS}
    assert events.routing.ignores(("prod-web", "test-web")) == "test-web"
    assert settings.tags == ("env:prod",) and settings.api.url == "http://127.0.0.1:9"
    ssm = Settings.from_env({"SLACK_WEBHOOK_URL_SSM_NAME": "/slack/webhook"}).events.slack.webhook
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf"
    sm = Settings.from_env({"SLACK_WEBHOOK_URL_SECRET_ARN": arn}).events.slack.webhook
    assert (ssm.ssm_name, ssm.describe()) == ("/slack/webhook", "SSM parameter /slack/webhook")
    assert sm.secret_arn == arn and sm.configured


def test_the_webhook_url_is_never_shown():
    """The webhook's repr and a bad-URL error name the variable, never the value."""
    settings = Settings.from_env({"SLACK_WEBHOOK_URL": WEBHOOK})
    assert "secret-token-123" not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SLACK_WEBHOOK_URL": "hooks.slack.com/services/T000/B000/secret-token-123"})
    assert "SLACK_WEBHOOK_URL must be an https:// URL" in str(caught.value)
    assert "secret-token-123" not in str(caught.value)


def test_bad_values_are_reported_together_naming_each_variable():
    """An unknown severity and a pattern matching every name are both reported in one ConfigError."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"LOGSHIP_SLACK_SEVERITIES": "error,critical", "LOGSHIP_EVENTS_IGNORE": ".*"})
    message = str(caught.value)
    assert "LOGSHIP_SLACK_SEVERITIES: unknown severity 'critical'" in message
    assert "LOGSHIP_EVENTS_IGNORE: the pattern '.*' matches an empty string" in message


def test_every_ops_events_variable_is_listed():
    """The new variables are in ALL_ENV_NAMES (the docs table and the template checks read it)."""
    assert {
        "SLACK_WEBHOOK_URL",
        "SLACK_WEBHOOK_URL_SSM_NAME",
        "SLACK_WEBHOOK_URL_SECRET_ARN",
        "LOGSHIP_SLACK_SEVERITIES",
        "LOGSHIP_EVENTS_IGNORE",
    } <= set(ALL_ENV_NAMES)


def test_reading_settings_loads_no_event_reader():
    """Settings imports only the ops events options, so the Firehose Lambda's cold start pays nothing for them."""
    import subprocess
    import sys

    code = (
        "import sys, logship.settings\n"
        "print(sorted(m for m in sys.modules if m.startswith('logship.opsevents')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['logship.opsevents', 'logship.opsevents.model', 'logship.opsevents.options']"
