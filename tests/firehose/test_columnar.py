"""Entry step, fast path: a record whose events share one shape gives the entries the per-event path gives."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logship.firehose import _columnar
from logship.firehose.entries import (
    EntryOptions,
    _Context,
    _entries_one_by_one,
    _unreserved_status,
    build_entries,
)
from logship.firehose.s3_output import encode_messages
from logship.firehose.subscription import LogBatch, decode_payload, parse_message
from logship.firehose.tags import StreamTags, derive_tags
from logship.firehose.timestamps import DateWindow
from logship.testing.synth import SHAPES, generate_shape_event

TAGS = StreamTags("cron", "billing", "app", "task1")
NOW_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z
HOUR_MS = 3_600_000


def iso(ms: int, spec: str = "milliseconds") -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


# Per record, each attribute's values are of one kind (as one app writes them), drawn per event.
LEVELS = st.sampled_from(
    [
        st.sampled_from(["info", "error", "warning", "debug"]),
        st.sampled_from(["INFO", "Warn", "ERROR", "fatal", "trace"]),
        st.sampled_from(["bogus", "", "ERROR+2", "\x1b[31merror\x1b[39m"]),
        st.sampled_from([10, 30, 50, 7, 0, 99]),
        st.sampled_from([None, True, 1.5, [1], {"a": 1}]),
    ]
)
STATUSES = st.sampled_from(
    [
        st.sampled_from([200, 204, 404, 500, 503]),
        st.sampled_from([200.0, 500.5]),
        st.sampled_from(["error", "info", "ok", "warning"]),
        st.sampled_from(["ERROR", "Info", "WARN"]),
        st.sampled_from(["500", " 404 ", "pending", ""]),
        st.sampled_from([None, True, False]),
    ]
)
AROUND = st.integers(NOW_MS - 30 * HOUR_MS, NOW_MS + 10 * HOUR_MS)
FRESH = st.integers(NOW_MS - 2 * HOUR_MS, NOW_MS)
STALE = st.integers(NOW_MS - 40 * HOUR_MS, NOW_MS - 20 * HOUR_MS)
DATES = st.sampled_from(
    [
        st.one_of(FRESH, STALE, AROUND).map(iso),
        FRESH.map(iso),
        STALE.map(lambda ms: iso(ms, "seconds")),
        FRESH.map(lambda ms: iso(ms, "microseconds").replace("Z", "+02:00")),
        FRESH.map(lambda ms: iso(ms).rstrip("Z")),  # no zone: UTC
        FRESH,
        STALE,
        FRESH.map(lambda ms: ms / 1000),  # epoch seconds
        FRESH.map(lambda ms: ms * 1_000_000),  # nanoseconds
        st.sampled_from(["yesterday", "2027-13-01T00:00:00Z", " 2027-01-15T08:00:00Z ", "1800000000"]),
    ]
)
SERVICES = st.sampled_from([st.sampled_from(["web", "api"]), st.sampled_from(["", None, 7])])
OWN_TAGS = st.sampled_from([st.sampled_from(["team:a", "env:x,team:b"]), st.sampled_from(["", None])])
SOURCES = st.just(st.sampled_from(["java", "nginx"]))
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
OTHERS = st.dictionaries(
    st.sampled_from(["msg", "message", "user", "duration_ms", "loglevel", "severity", "levelname", "status_code"]),
    st.one_of(TEXT, st.integers(-5, 10**6), st.dictionaries(TEXT, TEXT, max_size=2), st.none()),
    max_size=3,
)
KINDS: dict[str, st.SearchStrategy[st.SearchStrategy[Any]]] = {
    "level": LEVELS,
    "status": STATUSES,
    "timestamp": DATES,
    "@timestamp": DATES,
    "date": DATES,
    "service": SERVICES,
    "ddtags": OWN_TAGS,
    "ddsource": SOURCES,
}
SPELLINGS: st.SearchStrategy[Callable[[dict[str, Any]], str]] = st.sampled_from(
    [
        lambda log: orjson.dumps(log).decode(),
        json.dumps,  # ", " and ": ", non-ASCII escaped
        lambda log: json.dumps(log, ensure_ascii=False, indent=1) + "\n",
    ]
)


@st.composite
def shared_shape_records(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    """Messages of one record: JSON logs naming the same attributes, each of one kind of value; and event times."""
    names = draw(st.sets(st.sampled_from(sorted(KINDS)), max_size=3))
    kinds = {name: draw(KINDS[name]) for name in names}
    spell = draw(SPELLINGS)
    count = draw(st.integers(1, 6))
    times = draw(st.sampled_from([FRESH, STALE, AROUND]))
    messages = []
    for _ in range(count):
        log: dict[str, Any] = draw(OTHERS)
        log.update({name: draw(kind) for name, kind in kinds.items()})
        messages.append(spell(log))
    return messages, [draw(times) for _ in range(count)]


PLAIN = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40).filter(
    lambda line: line[:1] not in ("{", " ", "\t", "\n", "\r", "\ufeff")
)


def both_paths(messages: list[str], times: list[int], *, only_json: bool) -> tuple[Any, Any]:
    events = [
        {"id": str(n), "timestamp": ms, "message": m} for n, (m, ms) in enumerate(zip(messages, times, strict=True))
    ]
    batch = LogBatch("DATA_MESSAGE", "/cron/billing", "/cron/billing/app/task1", events)  # type: ignore[arg-type]
    options = EntryOptions(only_json=only_json, clock=lambda: NOW_MS / 1000)
    raws = encode_messages(batch.events)
    assert raws is not None
    context = _Context(TAGS, (), "firehose", DateWindow.around(NOW_MS))
    fast = _columnar.build(
        batch.events, raws, context, _unreserved_status, only_json=only_json, max_bytes=options.max_entry_bytes
    )
    slow = _entries_one_by_one(batch, context, options, raws)
    return fast, slow


@settings(max_examples=400)
@given(shared_shape_records(), st.booleans())
def test_json_logs_of_one_shape_give_the_per_event_entries(record, only_json):
    """Logs naming the same attributes, whatever their values: the column path gives the per-event objects or none."""
    messages, times = record
    fast, slow = both_paths(messages, times, only_json=only_json)
    if fast is not None:
        built, left_out = fast
        assert [orjson.loads(entry) for entry in built] == [orjson.loads(entry) for entry in slow]
        assert left_out == slow.not_json


@given(st.lists(st.one_of(PLAIN, shared_shape_records().map(lambda r: r[0][0])), min_size=1, max_size=6), st.booleans())
def test_plain_lines_alone_or_among_json_logs_give_the_per_event_entries(messages, only_json):
    """Plain lines, and JSON logs among them (ONLY_JSON leaving the lines out), give the per-event entries."""
    fast, slow = both_paths(messages, [NOW_MS - 1_000] * len(messages), only_json=only_json)
    if fast is not None:
        built, left_out = fast
        assert [orjson.loads(entry) for entry in built] == [orjson.loads(entry) for entry in slow]
        assert left_out == slow.not_json


def test_a_log_without_reserved_names_keeps_its_text_byte_for_byte():
    """On the column path too, a log naming no reserved attribute is spliced: the entry is the per-event one."""
    messages = ['{"b": 1.50, "level": "warn"}', '{"a":1E3,"msg":"x"}  ']
    fast, slow = both_paths(messages, [NOW_MS - 5, NOW_MS - 4], only_json=True)
    assert fast is not None
    assert fast[0] == list(slow)
    assert fast[0][0].startswith(b'{"b": 1.50, "level": "warn",')


def test_an_apps_dates_kept_as_written_keep_its_text():
    """Logs whose own dates Datadog keeps change nothing of the app's: their text is kept, what logship adds follows."""
    messages = [f'{{"timestamp": "{iso(NOW_MS - n)}", "msg": "x",  "level": "INFO"}}' for n in range(3)]
    fast, _slow = both_paths(messages, [NOW_MS - 1] * 3, only_json=True)
    assert fast is not None
    assert all(entry.startswith(message.encode()[:-1]) for entry, message in zip(fast[0], messages, strict=True))
    assert orjson.loads(fast[0][0])["status"] == "info" and "logship" not in orjson.loads(fast[0][0])


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_synthetic_shape_takes_the_column_path(shape):
    """The benchmark's log shapes (conventional JSON logs, plain lines, a mix) are built a column at a time."""
    only_json = shape == "mix"
    options = EntryOptions(only_json=only_json)
    event = generate_shape_event(shape, target_bytes=30_000, seed=2)
    for record in event["records"]:
        batch = parse_message(decode_payload(record["data"]))
        raws = encode_messages(batch.events)
        assert raws is not None
        tags = derive_tags(batch.log_group, batch.log_stream)
        context = _Context(tags, (), "firehose", DateWindow.around(int(options.clock() * 1000)))
        fast = _columnar.build(
            batch.events, raws, context, _unreserved_status, only_json=only_json, max_bytes=options.max_entry_bytes
        )
        assert fast is not None
        assert fast[0] == list(build_entries(batch, tags, options, encoded=raws))


@pytest.mark.parametrize(
    "messages",
    [
        # The name written with an escape, and "status" inside a string: renaming the text would move the wrong one.
        [r'{"st\u0061tus": 500, "msg": "x\"status", "level": "error"}', '{"status": 200, "msg": "ok"}'],
        ['{"status": 404, "msg": "status"}', '{"status": 200, "msg": "ok"}'],  # "status" as a value too
        ['{"status": 503, "upstream": {"status": "down"}}', '{"status": 200, "upstream": {"status": "up"}}'],
    ],
)
def test_an_http_status_is_moved_right_whatever_else_spells_status(messages):
    """An HTTP status becomes status_code, the app's other "status" texts untouched, as on the per-event path."""
    fast, slow = both_paths(messages, [NOW_MS - 1] * len(messages), only_json=True)
    assert fast is not None
    assert [orjson.loads(entry) for entry in fast[0]] == [orjson.loads(entry) for entry in slow]
    assert all("status_code" in orjson.loads(entry) for entry in fast[0])

