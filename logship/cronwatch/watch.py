"""Run watch: the ECS tasks running and starting per cluster and family, as gauges, overlaps and a digest.

Each run (``handlers.watch.handler``, scheduled every minute):

1. **count** the tasks of every active cluster: ListClusters (and DescribeClusters, to
   leave out deleted ones) and ListTasks (``desiredStatus RUNNING``, which holds the
   tasks still starting) page by page, DescribeTasks in batches of 100; a task is
   *running* when its ``lastStatus`` is RUNNING and *pending* while PROVISIONING,
   PENDING or ACTIVATING (ECS task lifecycle);
2. **send** the counts to Datadog as gauges, :data:`RUNNING_METRIC` and
   :data:`PENDING_METRIC`, tagged ``cluster``, ``task_family`` and, when known,
   ``system`` and ``service`` (plus ``DD_TAGS``); a cluster without tasks sends zeros,
   so a monitor of its headroom against the tasks quota always has data;
3. **flag** each family running more copies than its jobs allow (``max_concurrent``,
   from the jobs file or the rule's ``logship:max-concurrent`` tag) as an ops event of
   error severity, to Datadog and Slack through :class:`~logship.opsevents.app.OpsEventsApp`;
   an overlap is the same overlap while the same tasks make it, and is sent once;
4. **post a digest** to Slack when the event asks for one (``{"summary": true}``, the
   template's 15-minute rule) or ``LOGSHIP_WATCH_SUMMARY`` is true.

The jobs (discovery and the jobs file) are looked up at most every
:data:`JOBS_REFRESH_SECONDS` in a warm container. The pure steps (:func:`count_tasks`,
:func:`find_overlaps`, :func:`gauges`, :func:`overlap_event`, :func:`summary_event`)
take AWS's answers as dicts; :class:`RunWatch` makes the calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from logship.aws import ClientCache, ClientFactory
from logship.cronwatch.discovery import JobsFound, TaskDefinitions, find_jobs, pages, read_jobs_file
from logship.cronwatch.jobs import Job, names_from_task_definition
from logship.datadog.metrics import Gauge, MetricsClient
from logship.errors import DeliveryError, LogshipError
from logship.opsevents import console
from logship.opsevents.model import Fact, Kind, Link, OpsEvent
from logship.opsevents.severity import severity_of
from logship.secrets import ApiKeyProvider

if TYPE_CHECKING:
    from logship.opsevents.app import OpsEventsApp
    from logship.settings import Settings

logger = logging.getLogger(__name__)


RUNNING_METRIC = "logship.ecs.tasks.running"
PENDING_METRIC = "logship.ecs.tasks.pending"
#: ``lastStatus`` values of a task on its way to RUNNING (ECS Developer Guide, "Task lifecycle").
PENDING_STATUSES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})
RUNNING_STATUS = "RUNNING"
# DescribeTasks: "tasks: A list of up to 100 task IDs or full ARN entries" (ECS API reference).
DESCRIBE_TASKS_BATCH = 100
# DescribeClusters: "clusters: A list of up to 100 cluster names or full cluster ARN entries" (ECS API reference).
DESCRIBE_CLUSTERS_BATCH = 100
# Cluster statuses of a cluster that is gone or never came (ECS API reference, Cluster.status).
GONE = frozenset({"INACTIVE", "FAILED"})
# ListClusters and ListTasks: "maxResults ... can be between 1 and 100" (ECS API reference).
LIST_PAGE_SIZE = 100
#: Discovery (ListRules, ListSchedules, ...) at most this often per warm container: schedules change
#: rarely, and a run every minute would spend the APIs' request rates on the same answer.
JOBS_REFRESH_SECONDS = 15 * 60
# What the watch's own ops events say they come from (Datadog: source_type_name amazon_web_services).
SOURCE = "logship.cronwatch"
#: The tag every overlap event carries, for a Datadog monitor or search.
OVERLAP_TAG = "cronwatch:overlap"
# Lines of the digest: clusters shown as facts, families named per cluster, task ids per overlap.
_SUMMARY_CLUSTERS = 10
_SUMMARY_FAMILIES = 5
_OVERLAP_TASKS_SHOWN = 10
_OVERLAP_TASK_LINKS = 3
_ARN_FIELDS = 6


@dataclasses.dataclass(frozen=True, slots=True)
class FamilyCount:
    """The tasks of one task family in one cluster: how many run, how many are starting, and which."""

    cluster: str
    family: str
    running: int
    pending: int
    task_ids: tuple[str, ...]
    task_definition_arns: tuple[str, ...]

    @property
    def copies(self) -> int:
        """Running and starting tasks: the copies a job has at once."""
        return self.running + self.pending


@dataclasses.dataclass(frozen=True, slots=True)
class Overlap:
    """A family with more copies than its jobs allow in a cluster, and those jobs."""

    count: FamilyCount
    allowed: int
    jobs: tuple[Job, ...]

    @property
    def key(self) -> str:
        """The same while the same tasks overlap: the dedup key of its ops event."""
        return f"cronwatch-overlap|{self.count.cluster}|{self.count.family}|{','.join(self.count.task_ids)}"


def _arn_part(arn: str, index: int) -> str:
    parts = arn.split(":", _ARN_FIELDS - 1)
    return parts[index] if len(parts) == _ARN_FIELDS else ""


def cluster_name(cluster_arn: str) -> str:
    """``arn:aws:ecs:<region>:<account>:cluster/<name>`` -> ``<name>`` (a bare name stays as it is)."""
    return cluster_arn.rsplit("/", 1)[-1] if cluster_arn.startswith("arn:") else cluster_arn


def family_of(task: Mapping[str, Any]) -> str | None:
    """A task's family, from its ``taskDefinitionArn`` (``.../task-definition/<family>:<revision>``) or ``group``."""
    arn = task.get("taskDefinitionArn")
    if isinstance(arn, str) and "task-definition/" in arn:
        return arn.rsplit("task-definition/", 1)[1].split(":")[0] or None
    group = task.get("group")
    if isinstance(group, str) and group.startswith("family:"):
        return group[len("family:") :] or None
    return None


