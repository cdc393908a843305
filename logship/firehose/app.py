"""The Firehose Lambda's orchestrator: the steps in order, and the I/O between them.

:class:`Logship` is built once per cold start and reused by warm invocations.
It creates nothing on the network until needed: the Datadog key is fetched at
the first invocation (a key that cannot be had fails it before anything is
sent), AWS clients at the first re-ingest or dead letter. One invocation is:
transform every record (sending each record's entries to Datadog as soon as
they are built), wait for Datadog, keep what it did not accept in the dead
letter, then re-ingest what did not fit and settle; its summary is logged
and, when a metrics sink is given, written as CloudWatch metrics (EMF). The
order is the point: re-ingest is the one side effect a retried batch would
repeat in S3, so it comes last, and nothing after it fails the invocation.
With ``LOGSHIP_DATADOG_ENABLED=false`` nothing is sent to Datadog (S3 only).
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from logship.aws import ClientCache, ClientFactory, describe_error
from logship.datadog.logs import DatadogSender, Delivery, DeliveryReport
from logship.deadletter import DeadLetter
from logship.errors import AuthError, ConfigError, DeadLetterError, DeliveryError, LogshipError
from logship.firehose.event import FirehoseEvent
from logship.firehose.metrics import invocation_metrics
from logship.firehose.reingest import FirehoseReingester, KinesisReingester, Reingester, ReingestReport, reingest
from logship.firehose.transform import (
    RecordOutcome,
    Settlement,
    fail_unkept,
    reingest_items,
    settle,
    stranded_pieces,
    transform,
)
from logship.secrets import ApiKeyProvider
from logship.settings import Settings

logger = logging.getLogger(__name__)

# Without a Lambda context (command line, other pipelines), allow this long.
DEFAULT_TIME_BUDGET_MS = 300_000


class LambdaContext(Protocol):
    """The part of the Lambda context logship reads."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before the invocation times out."""
        ...


@dataclasses.dataclass(frozen=True)
class InvocationSummary:
    """What one invocation did: records by result, events by route, Datadog and re-ingest counts, timings (ms).

    ``events_not_json`` and ``events_filtered`` count the events of the
    records handled now that were not sent to Datadog on purpose (``ONLY_JSON``;
    the include/exclude filters); ``dd_failure`` says what kept entries from
    Datadog, and ``reingest_failure`` what kept records out of the stream
    (each empty when nothing did).
    """

    invocation_id: str
    delivery_stream: str
    records: int
    ok: int
    dropped: int
    processing_failed: int
    control: int
    reingested_records: int
    events_to_s3: int
    events_reingested: int
    events_not_json: int
    events_filtered: int
    #: Broken characters (invalid UTF-8, lone surrogates) replaced by U+FFFD, in S3 and Datadog alike.
    replaced_characters: int
    dd_accepted: int
    dd_rejected: int
    dd_undelivered: int
    dd_dead_lettered: int
    dd_requests: int
    dd_retries: int
    dd_splits: int
    dd_failure: str
    reingest_calls: int
    reingest_failed: int
    reingest_failure: str
    response_bytes: int
    response_limit: int
    ms_transform: float
    ms_reingest: float
    ms_datadog_wait: float
    ms_total: float
    #: Entries Datadog did not accept in time that no dead letter holds (their records are ProcessingFailed).
    dd_unkept: int = 0
    #: Ok records answered ProcessingFailed because their entries were neither accepted nor kept.
    failed_unkept: int = 0
    #: Records put back in several pieces, only in part, before re-ingest failed (README, duplicate paths).
    reingest_partial: int = 0
    ms_dead_letter: float = 0.0

    def as_log(self) -> dict[str, Any]:
        """The summary as the invocation's log line carries it (Firehose's result names as keys)."""
        fields = dataclasses.asdict(self)
        fields["Ok"] = fields.pop("ok")
        fields["Dropped"] = fields.pop("dropped")
        fields["ProcessingFailed"] = fields.pop("processing_failed")
        return fields


@dataclasses.dataclass(frozen=True)
class Invocation:
    """One invocation's result: the response for Firehose and the summary of what happened."""

    response: dict[str, Any]
    summary: InvocationSummary


