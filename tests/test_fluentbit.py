"""Static checks of the FireLens fluent-bit config, its parsers and the task-definition example.

Fluent Bit cannot run here, so the classic config is parsed by a small parser in
this module and checked against the options documented for the pinned version.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "fluent-bit" / "logship.conf"
PARSERS = ROOT / "fluent-bit" / "parsers.conf"
TASK_DEFINITION = ROOT / "examples" / "firelens-task-definition.json"
TASK_ROLE_POLICY = ROOT / "fluent-bit" / "iam" / "task-role-policy.json"
EXECUTION_ROLE_POLICY = ROOT / "fluent-bit" / "iam" / "execution-role-policy.json"
DOCS = ROOT / "docs" / "firelens.md"
SIDECAR_DOCKERFILE = ROOT / "docker" / "fluent-bit.Dockerfile"

#: Where the sidecar image puts the config (docker/fluent-bit.Dockerfile).
IMAGE_CONFIG_DIR = "/fluent-bit/logship/"

# --- What Fluent Bit 5.0 documents ------------------------------------------
# AWS for Fluent Bit 3.4.14 ships Fluent Bit v5.0.9 (release notes of
# aws/aws-for-fluent-bit v3.4.14). Option names come from the 5.0 manual,
# https://docs.fluentbit.io/manual/5.0/..., pages named beside each list, and
# were cross-checked with each plugin's config_map in fluent/fluent-bit.
# Names are case-insensitive in Fluent Bit, so they are kept lower-case here.

#: administration/configuring-fluent-bit/classic-mode/configuration-file
#: (Service section), administration/buffering-and-storage (storage.*),
#: administration/monitoring (health check), administration/scheduling-and-retries.
SERVICE_OPTIONS = frozenset({
    "flush", "grace", "daemon", "log_file", "log_level", "parsers_file",
    "plugins_file", "streams_file", "coro_stack_size", "dns.mode", "dns.resolver",
    "dns.prefer_ipv4", "http_server", "http_listen", "http_port", "health_check",
    "hc_errors_count", "hc_retry_failure_count", "hc_period", "scheduler.base",
    "scheduler.cap", "json.convert_nan_to_null", "storage.path", "storage.sync",
    "storage.checksum", "storage.max_chunks_up", "storage.backlog.mem_limit",
    "storage.metrics", "storage.delete_irrecoverable_chunks",
})

#: Properties every filter accepts (classic-mode/configuration-file, Filter section).
FILTER_COMMON = frozenset({"name", "match", "match_regex", "alias", "log_level"})

#: Properties every output accepts (configuration-file, Output section;
#: scheduling-and-retries for retry_limit; buffering-and-storage for
#: storage.total_limit_size; administration/transport-security for tls.*;
#: administration/networking for net.*; administration/multithreading for workers).
OUTPUT_COMMON = frozenset({
    "name", "match", "match_regex", "alias", "log_level", "retry_limit",
    "storage.total_limit_size", "workers",
})
NETWORK_OUTPUT_COMMON = frozenset({
    "host", "port", "tls", "tls.verify", "tls.debug", "tls.ca_file", "tls.ca_path",
    "tls.crt_file", "tls.key_file", "tls.vhost", "net.connect_timeout",
    "net.keepalive", "net.keepalive_idle_timeout", "net.keepalive_max_recycle",
    "net.dns.mode", "net.dns.resolver",
})

PLUGIN_OPTIONS: dict[tuple[str, str], frozenset[str]] = {
    # data-pipeline/filters/modify
    ("filter", "modify"): FILTER_COMMON | {
        "set", "add", "remove", "remove_wildcard", "remove_regex", "rename",
        "hard_rename", "copy", "hard_copy", "move_to_start", "move_to_end",
        "condition",
    },
    # data-pipeline/filters/record-modifier
    ("filter", "record_modifier"): FILTER_COMMON | {
        "record", "remove_key", "allowlist_key", "whitelist_key", "uuid_key",
    },
    # data-pipeline/filters/parser
    ("filter", "parser"): FILTER_COMMON | {
        "key_name", "parser", "preserve_key", "reserve_data", "unescape_key",
    },
    # data-pipeline/filters/nest
    ("filter", "nest"): FILTER_COMMON | {
        "operation", "wildcard", "nest_under", "nested_under", "add_prefix",
        "remove_prefix",
    },
    # data-pipeline/filters/rewrite-tag
    ("filter", "rewrite_tag"): FILTER_COMMON | {
        "rule", "emitter_name", "emitter_storage.type", "emitter_mem_buf_limit",
    },
    # data-pipeline/outputs/datadog
    ("output", "datadog"): OUTPUT_COMMON | NETWORK_OUTPUT_COMMON | {
        "compress", "apikey", "proxy", "provider", "json_date_key", "include_tag_key",
        "tag_key", "dd_service", "dd_source", "dd_tags", "dd_hostname",
        "dd_message_key", "header",
    },
    # data-pipeline/outputs/firehose (the C plugin kinesis_firehose)
    ("output", "kinesis_firehose"): OUTPUT_COMMON | {
        "region", "delivery_stream", "time_key", "time_key_format", "log_key",
        "compression", "role_arn", "endpoint", "sts_endpoint", "auto_retry_requests",
        "external_id", "profile",
    },
}

#: administration/configuring-fluent-bit/classic-mode/... parsers file (pipeline/parsers/configuring-parser).
PARSER_OPTIONS = frozenset({
    "name", "format", "regex", "time_key", "time_format", "time_keep", "time_offset",
    "time_strict", "time_system_timezone", "types", "decode_field", "decode_field_as",
    "skip_empty_values",
})
PARSER_FORMATS = frozenset({"json", "regex", "ltsv", "logfmt"})

#: Paths FireLens owns inside the log router container.
RESERVED_PATH_PREFIXES = ("/fluent-bit/etc/", "/fluentd/etc/", "/var/run/fluent.sock")

#: Variables the config reads, each explained in docs/firelens.md.
EXPECTED_ENV = frozenset({
    "DD_API_KEY", "DD_SITE", "DD_SERVICE", "DD_SOURCE", "DD_TAGS", "LOGSHIP_SYSTEM",
    "AWS_REGION", "DELIVERY_STREAM",
})

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# --- A small parser for Fluent Bit's classic format --------------------------


@dataclasses.dataclass
class Section:
    """One ``[NAME]`` block: its kind and its ``key value`` lines, in order."""

    kind: str
    line: int
    entries: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def get(self, key: str) -> str | None:
        """The last value of ``key`` (case-insensitive), as Fluent Bit keeps it."""
        found = [v for k, v in self.entries if k.lower() == key.lower()]
        return found[-1] if found else None

    def value(self, key: str) -> str:
        """The value of ``key``, which must be set."""
        found = self.get(key)
        assert found is not None, f"[{self.kind}] line {self.line} has no {key}"
        return found

    @property
    def name(self) -> str | None:
        return self.get("name")


@dataclasses.dataclass
class ClassicConfig:
    sections: list[Section]
    includes: list[str]
    sets: dict[str, str]

    def of_kind(self, kind: str) -> list[Section]:
        return [s for s in self.sections if s.kind == kind]


class ConfigSyntaxError(ValueError):
    """The text is not valid classic-format Fluent Bit configuration."""


def parse_classic(text: str) -> ClassicConfig:
    """Parse classic ``.conf`` text: sections, ``key value`` lines, ``@INCLUDE``, ``@SET``, ``#``."""
    sections: list[Section] = []
    includes: list[str] = []
    sets: dict[str, str] = {}
    current: Section | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("@"):
            directive, _, rest = stripped.partition(" ")
            if directive.upper() == "@INCLUDE" and rest.strip():
                includes.append(rest.strip())
            elif directive.upper() == "@SET" and "=" in rest:
                key, _, value = rest.partition("=")
                sets[key.strip()] = value.strip()
            else:
                raise ConfigSyntaxError(f"line {number}: bad directive {stripped!r}")
            continue
        match = re.fullmatch(r"\[([A-Za-z_]+)\]", stripped)
        if match:
            current = Section(kind=match.group(1).upper(), line=number)
            sections.append(current)
            continue
        if current is None:
            raise ConfigSyntaxError(f"line {number}: entry outside a section: {stripped!r}")
        if not raw[:1].isspace():
            raise ConfigSyntaxError(f"line {number}: entry must be indented: {stripped!r}")
        key, _, value = stripped.partition(" ")
        if not value.strip():
            raise ConfigSyntaxError(f"line {number}: key {key!r} has no value")
        current.entries.append((key, value.strip()))
    return ClassicConfig(sections=sections, includes=includes, sets=sets)


