"""Mechanical fixes: the exact edits a knowledge-base record's ``fix`` makes at one finding.

A finding's edits are all-or-nothing. :func:`fix_source` applies every fixable finding of a file,
round after round (a fix may uncover another), and keeps only results that still parse.

A fix never binds a name of the user's: where the name it would introduce (a renamed import
item, an added ``import numpy``, the module a template spells) is bound by the file where it would
be used (:mod:`recode.server.scopes`), the fix is spelled through an import the file already has
(``np.prod``) or a free alias (``from numpy import prod as numpy_prod``), or not made, and the
finding says why.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import re
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.dataset.knowledge import PLACEHOLDER, Fix, Target, fill_rest, value_map
from recode.server.parsing import text
from recode.server.scopes import Scopes, mentions, star_import

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
    call: Node | None = None  # the call whose callee is the reference, or a subscript (s[0])
    keyword: Node | None = None  # the keyword_argument of a parameter finding
    argument: Node | None = None  # ... or the argument passed by position (a value record)
    import_stmt: Node | None = None  # an import statement that names the symbol
    import_name: Node | None = None  # ... and the dotted name in it


def edits_for(
    finding: Finding, analysis: Analysis, site: FixSite | None
) -> tuple[tuple[Edit, ...] | None, str | None]:
    """The edits that apply ``finding.record.fix`` here; or None where no exact rewrite exists,
    with the reason where the record has a fix that cannot be made here."""
    fix = finding.record.fix
    if fix is None or site is None:
        return None, None
    try:
        edits: tuple[Edit, ...] | None = None
        if fix.kind == "keyword_rename" and site.keyword is not None:
            edits = _keyword_rename(site.keyword, fix.to)
        elif fix.kind == "keyword_drop" and site.keyword is not None:
            edits = (_drop_item(site.keyword),)
        elif fix.kind == "value" and (site.keyword or site.argument) is not None:
            value = site.argument or site.keyword.child_by_field_name("value")
            edits = (_rewrite_literal(value, fix),)
        elif fix.kind == "rename":
            if site.import_stmt is not None:
                edits = _rename_import_site(finding, analysis, site)
            elif site.reference is not None:
                edits = _rename_reference(finding, analysis, site)
        elif (
            fix.kind == "template"
            and (site.call if fix.target is Target.CALL else site.reference) is not None
        ):
            edits = _template(finding, analysis, site)
        elif fix.kind == "template" and site.import_stmt is not None:
            edits = _template_import(finding, analysis, site)
        elif fix.kind == "template" and site.reference is not None:
            raise _NoFix(f"`{text(site.reference)}` is not called here; the fix rewrites calls")
        if edits is not None:
            _keep_comments(edits, analysis)
        return edits, None
    except _NoFix as no:
        return None, no.reason


def _keep_comments(edits: Iterable[Edit], analysis: Analysis) -> None:
    """:class:`_NoFix` where an edit would replace a comment its new text does not keep: a
    template rewrites a whole call, and a method chain written one call a line often holds
    comments between the calls; the user's comment must not vanish with the old code."""
    source = analysis.source
    for e in edits:
        if e.end <= e.start or source.find(b"#", e.start, e.end) == -1:
            continue  # an insertion, or no '#' at all: the common case costs one find
        node = analysis.tree.root_node.descendant_for_byte_range(e.start, e.end)
        stack = [node] if node is not None else []
        while stack:
            n = stack.pop()
            if n.end_byte <= e.start or n.start_byte >= e.end:
                continue
            if n.type == "comment" and e.start <= n.start_byte:
                text = source[n.start_byte : n.end_byte].decode("utf-8", "replace")
                if text not in e.text:
                    raise _NoFix(
                        f"the code it rewrites holds a comment ({text[:40]}), which the fix "
                        "would drop"
                    )
            stack.extend(n.children)


class _NoFix(Exception):
    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


