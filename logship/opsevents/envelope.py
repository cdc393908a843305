"""Envelope step: what the Lambda receives, as zero or more EventBridge events.

The input is an EventBridge event (``version``, ``id``, ``detail-type``,
``source``, ``account``, ``time``, ``region``, ``resources``, ``detail``), or an
SNS notification holding such events as JSON strings in
``Records[].Sns.Message`` (one per record, several records possible). Events
that came through AWS CodeStar Notifications spell ``detail-type`` as
``detailType`` and carry no ``id``; both are accepted, and the SNS
``MessageId`` stands in for the missing ``id``.

Nothing here raises: input that is not an event becomes a
:class:`~logship.opsevents.model.Skipped` with the reason.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from logship.opsevents import _json
from logship.opsevents.model import Skipped, SkipReason

# An SNS message is at most 256 KiB (SNS quotas); a larger string is not an SNS message.
SNS_MESSAGE_MAX_BYTES = 256 * 1024
# An ISO 8601 time with fractions and an offset is about 35 characters; longer is not one.
_TIME_MAX_CHARS = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    """One EventBridge event's top-level fields; ``detail`` is left as the parsed JSON object.

    ``time`` is the parsed ``time`` field (UTC), None when missing or not ISO 8601.
    ``via_sns`` is True for an event unwrapped from an SNS record.
    """

    source: str
    detail_type: str
    id: str
    account: str
    region: str
    time: datetime | None
    resources: tuple[str, ...]
    detail: Mapping[str, Any]
    version: str = "0"
    via_sns: bool = False


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 time (EventBridge writes ``2020-01-23T17:57:58Z``) as an aware UTC datetime; None if not one."""
    if not value or len(value) > _TIME_MAX_CHARS:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def read_envelope(event: Any, *, fallback_id: str = "", via_sns: bool = False) -> Envelope | Skipped:
    """One EventBridge event, or a Skipped when ``event`` is not a JSON object with ``source`` and ``detail-type``."""
    if not isinstance(event, Mapping):
        return Skipped(SkipReason.NOT_AN_EVENT, f"expected a JSON object, got {_kind(event)}")
    source = _json.text(event, "source")
    detail_type = _json.text(event, "detail-type") or _json.text(event, "detailType")
    event_id = _json.text(event, "id") or fallback_id
    if not source or not detail_type:
        return Skipped(
            SkipReason.NOT_AN_EVENT,
            "not an EventBridge event: no 'source' or no 'detail-type'",
            source=source[:200],
            detail_type=detail_type[:200],
            event_id=event_id[:200],
        )
    return Envelope(
        source=source,
        detail_type=detail_type,
        id=event_id,
        account=_json.text(event, "account"),
        region=_json.text(event, "region"),
        time=parse_time(_json.text(event, "time")),
        resources=_json.strings(event, "resources"),
        detail=_json.mapping(event, "detail"),
        version=_json.text(event, "version", "0"),
        via_sns=via_sns,
    )


def unwrap(payload: Any) -> tuple[Envelope | Skipped, ...]:
    """Every EventBridge event in a Lambda payload: the event itself, or one per SNS record.

    An SNS record whose message is not JSON, or not an event, gives a Skipped in
    its place, so the other records are still read.
    """
    if isinstance(payload, Mapping) and "Records" in payload and "source" not in payload:
        records = payload.get("Records")
        if not isinstance(records, list) or not records:
            return (Skipped(SkipReason.NOT_AN_EVENT, "'Records' is not a non-empty array of SNS records"),)
        return tuple(_from_sns_record(record) for record in records)
    return (read_envelope(payload),)


def _from_sns_record(record: Any) -> Envelope | Skipped:
    sns = _json.mapping(record, "Sns")
    message_id = _json.text(sns, "MessageId")
    message = sns.get("Message") if sns else None
    if not isinstance(message, str):
        return Skipped(SkipReason.NOT_AN_EVENT, "SNS record without a string 'Sns.Message'", event_id=message_id[:200])
    if len(message) > SNS_MESSAGE_MAX_BYTES:
        return Skipped(
            SkipReason.NOT_AN_EVENT,
            f"SNS message of {len(message):,} characters is over SNS's {SNS_MESSAGE_MAX_BYTES:,} bytes",
            event_id=message_id[:200],
        )
    try:
        inner = json.loads(message)
    except ValueError:
        return Skipped(SkipReason.NOT_AN_EVENT, "SNS message is not JSON", event_id=message_id[:200])
    except RecursionError:
        return Skipped(SkipReason.NOT_AN_EVENT, "SNS message is JSON nested too deeply", event_id=message_id[:200])
    return read_envelope(inner, fallback_id=message_id, via_sns=True)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
