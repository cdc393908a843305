"""The logship command: demo, generate, process and replay run the library's code end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from conftest import FIXTURES, command_env

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


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logship.cli", *args], env=env, capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_redrive_command_puts_records_back_and_keeps_the_one_that_never_succeeds(intake, local_aws, unique, tmp_path):
    """`logship redrive s3://... --delivery-stream` works through AWS_ENDPOINT_URL; no progress when stderr is no terminal."""
    local_aws.delivery_stream(unique, unique)
    s3 = local_aws.client("s3")
    fixture = (FIXTURES / "processing_failed_object").read_bytes()
    s3.put_object(Bucket=unique, Key="processing-failed/2026/11/22/10/obj", Body=fixture)
    out = run_cli(
        "redrive",
        f"s3://{unique}/processing-failed/",
        "--delivery-stream",
        unique,
        env=command_env(local_aws, intake, tmp_path),
    )
    assert out.returncode == 0, out.stderr
    report = orjson.loads(out.stdout.splitlines()[-1])
    assert (report["put_back"], report["never"], report["rewritten"]) == (2, 1, 1)
    assert "1 records can never succeed" in out.stderr
    assert "\rredrive:" not in out.stderr
    assert len(local_aws.delivered_records(unique)) == 2


def test_redrive_shows_progress_on_a_terminal(intake, local_aws, unique, tmp_path):
    """With stderr on a terminal, redrive rewrites one progress line per object."""
    import os
    import pty

    local_aws.delivery_stream(unique, unique)
    fixture = (FIXTURES / "processing_failed_object").read_bytes()
    local_aws.client("s3").put_object(Bucket=unique, Key="processing-failed/a", Body=fixture)
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "logship.cli",
                "redrive",
                f"s3://{unique}/processing-failed",
                "--delivery-stream",
                unique,
                "--dry-run",
            ],
            env=command_env(local_aws, intake, tmp_path, LOGSHIP_LOG_LEVEL="ERROR"),
            stdout=subprocess.PIPE,
            stderr=secondary,
            cwd=ROOT,
            check=False,
        )
        os.close(secondary)
        secondary = -1
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal's other end is closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    assert proc.returncode == 0
    assert b"\rredrive: 1 objects, 3 records, 2 to put back, 0 failed, 1 can never succeed" in shown


def test_redrive_mistakes_are_one_line_and_a_non_zero_exit(intake, local_aws, unique, tmp_path):
    """A bad URI, a missing stream option or a missing bucket: one line on stderr, exit 2, no traceback."""
    env = command_env(local_aws, intake, tmp_path)
    for args in (
        ["redrive", "https://nope/x", "--delivery-stream", "s"],
        ["redrive", "s3://bucket/x"],
        ["redrive", f"s3://{unique}-missing/processing-failed", "--delivery-stream", "s"],
    ):
        out = run_cli(*args, env=env)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)
        assert out.stderr.startswith("logship redrive: ") and "Traceback" not in out.stderr
