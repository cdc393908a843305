"""The ops events Lambda's orchestrator: interpret, skip, dedup, route, send, and keep what a sink did not take.

:class:`OpsEventsApp` is built once per cold start and reused by warm
invocations; it creates nothing on the network until needed (the Datadog key
and the Slack webhook URL are fetched at the first message, the S3 client at
the first dead letter). One invocation is, for every event in the payload
(one EventBridge event, or each record of an SNS notification):

1. :func:`~logship.opsevents.interpret` it; an input it cannot use is a
   :class:`~logship.opsevents.Skipped`, counted, and logged once per kind per
   warm container, never an exception (EventBridge would retry bad input);
2. route it: Datadog gets every event, Slack those whose severity
   :class:`~logship.opsevents.RoutingOptions` sends there (and only with a webhook);
3. leave out each sink that already has it (:class:`~logship.opsevents.RecentKeys`,
   keyed per sink, so a redelivery or Lambda's retry after one sink failed
   sends only what is missing);
4. send to both sinks at once, each retried within the invocation's time;
5. write what a sink did not take, with the sink's name, to the dead letter
   (:mod:`logship.opsevents.deadletter`). Without one, or when it cannot be
   written, the invocation raises :class:`~logship.errors.DeliveryError` after
   every event was tried, so Lambda's retries and the on-failure destination
   keep the event.

:meth:`OpsEventsApp.deliver` runs steps 2 to 5 for ops events logship makes
itself (cron watch's overlaps and its Slack digest), with the same dedup keys.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from logship.aws import ClientCache, ClientFactory
from logship.delivery import SendResult
from logship.errors import ConfigError, DeadLetterError, DeliveryError
from logship.firehose.app import LambdaContext
from logship.opsevents.datadog_payload import datadog_event
from logship.opsevents.deadletter import Letter, OpsDeadLetter
from logship.opsevents.dedup import RecentKeys
from logship.opsevents.interpret import interpret
from logship.opsevents.model import OpsEvent, Skipped
from logship.opsevents.sinks import DATADOG, SINK_NAMES, SLACK, Sink, build_sinks
from logship.opsevents.slack_payload import slack_message
from logship.settings import Settings

logger = logging.getLogger(__name__)

# Without a Lambda context (command line, tests), allow this long.
DEFAULT_TIME_BUDGET_MS = 60_000
# Kinds of skipped input logged per warm container; past it the oldest kind is forgotten (and logged again).
_LOGGED_SKIP_KINDS = 1_000


@dataclasses.dataclass(frozen=True)
class EventsSummary:
    """What one invocation did: events read, skipped (by reason), sent and kept per sink, timings (ms).

    ``lost`` counts messages neither delivered nor dead-lettered; when it is
    not zero the invocation raised.
    """

    invocation_id: str
    events: int
    skipped: Mapping[str, int]
    duplicates: int
    datadog_sent: int
    datadog_failed: int
    datadog_requests: int
    slack_sent: int
    slack_failed: int
    slack_requests: int
    slack_not_routed: int
    dead_lettered: int
    lost: int
    ms_total: float

    def as_log(self) -> dict[str, Any]:
        """The summary as the invocation's log line (and the handler's return value) carries it."""
        fields = dataclasses.asdict(self)
        fields["skipped"] = dict(self.skipped)
        return fields


@dataclasses.dataclass(frozen=True)
class _Failure:
    """One message a sink did not take."""

    event: OpsEvent
    sink: str
    body: Mapping[str, Any]
    result: SendResult


class OpsEventsApp:
    """The ops events Lambda, with its collaborators; call :meth:`handle` per invocation.

    ``sinks`` (by name, :data:`~logship.opsevents.sinks.DATADOG` and
    :data:`~logship.opsevents.sinks.SLACK`) default to those the settings
    configure; ``dead_letter`` to ``LOGSHIP_DEAD_LETTER_URI``'s; ``client_factory``
    makes the boto3 clients (SSM, Secrets Manager, S3).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sinks: Mapping[str, Sink] | None = None,
        dead_letter: OpsDeadLetter | None = None,
        client_factory: ClientFactory | None = None,
        recent: RecentKeys | None = None,
    ) -> None:
        self.settings = settings
        self._client = ClientCache(client_factory)
        self._sinks: dict[str, Sink] | None = dict(sinks) if sinks is not None else None
        self._dead_letter = dead_letter
        if dead_letter is None and settings.dead_letter_uri:
            self._dead_letter = OpsDeadLetter(settings.dead_letter_uri, self._client)
        #: Per-sink dedup keys of what this warm container delivered or dead-lettered.
        self.recent = recent if recent is not None else RecentKeys()
        self._logged_skips = RecentKeys(_LOGGED_SKIP_KINDS)
        self._pool: ThreadPoolExecutor | None = None
        for notice in settings.notices:
            logger.warning(notice)

    def close(self) -> None:
        """Release threads and connections (a Lambda never needs to; tests and tools do)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for sink in (self._sinks or {}).values():
            sink.close()

    def __enter__(self) -> OpsEventsApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- collaborators, made on first use ---------------------------------
    @property
    def sinks(self) -> Mapping[str, Sink]:
        """The sinks by name (built from the settings at first use; nothing is fetched yet)."""
        if self._sinks is None:
            self._sinks = build_sinks(self.settings, self._client)
        return self._sinks

    # --- one invocation ----------------------------------------------------
    def handle(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        """Handle one Lambda payload and return the summary (see :meth:`process`)."""
        return self.process(event, context).as_log()

    def process(self, event: Any, context: LambdaContext | None = None) -> EventsSummary:
        """Send every event in ``event`` to its sinks; the summary of what happened.

        Never raises for any input. Before anything is sent, raises
        :class:`~logship.errors.ConfigError` when a sink's secret (the Datadog
        key, the webhook URL) is not configured or cannot be read for a reason
        of configuration, or when no sink is configured at all, and
        :class:`~logship.errors.AuthError` for a passing failure to read one:
        neither a dead letter nor a later message can fix those, and Lambda's
        retries keep the event. After every event was tried, raises
        :class:`~logship.errors.DeliveryError` when a sink did not take a
        message and it could not be dead-lettered.
        """
        return self._run(lambda: interpret(event, self.settings.events.routing, self.settings.tags), context, None)

    def deliver(
        self,
        events: Iterable[OpsEvent],
        context: LambdaContext | None = None,
        *,
        only: Collection[str] | None = None,
    ) -> EventsSummary:
        """Send ops events logship made itself (cron watch's overlaps, its summary) as :meth:`process` sends events.

        The same dedup (an event whose ``dedup_key`` a sink already has is not sent to it again),
        routing, dead letter and errors. ``only`` names the sinks to use whatever the routing says
        (``{"slack"}`` for a digest meant for Slack alone); a sink named there but not configured is
        left out.
        """
        return self._run(lambda: events, context, only)

    def _run(
        self,
        items: Callable[[], Iterable[OpsEvent | Skipped]],
        context: LambdaContext | None,
        only: Collection[str] | None,
    ) -> EventsSummary:
        started = time.monotonic()
        self._prepare()
        remaining_ms = context.get_remaining_time_in_millis() if context is not None else DEFAULT_TIME_BUDGET_MS
        deadline = started + max(remaining_ms - self.settings.time_margin_ms, 0) / 1000
        invocation_id = str(getattr(context, "aws_request_id", "") or "")
        counts: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        failures: list[_Failure] = []
        for item in items():
            if isinstance(item, Skipped):
                skipped[item.reason.value] += 1
                self._log_skip(item)
                continue
            counts["events"] += 1
            failures.extend(self._deliver(item, deadline, counts, only))
        lost = self._keep(failures, invocation_id, counts)
        summary = EventsSummary(
            invocation_id=invocation_id,
            events=counts["events"],
            skipped=dict(skipped),
            duplicates=counts["duplicates"],
            datadog_sent=counts[f"{DATADOG}_sent"],
            datadog_failed=counts[f"{DATADOG}_failed"],
            datadog_requests=counts[f"{DATADOG}_requests"],
            slack_sent=counts[f"{SLACK}_sent"],
            slack_failed=counts[f"{SLACK}_failed"],
            slack_requests=counts[f"{SLACK}_requests"],
            slack_not_routed=counts["slack_not_routed"],
            dead_lettered=counts["dead_lettered"],
            lost=len(lost),
            ms_total=round((time.monotonic() - started) * 1000, 1),
        )
        logger.info("ops events invocation", extra=summary.as_log())
        if lost:
            where = "the dead letter could not be written" if self._dead_letter else "no dead letter is configured"
            sinks = ", ".join(sorted({failure.sink for failure in lost}))
            raise DeliveryError(
                f"{len(lost)} message(s) not taken by {sinks} and {where}; failing so Lambda retries the event "
                "(what was delivered is not sent again by this container) and, after its retries, keeps it "
                "in the on-failure destination"
            )
        return summary

    def _prepare(self) -> None:
        """Fail now, before anything is sent, when a sink cannot work (see :meth:`process`)."""
        if not self.sinks:
            raise ConfigError(
                "ops events have nowhere to go: LOGSHIP_DATADOG_ENABLED is false and no Slack webhook is set "
                "(SLACK_WEBHOOK_URL, SLACK_WEBHOOK_URL_SSM_NAME or SLACK_WEBHOOK_URL_SECRET_ARN)"
            )
        for sink in self.sinks.values():
            sink.prepare()

    def _log_skip(self, item: Skipped) -> None:
        """Log the first skip of each kind (reason, source, detail-type) in this warm container."""
        kind = f"{item.reason.value}|{item.source[:200]}|{item.detail_type[:200]}"
        if self._logged_skips.seen(kind):
            return
        self._logged_skips.remember(kind)
        logger.info(
            "ops event skipped (logged once per kind)",
            extra={
                "reason": item.reason.value,
                "detail": item.detail,
                "source": item.source[:200],
                "detail_type": item.detail_type[:200],
                "event_id": item.event_id[:200],
            },
        )

    def _bodies(
        self, event: OpsEvent, counts: Counter[str], only: Collection[str] | None = None
    ) -> dict[str, Mapping[str, Any]]:
        """The body each sink should get for ``event``, by sink name (``only``: these sinks, whatever the routing)."""
        if only is not None:
            builders = {DATADOG: datadog_event, SLACK: slack_message}
            return {name: builders[name](event) for name in SINK_NAMES if name in only and name in self.sinks}
        bodies: dict[str, Mapping[str, Any]] = {DATADOG: datadog_event(event)} if DATADOG in self.sinks else {}
        if SLACK in self.sinks and self.settings.events.routing.goes_to_slack(event):
            bodies[SLACK] = slack_message(event)
        else:
            counts["slack_not_routed"] += 1
        return bodies

    def _deliver(
        self, event: OpsEvent, deadline: float, counts: Counter[str], only: Collection[str] | None = None
    ) -> list[_Failure]:
        """Send ``event`` to each sink that does not have it yet; the failures."""
        targets = self._bodies(event, counts, only)
        bodies = {
            name: body
            for name, body in targets.items()
            if not (event.dedup_key and self.recent.seen(_key(name, event)))
        }
        if not targets:
            return []
        if not bodies:
            counts["duplicates"] += 1
            return []
        results = self._send_all(bodies, deadline)
        failures = []
        for name, body in bodies.items():
            result = results[name]
            counts[f"{name}_requests"] += result.attempts
            if result.delivered:
                counts[f"{name}_sent"] += 1
                self.recent.remember(_key(name, event))
                continue
            counts[f"{name}_failed"] += 1
            logger.error(
                "ops event not delivered",
                extra={
                    "sink": name,
                    "error": result.error,
                    "status": result.status,
                    "attempts": result.attempts,
                    "event_id": event.event_id,
                    "dedup_key": event.dedup_key,
                    "title": event.title,
                },
            )
            failures.append(_Failure(event, name, body, result))
        return failures

    def _send_all(self, bodies: Mapping[str, Mapping[str, Any]], deadline: float) -> dict[str, SendResult]:
        """Send each body to its sink, all at once: one sink's outage never delays the other."""
        names = list(bodies)
        futures: dict[str, Future[SendResult]] = {}
        if len(names) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(len(self.sinks), thread_name_prefix="logship-ops")
            futures = {name: self._pool.submit(self._send, name, bodies[name], deadline) for name in names[1:]}
        results = {names[0]: self._send(names[0], bodies[names[0]], deadline)}
        results.update({name: future.result() for name, future in futures.items()})
        return results

    def _send(self, name: str, body: Mapping[str, Any], deadline: float) -> SendResult:
        try:
            return self.sinks[name].send(body, deadline)
        except Exception as err:  # the per-sink boundary: a bug must not lose the other sink's copy
            logger.exception("ops event sink failed", extra={"sink": name})
            return SendResult(False, 0, None, f"{type(err).__name__}: {err}")

    def _keep(self, failures: list[_Failure], invocation_id: str, counts: Counter[str]) -> list[_Failure]:
        """Dead-letter each failure; the ones that could not be kept."""
        if self._dead_letter is None:
            return failures
        lost = []
        for failure in failures:
            event = failure.event
            letter = Letter(
                sink=failure.sink,
                body=failure.body,
                reason=failure.result.error,
                dedup_key=event.dedup_key,
                event_id=event.event_id,
                title=event.title,
            )
            try:
                uri = self._dead_letter.write(letter, invocation_id=invocation_id)
            except DeadLetterError as err:
                logger.error("ops event dead letter not written", extra={"sink": failure.sink, "error": str(err)})
                lost.append(failure)
                continue
            counts["dead_lettered"] += 1
            self.recent.remember(_key(failure.sink, event))
            extra = {"sink": failure.sink, "uri": uri, "event_id": event.event_id}
            logger.error("ops event dead-lettered", extra=extra)
        return lost


def _key(sink: str, event: OpsEvent) -> str:
    """The dedup key of ``event`` for one sink (an event without a dedup key is never taken for another)."""
    return f"{sink}|{event.dedup_key}"
