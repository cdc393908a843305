"""The Firehose Lambda's orchestrator: the steps in order, and the I/O between them.

:class:`Logship` is built once per cold start and reused by warm invocations.
It creates nothing on the network until needed: the Datadog key is fetched at
the first invocation (a key that cannot be had fails it before anything is
sent), AWS clients at the first re-ingest or dead letter. One invocation is:
transform every record (sending each record's entries to Datadog as soon as
they are built), re-ingest what did not fit, settle, send what settling left,
then keep what Datadog did not accept in the dead letter; its summary is
logged and, when a metrics sink is given, written as CloudWatch metrics (EMF).
With ``LOGSHIP_DATADOG_ENABLED=false`` nothing is sent to Datadog (S3 only).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from logship.datadog.logs import DatadogSender, Delivery, DeliveryReport
from logship.deadletter import DeadLetter
from logship.errors import AuthError, ConfigError, DeadLetterError, DeliveryError
from logship.firehose.event import FirehoseEvent
from logship.firehose.metrics import invocation_metrics
from logship.firehose.reingest import FirehoseReingester, KinesisReingester, Reingester, ReingestReport, reingest
from logship.firehose.transform import RecordOutcome, reingest_items, settle, transform
from logship.secrets import ApiKeyProvider, boto3_client_factory
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
    Datadog (empty when nothing did).
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
    response_bytes: int
    response_limit: int
    ms_transform: float
    ms_reingest: float
    ms_datadog_wait: float
    ms_total: float

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
        client_factory: Callable[[str], Any] | None = None,
        metrics: Callable[[str], None] | None = None,
    ) -> None:
        """``metrics``, when given, takes each invocation's EMF line (the Lambda handler prints it to stdout)."""
        self.settings = settings
        self._metrics = metrics
        self._client_factory = client_factory
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._sender = sender
        self._reingester_factory = reingester_factory or self._default_reingester
        self._dead_letter = dead_letter
        if dead_letter is None and settings.dead_letter_uri:
            self._dead_letter = DeadLetter(settings.dead_letter_uri, lambda s: self._client(s, None))
        for notice in settings.notices:
            logger.info(notice)

    def close(self) -> None:
        """Release threads and connections (a Lambda never needs to; tests and tools do)."""
        if self._sender is not None:
            self._sender.close()

    def __enter__(self) -> Logship:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- collaborators, made on first use ---------------------------------
    def _client(self, service: str, region: str | None) -> Any:
        key = (service, region)
        if key not in self._clients:
            factory = self._client_factory or boto3_client_factory(region)
            self._clients[key] = factory(service)
        return self._clients[key]

    @property
    def sender(self) -> DatadogSender:
        """The Datadog sender (the key is fetched at its first request)."""
        if self._sender is None:
            keys = ApiKeyProvider(self.settings.api_key, lambda service: self._client(service, None))
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
        cannot be had (see :meth:`_require_key`); otherwise only when logs
        would be lost: Datadog did not take them in time and no dead letter is
        configured (or it could not be written).
        """
        settings = self.settings
        self._require_key()
        started = time.monotonic()
        remaining_ms = context.get_remaining_time_in_millis() if context else DEFAULT_TIME_BUDGET_MS
        deadline = started + max(remaining_ms - settings.time_margin_ms, 0) / 1000
        firehose_event = FirehoseEvent.from_dict(event)
        delivery = self._open_delivery(deadline)
        outcomes: list[RecordOutcome] = []
        for outcome, entries in transform(firehose_event, settings.transform):
            outcomes.append(outcome)
            if entries:
                delivery.add(entries)
        transformed = time.monotonic()
        items = reingest_items(outcomes)
        reingest_report = None
        if items:
            reingester = self._reingester_factory(firehose_event)
            reingest_report = reingest(items, reingester, policy=settings.reingest_retry, deadline=deadline)
        settlement = settle(outcomes, reingest_report, settings.transform.entries)
        settled = time.monotonic()
        if settlement.to_send:
            delivery.add(settlement.to_send)
        report = delivery.finish()
        delivered = time.monotonic()
        dead_lettered = self._keep_undelivered(report, firehose_event.invocation_id)
        summary = _summary(
            firehose_event,
            settlement.outcomes,
            report,
            dead_lettered,
            reingest_report,
            response_bytes=settlement.response_bytes,
            response_limit=settings.transform.response_limit_bytes,
            times=(started, transformed, settled, delivered, time.monotonic()),
        )
        if summary.response_bytes > summary.response_limit:  # the budget is exact; this is a bug guard
            logger.error("response over its limit", extra=summary.as_log())
        logger.info("invocation", extra=summary.as_log())
        if self._metrics is not None:
            self._metrics(invocation_metrics(summary, timestamp_ms=int(time.time() * 1000)))
        return Invocation(settlement.response(), summary)

    def _keep_undelivered(self, delivery: DeliveryReport, invocation_id: str) -> int:
        """Dead-letter what Datadog did not accept; raise if it would otherwise be lost."""
        rejected = [entry for entry, _reason in delivery.rejected]
        if not delivery.undelivered and not rejected:
            return 0
        if self._dead_letter is None:
            if rejected:
                logger.error(
                    "Datadog rejected entries (HTTP 400/413) and no dead letter is configured; they are in S3 only",
                    extra={"rejected": len(rejected)},
                )
            if delivery.undelivered:
                message = (
                    f"{delivery.failure()}; no dead letter is configured (LOGSHIP_DEAD_LETTER_URI), "
                    "so the invocation fails and Firehose retries the batch"
                )
                if delivery.auth_error:
                    raise AuthError(message)
                raise DeliveryError(message)
            return 0
        reason = delivery.failure()
        entries = delivery.undelivered + rejected
        try:
            uri = self._dead_letter.write(entries, reason=reason, invocation_id=invocation_id)
        except DeadLetterError as err:
            raise DeliveryError(f"{err}; failing so Firehose retries the batch") from err
        logger.error(
            "entries dead-lettered",
            extra={"uri": uri, "entries": len(entries), "reason": reason},
        )
        return len(entries)


class _NoDelivery:
    """The S3-only mode's delivery: entries are let go, nothing is sent, every report is empty."""

    def add(self, entries: Iterable[bytes]) -> None:
        """Send nothing."""

    def finish(self) -> DeliveryReport:
        """An empty report."""
        return DeliveryReport()


