"""The logs intake sender: requests out on a few threads, each answer handled as classified.

Requests are built by :mod:`logship.datadog.requests`, sent by a
:class:`~logship.transport.Transport`, and each answer is handled as
:func:`~logship.datadog.answers.classify` says: accepted; retried with the
shared :class:`~logship.retry.RetryPolicy` (honouring ``Retry-After``) until
the deadline; split in halves until the rejected entry is alone (400, 413);
or, for a refused key (401, 403), the key refetched once, then everything
stopped with an error that names where the key comes from.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol
from urllib.parse import urlsplit

from logship import limits
from logship.datadog import requests
from logship.datadog.answers import Answer, classify, retry_after_seconds
from logship.datadog.sites import logs_intake_url
from logship.errors import AuthError, TransportError
from logship.packing import split_until
from logship.retry import RetryPolicy
from logship.transport import ThreadLocalTransport, Transport

logger = logging.getLogger(__name__)


class KeySource(Protocol):
    """Where the API key comes from (see :class:`logship.secrets.ApiKeyProvider`)."""

    source: str

    @property
    def refreshable(self) -> bool:
        """Whether a refetch may give another key."""
        ...

    def get(self) -> str:
        """The current key."""
        ...

    def refresh(self, stale: str) -> str:
        """A freshly fetched key."""
        ...


@dataclasses.dataclass(frozen=True)
class LogsIntakeOptions:
    """Where and how logs are sent: the intake URL, parallel requests, timeouts, batching, retries.

    ``timeout_seconds`` bounds one request; the retry policy's attempts and
    the caller's deadline bound them all.
    """

    url: str = logs_intake_url()
    concurrency: int = 8
    timeout_seconds: float = 10.0
    gzip_level: int = 1
    max_batch_bytes: int = limits.DATADOG_TARGET_REQUEST_BYTES
    max_batch_entries: int = limits.DATADOG_MAX_ENTRIES_PER_REQUEST
    retry: RetryPolicy = RetryPolicy()


@dataclasses.dataclass
class DeliveryReport:
    """The outcome of sending entries: every entry is accepted, rejected or undelivered."""

    accepted: int = 0
    rejected: list[tuple[bytes, str]] = dataclasses.field(default_factory=list)
    undelivered: list[bytes] = dataclasses.field(default_factory=list)
    #: Where each of ``undelivered`` was among the entries sent: its index in the batch
    #: (:meth:`DatadogSender.submit`), or in the order :meth:`Delivery.add` took them (a
    #: :class:`Delivery`'s report). :meth:`merge` appends them as they are.
    undelivered_at: list[int] = dataclasses.field(default_factory=list, compare=False, repr=False)
    requests: int = 0
    retries: int = 0
    splits: int = 0
    statuses: dict[int, int] = dataclasses.field(default_factory=dict)
    auth_error: str | None = None
    #: The last failure seen (``<host> answered HTTP 503``, ``<host>: connection refused``), for the
    #: dead letter's reason; from a request whose entries were left undelivered when there is one.
    last_error: str | None = None

    def merge(self, other: DeliveryReport) -> None:
        """Add ``other``'s counts and entries to this report."""
        self.accepted += other.accepted
        self.rejected.extend(other.rejected)
        self.undelivered.extend(other.undelivered)
        self.undelivered_at.extend(other.undelivered_at)
        self.requests += other.requests
        self.retries += other.retries
        self.splits += other.splits
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.auth_error = self.auth_error or other.auth_error
        if other.last_error and (other.undelivered or not self.undelivered):
            self.last_error = other.last_error

    @property
    def total(self) -> int:
        """Every entry this report accounts for."""
        return self.accepted + len(self.rejected) + len(self.undelivered)

    def failure(self) -> str:
        """What kept entries from Datadog, in words: the dead letter's reason and the error messages' cause.

        Names the refused key's source, the last error of what was not
        delivered (the host and what happened: refused, timed out, HTTP 5xx),
        and what Datadog rejected; empty when every entry was accepted.
        """
        parts = []
        if self.auth_error:
            parts.append(self.auth_error)
        elif self.undelivered:
            cause = self.last_error or "no answer before the deadline"
            parts.append(f"{len(self.undelivered)} entries not delivered (last error: {cause})")
        if self.rejected:
            statuses = ", ".join(sorted({reason for _entry, reason in self.rejected}))
            parts.append(f"{len(self.rejected)} entries rejected by Datadog ({statuses})")
        return "; ".join(parts)


