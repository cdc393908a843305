"""A local AWS for the demo and tests: a moto server on 127.0.0.1, and boto3 clients pointed at it.

Needs the ``moto[server]`` package (the ``demo`` extra). Clients get the
endpoint and dummy credentials passed in; nothing is written to
``os.environ``.
"""

from __future__ import annotations

import zlib
from typing import Any

from logship import _gzip

REGION = "us-east-1"


class LocalAws:
    """A moto server in a background thread; ``client(service)`` gives a boto3 client for it."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self._server: Any = None
        self.endpoint = ""

    def start(self) -> LocalAws:
        """Start the server on a free port."""
        import logging

        from moto.server import ThreadedMotoServer

        # The server logs every request through werkzeug; keep the demo's output readable.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for ``service`` on this server, in ``region`` (default: the server's region).

        Each region is a separate world on the server: a test that lists everything of a kind
        (every rule, every cluster) uses a region of its own.
        """
        import boto3

        return boto3.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's documented dummy credentials
        )

    def delivery_stream(self, name: str, bucket: str, prefix: str = "reingested/") -> str:
        """Create a bucket and a Direct PUT delivery stream into it; return the stream ARN."""
        self.client("s3").create_bucket(Bucket=bucket)
        response = self.client("firehose").create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "Prefix": prefix,
            },
        )
        return str(response["DeliveryStreamARN"])

    def delivered_records(self, bucket: str, prefix: str = "reingested/", *, take: bool = False) -> list[bytes]:
        """The records Firehose (moto) delivered to S3, split back into gzip members; ``take`` deletes them.

        moto writes each PutRecordBatch as one object of concatenated record
        bytes; every re-ingested record is one gzip member, so the members are
        the records.
        """
        s3 = self.client("s3")
        keys = sorted(
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        )
        records: list[bytes] = []
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            records.extend(split_gzip_members(body))
            if take:
                s3.delete_object(Bucket=bucket, Key=key)
        return records


def split_gzip_members(data: bytes) -> list[bytes]:
    """Split concatenated gzip members into the compressed bytes of each member."""
    members = []
    while data:
        inflater = zlib.decompressobj(_gzip.WBITS)
        inflater.decompress(data)
        consumed = len(data) - len(inflater.unused_data)
        members.append(data[:consumed])
        data = inflater.unused_data
    return members
