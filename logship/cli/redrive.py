"""``logship redrive``: put the records in Firehose's error prefix back into the stream (see :mod:`logship.redrive`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from logship.cli import arguments
from logship.cli.failures import CommandError, nothing_found
from logship.cli.progress import Progress

#: AWS variables this command reads besides logship's own (botocore's names).
AWS_ENV_NAMES = arguments.aws_env_names("S3", "FIREHOSE", "KINESIS")


def register(sub: Any) -> None:
    """Add the ``redrive`` subcommand to ``sub``."""
    from logship.settings import LOGSHIP_LOG_LEVEL, LOGSHIP_MAX_DECOMPRESSED_BYTES, LOGSHIP_REINGEST_MAX_ATTEMPTS

    red = arguments.add_command(
        sub,
        "redrive",
        summary="put records from Firehose's error prefix (s3://bucket/processing-failed/...) back into the stream",
        description=(
            "Read Firehose's error-prefix objects (every object under s3://bucket/prefix, or one object), decode\n"
            "each document's rawData and put the original record back into the delivery stream (PutRecordBatch),\n"
            "or into its source Kinesis stream (PutRecords), with retries. Each object is deleted (or tagged)\n"
            "once all of it that can succeed was put back; one put back in part is rewritten to hold the rest.\n"
            "A record that is no CloudWatch Logs message is reported and kept. Exits 1 while records could not\n"
            "be put back. Shows progress on a terminal."
        ),
        env=(LOGSHIP_REINGEST_MAX_ATTEMPTS, LOGSHIP_MAX_DECOMPRESSED_BYTES, LOGSHIP_LOG_LEVEL, *AWS_ENV_NAMES),
    )
    red.add_argument("uri", type=arguments.s3_uri, help="s3://bucket/prefix of the error objects (or one object's URI)")
    target = red.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--delivery-stream",
        metavar="NAME",
        type=arguments.delivery_stream_name,
        help="put records into this delivery stream with PutRecordBatch (Direct PUT streams)",
    )
    target.add_argument(
        "--kinesis-stream",
        metavar="NAME",
        type=arguments.stream_name,
        help="put records into this Kinesis data stream with PutRecords (the delivery stream's source)",
    )
    red.add_argument("--dry-run", action="store_true", help="read and count only: put, delete and tag nothing")
    red.add_argument(
        "--tag",
        action="store_true",
        help="tag each redriven object logship-redrive=done instead of deleting it (later runs skip it)",
    )
    red.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Redrive and print the report; exit 1 while records could not be put back (or an object could not be removed).

    A stream that refuses for good (no such stream, access denied, no
    credentials) ends the command at once with one line saying so.
    """
    from logship.aws import boto3_client_factory
    from logship.firehose.reingest import FirehoseReingester, KinesisReingester, Reingester
    from logship.jsonlog import configure_logging
    from logship.redrive import redrive
    from logship.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    clients = boto3_client_factory()
    reingester: Reingester
    if args.kinesis_stream:
        reingester = KinesisReingester(clients("kinesis"), args.kinesis_stream)
    else:
        reingester = FirehoseReingester(clients("firehose"), args.delivery_stream)
    verb = "to put back" if args.dry_run else "put back"
    with Progress() as progress:
        report = redrive(
            args.uri,
            reingester,
            clients("s3"),
            policy=settings.reingest_retry,
            dry_run=args.dry_run,
            tag=args.tag,
            max_decompressed_bytes=settings.transform.max_decompressed_bytes,
            progress=lambda r: progress.update(
                f"redrive: {r.objects} objects, {r.records:,} records, {r.put_back:,} {verb}, "
                f"{r.failed:,} failed, {r.never:,} can never succeed"
            ),
        )
    print(orjson.dumps(report.__dict__).decode())
    if not report.objects:
        done = (
            f"{report.skipped} object{'s' if report.skipped != 1 else ''} tagged as redriven already"
            if report.skipped
            else "no objects"
        )
        nothing_found("redrive", args.uri, done)
    if report.never:
        print(
            f"logship redrive: {report.never} records can never succeed (not CloudWatch Logs messages); "
            "they stay in the error prefix",
            file=sys.stderr,
        )
    problems = []
    if report.failed:
        problems.append(
            f"{report.failed:,} records could not be put back into {reingester.target} ({report.failure}); "
            "they stay in the error prefix for the next run"
        )
    if report.stuck:
        problems.append(
            f"{len(report.stuck)} objects were put back but could not be removed ({', '.join(report.stuck[:3])}): "
            "remove them before the next run, or their records are put back twice"
        )
    if problems:
        raise CommandError("; ".join(problems))
    return 0
