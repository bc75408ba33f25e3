"""Finding the Python files to scan, reading them safely, and writing them back atomically."""

from __future__ import annotations

import codecs
import os
import re
import stat
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, AnyStr, Protocol

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
    text: str  # as Python decodes it: a UTF-8 byte-order mark is not part of it
    encoding: str  # the codec's name as codecs.lookup() spells it

    @cached_property
    def utf8(self) -> bytes:
        """What the detector and the fixes work on: the text in UTF-8, without a byte-order mark,
        each lone CR as LF (Python reads a lone CR as a line end; tree-sitter and the fixes look
        for LF). Each character keeps its UTF-8 length, so an offset here is an offset in
        ``text.encode("utf-8")``; :func:`splice` maps edits of it back onto :attr:`raw`."""
        if self.encoding == "utf-8":
            data = self.raw
        elif self.encoding == "utf-8-sig":
            data = self.raw[len(codecs.BOM_UTF8) :]
        else:
            data = self.text.encode("utf-8")
        if b"\r" in data:
            data = _LONE_CR.sub(b"\n", data)
        return data


_LONE_CR = re.compile(rb"\r(?!\n)")
_LINE_END = re.compile(rb"\r\n|\r|\n")


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
    encoding = source_encoding(raw)
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


def source_encoding(raw: bytes) -> str:
    """The encoding Python reads ``raw`` with, or :class:`Unreadable` where Python refuses it.

    :func:`tokenize.detect_encoding` decides (a byte-order mark; a PEP 263 declaration on line 1,
    or on line 2 below a comment or blank line 1; a BOM with another declaration is an error),
    fed the first two lines of the bytes already read as the interpreter splits them: at a lone
    CR too (a binary readline would not), and with bytes that are not UTF-8 replaced, since the
    interpreter accepts ``# coding: latin-1`` on a line that also holds latin-1 text while
    ``detect_encoding`` would fail on decoding that line.
    """
    lines: list[bytes] = []
    pos = 0
    while len(lines) < 2 and pos < len(raw):
        m = _LINE_END.search(raw, pos)
        end = m.end() if m else len(raw)
        lines.append(raw[pos:end])
        pos = end
    if not raw.startswith(codecs.BOM_UTF8) and not any(b"coding" in line for line in lines):
        return "utf-8"  # what detect_encoding says, without its 8 us a file (measured)
    lines = [line.decode("utf-8", "replace").encode("utf-8") for line in lines]
    try:
        name, _ = tokenize.detect_encoding(iter(lines).__next__)
    except SyntaxError as exc:
        message = str(exc.msg)
        if message.startswith("unknown encoding"):
            declared = message.rpartition(": ")[2]
            raise Unreadable(f"skipped: unknown coding declaration {declared!r}") from None
        if raw.startswith(codecs.BOM_UTF8):
            raise Unreadable(
                "skipped: the file starts with a UTF-8 byte-order mark but declares another "
                "coding (Python refuses it)"
            ) from None
        raise Unreadable(f"skipped: its coding declaration cannot be read ({message})") from None
    return codecs.lookup(name).name


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


# -- the new bytes: edits of the UTF-8 view spliced into the file's own bytes ----------------


class Refused(Exception):
    """The file cannot be written as asked (encoding, permissions, owner); it is left alone."""