# --- The checks, usable on any config text -----------------------------------


def config_problems(config: ClassicConfig) -> list[str]:
    """Everything wrong with a parsed config; empty when it passes."""
    problems: list[str] = []
    for section in config.sections:
        where = f"[{section.kind}] at line {section.line}"
        keys = [k.lower() for k, _ in section.entries]
        if section.kind == "SERVICE":
            problems += [f"{where}: undocumented option {k!r}" for k in keys
                         if k not in SERVICE_OPTIONS]
            continue
        if section.kind not in {"FILTER", "OUTPUT"}:
            problems.append(f"{where}: section kind not allowed in the included file")
            continue
        if section.name is None:
            problems.append(f"{where}: no Name")
            continue
        if section.get("match") is None and section.get("match_regex") is None:
            problems.append(f"{where}: no Match or Match_Regex")
        allowed = PLUGIN_OPTIONS.get((section.kind.lower(), section.name.lower()))
        if allowed is None:
            problems.append(f"{where}: plugin {section.name!r} has no documented option list here")
            continue
        problems += [f"{where} {section.name}: undocumented option {k!r}"
                     for k in keys if k not in allowed]
    return problems


def parser_problems(config: ClassicConfig) -> list[str]:
    """Everything wrong with a parsed parsers file; empty when it passes."""
    problems: list[str] = []
    for section in config.sections:
        where = f"[{section.kind}] at line {section.line}"
        if section.kind != "PARSER":
            problems.append(f"{where}: only [PARSER] sections are expected")
            continue
        if section.name is None:
            problems.append(f"{where}: no Name")
        problems += [f"{where}: undocumented option {k!r}" for k, _ in section.entries
                     if k.lower() not in PARSER_OPTIONS]
        if (section.get("format") or "").lower() not in PARSER_FORMATS:
            problems.append(f"{where}: unknown Format {section.get('format')!r}")
    return problems


