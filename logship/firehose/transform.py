"""One pass over a Firehose event: each record becomes one frozen outcome, then the re-ingest settles them.

:func:`transform` decodes, tags and routes every record in order and yields
its :class:`RecordOutcome` with the Datadog entries to send now, so the caller
sends while the next record is decoded. An outcome says what the response
answers for the record, and which pieces of it wait for re-ingest (records
that do not fit the response). :func:`settle` is a pure function of the
outcomes and the re-ingest report: it gives the final outcomes, the response,
and the entries of pieces that could not be put back (Datadog gets them now).
:func:`fail_unkept` answers ``ProcessingFailed`` for Ok records whose Datadog
entries could be neither delivered nor kept. No I/O here, and no callback.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from logship import _base64, limits
from logship.errors import DecodeError
from logship.firehose.budget import ResponseBudget, entry_size, response_bytes
from logship.firehose.entries import EntryOptions, build_entries
from logship.firehose.event import FirehoseEvent, FirehoseRecord, RecordResult, Result
from logship.firehose.reingest import ReingestItem, ReingestReport
from logship.firehose.s3_output import OutputOptions, build_output, encode_messages
from logship.firehose.subscription import LogBatch, LogEvent, decode_payload, encode_batch, parse_message
from logship.firehose.tags import StreamTags, TagOptions, derive_tags
from logship.packing import split_until

logger = logging.getLogger(__name__)

# Split pieces aim at a quarter of the response, so a re-ingested piece fits the
# next invocation beside other records instead of bouncing again.
_PIECE_FRACTION = 4
# Room kept for metadata.partitionKeys when a lone split event is judged against an
# empty response: its size is measured here without them.
_PARTITION_KEYS_ALLOWANCE = 512
# Leave room for a Kinesis partition key (at most 256 bytes) under the record cap.
_MAX_PIECE_RECORD_BYTES = min(limits.FIREHOSE_RECORD_MAX_BYTES, limits.KINESIS_RECORD_MAX_BYTES) - 1024


@dataclasses.dataclass(frozen=True)
class TransformOptions:
    """How records are decoded, tagged, answered and turned into entries."""

    tags: TagOptions = TagOptions()
    entries: EntryOptions = EntryOptions()
    output: OutputOptions = OutputOptions()
    #: Lambda's response limit, with the blueprint's margin (``logship.limits``).
    response_limit_bytes: int = limits.DEFAULT_RESPONSE_LIMIT_BYTES
    #: Return ``metadata.partitionKeys`` for Firehose dynamic partitioning.
    partition_keys: bool = False
    max_decompressed_bytes: int = limits.DEFAULT_MAX_DECOMPRESSED_BYTES


@dataclasses.dataclass(frozen=True, slots=True)
class ReingestPiece:
    """Part of a record put back into the stream: the bytes to put, and its events, tagged, for Datadog."""

    item: ReingestItem
    batch: LogBatch
    tags: StreamTags


@dataclasses.dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What became of one input record.

    ``result`` is the answer in the response; a record with ``pieces`` is
    ``Dropped`` while its pieces wait for re-ingest, and :func:`settle` makes
    it ``ProcessingFailed`` if any piece could not be put back.
    ``response_bytes`` is the size of its answer in the serialized response.
    """

    record_id: str
    result: Result
    response_bytes: int
    reason: str | None = None
    data: str | None = None
    partition_keys: Mapping[str, str] | None = None
    #: Log events the record holds.
    events: int = 0
    control: bool = False
    pieces: tuple[ReingestPiece, ...] = ()

    def answer(self) -> dict[str, Any]:
        """The record as Firehose expects it in the response."""
        return RecordResult(self.record_id, self.result, self.data, self.partition_keys).to_dict()


def transform(event: FirehoseEvent, options: TransformOptions) -> Iterator[tuple[RecordOutcome, list[bytes]]]:
    """Each record's outcome, in input order, with the Datadog entries to send now.

    One broken record never affects another: whatever goes wrong inside one
    becomes its ``ProcessingFailed`` outcome.
    """
    budget = ResponseBudget(options.response_limit_bytes, [r.record_id for r in event.records])
    tag_cache: dict[tuple[str, str], StreamTags] = {}
    for record in event.records:
        try:
            yield _route(record, options, budget, tag_cache)
        except DecodeError as err:
            yield _failed(record, str(err)), []
        except Exception as err:  # noqa: BLE001 - the per-record boundary: nothing escapes it
            yield _failed(record, f"unexpected {type(err).__name__}: {err}"), []


