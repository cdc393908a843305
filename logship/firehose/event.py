"""The Firehose transformation event and response, as small read-only types.

Firehose hands the Lambda ``{"invocationId", "deliveryStreamArn", "region",
"records": [{"recordId", "data", ...}]}`` and expects back one
``{"recordId", "result", "data"?, "metadata"?}`` per input record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from logship.errors import DecodeError

Result = Literal["Ok", "Dropped", "ProcessingFailed"]


@dataclasses.dataclass(frozen=True, slots=True)
class FirehoseRecord:
    """One input record: its id, base64 payload, and the Kinesis partition key when there is one."""

    record_id: str
    data: str
    partition_key: str | None = None


@dataclasses.dataclass(frozen=True)
class FirehoseEvent:
    """A Firehose data-transformation invocation."""

    records: tuple[FirehoseRecord, ...]
    delivery_stream_arn: str = ""
    region: str | None = None
    source_kinesis_stream_arn: str | None = None
    invocation_id: str = ""

    @property
    def delivery_stream_name(self) -> str:
        """The delivery stream's name, the last part of its ARN."""
        return self.delivery_stream_arn.rsplit("/", 1)[-1]

    @property
    def source_stream_name(self) -> str | None:
        """The source Kinesis data stream's name, when a data stream feeds the delivery stream."""
        if not self.source_kinesis_stream_arn:
            return None
        return self.source_kinesis_stream_arn.rsplit("/", 1)[-1]

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> FirehoseEvent:
        """Read a Firehose event; raise DecodeError if a record has no usable ``recordId``.

        A record without a recordId cannot be answered, so that is the one fault
        that fails the invocation. A record with a missing or non-string ``data``
        is kept (with empty data) and fails on its own when decoded.
        """
        raw_records = event.get("records")
        if not isinstance(raw_records, list):
            raise DecodeError("event has no 'records' list: not a Firehose transformation event")
        records = []
        seen: set[str] = set()
        for position, raw in enumerate(raw_records):
            record_id = raw.get("recordId") if isinstance(raw, Mapping) else None
            if not isinstance(record_id, str) or not record_id:
                raise DecodeError(f"record {position} has no recordId")
            if record_id in seen:
                raise DecodeError(f"recordId {record_id!r} appears twice in the event")
            seen.add(record_id)
            data = raw.get("data")
            metadata = raw.get("kinesisRecordMetadata")
            partition_key = metadata.get("partitionKey") if isinstance(metadata, Mapping) else None
            records.append(
                FirehoseRecord(
                    record_id=record_id,
                    data=data if isinstance(data, str) else "",
                    partition_key=partition_key if isinstance(partition_key, str) else None,
                )
            )
        arn = event.get("deliveryStreamArn")
        source = event.get("sourceKinesisStreamArn")
        region = event.get("region")
        return cls(
            records=tuple(records),
            delivery_stream_arn=arn if isinstance(arn, str) else "",
            region=region if isinstance(region, str) and region else None,
            source_kinesis_stream_arn=source if isinstance(source, str) and source else None,
            invocation_id=str(event.get("invocationId", "")),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class RecordResult:
    """What logship answers for one record. ``data`` is base64 text, present only for Ok."""

    record_id: str
    result: Result
    data: str | None = None
    partition_keys: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as Firehose expects it in the response."""
        out: dict[str, Any] = {"recordId": self.record_id, "result": self.result}
        if self.data is not None:
            out["data"] = self.data
        if self.partition_keys is not None:
            out["metadata"] = {"partitionKeys": dict(self.partition_keys)}
        return out
