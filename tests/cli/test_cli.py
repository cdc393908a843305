"""The logship command: each subcommand runs the library's code end to end; help, progress and refusals."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import FIXTURES, command_env, data_record, firehose_event

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


def _first_event_time(path: Path) -> int:
    from logship.firehose.subscription import decode_payload, parse_message

    for record in orjson.loads(path.read_bytes())["records"]:
        if record["recordId"].startswith(("ctl-", "bad-")):
            continue
        return parse_message(decode_payload(record["data"])).events[0]["timestamp"]
    raise AssertionError("no data record")


def test_generate_dates_events_as_live_logs_unless_told_a_start(tmp_path):
    """By default the first event is five minutes old (inside Datadog's window); --start fixes it, and the event."""
    import time

    from logship.testing.synth import LIVE_AGE_MS

    before = time.time_ns() // 1_000_000
    assert main(["generate", "--size", "20KB", "-o", str(tmp_path / "live.json")]) == 0
    after = time.time_ns() // 1_000_000
    # Events follow the start by their sequence number (a millisecond each).
    assert before - LIVE_AGE_MS <= _first_event_time(tmp_path / "live.json") <= after - LIVE_AGE_MS + 1_000
    for name in ("a.json", "b.json"):
        assert main(["generate", "--size", "20KB", "--start", "1800000000000", "-o", str(tmp_path / name)]) == 0
    assert 1_800_000_000_000 <= _first_event_time(tmp_path / "a.json") <= 1_800_000_001_000
    same = [orjson.loads((tmp_path / name).read_bytes())["records"] for name in ("a.json", "b.json")]
    assert [r["data"] for r in same[0]] == [r["data"] for r in same[1]]


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


def run_logship(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logship.cli", *args], env=env, capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_redrive_command_puts_records_back_and_keeps_the_one_that_never_succeeds(
    intake, local_aws, unique, delivery_stream, tmp_path
):
    """`logship redrive s3://... --delivery-stream` works through AWS_ENDPOINT_URL; no progress when stderr is no terminal."""
    s3 = local_aws.client("s3")
    fixture = (FIXTURES / "processing_failed_object").read_bytes()
    s3.put_object(Bucket=unique, Key="processing-failed/2026/11/22/10/obj", Body=fixture)
    out = run_logship(
        ["redrive", f"s3://{unique}/processing-failed/", "--delivery-stream", unique],
        command_env(local_aws, intake, tmp_path),
    )
    assert out.returncode == 0, out.stderr
    report = orjson.loads(out.stdout.splitlines()[-1])
    assert (report["put_back"], report["never"], report["rewritten"]) == (2, 1, 1)
    assert "1 records can never succeed" in out.stderr
    assert "\rredrive:" not in out.stderr
    assert len(local_aws.delivered_records(unique)) == 2


def test_redrive_shows_progress_on_a_terminal(intake, local_aws, unique, delivery_stream, tmp_path):
    """With stderr on a terminal, redrive rewrites one progress line per object."""
    import os
    import pty

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
    assert b"\x1b[Kredrive: 1 objects, 3 records, 2 to put back, 0 failed, 1 can never succeed" in shown


def test_redrive_mistakes_and_failures_are_one_line_and_a_non_zero_exit(intake, local_aws, unique, tmp_path):
    """A bad URI or stream name, no stream option (exit 2), a missing bucket (exit 1): one line, no traceback."""
    env = command_env(local_aws, intake, tmp_path)
    for args, status in (
        (["redrive", "https://nope/x", "--delivery-stream", "s"], 2),
        (["redrive", "s3://bucket/x"], 2),
        (["redrive", "s3://bucket/x", "--delivery-stream", "no spaces"], 2),
        (["redrive", "s3://bucket/x", "--delivery-stream", "a", "--kinesis-stream", "b"], 2),
        (["redrive", f"s3://{unique}-missing/processing-failed", "--delivery-stream", "s"], 1),
    ):
        out = run_logship(args, env)
        assert out.returncode == status, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)
        assert out.stderr.startswith("logship redrive: error: ") and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "command", ["demo", "generate", "process", "emulator", "replay", "redrive", "check", "schedule", "monitors"]
)
def test_help_shows_every_default_and_the_environment_it_reads(command):
    """Each command's help gives every option's default and lists the variables it reads, without markup."""
    from logship.cli import build_parser

    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert isinstance(choices, dict)
    sub = choices[command]
    text = sub.format_help()
    shown = 0
    for action in sub._actions:
        if action.default is None or isinstance(action.default, bool) or action.default == argparse.SUPPRESS:
            continue  # flags and options without a default say what happens without them
        assert f"(default: {action.default})" in " ".join(text.split()), action.dest
        shown += 1
    assert (
        shown
        == {"demo": 3, "generate": 6, "process": 0, "emulator": 2, "replay": 1, "redrive": 0, "check": 0, "schedule": 2,
            "monitors": 0}[command]
    )
    assert "environment variables read:" in text
    if command == "process":
        from logship.settings import ALL_ENV_NAMES, FIREHOSE_ENV_NAMES

        assert all(name in text for name in (*FIREHOSE_ENV_NAMES, "AWS_ENDPOINT_URL"))
        assert set(FIREHOSE_ENV_NAMES) < set(ALL_ENV_NAMES)
        # The ops events' and the cron watch's variables are not the transformation's.
        assert not any(name in text for name in ("SLACK_WEBHOOK_URL", "LOGSHIP_MONITOR_NOTIFY", "DD_APP_KEY"))
    if command == "redrive":
        assert all(name in text for name in ("LOGSHIP_REINGEST_MAX_ATTEMPTS", "AWS_ENDPOINT_URL"))
    if command in ("replay", "check", "monitors"):
        assert all(name in text for name in ("DD_API_KEY", "DD_API_KEY_SSM_NAME", "DD_SITE", "LOGSHIP_DATADOG_ENABLED"))
    if command == "monitors":
        assert all(name in text for name in ("DD_APP_KEY", "DD_API_URL", "LOGSHIP_MONITOR_NOTIFY", "LOGSHIP_JOBS_FILE"))
    for markup in ("``", ":class:", ":func:", "%(", "%%"):
        assert markup not in text


