"""Mechanical fixes: the exact edits a knowledge-base record's ``fix`` makes at one finding.

A finding's edits are all-or-nothing. :func:`fix_source` applies every fixable finding of a file,
round after round (a fix may uncover another), and keeps only results that still parse.

A fix never binds a name of the user's: where the name it would introduce (a renamed import
item, an added ``import numpy``, the module a template spells) is bound by the file where it would
be used (:mod:`recode.server.scopes`), the fix is spelled through an import the file already has
(``np.prod``) or a free alias (``from numpy import prod as numpy_prod``), or not made, and the
finding says why.

The parts: each fix kind's edits in :mod:`.kinds` (one module per kind, and the table
:data:`.kinds.EDITS`); what they share: :mod:`.site` (where a finding sits, why no fix),
:mod:`.facts` (what a file's fixes read of the whole file), :mod:`.imports` (names to write,
imports to add or remove), :mod:`.emptied` (an import the fixes leave unused),
:mod:`.comments`; :mod:`.edits` (applying and composing edits), :mod:`.python_ast` (whether
code parses) and :mod:`.apply` (:func:`fix_source`).
"""

from recode.server.fixes.apply import FixResult, fix_source
from recode.server.fixes.edits import Edit, apply_edits, compose_edits
from recode.server.fixes.emptied import drop_emptied_imports
from recode.server.fixes.facts import FileFacts
from recode.server.fixes.imports import import_edit
from recode.server.fixes.kinds import edits_for, fix_for
from recode.server.fixes.python_ast import parses, python_tree
from recode.server.fixes.site import FixSite

__all__ = [
    "Edit",
    "FileFacts",
    "FixResult",
    "FixSite",
    "apply_edits",
    "compose_edits",
    "drop_emptied_imports",
    "edits_for",
    "fix_for",
    "fix_source",
    "import_edit",
    "parses",
    "python_tree",
]
