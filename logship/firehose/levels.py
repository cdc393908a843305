"""Level step: the Datadog status of a JSON log, from the level field its logging library wrote.

Datadog knows nine statuses (:data:`STATUSES`). Apps name their level in many
ways; :data:`LEVEL_FIELDS` lists the fields read, first found first, with the
libraries that write each:

- ``status``, ``level``, ``loglevel``, ``severity`` (structlog, pino and
  bunyan (numbers 10-60), zap, logrus, slog, zerolog, winston, log4j2 and
  logback JSON layouts, Lambda Powertools, GELF (syslog numbers 0-7), Google
  Cloud's ``severity``, Rust tracing);
- ``log.level`` flat or nested (ECS logging, every language);
- ``levelname`` (Python ``logging`` with python-json-logger), ``level_name``
  (PHP Monolog);
- ``Level`` (Serilog ``JsonFormatter``, log4net), ``@l`` (Serilog compact
  JSON, CLEF), ``LogLevel`` (.NET ``JsonConsoleFormatter``), ``log_level``,
  ``lvl`` (log15);
- ``severity_text``, ``SeverityText``, ``severityText`` (OpenTelemetry);
- ``syslog.severity`` flat or nested (Datadog's own default status attribute);
- numbers only: ``levelno`` (Python: 10 debug ... 50 critical),
  ``severity_number``, ``SeverityNumber``, ``severityNumber`` (OpenTelemetry
  1-24);
- loguru's ``serialize=True`` record: ``record.level.name``.

Names are matched case-insensitively, with terminal colour codes (winston's
``colorize``) and numeric offsets (slog's ``ERROR+2``, OpenTelemetry's
``INFO4``) ignored; any other text is read as Datadog's status remapper reads
it (by its first letters,
https://docs.datadoghq.com/logs/log_configuration/processors/log_status_remapper/),
and text that matches none of its rules is no level. A number in ``status``,
or a numeric string there, is an HTTP status code, never a level.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: Datadog's log statuses (syslog severities, plus ``ok``).
STATUSES = frozenset({"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug", "ok"})

# Spellings (lower-cased) that logging libraries and standards write, and their status.
_NAMES = {
    # syslog (RFC 5424) and its abbreviations
    "emerg": "emergency",
    "emergency": "emergency",
    "panic": "emergency",
    "alert": "alert",
    "crit": "critical",
    "critical": "critical",
    "err": "error",
    "error": "error",
    "warn": "warning",
    "warning": "warning",
    "notice": "notice",
    "info": "info",
    "informational": "info",
    "debug": "debug",
    # fatal: zap, logrus, zerolog, log4j, Serilog, pino, OpenTelemetry; dpanic: zap
    "fatal": "critical",
    "dpanic": "critical",
    # .NET and Serilog
    "information": "info",
    "verbose": "debug",
    "trace": "debug",
    # java.util.logging
    "severe": "error",
    "config": "debug",
    "fine": "debug",
    "finer": "debug",
    "finest": "debug",
    # winston's npm levels
    "http": "info",
    "silly": "debug",
    # log15's four-letter names
    "eror": "error",
    "dbug": "debug",
    # Google Cloud Logging: DEFAULT is "no level assigned", which Datadog shows as info
    # (its own rules would read the leading "d" as debug).
    "default": "info",
    # loguru's SUCCESS, and plain ok
    "success": "ok",
    "ok": "ok",
}

#: Exact spellings as written (lower, upper, capitalised): one dict lookup on the hot path.
FAST_LEVELS = {
    spelling: status for name, status in _NAMES.items() for spelling in (name, name.upper(), name.capitalize())
}

Scale = Callable[[int], "str | None"]

# Syslog severities 0-7 (GELF, and Datadog's own rule), and pino/bunyan's 10-60.
_SYSLOG_AND_PINO = {
    0: "emergency",
    1: "alert",
    2: "critical",
    3: "error",
    4: "warning",
    5: "notice",
    6: "info",
    7: "debug",
    10: "debug",
    20: "debug",
    30: "info",
    40: "warning",
    50: "error",
    60: "critical",
}


# Syslog severities: 0 (emergency) to 7 (debug), RFC 5424.
_SYSLOG_DEBUG = 7
# loguru's SUCCESS level number, between Python's INFO (20) and WARNING (30).
_LOGURU_SUCCESS = 25
# OpenTelemetry SeverityNumber: 1 (TRACE) to 24 (FATAL4); 0 is UNSPECIFIED.
_OTEL_FATAL4 = 24
# Numeric text longer than this is no level (and is not worth converting).
_LEVEL_MAX_DIGITS = 9


def _syslog_or_pino(number: int) -> str | None:
    return _SYSLOG_AND_PINO.get(number)


def _syslog(number: int) -> str | None:
    return _SYSLOG_AND_PINO.get(number) if 0 <= number <= _SYSLOG_DEBUG else None


def _python(number: int) -> str | None:
    """Python ``logging`` levels: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL; custom levels by range."""
    if number <= 0:  # NOTSET
        return None
    if number == _LOGURU_SUCCESS:
        return "ok"
    for floor, status in ((50, "critical"), (40, "error"), (30, "warning"), (20, "info")):
        if number >= floor:
            return status
    return "debug"


def _opentelemetry(number: int) -> str | None:
    """OpenTelemetry SeverityNumber: 1-8 TRACE/DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL."""
    if not 1 <= number <= _OTEL_FATAL4:
        return None
    return ("debug", "debug", "info", "warning", "error", "critical")[(number - 1) // 4]


#: Flat level fields, in the order they are read, each with how it reads a number.
LEVEL_FIELDS: tuple[tuple[str, Scale], ...] = (
    ("level", _syslog_or_pino),
    ("loglevel", _syslog_or_pino),
    ("severity", _syslog_or_pino),
    ("log.level", _syslog_or_pino),
    ("levelname", _python),
    ("level_name", _syslog_or_pino),
    ("Level", _syslog_or_pino),
    ("@l", _syslog_or_pino),
    ("LogLevel", _syslog_or_pino),
    ("log_level", _syslog_or_pino),
    ("lvl", _syslog_or_pino),
    ("severity_text", _opentelemetry),
    ("SeverityText", _opentelemetry),
    ("severityText", _opentelemetry),
    ("syslog.severity", _syslog),
    ("levelno", _python),
    ("severity_number", _opentelemetry),
    ("SeverityNumber", _opentelemetry),
    ("severityNumber", _opentelemetry),
)
#: Nested level fields, read after the flat ones: ECS, Datadog's syslog, loguru.
NESTED_LEVEL_FIELDS: tuple[tuple[tuple[str, ...], Scale], ...] = (
    (("log", "level"), _syslog_or_pino),
    (("syslog", "severity"), _syslog),
    (("record", "level", "name"), _python),
)
#: Every top-level name that can carry a level (the nested fields by their first name).
FIELD_NAMES = frozenset({"status"} | {name for name, _ in LEVEL_FIELDS} | {path[0] for path, _ in NESTED_LEVEL_FIELDS})

# SGR colour codes, as winston's colorize() and many console formatters write them.
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_DIGITS = frozenset("0123456789")


def level_of(value: object, numbers: Scale = _syslog_or_pino) -> str | None:
    """The Datadog status a level value names, or None when it names none.

    Known spellings are normalised (``WARN`` -> ``warning``, ``fatal`` ->
    ``critical``, ``Information`` -> ``info``); other text is read by
    Datadog's status remapper rules (``alarm`` -> ``alert``); text those rules
    leave out (``bogus``) is no level. Integers, and numeric text, are read by
    ``numbers`` (default: syslog 0-7 and pino/bunyan 10-60); any other value
    is no level.
    """
    if type(value) is str:
        return FAST_LEVELS.get(value) or _level_of_text(value, numbers)
    if type(value) is int:
        return numbers(value)
    return None


def _level_of_text(value: str, numbers: Scale) -> str | None:
    text = _COLOUR.sub("", value).strip().lower() if "\x1b" in value else value.strip().lower()
    if not text:
        return None
    found = _NAMES.get(text)
    if found:
        return found
    if text.isdecimal() and text.isascii() and len(text) <= _LEVEL_MAX_DIGITS:
        return numbers(int(text))
    # A name with a numeric offset: slog's ERROR+2 / INFO-4, OpenTelemetry's INFO2 ... FATAL4.
    base = text.rstrip("0123456789")
    if base != text and base[-1:] in ("+", "-"):
        base = base[:-1]
    if base != text and base in _NAMES:
        return _NAMES[base]
    return _by_datadog_rules(text)


def _by_datadog_rules(text: str) -> str | None:
    """Datadog's status remapper on lower-cased text; None for its "all others" (it shows those as info)."""
    first = text[0]
    if text.startswith("emerg") or first == "f":
        return "emergency"
    if text.startswith("err"):
        return "error"
    return _BY_FIRST_LETTER.get(first)


