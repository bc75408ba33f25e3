"""Where a finding sits in the tree (what its fix reads), and why a fix cannot be made there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

if TYPE_CHECKING:
    from recode.server.detector import Binding


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
    class_def: Node | None = None  # a class statement a test run proved (a base fix's site)
    definition: Node | None = None  # a hook record's method definition (a hook fix's site)

    @property
    def through_import(self) -> bool:
        """Whether the reference starts from an import, not from an object: a method reached so
        is reached through its class (``np.ndarray.ptp``), the object its first argument."""
        return self.binding is not None and self.binding.kind in ("import", "from", "star")


class NoFix(Exception):
    """A fix the record has cannot be made exactly here; ``reason`` says why, for the user."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
