"""Plan: what to create, update and delete so that Datadog holds exactly the desired monitors.

:func:`plan` compares the desired monitors with the monitors Datadog lists (``GET /api/v1/monitor``
answers, plain dicts) and touches only monitors tagged ``managed-by:logship``: a monitor without
that tag is never updated nor deleted, whatever its name. Existing monitors are matched by their
``logship-monitor:<job>/<kind>`` tag, and compared only on the fields logship sets (name, type,
query, message, tags, priority, and the option keys it writes); what Datadog adds (``id``,
``created``, ``overall_state``, option defaults, ...) is ignored. Managed monitors no longer
declared are listed for deletion, which ``apply`` carries out only with ``--prune``.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from logship.cronwatch.monitors import MANAGED_BY_TAG, DesiredMonitor, DesiredMonitors, Skipped, job_identity

# The top-level fields logship writes and compares; options are compared key by key.
OWNED_FIELDS = ("name", "type", "query", "message", "tags", "priority")
# A longer value is shown as a line diff rather than "before -> after".
_INLINE_LIMIT = 70


@dataclasses.dataclass(frozen=True, slots=True)
class FieldChange:
    """One owned field that differs: its dotted path, Datadog's value and logship's."""

    path: str
    before: Any
    after: Any


@dataclasses.dataclass(frozen=True, slots=True)
class Update:
    """A managed monitor that drifted: its id, the desired monitor and what differs.

    ``recreate`` is set when the monitor's type changed (a liveness window crossing 48 hours turns a
    log monitor into a metric monitor): ``apply`` then deletes it and creates the desired one.
    """

    monitor_id: int
    desired: DesiredMonitor
    changes: tuple[FieldChange, ...]
    recreate: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Delete:
    """A managed monitor nobody declares any more (or a duplicate of one), deleted by ``apply --prune``."""

    monitor_id: int
    identity: str | None
    name: str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class MonitorPlan:
    """The difference between the desired monitors and Datadog's, in a stable order."""

    create: tuple[DesiredMonitor, ...] = ()
    update: tuple[Update, ...] = ()
    delete: tuple[Delete, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    def changes_anything(self, *, prune: bool = False) -> bool:
        """True when applying the plan would change Datadog (deletions count only with prune)."""
        return bool(self.create or self.update or (prune and self.delete))


def plan(desired: DesiredMonitors | Iterable[DesiredMonitor], existing: Iterable[Mapping[str, Any]]) -> MonitorPlan:
    """The plan that turns Datadog's monitors (``existing``) into ``desired``.

    ``existing`` may hold any monitors, as ``GET /api/v1/monitor`` returns them; only those tagged
    ``managed-by:logship`` and having an ``id`` are considered. When several managed monitors claim
    one identity, the one closest to the desired monitor (fewest differing fields, then lowest id)
    is kept and the others are listed for deletion, so that one apply with prune converges.
    """
    wanted = desired.monitors if isinstance(desired, DesiredMonitors) else tuple(desired)
    skipped = desired.skipped if isinstance(desired, DesiredMonitors) else ()
    claims: dict[str, list[Mapping[str, Any]]] = {}
    deletions: list[Delete] = []
    for monitor in sorted((m for m in existing if _is_managed(m) and isinstance(m.get("id"), int)), key=_id):
        identity = job_identity(monitor)
        if identity is None:
            deletions.append(_delete(monitor, None, "managed by logship but without a logship-monitor tag"))
        else:
            claims.setdefault(identity, []).append(monitor)
    creates: list[DesiredMonitor] = []
    updates: list[Update] = []
    unchanged: list[str] = []
    for want in wanted:
        candidates = sorted(((diff(want.body, m), m) for m in claims.pop(want.identity, [])), key=_closest)
        if not candidates:
            creates.append(want)
            continue
        (changes, kept), *others = candidates
        deletions += (_delete(m, want.identity, f"duplicate of monitor {kept['id']}") for _, m in others)
        if changes:
            recreate = any(change.path == "type" for change in changes)
            updates.append(Update(kept["id"], want, tuple(changes), recreate))
        else:
            unchanged.append(want.identity)
    for identity, monitors in claims.items():
        deletions += (_delete(m, identity, "no longer declared") for m in monitors)
    deletions.sort(key=lambda d: d.monitor_id)
    return MonitorPlan(tuple(creates), tuple(updates), tuple(deletions), tuple(unchanged), tuple(skipped))


def _id(monitor: Mapping[str, Any]) -> int:
    return int(monitor["id"])


def _closest(candidate: tuple[list[FieldChange], Mapping[str, Any]]) -> tuple[int, int]:
    changes, monitor = candidate
    return len(changes), _id(monitor)


def _is_managed(monitor: Mapping[str, Any]) -> bool:
    tags = monitor.get("tags")
    return isinstance(tags, list) and any(isinstance(t, str) and t.lower() == MANAGED_BY_TAG for t in tags)


def _delete(monitor: Mapping[str, Any], identity: str | None, reason: str) -> Delete:
    return Delete(monitor["id"], identity, str(monitor.get("name", "")), reason)


def diff(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> list[FieldChange]:
    """The owned fields where ``existing`` differs from ``desired`` (option keys only those logship sets).

    Tags compare as lowercase sets (Datadog lowercases and may reorder them), numbers by value
    (Datadog answers ``1.0`` for ``1``), and an absent field equals ``null``.
    """
    changes: list[FieldChange] = []
    for field in OWNED_FIELDS:
        want, have = desired.get(field), existing.get(field)
        if field == "tags":
            if _tag_set(want) != _tag_set(have):
                changes.append(FieldChange("tags", sorted(_tag_set(have)), sorted(_tag_set(want))))
        elif not _same(want, have):
            changes.append(FieldChange(field, have, want))
    have_options = existing.get("options")
    have_options = have_options if isinstance(have_options, Mapping) else {}
    changes += _diff_mapping("options", desired.get("options") or {}, have_options)
    return changes


def _diff_mapping(path: str, want: Mapping[str, Any], have: Mapping[str, Any]) -> list[FieldChange]:
    changes = []
    for key, value in want.items():
        current = have.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            changes += _diff_mapping(f"{path}.{key}", value, current)
        elif not _same(value, current):
            changes.append(FieldChange(f"{path}.{key}", current, value))
    return changes


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have or (want is None and have is False) or (want is False and have is None)
    if isinstance(want, numbers.Real) and isinstance(have, numbers.Real):
        return float(want) == float(have)
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        return not _diff_mapping("", want, have)
    return bool(want == have)


def _tag_set(tags: Any) -> set[str]:
    return {t.lower() for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()


# --- For people ---------------------------------------------------------------------------------------------------


def render_plan(monitor_plan: MonitorPlan, *, prune: bool = False) -> list[str]:
    """The lines ``logship monitors plan`` prints: a summary, then each create, update, delete and skip.

    Deletions are marked as happening only with ``--prune`` unless ``prune`` is set.
    """
    p = monitor_plan
    delete_note = "to delete" if prune else "no longer declared (deleted with --prune)"
    lines = [
        f"Monitors: {len(p.create)} to create, {len(p.update)} to update, {len(p.delete)} {delete_note}, "
        f"{len(p.unchanged)} unchanged" + (f", {len(p.skipped)} not possible" if p.skipped else "") + "."
    ]
    for monitor in p.create:
        lines.append(f"+ create {monitor.identity}: {monitor.body['name']} ({monitor.body['type']})")
        lines.append(f"    query: {monitor.body['query']}")
    for update in p.update:
        verb = "recreate" if update.recreate else "update"
        lines.append(f"~ {verb} {update.desired.identity} (monitor {update.monitor_id}): {update.desired.body['name']}")
        for change in update.changes:
            lines += [f"    {line}" for line in _render_change(change)]
    for delete in p.delete:
        marker = "-" if prune else "?"
        what = delete.identity or "(no logship-monitor tag)"
        lines.append(f"{marker} delete {what} (monitor {delete.monitor_id}): {delete.name} [{delete.reason}]")
    for skipped in p.skipped:
        lines.append(f"! no {skipped.identity}: {skipped.reason}")
    if not (p.create or p.update or p.delete):
        lines.append("Nothing to change.")
    return lines


def _render_change(change: FieldChange) -> list[str]:
    before, after = change.before, change.after
    if (
        isinstance(before, str)
        and isinstance(after, str)
        and ("\n" in before + after or len(before + after) > _INLINE_LIMIT)
    ):
        delta = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        return [f"{change.path}:"] + [f"  {line}" for line in list(delta)[2:] if not line.startswith("@@")]
    return [f"{change.path}: {_show(before)} -> {_show(after)}"]


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)
