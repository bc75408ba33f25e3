"""Finding the Python files to scan, reading them safely, and writing them back atomically."""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a .gitignore is met: most runs never need it
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


@dataclass(frozen=True)
class Exclusion:
    """What a folder walk skips besides .gitignore'd files: the default tool folders above
    (unless ``--exclude`` replaced them) and gitignore-style patterns, each list relative to
    its own folder (a configuration file's, or the working folder for command-line flags).
    A path outside a pattern's folder is matched by its name alone."""

    defaults: bool = True
    specs: tuple[tuple[str, pathspec.PathSpec], ...] = ()

    def excludes(self, real_folder: Path, name: str, is_dir: bool) -> bool:
        if self.defaults and is_dir and (name in SKIP_DIRS or name.endswith(".egg-info")):
            return True
        if not self.specs:
            return False
        path = os.path.join(str(real_folder), name)
        for base, spec in self.specs:
            prefix = base.rstrip(os.sep) + os.sep
            rel = path[len(prefix) :] if path.startswith(prefix) else name
            if os.sep != "/":
                rel = rel.replace(os.sep, "/")
            if spec.match_file(rel + "/" if is_dir else rel):
                return True
        return False


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
    """The file's text, or :class:`Unreadable` saying why it is skipped.

    One open, an fstat of that descriptor and (for a regular file) one read: this runs once per
    scanned file, so the syscalls and copies are counted.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        _raise_if_too_large(path, max_bytes)
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise Unreadable(f"skipped: {size:,} bytes is over the {max_bytes:,}-byte limit")
        raw = _read_all(fd, size)
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if raw.find(b"\0", 0, 8192) != -1:
        raise Unreadable("skipped: binary file (contains NUL bytes)")
    encoding = "utf-8"
    m = _coding_declaration(raw)
    if m:
        try:
            encoding = codecs.lookup(m.group(1).decode("ascii")).name
        except (LookupError, UnicodeDecodeError):
            raise Unreadable(
                f"skipped: unknown coding declaration {m.group(1).decode('ascii', 'replace')!r}"
            ) from None
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


def _raise_if_too_large(path: Path, max_bytes: int) -> None:
    """An unopenable file over the limit is reported as too large, as a stat-first check would."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return
    if size > max_bytes:
        raise Unreadable(f"skipped: {size:,} bytes is over the {max_bytes:,}-byte limit")


def _read_all(fd: int, size: int) -> bytes:
    """Everything up to end of file. Asking for one byte more than fstat's size makes a single
    read enough for a regular file (a short read is its end); a file that grew, or a special
    file reporting size 0, is read on until a read returns nothing."""
    raw = os.read(fd, size + 1)
    if len(raw) <= size:
        return raw
    chunks = [raw]
    while chunk := os.read(fd, max(size, 1 << 16)):
        chunks.append(chunk)
    return b"".join(chunks)


def _coding_declaration(raw: bytes) -> re.Match[bytes] | None:
    """PEP 263's declaration in the first two lines, without splitting (copying) the file."""
    end = raw.find(b"\n")
    if end == -1:
        return _CODING.match(raw)
    m = _CODING.match(raw[:end])
    if m:
        return m
    end2 = raw.find(b"\n", end + 1)
    return _CODING.match(raw[end + 1 : end2 if end2 != -1 else len(raw)])


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
    import tempfile  # only --write needs it

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


