"""An import that the fixes leave unused goes with them: ``from scipy import misc``, where every
use (``misc.face()``, ``misc.ascent()``) is rewritten to ``scipy.datasets...``.

A fix of one use cannot drop the import alone: another use, fixed by another record's fix (or
not at all), may still need it. So once every finding of a file has its edits, the findings
whose edits rewrite the name away are joined: each gets the edits of all of them and the import
item's removal, one edit set made together (as a from-import's findings share one), where

- the import is a from-import (``import numpy as np`` stays: see :func:`_import_item`);
- every mention of the bound name, and of the path it binds (``scipy.misc``, loaded by the
  import), in the file outside its import statement (read from the text, strings and comments
  too, which only makes this stricter: ``__all__ = ["misc"]`` keeps it) is inside an edit whose
  new text does not write it;
- those findings' fixes are all safe, or all unsafe (one set is made, or not, as a whole);
- no edit touches the import statement already, and the joined edits do not overlap;
- the statement has its line to itself (no comment after it, no `;`), or only the item goes.

Otherwise each finding keeps its own edits, and the import stays.
"""

from __future__ import annotations

import bisect
import itertools
import re
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.server.fixes.comments import keep_comments
from recode.server.fixes.edits import Edit, overlaps
from recode.server.fixes.imports import remove_import_item
from recode.server.fixes.site import NoFix

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Binding, Finding


def drop_emptied_imports(findings: list[Finding], analysis: Analysis) -> None:
    """Join, for each import whose name every finding's edits rewrite away, those findings'
    edits with the import item's removal (see the module's docstring)."""
    fixed = [f for f in findings if f.edits]
    if not fixed:
        return
    # each use of a from-imported name, by where it starts: found for each edit by bisection
    # (a file's every binding against its every edit was quadratic)
    uses = sorted(
        (r.start_byte, i)
        for i, b in enumerate(analysis.bindings)
        if b.references and _import_item(b) is not None
        for r in b.references
    )
    if not uses:
        return
    starts = [start for start, _ in uses]
    groups: dict[int, dict[int, Finding]] = {}
    for f in fixed:
        for e in f.edits:
            for k in range(bisect.bisect_left(starts, e.start), len(uses)):
                if starts[k] >= e.end:
                    break
                groups.setdefault(uses[k][1], {})[id(f)] = f  # a candidate: checked below
    for i, group in groups.items():
        binding = analysis.bindings[i]
        members = [f for f in group.values() if _rewrites_away(f, binding)]
        if members:
            _join(members, binding, _import_item(binding), analysis)


_WORD_OR_DOT = re.compile(rb"[\w.]")


def _rewrites_away(f: Finding, binding: Binding) -> bool:
    """Whether one of the finding's edits replaces a use of the name with code without it."""
    return any(_covers(f.edits, r, binding.name) for r in binding.references)


def _import_item(binding: Binding) -> Node | None:
    """The item of the from-import statement that binds the name (``misc`` of ``from scipy
    import misc``, ``face as f``); None for other bindings. ``import numpy as np`` stays: an
    import of a whole package, idiomatic even where unused, may be there for what loading it
    does (registering a backend, loading a submodule another name reads)."""
    if binding.kind != "from" or binding.name_node is None or binding.stmt is None:
        return None
    name = binding.name_node
    return name.parent if name.parent.type == "aliased_import" else name


def _covers(edits: tuple[Edit, ...], mention: Node | tuple[int, int], name: str) -> bool:
    """Whether one of ``edits`` replaces the mention of ``name`` with text that does not write
    the name."""
    start, end = (mention.start_byte, mention.end_byte) if isinstance(mention, Node) else mention
    return any(
        e.start <= start and end <= e.end and e.start < e.end and not _mentions(e.text, name)
        for e in edits
    )


def _mentions(code: str, name: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(name) + r"(?!\w)", code) is not None


def _join(group: list[Finding], binding: Binding, item: Node, analysis: Analysis) -> None:
    stmt, source = binding.stmt, analysis.source
    if len({f.fix.safe for f in group}) != 1:
        return  # a safe fix must not carry an unsafe one's edits
    edits = {e for f in group for e in f.edits}
    if any(e.start < stmt.end_byte and stmt.start_byte < e.end for e in edits):
        return  # the import is rewritten already (a from-import's own fix)
    for written in (binding.name, binding.target):  # ``scipy.misc.x`` needs it loaded
        # the name first, what precedes it tested apart: a pattern that begins with a literal
        # is searched for fast, one that begins with a lookbehind is tried at every byte
        for m in re.finditer(re.escape(written.encode()) + rb"(?!\w)", source):
            if stmt.start_byte <= m.start() < stmt.end_byte or _WORD_OR_DOT.match(
                source, m.start() - 1 if m.start() else 0, m.start()
            ):
                continue
            if not any(_covers(f.edits, m.span(), written) for f in group):
                return  # a use no fix rewrites away keeps the import
    removal = remove_import_item(stmt, item, source)
    block = stmt.parent
    if removal.text == "pass" and not (block.type == "block" and block.named_child_count == 1):
        return  # the statement shares its line (a comment, a `;`): ``pass  # c`` is no better
    edits.add(removal)
    ordered = tuple(sorted(edits))
    if any(
        overlaps(a, b) and not a.start == a.end == b.start == b.end  # two imports added there
        for a, b in itertools.pairwise(ordered)
    ):
        return
    try:
        keep_comments(ordered, analysis)  # the comment after the import
    except NoFix:
        return
    for f in group:
        f.edits = ordered
