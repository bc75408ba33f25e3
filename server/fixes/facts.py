"""What the fixes of one file read of the whole file, found once per analysis."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from functools import cached_property
from typing import TYPE_CHECKING

from tree_sitter import Node, Tree

from recode.server.fixes.edits import Edit
from recode.server.fixes.python_ast import parses, python_tree
from recode.server.fixes.site import NoFix
from recode.server.parsing import parse, text
from recode.server.scopes import Scopes, mentions, star_import

if TYPE_CHECKING:
    from recode.server.detector import Analysis


class FileFacts:
    """What the fixes of one file read of the whole file, found once per analysis: its top-level
    imports, where a new import goes, the names it binds. (Read again for every fix, the whole
    file made ``--write`` quadratic in the fixes of a file.)"""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self._mentions: dict[str, bool] = {}
        self.renames: dict[tuple[int, str], tuple[Edit, ...] | NoFix] = {}  # per from-import

    @cached_property
    def module_names(self) -> list[tuple[str, str]]:
        """(local name, dotted path) for each name a top-level import binds, tracked or not;
        the longest paths first."""
        return sorted(_module_level_names(self.analysis), key=lambda n: -len(n[1]))

    @cached_property
    def loaded(self) -> list[str]:
        """The modules the top-level imports load."""
        found: list[str] = []
        for stmt in self.analysis.tree.root_node.named_children:
            if stmt.type == "import_statement":
                for item in stmt.children_by_field_name("name"):
                    if item.type == "aliased_import":
                        item = item.child_by_field_name("name")
                    found.append(text(item))
            elif stmt.type == "import_from_statement":
                found.append(text(stmt.child_by_field_name("module_name")))
        return found

    @cached_property
    def import_at(self) -> tuple[int, str]:
        """Where a new import goes (after the last top-level import, or the docstring), and the
        line break to put before it."""
        root = self.analysis.tree.root_node
        anchor = None
        for child in root.named_children:
            if child.type in (
                "import_statement",
                "import_from_statement",
                "future_import_statement",
            ):
                anchor = child
            elif (
                anchor is None
                and child.type == "expression_statement"
                and child.named_children
                and child.named_children[0].type == "string"
                and child.start_byte == root.named_children[0].start_byte
            ):
                anchor = child  # the module docstring
            elif child.type != "comment" and anchor is not None:
                break
        if anchor is None:
            return 0, ""
        source = self.analysis.source
        end = source.find(b"\n", anchor.end_byte)
        end = len(source) if end < 0 else end + 1
        return end, "" if source[:end].endswith(b"\n") else "\n"

    @cached_property
    def scopes(self) -> Scopes | None:
        tree = python_tree(self.analysis.source)
        return None if tree is None else Scopes.of(self.analysis.source, tree)

    @cached_property
    def stars(self) -> bool:
        return star_import(self.analysis.source)

    def conflict(self, name: str, targets: Collection[str], uses: Iterable[int]) -> str | None:
        """Why a new module-level ``name`` for one of ``targets`` would not be what ``name``
        means at the byte offsets ``uses`` (:meth:`recode.server.scopes.Scopes.conflict`)."""
        uses = list(uses)
        if self._reexported_at(name, targets, uses):
            return None
        mentioned = self._mentions.get(name)
        if mentioned is None:
            mentioned = self._mentions[name] = mentions(self.analysis.source, name)
        if not mentioned and not self.stars and not self._normalization_may_spell(name):
            return None  # nothing can bind a name the file never spells (``ｎｐ`` spells np)
        if not self.stars and self._bound_by_imports_of(name, targets) and parses(self.source):
            return None  # what the scopes would answer, without Python's tree
        if self.scopes is None:
            return f"the file does not parse, so it cannot be told whether `{name}` is free"
        return self.scopes.conflict(name, targets, uses)

    def _reexported_at(self, name: str, targets: Collection[str], uses: list[int]) -> bool:
        """Whether the detector resolved each of ``uses`` to a binding of ``name`` to one of
        ``targets`` by an import from a module of the project that a test run proved to
        re-export it (``from ..utils._param_validation import validate_params``): Python's
        scopes see that import bind another path, and would call the name taken."""
        for b in self.analysis.bindings:
            if b.kind != "from" or b.name != name or b.target not in targets or b.stmt is None:
                continue
            module = text(b.stmt.child_by_field_name("module_name"))
            if not b.target.startswith(module + "."):
                return bool(uses) and set(uses) <= {r.start_byte for r in b.references}
        return False

    def _bound_by_imports_of(self, name: str, targets: Collection[str]) -> bool:
        """Whether the only places the text may bind ``name`` are imports of one of
        ``targets`` (which :meth:`Scopes.conflict` answers None for), read from the text and
        the tree-sitter tree: a mention followed by a dot is a use, unless an ``import``
        precedes it on its logical line (``import np.linalg`` binds ``np``); a mention in a
        comment or a string's text, an argument or a called function binds nothing; any other
        mention must be an import item the tree holds (``import numpy as np``), or the module
        of a ``from`` import. Where unsure (any other place, a name that Unicode normalization
        may make or change: Python reads ``ｎｐ`` as ``np``), False, and the scopes decide.
        (Python's tree and scopes of a file cost 40% of the detector's time on the bench
        corpus, mostly for names such as ``np``, used thousands of times and bound only by an
        import.)

        A mention in a part of the file that the detector's partial tree lacks (a docstring's
        ``>>> import numpy as np``, a comment in a function it did not parse) is read from a
        tree-sitter parse of the whole file, which holds the same nodes where both have them
        (:mod:`recode.server.sparse`) and costs about a quarter of Python's tree and scopes
        (10 of the 14 files of the bench corpus that went to the scopes)."""
        if self._normalization_may_spell(name):
            return False
        spans = self._binding_candidates(name)
        tree = self.analysis.tree
        found = _bound_in(spans, tree.root_node, targets)
        if found is None and not _whole(tree):
            found = _bound_in(spans, self._whole_root, targets)
        return bool(found)

    def _binding_candidates(self, name: str) -> list[tuple[int, int]]:
        """Where the text mentions ``name`` other than as a use followed by a dot, in order:
        each mention not followed by a dot, and each followed by one on the logical line of
        an ``import`` after it (``import np.linalg``). Found by ``re`` from the mentions of
        the name and the few ``import`` words: most mentions are such uses (``np.zeros``),
        thousands in a file, which one look at each made 8% of the CPU on the bench corpus."""
        source = self.source
        mention = _mention(name)
        spans = {m.span(1) for m in _bare_mention(name).finditer(source)}
        for at, end in self._import_lines:
            spans.update(m.span(1) for m in mention.finditer(source, at, end) if m.group(2))
        return sorted(spans)

    @cached_property
    def _import_lines(self) -> list[tuple[int, int]]:
        """For each ``import`` word of the text, where it ends and where its logical line
        ends (lines ending in a backslash joined)."""
        source = self.source
        return [(m.end(), _logical_line_end(source, m.end())) for m in _IMPORT.finditer(source)]

    @cached_property
    def source(self) -> bytes:
        return self.analysis.source

    @cached_property
    def _whole_root(self) -> Node:
        return parse(self.source).root_node

    @cached_property
    def _renamed_words(self) -> list[str]:
        """The words of the file (runs of identifier characters and non-ASCII ones) that
        Python's NFKC normalization of identifiers changes, as it reads them (none in an ASCII
        file). CPython's tokenizer reads such a run as one identifier and normalizes it alone."""
        source = self.source
        if source.isascii():
            return []
        found = []
        end = 0
        for m in _NON_ASCII.finditer(source):
            if m.start() < end:
                continue  # in the word just read
            start = m.start()
            while start and _WORD_BYTE[source[start - 1]]:
                start -= 1
            end = _WORD.match(source, start).end()
            word = source[start:end].decode("utf-8", "replace")
            normal = unicodedata.normalize("NFKC", word)
            if normal != word:
                found += (word, normal)
        return found

    def _normalization_may_spell(self, name: str) -> bool:
        """Whether a word that NFKC normalization changes may hold ``name``, before or after
        (``ｎｐ``, ``npᴬ``): where it does, the text does not show every place Python reads
        ``name``. (Asked of the whole file at once, four of the bench corpus's files went to
        the scopes for a ``²`` or an ellipsis in a docstring.)"""
        return any(name in word for word in self._renamed_words)

    def require_free(self, name: str, target: str, uses: Iterable[int]) -> None:
        reason = self.conflict(name, {target}, uses)
        if reason is not None:
            raise NoFix(f"{reason}, so the fix cannot use that name for `{target}`")


