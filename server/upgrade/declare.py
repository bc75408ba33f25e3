"""Requirements a project must now declare itself: a library stopped installing a distribution
that the project imports (a record's ``requirement``: pandas 3.0 and pytz).

:func:`needed` lists them for the target versions: the record's library is at or past the
record's version, a project file imports one of the dependency's modules (not under a ``try``
that catches ``ImportError``, an optional import, nor under ``if TYPE_CHECKING:``), and the
project declares the distribution nowhere (``pyproject.toml``'s ``[project]`` dependencies and
extras or Poetry's dependency tables, ``setup.cfg``'s ``install_requires`` and
``extras_require``, the requirements files pip reads, or a string of ``setup.py``).

:func:`declare` adds each to the copy, beside the library that stopped installing it: the first
of ``pyproject.toml``'s ``[project].dependencies`` (edited with tomlkit, which keeps the file's
formatting), ``setup.cfg``'s ``[options] install_requires`` (an indented line after its last,
as setuptools reads a list) and the requirements files (a line at the end) that names that
library, else the first of them the project has. ``setup.py`` is code: it is reported, never
edited. Each edit is read back as pip's readers read it before it counts.
"""

from __future__ import annotations

import ast
import configparser
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from recode.dataset.knowledge import ApiChange, KnowledgeBase, canonical_name
from recode.server import pins
from recode.server.files import iter_python_files

_OPTIONAL = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_TYPE_CHECKING = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}  # imports for the type checker only
_SECTION = re.compile(r"^\[\s*(?P<name>[^\]]+?)\s*\]")
_KEY = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)\s*[=:]")


class Place(enum.StrEnum):
    """Where a project declares its requirements, in the order they are chosen."""

    PYPROJECT = "pyproject.toml"
    SETUP_CFG = "setup.cfg"
    REQUIREMENTS = "requirements"  # a requirements*.txt / *.in file
    SETUP_PY = "setup.py"  # code: reported, not edited


@dataclass(frozen=True)
class Needed:
    record: ApiChange
    importers: tuple[str, ...]  # the project's files that import it

    @property
    def requirement(self) -> str:
        return self.record.requirement.requirement  # type: ignore[union-attr]

    def to_dict(self) -> dict:
        return {
            "requirement": self.requirement,
            "record": self.record.id,
            "library": self.record.library,
            "version": self.record.display_version,
            "imported_by": list(self.importers),
        }


@dataclass
class Declared:
    edits: dict[str, bytes]  # file (relative to the root) -> its new bytes
    left: list[str]  # what could not be declared, with the reason


def needed(root: Path, kb: KnowledgeBase, versions: dict[str, str]) -> list[Needed]:
    """The dependencies the project must declare at ``versions`` (see the module doc)."""
    records = [
        r
        for r in kb.records
        if r.requirement is not None
        and r.library in versions
        and r.effective_in is not None
        and Version(versions[r.library]) >= r.effective_in
    ]
    if not records:
        return []
    declared = declared_names(root)
    imported = _imports(root)
    out = []
    for r in records:
        dep = r.requirement
        assert dep is not None
        if dep.name in declared:
            continue
        files = sorted({f for m in dep.imports for f in imported.get(m, ())})
        if files:
            out.append(Needed(r, tuple(files)))
            declared.add(dep.name)  # once, whichever records name it
    return out


def declare(root: Path, wanted: list[Needed]) -> Declared:
    """The edits that declare each of ``wanted`` in ``root`` (nothing is written here)."""
    done = Declared({}, [])
    for need in wanted:
        place = _place(root, need.record.library)
        why = (
            f"{need.record.library} {need.record.display_version} no longer installs it "
            f"({need.record.id}); imported by {', '.join(need.importers[:3])}"
        )
        if place is None:
            done.left.append(
                f"declare {need.requirement}: {why}; no pyproject.toml [project], setup.cfg "
                "install_requires or requirements file to add it to"
            )
            continue
        kind, path = place
        rel = path.relative_to(root).as_posix()
        if kind is Place.SETUP_PY:
            done.left.append(f"{rel}: add {need.requirement!r} to install_requires: {why}")
            continue
        text = done.edits[rel].decode("utf-8") if rel in done.edits else _read(path)
        new = _EDITS[kind](text, need.requirement) if text is not None else None
        if new is None or need.record.requirement.name not in _names_in(kind, new):  # type: ignore[union-attr]
            done.left.append(f"{rel}: could not add {need.requirement}: {why}")
            continue
        done.edits[rel] = new.encode("utf-8")
    return done


# -- what the project declares -------------------------------------------------------------------


def declared_names(root: Path) -> set[str]:
    """Every distribution the project declares anywhere (canonical names)."""
    names: set[str] = set()
    for kind in (Place.PYPROJECT, Place.SETUP_CFG):
        text = _read(root / kind.value)
        if text is not None:
            names |= _names_in(kind, text, extras=True)
    for text, _where in pins.requirement_lines(root):
        names |= _names([text])
    # setup.py: a string that starts with a requirement's name declares it, for this purpose
    strings = re.findall(r"""["']\s*([A-Za-z0-9][A-Za-z0-9._-]*)""", _read(root / "setup.py") or "")
    return names | {canonical_name(s) for s in strings}


def _read(path: Path) -> str | None:
    """A file's text, None where it is missing or not UTF-8 (then it is not edited)."""
    try:
        return path.read_bytes().decode("utf-8") if path.is_file() else None  # \r\n kept
    except (OSError, UnicodeDecodeError):
        return None


