"""Settings: parsed once from a mapping, defaults of the original design, every accepted and refused form."""

from __future__ import annotations

import pytest

from logship.datadog.sites import SITES
from logship.errors import ConfigError
from logship.settings import ALL_ENV_NAMES, Settings


def test_defaults_follow_the_original_design():
    """With nothing set: ddsource firehose, JSON only, gzip lines, 6,000,000-byte response."""
    settings = Settings.from_env({})
    assert settings.transform.entries.source == "firehose"
    assert settings.transform.entries.only_json is True
    assert (settings.transform.output.format, settings.transform.output.compression) == ("lines", "gzip")
    assert settings.transform.response_limit_bytes == 6_000_000
    assert settings.logs.url == "https://http-intake.logs.datadoghq.com/api/v2/logs"
    assert settings == Settings()


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
    assert settings.tags == settings.transform.entries.extra_tags == ("env:prod", "team:sre")
    assert settings.transform.entries.only_json is False
    assert settings.logs.url == "https://http-intake.logs.datadoghq.eu/api/v2/logs"
    assert settings.transform.response_limit_bytes == 2000
    assert settings.transform.output.format == "jsonl"
    assert settings.transform.partition_keys is True
    assert settings.dead_letter_uri == "s3://my-bucket/dead"


def test_dd_url_overrides_the_site():
    """DD_URL is a full base URL; logs go to $DD_URL/api/v2/logs."""
    assert Settings.from_env({"DD_URL": "http://127.0.0.1:8080/"}).logs.url == "http://127.0.0.1:8080/api/v2/logs"


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
    assert settings.api_key.describe() == "environment variable DD_API_KEY"


def test_all_env_names_are_unique_and_complete():
    """ALL_ENV_NAMES lists each variable once, including the original design's names."""
    assert len(set(ALL_ENV_NAMES)) == len(ALL_ENV_NAMES)
    assert {"DD_TAGS", "ONLY_JSON", "DD_SOURCE", "DD_API_KEY", "DD_SITE", "DD_URL"} <= set(ALL_ENV_NAMES)


def test_the_api_url_follows_the_site_unless_dd_api_url_is_set():
    """DD_API_URL (the Forwarder's name) overrides https://api.<DD_SITE>; the app key has its own sources."""
    assert Settings.from_env({"DD_SITE": "datadoghq.eu"}).api.url == "https://api.datadoghq.eu"
    settings = Settings.from_env({"DD_API_URL": "http://127.0.0.1:8080/", "DD_APP_KEY_SSM_NAME": "/dd/app"})
    assert settings.api.url == "http://127.0.0.1:8080"
    assert settings.app_key.describe() == "SSM parameter /dd/app"


# --- DD_SITE, DD_URL, DD_API_URL: every accepted and rejected form --------------------------
@pytest.mark.parametrize("site", SITES)
@pytest.mark.parametrize("spelling", [str, str.upper, lambda s: f"  {s} "])
def test_every_datadog_site_is_accepted_in_any_case(site, spelling):
    """Each of Datadog's sites is accepted (case and blanks ignored) and gives its intake and API URLs."""
    settings = Settings.from_env({"DD_SITE": spelling(site)})
    assert settings.site == site
    assert settings.logs.url == f"https://http-intake.logs.{site}/api/v2/logs"
    assert settings.api.url == f"https://api.{site}"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("https://datadoghq.eu", "use DD_SITE=datadoghq.eu"),
        ("http://us3.datadoghq.com/", "use DD_SITE=us3.datadoghq.com"),
        ("http-intake.logs.datadoghq.eu", "use DD_SITE=datadoghq.eu"),
        ("http-intake.logs.us5.datadoghq.com", "use DD_SITE=us5.datadoghq.com"),
        ("app.datadoghq.com", "use DD_SITE=datadoghq.com"),
        ("datadoghq.eu/", "use DD_SITE=datadoghq.eu"),
        ("https://example.com", "not a URL or host: use one of datadoghq.com"),
        ("datadoghq.de", "DD_SITE must be one of Datadog's sites"),
        ("eu", "DD_SITE must be one of Datadog's sites"),
        ("us1", "DD_SITE must be one of Datadog's sites"),
    ],
)
def test_anything_but_a_site_name_is_refused_in_dd_site(value, says):
    """URLs, intake hosts and unknown names are refused, with the site meant when it can be told."""
    with pytest.raises(ConfigError, match="DD_SITE") as caught:
        Settings.from_env({"DD_SITE": value})
    assert says in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("value", "url", "assumed"),
    [
        ("http-intake.logs.datadoghq.eu", "https://http-intake.logs.datadoghq.eu/api/v2/logs", True),
        ("intake.internal:8443", "https://intake.internal:8443/api/v2/logs", True),
        ("10.0.0.7", "https://10.0.0.7/api/v2/logs", True),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v2/logs", False),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/api/v2/logs", False),
        ("HTTPS://Intake.Example.com", "https://Intake.Example.com/api/v2/logs", False),
        ("https://proxy.internal/datadog/", "https://proxy.internal/datadog/api/v2/logs", False),
        ("https://http-intake.logs.datadoghq.eu/api/v2/logs", "https://http-intake.logs.datadoghq.eu/api/v2/logs", False),
        ("http://[::1]:8080", "http://[::1]:8080/api/v2/logs", False),
    ],
)
def test_dd_url_takes_a_full_url_or_the_forwarders_bare_host(value, url, assumed):
    """A full http(s):// URL is the base; a bare host (the Forwarder's form) is read as https:// and said once."""
    settings = Settings.from_env({"DD_URL": value})
    assert settings.logs.url == url
    assert bool(settings.notices) is assumed
    if assumed:
        assert settings.notices == (f"DD_URL has no scheme (the Datadog Forwarder's host-only form): using {url[:-12]}",)


