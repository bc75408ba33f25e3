"""Which knowledge-base records a run checks: ``select`` and ``ignore`` (command line or project
configuration), ``per-file-ignores`` and ``# recode: ignore[...]`` comments all name records the
same way, by *selector*: a record id (``numpy-2.0-float_``), a glob over ids (``pandas-3.0-*``,
:func:`fnmatch.fnmatchcase`) or a library name (``pandas``, spelt as pip would accept it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from recode.dataset.knowledge import ApiChange, KnowledgeBase, canonical_name


def matches(selector: str, record: ApiChange) -> bool:
    return fnmatchcase(record.id, selector) or canonical_name(selector) == record.library


def matches_any(selectors: Iterable[str], record: ApiChange) -> bool:
    return any(matches(s, record) for s in selectors)


def split_selectors(values: Iterable[str]) -> tuple[str, ...]:
    """``--select a,b --select c`` (or a config list) as one tuple of selectors."""
    return tuple(s.strip() for v in values for s in v.split(",") if s.strip())


@dataclass(frozen=True)
class Selection:
    select: tuple[str, ...] | None = None  # None: every record
    ignore: tuple[str, ...] = ()

    def allows(self, record: ApiChange) -> bool:
        if self.select is not None and not matches_any(self.select, record):
            return False
        return not matches_any(self.ignore, record)

    def restrict(self, kb: KnowledgeBase) -> KnowledgeBase:
        """The records of ``kb`` this selection checks (the same base when it checks all)."""
        if self.select is None and not self.ignore:
            return kb
        return kb.with_records([r for r in kb.records if self.allows(r)])

    def unmatched(self, kb: KnowledgeBase) -> list[str]:
        """Selectors that name no record of ``kb`` (a typo, most likely)."""
        return [
            s
            for s in (*(self.select or ()), *self.ignore)
            if not any(matches(s, r) for r in kb.records)
        ]
