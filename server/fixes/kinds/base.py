"""``base``: a class statement gains a base class: ``class Duck:`` -> ``class Duck(Base):``.

Made only at a class definition (:attr:`FixSite.class_def`), which only a test run gives: the
class a library's error names as lacking a member, defined in a file of the traceback
(:mod:`recode.server.upgrade.evidence`). The base is written as the file spells it, or imported
from its module (``from sklearn.base import BaseEstimator``) where the name is free. A class
with bases of its own (``object`` aside) is left to a person: where the new base goes among them
(scikit-learn wants its mixins to the left of ``BaseEstimator``) and whether one of them already
provides the member, the class statement alone does not say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recode.server.fixes.edits import Edit
from recode.server.fixes.imports import spell, split_path
from recode.server.fixes.site import FixSite, NoFix
from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    node = site.class_def
    fix = finding.fix
    if node is None or fix is None or fix.to is None:
        return None
    name = node.child_by_field_name("name")
    if name is None:
        return None
    if node.child_by_field_name("type_parameters") is not None:
        raise NoFix("the class has type parameters: the base is for a person to write")
    bases = node.child_by_field_name("superclasses")
    items = [] if bases is None else bases.named_children
    if any(item.type != "identifier" or text(item) != "object" for item in items):
        raise NoFix(
            "the class has bases of its own: where the new base goes among them is for a "
            "person to decide"
        )
    spelled, imports, _ = spell(fix.to, analysis, name.start_byte, split_path(fix.to)[0])
    if bases is None:
        return (Edit(name.end_byte, name.end_byte, f"({spelled})"), *imports)
    return (Edit(bases.start_byte, bases.end_byte, f"({spelled})"), *imports)
