"""Build the Lambda deployment package: logship, its handlers, and its runtime dependencies.

    python deploy/build_zip.py [--arch arm64|x86_64|native] [--python 3.12|native]
                               [--out dist/logship-lambda.zip | --tree DIR]

Dependencies come from ``[project] dependencies`` in pyproject.toml and are
installed as wheels for the Lambda's architecture and Python version, whatever
the machine running the build. Packages the Lambda Python runtime already ships
are left out, as are tests, ``logship/testing/`` (emulators and local AWS, never
imported by a handler) and bytecode caches. The zip is deterministic: the same
inputs give the same bytes. ``--tree DIR`` writes the same files unzipped into
DIR instead: ``sam build`` (the Makefile's ``build-*`` targets) and the
container image (docker/lambda.Dockerfile) use it. ``native`` means the
architecture or Python version of the interpreter running the build, as inside
the image's build stage. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "dist" / "logship-lambda.zip"
#: The platform of both functions in deploy/template.yaml (Architectures, Runtime).
DEFAULT_ARCH = "arm64"
DEFAULT_PYTHON = "3.12"
#: Source packages copied into the zip, relative to the repository root.
SOURCE_PACKAGES = ("logship", "handlers")
#: Folders of those packages that stay out of the zip: test support that no
#: handler imports (it may not exist yet; nothing is required of it).
EXCLUDED_SOURCE_DIRS = (Path("logship", "testing"),)
#: Used while pyproject.toml does not exist yet.
FALLBACK_DEPENDENCIES = ("orjson", "datadog-api-client", "urllib3")

# The Lambda Python runtime ships the AWS SDK and what it depends on
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html). Bundling
# them again only adds megabytes and a second copy that shadows the runtime's;
# pass --keep NAME to bundle one anyway (e.g. to pin a newer urllib3).
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)

# glibc of the Lambda runtime images: Python 3.12 and later run on Amazon Linux
# 2023 (glibc 2.34), older ones on Amazon Linux 2 (glibc 2.26). A wheel built
# for a newer glibc would install but fail to load.
_GLIBC_AL2023 = 34
_GLIBC_AL2 = 26
_MANYLINUX2014_GLIBC = 17
_ARCH_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}
#: ``platform.machine()`` values of the two Lambda architectures.
_MACHINE_ARCH = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}
NATIVE = "native"

# Lambda quotas: 250 MB unzipped (function and layers together); 50 MB zipped
# for a direct upload (SAM uploads through S3, where only the unzipped cap binds).
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000
LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024

# Fixed timestamp and permissions so the zip does not depend on the checkout.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = frozenset({"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


class BuildError(Exception):
    """The deployment zip could not be built."""


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name (``Python_DateUtil`` -> ``python-dateutil``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies(pyproject: Path) -> list[str]:
    """``[project] dependencies`` of pyproject.toml, or the fallback list when it is absent."""
    if not pyproject.is_file():
        return list(FALLBACK_DEPENDENCIES)
    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    return list(data.get("project", {}).get("dependencies", []))


def platform_tags(arch: str, python: str) -> list[str]:
    """Wheel platform tags the Lambda runtime for ``arch`` and ``python`` can load."""
    machine = _ARCH_MACHINE[arch]
    major, minor = (int(part) for part in python.split(".")[:2])
    glibc = _GLIBC_AL2023 if (major, minor) >= (3, 12) else _GLIBC_AL2
    tags = [f"manylinux_2_{m}_{machine}" for m in range(glibc, _MANYLINUX2014_GLIBC - 1, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def _pip_target_args(arch: str, python: str) -> list[str]:
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python]
    for tag in platform_tags(arch, python):
        args += ["--platform", tag]
    return args


def _run_pip(args: Sequence[str]) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"pip failed ({' '.join(command)}):\n{result.stdout}\n{result.stderr}")


def resolve(requirements: Sequence[str], arch: str, python: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every distribution ``requirements`` need on the target: (name, version, metadata), sorted."""
    if not requirements:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        _run_pip(
            [
                "install",
                "--dry-run",
                "--quiet",
                "--ignore-installed",
                "--target",
                str(Path(scratch) / "target"),
                "--report",
                str(report),
                *_pip_target_args(arch, python),
                *requirements,
            ]
        )
        installs = json.loads(report.read_text())["install"]
    return sorted(
        (canonical_name(item["metadata"]["name"]), item["metadata"]["version"], item["metadata"])
        for item in installs
    )