def path_values(config: ClassicConfig) -> list[str]:
    """Every value that looks like an absolute path, plus every include."""
    values = [v for s in config.sections for _, v in s.entries]
    return [v for v in values + config.includes if v.startswith("/")]


def env_references(text: str) -> set[str]:
    return set(_ENV_REF.findall(text))


def fluentbit_match(pattern: str, tag: str) -> bool:
    """Fluent Bit's Match: ``*`` is the only wildcard and matches any run of characters."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, tag) is not None


def section_matches(section: Section, tag: str) -> bool:
    regex = section.get("match_regex")
    if regex is not None:
        return re.search(regex, tag) is not None
    pattern = section.get("match")
    return pattern is not None and fluentbit_match(pattern, tag)


def rewritten_tag(section: Section, tag: str) -> str:
    """The tag a ``rewrite_tag`` rule gives a record, resolving ``$TAG``."""
    rule = section.get("rule")
    assert rule is not None
    new_tag = rule.split()[2]
    return new_tag.replace("$TAG", tag)


def firelens_tag(container: str, task_id: str) -> str:
    """The tag ECS gives a container's records: ``<container>-firelens-<task-id>``."""
    return f"{container}-firelens-{task_id}"


# --- Fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def config_text() -> str:
    return CONFIG.read_text()


@pytest.fixture(scope="module")
def config(config_text: str) -> ClassicConfig:
    return parse_classic(config_text)


