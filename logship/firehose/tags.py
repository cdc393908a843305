"""Tag step: Datadog tags from the log group and log stream names.

The convention is group ``/<system>/<service>`` and stream
``/<system>/<service>/<container>/<task-id>``, giving ``system``, ``service``,
``application`` (the container) and ``task``. Both patterns are settings.
Names outside the convention still get what can be read from them, and never
raise.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

#: The original design's convention: group ``/<system>/<service>``.
DEFAULT_LOG_GROUP_PATTERN = r"^/(?P<system>[^/]+)/(?P<service>[^/]+)$"
#: ... and stream ``/<system>/<service>/<container>/<task-id>``.
DEFAULT_LOG_STREAM_PATTERN = r"^/(?P<system>[^/]+)/(?P<service>[^/]+)/(?P<application>[^/]+)/(?P<task>[^/]+)$"
#: The named groups a pattern may use.
TAG_FIELDS = frozenset({"system", "service", "application", "task"})

UNKNOWN = "unknown"
# Datadog tags: letters, digits, '_', '-', ':', '.', '/'; anything else becomes
# '_'; at most 200 characters. https://docs.datadoghq.com/getting_started/tagging/
_TAG_BAD_CHARS = re.compile(r"[^\w\-:./]", re.ASCII)
_TAG_MAX_CHARS = 200
# S3 prefixes built from partition keys: keep to characters that need no escaping.
_PARTITION_BAD_CHARS = re.compile(r"[^A-Za-z0-9._\-]")
# An ECS task id: 32 hex digits (new ARN format) or a UUID (old format).
_ECS_TASK_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
# An awslogs stream ends in <container>/<task-id>.
_CONTAINER_AND_TASK = 2
_DEFAULT_GROUP = re.compile(DEFAULT_LOG_GROUP_PATTERN)
_DEFAULT_STREAM = re.compile(DEFAULT_LOG_STREAM_PATTERN)


@dataclasses.dataclass(frozen=True)
class TagOptions:
    """The patterns tags are read with: regexes with named groups from :data:`TAG_FIELDS`."""

    group_pattern: re.Pattern[str] = _DEFAULT_GROUP
    stream_pattern: re.Pattern[str] = _DEFAULT_STREAM


@dataclasses.dataclass(frozen=True, slots=True)
class StreamTags:
    """What the names of one log group and stream say; None where they say nothing."""

    system: str | None = None
    service: str | None = None
    application: str | None = None
    task: str | None = None

    def as_tags(self) -> tuple[str, ...]:
        """The derived tags, ``key:value``, in a fixed order, present fields only."""
        return tuple(
            f"{key}:{value}"
            for key, value in (
                ("system", self.system),
                ("service", self.service),
                ("application", self.application),
                ("task", self.task),
            )
            if value
        )

    def ddtags(self, extra: Iterable[str] = ()) -> str:
        """The ``ddtags`` attribute: derived tags then the user's ``DD_TAGS``, comma-separated."""
        return ",".join((*self.as_tags(), *extra))

    def partition_keys(self) -> dict[str, str]:
        """Firehose dynamic-partitioning keys: always all three, ``unknown`` where missing.

        A missing key would send the record to the error prefix, so none is ever left out.
        """
        return {
            key: _PARTITION_BAD_CHARS.sub("_", value) if value else UNKNOWN
            for key, value in (
                ("system", self.system),
                ("service", self.service),
                ("application", self.application),
            )
        }


def clean_tag_value(value: str) -> str | None:
    """A value Datadog keeps as written: bad characters become ``_``, cut at 200; None if empty."""
    cleaned = _TAG_BAD_CHARS.sub("_", value.strip())[:_TAG_MAX_CHARS]
    return cleaned or None


def derive_tags(
    log_group: str,
    log_stream: str,
    *,
    group_pattern: re.Pattern[str] = _DEFAULT_GROUP,
    stream_pattern: re.Pattern[str] = _DEFAULT_STREAM,
) -> StreamTags:
    """Read ``system``, ``service``, ``application`` and ``task`` from a group and a stream.

    The stream pattern wins over the group pattern for a field both give. When
    a pattern does not match, fall back to what is commonly true:
    ``/aws/lambda/fn`` or ``/ecs/svc`` give the last group segment as service
    and the first as system; an awslogs stream ``prefix/container/task-id``
    gives application and task when its last segment is an ECS task id.
    """
    fields: dict[str, str | None] = {}
    group_match = group_pattern.search(log_group)
    if group_match:
        fields.update(group_match.groupdict())
    else:
        fields.update(_group_fallback(log_group))
    stream_match = stream_pattern.search(log_stream)
    if stream_match:
        fields.update({k: v for k, v in stream_match.groupdict().items() if v})
    else:
        fields.update(_stream_fallback(log_stream))
    return StreamTags(
        system=_clean(fields.get("system")),
        service=_clean(fields.get("service")),
        application=_clean(fields.get("application")),
        task=_clean(fields.get("task")),
    )


def _clean(value: str | None) -> str | None:
    return clean_tag_value(value) if value else None


def _group_fallback(log_group: str) -> dict[str, str | None]:
    parts = [part for part in log_group.split("/") if part]
    if not parts:
        return {}
    if len(parts) == 1:
        return {"service": parts[0]}
    return {"system": parts[0], "service": parts[-1]}


def _stream_fallback(log_stream: str) -> dict[str, str | None]:
    parts = [part for part in log_stream.split("/") if part]
    if len(parts) >= _CONTAINER_AND_TASK and _ECS_TASK_ID.match(parts[-1]):
        return {"application": parts[-2], "task": parts[-1]}
    return {}
