"""Names a fix writes and the imports they need: how the file spells a path, an import to add,
a free alias; and the removal of an import item or a list item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from tree_sitter import Node

from recode.server.fixes.edits import Edit
from recode.server.fixes.site import NoFix

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Binding


def split_path(path: str) -> tuple[str, str]:
    owner, _, leaf = path.rpartition(".")
    return owner, leaf


class Spelling(NamedTuple):
    """How a fix writes a path, the import it adds for it, and the module that import loads."""

    text: str
    imports: tuple[Edit, ...] = ()
    loads: str | None = None  # ``sklearn.metrics`` for ``from sklearn.metrics import x``


def spell(
    path: str,
    analysis: Analysis,
    use: int,
    from_module: str | None = None,
    within: str | None = None,
) -> Spelling:
    """How to write ``path`` at byte ``use``, and the import to add if none reaches it.

    With ``from_module`` (the module the replaced name was imported from, ``from
    sklearn.metrics import mean_squared_error``), a name of that module is imported the same
    way (``from sklearn.metrics import root_mean_squared_error``) where the name is free.
    ``within``: the module the path lives in (``collections.abc`` of
    ``collections.abc.Hashable``), the one imported where no import reaches the path: importing
    its package need not load it. (Where the file imports the package, whether the package
    loads it is what a fix's ``module`` says.)"""
    facts = analysis.facts
    for name, target in facts.module_names:  # the longest path first
        if (path == target or path.startswith(target + ".")) and facts.conflict(
            name, {target}, [use]
        ) is None:
            return Spelling(name + path[len(target) :])
    owner, leaf = split_path(path)
    if (
        from_module is not None
        and owner == from_module
        and facts.conflict(leaf, {path}, [use]) is None
    ):
        return Spelling(leaf, (import_edit(analysis, f"from {owner} import {leaf}"),), owner)
    top = path.split(".")[0]
    facts.require_free(top, top, [use])
    module = top
    if within is not None and not any(
        m == within or m.startswith(within + ".") for m in facts.loaded
    ):
        module = within  # a top-level import loads it already: the package's name is enough
    return Spelling(path, (import_edit(analysis, f"import {module}"),), module)


def module_of(path: str) -> str:
    """The module a ``{mod:...}`` path lives in, read from its spelling: the parts before its
    last, up to the first that names a class (a capital: ``matplotlib.transforms.Affine2D``
    lives in ``matplotlib.transforms``); the package itself for ``numpy`` or ``numpy.inf``.
    (Which dotted name is a module the source alone cannot tell; importing the package to ask
    would run it inside the editor. A path that is a submodule itself, ``matplotlib.pyplot``,
    names it in the fix's ``module``.)"""
    parts = path.split(".")
    kept = [parts[0]]
    for part in parts[1:-1]:
        if part[:1].isupper():
            break
        kept.append(part)
    return ".".join(kept)


def submodule_import(module: str | None, analysis: Analysis, use: int) -> tuple[Edit, ...]:
    """``import module`` unless a top-level import already loads it (or a submodule of it)."""
    if not module:
        return ()
    for loaded in analysis.facts.loaded:
        if loaded == module or loaded.startswith(module + "."):
            return ()
    top = module.split(".")[0]
    analysis.facts.require_free(top, top, [use])
    return (import_edit(analysis, f"import {module}"),)


def import_edit(analysis: Analysis, statement: str) -> Edit:
    """Insert ``statement`` after the module's last top-level import (or its docstring)."""
    at, prefix = analysis.facts.import_at
    return Edit(at, at, prefix + statement + "\n")


def free_alias(path: str, analysis: Analysis, uses: Sequence[int]) -> str:
    """A name for ``path`` that nothing in the file binds where it is used: ``numpy_prod``."""
    top, leaf = path.split(".")[0], split_path(path)[1]
    reason = None
    for n in range(1, 10):
        alias = f"{top}_{leaf}" if n == 1 else f"{top}_{leaf}_{n}"
        reason = analysis.facts.conflict(alias, {path}, uses)
        if reason is None:
            return alias
    raise NoFix(f"{reason}; no free name for `{path}` was found")


def drop_item(item: Node) -> Edit:
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


def remove_import_item(stmt: Node, item: Node, source: bytes) -> Edit:
    if len(stmt.children_by_field_name("name")) > 1:
        return drop_item(item)
    start = line_start(source, stmt.start_byte)
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


def line_start(source: bytes, byte: int) -> int:
    return source.rfind(b"\n", 0, byte) + 1


def from_binding(analysis: Analysis, name: Node) -> Binding:
    """The binding ``from m import name`` makes (the item's name node), or :class:`NoFix`."""
    for b in analysis.bindings:
        if b.kind == "from" and b.name_node is not None and b.name_node.id == name.id:
            return b
    raise NoFix
