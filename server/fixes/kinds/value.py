"""``value``: a string literal passed for the parameter, its new text from ``map``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.server.fixes.edits import Edit
from recode.server.fixes.site import FixSite, NoFix
from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    if (site.keyword or site.argument) is None:
        return None
    value = site.argument or site.keyword.child_by_field_name("value")
    return (_rewrite_literal(value, finding),)


def _rewrite_literal(value: Node, finding: Finding) -> Edit:
    """A value fix: the text between a plain string literal's quotes, its quotes and prefix
    kept (``freq="M"`` -> ``freq="ME"``, ``r'M'`` -> ``r'ME'``; ``'5H'`` -> ``'5h'`` where the
    record's ``value_forms`` say so)."""
    parts = value.named_children
    if (
        value.type != "string"
        or len(parts) != 3  # start, content, end: no escapes or f-string fields
        or parts[1].type != "string_content"
        or any(c in text(parts[0]).lower() for c in "fb")
    ):
        raise NoFix(f"the value `{text(value)}` is not a plain string literal")
    new = finding.record.new_value(text(parts[1]), finding.fix)
    if new is None:
        raise NoFix(f"the fix has no new spelling for `{text(value)}`")
    return Edit(parts[1].start_byte, parts[1].end_byte, new)