def _gitignore(folder: str) -> pathspec.GitIgnoreSpec | None:
    f = os.path.join(folder, ".gitignore")
    if not os.path.isfile(f):
        return None
    try:
        with open(f, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


class _Resolver:
    """``Path.resolve()`` with each folder resolved once.

    A file's real path is its folder's real path plus its name unless the file itself is a
    link, so a file costs one lstat (or none when ``os.scandir`` already said it is no link)
    instead of an lstat of every component of its path. Folders are resolved the same way,
    from their parent's cached real path; ``..`` steps up from the real path of what precedes
    it, as ``os.path.realpath`` does; links are handed to ``Path.resolve`` itself.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}
        self._by_name: dict[str, Path] = {}  # folder as spelt in a file's path -> real path

    def folder(self, folder: Path) -> Path:
        real = self._folders.get(folder)
        if real is None:
            parent, name = folder.parent, folder.name
            if parent == folder:  # "." or "/"
                real = folder.resolve()
            elif name == "..":
                real = self.folder(parent).parent
            elif os.path.islink(folder):
                real = folder.resolve()
            else:
                real = self.folder(parent) / name
            self._folders[folder] = real
        return real

    def file(self, path: Path, is_link: bool) -> Path:
        if is_link:
            return path.resolve()
        # Keyed by the folder's spelling (str of a Path is normal, so one spelling is one
        # folder): hashing a fresh parent Path for each of thousands of files costs more.
        folder, name = os.path.split(str(path))
        real = self._by_name.get(folder)
        if real is None:
            real = self._by_name[folder] = self.folder(path.parent)
        return real / name


def iter_python_files(
    paths: list[Path], missing: list[Path] | None = None, exclusion: Exclusion | None = None
) -> Iterator[tuple[Path, Path]]:
    """Python files under ``paths`` as (path as found, resolved path), honouring .gitignore
    files and skipping tool folders; a file reached twice (links) is yielded once.

    A file named explicitly is always yielded, whatever its suffix, ignore status or
    ``exclusion`` (default: the tool folders of ``SKIP_DIRS``). A path
    that does not exist (or a link to nothing) yields nothing and is added to ``missing``.
    """
    # Keyed by text: str() of a resolved path is wanted later anyway (display names) and is
    # cached on it, while hashing a fresh Path builds a tuple of its parts.
    seen: set[str] = set()
    resolver = _Resolver()
    for top in paths:
        try:
            mode = os.lstat(top).st_mode
            is_link = stat.S_ISLNK(mode)
            if is_link:
                mode = os.stat(top).st_mode
        except OSError:
            if missing is not None:
                missing.append(top)
            continue
        if stat.S_ISREG(mode):
            resolved = resolver.file(top, is_link)
            if (key := str(resolved)) not in seen:
                seen.add(key)
                yield top, resolved
            continue
        yield from _walk(top, None, [], seen, resolver, exclusion)


def _walk(
    folder: Path,
    real_folder: Path | None,
    specs: list[tuple[Path, pathspec.PathSpec]],
    seen: set[str],
    resolver: _Resolver,
    exclusion: Exclusion | None = None,
) -> Iterator[tuple[Path, Path]]:
    spec = _gitignore(str(folder))
    if spec is not None:
        specs = [*specs, (folder, spec)]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    if real_folder is None:  # resolved only once listed: a link loop never gets this far
        real_folder = resolver.folder(folder)
    for entry in entries:
        name = entry.name
        is_dir = entry.is_dir(follow_symlinks=False)  # a link to a folder is not followed
        if exclusion is None and is_dir and (name in SKIP_DIRS or name.endswith(".egg-info")):
            continue
        if not is_dir and not name.endswith((".py", ".pyi", ".ipynb")):
            continue
        if exclusion is not None and exclusion.excludes(real_folder, name, is_dir):
            continue
        path = Path(entry.path)
        if specs and _ignored(path, is_dir, specs):
            continue
        if is_dir:
            if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                continue  # a virtual environment under another name
            yield from _walk(path, real_folder / name, specs, seen, resolver, exclusion)
        elif _is_file(entry):
            is_link = entry.is_symlink()
            resolved = path.resolve() if is_link else real_folder / name
            if (key := str(resolved)) not in seen:
                seen.add(key)
                yield path, resolved


def _is_file(entry: os.DirEntry[str]) -> bool:
    """``entry.is_file()``, false for a link loop (which raises ELOOP) as for a dangling link."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.PathSpec]]) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False