class DatadogSender:
    """Sends serialized entries to the logs intake; never raises for Datadog's faults.

    It owns its worker threads (made at the first :meth:`open`) and its
    transport; :meth:`close` releases both.
    """

    def __init__(
        self,
        options: LogsIntakeOptions,
        keys: KeySource,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.keys = keys
        self.transport = transport or ThreadLocalTransport()
        self._host = urlsplit(options.url).netloc or options.url
        self.sleep = sleep
        self.clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        # Set once this run of sending said that the intake does not answer (one warning, not one a try).
        self._unreachable_said = threading.Event()

    def close(self) -> None:
        """Stop the worker threads and close their connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.transport.close()

    def __enter__(self) -> DatadogSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stopped(self) -> bool:
        """True once a key problem stopped this run of sending: nothing more will be sent."""
        return self._stop.is_set()

    def open(self, *, deadline: float = float("inf")) -> Delivery:
        """Start a delivery that runs until ``deadline`` (monotonic); add entries as they are built."""
        self._stop.clear()
        self._unreachable_said.clear()
        return Delivery(self, deadline)

    def send(self, entries: Iterable[bytes], *, deadline: float = float("inf")) -> DeliveryReport:
        """Send every entry, ``concurrency`` requests at a time, until ``deadline`` (monotonic).

        What has not been accepted by the deadline comes back as undelivered.
        """
        delivery = self.open(deadline=deadline)
        delivery.add(entries)
        return delivery.finish()

    def submit(self, batch: list[bytes], deadline: float, body: bytes | None = None) -> Future[DeliveryReport]:
        """Deliver one batch (``body``: its JSON array, when already joined) on a worker thread."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="logship-dd")
        return self._pool.submit(self._deliver, batch, deadline, body)

    def _deliver(self, batch: list[bytes], deadline: float, body: bytes | None) -> DeliveryReport:
        """Deliver one batch, halving it on 400 and 413; never raises."""
        report = DeliveryReport()

        def accept(part: Sequence[bytes]) -> bool:
            if self._stop.is_set():
                report.undelivered.extend(part)
                return True
            try:
                answer, status = self._post(part, deadline, report, body if part is batch else None)
            except Exception as err:  # noqa: BLE001 - a bug or key-fetch failure must not lose entries
                logger.error("Datadog delivery failed: %s: %s", type(err).__name__, err)
                if isinstance(err, AuthError):  # the key could not be read: name its source
                    report.auth_error = report.auth_error or str(err)
                report.last_error = f"{type(err).__name__}: {err}"
                self._stop.set()
                report.undelivered.extend(part)
                return True
            if answer is Answer.ACCEPTED:
                report.accepted += len(part)
            elif answer is Answer.SPLIT and len(part) > 1:
                report.splits += 1
                return False
            elif answer is Answer.SPLIT:
                report.rejected.append((part[0], f"HTTP {status}"))
            elif answer is Answer.KEY:
                report.auth_error = (
                    f"Datadog refused the API key (HTTP {status}); the key comes from {self.keys.source}"
                )
                self._stop.set()
                report.undelivered.extend(part)
            else:
                # Out of time or attempts, or a status no retry can fix (404: wrong URL).
                if answer is Answer.FINAL:
                    logger.error("Datadog answered HTTP %s; %d entries not delivered", status, len(part))
                report.undelivered.extend(part)
            return True

        split_until(batch, accept)
        if report.undelivered:
            report.undelivered_at = _places(report.undelivered, batch)
        return report

    def _post(
        self, part: Sequence[bytes], deadline: float, report: DeliveryReport, raw: bytes | None = None
    ) -> tuple[Answer, int | None]:
        """POST one batch with retries; the last answer and its status (None: no answer came)."""
        options = self.options
        body = requests.compress(requests.payload(list(part)) if raw is None else raw, options.gzip_level)
        attempts = options.retry.start(deadline, sleep=self.sleep, clock=self.clock)
        refreshed = False
        while True:
            remaining = attempts.remaining()
            if remaining <= 0 or self._stop.is_set():
                return Answer.RETRY, None
            key = self.keys.get()
            report.requests += 1
            retry_after: float | None = None
            status: int | None = None
            try:
                response = self.transport.post(
                    options.url, body, requests.headers(key), min(options.timeout_seconds, remaining)
                )
            except TransportError as err:
                report.last_error = str(err)
                # The first failure of a run is said at once, so a long wait is never silent; the
                # others only at DEBUG: the report's failure (the invocation line) says what came of them.
                if not self._unreachable_said.is_set():
                    self._unreachable_said.set()
                    logger.warning(
                        "Datadog did not answer (%s); retrying for up to %.0f s more", err, attempts.remaining()
                    )
                else:
                    logger.debug("Datadog transport error: %s", err)
            else:
                status = response.status
                report.statuses[status] = report.statuses.get(status, 0) + 1
                answer = classify(status)
                if answer is Answer.KEY and not refreshed and self.keys.refreshable:
                    refreshed = True
                    self.keys.refresh(key)
                    continue
                if answer is not Answer.RETRY:
                    if answer is not Answer.ACCEPTED:
                        report.last_error = f"{self._host} answered HTTP {status}"
                    return answer, status
                report.last_error = f"{self._host} answered HTTP {status}"
                retry_after = retry_after_seconds(response.headers)
            if not attempts.wait(retry_after):
                return Answer.RETRY, status
            report.retries += 1


def _places(some: list[bytes], batch: list[bytes]) -> list[int]:
    """Where each of ``some`` (the very objects, in order) is in ``batch``."""
    places: dict[int, collections.deque[int]] = collections.defaultdict(collections.deque)
    for place, entry in enumerate(batch):
        places[id(entry)].append(place)
    return [places[id(entry)].popleft() for entry in some]


class Delivery:
    """One run of sending: full batches leave for the worker threads while more entries are added.

    Adding never blocks on Datadog, so the caller (building the S3 response)
    never waits for it; :meth:`finish` waits for the requests and reports.
    """

    def __init__(self, sender: DatadogSender, deadline: float) -> None:
        self._sender = sender
        self._deadline = deadline
        self._batcher = requests.batcher(
            max_entries=sender.options.max_batch_entries, max_bytes=sender.options.max_batch_bytes
        )
        # Each batch's report, and where its first entry is in the order add() took them.
        self._futures: list[tuple[Future[DeliveryReport], int]] = []
        self._report = DeliveryReport()
        self._dispatched = 0

    def add(self, entries: Iterable[bytes]) -> None:
        """Queue entries; each batch they fill goes out at once."""
        for batch in self._batcher.add(entries):
            self._dispatch(batch)

    def _dispatch(self, batch: list[bytes]) -> None:
        start = self._dispatched
        self._dispatched += len(batch)
        if self._sender.stopped:
            self._report.undelivered.extend(batch)
            self._report.undelivered_at.extend(range(start, start + len(batch)))
            return
        # The body is joined here, while the entries are still in this core's cache,
        # rather than by a worker that would take the interpreter lock to do it.
        self._futures.append((self._sender.submit(batch, self._deadline, requests.payload(batch)), start))

    def finish(self) -> DeliveryReport:
        """Send what is left, wait for every request, and account for every entry."""
        last = self._batcher.flush()
        if last:
            self._dispatch(last)
        for future, start in self._futures:
            report = future.result()
            report.undelivered_at = [start + place for place in report.undelivered_at]
            self._report.merge(report)
        self._futures = []
        return self._report
