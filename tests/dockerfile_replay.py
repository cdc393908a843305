"""Replay a Dockerfile's build steps into a temporary root, for machines without a Docker engine.

Each stage gets a folder standing in for its image's filesystem. COPY copies
from the build context (filtered by the Dockerfile's own ``.dockerignore``) or
from an earlier stage's folder; WORKDIR creates folders; RUN runs its shell
command on this machine, in the stage's working folder, with every absolute
path in the command moved under the stage's folder and ``python3`` standing for
the interpreter running the tests. The base images' own files are not there,
so a RUN step may only use the interpreter and what earlier steps copied; the
environment each base image sets (``LAMBDA_TASK_ROOT``, ...) is given by the
caller. Only the instructions logship's Dockerfiles use are understood;
anything else fails loudly rather than being skipped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath


class ReplayError(Exception):
    """The Dockerfile uses something the replay does not understand, or a step failed."""


@dataclasses.dataclass(frozen=True)
class Instruction:
    """One instruction: keyword, ``--flag=value`` options, the rest of the line, and its line number."""

    keyword: str
    flags: dict[str, str]
    args: str
    line: int


@dataclasses.dataclass(frozen=True)
class BaseImage:
    """What a base image brings that a step may rely on: its environment and working directory."""

    env: Mapping[str, str]
    workdir: str = "/"


@dataclasses.dataclass
class Stage:
    """A replayed stage: its base reference, its folder, environment, working directory and metadata."""

    name: str | None
    base: str
    root: Path
    env: dict[str, str]
    workdir: str
    args: dict[str, str] = dataclasses.field(default_factory=dict)
    cmd: list[str] | None = None
    healthcheck: list[str] | None = None
    copied: list[str] = dataclasses.field(default_factory=list)

    def path(self, image_path: str) -> Path:
        """The host path of an absolute path inside this stage's image."""
        return self.root / PurePosixPath(image_path).relative_to("/")


