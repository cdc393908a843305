"""The wheel a user installs: only logship and its subpackages, typed, licensed, one version, extras that exist."""

from __future__ import annotations

import email.parser
import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

import logship

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LICENSE = ROOT / "LICENSE"
# SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the canonical text
# (the same bytes as s3transfer's and jsonpath-ng's LICENSE files).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
#: What the project ships to a source build; the rest of the checkout plays no part.
SOURCE_ENTRIES = ("pyproject.toml", "README.md", "LICENSE", "logship", "handlers")
_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
#: Each optional command, the extra that installs what it needs, and the module it imports.
OPTIONAL_COMMANDS = {
    "demo": ("moto", "moto"),
    "datadog": ("datadog-api-client", "datadog_api_client"),
    "bench": ("matplotlib", "matplotlib"),
}


def pyproject() -> dict[str, Any]:
    with PYPROJECT.open("rb") as handle:
        return tomllib.load(handle)


def requirement_name(text: str) -> str:
    """The distribution name of a PEP 508 requirement, normalised (``moto[server]>=5`` -> ``moto``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    assert match, text
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built by pip from a copy of the sources, with a nested test-support package added."""
    source = tmp_path_factory.mktemp("source")
    for entry in SOURCE_ENTRIES:
        path = ROOT / entry
        if path.is_dir():
            shutil.copytree(path, source / entry, ignore=_CACHES)
        else:
            shutil.copyfile(path, source / entry)
    # logship/testing/ may not exist yet; a nested package under it must reach the wheel either way.
    nested = source / "logship" / "testing" / "_wheel_probe"
    nested.mkdir(parents=True, exist_ok=True)
    (source / "logship" / "testing" / "__init__.py").touch()
    (nested / "__init__.py").write_text('"""Probe."""\n')
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
         "--wheel-dir", str(out), str(source)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("*.whl")
    return built


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def wheel_metadata(wheel: Path) -> Any:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.mark.slow
def test_wheel_installs_no_top_level_handlers_package(wheel: Path) -> None:
    """The wheel's only top-level names are logship and its dist-info: no generic `handlers` in site-packages."""
    tops = {name.split("/")[0] for name in wheel_names(wheel)}
    assert tops == {"logship", f"logship-{logship.__version__}.dist-info"}, sorted(tops)
    with zipfile.ZipFile(wheel) as archive:
        (top_level,) = [n for n in archive.namelist() if n.endswith("top_level.txt")]
        assert archive.read(top_level).decode().split() == ["logship"]


@pytest.mark.slow
def test_wheel_carries_every_module_and_subpackage(wheel: Path) -> None:
    """Every file of the logship sources (subpackages and logship/testing included) is in the wheel, py.typed too."""
    names = set(wheel_names(wheel))
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "logship").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert "logship/py.typed" in expected
    assert expected <= names, sorted(expected - names)
    assert {"logship/testing/__init__.py", "logship/testing/_wheel_probe/__init__.py"} <= names


@pytest.mark.slow
def test_wheel_metadata_has_one_version_the_license_and_its_text(wheel: Path) -> None:
    """Version comes from logship.__version__, the license is Apache-2.0, and its full text is in the dist-info."""
    metadata = wheel_metadata(wheel)
    assert metadata["Version"] == logship.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    classifiers = metadata.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")], "PEP 639: the expression replaces these"
    license_name = f"logship-{logship.__version__}.dist-info/licenses/LICENSE"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(license_name) == LICENSE.read_bytes()
    extras = set(metadata.get_all("Provides-Extra"))
    assert set(OPTIONAL_COMMANDS) | {"dev"} <= extras


def test_version_has_one_source() -> None:
    """pyproject.toml declares the version dynamic, read from logship.__version__; no second copy."""
    data = pyproject()
    assert "version" not in data["project"]
    assert "version" in data["project"]["dynamic"]
    assert data["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "logship.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", logship.__version__)


def test_license_file_is_the_full_apache_2_text() -> None:
    """LICENSE holds the canonical Apache License 2.0 text, the license pyproject.toml declares."""
    assert hashlib.sha256(LICENSE.read_bytes()).hexdigest() == APACHE_2_SHA256
    project = pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]


def test_packages_are_found_by_name_and_handlers_is_not_one() -> None:
    """Setuptools discovers logship and logship.* only; handlers/ is never listed."""
    setuptools = pyproject()["tool"]["setuptools"]
    assert "packages" not in setuptools or "find" in setuptools["packages"]
    find = setuptools["packages"]["find"]
    assert find["include"] == ["logship", "logship.*"]
    assert not any("handlers" in pattern for pattern in find["include"])


def test_every_optional_command_has_an_extra_and_dev_has_them_all() -> None:
    """demo, datadog and bench each install the package their command imports; dev holds all of them."""
    extras = pyproject()["project"]["optional-dependencies"]
    dev = {requirement_name(r) for r in extras["dev"]}
    for extra, (distribution, _module) in OPTIONAL_COMMANDS.items():
        names = {requirement_name(r) for r in extras[extra]}
        assert distribution in names, (extra, names)
        assert names <= dev, (extra, names - dev)
    assert any(r.startswith("moto[server]") for r in extras["demo"])


@pytest.mark.parametrize(("extra", "module"), [(e, m) for e, (_, m) in OPTIONAL_COMMANDS.items()])
def test_extra_modules_are_the_ones_logship_imports(extra: str, module: str) -> None:
    """The module each extra provides is one logship's code actually imports, so the extra is the right one."""
    sources = "\n".join(p.read_text() for p in [*(ROOT / "logship").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
    assert re.search(rf"^\s*(?:from|import) {re.escape(module)}\b", sources, re.MULTILINE), (extra, module)
