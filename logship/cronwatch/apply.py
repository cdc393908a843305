"""Apply: make Datadog hold exactly the desired monitors, validating each before anything changes.

:func:`current_plan` lists the managed monitors (tag ``managed-by:logship``) and plans
against them (:func:`logship.cronwatch.planner.plan`); :func:`apply_plan` carries the plan out:

1. every monitor to create or update goes to ``POST /api/v1/monitor/validate`` first;
   if Datadog refuses one, nothing at all is changed (an ApiError names it);
2. the log-based metric :data:`~logship.cronwatch.monitors.LOG_EVENTS_METRIC` is created,
   or its filter and grouping updated, when a liveness monitor reads it;
3. missing monitors are created, drifted ones updated (one whose type changed is
   created anew and the old one deleted after, so the job is never unwatched),
4. and monitors no longer declared are deleted only with ``prune``.

Monitors without the ``managed-by:logship`` tag are never listed, so never touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from logship.cronwatch.monitors import LOG_EVENTS_METRIC, MANAGED_BY_TAG, DesiredMonitors, log_metric_definition
from logship.cronwatch.planner import MonitorPlan, plan
from logship.errors import ApiError


class MonitorsApi(Protocol):
    """What applying needs of Datadog (:class:`logship.datadog.monitors.MonitorsClient` is one)."""

    def list_monitors(self, tag: str) -> list[dict[str, Any]]:
        """Every monitor carrying ``tag``."""
        ...

    def validate(self, body: Mapping[str, Any]) -> list[str]:
        """Datadog's objections to a monitor body, empty when valid."""
        ...

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a monitor; Datadog's copy with its id."""
        ...

    def update(self, monitor_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a monitor's owned fields."""
        ...

    def delete(self, monitor_id: int) -> None:
        """Delete a monitor."""
        ...

    def get_log_metric(self, metric_id: str) -> dict[str, Any] | None:
        """A log-based metric's ``data``, or None."""
        ...

    def create_log_metric(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a log-based metric."""
        ...

    def update_log_metric(self, metric_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Update a log-based metric's filter and grouping."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class Applied:
    """What one apply changed: identities created, updated, recreated and deleted, and the log metric's fate.

    ``log_metric`` is ``"created"``, ``"updated"`` or None (not needed, or already right).
    """

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    recreated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    log_metric: str | None = None

    @property
    def changed_anything(self) -> bool:
        """True when Datadog was changed at all."""
        return bool(self.created or self.updated or self.recreated or self.deleted or self.log_metric)

    def summary(self) -> str:
        """One line saying what changed, such as ``Applied: 3 created, 1 updated, 0 recreated, 0 deleted.``."""
        metric = f" Log-based metric {LOG_EVENTS_METRIC} {self.log_metric}." if self.log_metric else ""
        return (
            f"Applied: {len(self.created)} created, {len(self.updated)} updated, {len(self.recreated)} recreated, "
            f"{len(self.deleted)} deleted.{metric}"
        )


def current_plan(client: MonitorsApi, desired: DesiredMonitors) -> MonitorPlan:
    """The plan that turns the managed monitors Datadog holds now into ``desired``."""
    return plan(desired, client.list_monitors(MANAGED_BY_TAG))


def log_metric_change(client: MonitorsApi, desired: DesiredMonitors, query: str = "*") -> str | None:
    """``"create"`` or ``"update"`` when the log-based metric the monitors read is missing or differs, else None."""
    if not desired.uses_log_metric:
        return None
    found = client.get_log_metric(LOG_EVENTS_METRIC)
    if found is None:
        return "create"
    want = log_metric_definition(query)["data"]["attributes"]
    attributes = found.get("attributes")
    have: Mapping[str, Any] = attributes if isinstance(attributes, Mapping) else {}
    same_filter = (have.get("filter") or {}).get("query", "*") == want["filter"]["query"]
    same_groups = _groups(have.get("group_by")) == _groups(want["group_by"])
    return None if same_filter and same_groups else "update"


def _groups(groups: Any) -> set[tuple[str, str]]:
    if not isinstance(groups, list):
        return set()
    return {(str(g.get("path")), str(g.get("tag_name") or g.get("path"))) for g in groups if isinstance(g, Mapping)}


def apply_plan(
    client: MonitorsApi,
    monitor_plan: MonitorPlan,
    *,
    prune: bool = False,
    log_metric: str | None = None,
    log_metric_query: str = "*",
    report: Callable[[str], None] = lambda _line: None,
) -> Applied:
    """Carry ``monitor_plan`` out (see the module's doc); ``report`` gets one line per change as it is made.

    ``log_metric`` is :func:`log_metric_change`'s answer. Raises ApiError, before any change, when
    Datadog's validation refuses a monitor to write; an ApiError or TransportError later leaves the
    changes made so far (each reported), and running apply again finishes the job.
    """
    for desired in (*monitor_plan.create, *(update.desired for update in monitor_plan.update)):
        problems = client.validate(desired.body)
        if problems:
            raise ApiError(
                f"Datadog's monitor validation refused {desired.identity} ({desired.body['name']}): "
                f"{'; '.join(problems)}; nothing was changed"
            )
    metric_done = None
    if log_metric == "create":
        client.create_log_metric(log_metric_definition(log_metric_query))
        metric_done = "created"
    elif log_metric == "update":
        attributes = log_metric_definition(log_metric_query)["data"]["attributes"]
        changes = {"filter": attributes["filter"], "group_by": attributes["group_by"]}
        client.update_log_metric(LOG_EVENTS_METRIC, changes)
        metric_done = "updated"
    if metric_done:
        report(f"{metric_done} log-based metric {LOG_EVENTS_METRIC}")
    created, updated, recreated, deleted = [], [], [], []
    for desired in monitor_plan.create:
        made = client.create(desired.body)
        created.append(desired.identity)
        report(f"created {desired.identity} (monitor {made.get('id')})")
    for update in monitor_plan.update:
        identity = update.desired.identity
        if update.recreate:
            made = client.create(update.desired.body)
            client.delete(update.monitor_id)
            recreated.append(identity)
            report(f"recreated {identity} (monitor {update.monitor_id} replaced by {made.get('id')})")
        else:
            client.update(update.monitor_id, update.desired.body)
            updated.append(identity)
            report(f"updated {identity} (monitor {update.monitor_id})")
    if prune:
        for delete in monitor_plan.delete:
            client.delete(delete.monitor_id)
            deleted.append(delete.identity or f"monitor {delete.monitor_id}")
            report(f"deleted {delete.identity or '(no logship-monitor tag)'} (monitor {delete.monitor_id})")
    return Applied(tuple(created), tuple(updated), tuple(recreated), tuple(deleted), metric_done)
