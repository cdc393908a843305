"""What every source does last: skip ignored names, add the shared tags, and freeze the OpsEvent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from logship.opsevents.envelope import Envelope
from logship.opsevents.model import ContainerFact, Fact, Kind, Link, OpsEvent, Severity, Skipped, SkipReason
from logship.opsevents.options import RoutingOptions
from logship.opsevents.tags import build_tags


def facts(*pairs: tuple[str, str | int | None]) -> tuple[Fact, ...]:
    """Facts from ``(label, value)`` pairs, leaving out empty values."""
    return tuple(Fact(label, str(value)) for label, value in pairs if value is not None and str(value) != "")


def links(*pairs: tuple[str, str | None]) -> tuple[Link, ...]:
    """Links from ``(label, url)`` pairs, leaving out missing URLs and repeats."""
    seen: set[str] = set()
    made: list[Link] = []
    for label, url in pairs:
        if url and url not in seen:
            seen.add(url)
            made.append(Link(label, url))
    return tuple(made)


def iso(moment: datetime | None) -> str:
    """``2024-05-01T10:00:00Z`` for an aware datetime; empty for None."""
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def skipped(envelope: Envelope, reason: SkipReason, detail: str) -> Skipped:
    """A Skipped for ``envelope`` (ids and types cut to 200 characters, for the log line)."""
    return Skipped(
        reason,
        detail,
        source=envelope.source[:200],
        detail_type=envelope.detail_type[:200],
        event_id=envelope.id[:200],
    )


def make_event(
    envelope: Envelope,
    options: RoutingOptions,
    dd_tags: Iterable[str],
    *,
    kind: Kind,
    state: str,
    severity: Severity,
    title: str,
    text: str,
    hint: str | None,
    tag_pairs: Iterable[tuple[str, str | int | None]],
    dedup_key: str,
    aggregation_key: str,
    names: tuple[str, ...],
    facts: tuple[Fact, ...] = (),
    containers: tuple[ContainerFact, ...] = (),
    links: tuple[Link, ...] = (),
) -> OpsEvent | Skipped:
    """The OpsEvent for one change, or a Skipped when one of ``names`` matches the ignore pattern."""
    ignored = options.ignores(names)
    if ignored is not None:
        return skipped(envelope, SkipReason.IGNORED, f"{ignored[:200]!r} matches the ignore pattern")
    tags = build_tags(
        [*tag_pairs, ("region", envelope.region), ("aws_account", envelope.account)],
        dd_tags,
        options.extra_tags,
    )
    return OpsEvent(
        kind=kind,
        state=state,
        title=title,
        text=text,
        severity=severity,
        hint=hint,
        tags=tags,
        dedup_key=dedup_key,
        aggregation_key=aggregation_key,
        time=envelope.time,
        source=envelope.source,
        detail_type=envelope.detail_type,
        event_id=envelope.id,
        region=envelope.region,
        account=envelope.account,
        facts=facts,
        containers=containers,
        links=links,
        names=tuple(name for name in names if name),
    )
