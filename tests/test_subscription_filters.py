"""The subscriptions custom resource against a moto server, answering a local stand-in for CloudFormation's URL."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from conftest import FakeContext

from logship.subscription_filters import RESPONSE_BODY_MAX_BYTES, Clock, handle
from logship.testing.localaws import LocalAws

ROOT = Path(__file__).resolve().parents[1]
ROLE_ARN = "arn:aws:iam::123456789012:role/logship-cwl"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/logship/5b021b60-0000-0000-0000-000000000000"


@dataclass
class Received:
    """One request the stand-in for the pre-signed URL received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ResponseEndpoint:
    """A local HTTP server standing in for CloudFormation's pre-signed S3 URL."""

    url: str
    received: list[Received] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        assert self.received, "CloudFormation was never answered"
        return self.received[-1].body


@pytest.fixture
def endpoint() -> Iterator[ResponseEndpoint]:
    state = ResponseEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = state.fail_next.pop(0) if state.fail_next else 200
            if status == 200:
                state.received.append(
                    Received("PUT", self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body))
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    state.url = f"http://{host!s}:{port}/cloudformation-response?X-Amz-Signature=abc%2Fdef&X-Amz-Expires=7200"
    yield state
    server.shutdown()
    server.server_close()


class FakeClock(Clock):
    """A clock that only moves when slept on, with a seeded jitter, and runs ``on_sleep`` at each wait."""

    def __init__(self, on_sleep: Any = None) -> None:
        super().__init__(now=self._now, sleep=self._sleep, rng=random.Random(7))
        self.t = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def _now(self) -> float:
        return self.t

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        if self.on_sleep is not None:
            self.on_sleep()


@dataclass
class Setup:
    logs: Any
    stream_arn: str
    groups: list[str]


@pytest.fixture
def setup(local_aws: LocalAws, unique: str) -> Setup:
    """Three existing log groups (two whose names collide once non-alphanumerics go) and a delivery stream."""
    logs = local_aws.client("logs")
    groups = [f"/{unique}/check-out", f"/{unique}/checkout", f"/{unique}/cron#nightly.v2"]
    for group in groups:
        logs.create_log_group(logGroupName=group)
    stream_arn = local_aws.delivery_stream(unique, unique)
    return Setup(logs, stream_arn, groups)


def properties(groups: list[str], stream_arn: str, **overrides: Any) -> dict[str, Any]:
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:logship-subscriptions",
        "ServiceTimeout": "360",
        "LogGroupNames": groups,
        "FilterName": "logship-logship",
        "FilterPattern": "",
        "DestinationArn": stream_arn,
        "RoleArn": ROLE_ARN,
        **overrides,
    }


def request(kind: str, url: str, props: dict[str, Any], *, old: dict[str, Any] | None = None,
            physical_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "ResourceType": "Custom::LogSubscriptions",
        "LogicalResourceId": "LogSubscriptions",
        "ResourceProperties": props,
    }
    if old is not None:
        event["OldResourceProperties"] = old
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def filters(logs: Any, group: str) -> dict[str, tuple[str, str, str]]:
    """The group's subscription filters: name -> (destination, pattern, role)."""
    found = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    return {f["filterName"]: (f["destinationArn"], f.get("filterPattern", ""), f.get("roleArn", "")) for f in found}


def test_create_puts_one_filter_per_group_and_answers_success(setup: Setup, endpoint: ResponseEndpoint) -> None:
    """Every listed group gets the filter, names that would collide as logical IDs included; the answer is a PUT."""
    event = request("Create", endpoint.url, properties([*setup.groups, "", setup.groups[0]], setup.stream_arn))
    result = handle(event, FakeContext(), logs_client=setup.logs, clock=FakeClock())
    assert result["Status"] == "SUCCESS", result
    for group in setup.groups:
        assert filters(setup.logs, group) == {"logship-logship": (setup.stream_arn, "", ROLE_ARN)}, group
    (received,) = endpoint.received
    assert received.method == "PUT"
    assert received.path == "/cloudformation-response?X-Amz-Signature=abc%2Fdef&X-Amz-Expires=7200"
    assert received.headers.get("content-type") == ""  # the pre-signed URL is signed without one
    body = received.body
    assert body["Status"] == "SUCCESS"
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        STACK_ID, event["RequestId"], "LogSubscriptions")
    assert body["PhysicalResourceId"] == f"LogSubscriptions-{event['RequestId']}"
    assert "3 log group(s) subscribed" in body["Reason"]