def _names_in(kind: Place, text: str, extras: bool = False) -> set[str]:
    if kind is Place.PYPROJECT:
        try:
            project = tomlkit.parse(text).get("project", {})
        except tomlkit.exceptions.ParseError:
            return set()
        found = list(project.get("dependencies", []))
        if extras:
            for extra in project.get("optional-dependencies", {}).values():
                found += list(extra)
            poetry = tomlkit.parse(text).get("tool", {}).get("poetry", {})
            found += list(poetry.get("dependencies", {}))  # names; recode does not edit them
            for group in poetry.get("group", {}).values():
                found += list(group.get("dependencies", {}))
        return _names(found)
    if kind is Place.SETUP_CFG:
        cfg = _setup_cfg(text)
        found = cfg.get("options", "install_requires", fallback="").splitlines()
        if extras and cfg.has_section("options.extras_require"):
            for _, value in cfg.items("options.extras_require"):
                found += value.splitlines()
        return _names(found)
    return _names(_lines_of(text))


def _names(texts) -> set[str]:
    out = set()
    for text in texts:
        try:
            out.add(canonical_name(Requirement(str(text).strip()).name))
        except InvalidRequirement:
            continue
    return out


def _setup_cfg(text: str) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read_string(text)
    except configparser.Error:
        pass
    return cfg


def _lines_of(text: str) -> Iterator[str]:
    """A requirements file's requirements (options and ``--hash`` left out), as pins reads them."""
    for line in pins._logical_lines(text):
        if not line.startswith("-"):
            yield line.split(" --")[0].strip()


def _imports(root: Path) -> dict[str, set[str]]:
    """Top-level module -> the project's files that import it unconditionally."""
    out: dict[str, set[str]] = {}
    for path, _ in iter_python_files([root]):
        try:
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        rel = path.relative_to(root).as_posix()
        for module in _required_imports(tree):
            out.setdefault(module, set()).add(rel)
    return out


def _required_imports(tree: ast.AST) -> Iterator[str]:
    optional: set[int] = set()  # ids of the import nodes under a try that catches their failure
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import(h) for h in node.handlers):
            optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        elif isinstance(node, ast.If) and ast.unparse(node.test) in _TYPE_CHECKING:
            optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0]


def _catches_import(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in _OPTIONAL for t in types)


# -- where and how to declare one ----------------------------------------------------------------


def _place(root: Path, library: str) -> tuple[Place, Path] | None:
    """The file to declare a dependency of ``library``'s in (see the module doc)."""
    candidates: list[tuple[Place, Path, str]] = []
    pyproject = root / Place.PYPROJECT.value
    if (text := _read(pyproject)) is not None and _has_dependency_list(text):
        candidates.append((Place.PYPROJECT, pyproject, text))
    setup_cfg = root / Place.SETUP_CFG.value
    if (text := _read(setup_cfg)) is not None and _setup_cfg(text).has_option(
        "options", "install_requires"
    ):
        candidates.append((Place.SETUP_CFG, setup_cfg, text))
    seen: list[Path] = []
    for _line, where in pins.requirement_lines(root):
        if where not in seen and where.parent == root:
            seen.append(where)
    candidates += [(Place.REQUIREMENTS, p, t) for p in seen if (t := _read(p)) is not None]
    for kind, path, text in candidates:
        if canonical_name(library) in _names_in(kind, text):
            return kind, path
    if candidates:
        return candidates[0][:2]
    setup_py = root / Place.SETUP_PY.value
    return (Place.SETUP_PY, setup_py) if setup_py.is_file() else None


def _has_dependency_list(text: str) -> bool:
    try:
        project = tomlkit.parse(text).get("project")
    except tomlkit.exceptions.ParseError:
        return False
    if not isinstance(project, dict) or "dependencies" in project.get("dynamic", []):
        return False
    return isinstance(project.get("dependencies", []), list)


def _add_to_pyproject(text: str, requirement: str) -> str | None:
    doc = tomlkit.parse(text)
    project = doc["project"]
    if "dependencies" in project:
        project["dependencies"].append(requirement)  # type: ignore[union-attr]
    else:
        project["dependencies"] = [requirement]  # type: ignore[index]
    return tomlkit.dumps(doc)


def _add_to_setup_cfg(text: str, requirement: str) -> str | None:
    """An indented line after the last of ``[options] install_requires`` (a one-line value
    becomes a list: setuptools splits a value with line breaks by line)."""
    lines = text.splitlines(keepends=True)
    section, start = None, None
    for i, line in enumerate(lines):
        if m := _SECTION.match(line):
            section = m.group("name")
            continue
        if (
            section == "options"
            and (m := _KEY.match(line))
            and m.group("key") == "install_requires"
        ):
            start = i
            break
    if start is None:
        return None
    last, indent = start, "    "
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if not line[0].isspace():
            break
        last, indent = i, line[: len(line) - len(line.lstrip())]
    end = _line_end(lines[last])
    if not lines[last].endswith(("\n", "\r")):
        lines[last] += end
    lines.insert(last + 1, f"{indent}{requirement}{end}")
    return "".join(lines)


def _add_to_requirements(text: str, requirement: str) -> str | None:
    end = _line_end(text)
    if text and not text.endswith(("\n", "\r")):
        text += end
    return f"{text}{requirement}{end}"


def _line_end(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


_EDITS = {
    Place.PYPROJECT: _add_to_pyproject,
    Place.SETUP_CFG: _add_to_setup_cfg,
    Place.REQUIREMENTS: _add_to_requirements,
}
