"""Ordinary app logs through the handler: what the intake emulator receives is what their owners meant.

Each test sends CloudWatch records through the Lambda's code to the local
Datadog intake, which, as Datadog does, answers 202 but does not keep an entry
dated outside its window (``intake.discarded``). Event times are recent, so
the exact entries carry them.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FakeContext, command_env, data_record, firehose_event, load_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.deadletter import encode_lines
from logship.firehose.levels import STATUSES
from logship.firehose.timestamps import DATE_ATTRIBUTES, DateWindow, datadog_date_ms
from logship.settings import Settings
from logship.testing.synth import firehose_record

ROOT = Path(__file__).resolve().parents[2]
TASK = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TAGS = f"system:cron,service:billing,application:app,task:{TASK}"
HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def handle(intake, make_app, records, **env: str) -> dict[str, Any]:
    """Run the handler on ``records`` with settings from ``env`` (plus the emulator and a key)."""
    app = make_app(Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k", **env}))
    return app.handle(firehose_event(records), FakeContext())


def send(intake, make_app, messages: list[str], **env: str) -> int:
    """Send ``messages`` as one record's events, dated a minute ago; return the first event's time."""
    start = now_ms() - 60_000
    response = handle(intake, make_app, [data_record("r1", messages, start=start)], **env)
    assert [r["result"] for r in response["records"]] == ["Ok"]
    assert intake.discarded == []
    return start


def entry(timestamp: int, **fields: Any) -> dict[str, Any]:
    """The entry an app log with ``fields`` should become: its fields plus logship's reserved attributes."""
    return {**fields, "ddsource": "firehose", "ddtags": TAGS, "service": "billing", "timestamp": timestamp}


def s3_lines(response: dict[str, Any]) -> list[str]:
    [record] = response["records"]
    return zlib.decompress(base64.b64decode(record["data"]), wbits=31).decode("utf-8").splitlines()


def raw_record(record_id: str, messages: list[bytes], start: int) -> dict[str, Any]:
    """A record whose subscription JSON holds ``messages`` as raw JSON string contents, unchecked."""
    events = b",".join(
        b'{"id":"%d","timestamp":%d,"message":"%s"}' % (n, start + n, message) for n, message in enumerate(messages)
    )
    doc = (
        b'{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/cron/billing",'
        b'"logStream":"/cron/billing/app/%s","subscriptionFilters":["f"],"logEvents":[%s]}' % (TASK.encode(), events)
    )
    return firehose_record(record_id, gzip.compress(doc))


# --- 1. An HTTP status in any JSON type never masks the level ------------------------------


def test_numeric_text_status_is_kept_as_status_code_and_the_level_shows(intake, make_app):
    """{"status":"500","level":"error"} arrives as status error, the HTTP code as status_code 500."""
    start = send(intake, make_app, ['{"status":"500","level":"error","msg":"upstream failed"}'])
    assert intake.entries == [entry(start, level="error", msg="upstream failed", status="error", status_code=500)]


@pytest.mark.parametrize(
    ("log", "status", "code"),
    [
        ('{"status":503,"level":"warn"}', "warning", 503),
        ('{"status":404.0,"severity":"info"}', "info", 404.0),
        ('{"status":" 502 ","levelname":"ERROR"}', "error", 502),
        ('{"status":"200","msg":"no level"}', None, 200),
    ],
)
def test_an_http_status_in_any_json_type_never_masks_the_level(intake, make_app, log, status, code):
    """Integer, float or text, an HTTP code in status is kept as status_code; status is the level or absent."""
    send(intake, make_app, [log])
    [sent] = intake.entries
    assert sent.get("status") == status
    assert sent["status_code"] == code


def test_status_text_that_is_no_level_is_kept_aside(intake, make_app):
    """An app's business status ("pending") does not mask the level; it is kept under logship."""
    start = send(intake, make_app, ['{"status":"pending","level":"error"}'])
    assert intake.entries == [entry(start, level="error", status="error", logship={"original_status": "pending"})]


# --- 2. Levels in the spellings logging libraries write --------------------------------------