@pytest.fixture(scope="module")
def parsers() -> ClassicConfig:
    return parse_classic(PARSERS.read_text())


@pytest.fixture(scope="module")
def task_definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TASK_DEFINITION.read_text())
    return loaded


def outputs(config: ClassicConfig) -> dict[str, Section]:
    return {s.name.lower(): s for s in config.of_kind("OUTPUT") if s.name}


def router(task_definition: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in task_definition["containerDefinitions"]
                    if "firelensConfiguration" in c]
    found: dict[str, Any] = container
    return found


def fields_set_from_env(config: ClassicConfig) -> dict[str, str]:
    """Top-level fields a ``modify`` filter sets (or adds) from one ``${VAR}``: field -> VAR.

    These are the fields the FireLens delivery stream partitions by
    (tests/test_deploy.py compares them with its jq query).
    """
    fields: dict[str, str] = {}
    for section in config.of_kind("FILTER"):
        if (section.name or "").lower() != "modify":
            continue
        for key, value in section.entries:
            if key.lower() not in {"set", "add"}:
                continue
            field, _, rest = value.partition(" ")
            match = _ENV_REF.fullmatch(rest.strip())
            if match:
                fields[field] = match.group(1)
    return fields


# --- The parser itself -------------------------------------------------------


def test_parser_reads_sections_entries_and_directives() -> None:
    """The classic-format parser finds sections, key/value lines, @INCLUDE and @SET, skipping comments."""
    text = (
        "@SET region=eu-west-1\n"
        "@INCLUDE /other.conf\n"
        "# a comment\n"
        "[SERVICE]\n"
        "    Flush 1\n"
        "    # indented comment\n"
        "[OUTPUT]\n"
        "    Name  kinesis_firehose\n"
        "    Match *\n"
        "    region ${AWS_REGION}\n"
    )
    parsed = parse_classic(text)
    assert [s.kind for s in parsed.sections] == ["SERVICE", "OUTPUT"]
    assert parsed.sections[1].entries == [
        ("Name", "kinesis_firehose"), ("Match", "*"), ("region", "${AWS_REGION}"),
    ]
    assert parsed.includes == ["/other.conf"]
    assert parsed.sets == {"region": "eu-west-1"}


@pytest.mark.parametrize("text", [
    "Name datadog\n",
    "[OUTPUT]\nName datadog\n",
    "[OUTPUT]\n    Name\n",
    "@BOGUS x\n",
])
def test_parser_rejects_malformed_text(text: str) -> None:
    """Entries outside a section, unindented entries, keys without values and unknown directives are errors."""
    with pytest.raises(ConfigSyntaxError):
        parse_classic(text)


# --- The checker catches broken configs ---------------------------------------


@pytest.mark.parametrize(("snippet", "expected"), [
    ("[OUTPUT]\n    Match *\n    apikey x\n", "no Name"),
    ("[OUTPUT]\n    Name datadog\n    apikey x\n", "no Match"),
    ("[OUTPUT]\n    Name datadog\n    Match *\n    dd_servcie x\n", "'dd_servcie'"),
    ("[OUTPUT]\n    Name kinesis_firehose\n    Match *\n    stream x\n", "'stream'"),
    ("[OUTPUT]\n    Name firehose\n    Match *\n    region x\n", "'firehose' has no documented"),
    ("[FILTER]\n    Name parser\n    Match *\n    Key log\n", "'key'"),
    ("[SERVICE]\n    storage.total_limit 5M\n", "'storage.total_limit'"),
    ("[INPUT]\n    Name forward\n", "not allowed"),
])
def test_checker_flags_bad_snippets(snippet: str, expected: str) -> None:
    """A missing Name or Match, a typo'd or foreign option, the Go firehose plugin and an [INPUT] are all reported."""
    problems = config_problems(parse_classic(snippet))
    assert any(expected in p for p in problems), problems


def test_checker_flags_bad_parser_snippets() -> None:
    """A parsers file with an unknown option or format is reported."""
    bad = parse_classic("[PARSER]\n    Name x\n    Format jsonn\n    Time_Kee t\n")
    problems = parser_problems(bad)
    assert any("'Time_Kee'" in p for p in problems)
    assert any("unknown Format" in p for p in problems)


