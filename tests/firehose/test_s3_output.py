"""S3 output step: newline-terminated messages or JSON lines, gzip by default."""

from __future__ import annotations

import zlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.s3_output import OutputOptions, build_output, encode_messages
from logship.firehose.subscription import LogBatch


def batch(*messages: str) -> LogBatch:
    events = [{"id": f"id{n}", "timestamp": 100 + n, "message": m} for n, m in enumerate(messages)]
    return LogBatch("DATA_MESSAGE", "/cron/billing", "/cron/billing/app/t", events, owner="1")  # type: ignore[arg-type]


def test_lines_are_messages_each_followed_by_newline_gzipped():
    """The default output is gzip of every message followed by a newline, in order."""
    out = build_output(batch("a", '{"b":1}', "ü ✅"))
    assert zlib.decompress(out, wbits=31) == 'a\n{"b":1}\nü ✅\n'.encode()


def test_uncompressed_output_is_the_raw_lines():
    """compression=none gives the text itself."""
    assert build_output(batch("x", "y"), OutputOptions(compression="none")) == b"x\ny\n"


def test_jsonl_keeps_what_a_replay_needs():
    """Jsonl gives one object per event with timestamp, group, stream, owner, id and message."""
    out = build_output(batch("a", "b"), OutputOptions(format="jsonl", compression="none"))
    lines = out.decode().splitlines()
    assert out.endswith(b"\n")
    assert [orjson.loads(line) for line in lines] == [
        {
            "timestamp": 100,
            "logGroup": "/cron/billing",
            "logStream": "/cron/billing/app/t",
            "owner": "1",
            "id": "id0",
            "message": "a",
        },
        {
            "timestamp": 101,
            "logGroup": "/cron/billing",
            "logStream": "/cron/billing/app/t",
            "owner": "1",
            "id": "id1",
            "message": "b",
        },
    ]


def test_multiline_messages_stay_whole_in_jsonl():
    """A message holding newlines stays one JSON line, so lines map to events."""
    out = build_output(batch("line1\nline2"), OutputOptions(format="jsonl", compression="none"))
    assert len(out.splitlines()) == 1


def test_invalid_unicode_is_replaced_not_raised():
    """A lone surrogate becomes U+FFFD in S3 output (as in its Datadog entry) instead of failing the record."""
    assert build_output(batch("a\ud800b"), OutputOptions(compression="none")) == "a\ufffdb\n".encode()
    line = orjson.loads(build_output(batch("a\ud800b"), OutputOptions(format="jsonl", compression="none")))
    assert line["message"] == "a\ufffdb"


@given(st.lists(st.text(st.characters(codec="utf-8")), min_size=1, max_size=20))
def test_lines_from_encoded_messages_are_the_same_bytes(messages):
    """Lines joined from encode_messages' bytes equal lines encoded from the text (one encode, same output)."""
    one = batch(*messages)
    encoded = encode_messages(one.events)
    assert encoded == [m.encode("utf-8") for m in messages]
    assert build_output(one, OutputOptions(compression="none"), encoded=encoded) == build_output(one, OutputOptions(compression="none"))