def test_update_diffs_old_and_new_and_leaves_other_filters_alone(setup: Setup, endpoint: ResponseEndpoint,
                                                                 local_aws: LocalAws, unique: str) -> None:
    """A removed group loses logship's filter only, an added group gains it, a kept group takes the new pattern."""
    first, second, third = setup.groups
    old = properties([first, second], setup.stream_arn)
    handle(request("Create", endpoint.url, old), FakeContext(), logs_client=setup.logs, clock=FakeClock())
    other_stream = local_aws.delivery_stream(unique + "-other", unique + "-other")
    setup.logs.put_subscription_filter(logGroupName=first, filterName="someone-else", filterPattern="ERROR",
                                       destinationArn=other_stream, roleArn=ROLE_ARN)
    physical_id = endpoint.last["PhysicalResourceId"]

    new = properties([second, third], setup.stream_arn, FilterPattern="{ $.level = \"error\" }")
    result = handle(request("Update", endpoint.url, new, old=old, physical_id=physical_id), FakeContext(),
                    logs_client=setup.logs, clock=FakeClock())

    assert result["Status"] == "SUCCESS", result
    assert filters(setup.logs, first) == {"someone-else": (other_stream, "ERROR", ROLE_ARN)}
    expected = {"logship-logship": (setup.stream_arn, "{ $.level = \"error\" }", ROLE_ARN)}
    assert filters(setup.logs, second) == expected
    assert filters(setup.logs, third) == expected
    assert endpoint.last["PhysicalResourceId"] == physical_id  # same id: an update, not a replacement


def test_update_renaming_the_filter_moves_it(setup: Setup, endpoint: ResponseEndpoint) -> None:
    """A new FilterName replaces the old filter in each kept group instead of adding a second one."""
    old = properties(setup.groups[:1], setup.stream_arn)
    handle(request("Create", endpoint.url, old), FakeContext(), logs_client=setup.logs, clock=FakeClock())
    new = properties(setup.groups[:1], setup.stream_arn, FilterName="renamed-logship")
    result = handle(request("Update", endpoint.url, new, old=old, physical_id="p"), FakeContext(),
                    logs_client=setup.logs, clock=FakeClock())
    assert result["Status"] == "SUCCESS", result
    assert set(filters(setup.logs, setup.groups[0])) == {"renamed-logship"}


def test_update_to_a_new_stream_takes_over_its_own_filters(setup: Setup, endpoint: ResponseEndpoint,
                                                          local_aws: LocalAws, unique: str) -> None:
    """When the destination changes (a renamed stream), logship's filters follow it: they were logship's."""
    old = properties(setup.groups, setup.stream_arn)
    handle(request("Create", endpoint.url, old), FakeContext(), logs_client=setup.logs, clock=FakeClock())
    moved = local_aws.delivery_stream(unique + "-moved", unique + "-moved")
    result = handle(request("Update", endpoint.url, properties(setup.groups, moved), old=old, physical_id="p"),
                    FakeContext(), logs_client=setup.logs, clock=FakeClock())
    assert result["Status"] == "SUCCESS", result
    for group in setup.groups:
        assert filters(setup.logs, group)["logship-logship"][0] == moved


def test_delete_removes_only_filters_logship_put(setup: Setup, endpoint: ResponseEndpoint,
                                                  local_aws: LocalAws, unique: str) -> None:
    """Delete removes the filters with logship's name and destination; a same-named one elsewhere and a gone group are fine."""
    first, second, third = setup.groups
    props = properties([first, second], setup.stream_arn)
    handle(request("Create", endpoint.url, props), FakeContext(), logs_client=setup.logs, clock=FakeClock())
    other_stream = local_aws.delivery_stream(unique + "-other", unique + "-other")
    setup.logs.put_subscription_filter(logGroupName=third, filterName="logship-logship", filterPattern="",
                                       destinationArn=other_stream, roleArn=ROLE_ARN)
    setup.logs.delete_log_group(logGroupName=second)
    result = handle(request("Delete", endpoint.url, properties([first, second, third], setup.stream_arn),
                            physical_id="p"), FakeContext(), logs_client=setup.logs, clock=FakeClock())
    assert result["Status"] == "SUCCESS", result
    assert filters(setup.logs, first) == {}
    assert filters(setup.logs, third) == {"logship-logship": (other_stream, "", ROLE_ARN)}
    assert endpoint.last["Status"] == "SUCCESS"


