"""Fault soak: many invocations through the handler under random faults at every boundary, every event accounted for.

Each seed generates source batches of CloudWatch Logs records (data, control
and corrupt ones, some too big for any response) and hands them to
:class:`~logship.testing.firehose.FirehoseStandIn`, which invokes the real
:class:`~logship.firehose.app.Logship` the way Firehose does: a failed
invocation is retried ``NumberOfRetries`` (3) times, then the batch goes to
the error prefix; ``ProcessingFailed`` records go there too. Before each
attempt, faults are drawn for every boundary: the Datadog intake emulator
(5xx, 429, 400, 413, slow, down past the budget, accepting but answering
after the client's timeout, accepting some then down), Firehose's
PutRecordBatch over moto (whole calls or single records failing, or down),
the dead letter (503 SlowDown, a missing bucket, none configured) and the
time budget. Re-ingested records come back from moto as new batches until
none returns. At the end the faults stop, ``redrive`` empties the error
prefix of all that can succeed, and ``replay`` sends the dead letter.

Then every generated event must be in S3 (the destination) exactly once, in
Datadog at least once (unless Datadog rejected it outright, 400, with no dead
letter to keep it: then S3 only, counted), every response must have answered
each recordId once, no failed attempt may have put anything back, and only
records that can never succeed may be left in the error prefix. The counts
are printed (``-s``) and shown in the terminal summary.

Seeds and size: ``LOGSHIP_SOAK_SEEDS`` (default ``1,2,3``) and
``LOGSHIP_SOAK_BATCHES`` (source batches per seed, default 80). Run alone
with ``pytest -m soak -s``.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import os
import random
import re
import time
import zlib
from typing import Any

import orjson
import pytest
from conftest import SOAK_REPORT

from logship import _gzip
from logship.datadog.logs import DatadogSender
from logship.deadletter import replay
from logship.firehose.app import Logship
from logship.firehose.budget import response_size
from logship.firehose.reingest import FirehoseReingester
from logship.redrive import read_documents, redrive
from logship.retry import RetryPolicy
from logship.settings import Settings
from logship.testing.emulator import IntakeEmulator
from logship.testing.firehose import FirehoseStandIn, FlakyFirehose, FlakyS3, TimeBudget, records_of
from logship.testing.synth import firehose_record, subscription_payload

SEEDS = [int(seed) for seed in os.environ.get("LOGSHIP_SOAK_SEEDS", "1,2,3").split(",")]
BATCHES = int(os.environ.get("LOGSHIP_SOAK_BATCHES", "80"))
RESPONSE_LIMIT = 6_000
MARGIN_MS = 400
DD_TIMEOUT = 0.25
POISONS = ("~p1~", "~p2~", "~p3~")
EVENT_ID = re.compile(rb"soak-\d+-\d{6}")
FAST = RetryPolicy(max_attempts=3, base_seconds=0.0, cap_seconds=0.0)
WORDS = ["alpha", "beta", "gamma", "delta", "order", "payment", "retry", "cache", "queue", "worker", "shard", "timeout"]

DATADOG_FAULTS = ("ok", "ok", "5xx", "429", "400", "413", "slow", "down", "late", "flap")
FIREHOSE_FAULTS = ("ok", "ok", "ok", "calls", "records", "down", "records then down")
# Batches whose every attempt meets Datadog down and no dead letter: Firehose gives up on them.
DOOMED_SHARE = 0.06
DEAD_LETTERS = ("dead letter", "dead letter", "dead letter SlowDown", "dead letter missing", "none")
BUDGETS_MS = (20_000, 20_000, 1_500, 900, 300)


class _Key:
    source = "soak"
    refreshable = False

    def get(self) -> str:
        return "k"

    def refresh(self, stale: str) -> str:
        return "k"


@dataclasses.dataclass
class Source:
    """What a seed generated: batches of Firehose records, every event id, corrupt payloads."""

    batches: list[list[dict[str, Any]]]
    events: set[bytes]
    corrupt: list[bytes]


def generate(rng: random.Random, seed: int, count: int) -> Source:
    """``count`` batches of 2-7 records: mostly data (some of 150-350 events, too big for one response), a few control and corrupt."""
    source = Source([], set(), [])
    serial = 0
    now = int(time.time() * 1000)
    for b in range(count):
        batch = []
        for r in range(rng.randint(2, 7)):
            rid = f"s{seed}-{b}-{r}"
            kind = rng.random()
            if kind < 0.04:
                payload = subscription_payload("", "", [], message_type="CONTROL_MESSAGE")
            elif kind < 0.08:
                payload = rng.choice([b"not gzip", _gzip.compress(b"{broken"), _gzip.compress(b"[1, 2]")])
                payload += str(serial).encode()  # tell them apart
                serial += 1
                source.corrupt.append(payload)
            else:
                size = rng.randint(150, 350) if rng.random() < 0.15 else rng.randint(5, 60)
                events = []
                for _n in range(size):
                    serial += 1
                    ident = f"soak-{seed}-{serial:06d}"
                    words = " ".join(rng.choices(WORDS, k=rng.randint(3, 14)))
                    poison = rng.choice(POISONS) if rng.random() < 0.04 else ""
                    text = f"{ident} {words}{poison}"
                    if rng.random() < 0.2:
                        text = orjson.dumps(
                            {"level": rng.choice(["info", "error"]), "message": text, "n": serial}
                        ).decode()
                    events.append({"id": str(serial), "timestamp": now - rng.randint(0, 3_600_000), "message": text})
                    source.events.add(ident.encode())
                task = f"{rng.getrandbits(64):016x}"
                payload = subscription_payload("/shop/checkout", f"/shop/checkout/app/{task}", events)
            batch.append(firehose_record(rid, payload))
        source.batches.append(batch)
    return source


@dataclasses.dataclass
class Tally:
    """Counts for the report."""

    invocations: int = 0
    raised: int = 0
    exhausted: int = 0
    answered_failed: int = 0
    failed_unkept: int = 0
    reingested: int = 0
    reingest_partial: int = 0
    dead_lettered: int = 0
    faults: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


class Soak:
    """One seed's world: the intake, moto's Firehose and S3 behind flaky wrappers, three deployments of logship."""

    def __init__(self, seed: int, intake: IntakeEmulator, local_aws: Any, bucket: str) -> None:
        self.rng = random.Random(seed)
        self.intake = intake
        self.local_aws = local_aws
        self.bucket = bucket
        self.firehose_client = FlakyFirehose(local_aws.client("firehose"), random.Random(seed + 1))
        self.s3 = FlakyS3(local_aws.client("s3"))
        self.apps = {
            "dead letter": self._app(f"s3://{bucket}/dead-letter"),
            "dead letter missing": self._app(f"s3://{bucket}-missing/dead-letter"),
            "none": self._app(None),
        }
        self.current = "dead letter"
        self.doomed = False
        self.poison: str | None = None
        self.summaries: list[Any] = []
        self.tally = Tally()
        self.firehose = FirehoseStandIn(self._handle, local_aws.client("s3"), bucket, stream=bucket)
        self._puts_at_start = 0

    def _app(self, dead_letter: str | None) -> Logship:
        env = {
            "DD_URL": self.intake.url,
            "DD_API_KEY": "k",
            "ONLY_JSON": "false",
            "LOGSHIP_RESPONSE_LIMIT_BYTES": str(RESPONSE_LIMIT),
            "LOGSHIP_TIME_MARGIN_MS": str(MARGIN_MS),
        }
        if dead_letter:
            env["LOGSHIP_DEAD_LETTER_URI"] = dead_letter
        settings = Settings.from_env(env)
        settings = dataclasses.replace(
            settings,
            logs=dataclasses.replace(
                settings.logs,
                concurrency=2,
                max_batch_entries=100,
                timeout_seconds=DD_TIMEOUT,
                retry=RetryPolicy(max_attempts=4, base_seconds=0.02, cap_seconds=0.2),
            ),
            reingest_retry=RetryPolicy(max_attempts=3, base_seconds=0.01, cap_seconds=0.05),
        )
        return Logship(settings, client_factory=self._client)

    def _client(self, service: str, region: str | None = None) -> Any:
        if service == "firehose":
            return self.firehose_client
        if service == "s3":
            return self.s3
        return self.local_aws.client(service, region)

    def close(self) -> None:
        for app in self.apps.values():
            app.close()

    # --- what Firehose invokes ---------------------------------------------
    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.tally.invocations += 1
        try:
            invocation = self.apps[self.current].process(event, context)
        except Exception:
            self.tally.raised += 1
            raise
        assert response_size(invocation.response) <= RESPONSE_LIMIT
        self.summaries.append(invocation.summary)
        return invocation.response

    def before_attempt(self, attempt: int) -> TimeBudget:
        """Check the attempt before put nothing back if it failed; draw this attempt's faults."""
        if attempt > 1:
            assert len(self.firehose_client.put) == self._puts_at_start, "a failed invocation put records back"
        self._puts_at_start = len(self.firehose_client.put)
        self.heal()
        rng, intake, tally = self.rng, self.intake, self.tally
        if attempt == 1:
            self.doomed = rng.random() < DOOMED_SHARE
        if self.doomed:
            intake.start_outage(503)
            self.current = rng.choice(["none", "dead letter missing"])
            tally.faults.update(["doomed batch"])
            return TimeBudget(rng.choice(BUDGETS_MS))
        datadog = rng.choice(DATADOG_FAULTS)
        if datadog == "5xx":
            intake.fail_next(*rng.choices([500, 502, 503, 0], k=rng.randint(1, 8)))
        elif datadog == "429":
            intake.fail_next(*[429] * rng.randint(1, 6), retry_after=0.05)
        elif datadog == "400":
            self.poison = intake.poison = rng.choice(POISONS)
        elif datadog == "413":
            intake.reject_above_bytes = rng.choice([3_000, 8_000])
        elif datadog == "slow":
            intake.delay = rng.uniform(0.02, 0.15)
        elif datadog == "down":
            intake.start_outage(rng.choice([503, 0]))
        elif datadog == "late":
            intake.accept_late(0.4, rng.randint(1, 3))
        elif datadog == "flap":
            intake.accept_late(0.0, rng.randint(1, 3))
            intake.start_outage(503)
        firehose = rng.choice(FIREHOSE_FAULTS)
        if firehose == "calls":
            self.firehose_client.fail_calls = rng.randint(1, 4)
        elif firehose == "records":
            self.firehose_client.record_failure_rate = rng.uniform(0.1, 0.6)
        elif firehose == "down":
            self.firehose_client.down = True
        elif firehose == "records then down":
            self.firehose_client.record_failure_rate = rng.uniform(0.1, 0.6)
            self.firehose_client.down_after_calls = 1
        dead_letter = rng.choice(DEAD_LETTERS)
        self.current = {"dead letter missing": "dead letter missing", "none": "none"}.get(dead_letter, "dead letter")
        self.s3.slow_down = dead_letter == "dead letter SlowDown"
        budget = rng.choice(BUDGETS_MS)
        tally.faults.update([f"datadog {datadog}", f"firehose {firehose}", dead_letter, f"budget {budget} ms"])
        return TimeBudget(budget)

    def heal(self) -> None:
        """No faults anywhere (what was received and written stays)."""
        self.intake.clear_faults()
        self.firehose_client.heal()
        self.s3.slow_down = False
        self.poison = None

    # --- one batch, as Firehose handles it ---------------------------------
    def deliver(self, batch: list[dict[str, Any]], ledger: Ledger, *, faults: bool = True) -> None:
        """Deliver ``batch``; note what its answer means for the ledger; queue what was re-ingested."""
        if faults:
            result = self.firehose.deliver(batch, self.before_attempt)
        else:
            self.heal()
            self.current = "dead letter"
            result = self.firehose.deliver(batch, lambda _n: TimeBudget(30_000))
            assert result.attempts == 1, result.failures  # nothing fails once the faults are gone
        assert all(f.startswith(("DeliveryError: ", "AuthError: ")) for f in result.failures), result.failures
        if result.response is None:
            assert len(self.firehose_client.put) == self._puts_at_start, "a failed invocation put records back"
            self.tally.exhausted += 1
        else:
            summary = self.summaries[-1]
            self.tally.answered_failed += summary.processing_failed
            self.tally.failed_unkept += summary.failed_unkept
            self.tally.reingested += summary.reingested_records
            self.tally.reingest_partial += summary.reingest_partial
            self.tally.dead_lettered += summary.dd_dead_lettered
            ledger.note(batch, result.response["records"], summary, self.poison)
        delivered = self.local_aws.delivered_records(self.bucket, prefix="reingested/", take=True)
        for start in range(0, len(delivered), 8):
            ledger.queue.append(records_of(delivered[start : start + 8], prefix="again"))