def marker_environment(arch: str, python: str) -> dict[str, str]:
    """PEP 508 marker values of the Lambda runtime for ``arch`` and ``python``."""
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "platform_machine": _ARCH_MACHINE[arch],
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def bundled(
    requirements: Sequence[str],
    resolved: Sequence[tuple[str, str, dict[str, Any]]],
    excluded: frozenset[str],
    environment: dict[str, str],
) -> list[tuple[str, str]]:
    """Keep the resolved distributions reachable from ``requirements`` without passing ``excluded``.

    A package needed only by a runtime-provided one (``tzdata`` for a newer
    ``python-dateutil``) stays out with it: the runtime's copy brings its own.
    """
    # pip is present whenever this script can build at all; its vendored
    # ``packaging`` evaluates markers and extras exactly as pip did.
    from pip._vendor.packaging.requirements import Requirement

    metadata = {name: (version, meta) for name, version, meta in resolved}
    kept: set[str] = set()
    pending = [Requirement(text) for text in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        name = canonical_name(requirement.name)
        if name in excluded or name not in metadata:
            continue
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        kept.add(name)
        extras = {"", *requirement.extras}
        for text in metadata[name][1].get("requires_dist") or []:
            child = Requirement(text)
            if child.marker is None or any(
                child.marker.evaluate({**environment, "extra": extra}) for extra in extras
            ):
                pending.append(child)
    return [(name, metadata[name][0]) for name in sorted(kept)]


def install(pins: Iterable[tuple[str, str]], target: Path, arch: str, python: str) -> None:
    """Install exactly ``pins`` (no further dependencies) into ``target`` as wheels for the Lambda."""
    specs = [f"{name}=={version}" for name, version in pins]
    if not specs:
        return
    _run_pip(
        [
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--target",
            str(target),
            *_pip_target_args(arch, python),
            *specs,
        ]
    )
    # Console scripts are of no use inside a Lambda.
    shutil.rmtree(target / "bin", ignore_errors=True)


def _skipped(path: Path) -> bool:
    return any(part in _SKIP_DIRS for part in path.parts) or path.name.endswith(_SKIP_SUFFIXES)


def _excluded_source(relative: Path) -> bool:
    return any(relative.is_relative_to(folder) for folder in EXCLUDED_SOURCE_DIRS)


def copy_sources(root: Path, target: Path, packages: Iterable[str] = SOURCE_PACKAGES) -> None:
    """Copy the project's own packages into ``target``, without tests, test support or bytecode."""
    for package in packages:
        source = root / package
        if not source.is_dir():
            raise BuildError(f"source package {source} does not exist")
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not _skipped(relative) and not _excluded_source(relative):
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)


