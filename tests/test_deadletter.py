"""Dead-letter objects: their encoding, URIs, and restamping of entries too old for Datadog."""

from __future__ import annotations

import orjson
import pytest

from logship.deadletter import decode_lines, encode_lines, parse_s3_uri, restamp
from logship.errors import DeadLetterError

HOUR_MS = 3_600_000
NOW = 1_800_000_000_000


def test_lines_round_trip():
    """encode_lines and decode_lines give back the same entries, in order."""
    entries = [orjson.dumps({"message": f"m{n}", "text": "a\nb"}) for n in range(3)]
    assert decode_lines(encode_lines(entries)) == entries


@pytest.mark.parametrize(
    ("uri", "parts"),
    [("s3://bkt/p/q", ("bkt", "p/q")), ("s3://bkt", ("bkt", "")), ("s3://bkt/p/", ("bkt", "p"))],
)
def test_parse_s3_uri(uri, parts):
    """Bucket and prefix come apart; trailing slashes are dropped."""
    assert parse_s3_uri(uri) == parts


def test_parse_s3_uri_refuses_other_schemes():
    """Only s3:// URIs with a bucket are accepted."""
    with pytest.raises(DeadLetterError):
        parse_s3_uri("https://bkt/p")


def test_old_epoch_timestamps_move_aside():
    """An entry older than the limit loses its timestamp, which is kept under logship.original_timestamp."""
    old = orjson.dumps({"message": "m", "timestamp": NOW - 20 * HOUR_MS, "logship": {"truncated": True}})
    doc = orjson.loads(restamp(old, now_ms=NOW, max_age_ms=17 * HOUR_MS))
    assert "timestamp" not in doc
    assert doc["logship"] == {"truncated": True, "original_timestamp": NOW - 20 * HOUR_MS}


def test_recent_epoch_and_text_timestamps_stay():
    """Recent epoch timestamps and recent ISO text timestamps are sent unchanged, byte for byte."""
    recent = orjson.dumps({"message": "m", "timestamp": NOW - HOUR_MS})
    text = orjson.dumps({"message": "m", "timestamp": "2027-01-15T07:00:00Z"})  # NOW is 2027-01-15T08:00:00Z
    assert restamp(recent, now_ms=NOW, max_age_ms=17 * HOUR_MS) == recent
    assert restamp(text, now_ms=NOW, max_age_ms=17 * HOUR_MS) == text
