"""The flow of one invocation: decode -> tag -> route (S3 response, re-ingest, Datadog).

:func:`transform` decides, for every record, what goes into the response,
what must be re-ingested and which events go to Datadog. It does no I/O
itself, but hands the entries of each record whose fate is final to
``deliver`` at once (the Datadog sender queues them for its worker threads
and never blocks), so sending overlaps with decoding. :func:`apply_reingest`
does the re-ingest I/O and settles the re-ingested records.
:func:`datadog_entries` builds the entries of what is left to send (records
whose re-ingest failed). The Lambda wiring (:mod:`logship.firehose.app`) calls them in
that order.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Any

from logship import _base64, limits
from logship.errors import DecodeError
from logship.firehose.budget import ResponseBudget
from logship.firehose.entries import EntryOptions, build_entries
from logship.firehose.event import FirehoseEvent, FirehoseRecord, RecordResult, Result
from logship.firehose.reingest import Reingester, ReingestItem, ReingestReport, reingest
from logship.firehose.s3_output import build_output, encode_messages
from logship.firehose.subscription import LogBatch, LogEvent, decode_payload, encode_batch, parse_message
from logship.firehose.tags import StreamTags, derive_tags, user_tags
from logship.settings import Settings

logger = logging.getLogger(__name__)

# Split pieces aim at a quarter of the response, so a re-ingested piece fits the
# next invocation beside other records instead of bouncing again.
_PIECE_FRACTION = 4
# Room kept for metadata.partitionKeys when a lone split event is judged against an
# empty response: its size is measured here without them.
_PARTITION_KEYS_ALLOWANCE = 512
# Leave room for a Kinesis partition key (at most 256 bytes) under the record cap.
_MAX_PIECE_RECORD_BYTES = min(limits.FIREHOSE_RECORD_MAX_BYTES, limits.KINESIS_RECORD_MAX_BYTES) - 1024


@dataclasses.dataclass
class RecordPlan:
    """The decision for one input record."""

    record: FirehoseRecord
    result: Result
    data: str | None = None
    partition_keys: dict[str, str] | None = None
    batch: LogBatch | None = None
    tags: StreamTags | None = None
    events: int = 0
    reason: str | None = None
    # Re-ingest: the records to put back, each with the events it holds.
    pieces: list[tuple[ReingestItem, list[LogEvent]]] = dataclasses.field(default_factory=list)
    # Events of this record still to be sent to Datadog in this invocation (None
    # once transform has handed them to ``deliver``).
    forward: list[LogEvent] | None = None
    # The messages of ``batch`` as UTF-8, shared by the S3 output and the entries
    # (None when not made, or once the entries are built).
    encoded: list[bytes] | None = None

    def to_result(self) -> RecordResult:
        """The response record."""
        return RecordResult(self.record.record_id, self.result, self.data, self.partition_keys)


@dataclasses.dataclass
class Plan:
    """Decisions for every record of an event, in input order."""

    records: list[RecordPlan]
    response_limit: int
    response_estimate: int

    def response(self) -> dict[str, Any]:
        """The Firehose response: every input recordId exactly once, in input order."""
        return {"records": [plan.to_result().to_dict() for plan in self.records]}

    def to_reingest(self) -> list[RecordPlan]:
        """Records waiting for re-ingest."""
        return [plan for plan in self.records if plan.pieces and plan.result == "Dropped"]

    def counts(self) -> dict[str, int]:
        """Records by result, and events by route, for the invocation's summary line."""
        out = {"records": len(self.records), "Ok": 0, "Dropped": 0, "ProcessingFailed": 0}
        control = reingested = events_s3 = events_reingested = 0
        for plan in self.records:
            out[plan.result] += 1
            if plan.batch is not None and plan.batch.is_control:
                control += 1
            if plan.result == "Ok":
                events_s3 += plan.events
            if plan.pieces and plan.result == "Dropped":
                reingested += 1
                events_reingested += sum(len(events) for _, events in plan.pieces)
        out.update(
            control=control,
            reingested_records=reingested,
            events_to_s3=events_s3,
            events_reingested=events_reingested,
            # Invalid UTF-8 sequences and lone surrogates replaced by U+FFFD while decoding.
            replaced_characters=sum(p.batch.replaced_characters for p in self.records if p.batch is not None),
        )
        return out


