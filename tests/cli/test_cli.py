"""The logship command: demo, generate, process and replay run the library's code end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from conftest import command_env

from logship.cli import main
from logship.deadletter import encode_lines

ROOT = Path(__file__).resolve().parents[2]


def test_demo_lands_every_event_once(capsys):
    """`logship demo` (the README's first command) ends with every event in S3 exactly once."""
    assert main(["demo", "--size", "150KB", "--response-limit", "60KB"]) == 0
    out = capsys.readouterr().out
    assert "Every event landed in S3 exactly once." in out
    assert "re-ingested" in out


def test_generate_writes_a_firehose_event(tmp_path):
    """`logship generate` writes a Firehose event with data, control and corrupt records."""
    path = tmp_path / "event.json"
    assert main(["generate", "--size", "50KB", "--control", "2", "--corrupt", "1", "-o", str(path)]) == 0
    event = orjson.loads(path.read_bytes())
    ids = [r["recordId"] for r in event["records"]]
    assert sum(i.startswith("ctl-") for i in ids) == 2
    assert sum(i.startswith("bad-") for i in ids) == 1
    assert len(set(ids)) == len(ids) > 3


def test_replay_command_sends_and_deletes_through_aws_endpoint_url(intake, local_aws, unique, tmp_path):
    """`logship replay s3://...` reads the dead letter through AWS_ENDPOINT_URL, delivers it, deletes it."""
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=unique)
    entries = [orjson.dumps({"message": f"dead-{n}", "ddtags": "env:test"}) for n in range(25)]
    s3.put_object(Bucket=unique, Key="dl/2026/11/22/x.jsonl.gz", Body=encode_lines(entries))
    env = command_env(local_aws, intake, tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "logship.cli", "replay", f"s3://{unique}/dl"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout.splitlines()[-1])["deleted"] == 1
    assert sorted(e["message"] for e in intake.entries) == sorted(f"dead-{n}" for n in range(25))
    assert "Contents" not in s3.list_objects_v2(Bucket=unique)
