"""logship: ship CloudWatch Logs from a Firehose transformation Lambda to Datadog and S3.

The flow is decode -> tag -> route: :func:`decode_record` reads a Firehose
record, :func:`derive_tags` reads tags from log group and stream names,
:func:`build_entries` makes Datadog entries, :func:`build_output` makes what S3
keeps, and :class:`Logship` wires them, with re-ingest and delivery, for the
Lambda (``handlers.firehose.handler``). Importing logship does no I/O.
"""

from logship.datadog.batching import batch_entries
from logship.datadog.logs import DatadogSender, DeliveryReport, HttpTransport
from logship.deadletter import DeadLetter, replay
from logship.errors import (
    AuthError,
    ConfigError,
    DeadLetterError,
    DecodeError,
    DeliveryError,
    LogshipError,
)
from logship.firehose.app import Logship
from logship.firehose.entries import EntryOptions, build_entries, level_of
from logship.firehose.event import FirehoseEvent, FirehoseRecord, RecordResult
from logship.firehose.reingest import FirehoseReingester, KinesisReingester, Reingester, ReingestItem
from logship.firehose.s3_output import build_output
from logship.firehose.subscription import LogBatch, LogEvent, decode_record, encode_batch
from logship.firehose.tags import StreamTags, derive_tags
from logship.firehose.transform import Plan, apply_reingest, datadog_entries, transform
from logship.secrets import ApiKeyProvider
from logship.settings import Settings

__all__ = [
    "ApiKeyProvider",
    "AuthError",
    "ConfigError",
    "DatadogSender",
    "DeadLetter",
    "DeadLetterError",
    "DecodeError",
    "DeliveryError",
    "DeliveryReport",
    "EntryOptions",
    "FirehoseEvent",
    "FirehoseRecord",
    "FirehoseReingester",
    "HttpTransport",
    "KinesisReingester",
    "LogBatch",
    "LogEvent",
    "Logship",
    "LogshipError",
    "Plan",
    "RecordResult",
    "ReingestItem",
    "Reingester",
    "Settings",
    "StreamTags",
    "apply_reingest",
    "batch_entries",
    "build_entries",
    "build_output",
    "datadog_entries",
    "decode_record",
    "derive_tags",
    "encode_batch",
    "level_of",
    "replay",
    "transform",
]
__version__ = "0.1.0"