def _failed(record: FirehoseRecord, reason: str) -> RecordOutcome:
    logger.error("record failed: %s", reason, extra={"recordId": record.record_id, "reason": reason})
    return RecordOutcome(record.record_id, "ProcessingFailed", entry_size(record.record_id, "ProcessingFailed"), reason)


def _route(
    record: FirehoseRecord,
    options: TransformOptions,
    budget: ResponseBudget,
    tag_cache: dict[tuple[str, str], StreamTags],
) -> tuple[RecordOutcome, list[bytes]]:
    rid = record.record_id
    batch = parse_message(decode_payload(record.data, max_decompressed_bytes=options.max_decompressed_bytes))
    if batch.is_control:
        return RecordOutcome(rid, "Dropped", budget.reserved(rid), "CONTROL_MESSAGE", control=True), []
    if not batch.events:
        return RecordOutcome(rid, "Dropped", budget.reserved(rid), "no log events"), []
    key = (batch.log_group, batch.log_stream)
    tags = tag_cache.get(key)
    if tags is None:
        tags = tag_cache[key] = derive_tags(
            batch.log_group,
            batch.log_stream,
            group_pattern=options.tags.group_pattern,
            stream_pattern=options.tags.stream_pattern,
        )
    events = len(batch.events)
    keys = tags.partition_keys() if options.partition_keys else None
    encoded = encode_messages(batch.events)
    data = _base64.encode(build_output(batch, options.output, encoded=encoded))
    cost = budget.ok_cost(rid, len(data), keys)
    if budget.take(cost):
        entries = build_entries(batch, tags, options.entries, encoded=encoded)
        return RecordOutcome(rid, "Ok", budget.reserved(rid) + cost, None, data, keys, events), entries
    raw = _base64.decode(record.data)
    if budget.fits_alone(cost) and len(raw) <= _MAX_PIECE_RECORD_BYTES:
        piece = ReingestPiece(ReingestItem(raw, record.partition_key), batch, tags)
        reason = "re-ingested: response full"
        return RecordOutcome(rid, "Dropped", budget.reserved(rid), reason, events=events, pieces=(piece,)), []
    pieces = _split(batch, options, budget, rid)
    if pieces is None:
        # A single event that cannot fit even an empty response: Firehose keeps the
        # record in its error prefix; Datadog still gets its events.
        reason = "a single log event is larger than the response limit"
        logger.error(reason, extra={"recordId": rid, "reason": reason})
        entries = build_entries(batch, tags, options.entries, encoded=encoded)
        return RecordOutcome(rid, "ProcessingFailed", budget.reserved(rid), reason, events=events), entries
    outcome = RecordOutcome(
        rid,
        "Dropped",
        budget.reserved(rid),
        f"re-ingested: split into {len(pieces)} records",
        events=events,
        pieces=tuple(
            ReingestPiece(ReingestItem(payload, record.partition_key), dataclasses.replace(batch, events=part), tags)
            for part, payload in pieces
        ),
    )
    return outcome, []