_IMPORT = re.compile(rb"import(?<![\w.]import)\b")  # (literal first, see _literal_word)
# a word as CPython's tokenizer reads an identifier: ASCII letters, digits and underscores, and
# every byte >= 0x80
_WORD = re.compile(rb"[\w\x80-\xff]+")
_WORD_BYTE = [bool(_WORD.fullmatch(bytes([c]))) for c in range(256)]
_NON_ASCII = re.compile(rb"[\x80-\xff]+")


def _mention(name: str) -> re.Pattern[bytes]:
    """``name`` as :func:`recode.server.scopes.mentions` finds it (group 1), and the dot after
    it, if any (group 2)."""
    return re.compile(_literal_word(name) + rb"([ \t]*\.)?")


def _literal_word(name: str) -> bytes:
    """``name`` (group 1) where no identifier character or dot precedes it, and none follows:
    the literal first, and the byte before it checked by a lookbehind after it, so that ``re``
    scans for the literal (a pattern that opens with a lookbehind is tried at every byte:
    18 times slower on the bench corpus)."""
    word = re.escape(name.encode())
    return rb"(" + word + rb")(?<![\w.]" + word + rb")\b"


def _bare_mention(name: str) -> re.Pattern[bytes]:
    """The mentions of :func:`_mention` not followed by a dot."""
    return re.compile(_literal_word(name) + rb"(?![ \t]*\.)")


