"""Open documents: their text as UTF-8 bytes, a line index and an incrementally parsed tree.

LSP positions count characters in the encoding agreed at initialisation (UTF-16 code units
unless the client offers UTF-8 or UTF-32); the detector and tree-sitter count bytes. A
:class:`LineIndex` converts between the two. Lines end at ``\\r\\n``, ``\\n`` or ``\\r``, as LSP
says (the line end is never counted inside a character offset). tree-sitter counts rows at
``\\n`` only, so its points are computed apart where a lone ``\\r`` ends a line.

A document is changed only on the event loop's thread. Each change updates the bytes and the
line index and ``edit``-s a private copy of the syntax tree; the re-parse is deferred until a
snapshot is taken, so a burst of keystrokes costs one incremental parse. A
:class:`Snapshot` is immutable: handlers that run in worker threads read snapshots, never the
live document.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from lsprotocol import types
from tree_sitter import Point, Tree

from recode.server.parsing import parse

if TYPE_CHECKING:
    from recode.server.lsp.code_actions import FixAll
    from recode.server.lsp.diagnostics import Result

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
_NEWLINE = re.compile(rb"\r\n?|\n")  # what ends a line for LSP


def _units(text: str, encoding: str) -> int:
    """Length of ``text`` in the position encoding's units."""
    if encoding == UTF16:
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    if encoding == UTF8:
        return len(text.encode("utf-8"))
    return len(text)


def _prefix_for_units(line: str, units: int, encoding: str) -> str:
    """The longest prefix of ``line`` that is at most ``units`` long in ``encoding``."""
    if encoding == UTF32:
        return line[:units]
    count = 0
    for i, ch in enumerate(line):
        width = (
            (2 if ord(ch) > 0xFFFF else 1)
            if encoding == UTF16
            else len(ch.encode("utf-8", "surrogatepass"))
        )
        if count + width > units:
            return line[:i]
        count += width
    return line


@dataclass(frozen=True)
class LineIndex:
    """Byte offsets of line starts in a UTF-8 text (always starts with 0): lines end at
    ``\\r\\n``, ``\\n`` or a lone ``\\r``.

    ``lone_cr``: the text may hold a lone ``\\r`` (then tree-sitter's rows, which only
    ``\\n`` ends, differ from these lines).
    """

    starts: tuple[int, ...]
    length: int
    lone_cr: bool = field(default=False, compare=False)

    @classmethod
    def of(cls, source: bytes) -> LineIndex:
        ends = [m.end() for m in _NEWLINE.finditer(source)]
        return cls((0, *ends), len(source), _has_lone_cr(source, 0, len(source)))

    def line_of(self, byte: int) -> int:
        return bisect.bisect_right(self.starts, byte) - 1

    def line_end(self, source: bytes, line: int) -> int:
        """Byte offset where ``line``'s content ends (before its ``\\r\\n``, ``\\n`` or
        ``\\r``)."""
        if line + 1 >= len(self.starts):
            return self.length
        end = self.starts[line + 1]
        if source[end - 1 : end] == b"\n":
            end -= 1
        if end > self.starts[line] and source[end - 1 : end] == b"\r":
            end -= 1
        return end

    def offset(self, source: bytes, position: types.Position, encoding: str) -> int:
        """The byte offset of an LSP position (clamped to the document and to its line)."""
        if position.line >= len(self.starts):
            return self.length
        start = self.starts[position.line]
        end = self.line_end(source, position.line)
        raw = source[start:end]
        if raw.isascii():
            return start + min(position.character, len(raw))
        line = raw.decode("utf-8", "replace")
        prefix = _prefix_for_units(line, position.character, encoding)
        return start + len(prefix.encode("utf-8", "surrogatepass"))

    def position(self, source: bytes, byte: int, encoding: str) -> types.Position:
        """The LSP position of a byte offset."""
        byte = max(0, min(byte, self.length))
        line = self.line_of(byte)
        start = self.starts[line]
        raw = source[start:byte]
        if raw.isascii():
            return types.Position(line=line, character=len(raw))
        return types.Position(line=line, character=_units(raw.decode("utf-8", "replace"), encoding))

    def range(self, source: bytes, start: int, end: int, encoding: str) -> types.Range:
        return types.Range(
            start=self.position(source, start, encoding), end=self.position(source, end, encoding)
        )

    def point(self, source: bytes, byte: int) -> Point:
        """tree-sitter's (row, byte column) of a byte offset: rows end at ``\\n`` only."""
        if self.lone_cr:
            return Point(source.count(b"\n", 0, byte), byte - (source.rfind(b"\n", 0, byte) + 1))
        line = self.line_of(byte)
        return Point(line, byte - self.starts[line])

    def replaced(self, source: bytes, start: int, end: int, new_length: int) -> LineIndex:
        """The index after bytes ``[start, end)`` were replaced with ``new_length`` bytes, giving
        ``source``.

        The line ends near the edit are read again: a ``\\r`` before it and a ``\\n`` after it
        may now make one line end, or stop doing so. Line starts up to the line before the
        edited one, and those two bytes or more after the edit, cannot change.
        """
        first = self.line_of(start)
        begin = self.starts[max(0, first - 1)]
        delta = new_length - (end - start)
        stop = start + new_length + 2  # in the new text: where unchanged line starts resume
        tail_from = bisect.bisect_left(self.starts, end + 2)
        tail = self.starts[tail_from:]
        if delta:
            tail = tuple(s + delta for s in tail)
        # a \r read as the window's last byte may be a \r\n: starts at ``stop`` come from the tail
        window = min(stop, len(source))
        middle = [m.end() for m in _NEWLINE.finditer(source, begin, window) if m.end() < stop]
        lone = self.lone_cr or _has_lone_cr(source, begin, window)
        return LineIndex((*self.starts[: max(0, first - 1) + 1], *middle, *tail), len(source), lone)


