"""``logship redrive``: put the records in Firehose's error prefix back into the stream (see :mod:`logship.redrive`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import orjson


def register(sub: Any) -> None:
    """Add the ``redrive`` subcommand to ``sub``."""
    red = sub.add_parser(
        "redrive",
        help="put records from Firehose's error prefix (s3://bucket/processing-failed/...) back into the stream",
    )
    red.add_argument("uri", help="an error-prefix object, or a prefix: s3://bucket/processing-failed/2026/11/22/")
    target = red.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--delivery-stream", metavar="NAME", help="PutRecordBatch into this delivery stream (Direct PUT)"
    )
    target.add_argument(
        "--kinesis-stream",
        metavar="NAME",
        help="PutRecords into this Kinesis data stream (the delivery stream's source)",
    )
    red.add_argument("--dry-run", action="store_true", help="read and report only: put, delete and tag nothing")
    red.add_argument(
        "--tag",
        action="store_true",
        help="tag each redriven object logship-redrive=done instead of deleting it (later runs skip it)",
    )
    red.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Redrive and print the report; 0 when everything that can succeed was put back, 1 otherwise, 2 on a mistake."""
    from botocore.exceptions import BotoCoreError, ClientError

    from logship.deadletter import parse_s3_uri
    from logship.errors import LogshipError

    try:
        parse_s3_uri(args.uri)
        report = _redrive(args)
    except (LogshipError, ClientError, BotoCoreError) as err:
        print(f"logship redrive: {err}", file=sys.stderr)
        return 2
    print(orjson.dumps(report.__dict__).decode())
    if report.never:
        print(
            f"logship redrive: {report.never} records can never succeed (not CloudWatch Logs messages); "
            "they stay in the error prefix",
            file=sys.stderr,
        )
    return 0 if not report.failed and not report.stuck else 1


def _redrive(args: argparse.Namespace) -> Any:
    import boto3

    from logship.firehose.reingest import FirehoseReingester, KinesisReingester, Reingester
    from logship.jsonlog import configure_logging
    from logship.redrive import redrive
    from logship.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    reingester: Reingester
    if args.kinesis_stream:
        reingester = KinesisReingester(boto3.client("kinesis"), args.kinesis_stream)
    else:
        reingester = FirehoseReingester(boto3.client("firehose"), args.delivery_stream)
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        return redrive(
            args.uri,
            reingester,
            boto3.client("s3"),
            policy=settings.reingest_retry,
            dry_run=args.dry_run,
            tag=args.tag,
            max_decompressed_bytes=settings.transform.max_decompressed_bytes,
            progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()


class _Progress:
    """One line on the terminal, rewritten after each object."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = False

    def __call__(self, report: Any) -> None:
        verb = "to put back" if report.dry_run else "put back"
        self.out.write(
            f"\rredrive: {report.objects} objects, {report.records:,} records, {report.put_back:,} {verb}, "
            f"{report.failed:,} failed, {report.never:,} can never succeed"
        )
        self.out.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.out.write("\n")
            self.out.flush()
