"""Entry step: Datadog entries from log events, JSON as attributes, the right status, never raising."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.entries import TRUNCATION_MARKER, EntryOptions, _Context, _enrich, build_entries, level_of
from logship.firehose.levels import FIELD_NAMES, STATUSES
from logship.firehose.s3_output import encode_messages
from logship.firehose.subscription import LogBatch
from logship.firehose.tags import StreamTags
from logship.firehose.timestamps import DATE_ATTRIBUTES, DateWindow, datadog_date_ms
from logship.settings import Settings

TAGS = StreamTags("cron", "billing", "app", "task1")
# The events below date from 1_700_000_000_000 (2023-11-14T22:13:20Z); entries are built
# as if sent a second later, so Datadog's date window is the one around them.
NOW_MS = 1_700_000_001_000


def options(**kwargs) -> EntryOptions:
    """EntryOptions with the clock at NOW_MS."""
    return EntryOptions(clock=lambda: NOW_MS / 1000, **kwargs)


def batch(*messages: str, ts: int = 1_700_000_000_000) -> LogBatch:
    events = [{"id": str(n), "timestamp": ts + n, "message": m} for n, m in enumerate(messages)]
    return LogBatch("DATA_MESSAGE", "/cron/billing", "/cron/billing/app/task1", events)  # type: ignore[arg-type]


def entries(*messages: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [orjson.loads(e) for e in build_entries(batch(*messages), TAGS, options(**kwargs))]


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
    [entry] = entries('{"service":"mine","ddsource":"java","timestamp":"2023-11-14T22:00:00Z","ddtags":"team:x"}')
    assert entry["service"] == "mine"
    assert entry["ddsource"] == "java"
    assert entry["timestamp"] == "2023-11-14T22:00:00Z"
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
    [raw] = build_entries(batch(huge), TAGS, options(max_entry_bytes=1000))
    assert len(raw) <= 1000
    entry = orjson.loads(raw)
    assert entry["message"].endswith(TRUNCATION_MARKER)
    assert entry["logship"] == {"truncated": True, "original_bytes": len(huge)}
    assert entry["ddtags"].startswith("system:cron")


def test_escapes_heavy_log_still_truncates_under_the_limit():
    """Control characters that JSON-escape to six bytes each still end under the limit."""
    [raw] = build_entries(batch("\x01" * 3000), TAGS, options(only_json=False, max_entry_bytes=2000))
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


@pytest.mark.parametrize(("value", "level"), [("INFO", "info"), ("bogus", None), (200, None), (3.5, None), ("", None)])
def test_level_of(value, level):
    """Level values normalise; text no Datadog rule reads and numbers outside syslog and pino ranges are not levels."""
    assert level_of(value) == level


TEXT = st.text(st.characters(codec="utf-8"))
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT


@given(st.dictionaries(TEXT, st.recursive(SCALARS, lambda c: st.lists(c) | st.dictionaries(TEXT, c), max_leaves=8)))
def test_any_json_object_log_gives_one_valid_entry(log):
    """Any JSON object log becomes exactly one entry that is valid JSON with the derived tags."""
    message = orjson.dumps(log).decode()
    [raw] = build_entries(batch(message), TAGS, options())
    entry = orjson.loads(raw)
    assert "system:cron" in entry["ddtags"]


def reference_entry(message: str, tags: StreamTags = TAGS, source: str = "firehose") -> dict[str, Any]:
    """What an entry must hold: the app's object merged the careful way (``_enrich``), as a dict."""
    context = _Context(tags, (), source, DateWindow.around(NOW_MS))
    return _enrich(orjson.loads(message), context, 1_700_000_000_000)


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
    from_text = build_entries(one, TAGS, options())
    from_bytes = build_entries(one, TAGS, options(), encoded=encode_messages(one.events))
    assert from_text == from_bytes
    assert [orjson.loads(raw) for raw in from_text] == [expected]