# --- The shipped config -------------------------------------------------------


def test_config_has_the_expected_sections(config: ClassicConfig) -> None:
    """The config holds one [SERVICE], the buffering/parsing filters and exactly the datadog and kinesis_firehose outputs."""
    assert len(config.of_kind("SERVICE")) == 1
    assert sorted(outputs(config)) == ["datadog", "kinesis_firehose"]
    filter_names = [s.name for s in config.of_kind("FILTER")]
    assert filter_names == ["modify", "rewrite_tag", "parser", "parser", "modify", "modify"]
    assert config.of_kind("INPUT") == []


def test_every_section_has_a_name_and_only_documented_options(config: ClassicConfig) -> None:
    """Every filter and output names its plugin and uses only options Fluent Bit 5.0 documents for it."""
    assert config_problems(config) == []


def test_parsers_file_is_valid_and_provides_what_the_config_uses(
    config: ClassicConfig, parsers: ClassicConfig
) -> None:
    """Each parser the config names is defined in parsers.conf with documented options only."""
    assert parser_problems(parsers) == []
    defined = {s.name for s in parsers.sections}
    used = {s.get("parser") for s in config.of_kind("FILTER") if s.name == "parser"}
    assert used and used <= defined
    (service,) = config.of_kind("SERVICE")
    assert service.get("parsers_file") == IMAGE_CONFIG_DIR + PARSERS.name


def test_task_id_parser_extracts_the_id_from_both_arn_forms(parsers: ClassicConfig) -> None:
    """The task-id regex yields the ECS task id from long- and short-format task ARNs."""
    (section,) = [s for s in parsers.sections if s.name == "logship_task_id"]
    regex = section.get("regex")
    assert regex is not None
    python_regex = re.compile(regex.replace("(?<", "(?P<"))
    long_arn = "arn:aws:ecs:ap-northeast-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    short_arn = "arn:aws:ecs:us-east-1:123456789012:task/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    for arn in (long_arn, short_arn):
        match = python_regex.fullmatch(arn)
        assert match is not None
        assert match.group("task") == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def test_datadog_output_is_set_as_the_issue_requires(config: ClassicConfig) -> None:
    """Datadog gets TLS, gzip, the API key and dd_* from env, message from 'log' and ECS tags."""
    datadog = outputs(config)["datadog"]
    assert datadog.value("tls").lower() == "on"
    assert datadog.get("compress") == "gzip"
    assert datadog.get("apikey") == "${DD_API_KEY}"
    assert datadog.get("dd_service") == "${DD_SERVICE}"
    assert datadog.get("dd_source") == "${DD_SOURCE}"
    assert "${DD_TAGS}" in datadog.value("dd_tags")
    assert datadog.get("dd_message_key") == "log"
    assert datadog.get("provider") == "ecs"


def test_datadog_tags_use_the_lambda_paths_names(config: ClassicConfig) -> None:
    """System comes from dd_tags; application and task are added from container_name and the task ARN."""
    datadog = outputs(config)["datadog"]
    tags = datadog.value("dd_tags").split(",")
    assert "system:${LOGSHIP_SYSTEM}" in tags
    copies = [v for s in config.of_kind("FILTER") if s.name == "modify"
              for k, v in s.entries if k.lower() == "copy"]
    assert "container_name application" in copies
    task_filters = [s for s in config.of_kind("FILTER")
                    if s.name == "parser" and s.get("key_name") == "ecs_task_arn"]
    assert len(task_filters) == 1
    assert task_filters[0].value("reserve_data").lower() == "on"


def test_json_logs_are_parsed_into_attributes(config: ClassicConfig, parsers: ClassicConfig) -> None:
    """A parser filter turns a JSON 'log' line into top-level fields and keeps the other keys."""
    (json_filter,) = [s for s in config.of_kind("FILTER")
                      if s.name == "parser" and s.get("key_name") == "log"]
    assert json_filter.value("reserve_data").lower() == "on"
    (parser,) = [s for s in parsers.sections if s.name == json_filter.get("parser")]
    assert parser.get("format") == "json"


