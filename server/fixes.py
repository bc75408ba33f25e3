"""Mechanical fixes: the exact edits a knowledge-base record's ``fix`` makes at one finding.

A finding's edits are all-or-nothing. :func:`fix_source` applies every fixable finding of a file,
round after round (a fix may uncover another), and keeps only results that still parse.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Binding, Detector, Finding


@dataclass(frozen=True, order=True)
class Edit:
    """Replace source bytes ``[start, end)`` with ``text``."""

    start: int
    end: int
    text: str


@dataclass
class FixSite:
    """Where a finding sits in the tree: what the fix needs to rewrite it."""

    reference: Node | None = None  # the name or attribute chain that resolves to the symbol
    binding: Binding | None = None  # the import the chain starts from (None for typed objects)
    name: Node | None = None  # the first identifier of the chain
    call: Node | None = None  # the call whose callee is the reference
    keyword: Node | None = None  # the keyword_argument of a parameter finding
    import_stmt: Node | None = None  # an import statement that names the symbol
    import_name: Node | None = None  # ... and the dotted name in it


def edits_for(
    finding: Finding, analysis: Analysis, site: FixSite | None
) -> tuple[Edit, ...] | None:
    """The edits that apply ``finding.record.fix`` here, or None where no exact rewrite exists."""
    fix = finding.record.fix
    if fix is None or site is None:
        return None
    try:
        if fix.kind == "keyword_rename" and site.keyword is not None:
            return _keyword_rename(site.keyword, fix.to)
        if fix.kind == "keyword_drop" and site.keyword is not None:
            return (_drop_item(site.keyword),)
        if fix.kind == "rename":
            if site.import_stmt is not None:
                return _rename_import_site(finding, analysis, site)
            if site.reference is not None:
                return _rename_reference(finding, analysis, site)
        if fix.kind == "template" and site.call is not None:
            return _template(finding, analysis, site)
    except _NoFix:
        return None
    return None


class _NoFix(Exception):
    pass


# -- keywords ------------------------------------------------------------------------------


def _keyword_rename(keyword: Node, to: str) -> tuple[Edit, ...]:
    args = keyword.parent
    for other in args.named_children:
        if other.type == "keyword_argument" and text(other.child_by_field_name("name")) == to:
            raise _NoFix  # both spellings passed: a person must choose
    name = keyword.child_by_field_name("name")
    return (Edit(name.start_byte, name.end_byte, to),)


def _drop_item(item: Node) -> Edit:
    """Remove one item of a comma-separated list with the separator that belongs to it."""
    parent = item.parent
    if parent.type in ("import_from_statement", "import_statement"):
        siblings = parent.children_by_field_name("name")
    else:
        siblings = [c for c in parent.named_children if c.type != "comment"]
    index = next(i for i, c in enumerate(siblings) if c.id == item.id)
    if index > 0:
        return Edit(siblings[index - 1].end_byte, item.end_byte, "")
    if len(siblings) > 1:
        return Edit(item.start_byte, siblings[1].start_byte, "")
    return Edit(item.start_byte, item.end_byte, "")


# -- renames -------------------------------------------------------------------------------


def _split(path: str) -> tuple[str, str]:
    owner, _, leaf = path.rpartition(".")
    return owner, leaf


def _rename_reference(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    old, new = finding.record.path, finding.record.fix.to
    ref, binding = site.reference, site.binding
    if ref.type == "attribute":
        old_owner, _ = _split(old)
        new_owner, new_leaf = _split(new)
        attr = ref.child_by_field_name("attribute")
        if old_owner == new_owner and not finding.record.fix.module:
            return (Edit(attr.start_byte, attr.end_byte, new_leaf),)
        if new_owner == "builtins":
            return (Edit(ref.start_byte, ref.end_byte, new_leaf),)
        needs = _submodule_import(finding.record.fix.module, analysis)
        if (
            binding is not None
            and binding.kind in ("import", "from")
            and new.startswith(binding.target + ".")
        ):
            spelled = binding.name + new[len(binding.target) :]
            return (Edit(ref.start_byte, ref.end_byte, spelled), *needs)
        spelled, imports = _spell(new, analysis)
        return (Edit(ref.start_byte, ref.end_byte, spelled), *imports, *needs)
    # a bare name: the import that bound it must change with it
    if binding is None:
        raise _NoFix
    if binding.kind == "from":
        return _rename_from_binding(binding, new, analysis)
    if binding.kind == "star" and _split(new)[0] == _split(old)[0]:
        return (Edit(ref.start_byte, ref.end_byte, _split(new)[1]),)
    raise _NoFix


def _rename_import_site(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    stmt, name = site.import_stmt, site.import_name
    if name is None:
        raise _NoFix  # a removed parent module: a person must decide
    new = finding.record.fix.to
    if stmt.type == "import_from_statement":
        binding = next(
            (
                b
                for b in analysis.bindings
                if b.kind == "from" and b.name_node is not None and b.name_node.id == name.id
            ),
            None,
        )
        if binding is None:
            raise _NoFix
        return _rename_from_binding(binding, new, analysis)
    # import a.b as c: only an aliased import can be renamed without touching its uses
    if (
        name.parent is not None
        and name.parent.type == "aliased_import"
        and not new.startswith("builtins.")
    ):
        return (Edit(name.start_byte, name.end_byte, new),)
    raise _NoFix


def _rename_from_binding(binding: Binding, new: str, analysis: Analysis) -> tuple[Edit, ...]:
    """``from m import old [as a]`` -> the new name, and every use of the local name with it."""
    stmt, name = binding.stmt, binding.name_node
    module = text(stmt.child_by_field_name("module_name"))
    new_module, new_leaf = _split(new)
    item = name.parent if name.parent.type == "aliased_import" else name
    edits: list[Edit] = []
    if new_module == "builtins":
        edits.append(_remove_import_item(stmt, item, analysis.source))
        local = new_leaf
    elif new_module == module:
        edits.append(Edit(name.start_byte, name.end_byte, new_leaf))
        local = binding.alias or new_leaf
    else:
        clause = f"from {new_module} import {new_leaf}"
        if binding.alias:
            clause += f" as {binding.alias}"
        items = stmt.children_by_field_name("name")
        if len(items) == 1:
            edits.append(Edit(stmt.start_byte, stmt.end_byte, clause))
        else:
            edits.append(_drop_item(item))
            indent = analysis.source[
                _line_start(analysis.source, stmt.start_byte) : stmt.start_byte
            ]
            edits.append(Edit(stmt.end_byte, stmt.end_byte, "\n" + indent.decode() + clause))
        local = binding.alias or new_leaf
    if local != binding.name:
        edits.extend(Edit(r.start_byte, r.end_byte, local) for r in binding.references)
    return tuple(edits)


def _remove_import_item(stmt: Node, item: Node, source: bytes) -> Edit:
    if len(stmt.children_by_field_name("name")) > 1:
        return _drop_item(item)
    start = _line_start(source, stmt.start_byte)
    end = source.find(b"\n", stmt.end_byte)
    end = len(source) if end < 0 else end + 1
    whole_line = (
        not source[start : stmt.start_byte].strip() and not source[stmt.end_byte : end].strip()
    )
    block = stmt.parent
    alone = block is not None and block.type == "block" and len(block.named_children) == 1
    if alone or not whole_line:
        return Edit(stmt.start_byte, stmt.end_byte, "pass")
    return Edit(start, end, "")


def _line_start(source: bytes, byte: int) -> int:
    return source.rfind(b"\n", 0, byte) + 1


def _spell(path: str, analysis: Analysis) -> tuple[str, tuple[Edit, ...]]:
    """How to write ``path`` in this file, and the import to add if none reaches it."""
    best: tuple[str, str] | None = None
    for name, target in _module_level_names(analysis):
        if path == target or path.startswith(target + "."):
            if best is None or len(target) > len(best[1]):
                best = (name, target)
    if best is not None:
        return best[0] + path[len(best[1]) :], ()
    top = path.split(".")[0]
    return path, (import_edit(analysis, f"import {top}"),)


def _submodule_import(module: str | None, analysis: Analysis) -> tuple[Edit, ...]:
    """``import module`` unless a top-level import already loads it (or a submodule of it)."""
    if not module:
        return ()
    for stmt in analysis.tree.root_node.named_children:
        if stmt.type == "import_statement":
            for item in stmt.children_by_field_name("name"):
                dotted = item.child_by_field_name("name") if item.type == "aliased_import" else item
                loaded = text(dotted)
                if loaded == module or loaded.startswith(module + "."):
                    return ()
        elif stmt.type == "import_from_statement":
            loaded = text(stmt.child_by_field_name("module_name"))
            if loaded == module or loaded.startswith(module + "."):
                return ()
    return (import_edit(analysis, f"import {module}"),)


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
    return names


def import_edit(analysis: Analysis, statement: str) -> Edit:
    """Insert ``statement`` after the module's last top-level import (or its docstring)."""
    root = analysis.tree.root_node
    anchor = None
    for child in root.named_children:
        if child.type in ("import_statement", "import_from_statement", "future_import_statement"):
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
        return Edit(0, 0, statement + "\n")
    end = analysis.source.find(b"\n", anchor.end_byte)
    end = len(analysis.source) if end < 0 else end + 1
    prefix = "" if analysis.source[:end].endswith(b"\n") else "\n"
    return Edit(end, end, prefix + statement + "\n")


