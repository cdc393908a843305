"""Decode step: base64 + gzip + JSON into a LogBatch, every fault a DecodeError with its reason."""

from __future__ import annotations

import base64
import zlib

import pytest

from logship._gzip import decompress as gunzip
from logship.errors import DecodeError
from logship.firehose.subscription import decode_record, encode_batch
from logship.testing.synth import subscription_payload


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_data_message_decodes_to_its_events():
    """A DATA_MESSAGE gives its group, stream, owner and events in order."""
    events = [{"id": "1", "timestamp": 5, "message": "a"}, {"id": "2", "timestamp": 6, "message": "b"}]
    batch = decode_record(b64(subscription_payload("/cron/billing", "/cron/billing/app/t", events)))
    assert (batch.log_group, batch.log_stream, batch.owner) == ("/cron/billing", "/cron/billing/app/t", "123456789012")
    assert [e["message"] for e in batch.events] == ["a", "b"]
    assert not batch.is_control


def test_control_message_is_recognised():
    """A CONTROL_MESSAGE decodes as control with no events."""
    payload = subscription_payload("", "", [], message_type="CONTROL_MESSAGE")
    assert decode_record(b64(payload)).is_control


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("%%%", "not base64"),
        ("", "empty"),
        (b64(b"plain text"), "not gzip"),
        (b64(zlib.compress(b"{nope", 6, wbits=31)), "not JSON"),
        (b64(zlib.compress(b"[1,2]", 6, wbits=31)), "not a JSON object"),
        (b64(zlib.compress(b'{"messageType":"X"}', 6, wbits=31)), "unknown messageType"),
        (
            b64(zlib.compress(b'{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s"}', 6, wbits=31)),
            "no logEvents",
        ),
        (b64(zlib.compress(b'{"messageType":"DATA_MESSAGE","logStream":"s","logEvents":[]}', 6, wbits=31)), "logGroup"),
        (
            b64(
                zlib.compress(
                    b'{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{"message":1,"timestamp":1}]}',
                    6,
                    wbits=31,
                )
            ),
            "logEvents[0]",
        ),
        (b64(zlib.compress(b'{"messageType":"DATA_MESSAGE"}', 6, wbits=31)[:-6]), "truncated"),
    ],
)
def test_malformed_records_raise_decode_error_naming_the_fault(data, reason):
    """Each kind of malformed record raises DecodeError whose message names what is wrong."""
    with pytest.raises(DecodeError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        decode_record(data)


def test_gzip_bomb_is_refused_at_the_cap():
    """Data that inflates past the cap is refused without inflating it all."""
    bomb = zlib.compress(b"\0" * 10_000_000, 9, wbits=31)
    with pytest.raises(DecodeError, match="cap"):
        gunzip(bomb, max_bytes=1_000_000)
    assert len(gunzip(bomb, max_bytes=10_000_000)) == 10_000_000


def test_lone_surrogates_from_apps_still_decode():
    """A payload with a lone UTF-16 surrogate escape (valid JSON, invalid Unicode) decodes, that character U+FFFD."""
    raw = b'{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"x\\ud800y"}]}'
    batch = decode_record(b64(zlib.compress(raw, 6, wbits=31)))
    assert batch.events[0]["message"] == "x\ufffdy"
    assert batch.replaced_characters == 1


def test_encode_batch_round_trips_a_slice_of_events():
    """encode_batch builds a record that decodes to the same stream with just the chosen events."""
    events = [{"id": str(n), "timestamp": n, "message": f"m{n}"} for n in range(5)]
    batch = decode_record(b64(subscription_payload("/a/b", "/a/b/c/d", events)))
    again = decode_record(b64(encode_batch(batch, batch.events[1:3])))
    assert (again.log_group, again.log_stream, again.owner) == (batch.log_group, batch.log_stream, batch.owner)
    assert again.events == events[1:3]


def test_stdlib_fallbacks_decode_and_encode_the_same():
    """Without isal and pybase64 (no wheel for a platform), zlib and binascii give the same results."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['isal'] = None\n"
        "sys.modules['pybase64'] = None\n"
        "from logship import _base64, _gzip\n"
        "from logship.firehose.subscription import decode_record\n"
        "from logship.testing.synth import subscription_payload\n"
        "assert _gzip._codec.__name__ == 'zlib'\n"
        "payload = subscription_payload('/a/b', '/a/b/c/d', [{'id': '1', 'timestamp': 1, 'message': 'héllo'}])\n"
        "batch = decode_record(_base64.encode(payload))\n"
        "assert batch.events[0]['message'] == 'héllo'\n"
        "assert _gzip.decompress(_gzip.compress(b'x' * 100, 1), max_bytes=100) == b'x' * 100\n"
        "try:\n"
        "    _base64.decode('%%%')\n"
        "except ValueError:\n"
        "    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def raw_payload(*messages: bytes) -> str:
    """base64(gzip()) of a DATA_MESSAGE whose messages are the given raw bytes, unchecked (as CloudWatch may send)."""
    events = b",".join(b'{"id":"%d","timestamp":1,"message":"%s"}' % (n, message) for n, message in enumerate(messages))
    doc = b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/a/b","logStream":"s","logEvents":[%s]}' % events
    return b64(zlib.compress(doc, 6, wbits=31))


def test_an_invalid_utf8_byte_costs_one_character_not_the_record():
    """An invalid byte in one message becomes U+FFFD, counted; the other events decode unchanged."""
    batch = decode_record(raw_payload(b"ok 1", b"bad \xff byte \xc3", b"\xe2\x9c\x85 fine"))
    assert [e["message"] for e in batch.events] == ["ok 1", "bad \ufffd byte \ufffd", "✅ fine"]
    assert batch.replaced_characters == 2


def test_a_record_that_is_not_json_names_the_json_fault_not_the_bad_byte():
    """When bad bytes come with broken JSON, the reason is the JSON fault (and says bytes were replaced)."""
    broken = b64(zlib.compress(b'{"messageType":"DATA_MESSAGE","logEvents":[{"message":"\xff"}', 6, wbits=31))
    with pytest.raises(DecodeError, match=r"not JSON: Expecting .* \(1 invalid UTF-8 sequences replaced first\)"):
        decode_record(broken)
    with pytest.raises(DecodeError) as caught:
        decode_record(broken)
    assert "surrogates" not in str(caught.value)