@pytest.mark.parametrize(
    "value",
    [
        "ftp://x",
        "file:///etc/passwd",
        "ws://intake",
        "http://",
        "https://:8080",
        "https://host:99999",
        "https://host:port",
        "host:0",
        "host/path",
        "https://user:secret@host",
        "https://host/?site=eu",
        "https://host/#x",
        "http-intake logs",
        "//host",
        "-host",
    ],
)
def test_dd_url_refuses_everything_else(value):
    """Other schemes, missing hosts, bad ports, paths without a scheme, credentials, queries: refused by name."""
    with pytest.raises(ConfigError, match="DD_URL"):
        Settings.from_env({"DD_URL": value})


def test_dd_api_url_is_read_like_dd_url():
    """DD_API_URL (the Forwarder's name) replaces the site's API base, in the same forms as DD_URL."""
    assert Settings.from_env({"DD_API_URL": "http://127.0.0.1:9000/"}).api.url == "http://127.0.0.1:9000"
    assert Settings.from_env({"DD_API_URL": "api.datadoghq.eu"}).api.url == "https://api.datadoghq.eu"
    with pytest.raises(ConfigError, match="DD_API_URL"):
        Settings.from_env({"DD_API_URL": "ftp://x"})


# --- The key's source: shapes --------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "datadog-api-key",
        "/datadog/api-key",
        "/prod/logship/DD_API_KEY.v2",
        "/datadog/api-key:3",
        "/datadog/api-key:current",
        "/aws/reference/secretsmanager/datadog",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/datadog/api-key",
        "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/k",
    ],
)
def test_ssm_names_and_arns_are_accepted(name):
    """Plain names, hierarchies, version or label selectors and parameter ARNs pass the shape check."""
    assert Settings.from_env({"DD_API_KEY_SSM_NAME": name}).api_key.ssm_name == name


@pytest.mark.parametrize(
    "name", ["datadog/api-key", "has space", "/datadog//key", "/a/", "key!", "/" + "/".join("l" * 16), "x" * 1012]
)
def test_malformed_ssm_names_are_refused(name):
    """Slashes without a leading one, spaces, empty levels, other characters, 16 levels, over 1011: refused."""
    with pytest.raises(ConfigError, match="DD_API_KEY_SSM_NAME must be an SSM parameter name"):
        Settings.from_env({"DD_API_KEY_SSM_NAME": name})


@pytest.mark.parametrize(
    ("arn", "ok"),
    [
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:datadog/api-key-AbCdEf", True),
        ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:dd_key+v2=@x.y-AbCdEf", True),
        ("not-an-arn", False),
        ("datadog/api-key", False),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/datadog", False),
        ("arn:aws:secretsmanager:us-east-1:1234:secret:x", False),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:", False),
    ],
)
def test_secret_arns_are_checked_for_shape(arn, ok):
    """DD_API_KEY_SECRET_ARN must be a Secrets Manager secret's ARN."""
    if ok:
        assert Settings.from_env({"DD_API_KEY_SECRET_ARN": arn}).api_key.secret_arn == arn
    else:
        with pytest.raises(ConfigError, match="DD_API_KEY_SECRET_ARN must be a Secrets Manager secret ARN"):
            Settings.from_env({"DD_API_KEY_SECRET_ARN": arn})


def test_the_dead_letter_uri_names_the_bucket_as_the_problem():
    """s3://ab/x: the message says the bucket name is too short, by S3's naming rules."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"LOGSHIP_DEAD_LETTER_URI": "s3://ab/x"})
    text = str(caught.value)
    assert "LOGSHIP_DEAD_LETTER_URI" in text and "bucket name 'ab'" in text and "3 to 63" in text


def test_datadog_can_be_switched_off():
    """LOGSHIP_DATADOG_ENABLED: true by default, false for the S3-only mode, anything else refused."""
    assert Settings.from_env({}).datadog_enabled is True
    assert Settings.from_env({"LOGSHIP_DATADOG_ENABLED": "false"}).datadog_enabled is False
    with pytest.raises(ConfigError, match="LOGSHIP_DATADOG_ENABLED must be true or false"):
        Settings.from_env({"LOGSHIP_DATADOG_ENABLED": "sometimes"})


def test_every_env_name_constant_is_listed():
    """Each *_NAME constant of the settings module that names a variable is in ALL_ENV_NAMES."""
    import logship.settings as module

    names = {
        value
        for key, value in vars(module).items()
        if key.isupper() and isinstance(value, str) and value == key and (key.startswith(("DD_", "LOGSHIP_", "SLACK_")) or key == "ONLY_JSON")
    }
    assert names == set(ALL_ENV_NAMES)
    assert {"DD_API_URL", "LOGSHIP_DATADOG_ENABLED"} <= names


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
    assert Settings.from_env({"DD_TAGS": raw}).tags == tags
