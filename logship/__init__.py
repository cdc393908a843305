"""logship: ship CloudWatch Logs from a Firehose transformation Lambda to Datadog and S3.

The public API, for the Lambda and for other pipelines:

- :class:`Logship` handles a Firehose event (``handle``: the response;
  ``process``: the response and an :class:`InvocationSummary`), built from
  :class:`Settings` (``Settings.from_env()``).
- The steps, each pure: :func:`decode_record` reads a record's CloudWatch Logs
  subscription message into a :class:`LogBatch`; :func:`derive_tags` reads
  tags from its log group and stream; :func:`build_entries` makes Datadog
  entries; :func:`build_output` what S3 keeps; :func:`transform` decides every
  record's :class:`RecordOutcome` in one pass.
- Sending: :class:`DatadogSender` posts entries to the logs intake;
  :func:`replay` sends a dead letter again; :func:`redrive` puts the records
  Firehose gave up on (its error prefix) back into the stream.
- Schedules: :func:`longest_gap` is the longest time between two runs of an
  EventBridge or Scheduler schedule expression (``rate``, ``cron``), what a
  scheduled job's liveness is measured against (:mod:`logship.cronwatch`).
- Errors: :class:`LogshipError` and its subclasses.

Importing logship does no I/O. :func:`longest_gap` is imported at its first use
(``logship.longest_gap``), so the log path's cold start does not pay for the
schedule parser. The development kit (intake emulator, local AWS,
synthetic events) is :mod:`logship.testing`, which the Lambda never imports.
"""

from typing import TYPE_CHECKING, Any

from logship.datadog.logs import DatadogSender, DeliveryReport, LogsIntakeOptions
from logship.deadletter import replay
from logship.errors import (
    AuthError,
    ConfigError,
    DeadLetterError,
    DecodeError,
    DeliveryError,
    LogshipError,
    TransportError,
)
from logship.firehose.app import Invocation, InvocationSummary, Logship
from logship.firehose.entries import EntryOptions, build_entries
from logship.firehose.s3_output import OutputOptions, build_output
from logship.firehose.subscription import LogBatch, LogEvent, decode_record
from logship.firehose.tags import StreamTags, derive_tags
from logship.firehose.transform import RecordOutcome, TransformOptions, transform
from logship.redrive import redrive
from logship.settings import Settings

__all__ = [
    "AuthError",
    "ConfigError",
    "DatadogSender",
    "DeadLetterError",
    "DecodeError",
    "DeliveryError",
    "DeliveryReport",
    "EntryOptions",
    "Invocation",
    "InvocationSummary",
    "LogBatch",
    "LogEvent",
    "LogsIntakeOptions",
    "Logship",
    "LogshipError",
    "OutputOptions",
    "RecordOutcome",
    "Settings",
    "StreamTags",
    "TransformOptions",
    "TransportError",
    "build_entries",
    "build_output",
    "decode_record",
    "derive_tags",
    "longest_gap",
    "redrive",
    "replay",
    "transform",
]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from logship.cronwatch.schedule import longest_gap

# Imported at first use: the cron watch modules would add ~35 ms to the Firehose Lambda's cold start.
_LAZY = {"longest_gap": "logship.cronwatch.schedule"}


def __getattr__(name: str) -> Any:
    """``logship.longest_gap``, imported from :mod:`logship.cronwatch.schedule` when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'logship' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
