"""``rename``: the name, the import it comes from and its uses (``to``, ``module``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.server.fixes.edits import Edit
from recode.server.fixes.imports import (
    drop_item,
    free_alias,
    from_binding,
    line_start,
    remove_import_item,
    spell,
    split_path,
    submodule_import,
)
from recode.server.fixes.site import FixSite, NoFix
from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Binding, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    if site.import_stmt is not None:
        return _rename_import_site(finding, analysis, site)
    if site.reference is not None:
        return _rename_reference(finding, analysis, site)
    return None


def _rename_reference(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    old, new = finding.record.path, finding.fix.to
    ref, binding = site.reference, site.binding
    if ref.type == "attribute":
        _check_kept(finding, ref)
        old_owner, _ = split_path(old)
        new_owner, new_leaf = split_path(new)
        attr = ref.child_by_field_name("attribute")
        if old_owner == new_owner and not finding.fix.module:
            return (Edit(attr.start_byte, attr.end_byte, new_leaf),)
        if new_owner == "builtins":
            analysis.facts.require_free(new_leaf, new, [ref.start_byte])
            return (Edit(ref.start_byte, ref.end_byte, new_leaf),)
        needs = submodule_import(finding.fix.module, analysis, ref.start_byte)
        if (
            binding is not None
            and binding.kind in ("import", "from")
            and new.startswith(binding.target + ".")
        ):
            spelled = binding.name + new[len(binding.target) :]
            return (Edit(ref.start_byte, ref.end_byte, spelled), *needs)
        spelled, imports, _ = spell(new, analysis, ref.start_byte)
        return (Edit(ref.start_byte, ref.end_byte, spelled), *imports, *needs)
    # a bare name: the import that bound it must change with it
    if binding is None:
        raise NoFix
    if binding.kind == "from":
        return _rename_from_binding(binding, new, analysis)
    if binding.kind == "star" and split_path(new)[0] == split_path(old)[0]:
        analysis.facts.require_free(split_path(new)[1], new, [ref.start_byte])
        return (Edit(ref.start_byte, ref.end_byte, split_path(new)[1]),)
    raise NoFix


def _rename_import_site(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    stmt, name = site.import_stmt, site.import_name
    if name is None:
        raise NoFix  # a removed parent module: a person must decide
    new = finding.fix.to
    module_name = stmt.child_by_field_name("module_name")
    if module_name is not None and module_name.id == name.id:
        # a module renamed (``from numpy.testing.utils import x``): the names it is asked for
        # come from the new module, which has them all, or those of ``fix.names`` (what makes
        # the rename exact); the rest of the line is kept
        if new.startswith("builtins."):
            raise NoFix
        kept = finding.record.fix.names
        if kept:
            items = [
                text(i.child_by_field_name("name") if i.type == "aliased_import" else i)
                for i in stmt.children_by_field_name("name")
            ]
            lost = [i for i in items if i not in kept] or (None if items else ["*"])
            if lost:
                raise NoFix(f"`{new}` has no `{lost[0]}`: only the module's public names moved")
        return (Edit(name.start_byte, name.end_byte, new),)
    if stmt.type == "import_from_statement":
        binding = from_binding(analysis, name)
        return _rename_from_binding(binding, new, analysis)
    # import a.b as c: only an aliased import can be renamed without touching its uses
    if (
        name.parent is not None
        and name.parent.type == "aliased_import"
        and not new.startswith("builtins.")
    ):
        _check_alias_uses(
            finding, analysis.source, text(name.parent.child_by_field_name("alias")), stmt
        )
        return (Edit(name.start_byte, name.end_byte, new),)
    if (
        name.type == "dotted_name"
        and name.parent.id == stmt.id
        and text(name) == finding.record.path
    ):
        return _rename_module_import(finding, stmt, name, analysis)
    raise NoFix


def _module_moves(
    analysis: Analysis, stmt: Node, new_module: str, new_leaf: str, binding: Binding
) -> bool:
    """Whether the record of the from-import's module moves every name it imports, this one
    among them, to ``new_module`` (its fix is then the same edit of the module's name)."""
    move = analysis.module_renames.get(text(stmt.child_by_field_name("module_name")))
    if move is None or move.to != new_module or new_leaf != split_path(binding.target)[1]:
        return False
    return not move.names or all(
        text(i.child_by_field_name("name") if i.type == "aliased_import" else i) in move.names
        for i in stmt.children_by_field_name("name")
    )


def _check_alias_uses(finding: Finding, source: bytes, alias: str, stmt: Node) -> None:
    """Where a renamed module keeps only some names, that every mention of ``alias`` in the
    file (outside its import) reads one of them (``f.median_filter``), or :class:`NoFix`. Read
    from the text: the tree's references are those of tracked names only, and a mention in a
    string or a comment only makes this stricter."""
    kept = finding.record.fix.names
    if not kept:
        return
    mention = rb"(?<![\w.])" + re.escape(alias.encode()) + rb"(?!\w)(?:\s*\.\s*([A-Za-z_]\w*))?"
    for m in re.finditer(mention, source):
        if stmt.start_byte <= m.start() < stmt.end_byte:
            continue
        if m.group(1) is None or m.group(1).decode() not in kept:
            line = source.count(b"\n", 0, m.start()) + 1
            raise NoFix(
                f"`{m.group(0).decode()}` (line {line}) is not among the names that moved to "
                f"`{finding.record.fix.to}`"
            )


def _check_kept(finding: Finding, module: Node) -> None:
    """Where a renamed module keeps only some names (``fix.names``), that the use of the module
    at ``module`` reads one of them (``m.gaussian_filter``), or :class:`NoFix`."""
    kept = finding.record.fix.names
    if not kept:
        return
    parent = module.parent
    if (
        parent is None
        or parent.type != "attribute"
        or parent.child_by_field_name("object").id != module.id
        or text(parent.child_by_field_name("attribute")) not in kept
    ):
        raise NoFix(
            f"`{text(parent if parent is not None and parent.type == 'attribute' else module)}`"
            f" (line {module.start_point[0] + 1}) is not among the names that moved to "
            f"`{finding.record.fix.to}`"
        )


def _rename_module_import(
    finding: Finding, stmt: Node, name: Node, analysis: Analysis
) -> tuple[Edit, ...]:
    """``import old.mod`` (no alias) -> ``import new.mod``, and every use of the module through
    the name it binds (``old.mod.f`` -> ``new.mod.f``), all at once. Exact while both start with
    the name the statement binds and no other use reads a package that only the old import
    loaded (``import jax.extend.ffi`` loads ``jax.extend`` too)."""
    old, new, source = text(name), finding.record.fix.to, analysis.source
    top = old.split(".")[0]
    if new.split(".")[0] != top:
        raise NoFix(f"`import {new}` would bind another name than `{top}`")
    new_parts = new.split(".")
    others = [m for m in analysis.facts.loaded if m != old]
    lost = {
        prefix
        for prefix in (".".join(old.split(".")[:i]) for i in range(2, old.count(".") + 2))
        if prefix != ".".join(new_parts[: prefix.count(".") + 1])
        and not any(m == prefix or m.startswith(prefix + ".") for m in others)
    }
    edits = [Edit(name.start_byte, name.end_byte, new)]
    refs = {
        r.id: r
        for b in analysis.bindings
        if b.kind == "import" and b.name == top and b.alias is None
        for r in b.references
    }
    for ref in refs.values():
        node, chain = ref, text(ref)
        while chain != old and node.parent is not None and node.parent.type == "attribute":
            if node.parent.child_by_field_name("object").id != node.id:
                break
            node = node.parent
            chain = f"{chain}.{text(node.child_by_field_name('attribute'))}"
        if chain == old:
            _check_kept(finding, node)
            edits.append(Edit(node.start_byte, node.end_byte, new))
    # What else the file writes of the old module or a package only it loaded (the references
    # above are those of tracked names only): any other mention keeps the import as it is.
    rewritten = {e.start for e in edits}
    for package in sorted(lost):
        for m in re.finditer(rb"(?<![\w.])" + re.escape(package.encode()) + rb"(?!\w)", source):
            if stmt.start_byte <= m.start() < stmt.end_byte or m.start() in rewritten:
                continue
            line = source.count(b"\n", 0, m.start()) + 1
            raise NoFix(
                f"`{package}` (line {line}) is loaded by `import {old}`, not by `import {new}`"
            )
    return tuple(edits)


def _rename_from_binding(binding: Binding, new: str, analysis: Analysis) -> tuple[Edit, ...]:
    """``from m import old [as a]`` -> the new name, and every use of the local name with it
    (the same edits for every finding of the import: made once)."""
    key = (binding.name_node.id, new)
    done = analysis.facts.renames.get(key)
    if done is None:
        try:
            done = _rename_from(binding, new, analysis)
        except NoFix as no:
            done = no
        analysis.facts.renames[key] = done
    if isinstance(done, NoFix):
        raise done
    return done


def _rename_from(binding: Binding, new: str, analysis: Analysis) -> tuple[Edit, ...]:
    stmt, name = binding.stmt, binding.name_node
    module = text(stmt.child_by_field_name("module_name"))
    new_module, new_leaf = split_path(new)
    item = name.parent if name.parent.type == "aliased_import" else name
    uses = [r.start_byte for r in binding.references]
    facts = analysis.facts
    edits: list[Edit] = []
    if new_module == "builtins":
        reason = facts.conflict(new_leaf, {new, binding.target}, uses)
        if reason is not None:
            raise NoFix(f"{reason}, so the fix cannot use that name for `{new}`")
        edits.append(remove_import_item(stmt, item, analysis.source))
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
                return (remove_import_item(stmt, item, analysis.source), *refs)
            local = alias = free_alias(new, analysis, [*uses, stmt.start_byte])
        renamed = new_leaf if alias is None or binding.alias else f"{new_leaf} as {alias}"
        items = stmt.children_by_field_name("name")
        if new_module == module:
            edits.append(Edit(name.start_byte, name.end_byte, renamed))
        elif len(items) == 1 or _module_moves(analysis, stmt, new_module, new_leaf, binding):
            # the statement's module is what moves: its name alone is rewritten, the rest of the
            # statement (other names, aliases, parentheses, comments) kept; where other names
            # share the statement, only when the module's record moves them all (the same edit)
            module_node = stmt.child_by_field_name("module_name")
            edits.append(Edit(module_node.start_byte, module_node.end_byte, new_module))
            if renamed != text(name):
                edits.append(Edit(name.start_byte, name.end_byte, renamed))
        else:
            clause = f"from {new_module} import {new_leaf}"
            if alias:
                clause += f" as {alias}"
            edits.append(drop_item(item))
            indent = analysis.source[line_start(analysis.source, stmt.start_byte) : stmt.start_byte]
            edits.append(Edit(stmt.end_byte, stmt.end_byte, "\n" + indent.decode() + clause))
    if local != binding.name:
        edits.extend(Edit(r.start_byte, r.end_byte, local) for r in binding.references)
    return tuple(edits)