def _inflate(payload: bytes) -> bytes:
    """One gzip member's content (a record's S3 output, or a subscription payload)."""
    return zlib.decompress(payload, wbits=31)


class Ledger:
    """Batches waiting for Firehose, and the events Datadog may lack: rejected outright (400) with no dead letter."""

    def __init__(self) -> None:
        self.queue: collections.deque[list[dict[str, Any]]] = collections.deque()
        self.s3_only: set[bytes] = set()

    def note(
        self, batch: list[dict[str, Any]], answers: list[dict[str, Any]], summary: Any, poison: str | None
    ) -> None:
        """Take in one accepted response: Ok records' poisoned events were rejected if nothing dead-lettered them."""
        if not (poison and summary.dd_rejected and not summary.dd_dead_lettered):
            return
        for record, answer in zip(batch, answers, strict=True):
            if answer["result"] == "Ok":
                self.s3_only |= {i for i, text in _raw_events(record).items() if poison.encode() in text}


def _raw_events(record: dict[str, Any]) -> dict[bytes, bytes]:
    """Event id -> message of a record's events ({} when it is no subscription message)."""
    try:
        text = _inflate(base64.b64decode(record["data"]))
        doc = orjson.loads(text)
    except (zlib.error, orjson.JSONDecodeError):
        return {}
    events = doc.get("logEvents") if isinstance(doc, dict) else None
    found: dict[bytes, bytes] = {}
    for event in events or []:
        message = event["message"].encode()
        for ident in EVENT_ID.findall(message):
            found[ident] = message
    return found