def count_tasks(cluster: str, tasks: Iterable[Mapping[str, Any]]) -> list[FamilyCount]:
    """DescribeTasks' ``tasks`` of one cluster counted per family, sorted by family; stopping tasks not counted."""
    running: Counter[str] = Counter()
    pending: Counter[str] = Counter()
    ids: dict[str, set[str]] = {}
    definitions: dict[str, set[str]] = {}
    for task in tasks:
        family = family_of(task)
        status = task.get("lastStatus")
        if family is None or (status != RUNNING_STATUS and status not in PENDING_STATUSES):
            continue
        (running if status == RUNNING_STATUS else pending)[family] += 1
        ids.setdefault(family, set()).add(str(task.get("taskArn", "")).rsplit("/", 1)[-1])
        definitions.setdefault(family, set()).add(str(task.get("taskDefinitionArn", "")))
    return [
        FamilyCount(
            cluster,
            family,
            running[family],
            pending[family],
            tuple(sorted(ids[family])),
            tuple(sorted(definitions[family] - {""})),
        )
        for family in sorted(ids)
    ]


def jobs_of(count: FamilyCount, jobs: Iterable[Job]) -> tuple[Job, ...]:
    """The jobs that run ``count``'s family in its cluster (a job with no cluster runs in any)."""
    return tuple(job for job in jobs if job.task_family == count.family and job.cluster in (None, count.cluster))


def allowed_copies(jobs: Sequence[Job]) -> int | None:
    """Copies of a family allowed at once: the sum of its jobs' ``max_concurrent``; None when any job has none."""
    if not jobs or any(job.max_concurrent is None for job in jobs):
        return None
    return sum(job.max_concurrent or 0 for job in jobs)


def find_overlaps(counts: Iterable[FamilyCount], jobs: Sequence[Job]) -> list[Overlap]:
    """The families running more copies than their jobs allow, in the order of ``counts``."""
    overlaps = []
    for count in counts:
        owners = jobs_of(count, jobs)
        allowed = allowed_copies(owners)
        if allowed is not None and count.copies > allowed:
            overlaps.append(Overlap(count, allowed, owners))
    return overlaps