def _bound_in(spans: list[tuple[int, int]], root: Node, targets: Collection[str]) -> bool | None:
    """:meth:`FileFacts._bound_by_imports_of` read from the tree under ``root``, for the
    mentions at ``spans`` (:meth:`FileFacts._binding_candidates`): True, each is a text, a
    use, or an import of one of ``targets``; False, one is something else; None, one is
    missing from the tree (or is no identifier of its own there)."""
    for start, end in spans:
        node = root.descendant_for_byte_range(start, end)
        if node is not None and node.type in _TEXT:
            continue  # inside a comment, or a string's text
        if node is None or node.type != "identifier" or node.byte_range != (start, end):
            return None  # not in the tree: unsure
        if _read(node) or _binds_nothing(node):
            continue
        if _import_target(node) not in targets:
            return False
    return True


def _whole(tree: Tree) -> bool:
    """Whether ``tree`` is a parse of the whole text (not of some ranges of it)."""
    ranges = tree.included_ranges
    return len(ranges) == 1 and ranges[0].start_byte == 0 and ranges[0].end_byte >= _ALL


_ALL = 0xFFFFFFFF  # tree-sitter's end of the text, for a tree of all of it


def _logical_line_end(source: bytes, at: int) -> int:
    """Where the line holding byte ``at`` ends (its line break, or the end of the text),
    lines ending in a backslash joined."""
    while True:
        newline = source.find(b"\n", at)
        if newline < 0:
            return len(source)
        end = newline
        if end and source[end - 1] == 0x0D:  # \r\n
            end -= 1
        if not end or source[end - 1] != 0x5C:  # no backslash before it
            return newline
        at = newline + 1