def _has_lone_cr(source: bytes, start: int, end: int) -> bool:
    """Whether ``source[start:end]`` holds a ``\\r`` not followed by ``\\n``."""
    at = source.find(b"\r", start, end)
    while at >= 0:
        if source[at + 1 : at + 2] != b"\n":
            return True
        at = source.find(b"\r", at + 1, end)
    return False


@dataclass(frozen=True)
class Snapshot:
    """One version of a document, safe to read from any thread."""

    uri: str
    version: int | None
    source: bytes
    tree: Tree | None  # None once released to save memory (the detector parses again)
    lines: LineIndex
    encoding: str
    # what changed since the document's previous snapshot (of version ``base_version``):
    # bytes [start, old_end) of that snapshot became [start, new_end) of this one, and the
    # tree's structure differs only within ``changed`` (tree-sitter's changed ranges)
    base_version: int | None = None
    edit: tuple[int, int, int] | None = None
    changed: tuple[tuple[int, int], ...] = ()

    @property
    def path(self) -> str | None:
        return uri_to_path(self.uri)

    def range(self, start: int, end: int) -> types.Range:
        return self.lines.range(self.source, start, end, self.encoding)

    def offset(self, position: types.Position) -> int:
        return self.lines.offset(self.source, position, self.encoding)


@dataclass
class DocumentState:
    """What the server keeps of a document besides its text, each field written by one
    module: the diagnostics' cache (diagnostics.py), the fix-all cache (code_actions.py) and
    the didChange time (handlers/did_change.py, read when the diagnostics are published)."""

    result: Result | None = None  # of the current version (fast or exact)
    exact: Result | None = None  # the whole-file result of the current version once computed
    last: Result | None = None  # the latest result computed for any version (fast path's base)
    fix_all: FixAll | None = None  # the fix-all edit of the current version
    # (version, wall clock, process time) of the latest didChange, until its diagnostics are out
    changed_at: tuple[int | None, float, float] | None = None

    def release_trees(self) -> None:
        """Drop the syntax tree of every cached snapshot (the cache stays valid)."""
        for f in fields(self):
            value = getattr(self, f.name)
            snapshot = getattr(value, "snapshot", None)
            if isinstance(snapshot, Snapshot) and snapshot.tree is not None:
                setattr(self, f.name, replace(value, snapshot=replace(snapshot, tree=None)))


