"""Settings: parsed once from a mapping, defaults of the original design, every bad value reported."""

from __future__ import annotations

import pytest

from logship.errors import ConfigError
from logship.settings import ALL_ENV_NAMES, Settings


def test_defaults_follow_the_original_design():
    """With nothing set: ddsource firehose, JSON only, gzip lines, 6,000,000-byte response."""
    settings = Settings.from_env({})
    assert settings.dd_source == "firehose"
    assert settings.only_json is True
    assert (settings.output_format, settings.output_compression) == ("lines", "gzip")
    assert settings.response_limit_bytes == 6_000_000
    assert settings.intake_url == "https://http-intake.logs.datadoghq.com/api/v2/logs"


def test_env_values_are_parsed():
    """Each variable reaches its field."""
    settings = Settings.from_env(
        {
            "DD_TAGS": "env:prod, team:sre,,",
            "ONLY_JSON": "false",
            "DD_SITE": "datadoghq.eu",
            "LOGSHIP_RESPONSE_LIMIT_BYTES": "2_000",
            "LOGSHIP_OUTPUT_FORMAT": "jsonl",
            "LOGSHIP_PARTITION_KEYS": "true",
            "LOGSHIP_DEAD_LETTER_URI": "s3://my-bucket/dead",
        }
    )
    assert settings.dd_tags == ("env:prod", "team:sre")
    assert settings.only_json is False
    assert settings.intake_url == "https://http-intake.logs.datadoghq.eu/api/v2/logs"
    assert settings.response_limit_bytes == 2000
    assert settings.output_format == "jsonl"
    assert settings.partition_keys is True
    assert settings.dead_letter_uri == "s3://my-bucket/dead"


def test_dd_url_overrides_the_site():
    """DD_URL is a full base URL; logs go to $DD_URL/api/v2/logs."""
    assert Settings.from_env({"DD_URL": "http://127.0.0.1:8080/"}).intake_url == "http://127.0.0.1:8080/api/v2/logs"


def test_every_problem_is_reported_at_once():
    """Several bad values give one ConfigError naming each variable."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "ONLY_JSON": "maybe",
                "LOGSHIP_RESPONSE_LIMIT_BYTES": "7000000",
                "LOGSHIP_LOG_GROUP_PATTERN": "(?P<team>x)",
                "LOGSHIP_DEAD_LETTER_URI": "bucket/prefix",
                "LOGSHIP_REDACT": "email,phone",
                "LOGSHIP_INCLUDE_AT_MATCH": "(",
            }
        )
    text = str(caught.value)
    for name in (
        "ONLY_JSON",
        "LOGSHIP_RESPONSE_LIMIT_BYTES",
        "LOGSHIP_LOG_GROUP_PATTERN",
        "LOGSHIP_DEAD_LETTER_URI",
        "LOGSHIP_REDACT",
        "LOGSHIP_INCLUDE_AT_MATCH",
    ):
        assert name in text


def test_the_api_key_is_not_in_the_repr():
    """The key never shows in repr (and so never in a log of the settings)."""
    settings = Settings.from_env({"DD_API_KEY": "secret-key-123"})
    assert "secret-key-123" not in repr(settings)
    assert settings.api_key_source == "environment variable DD_API_KEY"


def test_all_env_names_are_unique_and_complete():
    """ALL_ENV_NAMES lists each variable once, including the original design's names."""
    assert len(set(ALL_ENV_NAMES)) == len(ALL_ENV_NAMES)
    assert {"DD_TAGS", "ONLY_JSON", "DD_SOURCE", "DD_API_KEY", "DD_SITE", "DD_URL"} <= set(ALL_ENV_NAMES)


@pytest.mark.parametrize(
    ("raw", "tags"),
    [
        ("env:prod,team:core", ("env:prod", "team:core")),  # as the Datadog Forwarder reads it
        ("env:prod team:core", ("env:prod", "team:core")),  # as the Datadog Agent reads it
        (" env:prod ,\tteam:core\n owner:me ", ("env:prod", "team:core", "owner:me")),
        ("", ()),
    ],
)
def test_dd_tags_split_on_commas_and_whitespace(raw, tags):
    """DD_TAGS is read comma- or whitespace-separated, or both mixed."""
    assert Settings.from_env({"DD_TAGS": raw}).dd_tags == tags
