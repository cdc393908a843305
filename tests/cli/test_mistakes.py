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

from logship.deadletter import encode_lines
from logship.opsevents.deadletter import Letter

ROOT = Path(__file__).resolve().parents[2]
USAGE, FAILED = 2, 1
# An event whose records do not all fit a 15,000-byte response (S3 output not compressed): the rest is
# re-ingested. No Datadog; only error lines logged.
# A stream no other test creates: the local AWS is shared by the whole run.
NO_SUCH_STREAM = "logship-mistakes-nosuch"
BIG_EVENT = firehose_event(
    [data_record(f"r{n}", [f"line {n}-{i} " + "x" * 300 for i in range(30)]) for n in range(4)],
    stream=NO_SUCH_STREAM,
)
BIG_EVENT_ENV = (
    ("LOGSHIP_DATADOG_ENABLED", "false"),
    ("LOGSHIP_OUTPUT_COMPRESSION", "none"),
    ("LOGSHIP_RESPONSE_LIMIT_BYTES", "15000"),
    ("LOGSHIP_LOG_LEVEL", "ERROR"),
)
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
    unset: tuple[str, ...] = ()  # variables taken out of the environment
    # Lines on stderr: the last says it; any before are the command's own notices and log lines
    # (`process` runs the Lambda's code and logs as it does).
    lines: int = 1
    prints: str = ""  # what stdout holds (empty: nothing)