class FileFacts:
    """What the fixes of one file read of the whole file, found once per analysis: its top-level
    imports, where a new import goes, the names it binds. (Read again for every fix, the whole
    file made ``--write`` quadratic in the fixes of a file.)"""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self._mentions: dict[str, bool] = {}
        self.renames: dict[tuple[int, str], tuple[Edit, ...] | _NoFix] = {}  # per from-import

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
        mentioned = self._mentions.get(name)
        if mentioned is None:
            mentioned = self._mentions[name] = mentions(self.analysis.source, name)
        if not mentioned and not self.stars:
            return None  # nothing can bind a name the file never spells
        if self.scopes is None:
            return f"the file does not parse, so it cannot be told whether `{name}` is free"
        return self.scopes.conflict(name, targets, uses)

    def require_free(self, name: str, target: str, uses: Iterable[int]) -> None:
        reason = self.conflict(name, {target}, uses)
        if reason is not None:
            raise _NoFix(f"{reason}, so the fix cannot use that name for `{target}`")


# -- keywords ------------------------------------------------------------------------------


def _keyword_rename(keyword: Node, to: str) -> tuple[Edit, ...]:
    args = keyword.parent
    name = keyword.child_by_field_name("name")
    for other in args.named_children:
        if other.type == "keyword_argument" and text(other.child_by_field_name("name")) == to:
            raise _NoFix(f"both `{text(name)}` and `{to}` are passed")
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


def _rewrite_literal(value: Node, fix: Fix) -> Edit:
    """A value fix: the text between a plain string literal's quotes, its quotes and prefix
    kept (``freq="M"`` -> ``freq="ME"``, ``r'M'`` -> ``r'ME'``)."""
    parts = value.named_children
    if (
        value.type != "string"
        or len(parts) != 3  # start, content, end: no escapes or f-string fields
        or parts[1].type != "string_content"
        or any(c in text(parts[0]).lower() for c in "fb")
    ):
        raise _NoFix(f"the value `{text(value)}` is not a plain string literal")
    new = fix.literal(text(parts[1]))
    if new is None:
        raise _NoFix(f"the fix has no new spelling for `{text(value)}`")
    return Edit(parts[1].start_byte, parts[1].end_byte, new)


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
            analysis.facts.require_free(new_leaf, new, [ref.start_byte])
            return (Edit(ref.start_byte, ref.end_byte, new_leaf),)
        needs = _submodule_import(finding.record.fix.module, analysis, ref.start_byte)
        if (
            binding is not None
            and binding.kind in ("import", "from")
            and new.startswith(binding.target + ".")
        ):
            spelled = binding.name + new[len(binding.target) :]
            return (Edit(ref.start_byte, ref.end_byte, spelled), *needs)
        spelled, imports = _spell(new, analysis, ref.start_byte)
        return (Edit(ref.start_byte, ref.end_byte, spelled), *imports, *needs)
    # a bare name: the import that bound it must change with it
    if binding is None:
        raise _NoFix
    if binding.kind == "from":
        return _rename_from_binding(binding, new, analysis)
    if binding.kind == "star" and _split(new)[0] == _split(old)[0]:
        analysis.facts.require_free(_split(new)[1], new, [ref.start_byte])
        return (Edit(ref.start_byte, ref.end_byte, _split(new)[1]),)
    raise _NoFix