def test_firehose_output_is_the_c_plugin_with_env_settings(config: ClassicConfig) -> None:
    """kinesis_firehose sends whole records (one JSON line each) to the env-named stream and region."""
    firehose = outputs(config)["kinesis_firehose"]
    assert firehose.get("region") == "${AWS_REGION}"
    assert firehose.get("delivery_stream") == "${DELIVERY_STREAM}"
    # log_key would send only the raw text, compression would gzip each record:
    # either breaks newline-separated JSON in S3.
    assert firehose.get("log_key") is None
    assert firehose.get("compression") is None


def test_every_record_carries_system_and_service_from_the_environment(config: ClassicConfig) -> None:
    """A modify filter Sets top-level system and service from LOGSHIP_SYSTEM and DD_SERVICE on every re-tagged record."""
    assert fields_set_from_env(config) == {"system": "LOGSHIP_SYSTEM", "service": "DD_SERVICE"}
    (setter,) = [s for s in config.of_kind("FILTER") if s.name == "modify"
                 and any(k.lower() == "set" for k, _ in s.entries)]
    # Set, not Add: Add leaves a field the app's JSON line already has, which
    # would move the record to another S3 prefix.
    assert {k.lower() for k, _ in setter.entries} == {"name", "match", "set"}
    tag = "logship." + firelens_tag("app", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert section_matches(setter, tag)
    assert {k.lower() for k, _ in setter.entries} <= PLUGIN_OPTIONS[("filter", "modify")]


def test_system_and_service_are_set_after_the_json_parser(config: ClassicConfig) -> None:
    """The JSON parser runs first, so fields parsed from the app's line cannot replace system or service."""
    filters = config.of_kind("FILTER")
    (json_filter,) = [s for s in filters if s.name == "parser" and s.get("key_name") == "log"]
    (setter,) = [s for s in filters if s.name == "modify" and s.get("set")]
    assert filters.index(json_filter) < filters.index(setter)


def test_system_and_service_leave_datadog_application_and_task_alone(config: ClassicConfig) -> None:
    """The new fields are neither application nor task, and the Datadog output still takes service and system from env."""
    fields = set(fields_set_from_env(config))
    assert not fields & {"application", "task", "log", "message", "ddsource", "ddtags"}
    datadog = outputs(config)["datadog"]
    assert datadog.get("dd_service") == "${DD_SERVICE}"
    assert "system:${LOGSHIP_SYSTEM}" in datadog.value("dd_tags").split(",")
    assert datadog.get("dd_message_key") == "log"


def test_env_field_helper_reads_set_and_add_only() -> None:
    """The helper finds Set/Add of a single ${VAR}, and ignores Copy, literals and other plugins."""
    parsed = parse_classic(
        "[FILTER]\n    Name modify\n    Match *\n    Set a ${A}\n    Add b ${B}\n"
        "    Set c literal\n    Copy d e\n"
        "[FILTER]\n    Name record_modifier\n    Match *\n    Record f ${F}\n"
    )
    assert fields_set_from_env(parsed) == {"a": "A", "b": "B"}


def test_service_sets_grace_health_and_filesystem_buffering(config: ClassicConfig) -> None:
    """[SERVICE] sets Grace, the health endpoint and a storage path; outputs bound retries and disk use."""
    (service,) = config.of_kind("SERVICE")
    assert 0 < int(service.value("grace")) < 45  # below the sidecar's stopTimeout
    assert service.value("http_server").lower() == "on"
    assert service.get("http_port") == "2020"
    assert service.value("health_check").lower() == "on"
    assert service.get("storage.path")
    assert int(service.value("storage.max_chunks_up")) <= 32
    (rewrite,) = [s for s in config.of_kind("FILTER") if s.name == "rewrite_tag"]
    assert rewrite.get("emitter_storage.type") == "filesystem"
    for output in outputs(config).values():
        assert output.value("retry_limit").isdigit()
        assert 0 < int(output.value("retry_limit")) <= 20
        assert re.fullmatch(r"\d+[KMG]", output.value("storage.total_limit_size"))


def test_grace_fits_inside_the_task_definitions_stop_timeout(
    config: ClassicConfig, task_definition: dict[str, Any]
) -> None:
    """Fluent Bit's Grace ends before ECS kills the sidecar at its stopTimeout."""
    (service,) = config.of_kind("SERVICE")
    assert int(service.value("grace")) < router(task_definition)["stopTimeout"] <= 120


def test_match_patterns_catch_firelens_tags(config: ClassicConfig) -> None:
    """FireLens tags reach the rewrite filter once, and its re-emitted tag reaches both outputs and every later filter."""
    tag = firelens_tag("app", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    (rewrite,) = [s for s in config.of_kind("FILTER") if s.name == "rewrite_tag"]
    assert section_matches(rewrite, tag)
    new_tag = rewritten_tag(rewrite, tag)
    assert not section_matches(rewrite, new_tag), "rewrite_tag would loop"
    assert not section_matches(rewrite, "firelens-healthcheck")
    later = config.sections[config.sections.index(rewrite) + 1:]
    for section in later:
        assert section_matches(section, new_tag), section
        assert not section_matches(section, "firelens-healthcheck"), section


@given(
    container=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}", fullmatch=True),
    task_id=st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
)
def test_any_container_name_is_routed_to_both_outputs(container: str, task_id: str) -> None:
    """Whatever the ECS container name, its records are re-tagged once and reach both outputs."""
    parsed = parse_classic(CONFIG.read_text())
    tag = firelens_tag(container, task_id)
    (rewrite,) = [s for s in parsed.of_kind("FILTER") if s.name == "rewrite_tag"]
    assert section_matches(rewrite, tag)
    new_tag = rewritten_tag(rewrite, tag)
    assert not section_matches(rewrite, new_tag)
    assert all(section_matches(o, new_tag) for o in parsed.of_kind("OUTPUT"))


def test_match_helper_distinguishes_tags() -> None:
    """The Match emulation is strict enough to fail a pattern that misses FireLens tags."""
    assert fluentbit_match("logship.*", "logship.firehose.app-firelens-1")
    assert not fluentbit_match("logship.*", "app-firelens-1")
    assert not fluentbit_match("*-firelens", "app-firelens-1")


def test_no_reserved_path_is_used(config: ClassicConfig, parsers: ClassicConfig) -> None:
    """Neither the config nor the parsers nor the task definition point into paths FireLens owns."""
    paths = path_values(config) + path_values(parsers)
    assert paths, "expected at least the parsers file and storage path"
    for path in paths:
        assert not path.startswith(RESERVED_PATH_PREFIXES), path
    value = TASK_DEFINITION.read_text()
    options = json.loads(value)["containerDefinitions"]
    for container in options:
        file_value = container.get("firelensConfiguration", {}).get("options", {}).get(
            "config-file-value", "")
        assert not file_value.startswith(RESERVED_PATH_PREFIXES)


def test_reserved_path_check_would_catch_a_bad_config() -> None:
    """A config pointing at /fluent-bit/etc/ is caught by the reserved-path check."""
    bad = parse_classic("[SERVICE]\n    Parsers_File /fluent-bit/etc/parsers.conf\n")
    assert any(p.startswith(RESERVED_PATH_PREFIXES) for p in path_values(bad))


def test_every_env_var_is_expected_and_documented(config_text: str) -> None:
    """Each ${VAR} the config reads is in the known list and explained in docs/firelens.md."""
    used = env_references(config_text)
    assert used == EXPECTED_ENV
    docs = DOCS.read_text()
    for name in used:
        assert re.search(rf"^\|\s*`{name}`\s*\|", docs, re.MULTILINE), name


def test_env_reference_scan_finds_variables() -> None:
    """The ${VAR} scan finds every reference, so an undocumented one cannot slip through."""
    assert env_references("a ${ONE} b ${TWO_2}\n${ONE}") == {"ONE", "TWO_2"}


# --- The task definition example --------------------------------------------


def test_task_definition_has_the_fields_ecs_requires(task_definition: dict[str, Any]) -> None:
    """The example is a Fargate task definition: family, containers with name and image, cpu, memory, awsvpc."""
    assert task_definition["family"]
    assert task_definition["requiresCompatibilities"] == ["FARGATE"]
    assert task_definition["networkMode"] == "awsvpc"
    assert task_definition["cpu"] and task_definition["memory"]
    assert task_definition["taskRoleArn"].startswith("arn:aws:iam::")
    assert task_definition["executionRoleArn"].startswith("arn:aws:iam::")
    containers = task_definition["containerDefinitions"]
    assert len(containers) >= 2
    for container in containers:
        assert container["name"] and container["image"]
        assert ":latest" not in container["image"] and ":stable" not in container["image"]


def test_task_definition_wires_the_app_through_firelens(task_definition: dict[str, Any]) -> None:
    """Apps log through awsfirelens; the router loads logship.conf from the image with config-file-type file."""
    log_router = router(task_definition)
    assert log_router["essential"] is True
    assert log_router["firelensConfiguration"]["type"] == "fluentbit"
    options = log_router["firelensConfiguration"]["options"]
    assert options["config-file-type"] == "file"
    assert options["config-file-value"] == IMAGE_CONFIG_DIR + CONFIG.name
    apps = [c for c in task_definition["containerDefinitions"] if c is not log_router]
    assert apps
    for app in apps:
        assert app["logConfiguration"]["logDriver"] == "awsfirelens"


def test_task_definition_env_matches_the_config(task_definition: dict[str, Any], config_text: str) -> None:
    """The router's environment and secrets provide exactly the variables the config reads; the key comes from SSM."""
    log_router = router(task_definition)
    plain = {e["name"] for e in log_router["environment"]}
    secret = {s["name"]: s["valueFrom"] for s in log_router["secrets"]}
    assert plain | set(secret) == env_references(config_text)
    assert set(secret) == {"DD_API_KEY"}
    assert secret["DD_API_KEY"].startswith("arn:aws:ssm:")
    assert "DD_API_KEY" not in plain


def test_task_definition_health_check_uses_the_fluent_bit_endpoint(
    task_definition: dict[str, Any], config: ClassicConfig
) -> None:
    """The router's health check calls /api/v1/health on the port the config opens."""
    (service,) = config.of_kind("SERVICE")
    check = router(task_definition)["healthCheck"]
    assert check["command"][0] == "CMD-SHELL"
    assert f":{service.get('http_port')}/api/v1/health" in check["command"][1]
    assert f":{service.get('http_port')}/api/v1/health" in SIDECAR_DOCKERFILE.read_text()


def test_iam_policies_grant_only_what_the_sidecar_needs(task_definition: dict[str, Any]) -> None:
    """Task role: PutRecordBatch on the one stream; execution role: GetParameters on the one parameter and kms:Decrypt."""
    log_router = router(task_definition)
    stream = next(e["value"] for e in log_router["environment"] if e["name"] == "DELIVERY_STREAM")
    parameter = log_router["secrets"][0]["valueFrom"]

    task_policy = json.loads(TASK_ROLE_POLICY.read_text())
    (statement,) = task_policy["Statement"]
    assert statement["Action"] == ["firehose:PutRecordBatch"]
    assert statement["Resource"].endswith(f":deliverystream/{stream}")
    # The stack's shared FireLens stream is <DeliveryStreamName>-firelens (default "logship").
    assert stream == "logship-firelens"

    execution_policy = json.loads(EXECUTION_ROLE_POLICY.read_text())
    actions = {a: s["Resource"] for s in execution_policy["Statement"] for a in s["Action"]}
    assert set(actions) == {"ssm:GetParameters", "kms:Decrypt"}
    assert actions["ssm:GetParameters"] == parameter
    assert "*" not in actions["kms:Decrypt"]