@pytest.mark.parametrize(
    ("log", "fields"),
    [
        ('{"log.level":"error","message":"disk full"}', {"log.level": "error", "message": "disk full"}),
        ('{"levelname":"ERROR","message":"disk full"}', {"levelname": "ERROR", "message": "disk full"}),
    ],
)
def test_ecs_and_python_level_fields_give_the_status(intake, make_app, log, fields):
    """ecs-logging's flat log.level and Python's levelname set status error."""
    start = send(intake, make_app, [log])
    assert intake.entries == [entry(start, **fields, status="error")]


def test_every_logging_library_family_arrives_with_its_status(intake, make_app):
    """One line per library family (structlog, loguru, pino, zap, slog, Serilog, OpenTelemetry...) shows its level."""
    rows = load_fixture("library_logs.json")
    send(intake, make_app, [json.dumps(row["log"]) for row in rows])
    assert [(row["library"], e.get("status")) for row, e in zip(rows, intake.entries, strict=True)] == [
        (row["library"], row["status"]) for row in rows
    ]


# --- 3. App timestamps in other units ---------------------------------------------------------


def test_epoch_seconds_become_milliseconds_with_the_apps_value_kept(intake, make_app):
    """A float epoch-seconds timestamp is sent in ms (not read as 1970), the app's value under logship."""
    seconds = now_ms() / 1000 - 30.056
    send(intake, make_app, [json.dumps({"timestamp": seconds, "level": "info"})])
    assert intake.entries == [
        {
            "timestamp": round(seconds * 1000),
            "level": "info",
            "ddtags": TAGS,
            "ddsource": "firehose",
            "service": "billing",
            "status": "info",
            "logship": {"original_timestamp": seconds},
        }
    ]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("timestamp", lambda s: s * 1000),  # milliseconds: kept as written
        ("timestamp", lambda s: s * 1_000_000),  # microseconds
        ("timestamp", lambda s: s * 1_000_000_000),  # nanoseconds
        ("date", lambda s: s),  # integer seconds
        ("@timestamp", lambda s: str(s * 1_000_000_000)),  # nanoseconds as text (OpenTelemetry exporters)
        ("_timestamp", str),  # seconds as text
        ("Timestamp", lambda s: s + 0.25),  # float seconds
    ],
)
def test_numeric_timestamps_in_any_unit_are_sent_in_milliseconds(intake, make_app, name, written):
    """Seconds, ms, µs or ns, number or text, in any date attribute Datadog reads: Datadog gets the right ms."""
    seconds = now_ms() // 1000 - 5
    value = written(seconds)
    send(intake, make_app, [json.dumps({name: value, "msg": "m"})])
    [sent] = intake.entries
    assert sent[name] == round(float(value) * 1000) if name in ("Timestamp", "date", "_timestamp") else True
    assert datadog_date_ms(sent[name]) == int(seconds * 1000 + (250 if name == "Timestamp" else 0))
    assert sent.get("logship") == (None if value == seconds * 1000 else {f"original_{name}": value})
    assert ("timestamp" in sent) == (name == "timestamp")  # the app's own date is good: no event time added


@pytest.mark.parametrize("value", [12345, 0, -1, 1e300, True, "soon", None])
def test_an_implausible_app_timestamp_falls_back_to_the_event_time(intake, make_app, value):
    """A timestamp that cannot be a time is kept under logship; the entry is dated by CloudWatch."""
    start = send(intake, make_app, [json.dumps({"timestamp": value, "msg": "m"})])
    assert intake.entries == [entry(start, msg="m", logship={"original_timestamp": value})]


# --- 4. Dates Datadog would discard, on every path -------------------------------------------


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


@pytest.mark.parametrize("name", DATE_ATTRIBUTES[:-1])
@pytest.mark.parametrize("age_ms", [48 * HOUR_MS, -3 * HOUR_MS])
def test_an_app_date_datadog_would_discard_is_moved_aside(intake, make_app, name, age_ms):
    """A date 48 h old or 3 h ahead, ISO or epoch ms, in any attribute Datadog reads, moves under logship."""
    for value in (iso(now_ms() - age_ms), now_ms() - age_ms):
        intake.reset()
        start = send(intake, make_app, [json.dumps({name: value, "msg": "m"})])
        assert intake.entries == [entry(start, msg="m", logship={f"original_{name}": value})]


