"""Which version of each library the user's code runs against.

The interpreter is, in order: the one asked for (``--python`` / the ``python`` setting), the
active virtual environment (``VIRTUAL_ENV``), a ``.venv`` or ``venv`` folder in the project root,
or the interpreter running ReCode. Installed distributions are read from that interpreter's
``sys.path`` through their metadata, without importing them. A library that is not installed
falls back to the project's declared pins (lock files, ``requirements*.txt``, ``pyproject.toml``:
see :mod:`recode.server.pins`). Targets
(``numpy==2.0``) override both: they ask what an upgrade would break.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from recode.dataset.knowledge import canonical_name
from recode.server import probe_cache
from recode.server.pins import declared_pins
from recode.server.severity import LibraryVersion

if TYPE_CHECKING:
    from importlib.metadata import Distribution

ROOT_MARKERS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements.txt",
    "Pipfile",  # a Pipenv project may have no pyproject.toml
    "Pipfile.lock",
    ".git",
)


class InterpreterError(RuntimeError):
    """The interpreter asked for cannot be used."""


@dataclass
class Environment:
    interpreter: str
    root: Path | None
    installed: dict[str, Version] | None = None  # None: not read yet (see installed_now)
    pins: dict[str, tuple[Version, str]] | None = None  # None: not read yet (see pins_now)
    targets: dict[str, Version] = field(default_factory=dict)

    def installed_now(self) -> dict[str, Version]:
        """The interpreter's installed distributions, read on first use: a run that targets
        every library it checks (``--target``) never needs them."""
        if self.installed is None:
            self.installed = installed_versions(interpreter_paths(self.interpreter))
        return self.installed

    def pins_now(self) -> dict[str, tuple[Version, str]]:
        """The project's declared pins, read on first use (as :meth:`installed_now`), their
        markers evaluated for the interpreter's platform and Python."""
        if self.pins is None:
            self.pins = declared_pins(self.root, marker_environment(self.interpreter))
        return self.pins

    def versions(self, libraries: Iterable[str] | None = None) -> dict[str, LibraryVersion]:
        """Library -> the version to check against (target, else installed, else pinned)."""
        wanted = {canonical_name(x) for x in libraries} if libraries is not None else None
        if wanted is not None and wanted <= set(self.targets):
            installed: dict[str, Version] = {}
            pins: dict[str, tuple[Version, str]] = {}
        else:
            installed, pins = self.installed_now(), self.pins_now()
        names = set(installed) | set(pins) | set(self.targets)
        if wanted is not None:
            names &= wanted
        out: dict[str, LibraryVersion] = {}
        for name in names:
            if name in self.targets:
                out[name] = LibraryVersion(self.targets[name], "target")
            elif name in installed:
                out[name] = LibraryVersion(installed[name], "installed")
            else:
                version, where = pins[name]
                out[name] = LibraryVersion(version, f"pinned in {where}")
        return out