@pytest.mark.soak
@pytest.mark.parametrize("seed", SEEDS)
def test_soak_every_event_lands_in_s3_once_and_reaches_datadog(seed, local_aws, delivery_stream, request):
    """Under random faults at every boundary: S3 exactly once, Datadog at least once, each recordId once per response."""
    started = time.monotonic()
    rng = random.Random(seed)
    source = generate(rng, seed, BATCHES)
    bucket = delivery_stream
    ledger = Ledger()
    ledger.queue.extend(source.batches)
    with IntakeEmulator() as intake:
        soak = Soak(seed, intake, local_aws, bucket)
        try:
            while ledger.queue:
                soak.deliver(ledger.queue.popleft(), ledger)
            # The faults end: what was left is redriven and replayed.
            redriven = 0
            for _round in range(6):
                report = redrive(
                    f"s3://{bucket}/processing-failed",
                    FirehoseReingester(local_aws.client("firehose"), bucket),
                    local_aws.client("s3"),
                    policy=FAST,
                )
                assert report.failed == 0 and not report.stuck
                redriven += report.put_back
                delivered = local_aws.delivered_records(bucket, prefix="reingested/", take=True)
                ledger.queue.extend(
                    records_of(delivered[s : s + 8], prefix="redriven") for s in range(0, len(delivered), 8)
                )
                while ledger.queue:
                    soak.deliver(ledger.queue.popleft(), ledger, faults=False)
                if not report.put_back:
                    break
            options = dataclasses.replace(soak.apps["dead letter"].settings.logs, timeout_seconds=5.0)
            with DatadogSender(options, _Key()) as sender:
                replayed = replay(f"s3://{bucket}/dead-letter", sender, local_aws.client("s3"))
            assert replayed.left == 0
        finally:
            soak.close()
        datadog = collections.Counter(
            ident for entry in intake.entries for ident in EVENT_ID.findall(orjson.dumps(entry.get("message", "")))
        )

    s3 = collections.Counter(ident for data in soak.firehose.destination for ident in EVENT_ID.findall(_inflate(data)))
    lost = source.events - s3.keys()
    unknown = s3.keys() - source.events
    duplicated = {i: n for i, n in s3.items() if n > 1}
    missing_in_datadog = source.events - datadog.keys() - ledger.s3_only
    left = [
        r
        for item in local_aws.client("s3")
        .list_objects_v2(Bucket=bucket, Prefix="processing-failed/")
        .get("Contents", [])
        for r in read_documents(local_aws.client("s3").get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    ]
    tally = soak.tally
    lines = [
        f"seed {seed}: {len(source.events):,} events in {sum(map(len, source.batches))} records, "
        f"{tally.invocations} invocations ({tally.raised} raised and retried; {tally.exhausted} batches to the "
        f"error prefix after 4 attempts) in {time.monotonic() - started:.0f} s",
        f"  S3: {sum(1 for n in s3.values() if n == 1):,} exactly once, {len(lost)} lost, {len(duplicated)} duplicated",
        f"  Datadog: {len(datadog.keys() & source.events):,} at least once ({sum(datadog.values()) - len(datadog):,} "
        f"extra copies), {len(ledger.s3_only)} rejected (400) with no dead letter: S3 only, {len(missing_in_datadog)} missing",
        f"  answers: {tally.answered_failed} ProcessingFailed ({tally.failed_unkept} for logs not kept), "
        f"{tally.reingested} records re-ingested ({tally.reingest_partial} in part); "
        f"{tally.dead_lettered:,} entries dead-lettered, {replayed.accepted:,} replayed; {redriven} records redriven; "
        f"{len(left)} left in the error prefix (never succeed)",
        "  faults: " + ", ".join(f"{name} {count}" for name, count in sorted(tally.faults.items())),
    ]
    print("\n".join(lines))
    request.config.stash.setdefault(SOAK_REPORT, []).extend(lines)

    assert not lost and not unknown
    assert not duplicated
    assert not missing_in_datadog
    assert all(r.problem is not None for r in left)
    assert sorted(r.data or b"" for r in left) == sorted(source.corrupt)
