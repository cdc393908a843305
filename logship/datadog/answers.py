"""What Datadog's answer to a request means for the entries in it: one classification for every sender.

Codes from Datadog's logs intake reference: 202 accepted; 400 bad payload;
401 missing key; 403 invalid key; 408 timeout; 413 payload too large; 429
rate limited; 5xx retry later. No answer at all (refused, reset, timed out)
is retried like a 5xx.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from http import HTTPStatus


class Answer(enum.Enum):
    """What to do with the entries of a request after its answer."""

    #: 2xx: Datadog has them.
    ACCEPTED = "accepted"
    #: 408, 425, 429, 5xx or no answer: send the same request again after a wait.
    RETRY = "retry"
    #: 400, 413: halve the request until the offending entry is alone, then give it up.
    SPLIT = "split"
    #: 401, 403: the API key is missing or refused; refetch it once, then stop.
    KEY = "key"
    #: Anything else (404: a wrong URL): no retry can help.
    FINAL = "final"


_RETRY = frozenset({HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_EARLY, HTTPStatus.TOO_MANY_REQUESTS})
_SPLIT = frozenset({HTTPStatus.BAD_REQUEST, HTTPStatus.REQUEST_ENTITY_TOO_LARGE})
_KEY = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN})


def classify(status: int | None) -> Answer:
    """The :class:`Answer` for an HTTP ``status``; None means no answer came."""
    if status is None:
        return Answer.RETRY
    if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
        return Answer.ACCEPTED
    if status in _RETRY or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return Answer.RETRY
    if status in _SPLIT:
        return Answer.SPLIT
    if status in _KEY:
        return Answer.KEY
    return Answer.FINAL


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds) or ``X-Ratelimit-Reset``; None if absent or unreadable."""
    for name in ("retry-after", "x-ratelimit-reset"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(float(value), 0.0)
        except ValueError:
            continue
    return None