class _Edit(Protocol):
    """An edit of :attr:`SourceFile.utf8` (:class:`recode.server.fixes.Edit`)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def text(self) -> str: ...


def newline_at(source: AnyStr, pos: int) -> AnyStr:
    """The line end that text inserted at ``pos`` of ``source`` should use: that of the line
    ending just before ``pos`` when ``pos`` starts a line, else that of the line holding ``pos``,
    else that of the line before it; LF in a file without any. Works on ``str`` and on ``bytes``
    (the language server's documents), so a CRLF or CR file gets no LF line from a fix."""
    lf, cr = ("\n", "\r") if isinstance(source, str) else (b"\n", b"\r")
    if pos > 0 and source[pos - 1 : pos] in (lf, cr):
        return source[pos - 2 : pos] if source[pos - 2 : pos] == cr + lf else source[pos - 1 : pos]
    # each search stops at the nearest LF: a call costs a line, not the file
    lf_at = source.find(lf, pos)
    cr_at = source.find(cr, pos, len(source) if lf_at == -1 else lf_at)
    if cr_at != -1:
        return cr + lf if lf_at == cr_at + 1 else cr
    if lf_at != -1:
        return lf
    lf_at = source.rfind(lf, 0, pos)
    cr_at = source.rfind(cr, max(lf_at, 0), pos)
    if cr_at > lf_at:
        return cr
    if lf_at != -1:
        return cr + lf if source[lf_at - 1 : lf_at] == cr else lf
    return lf


def fit_newlines(text: str, source: str | bytes, pos: int) -> str:
    """``text`` to be inserted at ``pos`` of ``source`` (a ``str``, or ``bytes`` with a byte
    offset as the fixes' edits give it), each LF that is not part of a CRLF written as the line
    end in use there (:func:`newline_at`): the CLI's writes and the language server's edits use
    it, so a fix adds no LF line to a CRLF or CR file."""
    if "\n" not in text:
        return text
    newline = newline_at(source, pos)
    if isinstance(newline, bytes):
        newline = newline.decode("ascii")
    return text if newline == "\n" else _LONE_LF.sub(newline, text)


_LONE_LF = re.compile(r"(?<!\r)\n")


def splice(source: SourceFile, edits: Iterable[_Edit]) -> bytes:
    """The file's new bytes: ``edits`` (of :attr:`SourceFile.utf8`, sorted, not overlapping)
    put into :attr:`SourceFile.raw`, every byte outside them the file's own.

    Each edit's text ends its lines as the file does where it goes (:func:`fit_newlines`) and is
    encoded with the file's codec. :class:`Refused` where that cannot be done exactly: a codec
    whose bytes are not the text's pieces encoded one after another (``unicode_escape``, which
    writes a line end as ``\\n``; stateful codecs), or a character the codec cannot encode.
    """
    view, text, codec = source.utf8, source.text, source.encoding
    prefix = codecs.BOM_UTF8 if codec == "utf-8-sig" else b""
    raw = source.raw
    piece_codec = "utf-8" if codec == "utf-8-sig" else codec  # a BOM only at the start
    exact = codec in ("utf-8", "utf-8-sig")  # the view's offsets are the raw offsets (+ BOM)
    out: list[bytes] = [prefix]
    expected: list[str] = []  # the new text, to check the new bytes decode to it
    v = c = 0  # position in the view, in the text
    r = len(prefix)  # position in raw
    for edit in edits:
        c_start = c + len(view[v : edit.start].decode("utf-8"))
        c_end = c_start + len(view[edit.start : edit.end].decode("utf-8"))
        if exact:
            r_start, r_end = edit.start + len(prefix), edit.end + len(prefix)
        else:
            r_start = _advance(raw, r, text[c:c_start], codec)
            r_end = _advance(raw, r_start, text[c_start:c_end], codec)
        new = fit_newlines(edit.text, text, c_start)
        try:
            encoded = new.encode(piece_codec)
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise Refused(
                f"the fix writes {bad!r}, which the file's encoding ({codec}) cannot hold"
            ) from None
        out += (raw[r:r_start], encoded)
        expected += (text[c:c_start], new)
        v, c, r = edit.end, c_end, r_end
    if not exact and _advance(raw, r, text[c:], codec) != len(raw):
        raise Refused(_NOT_ROUND_TRIP.format(codec=codec))
    out.append(raw[r:])
    expected.append(text[c:])
    new_raw = b"".join(out)
    try:
        round_trip = new_raw.decode(codec) == "".join(expected)
    except UnicodeDecodeError:
        round_trip = False
    if not round_trip:
        raise Refused(f"the new text does not encode back exactly in the file's encoding ({codec})")
    return new_raw


_NOT_ROUND_TRIP = (
    "its encoding ({codec}) does not give back the file's own bytes when its text is encoded "
    "again, so a fix would change bytes outside it"
)


def _advance(raw: bytes, pos: int, piece: str, codec: str) -> int:
    """Where ``piece`` of the text ends in ``raw`` if it starts at ``pos``, checking that its
    bytes there are the piece encoded (:class:`Refused` otherwise)."""
    try:
        encoded = piece.encode(codec)
    except UnicodeEncodeError:
        raise Refused(_NOT_ROUND_TRIP.format(codec=codec)) from None
    if not raw.startswith(encoded, pos):
        raise Refused(_NOT_ROUND_TRIP.format(codec=codec))
    return pos + len(encoded)


class ChangedOnDisk(Exception):
    """The file changed after it was read; it is not overwritten."""


def write_atomic(source: SourceFile, new_raw: bytes) -> None:
    """Put ``new_raw`` in the file if it still holds what was read, never half-written.

    Through links: the target of a symbolic link gets the new bytes and the link stays a link;
    a file with several hard links keeps its inode (:func:`_write_in_place`). Mode, owner and
    group are kept. :class:`Refused`, the file untouched, where the user may not write it: no
    write permission (a read-only file is not made writable, even by root), a folder where no
    file can be created, or another owner that only root could give the new file.
    """
    target = Path(os.path.realpath(source.path))
    try:
        st = os.stat(target)
    except OSError as exc:
        raise ChangedOnDisk(f"cannot re-read before writing: {exc.strerror or exc}") from exc
    if not st.st_mode & 0o222:
        raise Refused(f"the file is read-only (mode {stat.S_IMODE(st.st_mode):04o})")
    if not _may(target, os.W_OK):
        raise Refused("you may not write this file (permission denied)")
    if st.st_nlink > 1:
        _write_in_place(target, source.raw, new_raw)
        return
    if not _may(target.parent, os.W_OK | os.X_OK):
        raise Refused(
            f"you may not create files in {target.parent}, which replacing the file safely needs"
        )
    root = os.geteuid() == 0
    if not root and st.st_uid != os.geteuid():
        raise Refused("the file belongs to another user: the rewritten file would be yours")
    if _read(target) != source.raw:
        raise ChangedOnDisk("the file changed after it was read; not overwritten")
    import tempfile  # only --write needs it

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".recode-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new_raw)
            fh.flush()
            made = os.fstat(fd)
            if (made.st_uid, made.st_gid) != (st.st_uid, st.st_gid):
                try:  # root gives the file its owner back; a user only a group of theirs
                    os.fchown(fd, st.st_uid if root else -1, st.st_gid)
                except PermissionError:
                    raise Refused(
                        f"the file's group ({st.st_gid}) is not one of yours: the rewritten "
                        "file could not keep it"
                    ) from None
            os.fchmod(fd, stat.S_IMODE(st.st_mode))  # after chown, which drops set-id bits
            os.fsync(fd)
        if _read(target) != source.raw:  # last look, as close to the swap as possible
            raise ChangedOnDisk("the file changed after it was read; not overwritten")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _may(path: Path, mode: int) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ChangedOnDisk(f"cannot re-read before writing: {exc.strerror or exc}") from exc


def _write_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite a hard-linked file in its own inode.

    A user expects every name of a hard-linked file to show the fix, as an editor saving such a
    file in place gives (vim's ``backupcopy=auto``); a new file renamed over one name would split
    the link and leave the other names unfixed. The price: this write is not atomic. The check
    that the file still holds what was read is made on the descriptor that writes, and a write
    that fails (a full disk) puts the old bytes back.
    """
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        if _read_all(fd, os.fstat(fd).st_size) != old:
            raise ChangedOnDisk("the file changed after it was read; not overwritten")
        try:
            _overwrite(fd, new)
        except OSError:
            _overwrite(fd, old)
            raise
    finally:
        os.close(fd)


def _overwrite(fd: int, data: bytes) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], done)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


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
        if not is_dir and not name.endswith((".py", ".pyi")):
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
