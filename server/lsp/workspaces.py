"""Workspace folders and what their documents are checked against.

Each workspace folder (multi-root: each root) has its own settings and so its own interpreter,
installed versions and :class:`~recode.server.detector.Detector`: a :class:`Context`. A file
outside every folder gets a folder of its own at its project root (or its directory). Contexts
are built in a worker thread (asking an interpreter for its ``sys.path`` starts a process) and
replaced, never changed: a snapshot handler keeps the context it started with.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import recode.dataset
import recode.server
from recode.dataset import kb_cache
from recode.dataset.knowledge import (
    KnowledgeBase,
    canonical_name,
    knowledge_base_files,
    load_knowledge_base,
)
from recode.server import environment as env_mod
from recode.server import pins as pins_mod
from recode.server.detector import Detector
from recode.server.lsp.settings import Settings
from recode.server.severity import LibraryVersion
from recode.server.suppression import Suppressor


@dataclass(frozen=True)
class Context:
    """The environment and detector of one folder at one point in time."""

    generation: int
    settings: Settings
    detector: Detector
    interpreter: str | None
    versions: dict[str, LibraryVersion]
    site_dirs: tuple[str, ...]  # the interpreter's site-packages folders
    pin_files: tuple[str, ...]  # requirements / pyproject files of the project root
    fingerprint: tuple[tuple[str, int], ...]  # of site_dirs + pin_files when the context was read
    problems: tuple[str, ...] = ()
    kb: KnowledgeBase | None = None

    def describe_versions(self) -> str:
        if not self.versions:
            return "no checked library found"
        return ", ".join(f"{lib} {v.version}" for lib, v in sorted(self.versions.items()))

    @property
    def watched(self) -> tuple[str, ...]:
        return self.site_dirs + self.pin_files

    def suppressor(self, path: str | None) -> Suppressor:
        """What decides which findings of the file at ``path`` are accepted (ignore comments
        and the project's per-file-ignores)."""
        project = self.settings.project
        if project is None or not project.per_file_ignores or path is None:
            return Suppressor()
        return project.per_file_suppressors.suppressor(Path(path).resolve())


@dataclass
class Folder:
    """A workspace folder (or an implicit one for a file outside every folder)."""

    uri: str
    path: Path | None
    name: str
    explicit: bool = True  # False: made up for a file outside the workspace folders
    settings: Settings | None = None  # resolved (defaults < initializationOptions < config)
    context: Context | None = None
    generation: int = 0
    building: object | None = None  # asyncio.Future[Context] while a build is running
    model_url_checked: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def contains(self, path: str | None) -> bool:
        if path is None or self.path is None:
            return False
        folder = str(self.path)
        return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def fingerprint(paths: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """Modification times (ns, -1 if missing) of the given files and folders.

    A folder's time changes when an entry is added or removed: pip installing, upgrading or
    removing a package creates and deletes ``*.dist-info`` folders in site-packages.
    """
    out = []
    for p in paths:
        try:
            out.append((p, os.stat(p).st_mtime_ns))
        except OSError:
            out.append((p, -1))
    return tuple(out)


class KnowledgeBases:
    """Loaded knowledge bases by their paths (None: the shipped base) and the libraries kept
    (None: all); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[tuple[str, ...] | None, frozenset[str] | None], KnowledgeBase] = {}

    def get(
        self, paths: tuple[str, ...] | None, libraries: frozenset[str] | None = None
    ) -> KnowledgeBase:
        with self._lock:
            kb = self._cache.get((paths, libraries))
            if kb is None:
                kb = load_knowledge_base([Path(p) for p in paths] if paths else None, libraries)
                self._cache[(paths, libraries)] = kb
            return kb


def resolve_python(value: str | None, folder: Path | None) -> str | None:
    """The ``python`` setting with ``~`` and ``${workspaceFolder}`` expanded, made absolute.

    A relative path is taken from the folder; a bare name (``python3``) is looked up on PATH.
    """
    if not value:
        return None
    if folder is not None:
        value = value.replace("${workspaceFolder}", str(folder))
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    if os.sep in value or "/" in value:
        return str((folder or Path.cwd()) / path)
    return shutil.which(value) or value


def pin_files(root: Path | None) -> list[str]:
    """The files :func:`recode.server.pins.declared_pins` reads in a project root."""
    return [str(f) for f in pins_mod.pin_files(root)]


def _probe(folder_path: Path | None, settings: Settings) -> tuple[str, list[str], list[str]]:
    """The folder's interpreter, its site-packages folders, and the problems met finding
    them."""
    problems: list[str] = []
    root = env_mod.find_root(folder_path if folder_path is not None else Path.cwd())
    try:
        interpreter = env_mod.find_interpreter(root, resolve_python(settings.python, folder_path))
    except env_mod.InterpreterError as exc:
        problems.append(f"{exc}; using the default interpreter instead")
        interpreter = env_mod.find_interpreter(root, None)
    try:
        site_dirs = [str(p) for p in env_mod.site_packages_dirs(interpreter)]
    except env_mod.InterpreterError as exc:
        problems.append(f"{exc}; using the default interpreter instead")
        interpreter = env_mod.find_interpreter(root, None)
        site_dirs = [str(p) for p in env_mod.site_packages_dirs(interpreter)]
    return interpreter, site_dirs, problems


@contextmanager
def _long_lived() -> Iterator[None]:
    """Make what lives as long as a folder's context (its knowledge base and detector: most of
    the server's objects) with the garbage collector off, then move every object alive to the
    collector's permanent generation (``gc.freeze``), which later collections do not walk.
    Measured (BENCHMARKS.md, language server): a full collection walked the knowledge base
    each time, about 50 ms of CPU, and came during the first diagnostics and the edits. An
    object frozen is still freed when its last reference goes; only a reference cycle among
    frozen objects stays (one per rebuild of a context at most). The collector's state is
    left as found."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def build_context(
    folder_path: Path | None, settings: Settings, generation: int, kbs: KnowledgeBases
) -> Context:
    """Read the environment of a folder and make its detector (runs in a worker thread).

    The watched files are fingerprinted before the environment is read, so a package installed
    while it is being read still shows up as a change afterwards.
    """
    # The interpreter first (a restart finds its answer on disk, server/probe_cache.py), so
    # that only the records of the libraries this environment has a version of (installed,
    # pinned or a target) are read: the detector checks no others, and reading every
    # library's records was half of the shipped base's load (BENCHMARKS.md, language server).
    interpreter, site_dirs, problems = _probe(folder_path, settings)
    where = folder_path if folder_path is not None else Path.cwd()
    root = env_mod.find_root(where)
    pins = pin_files(root)
    if settings.project is not None and str(settings.project.path) not in pins:
        pins.append(str(settings.project.path))  # an edit of it rebuilds the context
    stamp = fingerprint(site_dirs + pins)
    env = env_mod.load_environment(where, python=interpreter, targets=settings.target_versions())
    have = frozenset(env.versions())
    if settings.libraries:
        have &= {canonical_name(x) for x in settings.libraries}
    with _long_lived():
        kb, versions, detector = _kb_and_detector(settings, have, env, kbs)
    problems[:0] = [f"knowledge base: {problem} (record skipped)" for problem in kb.problems[:5]]
    return Context(
        generation=generation,
        settings=settings,
        detector=detector,
        interpreter=env.interpreter,
        versions=versions,
        site_dirs=tuple(site_dirs),
        pin_files=tuple(pins),
        fingerprint=stamp,
        problems=tuple(problems),
        kb=kb,
    )


def _kb_and_detector(
    settings: Settings, have: frozenset[str], env: env_mod.Environment, kbs: KnowledgeBases
) -> tuple[KnowledgeBase, dict[str, LibraryVersion], Detector]:
    """The folder's knowledge base (the records of the libraries in ``have``, and of the
    project's selection), the versions checked and the detector, read back whole from one
    cache entry (:func:`recode.dataset.kb_cache.cached_made`) where one was made from the same
    inputs. Measured (BENCHMARKS.md, language server): unpickling the records and the detector
    together takes 15-17 ms of CPU, loading the records and building the detector 31-37 ms;
    the key ~2 ms (the files' times, :func:`~recode.dataset.kb_cache.file_key`; their bytes
    hashed took ~8 ms).

    The key holds everything the three are made of, so that an entry cannot be stale: the
    path and content (:func:`~recode.dataset.kb_cache.file_key`) of every knowledge-base file a
    load reads, the libraries kept, the project's selection, every version the environment has
    (those checked are among them), the minimum severity, and the source of recode's
    ``server`` and ``dataset`` packages (the detector's tables and the parser; the cache adds
    Python's and ``packaging``'s versions)."""
    paths = [Path(p) for p in settings.knowledge_base] if settings.knowledge_base else None
    selection = settings.project.selection() if settings.project is not None else None

    def make() -> tuple[KnowledgeBase, dict[str, LibraryVersion], Detector]:
        kb = kbs.get(settings.knowledge_base, have)
        if selection is not None:
            kb = selection.restrict(kb)
        versions = env.versions(kb.libraries())
        return kb, versions, Detector(kb, versions, min_severity=settings.min_severity)

    try:
        files, type_files = knowledge_base_files(paths)
        inputs = [_code_digest()]
        for f in [*files, *type_files]:
            inputs += [str(f).encode(), kb_cache.file_key(f)]
    except OSError:  # a file that cannot be read (the load reports it), or no source: uncached
        return make()
    every = sorted((name, repr(v)) for name, v in env.versions().items())
    inputs.append(repr((sorted(have), selection, every, settings.min_severity)).encode())
    group = repr(("folder-detector", settings.knowledge_base, sorted(have)))
    return kb_cache.cached_made(group, inputs, make, _is_kb_and_detector)


def _is_kb_and_detector(found: object) -> bool:
    return (
        isinstance(found, tuple)
        and len(found) == 3
        and isinstance(found[0], KnowledgeBase)
        and isinstance(found[1], dict)
        and isinstance(found[2], Detector)
    )


@cache
def _code_digest() -> bytes:
    """A key of the source of recode's ``server`` and ``dataset`` packages: each file's path
    and :func:`~recode.dataset.kb_cache.file_key` (~2 ms of CPU, once per process)."""
    h = hashlib.blake2b(digest_size=16)
    for package in (recode.server, recode.dataset):
        root = Path(next(iter(package.__path__)))
        sources = sorted(root.rglob("*.py"))
        if not sources:  # bytecode only: nothing to key the entry with, so no entry
            raise OSError(f"no source files under {root}")
        for path in sources:
            h.update(f"{package.__name__}/{path.relative_to(root)}".encode())
            h.update(kb_cache.file_key(path))
    return h.digest()