# -- templates -----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(self|\d+|kw:[A-Za-z_]\w*|mod:[\w.]+)\}")


def _template(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    fix = finding.record.fix
    call = site.call
    args = call.child_by_field_name("arguments")
    if args is None or args.type != "argument_list":
        raise _NoFix
    values: dict[str, str] = {}
    position = 0
    for arg in args.named_children:
        if arg.type == "comment":
            continue
        if arg.type in ("list_splat", "dictionary_splat", "parenthesized_list_splat"):
            raise _NoFix
        if arg.type == "keyword_argument":
            key = text(arg.child_by_field_name("name"))
            value = text(arg.child_by_field_name("value"))
        else:
            if position >= len(fix.args):
                raise _NoFix
            key, value = fix.args[position], text(arg)
            position += 1
        if key not in fix.args or key in values:
            raise _NoFix
        values[key] = value
    used: set[str] = set()
    extra: list[Edit] = []

    def fill(m: re.Match[str]) -> str:
        token = m.group(1)
        if token == "self":
            func = call.child_by_field_name("function")
            if func.type != "attribute":
                raise _NoFix
            return text(func.child_by_field_name("object"))
        if token.startswith("mod:"):
            spelled, imports = _spell(token[4:], analysis)
            extra.extend(imports)
            return spelled
        name = token[3:] if token.startswith("kw:") else fix.args[int(token)]
        if name not in values:
            raise _NoFix
        used.add(name)
        return values[name]

    rendered = _PLACEHOLDER.sub(fill, fix.template)
    if used != set(values):
        raise _NoFix  # an argument the template would drop: its meaning would be lost
    return (Edit(call.start_byte, call.end_byte, rendered), *extra)


# -- applying ------------------------------------------------------------------------------


def apply_edits(source: bytes, edits: Iterable[Edit]) -> bytes:
    """Apply non-overlapping edits (identical duplicates are applied once)."""
    ordered = sorted(set(edits))
    out: list[bytes] = []
    pos = 0
    for e in ordered:
        if e.start < pos:
            raise ValueError(f"overlapping edits at byte {e.start}")
        out.append(source[pos : e.start])
        out.append(e.text.encode("utf-8"))
        pos = e.end
    out.append(source[pos:])
    return b"".join(out)


def compose_edits(source: bytes, first: Iterable[Edit], then: Iterable[Edit]) -> list[Edit]:
    """Edits of ``source`` that do what ``first`` (edits of ``source``) and then ``then`` (edits
    of the result) do: a file is written as its own bytes with only these spans replaced.

    Edits of the two sets that overlap or touch become one edit (its text built from
    ``source``), so the result is sorted and without overlaps. Linear in the edits.
    """
    earlier, later = sorted(set(first)), sorted(set(then))
    if not earlier or not later:  # the first round of fix_source, or a round that did nothing
        return earlier or later
    spans: list[tuple[int, int, int, Edit]] = []  # (start, end in the result of first, set, edit)
    shift = 0
    for e in earlier:
        size = len(e.text.encode("utf-8"))
        spans.append((e.start + shift, e.start + shift + size, 0, e))
        shift += size - (e.end - e.start)
    spans.extend((e.start, e.end, 1, e) for e in later)
    spans.sort(key=lambda s: (s[0], s[1], s[2]))
    out: list[Edit] = []
    shift = 0  # result-of-first minus source offsets, before the current group
    i = 0
    while i < len(spans):
        group = [spans[i]]
        end = spans[i][1]
        i += 1
        while i < len(spans) and spans[i][0] <= end:
            group.append(spans[i])
            end = max(end, spans[i][1])
            i += 1
        start = group[0][0]
        firsts = [e for _, _, kind, e in group if kind == 0]
        thens = [e for _, _, kind, e in group if kind == 1]
        grown = sum(len(e.text.encode("utf-8")) - (e.end - e.start) for e in firsts)
        src_start, src_end = start - shift, end - shift - grown
        if not thens:
            out.extend(firsts)
        else:
            middle = apply_edits(
                source[src_start:src_end],
                (Edit(e.start - src_start, e.end - src_start, e.text) for e in firsts),
            )
            middle = apply_edits(
                middle, (Edit(e.start - start, e.end - start, e.text) for e in thens)
            )
            out.append(Edit(src_start, src_end, middle.decode("utf-8")))
        shift += grown
    return out


def _overlaps(a: Edit, b: Edit) -> bool:
    if a == b:
        return False
    if a.start == a.end or b.start == b.end:  # insertions clash only strictly inside a range
        point, other = (a, b) if a.start == a.end else (b, a)
        return other.start < point.start < other.end or (point.start == other.start == other.end)
    return a.start < b.end and b.start < a.end


_PARSE_LOCK = threading.Lock()


def parses(source: bytes, *, as_file: bool = False) -> bool:
    """Whether Python accepts the source.

    ``source`` is UTF-8 whatever a coding declaration in it says: the detector's view of a file
    (:attr:`recode.server.files.SourceFile.utf8`) or a language-server document, whose
    ``# coding: cp1252`` would otherwise turn its UTF-8 into other characters (or undecodable
    bytes). With ``as_file`` it is a file's own bytes, decoded as the interpreter decodes a file
    (its BOM or coding declaration): the check of what ``--write`` writes.

    CPython 3.11's parser is not safe to run in several threads at once (the language server
    analyses in worker threads), so calls take turns.
    """
    try:
        code = source if as_file else source.decode("utf-8")
        with _PARSE_LOCK:
            ast.parse(code)
    except (SyntaxError, ValueError):  # UnicodeDecodeError is a ValueError
        return False
    return True


@dataclass
class FixResult:
    source: bytes
    edits: list[Edit] = field(default_factory=list)  # of the original source, giving ``source``
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    error: str | None = None


def fix_source(
    source: bytes,
    detector: Detector,
    *,
    max_rounds: int = 10,
    keep: Callable[[bytes, list[Finding]], list[Finding]] | None = None,
) -> FixResult:
    """Apply all mechanical fixes, round by round, keeping only code that still parses.

    ``keep`` filters each round's findings (suppressed findings are neither fixed nor left)."""
    result = FixResult(source)
    original = source

    def detect(source: bytes) -> list[Finding]:
        found = detector.detect(source)
        return keep(source, found) if keep is not None else found

    for _ in range(max_rounds):
        findings = detect(result.source)
        chosen: list[Edit] = []
        applied: list[Finding] = []
        for f in findings:
            if not f.fixable:
                continue
            new = [e for e in f.edits if e not in chosen]
            if any(_overlaps(e, c) for e in new for c in chosen):
                continue  # next round
            chosen.extend(new)
            applied.append(f)
        if not applied:
            result.remaining = findings
            return result
        candidate = apply_edits(result.source, chosen)
        if not parses(candidate):
            result.error = (
                "these fixes would leave code that does not parse, so they were not applied"
            )
            result.remaining = findings
            return result
        result.edits = compose_edits(original, result.edits, chosen)
        result.source = candidate
        result.fixed.extend(applied)
    result.remaining = detect(result.source)
    return result
