"""The plan: which versions the upgrade moves to, resolved by pip under the project's other
constraints, and what the knowledge base says will break at them.

``--to numpy==2.4`` pins a library; ``--to pandas`` asks for its latest release; ``--to latest``
asks for the latest release of every knowledge-base library the project uses (imports or
declares). The resolution is pip's own (``pip install --dry-run --ignore-installed --report -``):
what it prints on a conflict names the constraint, and is passed on as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from recode.dataset.knowledge import IMPORT_NAMES, KnowledgeBase, canonical_name
from recode.server import pins
from recode.server.detector import Detector, Finding
from recode.server.files import iter_python_files
from recode.server.migrate import process_file
from recode.server.severity import LibraryVersion
from recode.server.upgrade.declare import Needed
from recode.server.upgrade.runner import Runner
from recode.server.upgrade.venvs import clean_env

LATEST = "latest"
#: Files that make a folder pip-installable (``pip install -e PATH``).
INSTALLABLE = ("pyproject.toml", "setup.py", "setup.cfg")
_IMPORT = re.compile(rb"^[ \t]*(?:from|import)[ \t]+([A-Za-z_]\w*)", re.M)


class PlanError(Exception):
    """The target set cannot be made: a bad ``--to`` or pip's resolver refused (its text)."""


@dataclass(frozen=True)
class Change:
    name: str
    before: str | None  # None: not in the environment before
    after: str | None  # None: gone after


@dataclass
class Resolution:
    """One environment's distributions as pip resolved them (the project itself left out)."""

    versions: dict[str, str]
    requirements: list[str]  # the pip arguments resolved

    def key(self) -> list[str]:
        return sorted(f"{n}=={v}" for n, v in self.versions.items())


@dataclass
class Plan:
    root: Path
    python: str
    targets: dict[str, str]  # library -> version asked for (a release, after --to NAME)
    target: Resolution
    baseline: Resolution | None = None
    before: dict[str, str] = field(default_factory=dict)  # distribution -> version now
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # (file, finding)
    #: dependencies a library stopped installing, which the project imports and must declare
    needed: list[Needed] = field(default_factory=list)

    def changes(self) -> list[Change]:
        before = self.baseline.versions if self.baseline is not None else self.before
        after = self.target.versions
        names = sorted(set(after) | (set(before) if self.baseline is not None else set()))
        out = []
        for name in names:
            b, a = before.get(name), after.get(name)
            if b != a:
                out.append(Change(name, b, a))
        return out


def parse_to(specs: Iterable[str]) -> dict[str, str | None]:
    """``["numpy==2.4", "pandas"]`` -> {"numpy": "2.4", "pandas": None}; ``["latest"]`` ->
    {"latest": None}. Only exact versions: a range is what the resolver's answer is for."""
    out: dict[str, str | None] = {}
    for spec in specs:
        if spec.strip() == LATEST:
            out[LATEST] = None
            continue
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            raise PlanError(f"--to {spec!r}: {exc}") from None
        ops = [s for s in req.specifier]
        if len(ops) > 1 or (ops and ops[0].operator != "=="):
            raise PlanError(f"--to {spec!r}: give NAME or NAME==VERSION")
        try:
            version = str(Version(ops[0].version)) if ops else None
        except InvalidVersion:
            raise PlanError(f"--to {spec!r}: {ops[0].version!r} is not a version") from None
        out[canonical_name(req.name)] = version
    if LATEST in out and len(out) > 1:
        raise PlanError("--to latest moves every library; give it alone")
    return out


def used_libraries(root: Path, kb: KnowledgeBase) -> list[str]:
    """The knowledge base's libraries that the project imports or declares."""
    roots = {r: lib for lib in kb.libraries() for r in IMPORT_NAMES.get(lib, (lib,))}
    used = {canonical_name(n) for n in pins.declared_pins(root)} & set(kb.libraries())
    for path, _ in iter_python_files([root]):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for m in _IMPORT.finditer(data):
            lib = roots.get(m.group(1).decode())
            if lib:
                used.add(lib)
    return sorted(used)


def installable(root: Path) -> bool:
    return any((root / name).is_file() for name in INSTALLABLE)


def requirements(
    root: Path, pinned: dict[str, str], extra: Iterable[str] = (), test_runner: str = "pytest"
) -> list[str]:
    """pip arguments for the project at ``pinned``: the project itself (editable), its
    requirements files' lines (those naming a pinned library left out), the pins, ``extra``
    and the test runner."""
    args: list[str] = ["-e", str(root)] if installable(root) else []
    named: set[str] = set()
    for text, _where in pins.requirement_lines(root):
        try:
            name = canonical_name(Requirement(text).name)
        except InvalidRequirement:
            args.append(text)  # a URL or path: pip reads it
            continue
        if name not in pinned:
            named.add(name)
            args.append(text)
    args += [f"{n}=={v}" for n, v in pinned.items()]
    for text in extra:
        args.append(text)
        try:
            named.add(canonical_name(Requirement(text).name))
        except InvalidRequirement:
            pass
    if test_runner and test_runner not in named and test_runner not in pinned:
        args.append(test_runner)
    return args


def pip_report(python: str, args: list[str], runner: Runner, *, no_deps: bool = False) -> dict:
    """pip's installation report for ``args`` resolved as if nothing were installed."""
    argv = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    argv += ["--no-deps"] if no_deps else []
    done = runner([*argv, "--report", "-", *args], env=clean_env(), timeout=900)
    if done.returncode != 0 or done.timed_out:
        raise PlanError(_pip_error(done.stderr) or f"pip exited with {done.returncode}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise PlanError(f"pip's report is not JSON: {exc}") from None


def _pip_error(stderr: str) -> str:
    """pip's own explanation: from its first ERROR line on (the conflict and its cause)."""
    lines = stderr.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), 0)
    return "\n".join(lines[start:]).strip()


def latest_releases(python: str, names: Iterable[str], runner: Runner) -> dict[str, str]:
    """The latest release pip would install of each name, on its own (``--no-deps``)."""
    names = list(names)
    if not names:
        return {}
    report = pip_report(python, names, runner, no_deps=True)
    return _versions(report)


def resolve(python: str, args: list[str], runner: Runner) -> Resolution:
    return Resolution(_versions(pip_report(python, args, runner)), args)


def _versions(report: dict) -> dict[str, str]:
    """name -> version of each distribution pip would install, local folders (the project
    itself, installed from its copy in each run) left out."""
    out = {}
    for item in report.get("install", []):
        if "dir_info" in item.get("download_info", {}):
            continue
        meta = item.get("metadata", {})
        out[canonical_name(meta["name"])] = meta["version"]
    return out


def findings_at(
    root: Path, kb: KnowledgeBase, versions: dict[str, str]
) -> list[tuple[str, Finding]]:
    """The knowledge base's findings in the project's files at these versions."""
    at = {
        lib: LibraryVersion(Version(v), "target")
        for lib, v in versions.items()
        if lib in kb_libs(kb)
    }
    detector = Detector(kb, at)
    out = []
    for path, _ in iter_python_files([root]):
        result = process_file(path, detector, "check", display=str(path.relative_to(root)))
        out.extend((result.path, f) for f in result.findings)
    return out


def kb_libs(kb: KnowledgeBase) -> set[str]:
    return set(kb.libraries())
