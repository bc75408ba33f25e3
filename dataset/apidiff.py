"""Breaking changes between two releases of a library, from a static look at both.

Both versions are downloaded by pip (a wheel, else the sdist; no install, no build) into the
cache (``{cache}/dists``), unpacked (``{cache}/unpacked/NAME-VERSION``) and loaded with griffe
without importing anything. griffe lists what broke (objects removed, objects whose kind
changed, parameters removed, moved, made required, added as required); this module

* drops what is not public API (private names, ``tests``/``testing``/``conftest``/``setup``
  modules, vendored copies),
* pairs each removed object with an object that appeared in the new version and looks like
  its successor (the same name elsewhere: a move; a near name next to it: a rename such as
  ``clip_grad_norm`` -> ``clip_grad_norm_``), and each removed parameter with a new parameter
  in the same place (a keyword rename),
* joins each change with the release-note entries that name it (:mod:`recode.dataset.notes`),
* writes knowledge-base candidate records, marked for review, and
* lists which changes the shipped knowledge base does not cover (``--check``).

Static diffs are a source of candidates, not the truth: names created at import time are
invisible to them, and a re-export that moved shows up as a removal. Every record that reaches
the knowledge base is reviewed and cites its release note (see ``kb/README.md``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from recode.dataset.knowledge import IMPORT_NAMES, KnowledgeBase, RecordKind, canonical_name
from recode.dataset.notes import NoteEntry, mentions
from recode.dataset.release_notes import default_cache_dir

__all__ = [
    "ApiChange",
    "candidate_records",
    "diff_packages",
    "diff_versions",
    "download",
    "missing_from_kb",
    "public_paths",
    "unpack",
]

_NOISE = re.compile(
    r"(?:^|\.)(?:tests?|testing|conftest|setup|_vendor|vendor|_vendored|externals|benchmarks?|"
    r"__main__)(?:\.|$)"
)


@dataclass
class ApiChange:
    """One breaking change between two versions, as this tool understands it."""

    kind: str  # removed | renamed | moved | kind_changed | parameter_removed |
    # parameter_renamed | parameter_required | parameter_moved | parameter_added_required
    symbol: str  # fully qualified; a parameter as ``path(param)``
    detail: str  # what changed, in words
    location: str = ""  # file:line in the old version
    replacement: str | None = None  # proposed successor (rename/move/keyword rename)
    notes: list[NoteEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = [n.to_dict() for n in self.notes]
        return data


# -- getting the code ------------------------------------------------------------------------


def download(
    library: str,
    version: str,
    cache_dir: Path | None = None,
    python: str | None = None,
    *,
    sdist: bool = False,
) -> Path:
    """A distribution file of ``library==version`` in ``{cache}/dists`` (downloaded by pip once):
    a wheel when one exists (any platform: only the Python files are read), else the sdist;
    ``sdist=True`` asks for the sdist (it holds tests and docs that wheels leave out)."""
    name = canonical_name(library)
    dists = (cache_dir or default_cache_dir()) / ("sdists" if sdist else "dists")
    dists.mkdir(parents=True, exist_ok=True)
    have = _find_dist(dists, name, version)
    if have is not None:
        return have
    pip = [
        python or sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "--dest",
        str(dists),
        f"{name}=={version}",
    ]
    attempts = [
        ["--only-binary=:all:"],
        ["--only-binary=:all:", "--python-version", "3.9", "--platform", "manylinux2014_x86_64"],
        ["--only-binary=:all:", "--python-version", "3.7", "--platform", "manylinux2014_x86_64"],
        ["--no-binary=:all:"],
    ]
    if sdist:
        attempts = attempts[-1:]
    errors = []
    for extra in attempts:
        proc = subprocess.run(pip + extra, capture_output=True, text=True, timeout=900, check=False)
        have = _find_dist(dists, name, version)
        if have is not None:
            return have
        errors.append(proc.stderr.strip().splitlines()[-1:] or [""])
    raise RuntimeError(f"pip could not download {name}=={version}: {errors[-1][0]}")


def _find_dist(folder: Path, name: str, version: str) -> Path | None:
    """The wheel or sdist of exactly ``name`` ``version`` in ``folder`` (``2.0`` is ``2.0.0``,
    never ``2.0.1``), read from the file names as pip writes them; wheels sort first."""
    want_name, want = canonicalize_name(name), Version(version)
    for p in sorted(folder.iterdir()):
        try:
            if p.name.endswith(".whl"):
                have_name, have, _, _ = parse_wheel_filename(p.name)
            elif p.name.endswith((".tar.gz", ".zip")):
                have_name, have = parse_sdist_filename(p.name)
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if have_name == want_name and have == want:
            return p
    return None


def unpack(dist: Path, cache_dir: Path | None = None) -> Path:
    """The folder a distribution's Python files lie in (importable top-level packages),
    unpacked once under ``{cache}/unpacked``; only ``.py``/``.pyi`` files are extracted."""
    kind = "unpacked-sdist" if dist.parent.name == "sdists" else "unpacked"
    target = (
        (cache_dir or default_cache_dir())
        / kind
        / re.sub(r"(\.tar\.gz|\.tgz|\.zip|\.whl)$", "", dist.name)
    )
    done = target / ".complete"
    if not done.exists():
        target.mkdir(parents=True, exist_ok=True)
        if dist.name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(dist) as zf:
                for info in zf.infolist():
                    if _wanted(info.filename):
                        zf.extract(info, target)
        else:
            with tarfile.open(dist) as tf:
                members = [m for m in tf.getmembers() if m.isfile() and _wanted(m.name)]
                tf.extractall(target, members=members, filter="data")
        done.write_text("ok")
    return _package_root(target)


def _wanted(name: str) -> bool:
    return name.endswith((".py", ".pyi", ".rst", ".md", ".txt")) and ".." not in name


def _package_root(folder: Path) -> Path:
    """A wheel's files lie at the top; an sdist's under ``NAME-VERSION/`` and maybe ``src/``."""
    entries = [p for p in folder.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")]
    if len(entries) == 1 and not (entries[0] / "__init__.py").exists():
        inner = entries[0]
        if (inner / "src").is_dir():
            return inner / "src"
        return inner
    return folder


# -- loading and walking -------------------------------------------------------------------------


def _load(package: str, root: Path) -> Any:
    import griffe

    return griffe.load(
        package,
        search_paths=[str(root)],
        allow_inspection=False,
        resolve_aliases=False,
        store_source=False,
    )


def public_paths(module: Any) -> dict[str, str]:
    """Every public object under ``module``: path -> kind (module/class/function/attribute),
    aliases (re-exports) included by name, without following them."""
    out: dict[str, str] = {}
    stack = [module]
    seen: set[str] = set()
    while stack:
        obj = stack.pop()
        if obj.path in seen:
            continue
        seen.add(obj.path)
        for name, member in list(obj.members.items()):
            if name.startswith("_"):
                continue
            path = f"{obj.path}.{name}"
            if _NOISE.search(path):
                continue
            try:
                public = member.is_public
            except Exception:  # noqa: BLE001 - an alias griffe cannot resolve
                public = not name.startswith("_")
            if not public:
                continue
            if member.is_alias:
                if getattr(member, "target_path", "").split(".")[0] != module.path.split(".")[0]:
                    continue  # an import of another package (``import os``)
                out.setdefault(path, "alias")
                continue
            out[path] = member.kind.value
            if member.kind.value in ("module", "class"):
                stack.append(member)
    return out


def diff_packages(package: str, old_root: Path, new_root: Path) -> list[ApiChange]:
    """Breaking changes of import package ``package`` between two unpacked trees."""
    import griffe

    old = _load(package, old_root)
    new = _load(package, new_root)
    old_paths = public_paths(old)
    new_paths = public_paths(new)
    changes: list[ApiChange] = []
    seen: set[tuple[str, str]] = set()
    for b in griffe.find_breaking_changes(old, new):
        kind = b.kind.name
        path = b.obj.path
        if _NOISE.search(path) or any(part.startswith("_") for part in path.split(".")[1:]):
            continue
        try:
            loc = f"{b.obj.relative_filepath}:{b.obj.lineno}"
        except Exception:  # noqa: BLE001
            loc = ""
        loc = re.sub(r"^.*?(?=\b" + re.escape(package) + r"/)", "", loc)
        if kind == "OBJECT_REMOVED":
            change = ApiChange("removed", path, "public object removed", loc)
        elif kind == "OBJECT_CHANGED_KIND":
            change = ApiChange(
                "kind_changed", path, f"was a {_kind(b.old_value)}, is a {_kind(b.new_value)}", loc
            )
        elif kind.startswith("PARAMETER_"):
            param = getattr(b.old_value, "name", None) or getattr(b.new_value, "name", "?")
            what = {
                "PARAMETER_REMOVED": "parameter_removed",
                "PARAMETER_MOVED": "parameter_moved",
                "PARAMETER_CHANGED_REQUIRED": "parameter_required",
                "PARAMETER_ADDED_REQUIRED": "parameter_added_required",
                "PARAMETER_CHANGED_KIND": "parameter_kind_changed",
                "PARAMETER_CHANGED_DEFAULT": "parameter_default_changed",
            }.get(kind)
            if what is None:
                continue
            change = ApiChange(what, f"{path}({param})", b.kind.value.lower(), loc)
            if what == "parameter_default_changed":
                change.detail = f"default {b.old_value.default} -> {b.new_value.default}"
        else:
            continue  # return/attribute type and value changes: not API breaks for callers
        key = (change.kind, change.symbol)
        if key not in seen:
            seen.add(key)
            changes.append(change)
    _pair_parameters(changes, old, new)
    _pair_objects(changes, old_paths, new_paths)
    return changes


def _kind(value: Any) -> str:
    return getattr(value, "value", str(value))


def _params(obj: Any) -> list[str]:
    try:
        return [p.name for p in obj.parameters]
    except Exception:  # noqa: BLE001 - not a function
        return []


def _pair_parameters(changes: list[ApiChange], old: Any, new: Any) -> None:
    """A removed parameter whose function gained exactly one parameter in the same position is
    proposed as a keyword rename."""
    for c in changes:
        if c.kind != "parameter_removed":
            continue
        path, _, param = c.symbol.partition("(")
        param = param.rstrip(")")
        try:
            fo = old.get_member(path.split(".", 1)[1]) if "." in path else old
            fn = new.get_member(path.split(".", 1)[1]) if "." in path else new
        except Exception:  # noqa: BLE001
            continue
        po, pn = _params(fo), _params(fn)
        added = [p for p in pn if p not in po]
        if len(added) == 1 and param in po:
            pos_old = po.index(param)
            pos_new = pn.index(added[0])
            if abs(pos_old - pos_new) <= 1:
                c.kind = "parameter_renamed"
                c.replacement = added[0]
                c.detail = f"parameter {param!r} replaced by {added[0]!r}"


def _similar(a: str, b: str) -> float:
    from rapidfuzz.fuzz import ratio

    return ratio(a.lower(), b.lower()) / 100.0


def _pair_objects(
    changes: list[ApiChange], old_paths: dict[str, str], new_paths: dict[str, str]
) -> None:
    """A removed object with a successor among the objects new in this version: the same leaf
    name elsewhere (moved) or a near name in the same parent (renamed)."""
    added = [p for p in new_paths if p not in old_paths]
    by_leaf: dict[str, list[str]] = {}
    by_parent: dict[str, list[str]] = {}
    for p in added:
        parent, _, leaf = p.rpartition(".")
        by_leaf.setdefault(leaf, []).append(p)
        by_parent.setdefault(parent, []).append(p)
    for c in changes:
        if c.kind != "removed":
            continue
        parent, _, leaf = c.symbol.rpartition(".")
        moved = [p for p in by_leaf.get(leaf, []) if p != c.symbol]
        if moved:
            moved.sort(key=lambda p: (-_similar(parent, p.rpartition(".")[0]), len(p)))
            c.kind, c.replacement = "moved", moved[0]
            c.detail = f"no longer at {parent}; a {leaf} appeared at {moved[0]}"
            continue
        near = [(p, _similar(leaf, p.rpartition(".")[2])) for p in by_parent.get(parent, [])]
        near = [(p, s) for p, s in near if s >= 0.8 or _affix(leaf, p.rpartition(".")[2])]
        if near:
            near.sort(key=lambda t: -t[1])
            c.kind, c.replacement = "renamed", near[0][0]
            c.detail = f"{leaf} removed; {near[0][0].rpartition('.')[2]} added next to it"


def _affix(a: str, b: str) -> bool:
    """``clip_grad_norm`` / ``clip_grad_norm_``, ``foo`` / ``foo_v2``: one name extends the
    other by a short suffix."""
    short, long_ = sorted((a, b), key=len)
    return long_.startswith(short) and 0 < len(long_) - len(short) <= 3


def diff_versions(
    library: str, old_version: str, new_version: str, cache_dir: Path | None = None
) -> list[ApiChange]:
    """Download (once), unpack and diff every import package of ``library``."""
    old_root = unpack(download(library, old_version, cache_dir), cache_dir)
    new_root = unpack(download(library, new_version, cache_dir), cache_dir)
    packages = IMPORT_NAMES.get(canonical_name(library)) or _top_level(old_root)
    changes: list[ApiChange] = []
    for package in packages:
        if (old_root / package).is_dir() and (new_root / package).is_dir():
            changes.extend(diff_packages(package, old_root, new_root))
    return changes


def _top_level(root: Path) -> tuple[str, ...]:
    return tuple(
        sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    )


# -- joining, records, check ---------------------------------------------------------------------


def join_notes(changes: Iterable[ApiChange], entries: Iterable[NoteEntry]) -> None:
    """Attach to each change the note entries that name it (or its replacement)."""
    entries = list(entries)
    for c in changes:
        c.notes = [e for e in entries if mentions(e, c.symbol)]
        if not c.notes:
            # a note names the public spelling (scipy.linalg.tril, numpy.alen), the diff the
            # defining module (scipy.linalg._special_matrices.tril): drop private modules, then
            # try the top-level name
            base, _, param = c.symbol.partition("(")
            suffix = f"({param}" if param else ""
            parts = base.split(".")
            public = ".".join(p for p in parts[:-1] if not p.startswith("_")) + "." + parts[-1]
            for short in (public + suffix, f"{parts[0]}.{parts[-1]}{suffix}"):
                if short != c.symbol:
                    c.notes = [e for e in entries if mentions(e, short)]
                    if c.notes:
                        break


#: The record kind a kind of difference proposes (griffe's breakage kinds and this module's own).
_KB_KIND = {
    "removed": RecordKind.REMOVED,
    "renamed": RecordKind.RENAMED,
    "moved": RecordKind.MOVED,
    "kind_changed": RecordKind.BEHAVIOR,
    "parameter_removed": RecordKind.SIGNATURE,
    "parameter_renamed": RecordKind.SIGNATURE,
    "parameter_required": RecordKind.SIGNATURE,
    "parameter_moved": RecordKind.SIGNATURE,
    "parameter_added_required": RecordKind.SIGNATURE,
    "parameter_kind_changed": RecordKind.SIGNATURE,
    "parameter_default_changed": RecordKind.BEHAVIOR,
    "deprecated": RecordKind.DEPRECATED,
}


def candidate_records(
    changes: Iterable[ApiChange], library: str, new_version: str, *, notes_only: bool = False
) -> Iterator[dict[str, Any]]:
    """Knowledge-base records proposed from the diff, for a person to review: ``id`` ends in
    ``-candidate``; the note is the release-note entry when one names the change, else the
    diff's own description (such records cannot be shipped before a source is found)."""
    name = canonical_name(library)
    for c in changes:
        if notes_only and not c.notes:
            continue
        kind = _KB_KIND.get(c.kind, RecordKind.BEHAVIOR)
        leaf = re.sub(r"[^\w]+", "-", c.symbol.split(".", 1)[-1]).strip("-")
        record: dict[str, Any] = {
            "id": f"{name}-{new_version}-{leaf}-candidate",
            "library": name,
            "symbol": c.symbol,
            "kind": kind.value,
            kind.needs[0]: new_version,
        }
        if c.replacement:
            record["replacement"] = c.replacement
            if c.kind in ("renamed", "moved"):
                record["fix"] = {"kind": "rename", "to": c.replacement}
            elif c.kind == "parameter_renamed":
                record["fix"] = {"kind": "keyword_rename", "to": c.replacement}
        if c.notes:
            record["note"] = c.notes[0].text
            record["source"] = {"url": c.notes[0].source_url or "", "version": new_version}
        else:
            record["note"] = f"(diff, no release note found) {c.detail}"
            record["source"] = {
                "url": f"https://pypi.org/project/{name}/{new_version}/",
                "version": new_version,
            }
        record["review"] = {"diff_kind": c.kind, "detail": c.detail, "location": c.location}
        yield record


def missing_from_kb(
    changes: Iterable[ApiChange], kb: KnowledgeBase, library: str
) -> list[ApiChange]:
    """Changes that no record of ``library`` covers: neither the symbol, nor its leaf under
    the library's top-level name (records name the public spelling, the diff the defining
    module), nor an enclosing module or class recorded as removed."""
    records = kb.for_library(library)
    symbols = {r.symbol for r in records}
    paths = {r.path for r in records}
    leaves = {(r.path.split(".")[0], r.path.rsplit(".", 1)[-1], r.parameter) for r in records}
    out = []
    for c in changes:
        base, _, param = c.symbol.partition("(")
        param = param.rstrip(")") or None
        if c.symbol in symbols or (param is None and base in paths):
            continue
        if (base.split(".")[0], base.rsplit(".", 1)[-1], param) in leaves:
            continue
        if any(base.startswith(p + ".") for p in paths):
            continue
        out.append(c)
    return out