def test_generate_shows_progress_on_a_terminal_only(tmp_path):
    """With stderr a terminal, generate draws a progress line; into a pipe, stderr holds only the result line."""
    import pty

    path = tmp_path / "event.json"
    command = [sys.executable, "-m", "logship.cli", "generate", "--size", "200KB", "-o", str(path)]
    main_fd, child_fd = pty.openpty()
    try:
        done = subprocess.run(command, stderr=child_fd, stdout=subprocess.DEVNULL, cwd=ROOT, check=False, timeout=120)
        os.close(child_fd)
        seen = b""
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the terminal closes (EIO on Linux) once everything was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(main_fd)
    assert done.returncode == 0
    assert b"generating: " in seen and b"of 200,000 bytes" in seen
    piped = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    assert piped.stderr.splitlines() == [f"wrote {path}: {len(orjson.loads(path.read_bytes())['records'])} records"]


def test_process_refuses_real_aws_without_aws_flag(intake, tmp_path):
    """Without --aws or AWS_ENDPOINT_URL, records that do not fit are not re-ingested: ProcessingFailed, exit 1."""
    event = firehose_event([data_record(f"r{n}", [f"line {n}-{i} " + "x" * 300 for i in range(30)]) for n in range(4)])
    path = tmp_path / "event.json"
    path.write_bytes(orjson.dumps(event))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DD_URL": intake.url,
        "DD_API_KEY": "k",
        "ONLY_JSON": "false",
        "LOGSHIP_OUTPUT_COMPRESSION": "none",
        "LOGSHIP_RESPONSE_LIMIT_BYTES": "15000",
        "LOGSHIP_LOG_LEVEL": "ERROR",
    }
    out = run_logship(["process", str(path), "-o", str(tmp_path / "response.json")], env)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("logship process: error: ") and "--aws" in last and "firehose:logship-demo" in last
    assert "Traceback" not in out.stderr
    results = [r["result"] for r in orjson.loads((tmp_path / "response.json").read_bytes())["records"]]
    assert "ProcessingFailed" in results and "Ok" in results
    # What was not re-ingested still reached Datadog, once.
    assert len(intake.entries) == 120


def test_process_in_s3_only_mode_needs_no_key_and_sends_nothing(intake, tmp_path):
    """LOGSHIP_DATADOG_ENABLED=false: no key needed, the response is written, Datadog gets no request."""
    path = tmp_path / "event.json"
    path.write_bytes(orjson.dumps(firehose_event([data_record("r1", ['{"msg": "a"}', "plain"])])))
    env = {"PATH": os.environ.get("PATH", ""), "DD_URL": intake.url, "LOGSHIP_DATADOG_ENABLED": "false"}
    out = run_logship(["process", str(path)], env)
    assert out.returncode == 0, out.stderr
    assert [r["result"] for r in orjson.loads(out.stdout)["records"]] == ["Ok"]
    assert intake.requests == []
    [summary] = [orjson.loads(line) for line in out.stderr.splitlines() if '"invocation"' in line]
    assert (summary["events_to_s3"], summary["dd_accepted"], summary["dd_requests"]) == (2, 0, 0)


def test_check_validates_the_key_against_the_api(intake):
    """`logship check` asks the API (here the emulator) whether the key is valid: exit 0 if so, 1 if not."""
    intake.api_keys = {"good"}
    env = {"PATH": os.environ.get("PATH", ""), "DD_API_URL": intake.url, "DD_URL": intake.url}
    good = run_logship(["check"], {**env, "DD_API_KEY": "good"})
    assert good.returncode == 0, good.stderr
    # It names what it asked: the emulator's URL, not the site it would ask without DD_API_URL.
    assert f"API key from environment variable DD_API_KEY is valid for {intake.url}\n" in good.stdout
    assert "datadoghq.com" not in good.stdout
    assert f"logs go to {intake.intake_url}" in good.stdout
    bad = run_logship(["check"], {**env, "DD_API_KEY": "bad"})
    assert bad.returncode == 1
    assert "is NOT valid" in bad.stdout
