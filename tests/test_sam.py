"""The template as shipped goes through the real AWS SAM CLI: validate, lint, and build, offline.

`make test` installs the SAM CLI into .venv/sam (it pins packages of its own).
Without it these tests skip, except in CI (CI=true), where they must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "template.yaml"
SAM_VENV_BIN = ROOT / ".venv" / "sam" / "bin" / "sam"
FUNCTIONS = {
    "LogshipFunction": "handlers/firehose.py",
    "SubscriptionsFunction": "handlers/subscriptions.py",
    "EventsFunction": "handlers/events.py",
    "WatchFunction": "handlers/watch.py",
}
# What the Lambda Python runtime brings; the package must not carry its own copy.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"}


def sam_binary() -> str:
    """The SAM CLI of `make sam`, else one on PATH; skip without one, unless in CI."""
    if SAM_VENV_BIN.exists():
        return str(SAM_VENV_BIN)
    found = shutil.which("sam")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("the AWS SAM CLI is missing in CI: run `make sam` (make test does)")
    pytest.skip("the AWS SAM CLI is not installed: `make sam` installs it into .venv/sam")


def offline_env(home: Path) -> dict[str, str]:
    """The test run's environment without AWS credentials or profile, and without SAM's telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env.update({"SAM_CLI_TELEMETRY": "0", "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
                "AWS_CONFIG_FILE": str(home / "none")})
    return env


def run_sam(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sam_binary(), *args], capture_output=True, text=True, check=False, cwd=cwd, env=offline_env(cwd),
        timeout=timeout,
    )


def test_sam_validate_translates_the_template(tmp_path: Path) -> None:
    """`sam validate` runs the SAM transform on the template, offline and without credentials, and accepts it."""
    result = run_sam("validate", "--template-file", str(TEMPLATE), "--region", "us-east-1", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_validate_lint_passes(tmp_path: Path) -> None:
    """`sam validate --lint` (cfn-lint inside the SAM CLI) finds nothing in the template."""
    result = run_sam("validate", "--lint", "--template-file", str(TEMPLATE), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_would_have_caught_the_foreach_template(tmp_path: Path) -> None:
    """A template with Fn::ForEach (what the template used before) fails `sam validate`, so the check has teeth."""
    broken = tmp_path / "foreach.yaml"
    broken.write_text(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n"
        "Parameters:\n  Names: {Type: CommaDelimitedList, Default: 'a,b'}\n"
        "Resources:\n"
        "  Fn::ForEach::Groups:\n    - Name\n    - !Ref Names\n"
        "    - Group${Name}:\n        Type: AWS::Logs::LogGroup\n"
    )
    result = run_sam("validate", "--template-file", str(broken), "--region", "us-east-1", cwd=tmp_path)
    assert result.returncode != 0


@pytest.mark.slow
def test_sam_build_builds_every_function_for_arm64_and_python_312(tmp_path: Path) -> None:
    """`sam build` runs the Makefile's build targets: each function gets the whole package for its platform."""
    build_dir = tmp_path / "build"
    result = run_sam("build", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir), cwd=tmp_path,
                     timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    built, problems = decode(str(build_dir / "template.yaml"))
    assert built is not None and not problems, problems
    for function, handler_file in FUNCTIONS.items():
        properties: dict[str, Any] = built["Resources"][function]["Properties"]
        package = build_dir / properties["CodeUri"]
        assert (package / handler_file).is_file(), function
        assert (package / "logship" / "__init__.py").is_file(), function
        assert not (package / "logship" / "testing").exists(), function
        tops = {path.name for path in package.iterdir()}
        assert not tops & RUNTIME_PROVIDED, (function, sorted(tops & RUNTIME_PROVIDED))
        # Native code for the Lambda (CPython 3.12 on arm64), whatever machine built it.
        extensions = [path.name for path in (package / "orjson").glob("*.so")]
        assert extensions and all("cpython-312" in name and "aarch64" in name for name in extensions), extensions
