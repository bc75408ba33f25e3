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


def write_or_why(source: SourceFile, new_raw: bytes) -> str | None:
    """:func:`write_atomic`, answering None when written, else why not (refused, changed on
    disk, an OS error): the one place --write, --add-ignore and notebooks turn a failed write
    into the reason they report."""
    try:
        write_atomic(source, new_raw)
    except (Refused, ChangedOnDisk) as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot write: {exc}"
    return None


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
    paths: list[Path],
    missing: list[Path] | None = None,
    exclusion: Exclusion | None = None,
    *,
    force_exclude: bool = False,
    unreadable: list[tuple[Path, str]] | None = None,
) -> Iterator[tuple[Path, Path]]:
    """Python files under ``paths`` as (path as found, resolved path), honouring git's ignore
    rules (see :class:`_Specs`) and skipping tool folders; a file reached twice (links) is
    yielded once.

    A path named explicitly is always taken, whatever its suffix, ignore status or
    ``exclusion`` (default: the tool folders of ``SKIP_DIRS``), unless ``force_exclude``
    (ruff's ``--force-exclude``): then one that git ignores is left out too.
    A path that does not exist (or a link to nothing) yields nothing and is added to ``missing``.
    A folder that cannot be listed is added to ``unreadable`` with the reason.
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
        is_file = stat.S_ISREG(mode)
        if force_exclude and _named_path_ignored(top, is_dir=not is_file):
            continue
        if is_file:
            resolved = resolver.file(top, is_link)
            if (key := str(resolved)) not in seen:
                seen.add(key)
                yield top, resolved
            continue
        real = os.path.realpath(top)
        root = _repository_root(real)
        if root is None:  # outside a repository: the .gitignore files from here down
            yield from _walk(top, None, "", (), seen, resolver, exclusion, unreadable)
            continue
        rel = os.path.relpath(real, root).replace(os.sep, "/")
        rel = "" if rel == "." else rel + "/"
        specs = _repository_specs(root)
        for prefix in _prefixes(rel)[:-1]:  # the folders above ``top``; its own: in _walk
            specs = _with_gitignore(specs, os.path.join(root, prefix), prefix)
        yield from _walk(top, None, rel, specs, seen, resolver, exclusion, unreadable)


def _walk(
    folder: Path,
    real_folder: Path | None,
    rel: str,
    specs: _Specs,
    seen: set[str],
    resolver: _Resolver,
    exclusion: Exclusion | None = None,
    unreadable: list[tuple[Path, str]] | None = None,
) -> Iterator[tuple[Path, Path]]:
    """``rel``: the folder relative to its repository root ("" or ending in "/")."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        if unreadable is not None:
            unreadable.append((folder, exc.strerror or str(exc)))
        return
    for entry in entries:  # names only, no system call: most folders have neither
        if entry.name == ".git" and rel:  # a nested repository: its own rules, not ours
            rel, specs = "", _repository_specs(os.path.realpath(folder))
        elif entry.name == ".gitignore":
            specs = _with_gitignore(specs, entry.path[: -len(".gitignore")], rel)
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
        if specs and _ignored(f"{rel}{name}/" if is_dir else rel + name, specs):
            continue
        path = Path(entry.path)
        if is_dir:
            if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                continue  # a virtual environment under another name
            yield from _walk(
                path,
                real_folder / name,
                f"{rel}{name}/",
                specs,
                seen,
                resolver,
                exclusion,
                unreadable,
            )
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


# -- git's ignore rules ------------------------------------------------------------------------
#
# Read with pathspec's GitIgnoreSpec, one per ignore file, rather than by asking git
# (``git ls-files -co --exclude-standard``): the walk also runs outside repositories and where
# git is not installed, and a subprocess listing a large repository costs more than the walk.


@dataclass(frozen=True)
class _IgnoreFile:
    prefix: str  # its folder relative to the repository root ("" or ending in "/")
    # (regex matched from the path's start, whether a match ignores: False for "!", whether
    # the regex must match up to the path's end, whether the line names folders only: "gen/");
    # last line first
    patterns: tuple[tuple[re.Pattern[str], bool, bool, bool], ...]
    # All of them in one regex, and those that can match a file in another: most paths match no
    # line, found with one match (measured: the walk of 4,000 files under GitHub's 80-line
    # Python .gitignore takes 0.4x the time it took with pathspec's line-by-line match_file)
    any_line: re.Pattern[str]
    any_file_line: re.Pattern[str] | None


