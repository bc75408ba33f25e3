"""The edits of each fix kind (:class:`recode.dataset.knowledge.FixKind`): one module per kind,
each with ``edits(finding, analysis, site)``, and :data:`EDITS`, the table that names them.

A kind's ``edits`` returns the edits that make the fix at the site, None where the site is not
one the kind rewrites, or raises :class:`recode.server.fixes.site.NoFix` with the reason where
it is but the rewrite cannot be exact. A new fix kind is a member of ``FixKind`` (its parsing
and its words), a module here and its row in :data:`EDITS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from recode.dataset.knowledge import ApiChange, Fix, FixKind
from recode.server.fixes.comments import keep_comments
from recode.server.fixes.edits import Edit
from recode.server.fixes.kinds import (
    base,
    hook,
    keyword_drop,
    keyword_rename,
    rename,
    statement,
    template,
    value,
)
from recode.server.fixes.site import FixSite, NoFix, assigned, passed_fix, tested_by

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding

Edits = Callable[["Finding", "Analysis", FixSite], tuple[Edit, ...] | None]

#: Each fix kind's edits.
EDITS: dict[FixKind, Edits] = {
    FixKind.RENAME: rename.edits,
    FixKind.KEYWORD_RENAME: keyword_rename.edits,
    FixKind.KEYWORD_DROP: keyword_drop.edits,
    FixKind.TEMPLATE: template.edits,
    FixKind.VALUE: value.edits,
    FixKind.STATEMENT: statement.edits,
    FixKind.BASE: base.edits,
    FixKind.HOOK: hook.edits,
}


def fix_for(record: ApiChange, site: FixSite | None) -> Fix | None:
    """The record's fix for the site: its ``through_class`` fix where the site reaches the
    method through its class (``np.ndarray.ptp``), and it has one; its ``assigned`` fix where
    the reference is written (``cs.antialiased = v``); its ``instance_test`` fix
    where the site is the class ``isinstance`` tests; its ``when_passed`` fix for the first
    of those keywords that the call passes; else its fix."""
    fix = record.fix
    if fix is not None and fix.assigned is not None and site is not None:
        if site.call is None and site.reference is not None and assigned(site.reference):
            return fix.assigned
    if fix is not None and fix.instance_test is not None and site is not None:
        if site.call is None and site.reference is not None and tested_by(site.reference):
            return fix.instance_test
    if fix is not None and fix.through_class is not None and site is not None:
        if site.through_import:
            return fix.through_class
    if fix is not None and fix.when_passed and site is not None and site.call is not None:
        return passed_fix(fix, site.call)
    return fix


def edits_for(
    finding: Finding, analysis: Analysis, site: FixSite | None
) -> tuple[tuple[Edit, ...] | None, str | None]:
    """The edits that apply ``finding.fix`` here; or None where no exact rewrite exists,
    with the reason where the record has a fix that cannot be made here."""
    fix = finding.fix
    if fix is None or site is None:
        return None, None
    try:
        edits = EDITS[fix.kind](finding, analysis, site)
        if edits is not None:
            keep_comments(edits, analysis)
        return edits, None
    except NoFix as no:
        record_fix = finding.record.fix
        keys = [k for k, f in record_fix.when_passed if f is fix] if record_fix else []
        if keys and no.reason:  # which of the record's rewrites could not be made
            return None, f"with `{keys[0]}`: {no.reason}"
        return None, no.reason
