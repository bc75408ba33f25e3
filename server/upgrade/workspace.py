"""The copy of the project that the upgrade migrates, and the way its changes go back.

A project in a git checkout is migrated on a detached ``git worktree`` of its HEAD, brought to
the user's working state (edited and untracked files copied over, deleted ones removed): the
copy then holds what git tracks and not what it ignores (environments, data, build outputs),
and tools that read the repository (a version from setuptools-scm) work in it. Anywhere else,
or when git refuses, the folder is copied (``SKIP`` left out). The worktree is removed, and
git's record of it with it, when the workspace closes, an interrupted run included.

The user's tree is only read until ``--write`` brings the migrated files back, each through
:func:`recode.server.files.write_atomic` against the bytes that were copied: a file the user
changed meanwhile is refused, not overwritten.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recode.server import files
from recode.server.detector import Detector, Evidence
from recode.server.files import iter_python_files
from recode.server.migrate import process_file, unified_diff
from recode.server.report import FileResult
from recode.server.upgrade.runner import Runner, run

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
    #: the bytes before the round of each file it rewrote with evidence (to take one back)
    before: dict[str, bytes] = field(default_factory=dict)


class Workspace:
    """A copy of ``root`` under ``folder``, a git worktree where ``root`` is in a checkout;
    ``original`` keeps the bytes of each copied Python file as they were read. Use it as a
    context manager: leaving removes the worktree."""

    def __init__(
        self,
        root: Path,
        folder: Path,
        runner: Runner = run,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.root = root
        self.runner = runner
        self.worktree: Path | None = None  # the git worktree's top, when there is one
        self._top: Path | None = None  # the user's checkout
        top = self._git_top(root)
        if top is not None:
            try:
                self.copy = self._add_worktree(top, folder)
                progress(f"migrating on a git worktree of {top} at {self.worktree}")
            except _GitRefused as exc:
                progress(f"git worktree refused ({exc}); migrating on a copy")
                top = None
        if top is None:
            self.copy = folder / root.name
            # links are copied as files: a migrated file must never write through a link into
            # the user's tree
            shutil.copytree(root, self.copy, ignore=SKIP, ignore_dangling_symlinks=True)
        self.original: dict[str, bytes] = {
            rel: (self.copy / rel).read_bytes() for rel in self.python_files()
        }

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- git ----------------------------------------------------------------------------------

    def _git(self, top: Path, *args: str) -> str:
        # no hooks: a post-checkout hook of the user's must not run for the copy
        argv = ["git", "-c", "core.hooksPath=/dev/null", "-C", str(top), *args]
        done = self.runner(argv, env=_git_env(), timeout=600)
        if done.returncode != 0 or done.timed_out:
            last = done.stderr.strip().splitlines()[-1:]
            raise _GitRefused(last[0] if last else f"git exited with {done.returncode}")
        return done.stdout

    def _git_top(self, root: Path) -> Path | None:
        """The checkout ``root`` is part of (tracked or to be, not ignored), else None."""
        if shutil.which("git") is None:
            return None
        try:
            top = Path(self._git(root, "rev-parse", "--show-toplevel").strip()).resolve()
            if root.resolve() != top:
                # a subfolder: only when git does not ignore it (bench/.cache/... is not the
                # checkout's project)
                done = self.runner(
                    ["git", "-C", str(top), "check-ignore", "-q", str(root.resolve())],
                    env=_git_env(),
                    timeout=60,
                )
                if done.returncode == 0:
                    return None
            return top
        except _GitRefused:
            return None

    def _add_worktree(self, top: Path, folder: Path) -> Path:
        self.worktree = folder / f"{top.name}-worktree"
        self._top = top  # from here on, close() removes what was made
        try:
            self._git(top, "worktree", "add", "--detach", "--quiet", str(self.worktree), "HEAD")
            rel = str(self.root.resolve().relative_to(top))
            listed = self._git(
                top, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", rel
            )
            for name in filter(None, listed.split("\0")):
                _sync(top / name, self.worktree / name)
        except BaseException:  # an interrupt too: no worktree left registered in the checkout
            self.close()
            raise
        return self.worktree / rel

    def close(self) -> None:
        """Remove the worktree and git's record of it (the user's checkout as it was)."""
        if self._top is None or self.worktree is None:
            return
        top, self._top = self._top, None
        try:
            self._git(top, "worktree", "remove", "--force", str(self.worktree))
        except _GitRefused:
            shutil.rmtree(self.worktree, ignore_errors=True)
            try:
                self._git(top, "worktree", "prune")
            except _GitRefused:
                pass

    def python_files(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.copy)) for p, _ in iter_python_files([self.copy]) if p.is_file()
        )

    def migrate(
        self,
        detector: Detector,
        model: object | None = None,
        *,
        unsafe_fixes: bool = False,
        evidence: Mapping[str, Sequence[Evidence]] | None = None,
    ) -> Round:
        """One round of fixes over every Python file of the copy (``process_file``, write
        mode; unsafe fixes too with ``unsafe_fixes``; the model engine when given; the sites
        a test run proved, by file, with ``evidence``)."""
        done = Round()
        for rel in self.python_files():
            proven = (evidence or {}).get(rel, ())
            before = (self.copy / rel).read_bytes() if proven else None
            result = self._migrate_file(rel, detector, model, unsafe_fixes, proven)
            if result.fixed and before is not None:
                done.before[rel] = before
            if result.fixed:
                done.fixed += result.fixed
                done.changed.append(rel)
            if result.problem:
                done.problems.append(f"{rel}: {result.problem}")
        return done

    def redo(
        self,
        rel: str,
        before: bytes,
        detector: Detector,
        model: object | None = None,
        *,
        unsafe_fixes: bool,
        evidence: Sequence[Evidence],
    ) -> None:
        """File ``rel`` as it was before a round (``before``), migrated again with only
        ``evidence``: the round taken back for the evidence a test run refuted."""
        (self.copy / rel).write_bytes(before)
        self._migrate_file(rel, detector, model, unsafe_fixes, evidence)

    def _migrate_file(
        self,
        rel: str,
        detector: Detector,
        model: object | None,
        unsafe_fixes: bool,
        evidence: Sequence[Evidence],
    ) -> FileResult:
        """File ``rel`` of the copy migrated in place (``--write``), with the sites a test
        run proved."""
        return process_file(
            self.copy / rel,
            detector,
            "write",
            display=rel,
            model=model,  # type: ignore[arg-type]
            unsafe_fixes=unsafe_fixes,
            evidence=evidence,
        )

    def edit(self, edits: Mapping[str, bytes]) -> list[str]:
        """Write files of the copy that are not Python (a requirement declared), keeping their
        bytes as read for the diff and ``--write``; the files written."""
        for rel, new in edits.items():
            path = self.copy / rel
            self.original.setdefault(rel, path.read_bytes())
            path.write_bytes(new)
        return list(edits)

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


class _GitRefused(Exception):
    """git exited non-zero (its last line of stderr)."""


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


def _sync(user: Path, mine: Path) -> None:
    """Make the worktree's ``mine`` what the user has at ``user``: the user's bytes (a link
    copied as the file it points to, as in a plain copy), or gone where the user deleted it."""
    if mine.is_symlink() or (mine.exists() and not user.exists()):
        if mine.is_dir() and not mine.is_symlink():
            shutil.rmtree(mine)
        else:
            mine.unlink()
    if not user.exists():
        return
    if user.is_dir():  # a submodule: its files, as a plain copy would have them
        shutil.rmtree(mine, ignore_errors=True)
        shutil.copytree(user, mine, ignore=SKIP, ignore_dangling_symlinks=True)
        return
    if mine.is_file() and mine.read_bytes() == user.read_bytes():
        return
    mine.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(user, mine)
