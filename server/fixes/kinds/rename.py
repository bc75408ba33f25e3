"""``rename``: the name, the import it comes from and its uses (``to``, ``module``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        spelled, imports = spell(new, analysis, ref.start_byte)
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
        # come from the new module, which has them all (what makes the rename exact)
        if new.startswith("builtins."):
            raise NoFix
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
        return (Edit(name.start_byte, name.end_byte, new),)
    raise NoFix


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
                edits.append(drop_item(item))
                indent = analysis.source[
                    line_start(analysis.source, stmt.start_byte) : stmt.start_byte
                ]
                edits.append(Edit(stmt.end_byte, stmt.end_byte, "\n" + indent.decode() + clause))
    if local != binding.name:
        edits.extend(Edit(r.start_byte, r.end_byte, local) for r in binding.references)
    return tuple(edits)
