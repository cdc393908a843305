"""What leaves for Datadog: include/exclude filters and redaction of the message text.

Off unless configured; every pattern is compiled once, when settings are read.
Applies to what is sent to Datadog only: S3 keeps the log as the app wrote it.
"""

from __future__ import annotations

import dataclasses
import re

#: What a user rule puts in place of a match unless it says otherwise.
DEFAULT_REPLACEMENT = "[REDACTED]"


@dataclasses.dataclass(frozen=True)
class RedactRule:
    """One redaction: every match of ``pattern`` becomes ``replacement``."""

    pattern: re.Pattern[str]
    replacement: str = DEFAULT_REPLACEMENT

# Built-in rules, as the Datadog Forwarder offers (REDACT_EMAIL, REDACT_IP).
BUILTIN_RULES: dict[str, RedactRule] = {
    "email": RedactRule(re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[REDACTED_EMAIL]"),
    "ipv4": RedactRule(
        re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"),
        "[REDACTED_IP]",
    ),
}


@dataclasses.dataclass(frozen=True)
class MessageFilter:
    """Decides whether a message goes to Datadog and rewrites what it must hide."""

    rules: tuple[RedactRule, ...] = ()
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None

    @classmethod
    def build(
        cls,
        *,
        builtin: frozenset[str] = frozenset(),
        rules: tuple[RedactRule, ...] = (),
        include: re.Pattern[str] | None = None,
        exclude: re.Pattern[str] | None = None,
    ) -> MessageFilter | None:
        """The filter asked for (``builtin`` names :data:`BUILTIN_RULES`), or None when nothing is (the fast path)."""
        chosen = tuple(BUILTIN_RULES[name] for name in sorted(builtin)) + rules
        if not chosen and include is None and exclude is None:
            return None
        return cls(chosen, include, exclude)

    def apply(self, message: str) -> str | None:
        """The message to send (scrubbed), or None when the filters leave it out."""
        return self.scrub(message) if self.keeps(message) else None

    def keeps(self, message: str) -> bool:
        """True when the message should be sent: matches include (if set) and not exclude."""
        if self.include is not None and self.include.search(message) is None:
            return False
        return self.exclude is None or self.exclude.search(message) is None

    def scrub(self, message: str) -> str:
        """The message with every redaction rule applied, in order."""
        for rule in self.rules:
            message = rule.pattern.sub(rule.replacement, message)
        return message