def gauges(
    counts: Sequence[FamilyCount],
    clusters: Sequence[str],
    names: Mapping[tuple[str, str], tuple[str | None, str | None]],
    timestamp: int,
    extra_tags: Sequence[str] = (),
) -> list[Gauge]:
    """The points one run sends: running and pending per family, and zeros for each cluster without tasks.

    ``names`` maps ``(cluster, family)`` to the ``(system, service)`` its logs carry, where known.
    """
    points = []
    for count in counts:
        system, service = names.get((count.cluster, count.family), (None, None))
        tags = [f"cluster:{count.cluster}", f"task_family:{count.family}"]
        tags += [f"system:{system}"] if system else []
        tags += [f"service:{service}"] if service else []
        tags += extra_tags
        points.append(Gauge(RUNNING_METRIC, float(count.running), timestamp, tuple(tags)))
        points.append(Gauge(PENDING_METRIC, float(count.pending), timestamp, tuple(tags)))
    busy = {count.cluster for count in counts}
    for cluster in clusters:
        if cluster not in busy:
            only_cluster = (f"cluster:{cluster}", *extra_tags)
            points.append(Gauge(RUNNING_METRIC, 0.0, timestamp, only_cluster))
            points.append(Gauge(PENDING_METRIC, 0.0, timestamp, only_cluster))
    return points


def overlap_event(
    overlap: Overlap, *, region: str, account: str, now: dt.datetime, extra_tags: Sequence[str] = ()
) -> OpsEvent:
    """The ops event (error severity) that tells people a job is running more copies than it allows."""
    count = overlap.count
    names = ", ".join(job.name for job in overlap.jobs)
    copies = f"{count.copies} {'copy' if count.copies == 1 else 'copies'}"
    title = f"Cron job {names}: {copies} running in {count.cluster} (allows {overlap.allowed})"
    text = (
        f"Task family {count.family} has {count.running} task(s) running and {count.pending} starting in cluster "
        f"{count.cluster}; its job allows {overlap.allowed} at a time (max_concurrent). A run started before the "
        "previous one ended."
    )
    hint = (
        "a run that takes longer than the time between runs, or a run started by hand, overlaps the next one: "
        "look at the oldest task (stuck? waiting on a lock?), stop it if it hangs, or space the schedule out"
    )
    shown = count.task_ids[:_OVERLAP_TASKS_SHOWN]
    more = len(count.task_ids) - len(shown)
    facts = [
        Fact("Cluster", count.cluster),
        Fact("Task family", count.family),
        *(Fact("Job", f"{job.name} ({job.schedule}, {job.timezone})") for job in overlap.jobs),
        Fact("Running", str(count.running)),
        Fact("Starting", str(count.pending)),
        Fact("Allowed", str(overlap.allowed)),
        Fact("Tasks", ", ".join(shown) + (f" and {more} more" if more else "")),
    ]
    links = [Link("Cluster", url)] if (url := console.ecs_cluster(region, count.cluster)) else []
    for task_id in count.task_ids[:_OVERLAP_TASK_LINKS]:
        if task_url := console.ecs_task(region, count.cluster, task_id):
            links.append(Link(f"Task {task_id[:8]}", task_url))
    systems = sorted({job.system for job in overlap.jobs if job.system})
    services = sorted({job.service for job in overlap.jobs if job.service})
    tags = [
        OVERLAP_TAG,
        f"cluster:{count.cluster}",
        f"task_family:{count.family}",
        *(f"system:{s}" for s in systems),
        *(f"service:{s}" for s in services),
        *(f"logship-job:{job.name}" for job in overlap.jobs),
        *extra_tags,
    ]
    return OpsEvent(
        kind=Kind.CRON_OVERLAP,
        state="OVERLAP",
        title=title,
        text=text,
        severity=severity_of(Kind.CRON_OVERLAP, "OVERLAP"),
        hint=hint,
        tags=tuple(dict.fromkeys(tags)),
        dedup_key=overlap.key,
        aggregation_key=f"cronwatch-overlap:{count.cluster}:{count.family}",
        time=now,
        source=SOURCE,
        detail_type="Cron job overlap",
        event_id=hashlib.sha256(overlap.key.encode()).hexdigest()[:32],
        region=region,
        account=account,
        facts=tuple(facts),
        links=tuple(links),
        names=(count.cluster, count.family, *(job.name for job in overlap.jobs)),
    )