_Specs = tuple[_IgnoreFile, ...]
"""Ignore files in increasing precedence, as git orders them: the global excludes file
(``core.excludesFile``), ``.git/info/exclude``, then every ``.gitignore`` from the repository root
down to the folder; each one's patterns match paths relative to its folder."""

#: pathspec's name for the group that matches the "/" after a folder a pattern names
_DESCENDANT_MARK = "ps_d"


def _ignored(rel: str, specs: _Specs) -> bool:
    """Whether git ignores ``rel`` (relative to the repository root, a folder ending in "/"):
    the deepest ignore file with a pattern matching it decides, its last matching line.

    Each pattern is pathspec's regex, but only a match of the path itself counts: pathspec also
    matches what lies below a matched folder, with its own precedence, where git instead never
    looks inside an ignored folder (nor does the walk) and lets a ``!`` line re-include nothing
    below it (``gen/`` then ``!a/`` still ignores ``a/gen/``). So a folder named on the command
    line is walked even where git ignores it, and its contents judged by their own patterns.
    """
    for ignore in reversed(specs):
        if not rel.startswith(ignore.prefix):
            continue
        path = rel[len(ignore.prefix) :]
        is_dir = path.endswith("/")
        prefilter = ignore.any_line if is_dir else ignore.any_file_line
        if prefilter is None or prefilter.match(path) is None:
            continue
        for regex, ignores, to_end, folders_only in ignore.patterns:
            if folders_only and not is_dir:
                continue
            m = regex.match(path)
            if m is not None and (to_end or not (m.end() == len(path) and is_dir)):
                return ignores  # (``a/**`` matches below a/, not a/ itself)
    return False


def _with_gitignore(specs: _Specs, folder: str, prefix: str) -> _Specs:
    ignore = _read_ignore_file(os.path.join(folder, ".gitignore"), prefix)
    return (*specs, ignore) if ignore is not None else specs


def _read_ignore_file(path: str, prefix: str) -> _IgnoreFile | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:  # missing, a folder, unreadable: no rules
        return None
    import pathspec  # here: only a walk that meets an ignore file needs it

    patterns = []
    for line in reversed(lines):
        try:  # line by line: git skips a line it cannot read ("!"), pathspec raises
            parsed = pathspec.GitIgnoreSpec.from_lines([line]).patterns
        except ValueError:
            continue
        for pattern in parsed:
            regex = getattr(pattern, "regex", None)
            if pattern.include is None or not isinstance(regex, re.Pattern):
                continue
            # matched from the start (re.match): a search tries every position of the path
            body = regex.pattern[1:] if regex.pattern.startswith("^") else f".*?{regex.pattern}"
            folders_only = line.rstrip().endswith("/")
            if _DESCENDANT_MARK in regex.groupindex:  # only a match up to the end is the path's
                regex = re.compile(f"(?:{body})$")
                patterns.append((regex, pattern.include, True, folders_only))
            else:  # ``a/**``, ``*``: prefixes of what they match
                patterns.append((re.compile(body), pattern.include, False, folders_only))
    if not patterns:
        return None
    return _IgnoreFile(
        prefix,
        tuple(patterns),
        _one_regex(r for r, *_ in patterns),
        _one_regex(r for r, _, _, folders_only in patterns if not folders_only),
    )


def _one_regex(regexes: Iterable[re.Pattern[str]]) -> re.Pattern[str] | None:
    mark = f"(?P<{_DESCENDANT_MARK}>"  # a group name may occur once in a regex
    either = "|".join(f"(?:{r.pattern.replace(mark, '(?:')})" for r in regexes)
    return re.compile(either) if either else None