def _summary(
    event: FirehoseEvent,
    outcomes: tuple[RecordOutcome, ...],
    report: DeliveryReport,
    dead_lettered: int,
    reingest_report: ReingestReport | None,
    *,
    response_bytes: int,
    response_limit: int,
    times: tuple[float, float, float, float, float],
) -> InvocationSummary:
    """Counts from the final outcomes and the reports; ``times`` are the phase boundaries (monotonic)."""
    results = {"Ok": 0, "Dropped": 0, "ProcessingFailed": 0}
    control = reingested = events_s3 = events_reingested = not_json = filtered = 0
    for outcome in outcomes:
        results[outcome.result] += 1
        control += outcome.control
        not_json += outcome.not_json
        filtered += outcome.filtered
        if outcome.result == "Ok":
            events_s3 += outcome.events
        elif outcome.pieces and outcome.result == "Dropped":
            reingested += 1
            events_reingested += sum(len(piece.batch.events) for piece in outcome.pieces)
    started, transformed, settled, delivered, ended = times
    return InvocationSummary(
        invocation_id=event.invocation_id,
        delivery_stream=event.delivery_stream_name,
        records=len(outcomes),
        ok=results["Ok"],
        dropped=results["Dropped"],
        processing_failed=results["ProcessingFailed"],
        control=control,
        reingested_records=reingested,
        events_to_s3=events_s3,
        events_reingested=events_reingested,
        events_not_json=not_json,
        events_filtered=filtered,
        dd_accepted=report.accepted,
        dd_rejected=len(report.rejected),
        dd_undelivered=len(report.undelivered),
        dd_dead_lettered=dead_lettered,
        dd_requests=report.requests,
        dd_retries=report.retries,
        dd_splits=report.splits,
        dd_failure=report.failure(),
        reingest_calls=reingest_report.calls if reingest_report else 0,
        reingest_failed=len(reingest_report.failed) if reingest_report else 0,
        response_bytes=response_bytes,
        response_limit=response_limit,
        ms_transform=round((transformed - started) * 1000, 1),
        ms_reingest=round((settled - transformed) * 1000, 1),
        ms_datadog_wait=round((delivered - settled) * 1000, 1),
        ms_total=round((ended - started) * 1000, 1),
    )
