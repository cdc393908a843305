"""One pass over a Firehose event: each record becomes one frozen outcome, then the re-ingest settles them.

:func:`transform` decodes, tags and routes every record in order and yields
its :class:`RecordOutcome` with the Datadog entries to send now, so the caller
sends while the next record is decoded. An outcome says what the response
answers for the record, and which pieces of it wait for re-ingest (records
that do not fit the response). A record too big for any response is answered
Ok with the events that fit now, and the rest is put back as one record: one
record is put or not, never half, so no re-ingest failure can leave part of
a record in two places. :func:`settle` is a pure function of the
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
from logship.firehose.s3_output import OutputOptions, build_output
from logship.firehose.subscription import LogBatch, LogEvent, decode_payload, encode_batch, parse_encoded
from logship.firehose.tags import StreamTags, TagOptions, remembered_tags
from logship.packing import split_until

logger = logging.getLogger(__name__)

# When the rest of a record must be split after all (it re-encodes over a record's
# size), pieces aim at a quarter of the response, to fit beside other records.
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
    ``Dropped`` (or ``Ok`` with the events that fit, when it is too big for
    any response) while its pieces wait for re-ingest, and :func:`settle`
    makes it ``ProcessingFailed`` if any piece could not be put back.
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
    #: Events whose entries were built but left out: not JSON (``ONLY_JSON``), or filtered out.
    not_json: int = 0
    filtered: int = 0
    #: Broken characters (invalid UTF-8, lone surrogates) replaced by U+FFFD while decoding.
    replaced_characters: int = 0

    def answer(self) -> dict[str, Any]:
        """The record as Firehose expects it in the response."""
        return RecordResult(self.record_id, self.result, self.data, self.partition_keys).to_dict()


def transform(event: FirehoseEvent, options: TransformOptions) -> Iterator[tuple[RecordOutcome, list[bytes]]]:
    """Each record's outcome, in input order, with the Datadog entries to send now.

    One broken record never affects another: whatever goes wrong inside one
    becomes its ``ProcessingFailed`` outcome.
    """
    budget = ResponseBudget(options.response_limit_bytes, [r.record_id for r in event.records])
    for record in event.records:
        try:
            yield _route(record, options, budget)
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
) -> tuple[RecordOutcome, list[bytes]]:
    batch, encoded = parse_encoded(decode_payload(record.data, max_decompressed_bytes=options.max_decompressed_bytes))
    outcome, entries = _route_batch(record, batch, options, budget, encoded=encoded)
    if batch.replaced_characters:
        outcome = dataclasses.replace(outcome, replaced_characters=batch.replaced_characters)
    return outcome, entries


def _route_batch(
    record: FirehoseRecord,
    batch: LogBatch,
    options: TransformOptions,
    budget: ResponseBudget,
    *,
    encoded: list[bytes] | None,
) -> tuple[RecordOutcome, list[bytes]]:
    rid = record.record_id
    if batch.is_control:
        return RecordOutcome(rid, "Dropped", budget.reserved(rid), "CONTROL_MESSAGE", control=True), []
    if not batch.events:
        return RecordOutcome(rid, "Dropped", budget.reserved(rid), "no log events"), []
    tags = remembered_tags(batch.log_group, batch.log_stream, options.tags.group_pattern, options.tags.stream_pattern)
    events = len(batch.events)
    keys = tags.partition_keys() if options.partition_keys else None
    data = _base64.encode(build_output(batch, options.output, encoded=encoded))
    cost = budget.ok_cost(rid, len(data), keys)
    if budget.take(cost):
        entries = build_entries(batch, tags, options.entries, encoded=encoded)
        outcome = RecordOutcome(
            rid,
            "Ok",
            budget.reserved(rid) + cost,
            None,
            data,
            keys,
            events,
            not_json=entries.not_json,
            filtered=entries.filtered,
        )
        return outcome, entries
    raw = _base64.decode(record.data)
    if budget.fits_alone(cost) and len(raw) <= _MAX_PIECE_RECORD_BYTES:
        piece = ReingestPiece(ReingestItem(raw, record.partition_key), batch, tags)
        reason = "re-ingested: response full"
        return RecordOutcome(rid, "Dropped", budget.reserved(rid), reason, events=events, pieces=(piece,)), []
    return _take_and_put_back(record, batch, tags=tags, keys=keys, options=options, budget=budget, raw=raw)


def _take_and_put_back(
    record: FirehoseRecord,
    batch: LogBatch,
    *,
    tags: StreamTags,
    keys: Mapping[str, str] | None,
    options: TransformOptions,
    budget: ResponseBudget,
    raw: bytes,
) -> tuple[RecordOutcome, list[bytes]]:
    """A record too big for any response: the events that fit now are answered Ok, the rest goes back as one record.

    One record is put back or not, never in part, so when re-ingest fails the
    record simply becomes ``ProcessingFailed`` as a whole and nothing of it
    lands twice. The rest may be too big again when it comes back; each
    invocation then takes what fits its response.
    """
    rid = record.record_id
    events = batch.events
    taken, data, cost = _fitting_prefix(batch, options, budget, rid, keys)
    rest = dataclasses.replace(batch, events=events[taken:])
    if not taken and not budget.fits_alone(_lone_cost(batch, events[0], options, budget, rid)):
        return _too_big(rid, batch, tags, options, budget)
    payload = raw if not taken else encode_batch(batch, rest.events)
    if len(payload) <= _MAX_PIECE_RECORD_BYTES:
        pieces: tuple[ReingestPiece, ...] = (ReingestPiece(ReingestItem(payload, record.partition_key), rest, tags),)
    else:
        # The rest re-encodes over a record's size (only a record at the size limit can): several records.
        split = _split(rest, options, budget, rid)
        if split is None:
            return _too_big(rid, batch, tags, options, budget)
        pieces = tuple(
            ReingestPiece(
                ReingestItem(part_payload, record.partition_key), dataclasses.replace(batch, events=part), tags
            )
            for part, part_payload in split
        )
    reason = f"{len(rest.events)} of {len(events)} events re-ingested: too big for one response"
    if not taken:
        return RecordOutcome(rid, "Dropped", budget.reserved(rid), reason, events=len(events), pieces=pieces), []
    budget.take(cost)
    entries = build_entries(dataclasses.replace(batch, events=events[:taken]), tags, options.entries)
    outcome = RecordOutcome(
        rid,
        "Ok",
        budget.reserved(rid) + cost,
        reason,
        data,
        keys,
        events=len(events),
        pieces=pieces,
        not_json=entries.not_json,
        filtered=entries.filtered,
    )
    return outcome, entries


def _fitting_prefix(
    batch: LogBatch,
    options: TransformOptions,
    budget: ResponseBudget,
    record_id: str,
    keys: Mapping[str, str] | None,
) -> tuple[int, str | None, int]:
    """The most events from the start whose S3 output fits the response's room now: (count, data, cost).

    All of them do not fit (the caller knows); a binary search on the count,
    building the output of each candidate (this path is rare).
    """
    events = batch.events
    found: tuple[int, str | None, int] = (0, None, 0)
    low, high = 0, len(events) - 1
    while low < high:
        middle = (low + high + 1) // 2
        data = _base64.encode(build_output(batch, options.output, events=events[:middle]))
        cost = budget.ok_cost(record_id, len(data), keys)
        if cost <= budget.room:
            low, found = middle, (middle, data, cost)
        else:
            high = middle - 1
    return found


def _lone_cost(
    batch: LogBatch, event: LogEvent, options: TransformOptions, budget: ResponseBudget, record_id: str
) -> int:
    """What one event alone costs in a response, partition keys allowed for."""
    size = len(_base64.encode(build_output(batch, options.output, events=[event])))
    return budget.ok_cost(record_id, size, None) + _PARTITION_KEYS_ALLOWANCE


def _too_big(
    rid: str, batch: LogBatch, tags: StreamTags, options: TransformOptions, budget: ResponseBudget
) -> tuple[RecordOutcome, list[bytes]]:
    """A log event that cannot fit even an empty response: Firehose keeps the record; Datadog gets its events now."""
    reason = "a single log event is larger than the response limit"
    logger.error(reason, extra={"recordId": rid, "reason": reason})
    entries = build_entries(batch, tags, options.entries)
    outcome = RecordOutcome(
        rid,
        "ProcessingFailed",
        budget.reserved(rid),
        reason,
        events=len(batch.events),
        not_json=entries.not_json,
        filtered=entries.filtered,
    )
    return outcome, entries


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


# Record ids one log line names (the count says how many there were).
_IDS_LOGGED = 20


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
    reason = f"re-ingest into {report.target} failed: {report.failure()}"
    final: list[RecordOutcome] = []
    to_send: list[bytes] = []
    partly: list[str] = []
    failed_ids: list[str] = []
    index = 0
    for outcome in outcomes:
        left = [piece for position, piece in enumerate(outcome.pieces, index) if position in failed]
        index += len(outcome.pieces)
        if not left:
            final.append(outcome)
            continue
        if len(left) < len(outcome.pieces):
            partly.append(outcome.record_id)
        failed_ids.append(outcome.record_id)
        built = [build_entries(piece.batch, piece.tags, entries) for piece in left]
        failed_outcome = _as_failed(outcome, reason)
        final.append(
            dataclasses.replace(
                failed_outcome,
                not_json=outcome.not_json + sum(part.not_json for part in built),
                filtered=outcome.filtered + sum(part.filtered for part in built),
            )
        )
        for part in built:
            to_send.extend(part)
    if failed_ids:
        logger.error(
            "records answered ProcessingFailed: %s",
            reason,
            extra={"records": len(failed_ids), "recordIds": failed_ids[:_IDS_LOGGED]},
        )
    if partly:
        logger.error(
            "split records put back in part: their pieces put back are processed and the error prefix keeps them whole",
            extra={"recordIds": partly[:_IDS_LOGGED], "records": len(partly)},
        )
    return Settlement(tuple(final), to_send, tuple(partly))


def fail_unkept(
    outcomes: Sequence[RecordOutcome], positions: Collection[int], reason: str
) -> tuple[RecordOutcome, ...]:
    """``outcomes`` with every Ok record at one of ``positions`` answered ``ProcessingFailed`` instead.

    For records whose Datadog entries were neither accepted nor kept in a dead
    letter: Firehose keeps their original bytes in its error prefix, where
    ``logship redrive`` finds them, and their S3 output is not returned, so
    their events reach S3 once, after the redrive. Such a record's rest
    waiting for re-ingest is not put back (the error prefix has it whole).
    Other outcomes stay as they are (the response only shrinks).
    """
    return tuple(
        dataclasses.replace(_as_failed(outcome, reason), pieces=())
        if position in positions and outcome.result == "Ok"
        else outcome
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
