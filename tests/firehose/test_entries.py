"""Entry step: Datadog entries from log events, JSON as attributes, the right status, never raising."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.entries import TRUNCATION_MARKER, EntryOptions, _enrich, build_entries, level_of
from logship.firehose.s3_output import encode_messages
from logship.firehose.subscription import LogBatch
from logship.firehose.tags import StreamTags
from logship.settings import Settings

TAGS = StreamTags("cron", "billing", "app", "task1")


def batch(*messages: str, ts: int = 1_700_000_000_000) -> LogBatch:
    events = [{"id": str(n), "timestamp": ts + n, "message": m} for n, m in enumerate(messages)]
    return LogBatch("DATA_MESSAGE", "/cron/billing", "/cron/billing/app/task1", events)  # type: ignore[arg-type]


def entries(*messages: str, **options: Any) -> list[dict[str, Any]]:
    return [orjson.loads(e) for e in build_entries(batch(*messages), TAGS, EntryOptions(**options))]


def test_json_log_becomes_attributes_with_reserved_fields():
    """A JSON object log keeps its fields and gains ddsource, ddtags, service and the event timestamp."""
    [entry] = entries('{"msg":"hi","order":{"id":1}}', extra_tags=("env:prod",))
    assert entry == {
        "msg": "hi",
        "order": {"id": 1},
        "ddsource": "firehose",
        "ddtags": "system:cron,service:billing,application:app,task:task1,env:prod",
        "service": "billing",
        "timestamp": 1_700_000_000_000,
    }


@pytest.mark.parametrize(
    ("log", "status"),
    [
        ({"loglevel": "error"}, "error"),
        ({"loglevel": "fatal"}, "critical"),
        ({"level": "WARN"}, "warning"),
        ({"severity": "Debug"}, "debug"),
        ({"level": 50}, "error"),
        ({"log": {"level": "error"}}, "error"),
        ({"status": "err"}, "error"),
    ],
)
def test_status_comes_from_the_logs_own_level(log, status):
    """status, level, loglevel, severity and log.level set the status, normalised."""
    [entry] = entries(orjson.dumps(log).decode())
    assert entry["status"] == status


def test_numeric_status_is_an_http_code_not_a_level():
    """A numeric status is kept as status_code and the level comes from elsewhere."""
    [entry] = entries('{"status": 500, "loglevel": "error"}')
    assert entry["status"] == "error"
    assert entry["status_code"] == 500
    [entry] = entries('{"status": 200}')
    assert "status" not in entry
    assert entry["status_code"] == 200


def test_apps_own_reserved_fields_win_and_never_raise():
    """An app's own service, ddsource, timestamp and ddtags are kept (tags are appended), no error."""
    [entry] = entries('{"service":"mine","ddsource":"java","timestamp":"2024-01-01T00:00:00Z","ddtags":"team:x"}')
    assert entry["service"] == "mine"
    assert entry["ddsource"] == "java"
    assert entry["timestamp"] == "2024-01-01T00:00:00Z"
    assert entry["ddtags"].endswith(",team:x") and entry["ddtags"].startswith("system:cron")


def test_only_json_by_default_plain_lines_when_false():
    """Plain lines are skipped unless ONLY_JSON=false, then sent as {"message": line}."""
    assert entries("plain line", '"a json string"', "[1,2]") == []
    sent = entries("plain line", "{broken json", only_json=False)
    assert [e["message"] for e in sent] == ["plain line", "{broken json"]
    assert sent[0]["ddtags"].startswith("system:cron") and sent[0]["timestamp"] == 1_700_000_000_000


def test_oversized_log_is_truncated_with_a_marker_not_dropped():
    """A log over the per-log limit is cut to fit, marked, and says its original size."""
    huge = '{"msg":"' + "x" * 5000 + '"}'
    [raw] = build_entries(batch(huge), TAGS, EntryOptions(max_entry_bytes=1000))
    assert len(raw) <= 1000
    entry = orjson.loads(raw)
    assert entry["message"].endswith(TRUNCATION_MARKER)
    assert entry["logship"] == {"truncated": True, "original_bytes": len(huge)}
    assert entry["ddtags"].startswith("system:cron")


def test_escapes_heavy_log_still_truncates_under_the_limit():
    """Control characters that JSON-escape to six bytes each still end under the limit."""
    [raw] = build_entries(batch("\x01" * 3000), TAGS, EntryOptions(only_json=False, max_entry_bytes=2000))
    assert len(raw) <= 2000


def test_redaction_and_filters_apply_to_datadog_entries():
    """Built-in and user redactions rewrite messages; include/exclude decide what is sent."""
    settings = Settings.from_env(
        {
            "LOGSHIP_REDACT": "email,ipv4",
            "LOGSHIP_REDACT_RULES": '[{"pattern": "card=\\\\d+", "replacement": "card=***"}]',
            "LOGSHIP_EXCLUDE_AT_MATCH": "healthcheck",
        }
    )
    message_filter = settings.transform.entries.message_filter
    sent = entries(
        "mail bob@example.com from 10.1.2.3 card=4242",
        "GET /healthcheck",
        only_json=False,
        message_filter=message_filter,
    )
    assert [e["message"] for e in sent] == ["mail [REDACTED_EMAIL] from [REDACTED_IP] card=***"]
    assert Settings.from_env({}).transform.entries.message_filter is None