class Logship:
    """The Firehose transformation, with its collaborators; call :meth:`handle` per invocation."""

    def __init__(
        self,
        settings: Settings,
        *,
        sender: DatadogSender | None = None,
        reingester_factory: Callable[[FirehoseEvent], Reingester] | None = None,
        dead_letter: DeadLetter | None = None,
        client_factory: ClientFactory | None = None,
        metrics: Callable[[str], None] | None = None,
    ) -> None:
        """``metrics``, when given, takes each invocation's EMF line (the Lambda handler prints it to stdout)."""
        self.settings = settings
        self._metrics = metrics
        self._client = ClientCache(client_factory)
        self._sender = sender
        self._reingester_factory = reingester_factory or self._default_reingester
        self._dead_letter = dead_letter
        if dead_letter is None and settings.dead_letter_uri:
            self._dead_letter = DeadLetter(settings.dead_letter_uri, self._client)
        for notice in settings.notices:
            logger.warning(notice)

    def close(self) -> None:
        """Release threads and connections (a Lambda never needs to; tests and tools do)."""
        if self._sender is not None:
            self._sender.close()

    def __enter__(self) -> Logship:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- collaborators, made on first use ---------------------------------
    @property
    def sender(self) -> DatadogSender:
        """The Datadog sender (the key is fetched at its first request)."""
        if self._sender is None:
            keys = ApiKeyProvider(self.settings.api_key, self._client)
            self._sender = DatadogSender(self.settings.logs, keys)
        return self._sender

    def _require_key(self) -> None:
        """Fail now, before anything is sent or kept, when Datadog is on and its API key cannot be had.

        A missing or unreadable key source is configuration: neither a dead
        letter nor Firehose's retries can fix it, so it raises ConfigError
        naming what to set or fix. A passing failure to read it (throttled,
        unreachable) raises AuthError, and Firehose retries the invocation.
        """
        if not self.settings.datadog_enabled:
            return
        try:
            self.sender.keys.get()
        except ConfigError as err:
            if self.settings.api_key.configured:
                raise
            raise ConfigError(f"{err}, or LOGSHIP_DATADOG_ENABLED=false to send to S3 only") from err

    def _open_delivery(self, deadline: float) -> Delivery | _NoDelivery:
        """A delivery to Datadog until ``deadline``, or one that sends nothing in the S3-only mode."""
        if not self.settings.datadog_enabled:
            return _NoDelivery()
        return self.sender.open(deadline=deadline)

    def _default_reingester(self, event: FirehoseEvent) -> Reingester:
        if event.source_stream_name:
            return KinesisReingester(self._client("kinesis", event.region), event.source_stream_name)
        return FirehoseReingester(self._client("firehose", event.region), event.delivery_stream_name)

    # --- one invocation ----------------------------------------------------
    def handle(self, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        """Process one Firehose event and return the response (see :meth:`process`)."""
        return self.process(event, context).response

    def process(self, event: dict[str, Any], context: LambdaContext | None = None) -> Invocation:
        """Process one Firehose event: the response and a summary; see the README for the guarantees.

        Raises ConfigError before anything is sent when the Datadog API key
        cannot be had (see :meth:`_require_key`). The side effects then come in
        the order that keeps a retry of the batch from repeating any of them:
        Datadog and the dead letter first, re-ingest last. It raises (Firehose
        then retries the batch) only when Datadog accepted nothing, what it did
        not accept could not be kept, and nothing was put back yet. Past that
        point it never raises: an Ok record whose entries were neither accepted
        nor kept is answered ``ProcessingFailed`` (Firehose keeps it for
        ``logship redrive``).
        """
        settings = self.settings
        self._require_key()
        started = time.monotonic()
        remaining_ms = context.get_remaining_time_in_millis() if context else DEFAULT_TIME_BUDGET_MS
        margin_ms = min(settings.time_margin_ms, max(remaining_ms, 0))
        deadline = started + (max(remaining_ms, 0) - margin_ms) / 1000
        firehose_event = FirehoseEvent.from_dict(event)
        # 1. Every record's outcome; Ok records' entries leave for Datadog at once.
        delivery = self._open_delivery(deadline)
        outcomes: list[RecordOutcome] = []
        owners = _EntryOwners()
        for outcome, entries in transform(firehose_event, settings.transform):
            if entries:
                owners.add(len(entries), len(outcomes))
                delivery.add(entries)
            outcomes.append(outcome)
        transformed = time.monotonic()
        # 2. Wait for Datadog, and keep what it did not accept in the dead letter.
        report = delivery.finish()
        delivered = time.monotonic()
        kept = self._keep_undelivered(report, firehose_event.invocation_id)
        # 3. Entries neither accepted nor kept: fail the batch while its retry would repeat
        #    nothing, or else fail their records alone.
        unkept = sorted(p for p in owners.records(kept.unkept_at) if outcomes[p].result == "Ok")
        final = tuple(outcomes)
        if unkept:
            if not report.accepted:
                raise _retry_error(report, kept)
            final = fail_unkept(outcomes, set(unkept), f"Datadog did not accept its logs and {kept.problem}")
            logger.error(
                "records answered ProcessingFailed: Datadog did not accept their logs and %s",
                kept.problem,
                extra={"records": len(unkept), "recordIds": [outcomes[p].record_id for p in unkept[:20]]},
            )
        # 4. Re-ingest what did not fit: the last side effect, so nothing after it can fail the batch.
        reingested = time.monotonic()
        reingest_report = self._reingest(firehose_event, final, deadline + margin_ms * _REINGEST_SHARE / 1000)
        settlement = settle(final, reingest_report, settings.transform.entries)
        settled = time.monotonic()
        # 5. Logs of records whose pieces could not be put back: to Datadog now, if time is left
        #    (the error prefix holds those records too, for a redrive).
        if settlement.to_send:
            late = self._open_delivery(deadline)
            late.add(settlement.to_send)
            report.merge(late.finish())
        summary = _summary(
            firehose_event,
            settlement,
            report,
            kept,
            reingest_report,
            failed_unkept=len(unkept),
            response_limit=settings.transform.response_limit_bytes,
            times=(started, transformed, delivered, reingested, settled, time.monotonic()),
        )
        if summary.response_bytes > summary.response_limit:  # the budget is exact; this is a bug guard
            logger.error("response over its limit", extra=summary.as_log())
        logger.info("invocation", extra=summary.as_log())
        if self._metrics is not None:
            self._metrics(invocation_metrics(summary, timestamp_ms=int(time.time() * 1000)))
        return Invocation(settlement.response(), summary)

    def _keep_undelivered(self, delivery: DeliveryReport, invocation_id: str) -> _Kept:
        """Dead-letter what Datadog did not accept; say what could not be kept, and why."""
        rejected = [entry for entry, _reason in delivery.rejected]
        if not delivery.undelivered and not rejected:
            return _Kept()
        if self._dead_letter is not None:
            reason = delivery.failure()
            entries = delivery.undelivered + rejected
            try:
                uri = self._dead_letter.write(entries, reason=reason, invocation_id=invocation_id)
            except DeadLetterError as err:
                problem = f"the dead letter could not be written ({err})"
            else:
                logger.error("entries dead-lettered", extra={"uri": uri, "entries": len(entries), "reason": reason})
                return _Kept(dead_lettered=len(entries))
        else:
            problem = "no dead letter is configured (LOGSHIP_DEAD_LETTER_URI)"
        if rejected:
            logger.error(
                "Datadog rejected entries (HTTP 400/413) and %s; they are in S3 only",
                problem,
                extra={"rejected": len(rejected)},
            )
        return _Kept(
            unkept=delivery.undelivered,
            unkept_at=delivery.undelivered_at,
            problem=problem if delivery.undelivered else None,
        )

    def _reingest(
        self, event: FirehoseEvent, outcomes: tuple[RecordOutcome, ...], deadline: float
    ) -> ReingestReport | None:
        """Put back every piece waiting for re-ingest; None when there is none."""
        items = reingest_items(outcomes)
        if not items:
            return None
        try:
            reingester = self._reingester_factory(event)
        except Exception as err:  # noqa: BLE001 - no client (region, credentials, endpoint): nothing was put back
            problem = describe_error(err) or (
                str(err) if isinstance(err, LogshipError) else f"{type(err).__name__}: {err}"
            )
            stream = f"kinesis:{event.source_stream_name}" if event.source_stream_name else None
            target = stream or f"firehose:{event.delivery_stream_name}"
            return ReingestReport(failed=set(range(len(items))), errors=[problem], target=target, final=problem)
        policy = self.settings.reingest_retry
        report = reingest(items, reingester, policy=policy, deadline=deadline)
        stranded = stranded_pieces(outcomes, report.failed)
        if stranded:
            # Pieces of a split record whose other pieces are back: left behind, the error prefix would get
            # the record whole and its events would land twice. Keep trying while time allows.
            persistent = dataclasses.replace(policy, max_attempts=max(policy.max_attempts, _STRANDED_ATTEMPTS))
            again = reingest([items[i] for i in stranded], reingester, policy=persistent, deadline=deadline)
            report.absorb(stranded, again)
        return report


# Re-ingest retries may run into the first half of the time margin (Datadog stops at its
# start); the second half is for answering.
_REINGEST_SHARE = 0.5
# Attempts, within the same deadline, for pieces of a split record whose other pieces were put back.
_STRANDED_ATTEMPTS = 20


@dataclasses.dataclass(frozen=True)
class _Kept:
    """What became of the entries Datadog did not accept."""

    dead_lettered: int = 0
    #: Undelivered entries that no dead letter holds.
    unkept: list[bytes] = dataclasses.field(default_factory=list)
    #: Where each of them was in the order they were given to the delivery.
    unkept_at: list[int] = dataclasses.field(default_factory=list)
    #: Why they are not kept ("no dead letter is configured", "the dead letter could not be written (...)").
    problem: str | None = None


class _EntryOwners:
    """The record each entry sent to Datadog came from, by the entry's place in the order they were sent.

    The delivery reports where each undelivered entry was in that order
    (``DeliveryReport.undelivered_at``); each record's entries are added
    whole, so the running counts say whose it was. Two numbers per record,
    nothing per entry.
    """

    __slots__ = ("_ends", "_positions")

    def __init__(self) -> None:
        self._ends: list[int] = []  # after each record's entries, how many were added in all
        self._positions: list[int] = []

    def add(self, count: int, position: int) -> None:
        """Note that the next ``count`` entries come from the record at ``position``."""
        self._ends.append((self._ends[-1] if self._ends else 0) + count)
        self._positions.append(position)

    def records(self, places: Iterable[int]) -> set[int]:
        """Positions of the records whose entries were at ``places`` (0-based) in the order they were sent."""
        ends, positions = self._ends, self._positions
        return {positions[bisect.bisect_right(ends, place)] for place in places}


def _retry_error(report: DeliveryReport, kept: _Kept) -> DeliveryError:
    """The error that fails an invocation whose retry repeats nothing (see :meth:`Logship.process`)."""
    message = (
        f"{report.failure()}; {kept.problem}: Datadog accepted nothing and nothing was put back, "
        "so the invocation fails and Firehose retries the batch, doing nothing twice"
    )
    if report.auth_error:
        return AuthError(message)
    return DeliveryError(message)


class _NoDelivery:
    """The S3-only mode's delivery: entries are let go, nothing is sent, every report is empty."""

    def add(self, entries: Iterable[bytes]) -> None:
        """Send nothing."""

    def finish(self) -> DeliveryReport:
        """An empty report."""
        return DeliveryReport()


def _summary(
    event: FirehoseEvent,
    settlement: Settlement,
    report: DeliveryReport,
    kept: _Kept,
    reingest_report: ReingestReport | None,
    *,
    failed_unkept: int,
    response_limit: int,
    times: tuple[float, float, float, float, float, float],
) -> InvocationSummary:
    """Counts from the final outcomes and the reports; ``times`` are the phase boundaries (monotonic)."""
    results = {"Ok": 0, "Dropped": 0, "ProcessingFailed": 0}
    control = reingested = events_s3 = events_reingested = not_json = filtered = replaced = 0
    for outcome in settlement.outcomes:
        results[outcome.result] += 1
        control += outcome.control
        not_json += outcome.not_json
        filtered += outcome.filtered
        replaced += outcome.replaced_characters
        if outcome.result == "ProcessingFailed":
            continue
        put_back = sum(len(piece.batch.events) for piece in outcome.pieces)
        if outcome.result == "Ok":
            events_s3 += outcome.events - put_back
        if outcome.pieces:
            reingested += 1
            events_reingested += put_back
    started, transformed, delivered, kept_at, settled, ended = times
    return InvocationSummary(
        invocation_id=event.invocation_id,
        delivery_stream=event.delivery_stream_name,
        records=len(settlement.outcomes),
        ok=results["Ok"],
        dropped=results["Dropped"],
        processing_failed=results["ProcessingFailed"],
        control=control,
        reingested_records=reingested,
        events_to_s3=events_s3,
        events_reingested=events_reingested,
        events_not_json=not_json,
        events_filtered=filtered,
        replaced_characters=replaced,
        dd_accepted=report.accepted,
        dd_rejected=len(report.rejected),
        dd_undelivered=len(report.undelivered),
        dd_dead_lettered=kept.dead_lettered,
        dd_requests=report.requests,
        dd_retries=report.retries,
        dd_splits=report.splits,
        dd_failure=report.failure(),
        reingest_calls=reingest_report.calls if reingest_report else 0,
        reingest_failed=len(reingest_report.failed) if reingest_report else 0,
        reingest_failure=reingest_report.failure() if reingest_report else "",
        response_bytes=settlement.response_bytes,
        response_limit=response_limit,
        ms_transform=round((transformed - started) * 1000, 1),
        ms_reingest=round((settled - kept_at) * 1000, 1),
        ms_datadog_wait=round((delivered - transformed) * 1000, 1),
        ms_total=round((ended - started) * 1000, 1),
        dd_unkept=len(kept.unkept),
        failed_unkept=failed_unkept,
        reingest_partial=len(settlement.partly_put_back),
        ms_dead_letter=round((kept_at - delivered) * 1000, 1),
    )
