"""What the fixes of one file read of the whole file, found once per analysis."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from functools import cached_property
from typing import TYPE_CHECKING

from recode.server.fixes.edits import Edit
from recode.server.fixes.python_ast import python_tree
from recode.server.fixes.site import NoFix
from recode.server.parsing import text
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
            raise NoFix(f"{reason}, so the fix cannot use that name for `{target}`")


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