Deliver = Callable[[list[bytes]], None]


def transform(
    event: FirehoseEvent,
    settings: Settings,
    *,
    deliver: Deliver | None = None,
    options: EntryOptions | None = None,
) -> Plan:
    """Decide every record's fate. One broken record never affects another.

    With ``deliver``, the Datadog entries of each record whose fate is final are
    built and handed to it as soon as it is decided; without, they are left in
    the plan for :func:`datadog_entries`.
    """
    budget = ResponseBudget(settings.response_limit_bytes, [r.record_id for r in event.records])
    tag_cache: dict[tuple[str, str], StreamTags] = {}
    options = options if options is not None else entry_options(settings)
    plans = []
    for record in event.records:
        try:
            plan = _plan_record(record, settings, budget, tag_cache)
            if deliver is not None and plan.forward and plan.tags is not None and plan.batch is not None:
                entries = build_entries(plan.batch, plan.tags, options, encoded=plan.encoded)
                plan.forward = None
                deliver(entries)
            plan.encoded = None
        except DecodeError as err:
            plan = _failed(record, str(err))
        except Exception as err:  # noqa: BLE001 - the per-record boundary: nothing escapes it
            plan = _failed(record, f"unexpected {type(err).__name__}: {err}")
        plans.append(plan)
    return Plan(plans, settings.response_limit_bytes, budget.used)


def _failed(record: FirehoseRecord, reason: str) -> RecordPlan:
    logger.error("record failed: %s", reason, extra={"recordId": record.record_id, "reason": reason})
    return RecordPlan(record, "ProcessingFailed", reason=reason)


def _plan_record(
    record: FirehoseRecord,
    settings: Settings,
    budget: ResponseBudget,
    tag_cache: dict[tuple[str, str], StreamTags],
) -> RecordPlan:
    batch = parse_message(decode_payload(record.data, max_decompressed_bytes=settings.max_decompressed_bytes))
    if batch.is_control:
        return RecordPlan(record, "Dropped", batch=batch, reason="CONTROL_MESSAGE")
    if not batch.events:
        return RecordPlan(record, "Dropped", batch=batch, reason="no log events")
    key = (batch.log_group, batch.log_stream)
    tags = tag_cache.get(key)
    if tags is None:
        tags = derive_tags(
            batch.log_group,
            batch.log_stream,
            group_pattern=settings.log_group_pattern,
            stream_pattern=settings.log_stream_pattern,
        )
        tag_cache[key] = tags
    plan = RecordPlan(record, "Ok", batch=batch, tags=tags, events=len(batch.events))
    keys = tags.partition_keys() if settings.partition_keys else None
    plan.encoded = encode_messages(batch.events)
    data = _b64(_output(batch, settings, None, plan.encoded))
    cost = budget.ok_cost(record.record_id, len(data), keys)
    if budget.take(cost):
        plan.data, plan.partition_keys, plan.forward = data, keys, batch.events
        return plan
    plan.result = "Dropped"
    raw = _base64.decode(record.data)
    if budget.fits_alone(cost) and len(raw) <= _MAX_PIECE_RECORD_BYTES:
        plan.reason = "re-ingested: response full"
        plan.pieces = [(ReingestItem(raw, record.partition_key), batch.events)]
        return plan
    pieces = _split(batch, settings, budget, record.record_id)
    if pieces is None:
        # A single event that cannot fit even an empty response: Firehose keeps the
        # record in its error prefix; Datadog still gets its events.
        plan.result, plan.forward = "ProcessingFailed", batch.events
        plan.reason = "a single log event is larger than the response limit"
        logger.error(plan.reason, extra={"recordId": record.record_id, "reason": plan.reason})
        return plan
    plan.reason = f"re-ingested: split into {len(pieces)} records"
    plan.pieces = [(ReingestItem(payload, record.partition_key), events) for events, payload in pieces]
    return plan


