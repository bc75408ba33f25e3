"""Re-analyse only the function an edit touched (the fast path of diagnostics while typing).

The detector's findings inside a function depend on the function itself and on module-level
code (imports, module-level assignments whose class is evident, class bodies: the detector
gives names bound there module scope), never on another function: a name bound inside a
function is scoped to it. So after an edit confined to one function ``U`` (defined at module
level or in a class body, not inside another function or under an ``if``/``try``):

- the findings outside ``U`` are those of the previous analysis, moved by the edit;
- the findings inside ``U`` are those of the detector run on a *compact source*: the file's
  *skeleton* (every module-level statement and class header verbatim, every function left out)
  with ``U`` put back in its place. A 5,000-line module typically compacts to a few hundred
  lines. The skeleton is made once from a whole-file analysis and carried from edit to edit
  (an edit the fast path accepts leaves it unchanged but for the offsets).

An edit of a statement at module or class level (or a new one typed on lines of its own)
re-analyses the skeleton alone, and is kept only where the module-scope bindings stay the same.

The fast path only runs when it can tell that nothing else changed: the previous snapshot's
function at that place spans the same text, tree-sitter reports no structural change outside
``U``, no skeleton statement has a syntax error, every statement starts its own line, and ``U``
parses to the same tree in the compact source as in the document. Otherwise the caller analyses
the whole file. Its findings' fix edits are not to be used (a rename of a ``from`` import edits
every use in the file, which the compact source does not hold): code actions and hover use a
whole-file analysis, which also runs once typing pauses and replaces the fast result if they
differ (they should not; the tests compare them after random edits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from tree_sitter import Node, Tree

from recode.server.detector import Analysis, Detector, Finding, Position
from recode.server.lsp.documents import Snapshot
from recode.server.parsing import parse

_FUNCTION = "function_definition"
_CLASS = "class_definition"
_SPACE = frozenset(b" \t\r\n\f")

# A skeleton: segments in document order, each (key, start, end, placeholder). A verbatim
# segment copies source[start:end] (a statement from its line start, or a class header up to
# its body); a placeholder segment (start == end) writes ``placeholder`` ("    pass", the body
# of a class that held only functions). ``key`` orders segments and the re-inserted function.
Segment = tuple[int, int, int, bytes | None]
Skeleton = tuple[Segment, ...]
#: (name, target, kind, alias) of each module-scope binding, then (name, the module-level
#: statements that bind it, the project's included: they decide which binding a use sees)
Bindings = tuple[tuple[str, ...], ...]


def _inner(node: Node) -> Node:
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        if inner is not None:
            return inner
    return node


def _line_start(source: bytes, byte: int) -> int:
    return source.rfind(b"\n", 0, byte) + 1


def find_statement(root: Node, lo: int, hi: int) -> Node | None:
    """The statement holding bytes [lo, hi): a function defined at module level or in a class
    body (however nested in classes), or another statement at module or class-body level.

    None when the range is in a class header, spans statements, or is in no statement. An
    empty range at a statement's last byte counts as inside it.
    """
    if hi <= lo:
        lo, hi = max(0, lo - 1), lo  # the byte before the position
    node: Node | None = root.descendant_for_byte_range(lo, hi)
    chain: list[Node] = []
    while node is not None:
        chain.append(node)
        node = node.parent
    chain.reverse()  # module first
    container = root
    i = 1
    while i < len(chain):
        stmt = chain[i]
        if stmt.parent is None or stmt.parent.id != container.id or stmt.type == "comment":
            return None
        inner = _inner(stmt)
        if inner.type != _CLASS:
            return stmt
        body = inner.child_by_field_name("body")
        ids = [n.id for n in chain]
        if body is None or body.id not in ids:
            return None
        i = ids.index(body.id) + 1
        container = body
    return None


def find_unit(root: Node, lo: int, hi: int) -> Node | None:
    """The function (at module level or in a class body) holding bytes [lo, hi), or None."""
    stmt = find_statement(root, lo, hi)
    return stmt if stmt is not None and _inner(stmt).type == _FUNCTION else None


def is_function(stmt: Node) -> bool:
    return _inner(stmt).type == _FUNCTION


def build_skeleton(source: bytes, root: Node) -> Skeleton | None:
    """The skeleton of a parsed file, or None if a statement shares its line or has errors."""
    out: list[Segment] = []

    def own_line(node: Node) -> int | None:
        start = _line_start(source, node.start_byte)
        return None if source[start : node.start_byte].strip() else start

    def block(parent: Node) -> bool:
        statements = [c for c in parent.named_children if c.type != "comment"]
        for stmt in statements:
            start = own_line(stmt)
            if start is None:
                return False
            inner = _inner(stmt)
            if inner.type == _FUNCTION:
                continue
            if stmt.has_error and inner.type != _CLASS:
                return False
            if inner.type != _CLASS:
                out.append((start, start, stmt.end_byte, None))
                continue
            body = inner.child_by_field_name("body")
            first = [c for c in body.named_children if c.type != "comment"] if body else []
            if (
                body is None
                or not first
                or b"\n" not in source[inner.start_byte : first[0].start_byte]
            ):
                return False  # class A: x = 1 (body on the header line), or no body
            if any(c.has_error for c in inner.children if c.id != body.id):
                return False
            out.append((start, start, body.start_byte, None))  # the header
            first_line = _line_start(source, first[0].start_byte)
            indent = source[first_line : first[0].start_byte]
            out.append((first_line, first_line, first_line, indent + b"pass"))
            if not block(body):
                return False
        return True

    return tuple(out) if block(root) else None


def _shift_skeleton(
    skeleton: Skeleton, lo: int, hi_old: int, delta: int, edited: int | None = None
) -> Skeleton | None:
    """The skeleton after bytes [lo, hi_old) became ``delta`` longer (None: it was touched).

    ``edited``: the key of the statement segment that holds the edit (it grows by ``delta``).
    """
    out: list[Segment] = []
    for key, start, end, placeholder in skeleton:
        if key == edited and placeholder is None and start <= lo and hi_old <= end:
            out.append((key, start, end + delta, None))
            continue
        if start == end:  # a placeholder: a position
            before = end < lo
            after = start > hi_old or start == hi_old > lo
        else:
            before = end <= lo
            after = start >= hi_old
        if before:
            out.append((key, start, end, placeholder))
        elif after:
            out.append((key + delta, start + delta, end + delta, placeholder))
        else:
            return None
    return tuple(out)


def _compact(
    source: bytes, skeleton: Skeleton, unit: Node | None, want: int | None = None
) -> tuple[bytes, int] | None:
    """The skeleton with ``unit`` (a function) put back, or alone if ``unit`` is None.

    Returns the compact source and where the unit's first line starts in it (with no unit: where
    the segment of key ``want`` starts; 0 without ``want``).
    """
    unit_line = -1
    if unit is not None:
        unit_line = _line_start(source, unit.start_byte)
        if source[unit_line : unit.start_byte].strip():
            return None
    parts: list[bytes] = []
    size = 0
    offset = -1
    for key, start, end, placeholder in skeleton:
        if unit is not None and offset < 0 and key > unit_line:
            offset = size
            text = source[unit_line : unit.end_byte] + b"\n"
            parts.append(text)
            size += len(text)
        if unit is None and key == want and placeholder is None:
            offset = size
        text = (placeholder if placeholder is not None else source[start:end].rstrip()) + b"\n"
        parts.append(text)
        size += len(text)
    if unit is not None and offset < 0:
        offset = size
        parts.append(source[unit_line : unit.end_byte] + b"\n")
    if want is None and unit is None:
        offset = 0
    if offset < 0:
        return None
    return b"".join(parts), offset


def module_bindings(detector: Detector, text: bytes, tree: Tree | None = None) -> Bindings:
    """The module-scope names the detector binds in a (compact) source, comparable across edits.

    Without the byte prefilter: a skeleton that uses no import of its own is no file to skip
    here, its bindings are what the functions read."""
    return _bindings_of(detector.analyse(text, tree, prefilter=False)[1])


def _bindings_of(analysis: Analysis | None) -> Bindings:
    if analysis is None:
        return ()
    module = [b for b in analysis.bindings if b.scope[0] == 0]
    names = sorted({b.name for b in module if b.kind != "typed"})
    return tuple(sorted((b.name, b.target, b.kind, b.alias or "") for b in module)) + tuple(
        (name, *analysis.module_binders(name)) for name in names
    )


def _moved(finding: Finding, shift: int, snapshot: Snapshot) -> Finding:
    """A finding at a new byte offset, its positions recomputed, its edits dropped."""
    start, end = finding.start_byte + shift, finding.end_byte + shift
    a = snapshot.lines.position(snapshot.source, start, "utf-32")
    b = snapshot.lines.position(snapshot.source, end, "utf-32")
    return replace(
        finding,
        start_byte=start,
        end_byte=end,
        start=Position(a.line, a.character),
        end=Position(b.line, b.character),
        edits=() if finding.edits is not None else None,
    )


@dataclass(frozen=True)
class Reanalysis:
    """The new findings, as base findings kept (moved or not) around fresh ones.

    ``before`` and ``after``: (index into the base findings, byte shift, line shift); a line
    shift of None means the finding's line also changed in columns (recompute its positions).
    ``inside``: the findings of the re-analysed statement, at their new offsets, without edits.
    ``skeleton``: the file's skeleton in the new snapshot's offsets; ``bindings``: its
    module-scope bindings where known.
    """

    before: list[tuple[int, int, int | None]]
    inside: list[Finding]
    after: list[tuple[int, int, int | None]]
    skeleton: Skeleton
    bindings: Bindings | None


def shifted(finding: Finding, shift: int, lines: int | None, snapshot: Snapshot) -> Finding:
    """A kept finding at its new place (positions moved by whole lines where possible)."""
    if shift == 0 and lines == 0:
        return finding
    if lines is None:
        return _moved(finding, shift, snapshot)
    return replace(
        finding,
        start_byte=finding.start_byte + shift,
        end_byte=finding.end_byte + shift,
        start=Position(finding.start.line + lines, finding.start.character),
        end=Position(finding.end.line + lines, finding.end.character),
    )


def reanalyse(
    snapshot: Snapshot,
    base: Snapshot,
    base_spans: Sequence[tuple[int, int]],
    detector: Detector,
    skeleton: Skeleton | None = None,
    bindings: Bindings | None = None,
) -> Reanalysis | None:
    """The findings of ``snapshot`` from those of ``base``, or None to analyse the whole file.

    ``base_spans``: the byte ranges of the base snapshot's findings, in order.

    ``skeleton`` and ``bindings``: those of ``base`` where known (made here otherwise).
    An edit inside a function re-analyses that function on the skeleton. An edit of another
    statement at module or class level re-analyses the skeleton itself (which holds the
    statement) and is accepted only if the module-scope bindings the detector sees are the same
    as before: then no other statement's findings can have changed. So is a new statement
    (not a function or class) typed on lines of its own where there was only whitespace: it is
    added to the skeleton.
    """
    if (
        snapshot.edit is None
        or snapshot.tree is None
        or base.tree is None
        or snapshot.base_version != base.version
        or base.version is None
    ):
        return None
    lo, hi_old, hi_new = snapshot.edit
    delta = hi_new - hi_old
    if len(snapshot.source) - len(base.source) != delta:
        return None

    # what changed, without whitespace at its ends (a space typed after a function's last
    # statement lies outside the function's node but changes nothing else)
    top, bottom = _trim(
        snapshot.source,
        min([lo, *(a for a, _ in snapshot.changed)]),
        max([hi_new, *(b for _, b in snapshot.changed)]),
    )
    stmt = find_statement(snapshot.tree.root_node, top, bottom)
    before_span = (
        _same_statement(base, stmt, lo, hi_old, delta)
        if stmt is not None and stmt.start_byte <= lo
        else None
    )
    added = before_span is None
    if added:
        stmt = _added_statement(snapshot, base, lo, hi_old, hi_new)
        if stmt is None:
            return _removal(snapshot, base, base_spans, detector, skeleton, bindings)
        before_span = (lo, hi_old)  # in the previous snapshot: only whitespace was there
    function = is_function(stmt)
    line = _line_start(snapshot.source, stmt.start_byte)
    if skeleton is None:
        skeleton = build_skeleton(base.source, base.tree.root_node)
        if skeleton is None:
            return None
    if function:
        new_skeleton = _shift_skeleton(skeleton, lo, hi_old, delta)
        made = _compact(snapshot.source, new_skeleton, stmt) if new_skeleton else None
    else:
        if bindings is None:
            old = _compact(base.source, skeleton, None)
            if old is None:
                return None
            bindings = module_bindings(detector, old[0])
        new_skeleton = _shift_skeleton(skeleton, lo, hi_old, delta, edited=None if added else line)
        if new_skeleton is not None and added:
            segment = (line, line, stmt.end_byte, None)
            new_skeleton = tuple(sorted((*new_skeleton, segment), key=lambda seg: seg[0]))
        made = _compact(snapshot.source, new_skeleton, None, line) if new_skeleton else None
    if new_skeleton is None or made is None:
        return None
    text, offset = made
    tree = parse(text)
    shift = line - offset
    start_in_compact = stmt.start_byte - shift
    again: Node | None = tree.root_node.descendant_for_byte_range(
        start_in_compact, start_in_compact + (stmt.end_byte - stmt.start_byte)
    )
    while again is not None and again.start_byte == start_in_compact and again.type != stmt.type:
        again = again.parent
    if again is None or again.type != stmt.type or str(again) != str(stmt):
        return None  # the statement does not parse the same in the compact source
    if function:
        found = detector.detect(text, tree)
    else:
        found, analysis = detector.analyse(text, tree, prefilter=False)
        if _bindings_of(analysis) != bindings:
            return None  # the statement binds module names differently: analyse it all
    inside = [
        _moved(f, shift, snapshot)
        for f in found
        if start_in_compact <= f.start_byte and f.end_byte <= again.end_byte
    ]
    kept = _kept(snapshot, base, base_spans, before_span)
    if kept is None:
        return None
    return Reanalysis(kept[0], inside, kept[1], new_skeleton, bindings)


def _kept(
    snapshot: Snapshot,
    base: Snapshot,
    base_spans: Sequence[tuple[int, int]],
    span: tuple[int, int],
) -> tuple[list[tuple[int, int, int | None]], list[tuple[int, int, int | None]]] | None:
    """The base findings outside ``span`` (the re-analysed or removed statement, in ``base``),
    before and after it, each with its byte and line shift (see :class:`Reanalysis`)."""
    assert snapshot.edit is not None
    lo, hi_old, hi_new = snapshot.edit
    delta = hi_new - hi_old
    line_shift = len(snapshot.lines.starts) - len(base.lines.starts)
    kept_before: list[tuple[int, int, int | None]] = []
    kept_after: list[tuple[int, int, int | None]] = []
    for index, (f_start, f_end) in enumerate(base_spans):
        if not (f_end <= span[0] or f_start >= span[1]):
            continue  # inside the statement: replaced by the fresh findings
        side = kept_before if f_end <= span[0] else kept_after
        if f_end <= lo:
            side.append((index, 0, 0))  # before the edit: nothing about it changed
        elif f_start >= hi_old:
            # after the edit: moved by its length, and by whole lines if its line started
            # after the edit (else its columns changed too: recompute them)
            line_start = base.lines.starts[base.lines.line_of(f_start)]
            side.append((index, delta, line_shift if line_start >= hi_old else None))
        else:
            return None  # cannot happen: the edit outside the statement is whitespace
    return kept_before, kept_after


def _removal(
    snapshot: Snapshot,
    base: Snapshot,
    base_spans: Sequence[tuple[int, int]],
    detector: Detector,
    skeleton: Skeleton | None,
    bindings: Bindings | None,
) -> Reanalysis | None:
    """A module-level statement (not a function or class) deleted with its line, leaving only
    whitespace: the skeleton without it, accepted where the module's bindings stay the same;
    its findings go, the others stay. None where the edit is anything else."""
    assert snapshot.edit is not None and snapshot.tree is not None and base.tree is not None
    lo, hi_old, hi_new = snapshot.edit
    delta = hi_new - hi_old
    old_top, _ = _trim(base.source, lo, hi_old)
    top, bottom = _trim(snapshot.source, lo, hi_new)
    if top < bottom or old_top >= hi_old:
        return None  # something was typed, or nothing but whitespace was deleted
    gone = find_statement(base.tree.root_node, old_top, old_top + 1)
    if (
        gone is None
        or gone.start_byte != old_top
        or gone.end_byte > hi_old
        or gone.parent is None
        or gone.parent.type != "module"
        or is_function(gone)
        or _inner(gone).type == _CLASS
        or not _blank_or_comments(base.source[gone.end_byte : hi_old])
    ):
        return None
    # the statements tree-sitter read again are as they were
    for a, b in snapshot.changed:
        for node in snapshot.tree.root_node.named_children:
            if node.end_byte <= a or node.start_byte >= b:
                continue
            shift = 0 if node.end_byte <= lo else delta if node.start_byte >= hi_new else None
            if shift is None:
                return None
            if (
                not _unchanged(base, snapshot, node, shift)
                or snapshot.source[
                    _line_start(snapshot.source, node.start_byte) : node.start_byte
                ].strip()
            ):
                return None
    if skeleton is None:
        skeleton = build_skeleton(base.source, base.tree.root_node)
        if skeleton is None:
            return None
    segment = (gone.start_byte, gone.start_byte, gone.end_byte, None)
    if segment not in skeleton:
        return None
    rest = tuple(seg for seg in skeleton if seg != segment)
    if bindings is None:
        old_text = _compact(base.source, skeleton, None)
        if old_text is None:
            return None
        bindings = module_bindings(detector, old_text[0])
    new_skeleton = _shift_skeleton(rest, lo, hi_old, delta)
    made = _compact(snapshot.source, new_skeleton, None) if new_skeleton else None
    if new_skeleton is None or made is None:
        return None
    if module_bindings(detector, made[0]) != bindings:
        return None  # it bound module names the functions may read: analyse it all
    kept = _kept(snapshot, base, base_spans, (gone.start_byte, gone.end_byte))
    if kept is None:
        return None
    return Reanalysis(kept[0], [], kept[1], new_skeleton, bindings)


def _same_statement(
    base: Snapshot, stmt: Node, lo: int, hi_old: int, delta: int
) -> tuple[int, int] | None:
    """The span in ``base`` of the statement ``stmt`` was before the edit (bytes [lo, hi_old)
    of ``base`` became ``delta`` longer): the same kind, at the same start, ending where the
    edit moved its end; None if there is none or the edit reached outside it."""
    assert base.tree is not None

    def moved(p: int) -> int | None:
        return p if p <= lo else p + delta if p >= hi_old else None

    before = find_statement(base.tree.root_node, stmt.start_byte, stmt.start_byte + 1)
    if (
        before is None
        or before.start_byte != stmt.start_byte
        or moved(before.end_byte) != stmt.end_byte
        or is_function(before) != is_function(stmt)
    ):
        return None
    old_top, old_bottom = _trim(base.source, lo, hi_old)
    if old_top < old_bottom and not (
        before.start_byte <= old_top and old_bottom <= before.end_byte
    ):
        return None  # the replaced text reached outside the statement
    return before.start_byte, before.end_byte


def _added_statement(
    snapshot: Snapshot, base: Snapshot, lo: int, hi_old: int, hi_new: int
) -> Node | None:
    """The statement typed by the edit where there was only whitespace, on lines of its own at
    module or class level (not a function or class, no syntax error), or None.

    tree-sitter reports the statements next to such an edit as changed too (it read them
    again); each must be as it was, its text and its tree, for the new statement to be the
    only change.
    """
    assert snapshot.tree is not None and base.tree is not None
    old_top, old_bottom = _trim(base.source, lo, hi_old)
    top, bottom = _trim(snapshot.source, lo, hi_new)
    if old_top < old_bottom or top == bottom:
        return None
    stmt = find_statement(snapshot.tree.root_node, top, top + 1)
    if (
        stmt is None
        or not (lo <= stmt.start_byte and stmt.end_byte <= hi_new)
        # after it, the typed text holds only whitespace and comments
        or not _blank_or_comments(snapshot.source[stmt.end_byte : hi_new])
        or is_function(stmt)
        or _inner(stmt).type == _CLASS
        or stmt.has_error
        or snapshot.source[_line_start(snapshot.source, stmt.start_byte) : stmt.start_byte].strip()
        or not _ends_its_line(snapshot.source, stmt.end_byte)
        or stmt.parent is None
    ):
        return None
    block = stmt.parent
    delta = hi_new - hi_old
    for a, b in snapshot.changed:
        if a < block.start_byte or b > block.end_byte:
            return None  # the change reached outside the block
        for node in block.named_children:
            if node.end_byte <= a or node.start_byte >= b or node.id == stmt.id:
                continue
            if node.type == "comment" and lo <= node.start_byte and node.end_byte <= hi_new:
                continue  # typed with it
            if node.end_byte <= lo:
                shift = 0
            elif node.start_byte >= hi_new:
                shift = delta
            else:
                return None  # a statement around the typed text changed
            if not _unchanged(base, snapshot, node, shift):
                return None
    return stmt


def _unchanged(base: Snapshot, snapshot: Snapshot, node: Node, shift: int) -> bool:
    """Whether the statement ``node`` of the new tree, read again by tree-sitter, stands in
    the old tree ``shift`` bytes earlier with the same bytes and the same tree."""
    old = find_statement(base.tree.root_node, node.start_byte - shift, node.start_byte - shift + 1)
    return (
        old is not None
        and old.start_byte == node.start_byte - shift
        and old.end_byte == node.end_byte - shift
        and base.source[old.start_byte : old.end_byte]
        == snapshot.source[node.start_byte : node.end_byte]
        and str(old) == str(node)
    )


def _blank_or_comments(text: bytes) -> bool:
    """Whether ``text`` holds only whitespace and comments, line by line."""
    return not any(line.strip() and not line.strip().startswith(b"#") for line in text.split(b"\n"))


def _ends_its_line(source: bytes, end: int) -> bool:
    """Whether only whitespace or a comment follows ``end`` on its line (the next statement
    starts a line of its own)."""
    newline = source.find(b"\n", end)
    rest = source[end : newline if newline >= 0 else len(source)].strip()
    return not rest or rest.startswith(b"#")


def _trim(source: bytes, start: int, end: int) -> tuple[int, int]:
    """[start, end) without whitespace at its ends; (start, start) if it is all whitespace."""
    lo, hi = start, end
    while lo < hi and source[lo] in _SPACE:
        lo += 1
    while hi > lo and source[hi - 1] in _SPACE:
        hi -= 1
    return (lo, hi) if lo < hi else (start, start)