def _rename_import_site(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    stmt, name = site.import_stmt, site.import_name
    if name is None:
        raise _NoFix  # a removed parent module: a person must decide
    new = finding.record.fix.to
    module_name = stmt.child_by_field_name("module_name")
    if module_name is not None and module_name.id == name.id:
        # a module renamed (``from numpy.testing.utils import x``): the names it is asked for
        # come from the new module, which has them all (what makes the rename exact)
        if new.startswith("builtins."):
            raise _NoFix
        return (Edit(name.start_byte, name.end_byte, new),)
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
    """``from m import old [as a]`` -> the new name, and every use of the local name with it
    (the same edits for every finding of the import: made once)."""
    key = (binding.name_node.id, new)
    done = analysis.facts.renames.get(key)
    if done is None:
        try:
            done = _rename_from(binding, new, analysis)
        except _NoFix as no:
            done = no
        analysis.facts.renames[key] = done
    if isinstance(done, _NoFix):
        raise done
    return done


def _rename_from(binding: Binding, new: str, analysis: Analysis) -> tuple[Edit, ...]:
    stmt, name = binding.stmt, binding.name_node
    module = text(stmt.child_by_field_name("module_name"))
    new_module, new_leaf = _split(new)
    item = name.parent if name.parent.type == "aliased_import" else name
    uses = [r.start_byte for r in binding.references]
    facts = analysis.facts
    edits: list[Edit] = []
    if new_module == "builtins":
        reason = facts.conflict(new_leaf, {new, binding.target}, uses)
        if reason is not None:
            raise _NoFix(f"{reason}, so the fix cannot use that name for `{new}`")
        edits.append(_remove_import_item(stmt, item, analysis.source))
        local = new_leaf
    else:
        local = binding.alias or new_leaf
        alias = binding.alias
        if local != binding.name and facts.conflict(local, {new}, [*uses, stmt.start_byte]):
            # the new name is the user's: spell it through a module import the file has
            # (``np.prod``), else import it under a free alias
            qualified = next(
                (
                    n
                    for n, target in facts.module_names
                    if target == new_module and facts.conflict(n, {target}, uses) is None
                ),
                None,
            )
            if qualified is not None:
                local = f"{qualified}.{new_leaf}"
                refs = (Edit(r.start_byte, r.end_byte, local) for r in binding.references)
                return (_remove_import_item(stmt, item, analysis.source), *refs)
            local = alias = _free_alias(new, analysis, [*uses, stmt.start_byte])
        if new_module == module:
            renamed = new_leaf if alias is None or binding.alias else f"{new_leaf} as {alias}"
            edits.append(Edit(name.start_byte, name.end_byte, renamed))
        else:
            clause = f"from {new_module} import {new_leaf}"
            if alias:
                clause += f" as {alias}"
            items = stmt.children_by_field_name("name")
            if len(items) == 1:
                edits.append(Edit(stmt.start_byte, stmt.end_byte, clause))
            else:
                edits.append(_drop_item(item))
                indent = analysis.source[
                    _line_start(analysis.source, stmt.start_byte) : stmt.start_byte
                ]
                edits.append(Edit(stmt.end_byte, stmt.end_byte, "\n" + indent.decode() + clause))
    if local != binding.name:
        edits.extend(Edit(r.start_byte, r.end_byte, local) for r in binding.references)
    return tuple(edits)


def _free_alias(path: str, analysis: Analysis, uses: Sequence[int]) -> str:
    """A name for ``path`` that nothing in the file binds where it is used: ``numpy_prod``."""
    top, leaf = path.split(".")[0], _split(path)[1]
    reason = None
    for n in range(1, 10):
        alias = f"{top}_{leaf}" if n == 1 else f"{top}_{leaf}_{n}"
        reason = analysis.facts.conflict(alias, {path}, uses)
        if reason is None:
            return alias
    raise _NoFix(f"{reason}; no free name for `{path}` was found")


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


def _spell(
    path: str, analysis: Analysis, use: int, from_module: str | None = None
) -> tuple[str, tuple[Edit, ...]]:
    """How to write ``path`` at byte ``use``, and the import to add if none reaches it.

    With ``from_module`` (the module the replaced name was imported from, ``from
    sklearn.metrics import mean_squared_error``), a name of that module is imported the same
    way (``from sklearn.metrics import root_mean_squared_error``) where the name is free."""
    facts = analysis.facts
    for name, target in facts.module_names:  # the longest path first
        if (path == target or path.startswith(target + ".")) and facts.conflict(
            name, {target}, [use]
        ) is None:
            return name + path[len(target) :], ()
    owner, leaf = _split(path)
    if (
        from_module is not None
        and owner == from_module
        and facts.conflict(leaf, {path}, [use]) is None
    ):
        return leaf, (import_edit(analysis, f"from {owner} import {leaf}"),)
    top = path.split(".")[0]
    facts.require_free(top, top, [use])
    return path, (import_edit(analysis, f"import {top}"),)


def _submodule_import(module: str | None, analysis: Analysis, use: int) -> tuple[Edit, ...]:
    """``import module`` unless a top-level import already loads it (or a submodule of it)."""
    if not module:
        return ()
    for loaded in analysis.facts.loaded:
        if loaded == module or loaded.startswith(module + "."):
            return ()
    top = module.split(".")[0]
    analysis.facts.require_free(top, top, [use])
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
    at, prefix = analysis.facts.import_at
    return Edit(at, at, prefix + statement + "\n")


# -- templates -----------------------------------------------------------------------------
#
# A template (dataset/kb/README.md, "Fixes") is the new code with placeholders: the receiver
# ``{self}``, an argument's value ``{0}`` / ``{kw:name}`` (optionally through a value map), the
# arguments no other placeholder takes ``{rest}``, a module as the file spells it ``{mod:path}``.
# It replaces the call (``target: call``) or the reference alone (``target: reference``).

#: Where any expression fits without parentheses: a template rendering an operator expression
#: (``-np.inf``) is parenthesised anywhere else (``np.NINF ** 2`` -> ``(-np.inf) ** 2``).
_LOOSE_PARENTS = frozenset(
    {
        "argument_list",
        "keyword_argument",
        "expression_statement",
        "assignment",
        "augmented_assignment",
        "return_statement",
        "parenthesized_expression",
        "list",
        "tuple",
        "set",
        "pair",
        "expression_list",
        "default_parameter",
        "typed_default_parameter",
    }
)
_PRIMARY = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Dict, ast.Set)


