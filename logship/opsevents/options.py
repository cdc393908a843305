"""Routing options for ops events, and the parsers settings uses to read them from the environment.

:class:`RoutingOptions` is a small frozen value; ``logship.settings`` builds it
once at cold start with :func:`parse_slack_severities` and
:func:`parse_ignore_pattern`, which raise :class:`~logship.errors.ConfigError`
naming the variable.
"""

from __future__ import annotations

import dataclasses
import re

from logship.errors import ConfigError
from logship.opsevents.model import OpsEvent, Severity

SLACK_SEVERITIES_ENV = "LOGSHIP_SLACK_SEVERITIES"
EVENTS_IGNORE_ENV = "LOGSHIP_EVENTS_IGNORE"
DEFAULT_SLACK_SEVERITIES = frozenset({Severity.ERROR, Severity.WARNING})
# A pattern longer than this is a mistake (a pasted file), not a list of names.
IGNORE_PATTERN_MAX_CHARS = 2_000


@dataclasses.dataclass(frozen=True, slots=True)
class RoutingOptions:
    """What becomes an ops event and where it goes.

    - ``slack_severities``: the severities sent to Slack (Datadog gets every event).
    - ``ignore``: a pattern searched in the pipeline, project, cluster, task family,
      service and state machine names; a match skips the event for both sinks.
    - ``extra_tags``: tags added to every event, after the user's ``DD_TAGS``.
    - ``skip_pipeline_builds``: leave builds CodePipeline started (initiator
      ``codepipeline/...``) to the pipeline's own events.
    - ``pipeline_stages_and_actions``: report CodePipeline stage and action changes
      too, not only pipeline executions.
    """

    slack_severities: frozenset[Severity] = DEFAULT_SLACK_SEVERITIES
    ignore: re.Pattern[str] | None = None
    extra_tags: tuple[str, ...] = ()
    skip_pipeline_builds: bool = True
    pipeline_stages_and_actions: bool = False

    def goes_to_slack(self, event: OpsEvent) -> bool:
        """True when ``event``'s severity is one Slack should hear about."""
        return event.severity in self.slack_severities

    def ignores(self, names: tuple[str, ...]) -> str | None:
        """The first of ``names`` the ignore pattern finds a match in, or None."""
        if self.ignore is None:
            return None
        return next((name for name in names if name and self.ignore.search(name)), None)


def parse_slack_severities(value: str | None, *, variable: str = SLACK_SEVERITIES_ENV) -> frozenset[Severity]:
    """``error,warning`` -> those severities; unset or blank -> the default (error and warning).

    ``none`` sends nothing to Slack and ``all`` sends every severity. Names are
    case-insensitive; an unknown name raises ConfigError naming ``variable``.
    """
    if value is None or not value.strip():
        return DEFAULT_SLACK_SEVERITIES
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    if names == ["none"]:
        return frozenset()
    if names == ["all"]:
        return frozenset(Severity)
    known = {severity.value: severity for severity in Severity}
    unknown = [name for name in names if name not in known]
    if unknown:
        choices = ", ".join(severity.value for severity in Severity)
        raise ConfigError(
            f"{variable}: unknown severity {unknown[0]!r}; use a comma-separated list of {choices}, or 'all' or 'none'"
        )
    return frozenset(known[name] for name in names)


def parse_ignore_pattern(value: str | None, *, variable: str = EVENTS_IGNORE_ENV) -> re.Pattern[str] | None:
    """A regular expression searched in resource names; unset or blank -> None (nothing ignored).

    Raises ConfigError naming ``variable`` when the pattern does not compile, is
    over :data:`IGNORE_PATTERN_MAX_CHARS` characters, or matches the empty string
    (it could match every name).
    """
    if value is None or not value.strip():
        return None
    if len(value) > IGNORE_PATTERN_MAX_CHARS:
        raise ConfigError(f"{variable}: the pattern is {len(value):,} characters, over {IGNORE_PATTERN_MAX_CHARS:,}")
    try:
        pattern = re.compile(value)
    except re.error as err:
        raise ConfigError(f"{variable}: not a regular expression ({err})") from err
    if pattern.search("") is not None:
        raise ConfigError(
            f"{variable}: the pattern {value!r} matches an empty string, so it can match every name; "
            "narrow it (for example ^test-)"
        )
    return pattern