def test_create_refuses_to_take_over_a_same_named_filter_and_leaves_nothing(
    setup: Setup, endpoint: ResponseEndpoint, local_aws: LocalAws, unique: str
) -> None:
    """A group whose filter of that name sends elsewhere fails the Create; the groups already done are undone."""
    first, second, third = setup.groups
    other_stream = local_aws.delivery_stream(unique + "-other", unique + "-other")
    setup.logs.put_subscription_filter(logGroupName=third, filterName="logship-logship", filterPattern="x",
                                       destinationArn=other_stream, roleArn=ROLE_ARN)
    result = handle(request("Create", endpoint.url, properties(setup.groups, setup.stream_arn)), FakeContext(),
                    logs_client=setup.logs, clock=FakeClock())
    assert result["Status"] == "FAILED"
    reason = endpoint.last["Reason"]
    assert f"log group {third} already has a subscription filter named logship-logship" in reason
    assert other_stream in reason
    assert filters(setup.logs, third) == {"logship-logship": (other_stream, "x", ROLE_ARN)}
    assert filters(setup.logs, first) == {} and filters(setup.logs, second) == {}
    assert endpoint.last["PhysicalResourceId"]


def test_create_on_a_missing_log_group_fails_with_its_name(setup: Setup, endpoint: ResponseEndpoint) -> None:
    """A log group that does not exist fails the Create with one reason naming it, and nothing is left subscribed."""
    missing = setup.groups[0] + "-missing"
    result = handle(request("Create", endpoint.url, properties([setup.groups[0], missing], setup.stream_arn)),
                    FakeContext(), logs_client=setup.logs, clock=FakeClock())
    assert result["Status"] == "FAILED"
    assert endpoint.last["Reason"] == f"log group {missing} does not exist"
    assert filters(setup.logs, setup.groups[0]) == {}


def test_failed_test_delivery_is_retried_until_the_stream_is_there(
    setup: Setup, endpoint: ResponseEndpoint, local_aws: LocalAws, unique: str
) -> None:
    """CloudWatch's failed test message (a role or stream not yet propagated) is retried, then the put succeeds."""
    arn = f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{unique}-late"

    def stream_appears() -> None:
        if len(clock.sleeps) == 1:
            local_aws.delivery_stream(unique + "-late", unique + "-late")

    clock = FakeClock(on_sleep=stream_appears)
    result = handle(request("Create", endpoint.url, properties(setup.groups[:1], arn)), FakeContext(),
                    logs_client=setup.logs, clock=clock)
    assert result["Status"] == "SUCCESS", result
    assert len(clock.sleeps) == 1
    assert filters(setup.logs, setup.groups[0])["logship-logship"][0] == arn


def test_retries_stop_in_time_to_answer(setup: Setup, endpoint: ResponseEndpoint, unique: str) -> None:
    """When the destination never appears, retrying stops before the invocation ends and FAILED is sent."""
    arn = f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{unique}-never"
    clock = FakeClock()
    result = handle(request("Create", endpoint.url, properties(setup.groups[:1], arn)), FakeContext(60_000),
                    logs_client=setup.logs, clock=clock)
    assert result["Status"] == "FAILED"
    assert "Could not deliver test message" in endpoint.last["Reason"]
    assert clock.sleeps, "expected retries"
    assert clock.t - 1000.0 <= 60.0 - 15.0  # RESPONSE_MARGIN_SECONDS kept for the answer