def find_root(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` that looks like a project root."""
    path = path.resolve()
    for folder in [path, *path.parents] if path.is_dir() else path.parents:
        # os.path.exists: a folder that cannot be read holds no marker (Path.exists raises)
        if any(os.path.exists(folder / m) for m in ROOT_MARKERS):
            return folder
    return None


def find_interpreter(root: Path | None, explicit: str | None = None) -> str:
    if explicit:
        candidate = Path(explicit).expanduser()
        if candidate.is_dir():  # a venv folder given instead of its python
            candidate = _venv_python(candidate) or candidate
        if not candidate.exists():
            raise InterpreterError(f"interpreter not found: {explicit}")
        return str(candidate)
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and (found := _venv_python(Path(venv))):
        return str(found)
    if root is not None:
        for name in (".venv", "venv"):
            if found := _venv_python(root / name):
                return str(found)
    return sys.executable


def _venv_python(folder: Path) -> Path | None:
    for rel in ("bin/python", "bin/python3", "Scripts/python.exe"):
        # os.path.exists, not Path.exists: a folder this user may not search (another user's
        # VIRTUAL_ENV) raises PermissionError there, and is simply not an interpreter here
        if os.path.exists(folder / rel):
            return folder / rel
    return None


#: Asked of another interpreter: its ``sys.path`` and its PEP 508 marker environment (the
#: fields ``packaging.markers.default_environment`` computes, which that interpreter may lack).
_ASK = """
import json, os, platform, site, sys
def v(i):
    s = f"{i.major}.{i.minor}.{i.micro}"
    return s if i.releaselevel == "final" else s + i.releaselevel[0] + str(i.serial)
user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
print(json.dumps({"path": sys.path, "user_site": user_site, "markers": {
    "implementation_name": sys.implementation.name,
    "implementation_version": v(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}}))
"""


def _is_running(interpreter: str) -> bool:
    return os.path.abspath(interpreter) == os.path.abspath(sys.executable)


def _ask(interpreter: str) -> dict[str, Any]:
    """What :data:`_ASK` prints: asked once, then kept while the interpreter and its paths
    stay as they were (:mod:`recode.server.probe_cache`), across processes."""
    return probe_cache.asked(interpreter, _ASK, lambda: _run(interpreter))


def _run(interpreter: str) -> dict[str, Any]:
    import subprocess  # here: only --python with another interpreter asks one

    try:
        out = subprocess.run(
            [interpreter, "-c", _ASK], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        answer = json.loads(out.strip().splitlines()[-1])
        if not isinstance(answer.get("path"), list):
            raise ValueError("no sys.path in the answer")
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, AttributeError) as exc:
        raise InterpreterError(f"cannot ask {interpreter} for its sys.path: {exc}") from exc
    return answer  # type: ignore[no-any-return]


def interpreter_paths(interpreter: str) -> list[str]:
    """The ``sys.path`` of an interpreter (asked again only when it may have changed)."""
    if _is_running(interpreter):
        return list(sys.path)
    return list(_ask(interpreter)["path"])


def marker_environment(interpreter: str) -> dict[str, str] | None:
    """The interpreter's environment for evaluating requirement markers (``python_version``,
    ``sys_platform``...); None (the running interpreter's) when it is the running one or cannot
    be asked."""
    if _is_running(interpreter):
        return None
    try:
        markers = _ask(interpreter).get("markers")
    except InterpreterError:
        return None
    return {k: str(v) for k, v in markers.items()} if isinstance(markers, dict) else None


def installed_versions(paths: list[str]) -> dict[str, Version]:
    """Distribution -> version, first on the path wins, read from metadata only."""
    from importlib import metadata  # here: a run that targets every library never reads them

    found: dict[str, Version] = {}
    for dist in metadata.distributions(path=[p for p in paths if p and os.path.isdir(p)]):
        name, version = _name_and_version(dist)
        if not name:
            continue
        key = canonical_name(name)
        if key in found:
            continue
        try:
            found[key] = Version(version)
        except (InvalidVersion, TypeError):
            continue
    return found


def _name_and_version(dist: Distribution) -> tuple[str | None, str | None]:
    """Name and Version from the metadata's header block only.

    ``dist.metadata`` parses the whole file, long description included, as an e-mail message:
    most of the start-up time of a run in an environment with a few hundred distributions.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return None, None
    name = version = None
    for line in text.split("\n\n", 1)[0].splitlines():
        if line.startswith("Name:") and name is None:
            name = line[5:].strip()
        elif line.startswith("Version:") and version is None:
            version = line[8:].strip()
    if name is None or version is None:  # unusual layout: the full parser decides
        return (dist.metadata["Name"] if dist.metadata else None), dist.version
    return name, version


def site_packages_dirs(interpreter: str) -> list[Path]:
    """Folders whose changes mean the installed packages changed (for watching)."""
    return [
        Path(p)
        for p in interpreter_paths(interpreter)
        if p.endswith(("site-packages", "dist-packages"))
    ]


def load_environment(
    path: Path,
    *,
    python: str | None = None,
    targets: Mapping[str, Version] | None = None,
) -> Environment:
    root = find_root(path)
    interpreter = find_interpreter(root, python)
    return Environment(interpreter=interpreter, root=root, targets=dict(targets or {}))