MISTAKES = {
    "size-with-a-word": Mistake(("generate", "--size", "lots"), USAGE, "'lots' is not a size"),
    "start-not-epoch-ms": Mistake(
        ("generate", "--start", "1700000000"), USAGE, "1700000000 is not a time in epoch milliseconds (13 digits"
    ),
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
    "replay-endpoint-not-a-url": Mistake(
        ("replay", "s3://bucket/dl"),
        FAILED,
        "AWS_ENDPOINT_URL is not a URL ('127.0.0.1:5055'): give the scheme, host and port",
        (("DD_API_KEY", "k"), ("AWS_ENDPOINT_URL", "127.0.0.1:5055")),
    ),
    "process-endpoint-not-a-url": Mistake(
        ("process", "{tmp}/event.json", "-o", "{tmp}/response.json"),
        FAILED,
        "AWS_ENDPOINT_URL is not a URL ('localhost:5000'): give the scheme, host and port",
        (("DD_API_KEY", "k"), ("DD_URL", "http://127.0.0.1:{closed_port}"), ("AWS_ENDPOINT_URL", "localhost:5000")),
    ),
    "process-service-endpoint-not-a-url": Mistake(
        ("process", "{tmp}/event.json", "-o", "{tmp}/response.json"),
        FAILED,
        "AWS_ENDPOINT_URL_FIREHOSE is not a URL ('ftp://x'): give the scheme, host and port",
        (("LOGSHIP_DATADOG_ENABLED", "false"), ("AWS_ENDPOINT_URL_FIREHOSE", "ftp://x")),
    ),
    "ssm-name-without-a-region": Mistake(
        ("replay", "s3://bucket/dl"),
        FAILED,
        "could not read DD_API_KEY from SSM parameter no-slash: no AWS region set: set AWS_REGION",
        (("DD_API_KEY_SSM_NAME", "no-slash"),),
        unset=("AWS_DEFAULT_REGION",),
    ),
    "secret-arn-gives-the-region": Mistake(  # no region set: the ARN's is used, so what is missing is credentials
        ("replay", "s3://bucket/dl"),
        FAILED,
        "could not read DD_API_KEY from Secrets Manager secret "
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dd-AbCdEf: no AWS credentials found",
        (("DD_API_KEY_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dd-AbCdEf"),),
        unset=("AWS_DEFAULT_REGION",),
    ),
    "aws-region-is-read": Mistake(  # AWS_REGION gives the region: what is missing is credentials
        ("redrive", "s3://bucket/errors/processing-failed", "--delivery-stream", "logship"),
        FAILED,
        "no AWS credentials found",
        (("AWS_REGION", "us-east-1"),),
        unset=("AWS_DEFAULT_REGION",),
    ),
    "process-aws-without-credentials": Mistake(
        ("process", "{tmp}/big.json", "-o", "{tmp}/response.json", "--aws"),
        FAILED,
        "records that did not fit the response were not re-ingested into firehose:logship-mistakes-nosuch: "
        "no AWS credentials found",
        BIG_EVENT_ENV,
        lines=3,  # where it re-ingests; the Lambda's one error line for the records; the error
    ),
    "events-demo-fixture-not-json": Mistake(
        ("events", "demo", "--fixtures", "{tmp}/fixtures"), FAILED, "the fixture {tmp}/fixtures/notjson.json is not JSON"
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
        ("monitors", "plan", "--jobs", "{tmp}/nojobs.toml"), FAILED, "nojobs.toml': no such file",
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
    (tmp / "big.json").write_bytes(orjson.dumps(BIG_EVENT))
    (tmp / "fixtures").mkdir()
    (tmp / "fixtures" / "good.json").write_text('{"source": "aws.ecs"}')
    (tmp / "fixtures" / "notjson.json").write_text("{oops")
    with socket.socket() as busy, socket.socket() as closed:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()  # nothing listens there now: connections are refused
        yield {"tmp": str(tmp), "busy_port": str(busy.getsockname()[1]), "closed_port": str(closed_port)}


def clean_env(home: str, *, unset: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """An environment with no logship setting and no AWS credentials (nor the instance metadata service)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": f"{home}/no-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{home}/no-aws-credentials",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }
    return {name: value for name, value in env.items() if name not in unset}


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
    check(MISTAKES[name], places, {})


def check(mistake: Mistake, places: dict[str, str], env: dict[str, str]) -> None:
    """Run the mistake's command in a clean environment (plus ``env``) and check what it says and how it exits."""
    args = [arg.format(**places) for arg in mistake.args]
    env = clean_env(
        places["tmp"], unset=mistake.unset, **env, **{key: value.format(**places) for key, value in mistake.env}
    )
    out = logship(args, env, mistake.without)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == mistake.status, out.stderr
    assert 1 <= len(lines) <= mistake.lines, out.stderr
    last = lines[-1]
    assert last.startswith("logship"), last
    assert (": error: " in last) == (mistake.status != 0), last
    assert mistake.says.format(**places) in last
    assert "Traceback" not in out.stderr
    if mistake.prints:
        assert mistake.prints.format(**places) in out.stdout
    else:
        assert out.stdout == ""


# --- Against a local AWS (moto): a bucket with a dead letter and an error object, a secret in eu-west-1 ---

ON_LOCAL_AWS = {
    "replay-datadog-out-of-reach": Mistake(
        ("replay", "s3://{bucket}/dl", "--timeout", "3"),
        FAILED,
        "2 entries left under s3://{bucket}/dl: 2 entries not delivered "
        "(last error: 127.0.0.1:{closed_port}: connection refused)",
        (("DD_URL", "http://127.0.0.1:{closed_port}"), ("LOGSHIP_LOG_LEVEL", "WARNING")),
        lines=2,  # the first: a warning, at the first try, that Datadog did not answer and how long retries go on
        prints='"left":2',
    ),
    "redrive-no-such-delivery-stream": Mistake(
        ("redrive", "s3://{bucket}/errors", "--delivery-stream", "nosuch"),
        FAILED,
        "cannot put records back into firehose:nosuch: the stream does not exist (ResourceNotFoundException: ",
    ),
    "redrive-no-such-kinesis-stream": Mistake(
        ("redrive", "s3://{bucket}/errors", "--kinesis-stream", "nosuch"),
        FAILED,
        "cannot put records back into kinesis:nosuch: the stream does not exist (ResourceNotFoundException: ",
    ),
    "process-no-such-stream": Mistake(
        ("process", "{tmp}/big.json", "-o", "{tmp}/response.json"),
        FAILED,
        "records that did not fit the response were not re-ingested into firehose:logship-mistakes-nosuch: "
        "the stream does not exist (ResourceNotFoundException: ",
        BIG_EVENT_ENV,
        lines=3,
    ),
    "replay-nothing-there": Mistake(
        ("replay", "s3://{bucket}/dead-leter"), 0, "nothing found under s3://{bucket}/dead-leter", prints='"objects":0'
    ),
    "replay-ops-events-without-their-sink": Mistake(
        ("replay", "s3://{bucket}/ops/opsevents"),
        FAILED,
        "1 ops events dead letters left under s3://{bucket}/ops/opsevents: no Slack webhook is configured here",
        (("LOGSHIP_LOG_LEVEL", "WARNING"),),
        lines=2,  # the replay's own error line for the object left, then the command's
        prints='"left":1',
    ),
    "replay-no-ops-events-there": Mistake(
        ("replay", "s3://{bucket}/dl/opsevents"), 0, "nothing found under s3://{bucket}/dl/opsevents", prints='"objects":0'
    ),
    "redrive-nothing-there": Mistake(
        ("redrive", "s3://{bucket}/errorz", "--delivery-stream", "logship"),
        0,
        "nothing found under s3://{bucket}/errorz",
        prints='"objects":0',
    ),
    "aws-region-is-the-region": Mistake(
        ("redrive", "s3://{bucket}/errorz", "--delivery-stream", "logship"),
        0,
        "nothing found under s3://{bucket}/errorz",
        (("AWS_REGION", "us-east-1"),),
        unset=("AWS_DEFAULT_REGION",),
        prints='"objects":0',
    ),
    "secret-read-in-its-arns-region": Mistake(  # the secret is in eu-west-1 only
        ("replay", "s3://{bucket}/dead-leter"),
        0,
        "nothing found under s3://{bucket}/dead-leter",
        (("DD_API_KEY_SECRET_ARN", "{secret_arn}"), ("AWS_REGION", "us-east-1")),
        unset=("AWS_DEFAULT_REGION", "DD_API_KEY"),
        prints='"objects":0',
    ),
}


@pytest.fixture(scope="module")
def stocked(local_aws, places) -> dict[str, str]:
    """The places, and on the local AWS a bucket holding a dead letter and an error object, and a secret."""
    bucket = "logship-mistakes"
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dl/2026/01/01/x.jsonl.gz", Body=encode_lines([b'{"m":1}', b'{"m":2}']))
    error = {"rawData": BIG_EVENT["records"][0]["data"], "errorCode": "Lambda.ProcessingFailedStatus"}
    s3.put_object(Bucket=bucket, Key="errors/a", Body=orjson.dumps(error) + b"\n")
    letter = Letter("slack", {"text": "task stopped"}, reason="HTTP 503")
    s3.put_object(Bucket=bucket, Key="ops/opsevents/slack/2026/01/01/x.json", Body=letter.to_json())
    secret = local_aws.client("secretsmanager", "eu-west-1").create_secret(Name="logship-mistakes", SecretString="k")
    return {**places, "bucket": bucket, "secret_arn": secret["ARN"], "endpoint": local_aws.endpoint}


@pytest.mark.parametrize("name", list(ON_LOCAL_AWS))
def test_a_failure_on_aws_or_datadog_gets_one_clear_line(name, stocked):
    """Against a local AWS: what went wrong (or that nothing was there) in one line, the right exit, no traceback."""
    local = {
        "AWS_ENDPOINT_URL": stocked["endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DD_API_KEY": "k",
    }
    check(ON_LOCAL_AWS[name], stocked, local)


def test_a_closed_stdout_ends_the_command_quietly(places):
    """A reader that went away before anything was written (`logship ... | head -0`): exit 141, nothing on stderr."""
    read, write = os.pipe()
    os.close(read)  # every write to the pipe now fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "logship.cli", "schedule", "rate(5 minutes)"],
            env=clean_env(places["tmp"]),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (141, "")


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
