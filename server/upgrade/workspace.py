"""The copy of the project that the upgrade migrates, and the way its changes go back.

The user's tree is only read until ``--write`` brings the migrated files back, each through
:func:`recode.server.files.write_atomic` against the bytes that were copied: a file the user
changed meanwhile is refused, not overwritten.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recode.server import files
from recode.server.detector import Detector
from recode.server.files import iter_python_files
from recode.server.migrate import process_file, unified_diff

#: Folders never copied: version control, environments, caches and build outputs.
SKIP = shutil.ignore_patterns(
    ".git", ".hg", ".venv", "venv", ".tox", ".nox", "__pycache__", "*.pyc", ".pytest_cache",
    "build", "dist", "*.egg-info", ".mypy_cache", ".ruff_cache",
)  # fmt: skip


@dataclass
class Round:
    fixed: int = 0  # findings fixed in this round
    changed: list[str] = field(default_factory=list)  # files rewritten
    problems: list[str] = field(default_factory=list)


class Workspace:
    """A copy of ``root`` under ``folder``; ``original`` keeps the bytes of each copied Python
    file as they were read."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.copy = folder / root.name
        # links are copied as files: a migrated file must never write through a link into the
        # user's tree
        shutil.copytree(root, self.copy, ignore=SKIP, ignore_dangling_symlinks=True)
        self.original: dict[str, bytes] = {
            rel: (self.copy / rel).read_bytes() for rel in self.python_files()
        }

    def python_files(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.copy)) for p, _ in iter_python_files([self.copy]) if p.is_file()
        )

    def migrate(self, detector: Detector, model: object | None = None) -> Round:
        """One round of fixes over every Python file of the copy (``process_file``, write
        mode; with the model engine when given)."""
        done = Round()
        for rel in self.python_files():
            result = process_file(
                self.copy / rel,
                detector,
                "write",
                display=rel,
                model=model,  # type: ignore[arg-type]
            )
            if result.fixed:
                done.fixed += result.fixed
                done.changed.append(rel)
            if result.problem:
                done.problems.append(f"{rel}: {result.problem}")
        return done

    def changed(self) -> dict[str, bytes]:
        """rel -> migrated bytes, for each file the migration changed."""
        out = {}
        for rel, before in self.original.items():
            now = (self.copy / rel).read_bytes()
            if now != before:
                out[rel] = now
        return out

    def diff(self) -> str:
        return "".join(
            unified_diff(self.original[rel], new, rel) for rel, new in self.changed().items()
        )

    def write_back(self, progress: Callable[[str], None] = lambda _: None) -> list[str]:
        """``--write``: the migrated files into the user's tree; the problems, one per file
        not written."""
        problems = []
        for rel, new in self.changed().items():
            target = self.root / rel
            try:
                source = files.read_source(target)
            except files.Unreadable as exc:
                problems.append(f"{rel}: {exc}")
                continue
            if source.raw != self.original[rel]:
                problems.append(f"{rel}: changed since the upgrade copied it; not written")
                continue
            try:
                files.write_atomic(source, new)
            except (files.Refused, files.ChangedOnDisk, OSError) as exc:
                problems.append(f"{rel}: {exc}")
                continue
            progress(f"wrote {rel}")
        return problems