def _prefixes(rel: str) -> list[str]:
    """ "", "a/", "a/b/" for "a/b/": the folders from the repository root down to ``rel``."""
    parts = rel.split("/")[:-1]
    return ["/".join(parts[:i]) + "/" if i else "" for i in range(len(parts) + 1)]


def _repository_root(folder: str) -> str | None:
    """The nearest folder at or above ``folder`` (a real path) holding ``.git`` (a folder, or the
    file of a linked worktree or submodule)."""
    while True:
        if os.path.lexists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _repository_specs(root: str) -> _Specs:
    """The two ignore files that apply to the whole repository, lowest precedence first."""
    specs: _Specs = ()
    exclude = os.path.join(_git_common_dir(root), "info", "exclude")
    for path in (_global_excludes_file(root), exclude):
        ignore = _read_ignore_file(path, "") if path else None
        if ignore is not None:
            specs = (*specs, ignore)
    return specs


def _git_common_dir(root: str) -> str:
    """The repository's git folder; for a linked worktree (``.git`` is a file naming its own
    folder), the main one's, where ``info/exclude`` lives."""
    dotgit = os.path.join(root, ".git")
    try:
        with open(dotgit, encoding="utf-8") as fh:
            pointer = fh.read()
    except OSError:  # a folder, as in most repositories
        return dotgit
    if not pointer.startswith("gitdir:"):
        return dotgit
    gitdir = os.path.join(root, pointer[len("gitdir:") :].strip())
    try:
        with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as fh:
            return os.path.normpath(os.path.join(gitdir, fh.read().strip()))
    except OSError:  # a submodule: its git folder is its own
        return gitdir


def _global_excludes_file(root: str) -> str | None:
    """``core.excludesFile`` as git reads it (any config file, ``~`` expanded), else git's
    default, ``$XDG_CONFIG_HOME/git/ignore`` (``~/.config/git/ignore``)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    default = os.path.join(config_home, "git", "ignore")
    configs = [
        os.environ.get("GIT_CONFIG_GLOBAL") or os.path.join(os.path.expanduser("~"), ".gitconfig"),
        os.path.join(config_home, "git", "config"),
        os.path.join(_git_common_dir(root), "config"),
    ]
    if not os.environ.get("GIT_CONFIG_NOSYSTEM"):
        configs.append(os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")
    # Git is asked only when a config file could set the key: a process costs more than the
    # rest of a small walk (measured: 10-30 ms against a 150 ms walk of 3,800 files).
    if not any(_may_set_excludes_file(c) for c in configs):
        return default
    import subprocess  # here: only then

    try:
        proc = subprocess.run(
            ["git", "config", "--path", "--get", "core.excludesFile"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return default  # no git: its default
    if proc.returncode == 0 and proc.stdout.strip():
        return os.path.join(root, proc.stdout.strip())
    return default


def _may_set_excludes_file(config: str) -> bool:
    """Whether a git config file sets ``core.excludesFile`` or includes another file."""
    try:
        with open(config, encoding="utf-8", errors="replace") as fh:
            text = fh.read().lower()
    except OSError:
        return False
    return "excludesfile" in text or "[include" in text


def _named_path_ignored(path: Path, is_dir: bool) -> bool:
    """Whether git ignores a path named on the command line, or a folder it lies in (then git
    ignores it too). Outside a repository, the ``.gitignore`` files of its own folder and below
    decide, as for a walk started there."""
    if is_dir:
        real = folder = os.path.realpath(path)
    else:  # the link itself, not what it points to, as git sees it
        folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        real = os.path.join(folder, path.name)
    root = _repository_root(folder)
    specs: _Specs = _repository_specs(root) if root is not None else ()
    if root is None:
        root = folder
    rel = os.path.relpath(real, root).replace(os.sep, "/")
    if rel == ".":
        return False  # the repository, or the folder outside one, itself
    rel += "/" if is_dir else ""
    prefixes = _prefixes(rel if is_dir else rel + "/")[:-1]
    for i, prefix in enumerate(prefixes):
        specs = _with_gitignore(specs, os.path.join(root, prefix), prefix)
        below = prefixes[i + 1] if i + 1 < len(prefixes) else rel
        if specs and _ignored(below, specs):
            return True
    return False
