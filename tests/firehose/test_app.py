"""The Lambda end to end: real HTTP to the intake emulator, real AWS API calls to a moto server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import orjson
from conftest import FakeContext, command_env, data_record, firehose_event, load_fixture

from logship.firehose.subscription import decode_record
from logship.settings import Settings
from logship.testing.synth import generate_event

ROOT = Path(__file__).resolve().parents[2]


def s3_lines(record: dict[str, Any]) -> list[str]:
    return zlib.decompress(base64.b64decode(record["data"]), wbits=31).decode().splitlines()


def test_mixed_batch_answers_every_record_once(intake, make_app):
    """Control records are Dropped, broken ones ProcessingFailed, data Ok; each recordId once, in order."""
    event = load_fixture("mixed_event.json")
    app = make_app(Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k"}))
    response = app.handle(event, FakeContext())
    results = {r["recordId"]: r["result"] for r in response["records"]}
    assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in event["records"]]
    assert results == {
        "r-json": "Ok",
        "r-control": "Dropped",
        "r-plain": "Ok",
        "r-notgzip": "ProcessingFailed",
        "r-notbase64": "ProcessingFailed",
        "r-notjson": "ProcessingFailed",
        "r-nologevents": "ProcessingFailed",
        "r-unknowntype": "ProcessingFailed",
    }
    ok = {r["recordId"]: r for r in response["records"] if r["result"] == "Ok"}
    assert s3_lines(ok["r-plain"]) == ["plain text line", "another línea ✅"]
    # ONLY_JSON unset: only the JSON logs go to Datadog, with their status and tags.
    assert [e.get("msg") for e in intake.entries] == ["payment failed", "ok"]
    assert intake.entries[0]["status"] == "error"
    assert (
        intake.entries[0]["ddtags"]
        == "system:cron,service:billing,application:app,task:0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    )
    assert all(r.status == 202 for r in intake.requests)


def test_plain_lines_go_to_datadog_when_only_json_is_false(intake, make_app):
    """ONLY_JSON=false sends plain lines too, tagged from an awslogs stream name."""
    app = make_app(
        Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k", "ONLY_JSON": "false", "DD_TAGS": "env:test"})
    )
    app.handle(load_fixture("mixed_event.json"), FakeContext())
    plain = [e for e in intake.entries if e.get("message") == "plain text line"]
    assert len(intake.entries) == 4
    assert (
        plain[0]["ddtags"] == "system:ecs,service:web,application:nginx,task:0123456789abcdef0123456789abcdef,env:test"
    )
    assert plain[0]["service"] == "web"


def test_partition_keys_are_returned_when_asked(intake, make_app):
    """LOGSHIP_PARTITION_KEYS=true adds metadata.partitionKeys to Ok records."""
    app = make_app(Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k", "LOGSHIP_PARTITION_KEYS": "true"}))
    response = app.handle(load_fixture("mixed_event.json"), FakeContext())
    ok = [r for r in response["records"] if r["result"] == "Ok"]
    assert ok[0]["metadata"] == {"partitionKeys": {"system": "cron", "service": "billing", "application": "app"}}
    assert all("metadata" not in r for r in response["records"] if r["result"] != "Ok")


def drain(app, local_aws, bucket, stream, first_response, *, limit=10):
    """Feed what moto's Firehose delivered back through the handler until nothing is re-ingested.

    Returns every S3 line of every Ok record, in processing order.
    """
    lines = [line for r in first_response["records"] if r["result"] == "Ok" for line in s3_lines(r)]
    for _round in range(limit):
        delivered = local_aws.delivered_records(bucket, take=True)
        if not delivered:
            return lines
        records = [
            {"recordId": f"again-{_round}-{n}", "data": base64.b64encode(d).decode()} for n, d in enumerate(delivered)
        ]
        response = app.handle(firehose_event(records, stream=stream), FakeContext())
        lines += [line for r in response["records"] if r["result"] == "Ok" for line in s3_lines(r)]
    raise AssertionError("re-ingest did not settle")


def test_records_over_the_response_limit_are_reingested_and_land_once(intake, local_aws, unique, make_app):
    """With a small limit, what does not fit goes back to Firehose; after re-processing every event lands once."""
    local_aws.delivery_stream(unique, unique)
    event = generate_event(target_bytes=120_000, seed=3, stream=unique, control_records=0, corrupt_records=0)
    expected = [e["message"] for r in event["records"] for e in decode_record(r["data"]).events]
    app = make_app(
        Settings.from_env(
            {"DD_URL": intake.url, "DD_API_KEY": "k", "ONLY_JSON": "false", "LOGSHIP_RESPONSE_LIMIT_BYTES": "60000"}
        ),
        client_factory=local_aws.client,
    )
    response = app.handle(event, FakeContext())
    assert len(json.dumps(response)) <= 60_000
    results = [r["result"] for r in response["records"]]
    assert "Dropped" in results and "Ok" in results
    first_entries = len(intake.entries)
    assert first_entries < len(expected)  # re-ingested records are not sent now ...
    lines = drain(app, local_aws, unique, unique, response)
    assert sorted(lines) == sorted(expected)
    identity = lambda d: d["request"]["id"] if "request" in d else d["message"]  # noqa: E731
    sent = sorted(identity(e) for e in intake.entries)
    assert sent == sorted(identity(orjson.loads(m) if m.startswith("{") else {"message": m}) for m in expected)
    assert len(intake.entries) == len(expected)  # ... but once, when their copy comes back


def test_a_record_too_big_for_any_response_takes_what_fits_and_puts_the_rest_back_as_one_record(
    intake, local_aws, unique, make_app
):
    """Output over the whole limit: Ok with the events that fit, the rest back as one record, until all landed in order."""
    local_aws.delivery_stream(unique, unique)
    messages = [f"line {n} " + "x" * 200 for n in range(400)]
    event = firehose_event([data_record("big", messages)], stream=unique)
    app = make_app(
        Settings.from_env(
            {
                "DD_URL": intake.url,
                "DD_API_KEY": "k",
                "ONLY_JSON": "false",
                "LOGSHIP_OUTPUT_COMPRESSION": "none",
                "LOGSHIP_RESPONSE_LIMIT_BYTES": "20000",
            }
        ),
        client_factory=local_aws.client,
    )
    invocation = app.process(event, FakeContext())
    [answer] = invocation.response["records"]
    assert answer["result"] == "Ok"
    assert len(json.dumps(invocation.response)) <= 20_000
    landed = base64.b64decode(answer["data"]).decode().splitlines()
    assert landed == messages[: len(landed)] and 0 < len(landed) < 400
    assert [e["message"] for e in intake.entries] == landed  # the rest reaches Datadog when it comes back
    assert invocation.summary.events_to_s3 == len(landed)
    assert invocation.summary.events_reingested == 400 - len(landed)
    for round_number in range(40):
        [rest] = local_aws.delivered_records(unique, take=True)  # one record, never several
        assert [e["message"] for e in decode_record(base64.b64encode(rest)).events] == messages[len(landed) :]
        again = firehose_event([{"recordId": f"rest-{round_number}", "data": base64.b64encode(rest).decode()}])
        answer = app.handle(again | {"deliveryStreamArn": event["deliveryStreamArn"]}, FakeContext())["records"][0]
        assert answer["result"] == "Ok"
        landed += base64.b64decode(answer["data"]).decode().splitlines()
        if len(landed) == 400:
            break
    assert landed == messages
    assert local_aws.delivered_records(unique) == []
    assert [e["message"] for e in intake.entries] == messages


def test_kinesis_source_reingests_into_the_source_stream_with_its_partition_key(intake, local_aws, unique, make_app):
    """When a Kinesis stream feeds Firehose, records go back with PutRecords and the original key."""
    kinesis = local_aws.client("kinesis")
    kinesis.create_stream(StreamName=unique, ShardCount=1)
    records = [
        data_record(f"k{n}", [f"m{n}-{i}-" + os.urandom(40).hex() for i in range(30)], partition_key=f"pk-{n}")
        for n in range(6)
    ]
    event = firehose_event(records, kinesis_source=unique)
    app = make_app(
        Settings.from_env(
            {"DD_URL": intake.url, "DD_API_KEY": "k", "ONLY_JSON": "false", "LOGSHIP_RESPONSE_LIMIT_BYTES": "8000"}
        ),
        client_factory=local_aws.client,
    )
    response = app.handle(event, FakeContext())
    dropped = [r["recordId"] for r in response["records"] if r["result"] == "Dropped"]
    assert dropped
    shard = kinesis.describe_stream(StreamName=unique)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=unique, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    got = kinesis.get_records(ShardIterator=iterator)["Records"]
    by_id = {r["recordId"]: r for r in records}
    assert sorted(r["PartitionKey"] for r in got) == sorted(
        by_id[i]["kinesisRecordMetadata"]["partitionKey"] for i in dropped
    )
    assert sorted(r["Data"] for r in got) == sorted(base64.b64decode(by_id[i]["data"]) for i in dropped)


def test_failed_reingest_marks_records_failed_and_forwards_their_logs(intake, local_aws, unique, caplog, make_app):
    """When re-ingest fails (no such stream), records become ProcessingFailed, logs still reach Datadog, no raise.

    No such stream is final: one call, no retry, and one error line for all the records.
    """
    records = [data_record(f"r{n}", [f"m{n}-{i}-" + os.urandom(40).hex() for i in range(20)]) for n in range(4)]
    event = firehose_event(records, stream=f"{unique}-missing")
    app = make_app(
        Settings.from_env(
            {
                "DD_URL": intake.url,
                "DD_API_KEY": "k",
                "ONLY_JSON": "false",
                "LOGSHIP_RESPONSE_LIMIT_BYTES": "2500",
                "LOGSHIP_REINGEST_MAX_ATTEMPTS": "2",
            }
        ),
        client_factory=local_aws.client,
    )
    invocation = app.process(event, FakeContext())
    results = [r["result"] for r in invocation.response["records"]]
    assert "ProcessingFailed" in results
    assert invocation.summary.reingest_calls == 1
    assert invocation.summary.reingest_failure.startswith("the stream does not exist")
    sent = {e["message"] for e in intake.entries}
    for record, result in zip(records, results, strict=True):
        messages = {e["message"] for e in decode_record(record["data"]).events}
        if result == "ProcessingFailed":
            assert messages <= sent
    assert len(intake.entries) == 80
    # One line for all the records, naming the stream and why no retry was made.
    [failed] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert failed.getMessage().startswith(f"records answered ProcessingFailed: re-ingest into firehose:{unique}-missing")
    assert "the stream does not exist (ResourceNotFoundException" in failed.getMessage()
    assert failed.records == results.count("ProcessingFailed")


def test_summary_line_counts_the_invocation(intake, caplog, make_app):
    """One structured 'invocation' line carries counts and timings."""
    caplog.set_level("INFO", logger="logship")
    make_app(Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k"})).handle(
        load_fixture("mixed_event.json"), FakeContext()
    )
    [line] = [r for r in caplog.records if r.getMessage() == "invocation"]
    assert (line.Ok, line.Dropped, line.ProcessingFailed, line.dd_accepted) == (2, 1, 5, 2)
    assert line.response_bytes > 0 and line.ms_total >= 0


def test_cli_process_reads_the_environment_and_reaches_aws_through_aws_endpoint_url(
    intake, local_aws, unique, tmp_path
):
    """`logship process` with DD_URL and AWS_ENDPOINT_URL runs the handler's code against both stand-ins."""
    local_aws.delivery_stream(unique, unique)
    event = generate_event(target_bytes=60_000, seed=5, stream=unique, control_records=1, corrupt_records=1)
    path = tmp_path / "event.json"
    path.write_bytes(orjson.dumps(event))
    env = command_env(local_aws, intake, tmp_path, ONLY_JSON="false", LOGSHIP_RESPONSE_LIMIT_BYTES="30000")
    out = subprocess.run(
        [sys.executable, "-m", "logship.cli", "process", str(path), "-o", str(tmp_path / "response.json")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    response = orjson.loads((tmp_path / "response.json").read_bytes())
    assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in event["records"]]
    reingested = [r for r in response["records"] if r["result"] == "Dropped"]
    assert len(reingested) > 1  # the control record and at least one re-ingested
    assert len(local_aws.delivered_records(unique)) == len(reingested) - 1
    summary = [json.loads(line) for line in out.stderr.splitlines() if '"invocation"' in line]
    assert summary and summary[0]["reingested_records"] == len(reingested) - 1
    # It says where it re-ingests: the endpoint from AWS_ENDPOINT_URL, never real AWS unasked.
    assert f"logship process: re-ingesting into firehose:{unique} at {local_aws.endpoint}" in out.stderr.splitlines()


def test_importing_the_handler_does_no_network_io_and_builds_no_client():
    """Importing handlers.firehose opens no socket, creates no AWS client, and does not import boto3."""
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise AssertionError('network I/O at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "import handlers.firehose\n"
        "assert 'boto3' not in sys.modules, 'boto3 imported at import time'\n"
        "print('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def test_the_lambda_path_loads_no_dev_kit_module(intake, tmp_path):
    """Importing the handler and handling an event loads nothing of logship.testing, http.server or moto."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps(firehose_event([data_record("r1", ['{"level":"info","msg":"hi"}'])])))
    code = (
        "import json, sys\n"
        "import handlers.firehose\n"
        "response = handlers.firehose.handler(json.load(open(sys.argv[1])), None)\n"
        "assert [r['result'] for r in response['records']] == ['Ok']\n"
        "dev = sorted(m for m in sys.modules if m.startswith(('logship.testing', 'http.server', 'moto', 'hypothesis')))\n"
        "print(','.join(dev) or 'clean')\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "DD_URL": intake.url, "DD_API_KEY": "k"}
    out = subprocess.run([sys.executable, "-c", code, str(event)], capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "clean"  # after the invocation's EMF line
    assert len(intake.entries) == 1
