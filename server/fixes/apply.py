"""Applying a file's fixes, round after round, keeping only results that still parse."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

from recode.server.fixes.edits import Edit, apply_edits, compose_edits, overlaps
from recode.server.fixes.python_ast import keeps_compiling, parses

if TYPE_CHECKING:
    from recode.server.detector import Detector, Finding


@dataclass
class FixResult:
    source: bytes
    edits: list[Edit] = field(default_factory=list)  # of the original source, giving ``source``
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    error: str | None = None


def fix_source(
    source: bytes,
    detector: Detector,
    *,
    max_rounds: int = 10,
    findings: list[Finding] | None = None,
    keep: Callable[[bytes, list[Finding]], list[Finding]] | None = None,
    unsafe: bool = False,
) -> FixResult:
    """Apply all mechanical fixes, round by round, keeping only code that still parses.
    Unsafe fixes (:class:`recode.dataset.knowledge.Applicability`) only with ``unsafe``.

    ``findings``: the first round's findings, where the caller has them already (after
    ``keep``). ``keep`` filters each round's findings (suppressed findings are neither fixed
    nor left). :attr:`FixResult.edits` are edits of ``source`` giving the fixed text.
    """
    result = FixResult(source)

    def detect(text: bytes) -> list[Finding]:
        found = detector.detect(text)
        return keep(text, found) if keep is not None else found

    for _ in range(max_rounds):
        if findings is None:
            findings = detect(result.source)
        chosen = _Chosen()
        applied: list[Finding] = []
        taken: set[int] = set()  # edit tuples already chosen (a from-import's findings share one)
        for f in findings:
            if not f.applies(unsafe):
                continue
            if id(f.edits) in taken:
                applied.append(f)
                continue
            new = [e for e in f.edits if e not in chosen]
            if any(chosen.clashes(e) for e in new):
                continue  # next round
            for e in new:
                chosen.add(e)
            taken.add(id(f.edits))
            applied.append(f)
        if not applied:
            result.remaining = findings
            return result
        candidate = apply_edits(result.source, chosen.edits)
        if not parses(candidate):
            result.error = (
                "these fixes would leave code that does not parse, so they were not applied"
            )
            result.remaining = findings
            return result
        if not keeps_compiling(result.source, candidate):
            result.error = (
                "these fixes would leave code that Python does not compile (such as a keyword"
                " argument given twice), so they were not applied"
            )
            result.remaining = findings
            return result
        result.edits = compose_edits(source, result.edits, chosen.edits)
        result.source = candidate
        result.fixed.extend(applied)
        findings = None
    result.remaining = detect(result.source)
    return result


class _Chosen:
    """The edits chosen in one round, ordered by start, so that whether a new edit overlaps one
    of them is found among its neighbours (a test against each of them made ``--write``
    quadratic in the fixes of a file)."""

    def __init__(self) -> None:
        self.edits: list[Edit] = []
        self._set: set[Edit] = set()

    def __contains__(self, e: Edit) -> bool:
        return e in self._set

    def clashes(self, e: Edit) -> bool:
        """Whether ``e`` overlaps a chosen edit (:func:`overlaps`)."""
        i = bisect.bisect_left(self.edits, e.start, key=_START)
        for c in self.edits[i:]:  # starting inside or at the end of e
            if c.start > e.end:
                break
            if overlaps(e, c):
                return True
        # starting before e: insertions there cannot clash, and the chosen ranges are disjoint,
        # so only the last of them can reach into e
        for c in reversed(self.edits[:i]):
            if c.start != c.end:
                return overlaps(e, c)
        return False

    def add(self, e: Edit) -> None:
        if e not in self._set:
            self._set.add(e)
            bisect.insort(self.edits, e, key=_START)


_START = attrgetter("start")