@dataclass
class Document:
    uri: str
    version: int | None
    source: bytes
    lines: LineIndex
    encoding: str
    language_id: str = "python"
    _tree: Tree | None = None  # parsed, or edited and awaiting a re-parse (see ``_stale``)
    _stale: bool = True
    _snapshot: Snapshot | None = None
    _edit: tuple[int, int, int] | None = None  # merged edit since the last snapshot
    _edit_known: bool = False  # False: no previous snapshot, or a whole-document change
    _changed: tuple[tuple[int, int], ...] = ()
    _base_version: int | None = None
    state: DocumentState = field(default_factory=DocumentState)

    @classmethod
    def open(
        cls, uri: str, text: str, version: int | None, encoding: str, language_id: str = "python"
    ) -> Document:
        source = text.encode("utf-8", "surrogatepass")
        return cls(uri, version, source, LineIndex.of(source), encoding, language_id)

    @property
    def text(self) -> str:
        return self.source.decode("utf-8", "surrogatepass")

    def apply(
        self,
        changes: Sequence[types.TextDocumentContentChangeEvent],
        version: int | None,
    ) -> None:
        """Apply a didChange's content changes in order (full or incremental)."""
        for change in changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                self._replace(change.range, change.text)
            else:
                self.source = change.text.encode("utf-8", "surrogatepass")
                self.lines = LineIndex.of(self.source)
                self._tree = None
                self._stale = True
                self._edit_known = False
        self.version = version
        self._snapshot = None

    def _replace(self, rng: types.Range, text: str) -> None:
        start = self.lines.offset(self.source, rng.start, self.encoding)
        end = max(start, self.lines.offset(self.source, rng.end, self.encoding))
        new = text.encode("utf-8", "surrogatepass")
        # tree-sitter is told of a replacement one character wider on each side (the same
        # change, described more coarsely): a range that starts exactly at a token's end makes
        # tree-sitter-python 0.25 re-lex the whole rest of the file after a deletion at a line
        # end (20-35 ms on 5,000 lines, a full parse), against 1-5 ms for the wider range
        wide_start = _char_start(self.source, start - 1) if start > 0 else start
        wide_end = _char_end(self.source, end + 1) if end < len(self.source) else end
        old_source = self.source
        start_point = self.lines.point(old_source, wide_start)
        old_end_point = self.lines.point(old_source, wide_end)
        self.source = self.source[:start] + new + self.source[end:]
        self.lines = self.lines.replaced(self.source, start, end, len(new))
        self._merge_edit(start, end, start + len(new))
        if self._tree is not None:
            if not self._stale:
                # the parsed tree may be shared with snapshots: edit a copy of it
                self._tree = self._tree.copy()
            new_end = wide_end + len(new) - (end - start)
            self._tree.edit(
                start_byte=wide_start,
                old_end_byte=wide_end,
                new_end_byte=new_end,
                start_point=start_point,
                old_end_point=old_end_point,
                new_end_point=self.lines.point(self.source, new_end),
            )
        self._stale = True

    def _merge_edit(self, start: int, old_end: int, new_end: int) -> None:
        """Fold one more replacement into the edit since the last snapshot."""
        if self._edit is None:
            self._edit = (start, old_end, new_end)
            return
        lo, hi_old, hi_new = self._edit
        cover = max(hi_new, old_end)  # in the text before this replacement
        self._edit = (min(lo, start), hi_old + (cover - hi_new), cover + new_end - old_end)

    def release_tree(self) -> None:
        """Forget the syntax tree (here and in cached results); the next snapshot re-parses."""
        self._tree = None
        self._stale = True
        self._snapshot = None
        self._edit_known = False
        self._edit = None
        self.state.release_trees()

    @property
    def has_tree(self) -> bool:
        return self._tree is not None

    def adopt_tree(self, source: bytes, tree: Tree) -> None:
        """Keep ``tree``, parsed from ``source`` in another thread, where the document still
        holds that text and has had no tree since (else :meth:`tree` parses as usual)."""
        if source is self.source and self._tree is None:
            self._tree, self._stale, self._changed = tree, False, ()

    def tree(self) -> Tree:
        if self._stale or self._tree is None:
            edited = self._tree
            self._tree = parse(self.source, edited)
            self._changed = (
                tuple((r.start_byte, r.end_byte) for r in edited.changed_ranges(self._tree))
                if edited is not None
                else ()
            )
            self._stale = False
        return self._tree

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            tree = self.tree()
            known = self._edit_known and self._edit is not None
            self._snapshot = Snapshot(
                self.uri,
                self.version,
                self.source,
                tree,
                self.lines,
                self.encoding,
                base_version=self._base_version if known else None,
                edit=self._edit if known else None,
                changed=self._changed if known else (),
            )
            self._base_version = self.version
            self._edit = None
            self._edit_known = True
        return self._snapshot


