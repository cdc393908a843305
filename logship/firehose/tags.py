"""Tag step: Datadog tags from the log group and log stream names.

The convention is group ``/<system>/<service>`` and stream
``/<system>/<service>/<container>/<task-id>``, giving ``system``, ``service``,
``application`` (the container) and ``task``. Both patterns are settings.
Names outside the convention still get what can be read from them, and never
raise.

Every tag, derived or from ``DD_TAGS``, follows Datadog's tag rules
(:func:`normalize_tag`), so what logship sends is what Datadog shows.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import operator
import re
from collections.abc import Iterable

#: The original design's convention: group ``/<system>/<service>``.
DEFAULT_LOG_GROUP_PATTERN = r"^/(?P<system>[^/]+)/(?P<service>[^/]+)$"
#: ... and stream ``/<system>/<service>/<container>/<task-id>``.
DEFAULT_LOG_STREAM_PATTERN = r"^/(?P<system>[^/]+)/(?P<service>[^/]+)/(?P<application>[^/]+)/(?P<task>[^/]+)$"
#: The named groups a pattern may use.
TAG_FIELDS = frozenset({"system", "service", "application", "task"})

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
# Datadog's tag rules ("Defining tags",
# https://docs.datadoghq.com/getting_started/tagging/#define-tags, and the Agent's
# normalizer, pkg/trace/traceutil/normalize): lower case; letters (Unicode),
# digits, '_', '-', ':', '.', '/', anything else one '_'; starts with a letter;
# no trailing '_' or ':'; at most 200 characters.
TAG_MAX_CHARS = 200
_TAG_PUNCTUATION = frozenset("-:./")
# Tags (and values) already as Datadog keeps them, checked in one regex match, as the
# Agent's normalizer has an ASCII fast path: most tags are.
_NORMAL_TAG = re.compile(r"[a-z][a-z0-9\-:./]*(?:_[a-z0-9\-:./]+)*")
_NORMAL_VALUE = re.compile(r"[a-z0-9\-:./]+(?:_[a-z0-9\-:./]+)*")
# S3 prefixes built from partition keys: keep to characters that need no escaping.
_PARTITION_BAD_CHARS = re.compile(r"[^A-Za-z0-9._\-]")
# An ECS task id: 32 hex digits (new ARN format) or a UUID (old format).
_ECS_TASK_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
# An awslogs stream ends in <container>/<task-id>.
_CONTAINER_AND_TASK = 2
_DEFAULT_GROUP = re.compile(DEFAULT_LOG_GROUP_PATTERN)
# Log groups, streams and tag values remembered from invocation to invocation (a few hundred kB
# for each thousand at most).
_REMEMBERED_NAMES = 1024
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

    def ddtags(self, extra: Iterable[str] = (), *, service: bool = True) -> str:
        """The ``ddtags`` attribute: derived tags then the user's ``DD_TAGS``, comma-separated.

        One ``service:`` tag at most: the user's when ``extra`` has one, else
        the derived one; none at all with ``service=False`` (for an entry whose
        app names its own service). Remembered for the last streams (each
        record's entries need it).
        """
        return _ddtags(self, tuple(extra), service)

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


@functools.lru_cache(maxsize=_REMEMBERED_NAMES)
def _ddtags(tags: StreamTags, extra: tuple[str, ...], service: bool) -> str:
    """:meth:`StreamTags.ddtags`."""
    derived = tags.as_tags()
    if not service or service_tag(extra) is not None:
        derived = tuple(tag for tag in derived if not tag.startswith("service:"))
    if not service:
        extra = tuple(tag for tag in extra if not tag.startswith("service:"))
    return ",".join((*derived, *extra))


def normalize_tag(tag: str, *, value_only: bool = False) -> str:
    """``tag`` as Datadog stores it ("" when nothing is left), by Datadog's tag rules.

    Lower-cased; letters (any script), digits, ``-``, ``:``, ``.``, ``/`` kept;
    every run of other characters (``_`` included) one ``_``; leading
    characters before the first letter dropped (unless ``value_only``: a tag
    value may start with a digit); trailing ``_`` and ``:`` dropped; at most
    200 characters. This follows the Datadog Agent's ``NormalizeTag``.
    """
    if len(tag) <= TAG_MAX_CHARS and (_NORMAL_VALUE if value_only else _NORMAL_TAG).fullmatch(tag) and tag[-1:] != ":":
        return tag
    out: list[str] = []
    pending_cut = False
    for written in tag:
        if len(out) >= TAG_MAX_CHARS:
            break
        char = written
        if written.isupper():
            # Lower-cased only when that keeps its UTF-8 width, as the Agent does (İ stays).
            lower = written.lower()
            if len(lower) == 1 and len(lower.encode("utf-8", "surrogatepass")) == len(
                written.encode("utf-8", "surrogatepass")
            ):
                char = lower
        if char.isalpha() or (char == ":" and out):
            pass
        elif not out and not value_only:
            continue  # a tag starts with a letter
        elif not (char.isdecimal() or char in _TAG_PUNCTUATION):
            pending_cut = True
            continue
        if pending_cut:
            if out:
                out.append("_")
            pending_cut = False
        out.append(char)
    return "".join(out)[:TAG_MAX_CHARS].rstrip("_:")


def clean_tag_value(value: str) -> str | None:
    """A tag value as Datadog keeps it (:func:`normalize_tag` of a value); None if nothing is left."""
    return normalize_tag(value.strip(), value_only=True) or None


def service_tag(tags: Iterable[str]) -> str | None:
    """The value of the first ``service:`` tag in ``tags``, or None."""
    for tag in tags:
        if tag.startswith("service:") and len(tag) > len("service:"):
            return tag[len("service:") :]
    return None


def user_tags(tags: Iterable[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """``DD_TAGS`` as Datadog will store it: each tag normalised, empties and duplicates dropped.

    Returns the tags and, for each tag that changed, what it became
    (``"(dropped)"`` when nothing is left), so the caller can say so once.
    """
    kept: list[str] = []
    changed: dict[str, str] = {}
    for tag in tags:
        normal = normalize_tag(tag)
        if normal != tag:
            changed[tag] = normal or "(dropped)"
        if normal and normal not in kept:
            kept.append(normal)
    return tuple(kept), changed


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
    fields = dict(_group_fields(log_group, group_pattern))
    stream_match = stream_pattern.search(log_stream)
    if stream_match:
        fields.update(filter(_value_of, stream_match.groupdict().items()))  # the groups that matched something
    else:
        fields.update(_stream_fallback(log_stream))
    # System, service and application repeat from stream to stream: their cleaned values are remembered.
    return StreamTags(
        system=_clean_repeating("system", fields.get("system")),
        service=_clean_repeating("service", fields.get("service")),
        application=_clean_repeating("application", fields.get("application")),
        task=_clean("task", fields.get("task")),
    )


@functools.lru_cache(maxsize=_REMEMBERED_NAMES)
def remembered_tags(
    log_group: str, log_stream: str, group_pattern: re.Pattern[str], stream_pattern: re.Pattern[str]
) -> StreamTags:
    """:func:`derive_tags`, remembered for the last 1,024 streams: a warm Lambda sees the same streams again."""
    return derive_tags(log_group, log_stream, group_pattern=group_pattern, stream_pattern=stream_pattern)


@functools.lru_cache(maxsize=_REMEMBERED_NAMES)
def _group_fields(log_group: str, pattern: re.Pattern[str]) -> tuple[tuple[str, str | None], ...]:
    """What a log group's name says (every stream of the group shares it), remembered per group."""
    group_match = pattern.search(log_group)
    return tuple((group_match.groupdict() if group_match else _group_fallback(log_group)).items())


def _clean(key: str, value: str | None) -> str | None:
    """The value of the tag ``key:value`` as Datadog keeps it (the 200 characters count the key)."""
    if not value:
        return None
    return normalize_tag(f"{key}:{value.strip()}")[len(key) + 1 :] or None


_value_of = operator.itemgetter(1)
_clean_repeating = functools.lru_cache(maxsize=_REMEMBERED_NAMES)(_clean)


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