def summary_event(
    counts: Sequence[FamilyCount],
    clusters: Sequence[str],
    overlaps: Sequence[Overlap],
    *,
    region: str,
    account: str,
    now: dt.datetime,
    extra_tags: Sequence[str] = (),
) -> OpsEvent:
    """The digest: tasks running and starting per cluster, the busiest families, and the overlaps now."""
    by_cluster: dict[str, list[FamilyCount]] = {cluster: [] for cluster in clusters}
    for count in counts:
        by_cluster.setdefault(count.cluster, []).append(count)
    running = sum(c.running for c in counts)
    pending = sum(c.pending for c in counts)
    title = f"Cron watch: {running} task(s) running, {pending} starting in {len(by_cluster)} cluster(s)"
    if overlaps:
        title += f"; {len(overlaps)} job(s) overlapping"
    facts = []
    ordered = sorted(by_cluster.items(), key=lambda item: (-sum(c.copies for c in item[1]), item[0]))
    for cluster, members in ordered[:_SUMMARY_CLUSTERS]:
        busiest = sorted(members, key=lambda c: (-c.copies, c.family))[:_SUMMARY_FAMILIES]
        families = ", ".join(f"{c.family} x{c.copies}" for c in busiest)
        value = f"{sum(c.running for c in members)} running, {sum(c.pending for c in members)} starting"
        facts.append(Fact(cluster, value + (f" ({families})" if families else "")))
    if len(ordered) > _SUMMARY_CLUSTERS:
        facts.append(Fact("More clusters", str(len(ordered) - _SUMMARY_CLUSTERS)))
    lines = [f"{len(counts)} task famil{'y' if len(counts) == 1 else 'ies'} with tasks at {now:%Y-%m-%d %H:%M} UTC."]
    lines += [
        f"Overlap: {o.count.family} in {o.count.cluster}, {o.count.copies} copies (allows {o.allowed})"
        for o in overlaps
    ]
    stamp = now.strftime("%Y-%m-%dT%H:%M")
    return OpsEvent(
        kind=Kind.WATCH_SUMMARY,
        state="SUMMARY",
        title=title,
        text="\n".join(lines),
        severity=severity_of(Kind.WATCH_SUMMARY, "SUMMARY"),
        hint=None,
        tags=("cronwatch:summary", *extra_tags),
        dedup_key=f"cronwatch-summary|{stamp}",
        aggregation_key="cronwatch-summary",
        time=now,
        source=SOURCE,
        detail_type="Run watch summary",
        event_id=f"summary-{stamp}",
        region=region,
        account=account,
        facts=tuple(facts),
    )


# --- The orchestrator ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WatchSummary:
    """What one run did, for its log line: counts, overlaps, what was sent, and what failed."""

    clusters: int
    families: int
    running: int
    pending: int
    jobs: int
    overlaps: int
    overlap_events: int
    gauges: int
    metric_requests: int
    summary_sent: bool
    failures: tuple[str, ...]
    ms_total: float

    def as_log(self) -> dict[str, Any]:
        """The summary as the run's log line (and the handler's return value) carries it."""
        return {**dataclasses.asdict(self), "failures": list(self.failures)}


