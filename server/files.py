"""Finding the Python files to scan, reading them safely, and writing them back atomically."""

from __future__ import annotations

import codecs
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

DEFAULT_MAX_BYTES = 2_000_000
SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "site-packages",
    "build",
    "dist",
    ".eggs",
}
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class Unreadable(Exception):
    """A file that is reported and skipped: binary, too large, not decodable."""


@dataclass
class SourceFile:
    path: Path
    raw: bytes  # exactly what was read: a write checks the file still holds this
    text: str
    encoding: str

    @property
    def utf8(self) -> bytes:
        """The source as UTF-8, what the detector works on."""
        return self.raw if self.encoding in ("utf-8", "utf-8-sig") else self.text.encode("utf-8")


def read_source(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> SourceFile:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise Unreadable(f"skipped: {size:,} bytes is over the {max_bytes:,}-byte limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc
    if b"\0" in raw[:8192]:
        raise Unreadable("skipped: binary file (contains NUL bytes)")
    encoding = "utf-8"
    first_lines = raw.split(b"\n", 2)[:2]
    for line in first_lines:
        m = _CODING.match(line)
        if m:
            try:
                encoding = codecs.lookup(m.group(1).decode("ascii")).name
            except (LookupError, UnicodeDecodeError):
                raise Unreadable(
                    f"skipped: unknown coding declaration {m.group(1).decode('ascii', 'replace')!r}"
                ) from None
            break
    if raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise Unreadable(
            f"skipped: not valid {encoding} at byte {exc.start} and no coding declaration says "
            "otherwise"
            if encoding == "utf-8"
            else f"skipped: not valid {encoding} (its coding declaration) at byte {exc.start}"
        ) from None
    return SourceFile(path, raw, text, encoding)


def encode_like(source: SourceFile, new_utf8: bytes) -> bytes:
    """New UTF-8 text back in the file's own encoding."""
    if source.encoding in ("utf-8",):
        return new_utf8
    return new_utf8.decode("utf-8").encode(source.encoding)


class ChangedOnDisk(Exception):
    """The file changed after it was read; it is not overwritten."""


def write_atomic(source: SourceFile, new_raw: bytes) -> None:
    """Replace the file with ``new_raw`` if it still holds what was read, never half-written."""
    path = source.path
    try:
        current = path.read_bytes()
    except OSError as exc:
        raise ChangedOnDisk(f"cannot re-read before writing: {exc}") from exc
    if current != source.raw:
        raise ChangedOnDisk("the file changed after it was read; not overwritten")
    mode = path.stat().st_mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".recode-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new_raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode & 0o7777)
        if path.read_bytes() != source.raw:  # last look, as close to the swap as possible
            raise ChangedOnDisk("the file changed after it was read; not overwritten")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _gitignore(folder: Path) -> pathspec.GitIgnoreSpec | None:
    f = folder / ".gitignore"
    if not f.is_file():
        return None
    try:
        lines = f.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def iter_python_files(paths: list[Path]) -> Iterator[tuple[Path, Path]]:
    """Python files under ``paths`` as (path as found, resolved path), honouring .gitignore
    files and skipping tool folders; a file reached twice (links) is yielded once.

    A file named explicitly is always yielded, whatever its suffix or ignore status.
    """
    seen: set[Path] = set()
    for top in paths:
        if top.is_file():
            resolved = top.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield top, resolved
            continue
        yield from _walk(top, [], seen)


def _walk(
    folder: Path, specs: list[tuple[Path, pathspec.PathSpec]], seen: set[Path]
) -> Iterator[tuple[Path, Path]]:
    spec = _gitignore(folder)
    if spec is not None:
        specs = [*specs, (folder, spec)]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        is_dir = entry.is_dir(follow_symlinks=False)
        if is_dir and (entry.name in SKIP_DIRS or entry.name.endswith(".egg-info")):
            continue
        if _ignored(path, is_dir, specs):
            continue
        if is_dir:
            if (path / "pyvenv.cfg").exists():
                continue  # a virtual environment under another name
            yield from _walk(path, specs, seen)
        elif entry.name.endswith((".py", ".pyi")) and entry.is_file():
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield path, resolved


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.PathSpec]]) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False