def test_an_unreachable_api_is_answered_with_failed_not_a_hang(endpoint: ResponseEndpoint) -> None:
    """A CloudWatch Logs endpoint that refuses connections ends in a FAILED answer; the handler does not raise."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = boto3.client(
        "logs", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=2),
    )
    props = properties(["/a/b"], "arn:aws:firehose:us-east-1:123456789012:deliverystream/x")
    result = handle(request("Create", endpoint.url, props), FakeContext(), logs_client=client, clock=FakeClock())
    assert result["Status"] == "FAILED"
    assert "/a/b" in endpoint.last["Reason"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"LogGroupNames": ["/ok", "bad name"]}, "'bad name' is not a log group name"),
        ({"FilterName": "a:b"}, "FilterName 'a:b' must be 1-512 characters"),
        ({"DestinationArn": "logship"}, "DestinationArn must be an ARN"),
        ({"RoleArn": ""}, "RoleArn is required"),
        ({"FilterPattern": "x" * 1025}, "FilterPattern must be text of at most 1024 characters"),
    ],
)
def test_bad_properties_fail_the_request_with_one_clear_reason(
    endpoint: ResponseEndpoint, change: dict[str, Any], reason: str
) -> None:
    """Malformed properties are answered FAILED with a reason that names the property; no API is called."""
    props = {**properties(["/ok"], "arn:aws:firehose:us-east-1:123456789012:deliverystream/x"), **change}
    result = handle(request("Create", endpoint.url, props), FakeContext(), logs_client=object(),  # type: ignore[arg-type]
                    clock=FakeClock())
    assert result["Status"] == "FAILED"
    assert reason in endpoint.last["Reason"]


def test_rollback_and_delete_of_never_valid_properties_succeed(endpoint: ResponseEndpoint, setup: Setup) -> None:
    """After a Create or Update failed validation, its rollback and the Delete succeed instead of sticking the stack."""
    bad = properties(["bad name"], setup.stream_arn)
    good = properties(setup.groups[:1], setup.stream_arn)
    handle(request("Create", endpoint.url, good), FakeContext(), logs_client=setup.logs, clock=FakeClock())
    rollback = handle(request("Update", endpoint.url, good, old=bad, physical_id="p"), FakeContext(),
                      logs_client=setup.logs, clock=FakeClock())
    assert rollback["Status"] == "SUCCESS", rollback
    assert set(filters(setup.logs, setup.groups[0])) == {"logship-logship"}
    delete = handle(request("Delete", endpoint.url, bad, physical_id="p"), FakeContext(), logs_client=setup.logs,
                    clock=FakeClock())
    assert delete["Status"] == "SUCCESS"
    assert set(filters(setup.logs, setup.groups[0])) == {"logship-logship"}


def test_response_is_retried_when_the_url_answers_an_error(setup: Setup, endpoint: ResponseEndpoint) -> None:
    """A 500 from the pre-signed URL is followed by another PUT; the answer arrives once."""
    endpoint.fail_next = [500, 503]
    clock = FakeClock()
    handle(request("Create", endpoint.url, properties(setup.groups[:1], setup.stream_arn)), FakeContext(),
           logs_client=setup.logs, clock=clock)
    assert len(endpoint.received) == 1 and endpoint.last["Status"] == "SUCCESS"
    assert len(clock.sleeps) == 2


def test_a_long_reason_is_cut_to_fit_the_response_limit(setup: Setup, endpoint: ResponseEndpoint) -> None:
    """Hundreds of failing groups still give a response body within 4,096 bytes, its reason marked as cut."""
    missing = [f"{setup.groups[0]}-missing-{n:03d}" for n in range(200)]
    handle(request("Create", endpoint.url, properties(missing, setup.stream_arn)), FakeContext(),
           logs_client=setup.logs, clock=FakeClock())
    body = endpoint.last
    assert len(json.dumps(body).encode()) <= RESPONSE_BODY_MAX_BYTES
    assert body["Reason"].endswith(" [...]") and body["Reason"].startswith(f"log group {missing[0]} does not exist")


def test_the_lambda_entry_point_answers_through_the_runtime_environment(
    setup: Setup, endpoint: ResponseEndpoint, local_aws: LocalAws, tmp_path: Path
) -> None:
    """handlers.subscriptions.handler, run as its own process, builds its client from the environment and answers."""
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(request("Create", endpoint.url, properties(setup.groups, setup.stream_arn))))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": local_aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LOGSHIP_LOG_LEVEL": "info",
    }
    code = (
        "import json, sys\n"
        "from handlers.subscriptions import handler\n"
        "print(json.dumps(handler(json.load(open(sys.argv[1])), None)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(event_file)], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Status"] == "SUCCESS"
    assert endpoint.last["Status"] == "SUCCESS"
    assert '"custom resource answered"' in out.stderr  # one structured log line per request
    for group in setup.groups:
        assert set(filters(setup.logs, group)) == {"logship-logship"}
