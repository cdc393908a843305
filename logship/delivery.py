"""The result of sending one message (a Datadog event, a Slack message) to one receiver.

Shared by the clients that send one message at a time
(:mod:`logship.datadog.events`, :mod:`logship.slack`), so the ops events
orchestrator handles every sink the same way. The logs intake, which sends
batches, has its own :class:`~logship.datadog.logs.DeliveryReport`.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one message.

    - ``delivered``: the receiver answered 2xx.
    - ``attempts``: requests made (the first counts).
    - ``status``: the last HTTP status; None when no answer came.
    - ``error``: why it was not delivered, for logs and dead letters; it never
      holds a secret (a key, a webhook URL).
    - ``final``: the receiver refused the message itself (400 and the like), so
      sending it again as it is cannot help; False when time or attempts ran out.
    """

    delivered: bool
    attempts: int
    status: int | None = None
    error: str = ""
    final: bool = False