class RunWatch:
    """The run watch Lambda and its collaborators; built once per cold start, :meth:`handle` per run.

    ``client_factory`` makes the boto3 clients (ECS, EventBridge, Scheduler, S3, SSM, Secrets
    Manager); ``events_app`` sends the ops events (default: one built from the settings);
    ``metrics`` sends the gauges (default: Datadog's, unless ``LOGSHIP_DATADOG_ENABLED`` is false);
    ``clock`` gives POSIX seconds. ``page_size`` asks AWS for smaller pages (tests).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client_factory: ClientFactory | None = None,
        events_app: OpsEventsApp | None = None,
        metrics: MetricsClient | None = None,
        clock: Callable[[], float] = time.time,
        page_size: int | None = None,
        jobs_refresh_seconds: float = JOBS_REFRESH_SECONDS,
    ) -> None:
        self.settings = settings
        self._client = ClientCache(client_factory)
        self._events_app = events_app
        self._metrics = metrics
        if metrics is None and settings.datadog_enabled:
            self._metrics = MetricsClient(settings.api, ApiKeyProvider(settings.api_key, self._client))
        self.clock = clock
        self.page_size = page_size or LIST_PAGE_SIZE
        self.jobs_refresh_seconds = jobs_refresh_seconds
        self._jobs: JobsFound | None = None
        self._jobs_at = float("-inf")
        self._definitions: TaskDefinitions | None = None

    def close(self) -> None:
        """Release connections and threads (a Lambda never needs to; tests and tools do)."""
        if self._metrics is not None:
            self._metrics.close()
        if self._events_app is not None:
            self._events_app.close()

    def __enter__(self) -> RunWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def events_app(self) -> OpsEventsApp:
        """The ops events orchestrator (Datadog events and Slack), built at first use."""
        if self._events_app is None:
            from logship.opsevents.app import OpsEventsApp

            self._events_app = OpsEventsApp(self.settings, client_factory=self._client)
        return self._events_app

    # --- one run ------------------------------------------------------------------------------------------
    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        """Run once; ``{"summary": true}`` in ``event`` asks for the digest. Returns the run's summary."""
        wants_summary = isinstance(event, Mapping) and event.get("summary") is True
        return self.run(summary=wants_summary or self.settings.cronwatch.watch_summary, context=context).as_log()

    def run(self, *, summary: bool = False, context: Any = None) -> WatchSummary:
        """Count, send, flag and (when asked) post the digest; raise DeliveryError at the end if any of it failed.

        Counting is the only step that stops the run: without the counts there is nothing to send.
        """
        started = time.monotonic()
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        failures: list[str] = []
        clusters, counts, region, account = self.count()
        jobs = self._current_jobs(failures)
        overlaps = find_overlaps(counts, jobs)
        points = gauges(counts, clusters, self._names(counts, jobs), int(now.timestamp()), self.settings.tags)
        requests = self._send_gauges(points, failures)
        events = [
            overlap_event(o, region=region, account=account, now=now, extra_tags=self.settings.tags) for o in overlaps
        ]
        sent = self._deliver(events, context, None, failures) if events else 0
        digest = False
        if summary:
            event = summary_event(
                counts, clusters, overlaps, region=region, account=account, now=now, extra_tags=self.settings.tags
            )
            digest = self._deliver([event], context, {"slack"}, failures) > 0
        result = WatchSummary(
            clusters=len(clusters),
            families=len(counts),
            running=sum(c.running for c in counts),
            pending=sum(c.pending for c in counts),
            jobs=len(jobs),
            overlaps=len(overlaps),
            overlap_events=sent,
            gauges=len(points),
            metric_requests=requests,
            summary_sent=digest,
            failures=tuple(failures),
            ms_total=round((time.monotonic() - started) * 1000, 1),
        )
        logger.info("run watch", extra=result.as_log())
        if failures:
            raise DeliveryError("run watch: " + "; ".join(failures))
        return result

    def count(self) -> tuple[list[str], list[FamilyCount], str, str]:
        """Every active cluster's name, the counts per cluster and family, and the region and account of the clusters.

        A deleted cluster stays INACTIVE and "might remain discoverable" for a while (ECS API
        reference, DeleteCluster): DescribeClusters, 100 at a time, leaves those out.
        """
        ecs = self._client("ecs")
        listed = list(_names(pages(ecs, "list_clusters", "clusterArns", self.page_size)))
        arns: list[str] = []
        for start in range(0, len(listed), DESCRIBE_CLUSTERS_BATCH):
            described = ecs.describe_clusters(clusters=listed[start : start + DESCRIBE_CLUSTERS_BATCH])
            active = {c.get("clusterArn") for c in described.get("clusters") or [] if c.get("status") not in GONE}
            arns += [arn for arn in listed[start : start + DESCRIBE_CLUSTERS_BATCH] if arn in active]
        counts: list[FamilyCount] = []
        for arn in arns:
            task_arns = list(
                _names(pages(ecs, "list_tasks", "taskArns", self.page_size, cluster=arn, desiredStatus="RUNNING"))
            )
            tasks: list[Mapping[str, Any]] = []
            for start in range(0, len(task_arns), DESCRIBE_TASKS_BATCH):
                answer = ecs.describe_tasks(cluster=arn, tasks=task_arns[start : start + DESCRIBE_TASKS_BATCH])
                tasks += answer.get("tasks") or []
            counts += count_tasks(cluster_name(arn), tasks)
        first = arns[0] if arns else ""
        return [cluster_name(arn) for arn in arns], counts, _arn_part(first, 3), _arn_part(first, 4)

    def _current_jobs(self, failures: list[str]) -> tuple[Job, ...]:
        """The jobs, looked up again when older than the refresh interval; the last ones kept if that fails."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._jobs is not None and time.monotonic() - self._jobs_at < self.jobs_refresh_seconds:
            return self._jobs.jobs
        try:
            location = self.settings.cronwatch.jobs_file
            jobs_file = read_jobs_file(location, self._client) if location else None
            self._jobs = find_jobs(self._client, jobs_file, page_size=self.page_size)
            self._jobs_at = time.monotonic()
            for note in self._jobs.notes:
                logger.warning("run watch: %s", note)
        except (LogshipError, OSError, BotoCoreError, ClientError) as err:  # the counts still go out
            failures.append(f"jobs not read: {type(err).__name__}: {err}")
        return self._jobs.jobs if self._jobs is not None else ()

    def _names(
        self, counts: Sequence[FamilyCount], jobs: Sequence[Job]
    ) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """``(system, service)`` per counted family: from its jobs, else from its task definition (described once)."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._definitions is None:
            self._definitions = TaskDefinitions(self._client("ecs"))
        names: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        for count in counts:
            owners = jobs_of(count, jobs)
            system = next((job.system for job in owners if job.system), None)
            service = next((job.service for job in owners if job.service), None)
            if (system is None or service is None) and count.task_definition_arns:
                try:
                    found = names_from_task_definition(self._definitions.get(count.task_definition_arns[0]))
                except (BotoCoreError, ClientError) as err:  # the names only add tags: the counts go out without them
                    logger.warning("run watch: task definition not read: %s", err)
                    found = (None, None)
                system, service = system or found[0], service or found[1]
            names[(count.cluster, count.family)] = (system, service)
        return names

    def _send_gauges(self, points: Sequence[Gauge], failures: list[str]) -> int:
        if self._metrics is None or not points:
            return 0
        try:
            return self._metrics.submit(points)
        except LogshipError as err:
            failures.append(f"metrics not sent: {err}")
            return 0

    def _deliver(self, events: list[OpsEvent], context: Any, only: set[str] | None, failures: list[str]) -> int:
        """Send ``events`` through the ops events sinks; how many were sent (duplicates are not sent again)."""
        app = self.events_app
        usable = set(app.sinks) & only if only is not None else set(app.sinks)
        if not usable:
            what = "the digest needs" if only is not None else "overlap alerts need Datadog or"
            logger.warning("run watch: %s a Slack webhook (SLACK_WEBHOOK_URL, _SSM_NAME or _SECRET_ARN)", what)
            return 0
        try:
            result = app.deliver(events, context, only=only)
        except LogshipError as err:
            failures.append(f"ops events not sent: {err}")
            return 0
        return int(max(result.datadog_sent, result.slack_sent))


def _names(items: Iterable[Any]) -> Iterable[str]:
    """The strings of a list answer (ListClusters' clusterArns, ListTasks' taskArns)."""
    return (item for item in items if isinstance(item, str))
