"""Total readers over untyped JSON: a missing field or one of an unexpected type gives a default, never raises.

AWS adds fields to its events and SNS carries whatever was published, so the
parsers read every field through these helpers instead of indexing dicts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

EMPTY: Mapping[str, Any] = {}
# A longer digit string is not a count, a version or an exit code: leave it a string.
_MAX_INTEGER_DIGITS = 30


def mapping(value: Any, key: str) -> Mapping[str, Any]:
    """``value[key]`` when both are JSON objects; an empty mapping otherwise."""
    if isinstance(value, Mapping):
        found = value.get(key)
        if isinstance(found, Mapping):
            return found
    return EMPTY


def text(value: Any, key: str, default: str = "") -> str:
    """``value[key]`` as a string: strings as given, numbers and booleans written out; ``default`` otherwise."""
    if not isinstance(value, Mapping):
        return default
    return as_text(value.get(key), default)


def as_text(found: Any, default: str = "") -> str:
    """A scalar JSON value as a string (``1.0`` reads ``1``); ``default`` for null, objects and arrays."""
    if isinstance(found, str):
        return found
    if isinstance(found, bool):
        return "true" if found else "false"
    number = as_integer(found)
    if number is not None:
        return str(number)
    if isinstance(found, float) and math.isfinite(found):
        return repr(found)
    return default


def integer(value: Any, key: str) -> int | None:
    """``value[key]`` as an int: ints, integral floats (AWS writes ``1.0``) and digit strings; None otherwise."""
    if not isinstance(value, Mapping):
        return None
    return as_integer(value.get(key))


def as_integer(found: Any) -> int | None:
    """A JSON value as an int when it is one in substance; None for anything else (booleans included)."""
    if isinstance(found, bool):
        return None
    if isinstance(found, int):
        return found
    if isinstance(found, float) and math.isfinite(found) and found.is_integer():
        return int(found)
    if isinstance(found, str):
        stripped = found.strip()
        digits = stripped.removeprefix("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_INTEGER_DIGITS:
            return int(stripped)
    return None


def items(value: Any, key: str) -> tuple[Mapping[str, Any], ...]:
    """The JSON objects in the array ``value[key]``; other elements and non-arrays are left out."""
    if not isinstance(value, Mapping):
        return ()
    found = value.get(key)
    if not isinstance(found, list):
        return ()
    return tuple(element for element in found if isinstance(element, Mapping))


def strings(value: Any, key: str) -> tuple[str, ...]:
    """The strings in the array ``value[key]``; other elements and non-arrays are left out."""
    if not isinstance(value, Mapping):
        return ()
    found = value.get(key)
    if not isinstance(found, list):
        return ()
    return tuple(element for element in found if isinstance(element, str))
