"""Settings: every environment variable logship reads, parsed once into a frozen object.

The names below are the only place an environment variable is spelled. The
original design's names (``DD_TAGS``, ``ONLY_JSON``, ``DD_SOURCE``, ...) are kept;
logship's own options start with ``LOGSHIP_``. Nothing here writes to
``os.environ``: :func:`Settings.from_env` reads a mapping and returns a value.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Literal

from logship import limits
from logship.errors import ConfigError

# --- Datadog ----------------------------------------------------------------
DD_API_KEY = "DD_API_KEY"
DD_API_KEY_SSM_NAME = "DD_API_KEY_SSM_NAME"
DD_API_KEY_SECRET_ARN = "DD_API_KEY_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
DD_SITE = "DD_SITE"
DD_URL = "DD_URL"
DD_SOURCE = "DD_SOURCE"
DD_TAGS = "DD_TAGS"
ONLY_JSON = "ONLY_JSON"
# --- Tagging ----------------------------------------------------------------
LOGSHIP_LOG_GROUP_PATTERN = "LOGSHIP_LOG_GROUP_PATTERN"
LOGSHIP_LOG_STREAM_PATTERN = "LOGSHIP_LOG_STREAM_PATTERN"
# --- Firehose output --------------------------------------------------------
LOGSHIP_OUTPUT_FORMAT = "LOGSHIP_OUTPUT_FORMAT"
LOGSHIP_OUTPUT_COMPRESSION = "LOGSHIP_OUTPUT_COMPRESSION"
LOGSHIP_GZIP_LEVEL = "LOGSHIP_GZIP_LEVEL"
LOGSHIP_RESPONSE_LIMIT_BYTES = "LOGSHIP_RESPONSE_LIMIT_BYTES"
LOGSHIP_PARTITION_KEYS = "LOGSHIP_PARTITION_KEYS"
LOGSHIP_MAX_DECOMPRESSED_BYTES = "LOGSHIP_MAX_DECOMPRESSED_BYTES"
LOGSHIP_REINGEST_MAX_ATTEMPTS = "LOGSHIP_REINGEST_MAX_ATTEMPTS"
# --- Delivery to Datadog ----------------------------------------------------
LOGSHIP_DEAD_LETTER_URI = "LOGSHIP_DEAD_LETTER_URI"
LOGSHIP_DD_CONCURRENCY = "LOGSHIP_DD_CONCURRENCY"
LOGSHIP_DD_TIMEOUT_SECONDS = "LOGSHIP_DD_TIMEOUT_SECONDS"
LOGSHIP_TIME_MARGIN_MS = "LOGSHIP_TIME_MARGIN_MS"
# --- What leaves ------------------------------------------------------------
LOGSHIP_REDACT = "LOGSHIP_REDACT"
LOGSHIP_REDACT_RULES = "LOGSHIP_REDACT_RULES"
LOGSHIP_INCLUDE_AT_MATCH = "LOGSHIP_INCLUDE_AT_MATCH"
LOGSHIP_EXCLUDE_AT_MATCH = "LOGSHIP_EXCLUDE_AT_MATCH"
# --- The Lambda's own logging -----------------------------------------------
LOGSHIP_LOG_LEVEL = "LOGSHIP_LOG_LEVEL"

#: Every variable logship reads, for docs and for drift checks against templates.
ALL_ENV_NAMES: tuple[str, ...] = (
    DD_API_KEY,
    DD_API_KEY_SSM_NAME,
    DD_API_KEY_SECRET_ARN,
    DD_SITE,
    DD_URL,
    DD_SOURCE,
    DD_TAGS,
    ONLY_JSON,
    LOGSHIP_LOG_GROUP_PATTERN,
    LOGSHIP_LOG_STREAM_PATTERN,
    LOGSHIP_OUTPUT_FORMAT,
    LOGSHIP_OUTPUT_COMPRESSION,
    LOGSHIP_GZIP_LEVEL,
    LOGSHIP_RESPONSE_LIMIT_BYTES,
    LOGSHIP_PARTITION_KEYS,
    LOGSHIP_MAX_DECOMPRESSED_BYTES,
    LOGSHIP_REINGEST_MAX_ATTEMPTS,
    LOGSHIP_DEAD_LETTER_URI,
    LOGSHIP_DD_CONCURRENCY,
    LOGSHIP_DD_TIMEOUT_SECONDS,
    LOGSHIP_TIME_MARGIN_MS,
    LOGSHIP_REDACT,
    LOGSHIP_REDACT_RULES,
    LOGSHIP_INCLUDE_AT_MATCH,
    LOGSHIP_EXCLUDE_AT_MATCH,
    LOGSHIP_LOG_LEVEL,
)

#: The original design's convention: group ``/<system>/<service>``.
DEFAULT_LOG_GROUP_PATTERN = r"^/(?P<system>[^/]+)/(?P<service>[^/]+)$"
#: ... and stream ``/<system>/<service>/<container>/<task-id>``.
DEFAULT_LOG_STREAM_PATTERN = r"^/(?P<system>[^/]+)/(?P<service>[^/]+)/(?P<application>[^/]+)/(?P<task>[^/]+)$"
TAG_FIELDS = frozenset({"system", "service", "application", "task"})

OutputFormat = Literal["lines", "jsonl"]
OutputCompression = Literal["gzip", "none"]
BUILTIN_REDACTIONS = frozenset({"email", "ipv4"})

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True)
class RedactRule:
    """One user redaction: every match of ``pattern`` becomes ``replacement``."""

    pattern: re.Pattern[str]
    replacement: str


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything logship is configured with; build it with :meth:`from_env`.

    Every field has a default, so ``Settings()`` is a working configuration for
    tests and for other pipelines that use logship as a library.
    """

    dd_api_key: str | None = dataclasses.field(default=None, repr=False)
    dd_api_key_ssm_name: str | None = None
    dd_api_key_secret_arn: str | None = None
    dd_site: str = "datadoghq.com"
    dd_url: str | None = None
    dd_source: str = "firehose"
    dd_tags: tuple[str, ...] = ()
    only_json: bool = True
    log_group_pattern: re.Pattern[str] = re.compile(DEFAULT_LOG_GROUP_PATTERN)
    log_stream_pattern: re.Pattern[str] = re.compile(DEFAULT_LOG_STREAM_PATTERN)
    output_format: OutputFormat = "lines"
    output_compression: OutputCompression = "gzip"
    gzip_level: int = 1
    response_limit_bytes: int = limits.DEFAULT_RESPONSE_LIMIT_BYTES
    partition_keys: bool = False
    max_decompressed_bytes: int = limits.DEFAULT_MAX_DECOMPRESSED_BYTES
    reingest_max_attempts: int = 5
    dead_letter_uri: str | None = None
    dd_concurrency: int = 4
    dd_timeout_seconds: float = 10.0
    time_margin_ms: int = 5_000
    redact: frozenset[str] = frozenset()
    redact_rules: tuple[RedactRule, ...] = ()
    include_at_match: re.Pattern[str] | None = None
    exclude_at_match: re.Pattern[str] | None = None
    log_level: str = "INFO"

    @property
    def api_key_source(self) -> str:
        """Where the Datadog API key comes from, for error messages (never the key)."""
        if self.dd_api_key:
            return f"environment variable {DD_API_KEY}"
        if self.dd_api_key_ssm_name:
            return f"SSM parameter {self.dd_api_key_ssm_name}"
        if self.dd_api_key_secret_arn:
            return f"Secrets Manager secret {self.dd_api_key_secret_arn}"
        return "nowhere (no DD_API_KEY, DD_API_KEY_SSM_NAME or DD_API_KEY_SECRET_ARN set)"

    @property
    def intake_url(self) -> str:
        """The full URL logs are POSTed to."""
        base = self.dd_url or f"https://http-intake.logs.{self.dd_site}"
        return base.rstrip("/") + "/api/v2/logs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse settings from ``environ`` (default ``os.environ``); raise ConfigError on bad values.

        Every problem found is reported at once, naming the variable.
        """
        env = os.environ if environ is None else environ
        parser = _Parser(env)
        settings = cls(
            dd_api_key=parser.text(DD_API_KEY),
            dd_api_key_ssm_name=parser.text(DD_API_KEY_SSM_NAME),
            dd_api_key_secret_arn=parser.text(DD_API_KEY_SECRET_ARN),
            dd_site=parser.text(DD_SITE) or "datadoghq.com",
            dd_url=parser.text(DD_URL),
            dd_source=parser.text(DD_SOURCE) or "firehose",
            dd_tags=parse_tags(env.get(DD_TAGS, "")),
            only_json=parser.flag(ONLY_JSON, default=True),
            log_group_pattern=parser.tag_pattern(LOGSHIP_LOG_GROUP_PATTERN, DEFAULT_LOG_GROUP_PATTERN),
            log_stream_pattern=parser.tag_pattern(LOGSHIP_LOG_STREAM_PATTERN, DEFAULT_LOG_STREAM_PATTERN),
            output_format=parser.choice(LOGSHIP_OUTPUT_FORMAT, ("lines", "jsonl")),  # type: ignore[arg-type]
            output_compression=parser.choice(LOGSHIP_OUTPUT_COMPRESSION, ("gzip", "none")),  # type: ignore[arg-type]
            gzip_level=parser.integer(LOGSHIP_GZIP_LEVEL, 1, low=1, high=9),
            response_limit_bytes=parser.integer(
                LOGSHIP_RESPONSE_LIMIT_BYTES,
                limits.DEFAULT_RESPONSE_LIMIT_BYTES,
                low=1_000,
                high=limits.LAMBDA_RESPONSE_HARD_LIMIT_BYTES,
            ),
            partition_keys=parser.flag(LOGSHIP_PARTITION_KEYS, default=False),
            max_decompressed_bytes=parser.integer(
                LOGSHIP_MAX_DECOMPRESSED_BYTES,
                limits.DEFAULT_MAX_DECOMPRESSED_BYTES,
                low=1_024,
                high=1 << 31,
            ),
            reingest_max_attempts=parser.integer(LOGSHIP_REINGEST_MAX_ATTEMPTS, 5, low=1, high=20),
            dead_letter_uri=parser.s3_uri(LOGSHIP_DEAD_LETTER_URI),
            dd_concurrency=parser.integer(LOGSHIP_DD_CONCURRENCY, 4, low=1, high=32),
            dd_timeout_seconds=parser.integer(LOGSHIP_DD_TIMEOUT_SECONDS, 10, low=1, high=300),
            time_margin_ms=parser.integer(LOGSHIP_TIME_MARGIN_MS, 5_000, low=0, high=600_000),
            redact=parser.redactions(LOGSHIP_REDACT),
            redact_rules=parser.redact_rules(LOGSHIP_REDACT_RULES),
            include_at_match=parser.regex(LOGSHIP_INCLUDE_AT_MATCH),
            exclude_at_match=parser.regex(LOGSHIP_EXCLUDE_AT_MATCH),
            log_level=parser.choice(LOGSHIP_LOG_LEVEL, ("INFO", "DEBUG", "WARNING", "ERROR"), upper=True),
        )
        if parser.problems:
            raise ConfigError("invalid settings: " + "; ".join(parser.problems))
        return settings


def parse_tags(raw: str) -> tuple[str, ...]:
    """Split ``DD_TAGS`` on commas (as the Datadog Forwarder) and whitespace (as the Agent); empties dropped."""
    return tuple(tag for tag in re.split(r"[,\s]+", raw) if tag)


class _Parser:
    """Reads variables one by one and collects every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def flag(self, name: str, *, default: bool) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        self.problems.append(f"{name} must be true or false, got {raw!r}")
        return default

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            self.problems.append(f"{name} must be a whole number, got {raw!r}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name} must be between {low} and {high}, got {value}")
            return default
        return value

    def choice(self, name: str, options: tuple[str, ...], *, upper: bool = False) -> str:
        raw = self.env.get(name, "").strip()
        if not raw:
            return options[0]
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            self.problems.append(f"{name} must be one of {', '.join(options)}, got {raw!r}")
            return options[0]
        return value

    def regex(self, name: str) -> re.Pattern[str] | None:
        raw = self.env.get(name, "")
        if not raw:
            return None
        try:
            return re.compile(raw)
        except re.error as err:
            self.problems.append(f"{name} is not a valid regular expression: {err}")
            return None

    def tag_pattern(self, name: str, default: str) -> re.Pattern[str]:
        pattern = self.regex(name) or re.compile(default)
        unknown = set(pattern.groupindex) - TAG_FIELDS
        if unknown:
            self.problems.append(f"{name} names groups {sorted(unknown)}; allowed: {sorted(TAG_FIELDS)}")
        return pattern

    def s3_uri(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?", raw):
            self.problems.append(f"{name} must look like s3://bucket/prefix, got {raw!r}")
            return None
        return raw

    def redactions(self, name: str) -> frozenset[str]:
        names = frozenset(part.lower() for part in parse_tags(self.env.get(name, "")))
        unknown = names - BUILTIN_REDACTIONS
        if unknown:
            self.problems.append(f"{name} knows {sorted(BUILTIN_REDACTIONS)}, got unknown {sorted(unknown)}")
        return names & BUILTIN_REDACTIONS

    def redact_rules(self, name: str) -> tuple[RedactRule, ...]:
        raw = self.env.get(name, "").strip()
        if not raw:
            return ()
        import json  # settings are parsed once per cold start; keep orjson off this path

        try:
            items = json.loads(raw)
            rules = tuple(
                RedactRule(re.compile(item["pattern"]), str(item.get("replacement", "[REDACTED]"))) for item in items
            )
        except (ValueError, TypeError, KeyError, re.error) as err:
            self.problems.append(f'{name} must be a JSON list of {{"pattern": ..., "replacement": ...}}: {err}')
            return ()
        return rules
