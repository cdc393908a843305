"""Shared fixtures: the local Datadog intake emulator, a local AWS (moto server), event builders."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.testing.emulator import IntakeEmulator
from logship.testing.localaws import LocalAws
from logship.testing.slack import SlackWebhookEmulator
from logship.testing.synth import firehose_event, firehose_record, subscription_payload

FIXTURES = Path(__file__).parent / "fixtures"
#: Lines the fault soak (tests/test_soak.py) reports, shown in the terminal summary.
SOAK_REPORT = pytest.StashKey[list[str]]()
_names = itertools.count()


def load_fixture(name: str) -> Any:
    """A JSON fixture from tests/fixtures."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class FakeContext:
    """The part of the Lambda context logship reads, with a fixed time budget."""

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def intake() -> Iterator[IntakeEmulator]:
    with IntakeEmulator() as emulator:
        yield emulator


@pytest.fixture
def slack() -> Iterator[SlackWebhookEmulator]:
    with SlackWebhookEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


@pytest.fixture
def delivery_stream(local_aws: LocalAws, unique: str) -> Iterator[str]:
    """A Direct PUT delivery stream and its bucket, both named ``unique``; the stream is deleted afterwards.

    moto allows 50 delivery streams per account, and the moto server is shared by the whole run.
    """
    local_aws.delivery_stream(unique, unique)
    yield unique
    local_aws.client("firehose").delete_delivery_stream(DeliveryStreamName=unique)


@pytest.fixture
def unique() -> str:
    """A name no other test uses, for streams and buckets on the shared moto server."""
    return f"logship-test-{next(_names)}"


def command_env(local_aws: LocalAws, intake: IntakeEmulator, home: Path, **settings: str) -> dict[str, str]:
    """The environment of a `logship` command run against the stand-ins: AWS_ENDPOINT_URL, DD_URL, a key."""
    import os

    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_ENDPOINT_URL": local_aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DD_URL": intake.url,
        "DD_API_KEY": "k",
        **settings,
    }


def data_record(
    record_id: str,
    messages: list[str],
    *,
    group: str = "/cron/billing",
    stream: str = "/cron/billing/app/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    start: int = 1_700_000_000_000,
    partition_key: str | None = None,
) -> dict[str, Any]:
    """A Firehose record carrying a DATA_MESSAGE with ``messages``."""
    events = [
        {"id": f"{record_id}-{n}", "timestamp": start + n, "message": message} for n, message in enumerate(messages)
    ]
    return firehose_record(record_id, subscription_payload(group, stream, events), partition_key)


def control_record(record_id: str) -> dict[str, Any]:
    """A Firehose record carrying CloudWatch's CONTROL_MESSAGE health probe."""
    payload = subscription_payload(
        "",
        "",
        [{"id": "", "timestamp": 0, "message": "CWL CONTROL MESSAGE: Checking health"}],
        message_type="CONTROL_MESSAGE",
    )
    return firehose_record(record_id, payload)


__all__ = ["FakeContext", "command_env", "control_record", "data_record", "firehose_event", "load_fixture"]


@pytest.fixture
def make_app() -> Iterator[Any]:
    """Build Logship apps that are closed (threads, connections) when the test ends."""
    from logship.firehose.app import Logship

    apps: list[Logship] = []

    def make(*args: Any, **kwargs: Any) -> Logship:
        app = Logship(*args, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Show the fault soak's counts after the run (they are printed with -s too)."""
    lines = config.stash.get(SOAK_REPORT, [])
    if lines:
        terminalreporter.section("logship fault soak")
        for line in lines:
            terminalreporter.write_line(line)