def test_an_event_time_datadog_would_discard_leaves_the_entry_undated(intake, make_app):
    """CloudWatch events 20 h old (a backlog) arrive dated at intake, their time kept under logship."""
    start = now_ms() - 20 * HOUR_MS
    messages = ['{"msg":"json"}', '{"msg":"reserved","service":"mine"}', "plain line"]
    handle(intake, make_app, [data_record("r1", messages, start=start)], ONLY_JSON="false")
    assert intake.discarded == []
    assert [e.get("timestamp") for e in intake.entries] == [None, None, None]
    assert [e["logship"] for e in intake.entries] == [{"original_timestamp": start + n} for n in range(3)]


def dead_letter_entries(now: int) -> list[bytes]:
    """Entries as an older logship (or another tool) dead-lettered them: dates Datadog now discards."""
    old = now - 48 * HOUR_MS
    return [
        orjson.dumps({"message": "iso", "timestamp": iso(old)}),
        orjson.dumps({"message": "date ms", "date": old}),
        orjson.dumps({"message": "at", "@timestamp": iso(old), "timestamp": now - HOUR_MS}),
        orjson.dumps({"message": "event", "eventTime": iso(now + 5 * HOUR_MS)}),
        orjson.dumps({"message": "syslog", "syslog": {"timestamp": iso(old), "appname": "a"}}),
        orjson.dumps({"message": "seconds", "timestamp": old // 1000}),
        orjson.dumps({"message": "recent", "timestamp": now - HOUR_MS}),
    ]


def test_logship_replay_moves_every_date_datadog_would_discard(intake, local_aws, unique, tmp_path):
    """`logship replay` sends dead letters with ISO, epoch-ms and other date attributes so none is discarded."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    now = now_ms()
    s3.put_object(Bucket=unique, Key="dl/2026/01/01/x.jsonl.gz", Body=encode_lines(dead_letter_entries(now)))
    env = command_env(local_aws, intake, tmp_path)
    command = [sys.executable, "-m", "logship.cli", "replay", f"s3://{unique}/dl"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert intake.discarded == []
    got = {e["message"]: e for e in intake.entries}
    old = now - 48 * HOUR_MS
    assert got["iso"] == {"message": "iso", "logship": {"original_timestamp": iso(old)}}
    assert got["date ms"] == {"message": "date ms", "logship": {"original_date": old}}
    assert got["at"] == {"message": "at", "timestamp": now - HOUR_MS, "logship": {"original_@timestamp": iso(old)}}
    assert got["event"]["logship"] == {"original_eventTime": iso(now + 5 * HOUR_MS)}
    assert got["syslog"] == {
        "message": "syslog",
        "syslog": {"appname": "a"},
        "logship": {"original_syslog.timestamp": iso(old)},
    }
    assert got["seconds"]["logship"] == {"original_timestamp": old // 1000}
    assert got["recent"] == {"message": "recent", "timestamp": now - HOUR_MS}


def test_replay_with_keep_timestamps_is_discarded_as_datadog_would(intake, local_aws, unique, tmp_path):
    """--keep-timestamps sends the dates unchanged: Datadog (here, its emulator) answers 202 and drops them."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="dl/x.jsonl.gz", Body=encode_lines(dead_letter_entries(now_ms())))
    env = command_env(local_aws, intake, tmp_path)
    command = [sys.executable, "-m", "logship.cli", "replay", f"s3://{unique}/dl", "--keep-timestamps"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert sorted(e["message"] for e in intake.discarded) == ["at", "date ms", "event", "iso", "seconds", "syslog"]


# --- 5. JSON with whitespace around it -------------------------------------------------------


@pytest.mark.parametrize("only_json", [None, "false"])
def test_json_after_whitespace_is_parsed_like_any_json(intake, make_app, only_json):
    """'  {"level":"error",...}' is a JSON log with status error, whatever ONLY_JSON says."""
    env = {"ONLY_JSON": only_json} if only_json else {}
    start = send(intake, make_app, ['  {"level":"error","msg":"disk full"}'], **env)
    assert intake.entries == [entry(start, level="error", msg="disk full", status="error")]


@pytest.mark.parametrize(
    "framed",
    [
        '\n{"level":"error"}\r\n',
        '\t {"level":"error"}',
        '\ufeff{"level":"error"}',
        '{"level":"error"}\n\n',
        '\r\n\r\n{\n"level": "error"\n}\n',
    ],
)
def test_framing_noise_around_json_is_ignored(intake, make_app, framed):
    """Line ends, tabs, a byte order mark before or after the object: still a JSON log."""
    start = send(intake, make_app, [framed])
    assert intake.entries == [entry(start, level="error", status="error")]


def test_a_plain_line_keeps_its_leading_whitespace(intake, make_app):
    """A stack-trace line is no JSON: it is sent as written, indentation included."""
    send(intake, make_app, ["    at com.example.Main(Main.java:1)"], ONLY_JSON="false")
    assert [e["message"] for e in intake.entries] == ["    at com.example.Main(Main.java:1)"]


# --- 6. A JSON log with one broken character -------------------------------------------------


def test_a_lone_surrogate_in_the_cloudwatch_message_costs_one_character(intake, make_app):
    """A cut emoji (lone surrogate) in the message: JSON with status error, U+FFFD in Datadog and in S3."""
    start = now_ms() - 60_000
    message = rb"{\"level\":\"error\",\"msg\":\"emoji cut \ud83d here\"}"
    response = handle(intake, make_app, [raw_record("r1", [message], start)])
    assert intake.entries == [entry(start, level="error", msg="emoji cut \ufffd here", status="error")]
    assert s3_lines(response) == ['{"level":"error","msg":"emoji cut \ufffd here"}']


def test_an_escaped_lone_surrogate_in_an_apps_json_costs_one_character(intake, make_app):
    """The app's JSON escapes the cut emoji itself: Datadog gets U+FFFD; S3 keeps the app's text as written."""
    start = now_ms() - 60_000
    message = '{"level":"error","msg":"emoji cut \\ud83d here"}'
    response = handle(intake, make_app, [data_record("r1", [message], start=start)])
    assert intake.entries == [entry(start, level="error", msg="emoji cut \ufffd here", status="error")]
    assert s3_lines(response) == [message]


def test_nan_does_not_cost_the_structure(intake, make_app):
    """NaN, which orjson refuses but Python's json writes, keeps the log's attributes (as text)."""
    start = send(intake, make_app, ['{"level":"warn","ratio":NaN,"limit":Infinity}'])
    assert intake.entries == [entry(start, level="warn", ratio="NaN", limit="Infinity", status="warning")]


# --- 7. One bad byte costs that byte, not the record -----------------------------------------


def test_an_invalid_utf8_byte_costs_one_character_not_the_record(intake, make_app, caplog):
    """The record is Ok; every event reaches S3 and Datadog; the bad byte is U+FFFD and counted."""
    caplog.set_level("INFO", logger="logship")
    start = now_ms() - 60_000
    messages = [
        b"plain before",
        b'{\\"level\\":\\"error\\",\\"msg\\":\\"bad \xff byte\\"}',
        b"plain \xe2\x9c\x85 after",
    ]
    response = handle(intake, make_app, [raw_record("r1", messages, start)], ONLY_JSON="false")
    assert [r["result"] for r in response["records"]] == ["Ok"]
    assert s3_lines(response) == ["plain before", '{"level":"error","msg":"bad \ufffd byte"}', "plain ✅ after"]
    assert [e.get("message", e.get("msg")) for e in intake.entries] == [
        "plain before",
        "bad \ufffd byte",
        "plain ✅ after",
    ]
    assert intake.entries[1]["status"] == "error"
    [summary] = [r for r in caplog.records if r.getMessage() == "invocation"]
    assert summary.replaced_characters == 1


def test_a_record_that_still_fails_names_the_real_cause(intake, make_app, caplog):
    """A record that is not JSON fails with the JSON fault as its reason, not "surrogates not allowed"."""
    broken = firehose_record("bad", gzip.compress(b'{"messageType":"DATA_MESSAGE","logEvents":[{"message":"\xff"'))
    response = handle(intake, make_app, [broken])
    assert response["records"] == [{"recordId": "bad", "result": "ProcessingFailed"}]
    [failure] = [r for r in caplog.records if r.getMessage().startswith("record failed")]
    assert failure.reason.startswith("not JSON: Expecting")
    assert "invalid UTF-8" in failure.reason and "surrogates" not in failure.reason


# --- 8. Wrapped app lines ---------------------------------------------------------------------

ECS_METADATA = {
    "container_id": "5ea1f0b2c3d4",
    "container_name": "app",
    "ecs_cluster": "prod",
    "ecs_task_arn": f"arn:aws:ecs:us-east-1:123456789012:task/prod/{TASK}",
    "ecs_task_definition": "app:7",
}


def test_a_firelens_wrapped_json_line_is_the_log_with_the_wrappers_fields(intake, make_app):
    """FireLens' {"log": "<json>", "source", container and ECS fields}: the app's JSON, its status, and theirs."""
    wrapped = {"log": '{"level":"error","msg":"boom"}', "source": "stderr", **ECS_METADATA}
    start = send(intake, make_app, [json.dumps(wrapped)])
    assert intake.entries == [entry(start, level="error", msg="boom", source="stderr", **ECS_METADATA, status="error")]


def test_a_docker_json_file_plain_line_becomes_the_message(intake, make_app):
    """Docker's json-file {"log", "stream", "time"}: the line, without its newline, is the message."""
    wrapped = {"log": "GET /health 200\n", "stream": "stdout", "time": "2024-01-01T00:00:00.123456789Z"}
    start = send(intake, make_app, [json.dumps(wrapped)])
    assert intake.entries == [entry(start, message="GET /health 200", stream="stdout", time=wrapped["time"])]


@pytest.mark.parametrize(
    ("wrapped", "expected"),
    [
        ({"log": '{"msg":"tail"}'}, {"msg": "tail"}),  # fluent-bit tail, no metadata
        (
            {"log": '{"level":"info","source":"billing-api"}', "source": "stdout", "container_name": "app"},
            {
                "level": "info",
                "source": "billing-api",
                "container_name": "app",
                "status": "info",
                "logship": {"wrapper": {"source": "stdout"}},
            },
        ),
        (
            {
                "log": json.dumps({"log": '{"level":"warn"}', "stream": "stderr"}),
                "source": "stdout",
                "container_name": "app",
            },
            {"level": "warn", "stream": "stderr", "source": "stdout", "container_name": "app", "status": "warning"},
        ),  # a json-file line shipped again by FireLens
        ({"msg": "own log field", "log": "not a wrapper"}, {"msg": "own log field", "log": "not a wrapper"}),
    ],
)
def test_other_wrapper_shapes(intake, make_app, wrapped, expected):
    """A bare tail record, a clash of names, a wrapper inside a wrapper; an app's own log field is left alone."""
    start = send(intake, make_app, [json.dumps(wrapped)])
    assert intake.entries == [entry(start, **expected)]


# --- 9. DD_TAGS as people write it -----------------------------------------------------------


def test_whitespace_separated_dd_tags_are_separate_tags(intake, make_app):
    """DD_TAGS="env:prod team:core" gives two tags, as the Datadog Agent reads it."""
    send(intake, make_app, ['{"msg":"m"}'], DD_TAGS="env:prod team:core")
    assert intake.entries[0]["ddtags"] == f"{TAGS},env:prod,team:core"


def test_dd_tags_are_normalised_and_each_change_is_named_at_cold_start(intake, make_app, caplog):
    """DD_TAGS="env:prod,Owner Team:Core Infra" is cleaned by Datadog's rules, with one warning naming each change."""
    caplog.set_level("WARNING", logger="logship")
    send(intake, make_app, ['{"msg":"m"}', "plain"], DD_TAGS="env:prod,Owner Team:Core Infra", ONLY_JSON="false")
    assert {e["ddtags"] for e in intake.entries} == {f"{TAGS},env:prod,owner,team:core,infra"}
    [warning] = [r for r in caplog.records if "DD_TAGS" in r.getMessage()]
    assert warning.levelname == "WARNING"
    for old, new in {"Owner": "owner", "Team:Core": "team:core", "Infra": "infra"}.items():
        assert f"{old!r} -> {new!r}" in warning.getMessage()


def test_derived_tags_follow_the_same_rules(intake, make_app):
    """Tags read from log group and stream names are lower-cased and cleaned like DD_TAGS."""
    start = now_ms()
    record = data_record(
        "r1", ['{"msg":"m"}'], group="/Cron/Billing Jobs", stream="/Cron/Billing Jobs/App_/T1", start=start
    )
    handle(intake, make_app, [record])
    [sent] = intake.entries
    assert sent["ddtags"] == "system:cron,service:billing_jobs,application:app,task:t1"
    assert sent["service"] == "billing_jobs"


# --- 10. One answer to "which service" -------------------------------------------------------


def test_the_apps_own_service_is_the_one_answer(intake, make_app):
    """An app that names its service keeps it, and the derived service: tag is left out of ddtags."""
    start = send(intake, make_app, ['{"service":"payments","level":"info"}'])
    assert intake.entries == [
        {
            "service": "payments",
            "level": "info",
            "ddtags": f"system:cron,application:app,task:{TASK}",
            "ddsource": "firehose",
            "status": "info",
            "timestamp": start,
        }
    ]


def test_a_service_tag_in_dd_tags_replaces_the_derived_service(intake, make_app):
    """service: in DD_TAGS names every entry's service (one service: tag), unless the app names its own."""
    send(intake, make_app, ['{"msg":"m"}', '{"service":"payments"}'], DD_TAGS="env:prod,service:jobs")
    derived = f"system:cron,application:app,task:{TASK},env:prod"
    assert [(e["service"], e["ddtags"]) for e in intake.entries] == [
        ("jobs", f"{derived},service:jobs"),
        ("payments", derived),
    ]


# --- The property: any JSON object log reaches Datadog as it should --------------------------

LEVEL_FIELD = st.sampled_from(
    ["level", "status", "severity", "levelname", "log.level", "@l", "severity_number", "LogLevel"]
)
LEVEL_VALUE = st.one_of(st.text(max_size=8), st.integers(-10, 1_000), st.floats(), st.booleans(), st.none())
DATE_VALUE = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.integers(now_ms() - 30 * HOUR_MS, now_ms() + 10 * HOUR_MS),
    st.integers(now_ms() - 30 * HOUR_MS, now_ms() + 10 * HOUR_MS).map(lambda ms: ms / 1000),
    st.integers(now_ms() - 30 * HOUR_MS, now_ms() + 10 * HOUR_MS).map(iso),
    st.text(max_size=12),
)
# Letters, digits, symbols, spaces and lone surrogates (a cut emoji).
TEXT = st.text(st.characters(categories=["Cs", "Ll", "Lu", "Nd", "So", "Zs", "Cc"]), max_size=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(LEVEL_FIELD, LEVEL_VALUE, max_size=2),
    st.dictionaries(st.sampled_from(DATE_ATTRIBUTES[:-1]), DATE_VALUE, max_size=2),
    st.dictionaries(TEXT, TEXT, max_size=3),
)
def test_any_json_object_log_arrives_valid_with_a_known_status_and_a_kept_date(intake, make_app, levels, dates, text):
    """Whatever its level field, date type or characters, a JSON log reaches Datadog: valid, known status, kept."""
    intake.reset()
    log = {**text, **levels, **dates}
    message = json.dumps(log)  # lone surrogates are escaped, as Python's json writes them
    send(intake, make_app, [message])
    [sent] = intake.entries
    assert sent.get("status") in {*STATUSES, None}
    window = DateWindow.around(now_ms(), margin_ms=0)
    for name in DATE_ATTRIBUTES:
        if name in sent:
            ms = datadog_date_ms(sent[name])
            assert ms is not None and window.keeps(ms)