def _output(
    batch: LogBatch, settings: Settings, events: list[LogEvent] | None, encoded: list[bytes] | None = None
) -> bytes:
    return build_output(
        batch,
        output_format=settings.output_format,
        compression=settings.output_compression,
        level=settings.gzip_level,
        events=events,
        encoded=encoded,
    )


def _b64(data: bytes) -> str:
    return _base64.encode(data)


def _split(
    batch: LogBatch, settings: Settings, budget: ResponseBudget, record_id: str
) -> list[tuple[list[LogEvent], bytes]] | None:
    """Halve the events until every piece's output is a fraction of the response; None if impossible."""
    target = max((settings.response_limit_bytes - budget.used_without_data) // _PIECE_FRACTION, 1)
    pieces: list[tuple[list[LogEvent], bytes]] = []
    stack = [batch.events]
    while stack:
        events = stack.pop()
        size = len(_b64(_output(batch, settings, events)))
        payload = encode_batch(batch, events)
        small_enough = size <= target or (
            len(events) == 1 and budget.fits_alone(budget.ok_cost(record_id, size, None) + _PARTITION_KEYS_ALLOWANCE)
        )
        if small_enough and len(payload) <= _MAX_PIECE_RECORD_BYTES:
            pieces.append((events, payload))
        elif len(events) == 1:
            return None
        else:
            middle = len(events) // 2
            stack.append(events[middle:])
            stack.append(events[:middle])
    return pieces


def apply_reingest(
    plan: Plan,
    reingester: Reingester,
    *,
    max_attempts: int = 5,
    deadline: float = float("inf"),
) -> ReingestReport | None:
    """Re-ingest what the plan set aside; records with any piece left behind become ProcessingFailed.

    Firehose then keeps such a record's original bytes in its error prefix, and
    the events of the pieces that were not put back go to Datadog now, so each
    event is forwarded once.
    """
    waiting = plan.to_reingest()
    if not waiting:
        return None
    items: list[ReingestItem] = []
    owners: list[tuple[RecordPlan, int]] = []
    for record_plan in waiting:
        for position, (item, _events) in enumerate(record_plan.pieces):
            items.append(item)
            owners.append((record_plan, position))
    report = reingest(items, reingester, max_attempts=max_attempts, deadline=deadline)
    left: dict[int, list[int]] = {}
    for index in sorted(report.failed):
        record_plan, position = owners[index]
        left.setdefault(id(record_plan), []).append(position)
    for record_plan in waiting:
        positions = left.get(id(record_plan))
        if not positions:
            continue
        record_plan.result = "ProcessingFailed"
        record_plan.reason = "re-ingest failed: " + "; ".join(report.errors[-3:])
        record_plan.forward = [e for p in positions for e in record_plan.pieces[p][1]]
        logger.error(
            "record failed: %s",
            record_plan.reason,
            extra={"recordId": record_plan.record.record_id, "reason": record_plan.reason},
        )
    return report


def datadog_entries(plan: Plan, options: EntryOptions) -> Iterator[bytes]:
    """Serialized entries for every event the plan forwards, built lazily, in record order."""
    for record_plan in plan.records:
        if not record_plan.forward or record_plan.batch is None or record_plan.tags is None:
            continue
        batch = record_plan.batch
        if record_plan.forward is not batch.events:
            batch = dataclasses.replace(batch, events=record_plan.forward)
        yield from build_entries(batch, record_plan.tags, options)


def entry_options(settings: Settings) -> EntryOptions:
    """Entry options from settings."""
    from logship.firehose.redact import MessageFilter

    return EntryOptions(
        source=settings.dd_source,
        extra_tags=user_tags(settings.dd_tags),  # normalised; warns once per tag Datadog would change
        only_json=settings.only_json,
        message_filter=MessageFilter.from_settings(settings),
    )