def test_kept_text_keeps_the_apps_own_spelling():
    """A log without reserved names is sent as the app wrote it (number spelling, key order), plus ours."""
    [raw] = build_entries(batch('{"b": 1.50, "a": 1E3, "level": "warn"}  '), TAGS, options())
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
    sent = [orjson.loads(e) for e in build_entries(one, TAGS, options(only_json=False), encoded=None)]
    assert sent[0]["msg"] == "ok" and sent[1]["message"] == "bad \ufffd line"


def test_redaction_applies_to_json_logs_kept_as_text():
    """A JSON log that keeps its own text is redacted first: the kept text is the scrubbed one."""
    message_filter = Settings.from_env({"LOGSHIP_REDACT": "email"}).transform.entries.message_filter
    one = batch('{"msg":"mail bob@example.com","level":"info"}')
    for encoded in (None, encode_messages(one.events)):
        [raw] = build_entries(one, TAGS, options(message_filter=message_filter), encoded=encoded)
        assert b"bob@example.com" not in raw
        assert orjson.loads(raw)["msg"] == "mail [REDACTED_EMAIL]"


STALE_NOW_MS = NOW_MS + 30 * 3_600_000  # the same events, sent 30 hours later


@given(APP_LOG, st.sampled_from(["", "\n", " \r\n\t"]))
def test_entries_of_stale_events_match_the_careful_merge_too(log, trailing):
    """Events Datadog would discard for their date: kept text or merged, the entry is the careful merge's."""
    import json

    message = json.dumps(log, ensure_ascii=False) + trailing
    context = _Context(TAGS, (), "firehose", DateWindow.around(STALE_NOW_MS))
    expected = _enrich(orjson.loads(message), context, 1_700_000_000_000)
    stale = EntryOptions(clock=lambda: STALE_NOW_MS / 1000)
    [raw] = build_entries(batch(message), TAGS, stale)
    assert orjson.loads(raw) == expected
    assert "timestamp" not in expected or expected["timestamp"] != 1_700_000_000_000


def test_a_stale_event_keeps_its_text_and_its_time_under_logship():
    """A log without reserved names from a backlog keeps its own text; its time moves under logship."""
    stale = EntryOptions(clock=lambda: STALE_NOW_MS / 1000)
    [raw] = build_entries(batch('{"b": 1.50, "level": "warn"}'), TAGS, stale)
    assert raw.startswith(b'{"b": 1.50, "level": "warn",')
    assert raw.endswith(b',"logship":{"original_timestamp":1700000000000},"status":"warning"}')


def test_integers_past_64_bits_are_sent_exactly():
    """A log that keeps its own text sends an integer past 64 bits digit for digit, with the log's status."""
    [raw] = build_entries(batch('{"level":"info","big":123456789012345678901234567890}'), TAGS, options())
    assert b'"big":123456789012345678901234567890,' in raw
    assert orjson.loads(raw)["status"] == "info"


LEVEL_VALUES = st.one_of(
    st.sampled_from(["ERROR", "warn", "Information", "FATAL2", "ERROR+2", "\x1b[31merror\x1b[39m", "bogus", ""]),
    st.text(max_size=8),
    st.integers(-10, 100_000),
    st.floats(),
    st.booleans(),
    st.none(),
)
DATE_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.integers(NOW_MS - 30 * 3_600_000, NOW_MS + 10 * 3_600_000),
    st.integers(NOW_MS - 30 * 3_600_000, NOW_MS + 10 * 3_600_000).map(lambda ms: ms / 1000),
    st.integers(NOW_MS - 30 * 3_600_000, NOW_MS + 10 * 3_600_000).map(lambda ms: str(ms * 1_000_000)),
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
# Letters, digits, symbols, spaces, control characters and lone surrogates (a cut emoji).
ANY_TEXT = st.text(st.characters(categories=["Cs", "Ll", "Lu", "Lo", "Nd", "So", "Zs", "Cc"]), max_size=16)
LEVEL_FIELDS = st.dictionaries(
    st.sampled_from(sorted(FIELD_NAMES - {"syslog", "record", "log"})), LEVEL_VALUES, max_size=3
)
NESTED = st.fixed_dictionaries(
    {},
    optional={
        "log": st.fixed_dictionaries({}, optional={"level": LEVEL_VALUES}),
        "syslog": st.fixed_dictionaries({}, optional={"severity": LEVEL_VALUES, "timestamp": DATE_VALUES}),
        "record": st.fixed_dictionaries(
            {}, optional={"level": st.fixed_dictionaries({}, optional={"name": LEVEL_VALUES})}
        ),
    },
)
DATES = st.dictionaries(st.sampled_from(DATE_ATTRIBUTES[:-1]), DATE_VALUES, max_size=3)


