"""The versions a project declares, read as the tools that write them read them.

Sources, all in the project root:

* lock files: ``uv.lock``, ``poetry.lock``, ``pdm.lock`` (TOML) and ``Pipfile.lock`` (JSON). Each
  names the exact version that gets installed; where a package is locked more than once (one
  entry per Python version or platform), the entry whose markers hold is taken;
* ``requirements*.txt`` / ``requirements*.in``, read as pip reads them: backslash continuations
  joined (pip-compile's ``--hash`` lines), comments and per-line options stripped, ``-r`` and
  ``-c`` files followed (relative to the file that names them, each read once), ``${VAR}``
  expanded, environment markers evaluated;
* ``pyproject.toml``: ``[project]`` dependencies and optional dependencies.

``==`` pins and lock files give their version; ``~=`` and ``>=`` give the lower bound (the oldest
version the project admits, what removals are checked against). An exact version wins over a
range wherever each was found; among equals, lock files come first, then ``pyproject.toml``,
then the requirements files in name order.

Markers are evaluated against the environment given (the target interpreter's, see
:func:`recode.server.environment.marker_environment`), else the running interpreter's.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from recode.dataset.knowledge import canonical_name

REQUIREMENTS_FILE = re.compile(r"requirements.*\.(txt|in)$")
#: pip's comment rule: ``#`` at the start of a line or after whitespace (a URL's ``#egg=`` stays)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_INCLUDE_OPTIONS = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}

Pins = dict[str, tuple[Version, str]]


def declared_pins(root: Path | None, environment: Mapping[str, str] | None = None) -> Pins:
    """Library -> (version, file it came from), see the module doc."""
    if root is None or not root.is_dir():
        return {}
    env = {**default_environment(), **(environment or {}), "extra": ""}
    exact: Pins = {}
    lower: Pins = {}
    for name, version, where, is_exact in _all_pins(root, env):
        key = canonical_name(name)
        (exact if is_exact else lower).setdefault(key, (version, where))
    return {**lower, **exact}


def pin_files(root: Path | None) -> list[Path]:
    """Every file :func:`declared_pins` reads or would read in ``root`` (for watching): the lock
    files and ``pyproject.toml`` whether or not they exist yet, the requirements files and the
    files they include."""
    if root is None:
        return []
    found = [root / name for name in ("pyproject.toml", "requirements.txt", *_LOCK_FILES)]
    seen: set[Path] = set()
    for f in _requirements_files(root):
        for _ in _requirement_lines(f, seen):
            pass
    found.extend(sorted(seen))
    return list(dict.fromkeys(found))


# -- one source after the other ----------------------------------------------------------------


def _all_pins(root: Path, env: dict[str, str]) -> Iterator[tuple[str, Version, str, bool]]:
    for filename, read in _LOCK_FILES.items():
        path = root / filename
        if path.is_file():
            for name, version in read(path, env):
                yield name, version, filename, True
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        project = _toml(pyproject).get("project", {})
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs.extend(extra)
        for text in reqs:
            if isinstance(text, str):
                yield from _pinned(text, "pyproject.toml", env)
    seen: set[Path] = set()
    for f in _requirements_files(root):
        for text, where in _requirement_lines(f, seen):
            yield from _pinned(text, _shown(where, root), env)


def _pinned(text: str, where: str, env: dict[str, str]) -> Iterator[tuple[str, Version, str, bool]]:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return
    if req.marker is not None and not _holds(req.marker, env):
        return
    found = _version(req)
    if found is not None:
        yield req.name, found[0], where, found[1]


def _version(req: Requirement) -> tuple[Version, bool] | None:
    """The exact version of a ``==`` pin, else the highest lower bound (``~=``, ``>=``)."""
    best = None
    for spec in req.specifier:
        if spec.operator in ("==", "===", "~=", ">="):
            try:
                v = Version(spec.version.removesuffix(".*"))
            except InvalidVersion:
                continue
            if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
                return v, True
            best = v if best is None or v > best else best
    return (best, False) if best is not None else None


def _holds(marker: Marker | str, env: dict[str, str]) -> bool:
    try:
        return (marker if isinstance(marker, Marker) else Marker(marker)).evaluate(env)
    except (InvalidMarker, UndefinedComparison):
        return False


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# -- requirements files, as pip reads them -----------------------------------------------------


def _requirements_files(root: Path) -> list[Path]:
    try:
        return [
            f for f in sorted(root.iterdir()) if REQUIREMENTS_FILE.match(f.name) and f.is_file()
        ]
    except OSError:
        return []


def requirement_lines(root: Path) -> list[tuple[str, Path]]:
    """(requirement text, file) of every requirement the project's requirements files name, as
    pip reads them (for recode-upgrade, which installs them)."""
    seen: set[Path] = set()
    return [line for f in _requirements_files(root) for line in _requirement_lines(f, seen)]


def _requirement_lines(path: Path, seen: set[Path]) -> Iterator[tuple[str, Path]]:
    """(requirement text, file) of every requirement in ``path`` and the files it includes with
    ``-r``/``-c``; ``seen`` (resolved paths) guards against include cycles."""
    try:
        real = path.resolve()
        if real in seen:
            return
        seen.add(real)
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError, RuntimeError):  # RuntimeError: a link loop
        return
    for line in _logical_lines(text):
        line = _ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(0)), line)
        if line.startswith("-"):
            include = _include(line)
            if include is not None and "://" not in include:
                yield from _requirement_lines(path.parent / include, seen)
            continue  # -e, --index-url and the other options name no pinned version
        # pip's split: the requirement ends where the first option token (--hash=...) begins
        words = line.split(" ")
        end = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
        yield " ".join(words[:end]).strip(), path


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with backslash continuations joined and comments removed, as pip joins them: a
    comment line ends a continuation (and is dropped)."""
    pending: list[str] = []
    for line in text.splitlines():
        if line.endswith("\\") and not _COMMENT.match(line):
            pending.append(line[:-1])
            continue
        if _COMMENT.match(line):
            line = " " + line
        joined = "".join([*pending, line])
        pending = []
        if stripped := _COMMENT.sub("", joined).strip():
            yield stripped
    if pending and (stripped := _COMMENT.sub("", "".join(pending)).strip()):
        yield stripped


