"""Wiring for the Lambda: settings, collaborators, and the order of the steps.

:class:`Logship` is built once per cold start and reused by warm invocations.
It creates nothing on the network until needed: the Datadog key is fetched at
the first request, AWS clients at the first re-ingest or dead letter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from logship.datadog.logs import DatadogSender, DeliveryReport
from logship.deadletter import DeadLetter
from logship.errors import AuthError, DeadLetterError, DeliveryError
from logship.firehose.event import FirehoseEvent
from logship.firehose.reingest import FirehoseReingester, KinesisReingester, Reingester
from logship.firehose.transform import apply_reingest, datadog_entries, entry_options, transform
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
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._sender = sender
        self._reingester_factory = reingester_factory or self._default_reingester
        self._dead_letter = dead_letter
        if dead_letter is None and settings.dead_letter_uri:
            self._dead_letter = DeadLetter(settings.dead_letter_uri, lambda s: self._client(s, None))
        self._entry_options = entry_options(settings)

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
            s = self.settings
            keys = ApiKeyProvider(s, lambda service: self._client(service, None))
            self._sender = DatadogSender(
                s.intake_url,
                keys,
                concurrency=s.dd_concurrency,
                timeout=s.dd_timeout_seconds,
                gzip_level=s.gzip_level,
            )
        return self._sender

    def _default_reingester(self, event: FirehoseEvent) -> Reingester:
        if event.source_stream_name:
            return KinesisReingester(self._client("kinesis", event.region), event.source_stream_name)
        return FirehoseReingester(self._client("firehose", event.region), event.delivery_stream_name)

    # --- one invocation ----------------------------------------------------
    def handle(self, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        """Process one Firehose event and return the response; see the README for the guarantees.

        Raises only when logs would otherwise be lost: Datadog did not take them
        in time and no dead letter is configured (or it could not be written).
        """
        started = time.monotonic()
        remaining_ms = context.get_remaining_time_in_millis() if context else DEFAULT_TIME_BUDGET_MS
        deadline = started + max(remaining_ms - self.settings.time_margin_ms, 0) / 1000
        firehose_event = FirehoseEvent.from_dict(event)
        delivery = self.sender.open(deadline=deadline)
        plan = transform(firehose_event, self.settings, deliver=delivery.add, options=self._entry_options)
        transformed = time.monotonic()
        reingest_report = None
        if plan.to_reingest():
            reingest_report = apply_reingest(
                plan,
                self._reingester_factory(firehose_event),
                max_attempts=self.settings.reingest_max_attempts,
                deadline=deadline,
            )
        response = plan.response()
        settled = time.monotonic()
        delivery.add(datadog_entries(plan, self._entry_options))
        report = delivery.finish()
        delivered = time.monotonic()
        dead_lettered = self._keep_undelivered(report, firehose_event.invocation_id)
        # The budget charged every record as serialized, so this is the response's size
        # (an upper bound only where a record's answer is shorter than its reservation).
        size = plan.response_estimate
        summary = {
            "invocation_id": firehose_event.invocation_id,
            **plan.counts(),
            "dd_accepted": report.accepted,
            "dd_rejected": len(report.rejected),
            "dd_undelivered": len(report.undelivered),
            "dd_dead_lettered": dead_lettered,
            "dd_requests": report.requests,
            "dd_retries": report.retries,
            "dd_splits": report.splits,
            "reingest_calls": reingest_report.calls if reingest_report else 0,
            "reingest_failed": len(reingest_report.failed) if reingest_report else 0,
            "response_bytes": size,
            "response_limit": self.settings.response_limit_bytes,
            "ms_transform": round((transformed - started) * 1000, 1),
            "ms_reingest": round((settled - transformed) * 1000, 1),
            "ms_datadog_wait": round((delivered - settled) * 1000, 1),
            "ms_total": round((time.monotonic() - started) * 1000, 1),
        }
        if size > self.settings.response_limit_bytes:  # the budget is exact; this is a bug guard
            logger.error("response over its limit", extra=summary)
        logger.info("invocation", extra=summary)
        self.last_summary: dict[str, Any] = summary
        return response

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
                    f"{len(delivery.undelivered)} entries not delivered to Datadog and no dead letter "
                    "configured; failing so Firehose retries the batch"
                )
                if delivery.auth_error:
                    raise AuthError(f"{delivery.auth_error}. {message}")
                raise DeliveryError(message)
            return 0
        reason = delivery.auth_error or ("rejected by Datadog" if not delivery.undelivered else "not accepted in time")
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
