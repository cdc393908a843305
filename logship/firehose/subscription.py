"""Decode step: a Firehose record's data into a CloudWatch Logs subscription message.

A subscription record is ``base64(gzip(JSON))``. Every way that can be wrong
becomes a :class:`~logship.errors.DecodeError` with a reason that names it.
Broken characters are not such a way: an invalid UTF-8 byte or a lone UTF-16
surrogate in a message costs that character (replaced by U+FFFD, see
:mod:`logship.firehose.characters`), never the record; the batch counts them.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
from operator import itemgetter
from typing import Any, Literal, TypedDict

import orjson

from logship import _base64, _gzip, limits
from logship.errors import DecodeError
from logship.firehose.characters import decode_utf8, scrub_text

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"


class LogEvent(TypedDict):
    """One CloudWatch log event, as the subscription payload holds it."""

    id: str
    timestamp: int
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class LogBatch:
    """A decoded subscription message: the events of one log stream.

    ``events`` stays the list of plain dicts the JSON parser built: copying
    40,000 events into objects costs more than the rest of the decode step.
    ``replaced_characters`` counts the broken characters (invalid UTF-8
    sequences, lone surrogates) replaced by U+FFFD in the messages.
    """

    message_type: Literal["DATA_MESSAGE", "CONTROL_MESSAGE"]
    log_group: str
    log_stream: str
    events: list[LogEvent]
    owner: str = ""
    subscription_filters: tuple[str, ...] = ()
    replaced_characters: int = 0

    @property
    def is_control(self) -> bool:
        """True for CloudWatch's health probe, which is not a log."""
        return self.message_type == CONTROL_MESSAGE


def decode_payload(data: str | bytes, *, max_decompressed_bytes: int = limits.DEFAULT_MAX_DECOMPRESSED_BYTES) -> bytes:
    """base64 then gunzip a record's data, giving the subscription message's JSON bytes."""
    try:
        compressed = _base64.decode(data)
    except (binascii.Error, ValueError) as err:
        raise DecodeError(f"not base64: {err}") from err
    if not compressed:
        raise DecodeError("record data is empty")
    return _gzip.decompress(compressed, max_bytes=max_decompressed_bytes)


def parse_message(raw: bytes) -> LogBatch:
    """Parse subscription JSON into a LogBatch; raise DecodeError on any missing or mistyped field.

    Invalid UTF-8 bytes and lone surrogates in messages are replaced by U+FFFD
    and counted in ``replaced_characters``; the other events are untouched.
    """
    return parse_encoded(raw)[0]


def parse_encoded(raw: bytes) -> tuple[LogBatch, list[bytes] | None]:
    """:func:`parse_message`, and the events' messages in UTF-8 (as ``s3_output.encode_messages`` gives them).

    Encoding the messages is how their types are checked (only text encodes),
    so the transformation, which needs the bytes, gets them at no extra cost.
    """
    replaced, lenient = 0, False
    try:
        doc: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc, replaced = _parse_leniently(raw)
        lenient = True
    if not isinstance(doc, dict):
        raise DecodeError("subscription message is not a JSON object")
    message_type = doc.get("messageType")
    if message_type == CONTROL_MESSAGE:
        control = LogBatch(
            message_type="CONTROL_MESSAGE",
            log_group=_text(doc, "logGroup", required=False),
            log_stream=_text(doc, "logStream", required=False),
            events=[],
        )
        return control, []
    if message_type != DATA_MESSAGE:
        raise DecodeError(f"unknown messageType {message_type!r}")
    events = doc.get("logEvents")
    if not isinstance(events, list):
        raise DecodeError("DATA_MESSAGE has no logEvents list")
    encoded = _encoded(events)
    if lenient:  # only the stdlib parser lets lone surrogates into a message
        replaced += _scrub_messages(events)
        encoded = _encoded(events)
    filters = doc.get("subscriptionFilters")
    batch = LogBatch(
        message_type="DATA_MESSAGE",
        log_group=_text(doc, "logGroup", required=True),
        log_stream=_text(doc, "logStream", required=True),
        events=events,
        owner=_text(doc, "owner", required=False),
        subscription_filters=tuple(str(f) for f in filters) if isinstance(filters, list) else (),
        replaced_characters=replaced,
    )
    return batch, encoded