def _import_target(node: Node) -> str | None:
    """For an identifier an import statement binds, the dotted path it binds, as
    :class:`recode.server.scopes.Scopes` records it (None: a relative import); ``""`` where it
    is no such identifier."""
    parent = node.parent
    if parent is None:
        return ""
    if parent.type == "aliased_import":  # import a.b as NAME, from m import a as NAME
        stmt = parent.parent
        if stmt is None or not _same(parent.child_by_field_name("alias"), node):
            return ""
        imported = text(parent.child_by_field_name("name"))
        return imported if stmt.type == "import_statement" else _from_target(stmt, imported)
    stmt = parent.parent if parent.type == "dotted_name" else None
    if stmt is None:
        return ""
    if stmt.type == "import_statement" and _same(parent.named_children[0], node):
        return text(node)  # import NAME[.sub] binds NAME
    if stmt.type == "import_from_statement" and parent.named_child_count == 1:
        if not _same(stmt.child_by_field_name("module_name"), parent):
            return _from_target(stmt, text(node))  # from m import NAME
    return ""


def _binds_nothing(node: Node) -> bool:
    """Whether the identifier is part of an import that does not bind it: the module of a
    ``from`` import (``from NAME[.sub] import x``), a name given an alias (``import NAME as
    x``)."""
    parent = node.parent
    stmt = parent.parent if parent is not None and parent.type == "dotted_name" else None
    if stmt is None:
        return False
    if stmt.type == "import_from_statement":
        return _same(stmt.child_by_field_name("module_name"), parent)
    return (
        stmt.type == "aliased_import"
        and _same(stmt.child_by_field_name("name"), parent)
        and stmt.parent is not None
        and stmt.parent.type in _IMPORTS
    )


def _read(node: Node) -> bool:
    """Whether the identifier is read where it stands, a use that binds nothing: an argument
    of a call (``f(np)``, ``f(k=np)``), or the function called (``genfromtxt(f)``)."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "argument_list":
        return True
    if parent.type == "call":
        return _same(parent.child_by_field_name("function"), node)
    if parent.type == "keyword_argument":
        return _same(parent.child_by_field_name("value"), node)
    return False


def _from_target(stmt: Node, imported: str) -> str | None:
    module = stmt.child_by_field_name("module_name")
    if module is None or module.type != "dotted_name":
        return None  # relative
    return f"{text(module)}.{imported}"


def _same(a: Node | None, b: Node) -> bool:
    return a is not None and a.id == b.id


_IMPORTS = ("import_statement", "import_from_statement")
_TEXT = ("comment", "string_content")


def _module_level_names(analysis: Analysis) -> list[tuple[str, str]]:
    """(local name, dotted path) for each name a top-level import binds, tracked or not."""
    names: list[tuple[str, str]] = []
    for stmt in analysis.tree.root_node.named_children:
        if stmt.type == "import_statement":
            for item in stmt.children_by_field_name("name"):
                if item.type == "aliased_import":
                    alias = text(item.child_by_field_name("alias"))
                    names.append((alias, text(item.child_by_field_name("name"))))
                else:
                    top = text(item).split(".")[0]
                    names.append((top, top))
        elif stmt.type == "import_from_statement":
            module = text(stmt.child_by_field_name("module_name"))
            if module.startswith("."):
                continue
            for item in stmt.children_by_field_name("name"):
                if item.type == "aliased_import":
                    local = text(item.child_by_field_name("alias"))
                    imported = text(item.child_by_field_name("name"))
                else:
                    local = imported = text(item)
                names.append((local, f"{module}.{imported}"))
    # a name a module of the project re-exports, bound to the library's by a test run's
    # evidence (the detector's binding names the library's path, not the module's)
    top = analysis.tree.root_node
    names += [
        (b.name, b.target)
        for b in analysis.bindings
        if b.kind == "from"
        and b.stmt is not None
        and _same(b.stmt.parent, top)
        and not b.target.startswith(text(b.stmt.child_by_field_name("module_name")) + ".")
    ]
    return names
