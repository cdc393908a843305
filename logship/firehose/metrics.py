"""An invocation's summary as CloudWatch metrics: one EMF line, namespace ``logship``, per delivery stream.

The template's alarms read ``RecordsProcessingFailed``, ``EntriesDeadLettered``
and ``ReingestFailedRecords``: those names are fixed. Every metric has the one
dimension ``DeliveryStream`` (the name in the event's ``deliveryStreamArn``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logship import emf

if TYPE_CHECKING:
    from logship.firehose.app import InvocationSummary

NAMESPACE = "logship"
DIMENSION = "DeliveryStream"
#: The dimension's value for an event without a delivery stream ARN (a hand-made one).
UNKNOWN_STREAM = "unknown"

#: (metric name, summary field, CloudWatch unit), in the order they are written.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("Records", "records", "Count"),
    ("RecordsOk", "ok", "Count"),
    ("RecordsDropped", "dropped", "Count"),
    ("RecordsProcessingFailed", "processing_failed", "Count"),
    ("RecordsReingested", "reingested_records", "Count"),
    ("EventsToS3", "events_to_s3", "Count"),
    ("EventsReingested", "events_reingested", "Count"),
    ("EventsNotJson", "events_not_json", "Count"),
    ("EventsFiltered", "events_filtered", "Count"),
    ("ReplacedCharacters", "replaced_characters", "Count"),
    ("EntriesAccepted", "dd_accepted", "Count"),
    ("EntriesRejected", "dd_rejected", "Count"),
    ("EntriesUndelivered", "dd_undelivered", "Count"),
    ("EntriesDeadLettered", "dd_dead_lettered", "Count"),
    ("DatadogRequests", "dd_requests", "Count"),
    ("DatadogRetries", "dd_retries", "Count"),
    ("ReingestCalls", "reingest_calls", "Count"),
    ("ReingestFailedRecords", "reingest_failed", "Count"),
    ("ResponseBytes", "response_bytes", "Bytes"),
    ("TransformTime", "ms_transform", "Milliseconds"),
    ("ReingestTime", "ms_reingest", "Milliseconds"),
    ("DatadogWaitTime", "ms_datadog_wait", "Milliseconds"),
    ("InvocationTime", "ms_total", "Milliseconds"),
)


def invocation_metrics(summary: InvocationSummary, *, timestamp_ms: int) -> str:
    """The EMF line for one invocation: every metric of :data:`METRICS`, the invocation id as a log field."""
    metrics = [emf.Metric(name, unit, getattr(summary, field)) for name, field, unit in METRICS]
    return emf.line(
        NAMESPACE,
        {DIMENSION: summary.delivery_stream or UNKNOWN_STREAM},
        metrics,
        timestamp_ms=timestamp_ms,
        properties={"invocationId": summary.invocation_id},
    )