@given(
    st.dictionaries(ANY_TEXT, ANY_TEXT | st.integers() | st.none(), max_size=4),
    LEVEL_FIELDS,
    NESTED,
    DATES,
    st.sampled_from(["", "  ", "\n", "\ufeff", " \r\n"]),
    st.booleans(),
    st.integers(NOW_MS - 30 * 3_600_000, NOW_MS + 10 * 3_600_000),
)
def test_any_json_object_log_gives_valid_json_a_known_status_and_a_date_datadog_keeps(
    fields, levels, nested, dates, framing, escaped, event_ms
):
    """Any JSON object log gives strict JSON with one of Datadog's statuses (or none) and dates Datadog keeps.

    Whatever its level fields, date types or characters (lone surrogates,
    escaped or not), the entry is valid UTF-8 JSON, and every date Datadog
    reads in it is inside Datadog's window.
    """
    import json

    log = {**fields, **levels, **nested, **dates}
    message = framing + json.dumps(log, ensure_ascii=escaped)  # escaped: \\ud83d; not: the raw code point
    one = LogBatch(
        "DATA_MESSAGE",
        "/cron/billing",
        "/cron/billing/app/task1",
        [{"id": "1", "timestamp": event_ms, "message": message}],
    )
    [raw] = build_entries(one, TAGS, options())
    raw.decode("utf-8")
    entry = orjson.loads(raw)
    assert entry.get("status") in {*STATUSES, None}
    datadog = DateWindow.around(NOW_MS, margin_ms=0)
    syslog = entry.get("syslog")
    found = [entry[name] for name in DATE_ATTRIBUTES if name in entry]
    found += [syslog["timestamp"]] if type(syslog) is dict and "timestamp" in syslog else []
    for value in found:
        ms = datadog_date_ms(value)
        assert ms is not None and datadog.keeps(ms)


@pytest.mark.parametrize("framing", [" ", "\n", "\r\n\t", "\ufeff", "\ufeff \n"])
def test_json_after_framing_is_json_from_text_and_from_bytes(framing):
    """Whitespace, line ends or a byte order mark before the object: a JSON log, the same from text or bytes."""
    one = batch(framing + '{"level":"error","msg":"disk full"}', "  at Main.java:1")
    from_text = build_entries(one, TAGS, options(only_json=False))
    from_bytes = build_entries(one, TAGS, options(only_json=False), encoded=encode_messages(one.events))
    assert from_text == from_bytes
    assert [orjson.loads(raw) for raw in from_text] == [
        reference_entry('{"level":"error","msg":"disk full"}'),
        {
            "message": "  at Main.java:1",
            "ddsource": "firehose",
            "ddtags": TAGS.ddtags(()),
            "timestamp": 1_700_000_000_001,
            "service": "billing",
        },
    ]


def test_deeply_nested_logs_never_fail_the_batch():
    """A log nested deeper than the parsers go is sent as a plain line; a deep one with a cut emoji as JSON."""
    too_deep = '{"a":' * 1100 + "1" + "}" * 1100
    deep = '{"a":' * 600 + '"\\ud800"' + "}" * 600
    [plain, parsed] = build_entries(batch(too_deep, deep), TAGS, options(only_json=False))
    assert orjson.loads(plain)["message"] == too_deep
    assert b"\xef\xbf\xbd" in parsed and orjson.loads(parsed)["ddtags"] == TAGS.ddtags(())
