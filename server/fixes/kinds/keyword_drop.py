"""``keyword_drop``: a keyword argument removed, with its separator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from recode.server.fixes.edits import Edit
from recode.server.fixes.imports import drop_item
from recode.server.fixes.site import FixSite

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    if site.keyword is None:
        return None
    return (drop_item(site.keyword),)
