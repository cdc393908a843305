"""Interpret step: a Lambda payload in, one OpsEvent or Skipped out per event it holds.

The one entry point the handler calls. It unwraps SNS, picks the source's
reader by ``source`` and ``detail-type``, and turns anything it cannot read
into a :class:`~logship.opsevents.model.Skipped` (never an exception), so
EventBridge does not retry input that can never succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from logship.opsevents import codebuild, codepipeline, ecs, stepfunctions
from logship.opsevents._build import skipped
from logship.opsevents.envelope import Envelope, unwrap
from logship.opsevents.model import OpsEvent, Skipped, SkipReason
from logship.opsevents.options import RoutingOptions

logger = logging.getLogger(__name__)

Reader = Callable[[Envelope, RoutingOptions, Iterable[str]], OpsEvent | Skipped]

# (source, detail-type) -> reader. Every pair here has a fixture under tests/fixtures/opsevents.
READERS: Mapping[tuple[str, str], Reader] = {
    (ecs.SOURCE, ecs.TASK_STATE_CHANGE): ecs.task_event,
    (ecs.SOURCE, ecs.DEPLOYMENT_STATE_CHANGE): ecs.deployment_event,
    (ecs.SOURCE, ecs.SERVICE_ACTION): ecs.service_action_event,
    (codepipeline.SOURCE, codepipeline.PIPELINE_EXECUTION): codepipeline.pipeline_event,
    (codepipeline.SOURCE, codepipeline.STAGE_EXECUTION): codepipeline.pipeline_event,
    (codepipeline.SOURCE, codepipeline.ACTION_EXECUTION): codepipeline.pipeline_event,
    (codebuild.SOURCE, codebuild.BUILD_STATE_CHANGE): codebuild.build_event,
    (stepfunctions.SOURCE, stepfunctions.EXECUTION_STATUS_CHANGE): stepfunctions.execution_event,
}
SOURCES = frozenset(source for source, _ in READERS)


def interpret(
    payload: Any,
    options: RoutingOptions | None = None,
    dd_tags: Iterable[str] = (),
) -> tuple[OpsEvent | Skipped, ...]:
    """Every event in ``payload`` (an EventBridge event or an SNS notification) as an OpsEvent or a Skipped.

    ``dd_tags`` are the user's ``DD_TAGS``, added to every event before the
    options' extra tags. Never raises for any JSON value; a reader that fails on
    an input nobody foresaw gives a Skipped naming the error (and logs it), so
    one bad event never loses the others of an SNS batch.
    """
    options = options or RoutingOptions()
    tags = tuple(dd_tags)
    return tuple(_interpret_one(item, options, tags) for item in unwrap(payload))


def _interpret_one(item: Envelope | Skipped, options: RoutingOptions, dd_tags: tuple[str, ...]) -> OpsEvent | Skipped:
    if isinstance(item, Skipped):
        return item
    reader = READERS.get((item.source, item.detail_type))
    if reader is None:
        if item.source not in SOURCES:
            return skipped(item, SkipReason.UNKNOWN_SOURCE, f"source {item.source[:100]!r} is not one logship reads")
        return skipped(
            item,
            SkipReason.UNKNOWN_DETAIL_TYPE,
            f"detail-type {item.detail_type[:100]!r} of {item.source} is not one logship reads",
        )
    try:
        return reader(item, options, dd_tags)
    except Exception as err:  # the per-event boundary: one unforeseen input must not lose the batch
        logger.exception("ops event reader failed", extra={"source": item.source, "event_id": item.id[:200]})
        return skipped(item, SkipReason.UNREADABLE, f"could not read the event: {type(err).__name__}")
