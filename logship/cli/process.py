"""``logship process``: run a Firehose event file through the handler's code.

Records that do not fit the response are re-ingested, as the Lambda does:
into ``AWS_ENDPOINT_URL`` when it is set (a local AWS such as moto), into the
real delivery stream of the event's ``deliveryStreamArn`` only with ``--aws``.
Otherwise they are not put anywhere and come back ``ProcessingFailed``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from logship import limits
from logship.cli import arguments
from logship.cli.failures import CommandError
from logship.errors import ConfigError
from logship.firehose.reingest import FirehoseReingester, KinesisReingester, Reingester, ReingestItem

# The Lambda console's default test event ("hello-world"): a common first try.
_CONSOLE_TEST_EVENT_KEYS = frozenset({"key1", "key2", "key3"})
#: AWS variables this command reads besides logship's own (botocore's names).
AWS_ENV_NAMES = arguments.aws_env_names("FIREHOSE", "KINESIS")


def register(sub: Any) -> None:
    """Add the ``process`` subcommand to ``sub``."""
    from logship.settings import FIREHOSE_ENV_NAMES

    proc = arguments.add_command(
        sub,
        "process",
        summary="run a Firehose event file through the handler's code",
        description=(
            "Run a Firehose transformation event through the Lambda's code, with the Lambda's settings read\n"
            "from the environment, and write the response. Logs go to Datadog (DD_URL, DD_SITE) unless\n"
            "LOGSHIP_DATADOG_ENABLED=false. Records that do not fit the response are re-ingested into\n"
            "AWS_ENDPOINT_URL when it is set (a local AWS such as moto); into the real delivery stream of the\n"
            "event's deliveryStreamArn only with --aws. Without either they come back ProcessingFailed.\n"
            "The command says where it re-ingests, on stderr."
        ),
        env=(*FIREHOSE_ENV_NAMES, *AWS_ENV_NAMES),
    )
    proc.add_argument(
        "event", type=arguments.input_file, help="a Firehose transformation event (JSON), e.g. from 'logship generate'"
    )
    proc.add_argument("-o", "--out", type=arguments.output_file, help="write the response here (default: stdout)")
    proc.add_argument(
        "--aws",
        action="store_true",
        help="allow re-ingest into real AWS with your credentials (without it, only into AWS_ENDPOINT_URL)",
    )
    proc.set_defaults(func=run)


def read_event(path: Path) -> dict[str, Any]:
    """The Firehose event in ``path``; CommandError saying what the file holds instead."""
    from logship.errors import DecodeError
    from logship.firehose.event import FirehoseEvent

    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as err:
        raise CommandError(f"{path} is not JSON ({err})") from None
    if not isinstance(doc, dict):
        raise CommandError(f"{path} holds a JSON {type(doc).__name__}, not a Firehose event (an object with records)")
    if doc.keys() >= _CONSOLE_TEST_EVENT_KEYS and "records" not in doc:
        raise CommandError(
            f"{path} is the Lambda console's default test event (key1, key2, key3), not a Firehose "
            "transformation event: write one with 'logship generate', or use the console's Firehose template"
        )
    if not isinstance(doc.get("records"), list):
        raise CommandError(
            f"{path} is not a Firehose transformation event: it has no 'records' list "
            "(write one with 'logship generate')"
        )
    try:
        FirehoseEvent.from_dict(doc)
    except DecodeError as err:
        raise CommandError(f"{path} is not a Firehose transformation event: {err}") from None
    return doc


def run(args: argparse.Namespace) -> int:
    """Process the event with settings from the environment and write the response.

    Exits 1 when records that did not fit were not re-ingested (real AWS not
    allowed, no credentials, no such stream...); the response is written all
    the same, and the error line says why.
    """
    from logship.aws import check_endpoints
    from logship.firehose.app import Logship
    from logship.jsonlog import configure_logging
    from logship.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    check_endpoints(os.environ)
    event = read_event(args.event)
    targets: list[str] = []

    def reingester(firehose_event: Any) -> Reingester:
        service = "kinesis" if firehose_event.source_stream_name else "firehose"
        stream = firehose_event.source_stream_name or firehose_event.delivery_stream_name
        targets.append(f"{service}:{stream}")
        endpoint = _endpoint(service)
        if endpoint is None and not args.aws:
            return _Refused(f"{service}:{stream}")
        where = endpoint or f"real AWS ({firehose_event.region or 'the default region'})"
        print(f"logship process: re-ingesting into {service}:{stream} at {where}", file=sys.stderr)
        return _reingester(service, stream, firehose_event.region)

    with Logship(settings, reingester_factory=reingester) as app:
        invocation = app.process(event)
    out = orjson.dumps(invocation.response)
    if args.out:
        args.out.write_bytes(out)
    else:
        sys.stdout.buffer.write(out + b"\n")
    summary = invocation.summary
    if summary.reingest_failed:
        raise CommandError(
            f"{summary.reingest_failed} records that did not fit the response were not re-ingested into "
            f"{targets[-1]}: {summary.reingest_failure}; they are ProcessingFailed in the response"
        )
    return 0


def _endpoint(service: str) -> str | None:
    """The endpoint boto3 uses for ``service``: ``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``."""
    return os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL") or None


def _reingester(service: str, stream: str, region: str | None) -> Reingester:
    """The Lambda's re-ingester for ``stream``, its boto3 client made the usual way (endpoint from the environment)."""
    from logship.aws import boto3_client_factory

    client = boto3_client_factory(region)(service)
    if service == "kinesis":
        return KinesisReingester(client, stream)
    return FirehoseReingester(client, stream)


class _Refused:
    """A re-ingester that puts nothing: real AWS was not allowed (no --aws, no AWS_ENDPOINT_URL)."""

    max_records = limits.FIREHOSE_BATCH_MAX_RECORDS
    max_batch_bytes = limits.FIREHOSE_BATCH_MAX_BYTES
    max_record_bytes = limits.FIREHOSE_RECORD_MAX_BYTES

    def __init__(self, target: str) -> None:
        self.target = target

    def item_size(self, item: ReingestItem) -> int:
        """The data's size."""
        return len(item.data)

    def put_batch(self, items: Sequence[ReingestItem]) -> list[str | None]:
        """Refuse the batch, for good (no retry can change the answer)."""
        raise ConfigError(
            "that is real AWS, which needs --aws (or set AWS_ENDPOINT_URL for a local endpoint)"
        )
