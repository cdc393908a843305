"""The retry policy every sink shares: capped exponential backoff with full jitter, within a deadline.

Datadog requests and re-ingest calls both retry with :class:`RetryPolicy`;
each operation keeps its own :class:`Attempts`, which says whether one more
try fits the attempts and the time left, and sleeps until then. A server's
``Retry-After`` (seconds) replaces the backoff when it gives one.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable

# Jitter, not cryptography: one generator for every policy in the process.
_RNG = random.Random()  # noqa: S311


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry: at most ``max_attempts`` tries in all.

    The wait before try ``n + 1`` is uniform in ``[0, min(cap, base * 2**n)]``
    seconds ("full jitter", AWS Architecture Blog, *Exponential Backoff And
    Jitter*), or the server's ``Retry-After`` capped at ``cap_seconds``.
    """

    max_attempts: int = 10
    base_seconds: float = 0.2
    cap_seconds: float = 10.0

    def backoff(self, attempt: int, rng: random.Random = _RNG) -> float:
        """Seconds to wait after the ``attempt``-th failed try (1-based)."""
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * (2**attempt)))

    def start(
        self,
        deadline: float = float("inf"),
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Attempts:
        """The attempts of one operation that must end by ``deadline`` (a ``clock`` reading)."""
        return Attempts(self, deadline, sleep, clock)


class Attempts:
    """The tries of one operation: call :meth:`wait` after each failed try."""

    __slots__ = ("_clock", "_deadline", "_policy", "_sleep", "made", "stopped_by")

    def __init__(
        self, policy: RetryPolicy, deadline: float, sleep: Callable[[float], None], clock: Callable[[], float]
    ) -> None:
        self._policy = policy
        self._deadline = deadline
        self._sleep = sleep
        self._clock = clock
        #: Tries made so far (the first counts).
        self.made = 1
        #: Why :meth:`wait` last said no: ``"attempts"`` or ``"time"``; None while it says yes.
        self.stopped_by: str | None = None

    def remaining(self) -> float:
        """Seconds left before the deadline (negative when past it)."""
        return self._deadline - self._clock()

    def wait(self, retry_after: float | None = None) -> bool:
        """Sleep before the next try; False (without sleeping) when no try is left in attempts or time."""
        if self.made >= self._policy.max_attempts:
            self.stopped_by = "attempts"
            return False
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), self._policy.cap_seconds)
        else:
            delay = self._policy.backoff(self.made)
        if self._clock() + delay >= self._deadline:
            self.stopped_by = "time"
            return False
        self._sleep(delay)
        self.made += 1
        return True