_BY_FIRST_LETTER = {
    "a": "alert",
    "c": "critical",
    "w": "warning",
    "n": "notice",
    "i": "info",
    "d": "debug",
    "t": "debug",
    "v": "debug",
    "o": "ok",
    "s": "ok",
}


def is_http_code(value: object) -> bool:
    """True for what an app's ``status`` holds when it is an HTTP status code: a number or numeric text."""
    if type(value) is str:
        text = value.strip()
        return bool(text) and text.isascii() and text.isdecimal()
    return type(value) in (int, float)


def status_of(attributes: dict[str, Any]) -> str | None:
    """The status of a JSON log: the first level found in its level fields, or None.

    ``status`` is read first, unless it holds an HTTP code (a number or
    numeric text); then the fields of :data:`LEVEL_FIELDS`, then the nested
    ones of :data:`NESTED_LEVEL_FIELDS`. A field whose value is no level is
    skipped.
    """
    status = attributes.get("status")
    if type(status) is str and not is_http_code(status):
        found = level_of(status)
        if found:
            return found
    for name, numbers in LEVEL_FIELDS:
        value = attributes.get(name)
        if value is not None:
            # The usual spellings in one lookup; level_of for the rest.
            found = (FAST_LEVELS.get(value) if type(value) is str else None) or level_of(value, numbers)
            if found:
                return found
    for path, numbers in NESTED_LEVEL_FIELDS:
        node: Any = attributes
        for name in path:
            node = node.get(name) if type(node) is dict else None
        if node is not None:
            found = level_of(node, numbers)
            if found:
                return found
    return None
