"""The exceptions logship raises: one base class, a few subclasses that say what failed."""

from __future__ import annotations


class LogshipError(Exception):
    """Base class of every error logship raises on purpose."""


class ConfigError(LogshipError):
    """A setting is missing or malformed; the message names the variable."""


class DecodeError(LogshipError):
    """A Firehose record is not a CloudWatch Logs subscription payload."""


class DeliveryError(LogshipError):
    """Datadog did not accept logs and they could not be kept elsewhere."""


class AuthError(DeliveryError):
    """Datadog refused the API key (401/403), or reading it failed for a passing reason.

    The message names the key's source, never the key.
    """


class ReingestError(LogshipError):
    """Records cannot be put into a stream for a reason no retry can fix; the message names the stream and why."""


class DeadLetterError(LogshipError):
    """A dead letter could not be written or read."""


class TransportError(LogshipError):
    """A request got no answer: refused, reset, timed out, name not resolved. The message names the host."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


class ApiError(LogshipError):
    """Datadog's API refused a request or answered an error; the message names the call, the status and the answer.

    ``status`` is the HTTP status (None when there was no answer).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
