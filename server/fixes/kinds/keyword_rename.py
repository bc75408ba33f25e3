"""``keyword_rename``: a keyword argument's name (``to``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.server.fixes.edits import Edit
from recode.server.fixes.site import FixSite, NoFix
from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    if site.keyword is None:
        return None
    return _keyword_rename(site.keyword, finding.fix.to)


def _keyword_rename(keyword: Node, to: str) -> tuple[Edit, ...]:
    args = keyword.parent
    name = keyword.child_by_field_name("name")
    for other in args.named_children:
        if other.type == "keyword_argument" and text(other.child_by_field_name("name")) == to:
            raise NoFix(f"both `{text(name)}` and `{to}` are passed")
    return (Edit(name.start_byte, name.end_byte, to),)
