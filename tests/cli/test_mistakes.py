"""Every command answers each mistake with one clear line on stderr, a non-zero exit, and no traceback."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import data_record, firehose_event

ROOT = Path(__file__).resolve().parents[2]
USAGE, FAILED = 2, 1
# Runs `logship` with one module made unimportable, as on an install without the extra.
_WITHOUT_MODULE = (
    "import sys\n"
    "sys.modules[sys.argv[1]] = None\n"
    "from logship.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


@dataclasses.dataclass(frozen=True)
class Mistake:
    """One wrong input: the command line, extra environment, the exit status and what the line must say."""

    args: tuple[str, ...]
    status: int
    says: str
    env: tuple[tuple[str, str], ...] = ()
    without: str | None = None  # a module made unimportable


MISTAKES = {
    "size-with-a-word": Mistake(("generate", "--size", "lots"), USAGE, "'lots' is not a size"),
    "size-zero": Mistake(("generate", "--size", "0"), USAGE, "must be from 1"),
    "size-negative": Mistake(("generate", "--size", "-1"), USAGE, "must be from 1"),
    "size-unknown-unit": Mistake(("generate", "--size", "3MIBS"), USAGE, "KiB, MiB"),
    "services-zero": Mistake(("generate", "--services", "0"), USAGE, "--services: 0 is out of range"),
    "corrupt-negative": Mistake(("generate", "--corrupt", "-2"), USAGE, "at least 0"),
    "out-in-missing-folder": Mistake(("generate", "-o", "/nonexistent/x"), USAGE, "/nonexistent does not exist"),
    "out-is-a-folder": Mistake(("generate", "-o", "{tmp}"), USAGE, "is a folder"),
    "kinesis-name": Mistake(("generate", "--kinesis-source", "bad name"), USAGE, "not a Kinesis stream name"),
    "event-missing": Mistake(("process", "{tmp}/missing.json"), USAGE, "missing.json: no such file"),
    "event-not-json": Mistake(("process", "{tmp}/notjson.json"), FAILED, "is not JSON"),
    "event-a-list": Mistake(("process", "{tmp}/list.json"), FAILED, "holds a JSON list"),
    "event-console-test": Mistake(("process", "{tmp}/console.json"), FAILED, "Lambda console's default test event"),
    "event-no-records": Mistake(("process", "{tmp}/norecords.json"), FAILED, "has no 'records' list"),
    "event-bad-record": Mistake(("process", "{tmp}/noid.json"), FAILED, "record 0 has no recordId"),
    "process-out-missing-folder": Mistake(
        ("process", "{tmp}/event.json", "-o", "/nonexistent/r.json"), USAGE, "does not exist"
    ),
    "process-without-a-key": Mistake(("process", "{tmp}/event.json"), FAILED, "no DD_API_KEY configured"),
    "site-as-url": Mistake(
        ("process", "{tmp}/event.json"), FAILED, "use DD_SITE=datadoghq.eu", (("DD_SITE", "https://datadoghq.eu"),)
    ),
    "url-ftp": Mistake(("process", "{tmp}/event.json"), FAILED, "DD_URL must be an http://", (("DD_URL", "ftp://x"),)),
    "secret-arn": Mistake(
        ("process", "{tmp}/event.json"),
        FAILED,
        "DD_API_KEY_SECRET_ARN must be a Secrets Manager secret ARN",
        (("DD_API_KEY_SECRET_ARN", "not-an-arn"),),
    ),
    "dead-letter-bucket": Mistake(
        ("process", "{tmp}/event.json"),
        FAILED,
        "bucket name 'ab'",
        (("DD_API_KEY", "k"), ("LOGSHIP_DEAD_LETTER_URI", "s3://ab/x")),
    ),
    "replay-not-s3": Mistake(("replay", "bucket/prefix"), USAGE, "expected an s3:// URI"),
    "replay-bad-bucket": Mistake(("replay", "s3://Bad_Bucket/x"), USAGE, "lowercase letters"),
    "replay-timeout": Mistake(("replay", "s3://bucket/x", "--timeout", "0"), USAGE, "more than 0"),
    "replay-no-credentials": Mistake(
        ("replay", "s3://bucket/dl"),
        FAILED,
        "no AWS credentials found",
        (("DD_API_KEY", "k"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:{closed_port}")),
    ),
    "replay-s3-only": Mistake(
        ("replay", "s3://bucket/dl"), FAILED, "LOGSHIP_DATADOG_ENABLED is false", (("LOGSHIP_DATADOG_ENABLED", "false"),)
    ),
    "check-site-unreachable": Mistake(
        ("check",),
        FAILED,
        "cannot reach the Datadog API at http://127.0.0.1:{closed_port}: connection refused",
        (("DD_API_KEY", "k"), ("DD_API_URL", "http://127.0.0.1:{closed_port}")),
    ),
    "check-without-a-key": Mistake(("check",), FAILED, "no DD_API_KEY configured"),
    "check-without-the-extra": Mistake(
        ("check",), FAILED, "pip install 'logship[datadog]'", (("DD_API_KEY", "k"),), without="datadog_api_client"
    ),
    "demo-without-the-extra": Mistake(("demo", "--size", "10KB"), FAILED, "pip install 'logship[demo]'", without="moto"),
    "demo-size": Mistake(("demo", "--size", "1TB"), USAGE, "not a size"),
    "demo-response-limit": Mistake(("demo", "--response-limit", "10"), USAGE, "must be from 1,000"),
    "emulator-busy-port": Mistake(("emulator", "--port", "{busy_port}"), FAILED, "in use"),
    "emulator-port-range": Mistake(("emulator", "--port", "70000"), USAGE, "from 0 to 65535"),
    "schedule-field-out-of-range": Mistake(
        ("schedule", "cron(0 9 ? * 8 *)"), USAGE, "cron day-of-week field '8': 8 is outside 1-7"
    ),
    "schedule-both-day-fields": Mistake(
        ("schedule", "cron(0 9 * * MON *)"), USAGE, "day-of-month field '*' and day-of-week field 'MON'"
    ),
    "schedule-rate-unit": Mistake(("schedule", "rate(1 hours)"), USAGE, "rate unit 'hours'"),
    "schedule-five-fields": Mistake(("schedule", "cron(0 9 * * ?)"), USAGE, "has 5 fields, AWS requires 6"),
    "schedule-time-zone": Mistake(
        ("schedule", "rate(5 minutes)", "--timezone", "Mars/Olympus"), USAGE, "not an IANA time zone name"
    ),
    "schedule-count": Mistake(("schedule", "rate(5 minutes)", "--count", "0"), USAGE, "--count: 0 is out of range"),
    "monitors-without-an-app-key": Mistake(
        ("monitors", "plan", "--jobs", "{tmp}/jobs.toml", "--no-discover"),
        FAILED,
        "no DD_APP_KEY configured: set DD_APP_KEY, DD_APP_KEY_SSM_NAME or DD_APP_KEY_SECRET_ARN",
        (("DD_API_KEY", "k"),),
    ),
    "monitors-api-out-of-reach": Mistake(
        ("monitors", "apply", "--jobs", "{tmp}/jobs.toml", "--no-discover"),
        FAILED,
        "cannot reach the Datadog API at http://127.0.0.1:{closed_port}: connection refused",
        (("DD_API_KEY", "k"), ("DD_APP_KEY", "a"), ("DD_API_URL", "http://127.0.0.1:{closed_port}")),
    ),
    "monitors-bad-jobs-file": Mistake(
        ("monitors", "plan", "--jobs", "{tmp}/badjobs.toml", "--no-discover"),
        FAILED,
        "job 'nightly' field 'schedule': cron day-of-week field '8': 8 is outside 1-7",
        (("DD_API_KEY", "k"), ("DD_APP_KEY", "a")),
    ),
    "monitors-jobs-file-missing": Mistake(
        ("monitors", "plan", "--jobs", "{tmp}/nojobs.toml"), FAILED, "nojobs.toml': cannot be read",
        (("DD_API_KEY", "k"), ("DD_APP_KEY", "a")),
    ),
    "monitors-jobs-file-not-toml": Mistake(
        ("monitors", "plan", "--jobs", "{tmp}/notjson.json"), FAILED, "not valid TOML",
        (("DD_API_KEY", "k"), ("DD_APP_KEY", "a")),
    ),
    "monitors-no-discover-no-jobs": Mistake(
        ("monitors", "plan", "--no-discover"), FAILED, "--no-discover leaves only the jobs file",
        (("DD_API_KEY", "k"), ("DD_APP_KEY", "a")),
    ),
    "monitors-no-aws-credentials": Mistake(
        ("monitors", "plan"), FAILED, "no AWS credentials found",
        (("DD_API_KEY", "k"), ("DD_APP_KEY", "a"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:{closed_port}")),
    ),
    "monitors-bad-notify-handle": Mistake(
        ("monitors", "plan", "--jobs", "{tmp}/jobs.toml", "--no-discover"), FAILED,
        "LOGSHIP_MONITOR_NOTIFY: 'slack-ops' is not a Datadog handle",
        (("DD_API_KEY", "k"), ("DD_APP_KEY", "a"), ("LOGSHIP_MONITOR_NOTIFY", "slack-ops")),
    ),
    "monitors-no-subcommand": Mistake(("monitors",), USAGE, "the following arguments are required: COMMAND"),
    "no-command": Mistake((), USAGE, "the following arguments are required: COMMAND"),
    "unknown-command": Mistake(("deploy",), USAGE, "invalid choice: 'deploy'"),
}


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Files for the mistakes to read, a port something listens on, and one nothing listens on."""
    tmp = tmp_path_factory.mktemp("mistakes")
    (tmp / "notjson.json").write_text("this is not JSON\n")
    (tmp / "list.json").write_text("[1, 2]")
    (tmp / "console.json").write_text('{"key1": "value1", "key2": "value2", "key3": "value3"}')
    (tmp / "norecords.json").write_text('{"invocationId": "x"}')
    (tmp / "noid.json").write_text('{"records": [{"data": ""}]}')
    (tmp / "jobs.toml").write_text('[[job]]\nname = "nightly"\nschedule = "cron(0 2 * * ? *)"\nservice = "nightly"\n')
    (tmp / "badjobs.toml").write_text('[[job]]\nname = "nightly"\nschedule = "cron(0 2 ? * 8 *)"\nservice = "x"\n')
    (tmp / "event.json").write_bytes(orjson.dumps(firehose_event([data_record("r1", ['{"msg": "hi"}'])])))
    with socket.socket() as busy, socket.socket() as closed:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()  # nothing listens there now: connections are refused
        yield {"tmp": str(tmp), "busy_port": str(busy.getsockname()[1]), "closed_port": str(closed_port)}


