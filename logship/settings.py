"""Settings: every environment variable logship reads, parsed once into a frozen tree of each step's options.

The names below are the only place an environment variable is spelled. The
original design's names (``DD_TAGS``, ``ONLY_JSON``, ``DD_SOURCE``, ...) are kept;
logship's own options start with ``LOGSHIP_``. Nothing here writes to
``os.environ``: :func:`Settings.from_env` reads a mapping and returns a value.
Each step defines its own options type; this module composes them.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping

from logship import limits, s3uri
from logship.cronwatch.options import CronwatchOptions, parse_jobs_file_location, parse_notify
from logship.datadog import sites
from logship.datadog.api import ApiOptions
from logship.datadog.logs import LogsIntakeOptions
from logship.errors import ConfigError
from logship.firehose.entries import EntryOptions
from logship.firehose.redact import BUILTIN_RULES, DEFAULT_REPLACEMENT, MessageFilter, RedactRule
from logship.firehose.reingest import REINGEST_RETRY
from logship.firehose.s3_output import OutputOptions
from logship.firehose.tags import (
    DEFAULT_LOG_GROUP_PATTERN,
    DEFAULT_LOG_STREAM_PATTERN,
    TAG_FIELDS,
    TagOptions,
    user_tags,
)
from logship.firehose.transform import TransformOptions
from logship.opsevents.options import (
    DEFAULT_SLACK_SEVERITIES,
    EventsOptions,
    RoutingOptions,
    parse_ignore_pattern,
    parse_slack_severities,
)
from logship.retry import RetryPolicy
from logship.secrets import DD_APP_KEY_FIELDS, SecretSource
from logship.slack import WEBHOOK_URL_FIELDS, SlackOptions, is_webhook_url

# --- Datadog ----------------------------------------------------------------
LOGSHIP_DATADOG_ENABLED = "LOGSHIP_DATADOG_ENABLED"
DD_API_KEY = "DD_API_KEY"
DD_API_KEY_SSM_NAME = "DD_API_KEY_SSM_NAME"
DD_API_KEY_SECRET_ARN = "DD_API_KEY_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
DD_SITE = "DD_SITE"
DD_URL = "DD_URL"
DD_API_URL = "DD_API_URL"
DD_APP_KEY = "DD_APP_KEY"
DD_APP_KEY_SSM_NAME = "DD_APP_KEY_SSM_NAME"
DD_APP_KEY_SECRET_ARN = "DD_APP_KEY_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
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
# --- Ops events (the second Lambda; Datadog key, site, tags and dead letter as above) ---
SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
SLACK_WEBHOOK_URL_SSM_NAME = "SLACK_WEBHOOK_URL_SSM_NAME"
SLACK_WEBHOOK_URL_SECRET_ARN = "SLACK_WEBHOOK_URL_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
LOGSHIP_SLACK_SEVERITIES = "LOGSHIP_SLACK_SEVERITIES"
LOGSHIP_EVENTS_IGNORE = "LOGSHIP_EVENTS_IGNORE"
# --- Cron watch (monitors as code and the run watch; Datadog, Slack as above) ---
LOGSHIP_MONITOR_NOTIFY = "LOGSHIP_MONITOR_NOTIFY"
LOGSHIP_JOBS_FILE = "LOGSHIP_JOBS_FILE"
LOGSHIP_WATCH_SUMMARY = "LOGSHIP_WATCH_SUMMARY"
#: Where the Slack webhook URL may come from: for the commands' help.
SLACK_WEBHOOK_ENV_NAMES: tuple[str, ...] = (SLACK_WEBHOOK_URL, SLACK_WEBHOOK_URL_SSM_NAME, SLACK_WEBHOOK_URL_SECRET_ARN)

#: What the Datadog key's source and the intake need: for the commands' help.
DATADOG_ENV_NAMES: tuple[str, ...] = (
    LOGSHIP_DATADOG_ENABLED,
    DD_API_KEY,
    DD_API_KEY_SSM_NAME,
    DD_API_KEY_SECRET_ARN,
    DD_SITE,
    DD_URL,
)

#: What the Firehose transformation reads (the Lambda's and ``logship process``'s settings): for the help.
FIREHOSE_ENV_NAMES: tuple[str, ...] = (
    *DATADOG_ENV_NAMES,
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

#: Every variable logship reads, for docs and for drift checks against templates.
ALL_ENV_NAMES: tuple[str, ...] = (
    *FIREHOSE_ENV_NAMES,
    DD_API_URL,
    DD_APP_KEY,
    DD_APP_KEY_SSM_NAME,
    DD_APP_KEY_SECRET_ARN,
    *SLACK_WEBHOOK_ENV_NAMES,
    LOGSHIP_SLACK_SEVERITIES,
    LOGSHIP_EVENTS_IGNORE,
    LOGSHIP_MONITOR_NOTIFY,
    LOGSHIP_JOBS_FILE,
    LOGSHIP_WATCH_SUMMARY,
)

# SSM parameter names (SSM API reference, PutParameter): letters, digits, "_.-", and "/"
# between the levels of a hierarchy, which then starts with "/"; an optional
# ":version" or ":label" selector (GetParameter); or the parameter's ARN.
_SSM_NAME = re.compile(
    r"(?:[A-Za-z0-9_.\-]+|(?:/[A-Za-z0-9_.\-]+)+"
    r"|arn:aws[a-z\-]*:ssm:[a-z0-9\-]+:\d{12}:parameter/[A-Za-z0-9_.\-/]+)(?::[A-Za-z0-9_.\-]+)?"
)
SSM_NAME_MAX_LENGTH = 1011  # the fully qualified name, SSM API reference
SSM_MAX_LEVELS = 15  # hierarchy depth, SSM API reference
# Secrets Manager secret ARNs: arn:<partition>:secretsmanager:<region>:<account>:secret:<name>,
# names of letters, digits and "/_+=.@-" (Secrets Manager API reference, CreateSecret).
_SECRET_ARN = re.compile(r"arn:aws[a-z\-]*:secretsmanager:[a-z0-9\-]+:\d{12}:secret:[A-Za-z0-9/_+=.@\-]+")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
LOG_LEVELS = ("INFO", "DEBUG", "WARNING", "ERROR")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything logship is configured with: a frozen tree of each step's own options.

    Build it with :meth:`from_env`. Every field has a default, so ``Settings()``
    is a working configuration for tests and for other pipelines that use
    logship as a library; each step reads only its own part (``transform``,
    ``logs``, ...), never this module.
    """

    #: ``LOGSHIP_DATADOG_ENABLED``: False is the S3-only mode (no key needed, nothing sent to Datadog).
    datadog_enabled: bool = True
    #: Where the Datadog API key comes from.
    api_key: SecretSource = SecretSource()
    #: The Datadog site (``DD_SITE``), one of :data:`logship.datadog.sites.SITES`.
    site: str = sites.DEFAULT_SITE
    #: Datadog's API (events, monitors, metrics, key check): ``DD_API_URL`` or ``https://api.<site>``.
    api: ApiOptions = ApiOptions()
    #: The application key monitors as code need (``DD_APP_KEY``, ``_SSM_NAME``, ``_SECRET_ARN``).
    app_key: SecretSource = SecretSource(env_name=DD_APP_KEY, json_fields=DD_APP_KEY_FIELDS)
    #: ``DD_TAGS``: tags added to everything sent to Datadog.
    tags: tuple[str, ...] = ()
    #: The logs intake: URL (``DD_URL`` or the site's), concurrency, timeouts, retries.
    logs: LogsIntakeOptions = LogsIntakeOptions()
    #: Decode, tags, entries, S3 output and the response budget.
    transform: TransformOptions = TransformOptions()
    #: Retries of re-ingest calls (``LOGSHIP_REINGEST_MAX_ATTEMPTS``).
    reingest_retry: RetryPolicy = REINGEST_RETRY
    #: ``s3://bucket/prefix`` for what Datadog did not accept. Without one (or when it cannot be
    #: written) the invocation fails if Datadog accepted nothing, else the records whose logs were
    #: not kept are answered ProcessingFailed (README, "When Datadog is down").
    dead_letter_uri: str | None = None
    #: Time kept before the Lambda's deadline for the dead letter, re-ingest and the response.
    time_margin_ms: int = 5_000
    #: Level of logship's own log.
    log_level: str = "INFO"
    #: Things worth saying once at cold start (a value read in a way the user may not expect).
    notices: tuple[str, ...] = ()
    #: The ops events Lambda: routing, the Slack webhook, retries (Datadog key, site, tags, dead letter as above).
    events: EventsOptions = EventsOptions()
    #: Cron watch: monitors' notification handles, the declared-jobs file, the run watch's summary.
    cronwatch: CronwatchOptions = CronwatchOptions()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse settings from ``environ`` (default ``os.environ``); raise ConfigError on bad values.

        Every problem found is reported at once, naming the variable.
        """
        env = os.environ if environ is None else environ
        parser = _Parser(env)
        site = parser.site(DD_SITE)
        tags, changed = user_tags(parse_tags(env.get(DD_TAGS, "")))
        if changed:
            parser.notices.append(
                "DD_TAGS changed to follow Datadog's tag rules: "
                + ", ".join(f"{old!r} -> {new!r}" for old, new in changed.items())
            )
        gzip_level = parser.integer(LOGSHIP_GZIP_LEVEL, 1, low=1, high=9)
        message_filter = MessageFilter.build(
            builtin=parser.redactions(LOGSHIP_REDACT),
            rules=parser.redact_rules(LOGSHIP_REDACT_RULES),
            include=parser.regex(LOGSHIP_INCLUDE_AT_MATCH),
            exclude=parser.regex(LOGSHIP_EXCLUDE_AT_MATCH),
        )
        settings = cls(
            datadog_enabled=parser.flag(LOGSHIP_DATADOG_ENABLED, default=True),
            api_key=SecretSource(
                env_name=DD_API_KEY,
                value=parser.text(DD_API_KEY),
                ssm_name=parser.ssm_name(DD_API_KEY_SSM_NAME),
                secret_arn=parser.secret_arn(DD_API_KEY_SECRET_ARN),
            ),
            site=site,
            api=ApiOptions(url=sites.api_url(site, parser.base_url(DD_API_URL))),
            app_key=SecretSource(
                env_name=DD_APP_KEY,
                value=parser.text(DD_APP_KEY),
                ssm_name=parser.ssm_name(DD_APP_KEY_SSM_NAME),
                secret_arn=parser.secret_arn(DD_APP_KEY_SECRET_ARN),
                json_fields=DD_APP_KEY_FIELDS,
            ),
            tags=tags,
            logs=LogsIntakeOptions(
                url=sites.logs_intake_url(site, parser.base_url(DD_URL)),
                concurrency=parser.integer(LOGSHIP_DD_CONCURRENCY, 8, low=1, high=32),
                timeout_seconds=parser.integer(LOGSHIP_DD_TIMEOUT_SECONDS, 10, low=1, high=300),
                gzip_level=gzip_level,
            ),
            transform=TransformOptions(
                tags=TagOptions(
                    group_pattern=parser.tag_pattern(LOGSHIP_LOG_GROUP_PATTERN, DEFAULT_LOG_GROUP_PATTERN),
                    stream_pattern=parser.tag_pattern(LOGSHIP_LOG_STREAM_PATTERN, DEFAULT_LOG_STREAM_PATTERN),
                ),
                entries=EntryOptions(
                    source=parser.text(DD_SOURCE) or "firehose",
                    extra_tags=tags,
                    only_json=parser.flag(ONLY_JSON, default=True),
                    message_filter=message_filter,
                ),
                output=OutputOptions(
                    format=parser.choice(LOGSHIP_OUTPUT_FORMAT, ("lines", "jsonl")),  # type: ignore[arg-type]
                    compression=parser.choice(LOGSHIP_OUTPUT_COMPRESSION, ("gzip", "none")),  # type: ignore[arg-type]
                    gzip_level=gzip_level,
                ),
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
            ),
            reingest_retry=dataclasses.replace(
                REINGEST_RETRY,
                max_attempts=parser.integer(
                    LOGSHIP_REINGEST_MAX_ATTEMPTS, REINGEST_RETRY.max_attempts, low=1, high=20
                ),
            ),
            dead_letter_uri=parser.s3_uri(LOGSHIP_DEAD_LETTER_URI),
            time_margin_ms=parser.integer(LOGSHIP_TIME_MARGIN_MS, 5_000, low=0, high=600_000),
            log_level=parser.choice(LOGSHIP_LOG_LEVEL, LOG_LEVELS, upper=True),
            notices=tuple(parser.notices),
            events=parser.events(),
            cronwatch=parser.cronwatch(),
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
        self.notices: list[str] = []

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
        try:
            s3uri.parse(raw)
        except ValueError as err:
            self.problems.append(f"{name}: {err}")
            return None
        return raw

    def site(self, name: str) -> str:
        raw = self.text(name)
        if raw is None:
            return sites.DEFAULT_SITE
        try:
            return sites.parse_site(raw, name)
        except ValueError as err:
            self.problems.append(str(err))
            return sites.DEFAULT_SITE

    def base_url(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            base = sites.parse_base_url(raw, name)
        except ValueError as err:
            self.problems.append(str(err))
            return None
        if base.assumed_https:
            self.notices.append(f"{name} has no scheme (the Datadog Forwarder's host-only form): using {base.url}")
        return base.url

    def ssm_name(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        if (
            not _SSM_NAME.fullmatch(raw)
            or len(raw) > SSM_NAME_MAX_LENGTH
            or raw.split(":parameter", 1)[-1].count("/") > SSM_MAX_LEVELS
        ):
            self.problems.append(
                f"{name} must be an SSM parameter name (letters, digits and _.-, with / between the levels "
                f"of a hierarchy that starts with /, e.g. /datadog/api-key) or its ARN, got {raw!r}"
            )
            return None
        return raw

    def secret_arn(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        if not _SECRET_ARN.fullmatch(raw):
            self.problems.append(
                f"{name} must be a Secrets Manager secret ARN "
                f"(arn:aws:secretsmanager:<region>:<account>:secret:<name>), got {raw!r}"
            )
            return None
        return raw

    def events(self) -> EventsOptions:
        """The ops events section; the webhook URL is checked for shape but never quoted (it is a secret)."""
        webhook = self.text(SLACK_WEBHOOK_URL)
        if webhook is not None and not is_webhook_url(webhook):
            self.problems.append(f"{SLACK_WEBHOOK_URL} must be an https:// URL (the value is a secret and not shown)")
            webhook = None
        severities, ignore = DEFAULT_SLACK_SEVERITIES, None
        try:
            raw = self.env.get(LOGSHIP_SLACK_SEVERITIES)
            severities = parse_slack_severities(raw, variable=LOGSHIP_SLACK_SEVERITIES)
        except ConfigError as err:
            self.problems.append(str(err))
        try:
            ignore = parse_ignore_pattern(self.env.get(LOGSHIP_EVENTS_IGNORE), variable=LOGSHIP_EVENTS_IGNORE)
        except ConfigError as err:
            self.problems.append(str(err))
        slack = SlackOptions(
            webhook=SecretSource(
                env_name=SLACK_WEBHOOK_URL,
                value=webhook,
                ssm_name=self.ssm_name(SLACK_WEBHOOK_URL_SSM_NAME),
                secret_arn=self.secret_arn(SLACK_WEBHOOK_URL_SECRET_ARN),
                json_fields=WEBHOOK_URL_FIELDS,
            )
        )
        return EventsOptions(routing=RoutingOptions(slack_severities=severities, ignore=ignore), slack=slack)

    def cronwatch(self) -> CronwatchOptions:
        """The cron watch section: handles and the jobs file checked for shape (the file is read when used)."""
        notify: tuple[str, ...] = ()
        jobs_file = None
        try:
            notify = parse_notify(self.env.get(LOGSHIP_MONITOR_NOTIFY), variable=LOGSHIP_MONITOR_NOTIFY)
        except ConfigError as err:
            self.problems.append(str(err))
        try:
            jobs_file = parse_jobs_file_location(self.env.get(LOGSHIP_JOBS_FILE), variable=LOGSHIP_JOBS_FILE)
        except ConfigError as err:
            self.problems.append(str(err))
        summary = self.flag(LOGSHIP_WATCH_SUMMARY, default=False)
        return CronwatchOptions(notify=notify, jobs_file=jobs_file, watch_summary=summary)

    def redactions(self, name: str) -> frozenset[str]:
        names = frozenset(part.lower() for part in parse_tags(self.env.get(name, "")))
        unknown = names - BUILTIN_RULES.keys()
        if unknown:
            self.problems.append(f"{name} knows {sorted(BUILTIN_RULES)}, got unknown {sorted(unknown)}")
        return names & BUILTIN_RULES.keys()

    def redact_rules(self, name: str) -> tuple[RedactRule, ...]:
        raw = self.env.get(name, "").strip()
        if not raw:
            return ()
        import json  # settings are parsed once per cold start; keep orjson off this path

        try:
            items = json.loads(raw)
            rules = tuple(
                RedactRule(re.compile(item["pattern"]), str(item.get("replacement", DEFAULT_REPLACEMENT)))
                for item in items
            )
        except (ValueError, TypeError, KeyError, re.error) as err:
            self.problems.append(f'{name} must be a JSON list of {{"pattern": ..., "replacement": ...}}: {err}')
            return ()
        return rules