def _include(line: str) -> str | None:
    """The file of a ``-r``/``-c`` line in any spelling pip accepts, else None."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if not words:
        return None
    first = words[0]
    if first in _INCLUDE_OPTIONS:
        return words[1] if len(words) > 1 else None
    for option in ("--requirement", "--constraint"):
        if first.startswith(option + "="):
            return first[len(option) + 1 :]
    if first[:2] in ("-r", "-c") and not first.startswith("--"):
        return first[2:]
    return None


# -- lock files --------------------------------------------------------------------------------


def _toml(path: Path) -> dict[str, Any]:
    import tomllib  # here: most runs find their versions installed and read no pins

    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return {}


def _locked(
    packages: object, env: dict[str, str], markers_of: Callable[[dict[str, Any]], list[str]]
) -> Iterator[tuple[str, Version]]:
    """(name, version) of the ``[[package]]`` entries whose markers hold (no markers: always)."""
    if not isinstance(packages, list):
        return
    for package in packages:
        if not isinstance(package, dict):
            continue
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        markers = markers_of(package)
        if markers and not any(_holds(m, env) for m in markers):
            continue
        try:
            yield name, Version(version)
        except InvalidVersion:
            continue


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):  # Poetry 2: markers per dependency group
        return [v for v in value.values() if isinstance(v, str)]
    return []


def _uv_lock(path: Path, env: dict[str, str]) -> Iterator[tuple[str, Version]]:
    # A fork (one entry per Python range) carries ``resolution-markers``; the project itself has
    # an ``editable`` or ``virtual`` source.
    packages = [
        p
        for p in _toml(path).get("package", [])
        if isinstance(p, dict) and not {"editable", "virtual"} & set(p.get("source", {}))
    ]
    return _locked(packages, env, lambda p: _strings(p.get("resolution-markers")))


def _poetry_lock(path: Path, env: dict[str, str]) -> Iterator[tuple[str, Version]]:
    return _locked(_toml(path).get("package"), env, lambda p: _strings(p.get("markers")))


def _pdm_lock(path: Path, env: dict[str, str]) -> Iterator[tuple[str, Version]]:
    return _locked(_toml(path).get("package"), env, lambda p: _strings(p.get("marker")))


def _pipfile_lock(path: Path, env: dict[str, str]) -> Iterator[tuple[str, Version]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return
    if not isinstance(data, dict):
        return
    for section in ("default", "develop"):
        entries = data.get(section)
        for name, entry in entries.items() if isinstance(entries, dict) else ():
            version = entry.get("version") if isinstance(entry, dict) else None
            if not isinstance(version, str):
                continue  # a VCS or path entry
            markers = _strings(entry.get("markers"))
            for _, found, _, exact in _pinned(f"{name}{version}", "", env):
                if exact and all(_holds(m, env) for m in markers):
                    yield name, found


_LOCK_FILES: dict[str, Callable[[Path, dict[str, str]], Iterator[tuple[str, Version]]]] = {
    "uv.lock": _uv_lock,
    "poetry.lock": _poetry_lock,
    "pdm.lock": _pdm_lock,
    "Pipfile.lock": _pipfile_lock,
}