def clean_env(home: str, **extra: str) -> dict[str, str]:
    """An environment with no logship setting and no AWS credentials (nor the instance metadata service)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": f"{home}/no-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{home}/no-aws-credentials",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def logship(args: list[str], env: dict[str, str], without: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `logship` command as a user would, in its own process."""
    if without is None:
        command = [sys.executable, "-m", "logship.cli", *args]
    else:
        command = [sys.executable, "-c", _WITHOUT_MODULE, without, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_mistake_gets_one_clear_line_and_a_nonzero_exit(name, places):
    """The command exits with the expected status and prints one line that names the problem, no traceback."""
    mistake = MISTAKES[name]
    args = [arg.format(**places) for arg in mistake.args]
    env = clean_env(places["tmp"], **{key: value.format(**places) for key, value in mistake.env})
    out = logship(args, env, mistake.without)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == mistake.status, out.stderr
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("logship") and ": error: " in lines[0], lines[0]
    assert mistake.says.format(**places) in lines[0]
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


def test_debug_shows_the_traceback(places):
    """With --debug, the same mistake ends in the full traceback of the ConfigError."""
    out = logship(["--debug", "process", f"{places['tmp']}/event.json"], clean_env(places["tmp"]))
    assert out.returncode != 0
    assert "Traceback" in out.stderr
    assert "logship.errors.ConfigError: no DD_API_KEY configured" in out.stderr


def test_version(places):
    """`logship --version` prints the package's version."""
    from logship import __version__

    out = logship(["--version"], clean_env(places["tmp"]))
    assert (out.returncode, out.stdout.strip()) == (0, f"logship {__version__}")