def write_zip(source: Path, out: Path) -> tuple[int, int]:
    """Zip the tree under ``source`` into ``out`` deterministically; return (zipped, unzipped) bytes."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and not _skipped(p.relative_to(source)))
    out.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr holds the mode
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compresslevel=9)
    partial.replace(out)
    return out.stat().st_size, unzipped


def write_tree(source: Path, tree: Path) -> int:
    """Copy the files :func:`write_zip` would zip from ``source`` into ``tree`` (absent or empty); return bytes."""
    if tree.exists() and (not tree.is_dir() or any(tree.iterdir())):
        raise BuildError(f"{tree} must be an empty folder or not exist")
    files = sorted(p for p in source.rglob("*") if p.is_file() and not _skipped(p.relative_to(source)))
    copied = 0
    for path in files:
        destination = tree / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        destination.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
        copied += destination.stat().st_size
    tree.mkdir(parents=True, exist_ok=True)
    return copied


class Built(NamedTuple):
    """What a build produced: zipped bytes (None for a tree), unzipped bytes, bundled distributions."""

    zipped: int | None
    unzipped: int
    pins: list[tuple[str, str]]


def native_arch() -> str:
    """The Lambda architecture name of the machine running the build."""
    machine = platform.machine().lower()
    if machine not in _MACHINE_ARCH:
        raise BuildError(f"this machine ({machine}) is neither of Lambda's architectures (arm64, x86_64)")
    return _MACHINE_ARCH[machine]


def native_python() -> str:
    """The ``major.minor`` version of the interpreter running the build."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def build(
    out: Path | None,
    arch: str,
    python: str,
    *,
    tree: Path | None = None,
    keep: Iterable[str] = (),
    root: Path = ROOT,
) -> Built:
    """Build the zip at ``out``, or the unzipped package into ``tree``; exactly one of the two is given."""
    if (out is None) == (tree is None):
        raise BuildError("give exactly one of a zip file and a tree folder")
    if tree is not None and tree.exists() and (not tree.is_dir() or any(tree.iterdir())):
        raise BuildError(f"{tree} must be an empty folder or not exist")
    excluded = RUNTIME_PROVIDED - {canonical_name(name) for name in keep}
    requirements = runtime_dependencies(root / "pyproject.toml")
    pins = bundled(
        requirements,
        resolve(requirements, arch, python),
        excluded,
        marker_environment(arch, python),
    )
    zipped: int | None = None
    with tempfile.TemporaryDirectory() as scratch:
        stage = Path(scratch) / "package"
        stage.mkdir()
        install(pins, stage, arch, python)
        copy_sources(root, stage)
        if out is not None:
            zipped, unzipped = write_zip(stage, out)
        else:
            assert tree is not None
            unzipped = write_tree(stage, tree)
    where = out if out is not None else tree
    if unzipped > LAMBDA_UNZIPPED_LIMIT_BYTES:
        raise BuildError(f"{where} unzips to {unzipped:,} bytes, over Lambda's {LAMBDA_UNZIPPED_LIMIT_BYTES:,}")
    return Built(zipped, unzipped, pins)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch",
        choices=[*sorted(_ARCH_MACHINE), NATIVE],
        default=DEFAULT_ARCH,
        help=f"Lambda architecture; native: this machine's (default {DEFAULT_ARCH})",
    )
    parser.add_argument(
        "--python",
        default=DEFAULT_PYTHON,
        help=f"Lambda Python version, e.g. 3.12; native: this interpreter's (default {DEFAULT_PYTHON})",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", type=Path, help=f"zip file to write (default {DEFAULT_OUT.relative_to(ROOT)})")
    target.add_argument("--tree", type=Path, help="write the package unzipped into this empty or new folder instead")
    parser.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="NAME",
        help="bundle NAME even though the Lambda runtime ships it (repeatable)",
    )
    args = parser.parse_args(argv)
    python = native_python() if args.python == NATIVE else args.python
    if not re.fullmatch(r"3\.\d+", python):
        parser.error(f"--python must look like 3.12 or be native, got {args.python!r}")
    out = None if args.tree is not None else (args.out or DEFAULT_OUT)
    try:
        arch = native_arch() if args.arch == NATIVE else args.arch
        built = build(out, arch, python, tree=args.tree, keep=args.keep)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    bundled_text = ", ".join(f"{name} {version}" for name, version in built.pins) or "none"
    print(f"bundled: {bundled_text}")
    unzipped = (
        f"{built.unzipped:,} bytes unzipped ({built.unzipped / 1e6:.1f} MB of "
        f"{LAMBDA_UNZIPPED_LIMIT_BYTES / 1e6:.0f} MB) for python{python} {arch}"
    )
    if built.zipped is None:
        print(f"{args.tree}: {unzipped}")
        return 0
    print(f"{out}: {built.zipped:,} bytes zipped ({built.zipped / 1e6:.1f} MB), {unzipped}")
    if built.zipped > LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES:
        print("note: over 50 MB zipped; deploy through S3 (sam deploy does)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
