"""Edits of source bytes: applying them, and composing the edits of two rounds into edits of
the original (a file is written as its own bytes with only those spans replaced)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Edit:
    """Replace source bytes ``[start, end)`` with ``text``."""

    start: int
    end: int
    text: str


def overlaps(a: Edit, b: Edit) -> bool:
    if a == b:
        return False
    if a.start == a.end or b.start == b.end:  # insertions clash only strictly inside a range
        point, other = (a, b) if a.start == a.end else (b, a)
        return other.start < point.start < other.end or (point.start == other.start == other.end)
    return a.start < b.end and b.start < a.end


def apply_edits(source: bytes, edits: Iterable[Edit]) -> bytes:
    """Apply non-overlapping edits (identical duplicates are applied once)."""
    ordered = sorted(set(edits))
    out: list[bytes] = []
    pos = 0
    for e in ordered:
        if e.start < pos:
            raise ValueError(f"overlapping edits at byte {e.start}")
        out.append(source[pos : e.start])
        out.append(e.text.encode("utf-8"))
        pos = e.end
    out.append(source[pos:])
    return b"".join(out)


def compose_edits(source: bytes, first: Iterable[Edit], then: Iterable[Edit]) -> list[Edit]:
    """Edits of ``source`` that do what ``first`` (edits of ``source``) and then ``then`` (edits
    of the result) do: a file is written as its own bytes with only these spans replaced.

    Edits of the two sets that overlap or touch become one edit (its text built from
    ``source``), so the result is sorted and without overlaps. Linear in the edits.
    """
    earlier, later = sorted(set(first)), sorted(set(then))
    if not earlier or not later:  # the first round of fix_source, or a round that did nothing
        return earlier or later
    spans: list[tuple[int, int, int, Edit]] = []  # (start, end in the result of first, set, edit)
    shift = 0
    for e in earlier:
        size = len(e.text.encode("utf-8"))
        spans.append((e.start + shift, e.start + shift + size, 0, e))
        shift += size - (e.end - e.start)
    spans.extend((e.start, e.end, 1, e) for e in later)
    spans.sort(key=lambda s: (s[0], s[1], s[2]))
    out: list[Edit] = []
    shift = 0  # result-of-first minus source offsets, before the current group
    i = 0
    while i < len(spans):
        group = [spans[i]]
        end = spans[i][1]
        i += 1
        while i < len(spans) and spans[i][0] <= end:
            group.append(spans[i])
            end = max(end, spans[i][1])
            i += 1
        start = group[0][0]
        firsts = [e for _, _, kind, e in group if kind == 0]
        thens = [e for _, _, kind, e in group if kind == 1]
        grown = sum(len(e.text.encode("utf-8")) - (e.end - e.start) for e in firsts)
        src_start, src_end = start - shift, end - shift - grown
        if not thens:
            out.extend(firsts)
        else:
            middle = apply_edits(
                source[src_start:src_end],
                (Edit(e.start - src_start, e.end - src_start, e.text) for e in firsts),
            )
            middle = apply_edits(
                middle, (Edit(e.start - start, e.end - start, e.text) for e in thens)
            )
            out.append(Edit(src_start, src_end, middle.decode("utf-8")))
        shift += grown
    return out