def _template(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    fix = finding.record.fix
    if fix.target is Target.REFERENCE:
        node = site.reference
        if node is None:
            raise _NoFix
        values: dict[str, Node] = {}
        positional: dict[str, bool] = {}
    else:
        node = site.call
        values, positional = _call_arguments(fix, node)
    used: set[str] = set()
    extra: list[Edit] = []
    rest_at: list[int] = []
    from_module = _imported_from(
        node if fix.target is Target.REFERENCE else node.child_by_field_name("function"), analysis
    )  # None for a subscript

    def fill(m: re.Match[str]) -> str:
        token = m.group("token")
        if token == "self":
            if node.type == "subscript":  # ``s[0]``: s.__getitem__(0)
                return text(node.child_by_field_name("value"))
            func = node if fix.target is Target.REFERENCE else node.child_by_field_name("function")
            if func.type != "attribute":
                raise _NoFix
            if site.binding is not None and site.binding.kind in ("import", "from", "star"):
                # reached through an import, the object is the class (``np.ndarray.ptp``), not
                # an instance: the unbound method takes the instance as its first argument
                raise _NoFix(
                    f"`{text(func)}` is the method reached through its class, not through an "
                    "object: the rewrite needs the object"
                )
            return text(func.child_by_field_name("object"))
        if token == "rest":
            rest_at.append(m.start())
            return "\0"  # filled in once every other placeholder has taken its argument
        if token.startswith("mod:"):
            spelled, imports = _spell(token[4:], analysis, node.start_byte, from_module)
            extra.extend(imports)
            return spelled
        name = token[3:] if token.startswith("kw:") else fix.args[int(token)]
        if name not in values:
            raise _NoFix(f"the call does not pass `{name}`")
        used.add(name)
        value = text(values[name])
        if m.group("map") is not None:
            return _mapped(name, values[name], m.group("map"))
        if fix.template[m.end() : m.end() + 1] in (".", "[", "(") and not _is_primary(value):
            return f"({value})"  # {0}.item() of `a + b`
        return value

    rendered = PLACEHOLDER.sub(fill, fix.template)
    if rest_at:
        rendered = _fill_rest(rendered, values, positional, used)
    elif used != set(values):
        dropped = ", ".join(f"`{k}`" for k in sorted(set(values) - used))
        raise _NoFix(f"the replacement would drop the argument {dropped}")
    try:
        with _PARSE_LOCK:  # see python_tree
            tree = ast.parse("(" + rendered + ")", mode="eval")
    except SyntaxError:
        raise _NoFix("the rewrite would pass an argument twice") from None
    if not isinstance(tree.body, _PRIMARY) and (
        node.parent is None or node.parent.type not in _LOOSE_PARENTS
    ):
        rendered = f"({rendered})"
    return (Edit(node.start_byte, node.end_byte, rendered), *extra)


def _template_import(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    """``from m import old``, where a template rewrites ``old``: every use of the name through
    the template, and the import item dropped (the new code imports what it needs), all at once,
    so that no use is left without its import. A use the template cannot rewrite (``old``
    passed as a function where the template rewrites calls) keeps the import, with the reason."""
    stmt, name = site.import_stmt, site.import_name
    if stmt.type != "import_from_statement" or name is None:
        raise _NoFix
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
    quoted = rb"""['"]""" + re.escape(binding.name.encode()) + rb"""['"]"""
    if b"__all__" in analysis.source and re.search(quoted, analysis.source):
        raise _NoFix(
            f"`{binding.name}` is named in a string (`__all__`?): other modules may import it "
            "from here, so its import stays"
        )
    call_target = finding.record.fix.target is Target.CALL
    edits: set[Edit] = set()
    for ref in binding.references:
        call = ref.parent
        if call_target and (
            call is None
            or call.type != "call"
            or call.child_by_field_name("function") is None
            or call.child_by_field_name("function").id != ref.id
        ):
            raise _NoFix(
                f"`{binding.name}` is used other than in a call (line {ref.start_point[0] + 1}), "
                "which the fix cannot rewrite, so its import stays"
            )
        use = FixSite(reference=ref, binding=binding, name=ref, call=call if call_target else None)
        edits.update(_template(finding, analysis, use))
    item = name.parent if name.parent.type == "aliased_import" else name
    edits.add(_remove_import_item(stmt, item, analysis.source))
    ordered = sorted(edits)
    if any(_overlaps(a, b) for a, b in itertools.pairwise(ordered)):
        raise _NoFix("one use of the name holds another; the fix rewrites them one at a time")
    return tuple(ordered)


def _is_primary(code: str) -> bool:
    """Whether an expression binds as tightly as an attribute's object (``a.b``, ``f(x)``)."""
    try:
        with _PARSE_LOCK:
            return isinstance(ast.parse(f"({code})", mode="eval").body, _PRIMARY)
    except SyntaxError:
        return False


def _imported_from(name: Node | None, analysis: Analysis) -> str | None:
    """The module a name was imported from (``from sklearn.metrics import x``), if it was."""
    if name is None or name.type != "identifier":
        return None
    for b in analysis.bindings:
        if b.kind == "from" and b.name == text(name) and any(r.id == name.id for r in b.references):
            return _split(b.target)[0]
    return None


def _call_arguments(fix: Fix, call: Node) -> tuple[dict[str, Node], dict[str, bool]]:
    """The call's arguments by parameter name, and whether each was passed by position; a
    subscript's key is its one positional argument (``s[0]`` is ``s.__getitem__(0)``)."""
    if call.type == "subscript":
        given = call.children_by_field_name("subscript")
    else:
        args = call.child_by_field_name("arguments")
        if args is None or args.type != "argument_list":
            raise _NoFix
        given = args.named_children
    values: dict[str, Node] = {}
    positional: dict[str, bool] = {}
    position = 0
    for arg in given:
        if arg.type == "comment":
            continue
        if arg.type in ("list_splat", "dictionary_splat", "parenthesized_list_splat"):
            raise _NoFix("the call unpacks its arguments (`*` or `**`)")
        if arg.type == "keyword_argument":
            key = text(arg.child_by_field_name("name"))
            value = arg.child_by_field_name("value")
        else:
            if position >= fix.positional:
                raise _NoFix("the call passes more arguments by position than the rewrite takes")
            key, value = fix.args[position], arg
            position += 1
        if key not in fix.args or key in values:
            raise _NoFix(f"the replacement has no place for the argument `{key}`")
        values[key] = value
        positional[key] = arg.type != "keyword_argument"
    return values, positional


def _mapped(name: str, value: Node, items: str) -> str:
    """A value through a template's value map: a key matches the value as written, or the
    text of a plain string literal (``"ffill"`` and ``'ffill'`` both match ``ffill``)."""
    table = value_map(items)
    written = text(value)
    if written in table:
        return table[written]
    if value.type == "string" and len(value.named_children) == 3:  # start, content, end only
        start, content, _ = value.named_children
        if text(start) in ('"', "'") and content.type == "string_content":
            literal = text(content)
            if literal in table:
                return table[literal]
    raise _NoFix(f"the rewrite has no mapping for `{name}={written}`")


def _fill_rest(
    rendered: str, values: dict[str, Node], positional: dict[str, bool], used: set[str]
) -> str:
    """Put the arguments no placeholder took where ``{rest}`` was, in the call's order: a
    positional one stays positional while no argument before it was taken, else it is passed
    by name. With nothing left, the ``, `` beside the placeholder goes too."""
    parts: list[str] = []
    taken_before = False
    for name, value in values.items():  # the call's order
        if name in used:
            taken_before = True
        elif positional[name] and not taken_before:
            parts.append(text(value))
        else:
            parts.append(f"{name}={text(value)}")
    return fill_rest(rendered, "\0", parts)


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


class _Chosen:
    """The edits chosen in one round, ordered by start, so that whether a new edit overlaps one
    of them is found among its neighbours (a test against each of them made ``--write``
    quadratic in the fixes of a file)."""

    def __init__(self) -> None:
        self.edits: list[Edit] = []
        self._set: set[Edit] = set()

    def __contains__(self, e: Edit) -> bool:
        return e in self._set

    def clashes(self, e: Edit) -> bool:
        """Whether ``e`` overlaps a chosen edit (:func:`_overlaps`)."""
        i = bisect.bisect_left(self.edits, e.start, key=_START)
        for c in self.edits[i:]:  # starting inside or at the end of e
            if c.start > e.end:
                break
            if _overlaps(e, c):
                return True
        # starting before e: insertions there cannot clash, and the chosen ranges are disjoint,
        # so only the last of them can reach into e
        for c in reversed(self.edits[:i]):
            if c.start != c.end:
                return _overlaps(e, c)
        return False

    def add(self, e: Edit) -> None:
        if e not in self._set:
            self._set.add(e)
            bisect.insort(self.edits, e, key=_START)


_START = attrgetter("start")


def _overlaps(a: Edit, b: Edit) -> bool:
    if a == b:
        return False
    if a.start == a.end or b.start == b.end:  # insertions clash only strictly inside a range
        point, other = (a, b) if a.start == a.end else (b, a)
        return other.start < point.start < other.end or (point.start == other.start == other.end)
    return a.start < b.end and b.start < a.end


_PARSE_LOCK = threading.Lock()


def parses(source: bytes, *, as_file: bool = False) -> bool:
    """Whether Python accepts the source (see :func:`python_tree`)."""
    known = _VERDICTS.get((source, as_file))
    if known is None and as_file and _plain_utf8(source):
        known = _VERDICTS.get((source, False))  # the same parse: --write asks both ways
    return known if known is not None else python_tree(source, as_file=as_file) is not None


def _plain_utf8(source: bytes) -> bool:
    """Whether Python reads these file bytes as plain UTF-8 (no BOM, no coding declaration in
    the first two lines), so that parsing them as a file is parsing them decoded as UTF-8."""
    if source.startswith(b"\xef\xbb\xbf"):
        return False
    first = source.find(b"\n")
    second = source.find(b"\n", first + 1) if first != -1 else -1
    end = len(source) if second == -1 else second
    return source.find(b"coding", 0, end) == -1


def python_tree(source: bytes, *, as_file: bool = False) -> ast.Module | None:
    """Python's own parse of the source, None where it does not parse.

    ``source`` is UTF-8 whatever a coding declaration in it says: the detector's view of a file
    (:attr:`recode.server.files.SourceFile.utf8`) or a language-server document, whose
    ``# coding: cp1252`` would otherwise turn its UTF-8 into other characters (or undecodable
    bytes). With ``as_file`` it is a file's own bytes, decoded as the interpreter decodes a file
    (its BOM or coding declaration): the check of what ``--write`` writes.

    CPython 3.11's parser is not safe to run in several threads at once (the language server
    analyses in worker threads), so calls take turns. The verdicts of the last few parses are
    kept: ``--write`` asks about the file it read twice (for the names it binds, and whether it
    parses); the trees are not (kept alive, they made every garbage collection slower).
    """
    with _PARSE_LOCK:
        try:
            # bytes with a BOM are parsed as bytes: Python skips the BOM there (and a BOM
            # with another coding declaration is an error anyway), as tree-sitter's offsets do
            as_bytes = as_file or source.startswith(b"\xef\xbb\xbf")
            tree = ast.parse(source if as_bytes else source.decode("utf-8"))
        except (SyntaxError, ValueError):  # UnicodeDecodeError is a ValueError
            tree = None
        _VERDICTS[(source, as_file)] = tree is not None
        while len(_VERDICTS) > 4:
            del _VERDICTS[next(iter(_VERDICTS))]
    return tree


_VERDICTS: dict[tuple[bytes, bool], bool] = {}


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
    findings: list[Finding] | None = None,
    keep: Callable[[bytes, list[Finding]], list[Finding]] | None = None,
    unsafe: bool = False,
) -> FixResult:
    """Apply all mechanical fixes, round by round, keeping only code that still parses.
    Unsafe fixes (:class:`recode.dataset.knowledge.Applicability`) only with ``unsafe``.

    ``findings``: the first round's findings, where the caller has them already (after
    ``keep``). ``keep`` filters each round's findings (suppressed findings are neither fixed
    nor left). :attr:`FixResult.edits` are edits of ``source`` giving the fixed text.
    """
    result = FixResult(source)

    def detect(text: bytes) -> list[Finding]:
        found = detector.detect(text)
        return keep(text, found) if keep is not None else found

    for _ in range(max_rounds):
        if findings is None:
            findings = detect(result.source)
        chosen = _Chosen()
        applied: list[Finding] = []
        taken: set[int] = set()  # edit tuples already chosen (a from-import's findings share one)
        for f in findings:
            if not f.applies(unsafe):
                continue
            if id(f.edits) in taken:
                applied.append(f)
                continue
            new = [e for e in f.edits if e not in chosen]
            if any(chosen.clashes(e) for e in new):
                continue  # next round
            for e in new:
                chosen.add(e)
            taken.add(id(f.edits))
            applied.append(f)
        if not applied:
            result.remaining = findings
            return result
        candidate = apply_edits(result.source, chosen.edits)
        if not parses(candidate):
            result.error = (
                "these fixes would leave code that does not parse, so they were not applied"
            )
            result.remaining = findings
            return result
        result.edits = compose_edits(source, result.edits, chosen.edits)
        result.source = candidate
        result.fixed.extend(applied)
        findings = None
    result.remaining = detect(result.source)
    return result