PYTHON_LANGUAGE = "python"
PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")


def is_python(uri: str, language_id: str) -> bool:
    """Whether a document is Python: its languageId says so (any case); a document without a
    languageId is judged by its name. Another languageId wins over the name: a ``.py`` file
    the user shows as plain text is not analysed."""
    if language_id.strip():
        return language_id.strip().lower() == PYTHON_LANGUAGE
    return uri.split("?", 1)[0].split("#", 1)[0].lower().endswith(PYTHON_SUFFIXES)


class DocumentStore:
    """The open documents by URI. Changed only on the event loop's thread.

    Only Python documents are kept (:func:`is_python`); the others are only remembered by URI,
    so that no request about them is answered with Python diagnostics, fixes or hovers.

    A syntax tree takes about 40 times the memory of its source, and only the documents being
    edited profit from keeping one (incremental re-parse, the fast path of diagnostics): the
    ``hot`` most recently opened or changed documents keep their trees, the others release
    them and are parsed again when next needed.
    """

    def __init__(self, hot: int = 16) -> None:
        self._docs: dict[str, Document] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.hot = hot
        self.encoding = UTF16
        self.other_languages: dict[str, str] = {}  # open documents not analysed: languageId

    def open(self, item: types.TextDocumentItem) -> Document | None:
        """Keep a newly opened document; None (and nothing kept) where it is not Python."""
        if not is_python(item.uri, item.language_id):
            self._docs.pop(item.uri, None)
            self.other_languages[item.uri] = item.language_id
            return None
        self.other_languages.pop(item.uri, None)
        doc = Document.open(item.uri, item.text, item.version, self.encoding, item.language_id)
        self._docs[item.uri] = doc
        return doc

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def close(self, uri: str) -> Document | None:
        self._recent.pop(uri, None)
        self.other_languages.pop(uri, None)
        return self._docs.pop(uri, None)

    def is_hot(self, uri: str) -> bool:
        return uri in self._recent

    def touch(self, uri: str) -> None:
        """``uri`` is being worked on: keep its tree; release the least recent beyond ``hot``."""
        self._recent[uri] = None
        self._recent.move_to_end(uri)
        while len(self._recent) > self.hot:
            cold, _ = self._recent.popitem(last=False)
            doc = self._docs.get(cold)
            if doc is not None:
                doc.release_tree()

    def __iter__(self) -> Iterable[Document]:
        return iter(list(self._docs.values()))

    def __len__(self) -> int:
        return len(self._docs)


def uri_to_path(uri: str) -> str | None:
    """The file-system path of a ``file:`` URI, else None."""
    from pygls.uris import to_fs_path

    if not uri.startswith("file:"):
        return None
    return to_fs_path(uri)


def path_to_uri(path: str) -> str:
    from pygls.uris import from_fs_path

    uri = from_fs_path(path)
    if uri is None:
        raise ValueError(f"not a path: {path}")
    return uri


def _char_start(source: bytes, byte: int) -> int:
    """``byte`` moved back to the start of the UTF-8 character holding it."""
    while byte > 0 and source[byte] & 0xC0 == 0x80:
        byte -= 1
    return byte


def _char_end(source: bytes, byte: int) -> int:
    """``byte`` moved on to the next UTF-8 character boundary (at most the length)."""
    while byte < len(source) and source[byte] & 0xC0 == 0x80:
        byte += 1
    return byte