@pytest.mark.parametrize(
    ("value", "level"), [("INFO", "info"), ("bogus", "bogus"), (200, None), (3.5, None), ("", None)]
)
def test_level_of(value, level):
    """Level values normalise; numbers outside syslog and pino ranges are not levels."""
    assert level_of(value) == level


TEXT = st.text(st.characters(codec="utf-8"))
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT


@given(st.dictionaries(TEXT, st.recursive(SCALARS, lambda c: st.lists(c) | st.dictionaries(TEXT, c), max_leaves=8)))
def test_any_json_object_log_gives_one_valid_entry(log):
    """Any JSON object log becomes exactly one entry that is valid JSON with the derived tags."""
    message = orjson.dumps(log).decode()
    [raw] = build_entries(batch(message), TAGS, EntryOptions())
    entry = orjson.loads(raw)
    assert "system:cron" in entry["ddtags"]


def reference_entry(message: str, tags: StreamTags = TAGS, source: str = "firehose") -> dict[str, Any]:
    """What an entry must hold: the app's object merged the careful way (``_enrich``), as a dict."""
    attributes = orjson.loads(message)
    _enrich(attributes, tags.ddtags(()), tags.service, source, 1_700_000_000_000)
    return attributes


LEVELS = st.sampled_from(["info", "ERROR", "Warn", "fatal", "bogus", "", 30, 5, 200, None])
APP_LOG = st.fixed_dictionaries(
    {},
    optional={
        "msg": TEXT,
        "level": LEVELS,
        "loglevel": LEVELS,
        "severity": LEVELS,
        "status": LEVELS,
        "service": TEXT,
        "timestamp": st.integers(0, 2**40),
        "ddtags": TEXT,
        "log": st.fixed_dictionaries({}, optional={"level": LEVELS}),
        "nested": st.recursive(SCALARS, lambda c: st.lists(c) | st.dictionaries(TEXT, c), max_leaves=6),
    },
)


@given(APP_LOG, st.sampled_from([None, 2]), st.sampled_from(["", " ", "\n", " \r\n\t"]))
def test_entries_match_the_careful_merge_whatever_the_path(log, indent, trailing):
    """Kept text or re-serialized, from str or from UTF-8 bytes: every entry equals the careful merge.

    Logs without reserved names keep the app's own JSON text with the reserved
    attributes spliced in before its closing brace; the others are merged and
    serialized. Either way the entry parses to what the careful merge gives,
    whatever the app's spacing and trailing whitespace.
    """
    import json

    message = json.dumps(log, indent=indent, ensure_ascii=False) + trailing
    expected = reference_entry(message)
    one = batch(message)
    from_text = build_entries(one, TAGS, EntryOptions())
    from_bytes = build_entries(one, TAGS, EntryOptions(), encoded=encode_messages(one.events))
    assert from_text == from_bytes
    assert [orjson.loads(raw) for raw in from_text] == [expected]


def test_kept_text_keeps_the_apps_own_spelling():
    """A log without reserved names is sent as the app wrote it (number spelling, key order), plus ours."""
    [raw] = build_entries(batch('{"b": 1.50, "a": 1E3, "level": "warn"}  '), TAGS, EntryOptions())
    assert raw.startswith(b'{"b": 1.50, "a": 1E3, "level": "warn",')
    assert raw.endswith(b',"timestamp":1700000000000,"status":"warning"}')
    assert orjson.loads(raw)["a"] == 1000.0


def test_empty_object_and_reserved_names_take_the_careful_path():
    """An empty object, or one naming a reserved attribute, is merged rather than spliced."""
    [empty, own_service] = entries("{}", '{"service":"mine","level":"info"}')
    assert empty == reference_entry("{}")
    assert own_service["service"] == "mine" and own_service["status"] == "info"


def test_a_lone_surrogate_leaves_the_batch_to_the_text_path():
    """Messages that are not valid Unicode have no UTF-8 form: encode_messages says so, entries still come."""
    one = batch('{"msg":"ok"}', "bad \ud800 line")
    assert encode_messages(one.events) is None
    sent = [orjson.loads(e) for e in build_entries(one, TAGS, EntryOptions(only_json=False), encoded=None)]
    assert sent[0]["msg"] == "ok" and sent[1]["message"] == "bad ? line"


def test_redaction_applies_to_json_logs_kept_as_text():
    """A JSON log that keeps its own text is redacted first: the kept text is the scrubbed one."""
    message_filter = Settings.from_env({"LOGSHIP_REDACT": "email"}).transform.entries.message_filter
    one = batch('{"msg":"mail bob@example.com","level":"info"}')
    for encoded in (None, encode_messages(one.events)):
        [raw] = build_entries(one, TAGS, EntryOptions(message_filter=message_filter), encoded=encoded)
        assert b"bob@example.com" not in raw
        assert orjson.loads(raw)["msg"] == "mail [REDACTED_EMAIL]"