_SUPPORTED = {"ARG", "FROM", "WORKDIR", "COPY", "RUN", "CMD", "ENV", "HEALTHCHECK", "LABEL", "EXPOSE"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
# An absolute path inside a RUN command: after a space, an '=' or the start, up to a separator.
_ABSOLUTE = re.compile(r"(?:^|(?<=[\s=]))/[^\s;&|<>'\"]*")


def parse(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile: comments dropped, backslash continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment line inside a continuation is skipped, as Docker does
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        line = " ".join(part for part in pending if part)
        pending = []
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword not in _SUPPORTED:
            raise ReplayError(f"line {start}: {keyword} is not understood by the replay")
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        instructions.append(Instruction(keyword, flags, rest, start))
    if pending:
        raise ReplayError("the Dockerfile ends inside a line continuation")
    return instructions


def expand(text: str, variables: Mapping[str, str], where: str) -> str:
    """``$NAME`` and ``${NAME}`` from ``variables``; an unknown name is an error, not an empty string."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise ReplayError(f"{where}: ${name} is not defined")
        return variables[name]

    return _VARIABLE.sub(value, text)


def exec_form(args: str, where: str) -> list[str]:
    """A JSON array instruction argument (``CMD ["a", "b"]``)."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError as err:
        raise ReplayError(f"{where}: expected the exec (JSON array) form, got {args!r}") from err
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ReplayError(f"{where}: expected a JSON array of strings, got {args!r}")
    return value


# --- .dockerignore ------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over context-relative POSIX paths (Go filepath.Match plus ``**``)."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per pattern of a .dockerignore file, in order."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = os.path.normpath(line[1:] if exception else line).lstrip("/")
        rules.append((exception, _pattern_regex(pattern)))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether a context path is left out: the last pattern matching it or one of its parents decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for exception, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not exception
    return excluded


def build_context(source: Path, into: Path, ignore_file: Path | None) -> Path:
    """Copy the files of ``source`` a builder would send (the ignore file applied) into ``into``."""
    rules = ignore_rules(ignore_file.read_text()) if ignore_file and ignore_file.is_file() else []
    for dirpath, dirnames, filenames in os.walk(source):
        base = Path(dirpath)
        # Never walk into the big local folders; a pattern could not bring them back in a build anyway
        # without also being listed in the Dockerfile's COPY lines, which the replay checks.
        dirnames[:] = [d for d in dirnames if d not in {".git", ".venv", ".aws-sam"}]
        for name in filenames:
            path = base / name
            relative = path.relative_to(source).as_posix()
            if not ignored(relative, rules):
                destination = into / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
    return into


# --- the replay -----------------------------------------------------------------


def _copy(source: Path, destination: Path, into_folder: bool) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True, symlinks=True)
        return
    target = destination / source.name if into_folder else destination
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def _in_stage(stage: Stage, match: re.Match[str]) -> str:
    """An absolute image path in a RUN command, as the path of the stage's folder on this machine."""
    return str(stage.path(match.group(0)))


def _image_path(stage: Stage, path: str) -> str:
    joined = PurePosixPath(stage.workdir) / path if not path.startswith("/") else PurePosixPath(path)
    return str(joined)


def _python_shim(folder: Path) -> Path:
    """A folder whose ``python3`` and ``python`` are the interpreter running the tests."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        link = folder / name
        if not link.exists():
            link.symlink_to(sys.executable)
    return folder


def replay(
    dockerfile: Path,
    context: Path,
    into: Path,
    bases: Mapping[str, BaseImage],
    build_args: Mapping[str, str] | None = None,
) -> list[Stage]:
    """Replay ``dockerfile`` with ``context`` as build context; return its stages, the image last."""
    instructions = parse(dockerfile.read_text())
    global_args: dict[str, str] = {}
    overrides = dict(build_args or {})
    stages: list[Stage] = []
    shim = _python_shim(into / "shim")
    for item in instructions:
        where = f"{dockerfile.name}:{item.line}"
        if item.keyword == "ARG" and not stages:
            name, _, default = item.args.partition("=")
            global_args[name] = overrides.get(name, default)
            continue
        if item.keyword == "FROM":
            reference, _, alias = item.args.partition(" AS ") if " AS " in item.args else item.args.partition(" as ")
            base = expand(reference.strip(), global_args, where)
            repository = re.sub(r"(@sha256:[0-9a-f]+|:[\w][\w.-]*)$", "", base)
            if repository not in bases:
                raise ReplayError(f"{where}: the replay does not know what {repository} provides")
            image = bases[repository]
            root = into / f"stage-{len(stages)}"
            root.mkdir(parents=True)
            stage = Stage(alias.strip() or None, base, root, dict(image.env), image.workdir)
            stage.path(image.workdir).mkdir(parents=True, exist_ok=True)
            stages.append(stage)
            continue
        if not stages:
            raise ReplayError(f"{where}: {item.keyword} before FROM")
        stage = stages[-1]
        variables = {**stage.env, **stage.args}
        if item.keyword == "ARG":
            name, _, default = item.args.partition("=")
            stage.args[name] = overrides.get(name, default or global_args.get(name, ""))
        elif item.keyword == "ENV":
            name, _, value = item.args.partition("=")
            stage.env[name] = expand(value, variables, where)
        elif item.keyword == "WORKDIR":
            stage.workdir = _image_path(stage, expand(item.args, variables, where))
            stage.path(stage.workdir).mkdir(parents=True, exist_ok=True)
        elif item.keyword == "COPY":
            unknown = set(item.flags) - {"from"}
            if unknown:
                raise ReplayError(f"{where}: COPY --{sorted(unknown)[0]} is not understood by the replay")
            *sources, dest = [expand(part, variables, where) for part in shlex.split(item.args)]
            if not sources:
                raise ReplayError(f"{where}: COPY needs a source and a destination")
            origin = context
            if "from" in item.flags:
                named = {s.name: s for s in stages[:-1] if s.name}
                if item.flags["from"] not in named:
                    raise ReplayError(f"{where}: no earlier stage named {item.flags['from']!r}")
                origin = named[item.flags["from"]].root
            into_folder = dest.endswith("/") or len(sources) > 1
            destination = stage.path(_image_path(stage, dest))
            for source in sources:
                path = origin / source.lstrip("/")
                if not path.exists():
                    raise ReplayError(f"{where}: COPY source {source} is not in the build context")
                _copy(path, destination, into_folder)
                stage.copied.append(_image_path(stage, dest))
        elif item.keyword == "RUN":
            if item.flags:
                raise ReplayError(f"{where}: RUN --{next(iter(item.flags))} is not understood by the replay")
            command = _ABSOLUTE.sub(functools.partial(_in_stage, stage), item.args)
            env = {**stage.env, "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(into)}
            result = subprocess.run(
                ["/bin/sh", "-c", command],
                cwd=stage.path(stage.workdir),
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            if result.returncode != 0:
                raise ReplayError(f"{where}: RUN {command!r} failed:\n{result.stdout}\n{result.stderr}")
        elif item.keyword == "CMD":
            stage.cmd = exec_form(item.args, where)
        elif item.keyword == "HEALTHCHECK":
            _, _, command = item.args.partition("CMD ")
            stage.healthcheck = exec_form(command.strip(), where)
    if not stages:
        raise ReplayError(f"{dockerfile.name} has no FROM")
    return stages
