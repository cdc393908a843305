"""Synthetic events: every log shape is what its name says, deterministic, and the original mix is unchanged."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import zlib
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logship.testing.synth import LARGE_EVENT_BYTES, SHAPES, generate_event, generate_shape_event

# The reserved attributes logship merges carefully (logship.firehose.entries); a
# shape that promises none of them must not carry one at the top level.
_RESERVED = {"ddtags", "ddsource", "service", "timestamp", "date", "status", "log"}
_NO_RESERVED_NAMES = {"json", "json-message", "nested", "large"}


def _batches(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [orjson.loads(zlib.decompress(base64.b64decode(r["data"]), 31)) for r in event["records"]]


def _messages(event: dict[str, Any]) -> list[str]:
    return [e["message"] for batch in _batches(event) for e in batch["logEvents"]]


def _json_object(message: str) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.sampled_from(sorted(SHAPES)), seed=st.integers(0, 2**32 - 1))
def test_every_message_has_the_shape_its_name_promises(shape: str, seed: int) -> None:
    """Each shape's messages are JSON objects or plain lines, with exactly the keys and sizes the shape names."""
    event = generate_shape_event(shape, target_bytes=8_000, seed=seed)
    messages = _messages(event)
    assert messages
    docs = [_json_object(m) for m in messages]
    if SHAPES[shape].json:
        assert all(doc is not None for doc in docs)
    if shape == "plain":
        assert all(doc is None and not m.lstrip().startswith("{") for m, doc in zip(messages, docs, strict=True))
    if shape == "mix":
        assert all(doc is None or type(doc["status"]) is int for doc in docs)
    for doc in filter(None, docs):
        reserved = _RESERVED & doc.keys()
        if shape in _NO_RESERVED_NAMES:
            assert not reserved
        elif shape == "json-service":
            assert reserved == {"service"}
        elif shape in ("json-status", "mix"):
            assert reserved == {"status"} and type(doc["status"]) is int
        elif shape == "json-timestamp":
            assert reserved == {"timestamp"} and doc["timestamp"].endswith("Z")
        if shape == "json-message":
            assert isinstance(doc["message"], str) and "msg" not in doc
    if shape == "large":
        assert all(LARGE_EVENT_BYTES[0] <= len(m.encode()) <= LARGE_EVENT_BYTES[1] for m in messages)


@settings(max_examples=10, deadline=None)
@given(shape=st.sampled_from(sorted(SHAPES)), seed=st.integers(0, 2**32 - 1))
def test_a_shape_event_is_the_same_for_the_same_seed(shape: str, seed: int) -> None:
    """Two events of one shape and seed hold the same records (only the invocation id differs)."""
    first = generate_shape_event(shape, target_bytes=4_000, seed=seed)
    second = generate_shape_event(shape, target_bytes=4_000, seed=seed)
    assert first["records"] == second["records"]


def test_shape_events_are_conventional_data_messages_of_about_the_target_size() -> None:
    """Every record is a DATA_MESSAGE of a conventionally named stream; the gzip payloads reach the target."""
    for shape, kind in SHAPES.items():
        event = generate_shape_event(shape, target_bytes=50_000, seed=2)
        payload = sum(len(base64.b64decode(r["data"])) for r in event["records"])
        assert payload >= 50_000
        for batch in _batches(event):
            assert batch["messageType"] == "DATA_MESSAGE"
            system, service = batch["logGroup"].split("/")[1:]
            assert batch["logStream"].startswith(f"/{system}/{service}/")
            low, high = kind.events_per_record
            assert low <= len(batch["logEvents"]) <= high


def test_an_unknown_shape_is_refused_with_the_known_names() -> None:
    """Asking for a shape that does not exist raises ValueError listing the shapes there are."""
    with pytest.raises(ValueError, match="json-status"):
        generate_shape_event("no-such-shape", target_bytes=1_000)


def test_the_original_mix_is_unchanged_for_a_given_seed() -> None:
    """generate_event still makes, seed for seed, the records the published figures and tests were made with."""
    expected = {
        (1, 60_000): (8, "f276478ade5568ad4a8054fd03ecfe3fcc46aaf3928eb81c30317dcce632c3c1"),
        (7, 20_000): (5, "979ac99ef6a6d00b128fb54c1332027aa496545268e49462a5efd7b149ed5da0"),
    }
    for (seed, size), (records, digest) in expected.items():
        event = generate_event(target_bytes=size, seed=seed)
        sha = hashlib.sha256()
        for record in event["records"]:
            raw = base64.b64decode(record["data"])
            with contextlib.suppress(zlib.error):  # the corrupt record that is not gzip at all
                raw = zlib.decompress(raw, 31)
            sha.update(record["recordId"].encode())
            sha.update(raw)
        assert (len(event["records"]), sha.hexdigest()) == (records, digest)