_message = itemgetter("message")
_timestamp = itemgetter("timestamp")


def _encoded(events: list[Any]) -> list[bytes] | None:
    """Each event's message in UTF-8 (None when one is not valid Unicode); DecodeError for an ill-typed event.

    Checked a column at a time, in C: only an object holds ``message`` and
    ``timestamp`` (a JSON array or string refuses them), only text encodes,
    and the set of the timestamps' types says the rest.
    """
    try:
        try:
            encoded: list[bytes] | None = list(map(str.encode, map(_message, events)))
        except UnicodeEncodeError:  # a lone surrogate: text all the same
            encoded = None
            if not set(map(type, map(_message, events))) <= {str}:
                raise TypeError("a message that is not text") from None
        if set(map(type, map(_timestamp, events))) <= {int}:
            return encoded
    except (KeyError, TypeError):
        pass
    for position, event in enumerate(events):
        if type(event) is not dict or type(event.get("message")) is not str or type(event.get("timestamp")) is not int:
            raise DecodeError(f"logEvents[{position}] lacks a string message or integer timestamp")
    raise DecodeError("logEvents hold an event without a string message or integer timestamp")


def _parse_leniently(raw: bytes) -> tuple[Any, int]:
    r"""The subscription JSON orjson refused, parsed again with broken characters replaced.

    orjson refuses invalid UTF-8 anywhere in the payload and lone UTF-16
    surrogate escapes (``"\ud800"``), both of which an app's output can put in
    a CloudWatch message. Here invalid bytes become U+FFFD and the stdlib
    parser, which keeps lone surrogates, reads the rest; what is still not JSON
    is reported with the parser's own reason. Returns the document and the
    number of invalid UTF-8 sequences replaced.
    """
    text, replaced = decode_utf8(raw)
    try:
        doc = json.loads(text)
    except ValueError as err:
        note = f" ({replaced} invalid UTF-8 sequences replaced first)" if replaced else ""
        raise DecodeError(f"not JSON: {err}{note}") from err
    except RecursionError as err:
        raise DecodeError("not JSON: nested too deeply") from err
    return doc, replaced


def _scrub_messages(events: list[LogEvent]) -> int:
    """Replace lone surrogates in every message, in place; the number replaced."""
    total = 0
    for event in events:
        fixed, count = scrub_text(event["message"])
        if count or fixed is not event["message"]:
            event["message"] = fixed
            total += count
    return total


def decode_record(
    data: str | bytes, *, max_decompressed_bytes: int = limits.DEFAULT_MAX_DECOMPRESSED_BYTES
) -> LogBatch:
    """Decode a Firehose record's base64 ``data`` into a :class:`LogBatch`.

    Raises DecodeError, with the reason, for anything that is not a
    CloudWatch Logs subscription message.
    """
    return parse_message(decode_payload(data, max_decompressed_bytes=max_decompressed_bytes))


def encode_batch(batch: LogBatch, events: list[LogEvent] | None = None, *, level: int = 6) -> bytes:
    """Build a subscription payload, gzip(JSON), of ``batch`` with ``events`` (default: all).

    Used to split an oversized record into smaller records that decode exactly
    like the original.
    """
    doc = {
        "messageType": batch.message_type,
        "owner": batch.owner,
        "logGroup": batch.log_group,
        "logStream": batch.log_stream,
        "subscriptionFilters": list(batch.subscription_filters),
        "logEvents": batch.events if events is None else events,
    }
    return _gzip.compress(orjson.dumps(doc), level)


def _text(doc: dict[str, Any], key: str, *, required: bool) -> str:
    value = doc.get(key)
    if isinstance(value, str):
        return value
    if required:
        raise DecodeError(f"DATA_MESSAGE has no string {key}")
    return ""