def _split(
    batch: LogBatch, options: TransformOptions, budget: ResponseBudget, record_id: str
) -> list[tuple[list[LogEvent], bytes]] | None:
    """Halve the events until every piece's output is a fraction of the response; None if impossible."""
    target = max((options.response_limit_bytes - budget.used_without_data) // _PIECE_FRACTION, 1)
    pieces: list[tuple[list[LogEvent], bytes]] = []

    def accept(events: Sequence[LogEvent]) -> bool:
        part = list(events)
        size = len(_base64.encode(build_output(batch, options.output, events=part)))
        payload = encode_batch(batch, part)
        small_enough = size <= target or (
            len(part) == 1 and budget.fits_alone(budget.ok_cost(record_id, size, None) + _PARTITION_KEYS_ALLOWANCE)
        )
        if small_enough and len(payload) <= _MAX_PIECE_RECORD_BYTES:
            pieces.append((part, payload))
            return True
        return False

    if split_until(batch.events, accept):
        return None
    return pieces


def reingest_items(outcomes: Sequence[RecordOutcome]) -> list[ReingestItem]:
    """Every piece waiting for re-ingest, in record order: what to put back (a report's indices refer to it)."""
    return [piece.item for outcome in outcomes for piece in outcome.pieces]


def stranded_pieces(outcomes: Sequence[RecordOutcome], failed: Collection[int]) -> list[int]:
    """Indices (as :func:`reingest_items` gives them) of failed pieces of records that had other pieces put back.

    Left behind, such a record goes whole to the error prefix while its pieces
    put back are processed too: these are the pieces worth every retry left.
    """
    stranded: list[int] = []
    index = 0
    for outcome in outcomes:
        positions = range(index, index + len(outcome.pieces))
        index += len(outcome.pieces)
        left = [p for p in positions if p in failed]
        if left and len(left) < len(positions):
            stranded.extend(left)
    return stranded


@dataclasses.dataclass(frozen=True)
class Settlement:
    """The invocation's final word: outcomes after re-ingest, and the entries still to send to Datadog."""

    outcomes: tuple[RecordOutcome, ...]
    #: Entries of the pieces that could not be put back (their events go to Datadog now).
    to_send: list[bytes]
    #: Split records put back in part before re-ingest failed on the rest: the error prefix
    #: gets them whole while their pieces put back are processed too (README, duplicate paths).
    partly_put_back: tuple[str, ...] = ()

    def response(self) -> dict[str, Any]:
        """The Firehose response: every input recordId exactly once, in input order."""
        return {"records": [outcome.answer() for outcome in self.outcomes]}

    @property
    def response_bytes(self) -> int:
        """The response's size as the Lambda runtime serializes it (an upper bound, exact for Ok records)."""
        return response_bytes(outcome.response_bytes for outcome in self.outcomes)


def settle(outcomes: Sequence[RecordOutcome], report: ReingestReport | None, entries: EntryOptions) -> Settlement:
    """Apply the re-ingest ``report`` (None: nothing was re-ingested) to the outcomes.

    A record with any piece left behind becomes ``ProcessingFailed``, so
    Firehose keeps its original bytes in its error prefix, and the events of
    the pieces not put back go to Datadog now (each event is forwarded once:
    the pieces that were put back reach Datadog when they come back).
    """
    if report is None or not report.failed:
        return Settlement(tuple(outcomes), [])
    failed = report.failed
    reason = "re-ingest failed: " + "; ".join(report.errors[-3:])
    final: list[RecordOutcome] = []
    to_send: list[bytes] = []
    partly: list[str] = []
    index = 0
    for outcome in outcomes:
        left = [piece for position, piece in enumerate(outcome.pieces, index) if position in failed]
        index += len(outcome.pieces)
        if not left:
            final.append(outcome)
            continue
        if len(left) < len(outcome.pieces):
            partly.append(outcome.record_id)
        logger.error("record failed: %s", reason, extra={"recordId": outcome.record_id, "reason": reason})
        final.append(_as_failed(outcome, reason))
        for piece in left:
            to_send.extend(build_entries(piece.batch, piece.tags, entries))
    if partly:
        logger.error(
            "split records put back in part: their pieces put back are processed and the error prefix keeps them whole",
            extra={"recordIds": partly[:20], "records": len(partly)},
        )
    return Settlement(tuple(final), to_send, tuple(partly))


def fail_unkept(
    outcomes: Sequence[RecordOutcome], positions: Collection[int], reason: str
) -> tuple[RecordOutcome, ...]:
    """``outcomes`` with every Ok record at one of ``positions`` answered ``ProcessingFailed`` instead.

    For records whose Datadog entries were neither accepted nor kept in a dead
    letter: Firehose keeps their original bytes in its error prefix, where
    ``logship redrive`` finds them, and their S3 output is not returned, so
    their events reach S3 once, after the redrive. Other outcomes stay as
    they are (only an Ok answer carries data; the response only shrinks).
    """
    return tuple(
        _as_failed(outcome, reason) if position in positions and outcome.result == "Ok" else outcome
        for position, outcome in enumerate(outcomes)
    )


def _as_failed(outcome: RecordOutcome, reason: str) -> RecordOutcome:
    return dataclasses.replace(
        outcome,
        result="ProcessingFailed",
        reason=reason,
        data=None,
        partition_keys=None,
        response_bytes=entry_size(outcome.record_id, "ProcessingFailed"),
    )
