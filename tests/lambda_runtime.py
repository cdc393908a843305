"""A stand-in for the Lambda Python runtime: a fresh interpreter with only boto3 installed."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path


def runtime_python(folder: Path) -> Path:
    """The python of a virtual environment under ``folder`` holding boto3 and nothing else; made once."""
    python = folder / "bin" / "python"
    done = folder / ".boto3-installed"
    if done.exists():
        return python
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "boto3"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    done.touch()
    return python


def run_in_task_root(python: Path, task_root: Path, code: str, env: dict[str, str], cwd: Path) -> str:
    """Run ``code`` isolated (-I) with ``task_root`` first on sys.path, as the runtime's bootstrap puts it; stdout."""
    probe = f"import sys; sys.path.insert(0, {str(task_root)!r})\n{code}"
    result = subprocess.run(
        [str(python), "-I", "-c", probe], capture_output=True, text=True, check=False, cwd=cwd, env=env, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
