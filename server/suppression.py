"""Accepting a finding in the code: ``# recode: ignore[RECORD-ID, ...]`` or a bare
``# recode: ignore`` comment, and ``--add-ignore``, which writes those comments.

A comment applies to the findings that start on its line, except that a finding starting on a
line that ends inside a multi-line string, or with a backslash continuation, is ignored (and
``--add-ignore`` comments it) on the line where that string or continuation ends: there is no
room for a comment inside a string. This is where ruff reads and ``--add-noqa`` writes
``# noqa``. The ids may be globs (``pandas-3.0-*``, :mod:`fnmatch`) and library names, as for
``--ignore`` (:mod:`recode.server.selection`).

Comments are read with :mod:`tokenize`, so a ``#`` inside a string is no comment; only files
with findings that hold the text ``recode:`` are tokenized at all.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field

from recode.server.detector import Finding
from recode.server.selection import matches_any

MARKER = b"recode:"
_DIRECTIVE = re.compile(r"#\s*recode:\s*ignore(?:\[(?P<ids>[^\]]*)\])?", re.IGNORECASE)

_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)  # Python 3.12+
_FSTRING_END = getattr(tokenize, "FSTRING_END", -1)
ALL = None  # a bare ``# recode: ignore``: every finding on the line


@dataclass
class _Lines:
    """What tokenizing a file tells about its lines (0-based)."""

    directives: dict[int, tuple[str, ...] | None] = field(default_factory=dict)  # ALL or ids
    comments: dict[int, tokenize.TokenInfo] = field(default_factory=dict)  # the line's comment
    moved: dict[int, int] = field(default_factory=dict)  # line -> where its comment goes


def _tokens(text: str) -> list[tokenize.TokenInfo]:
    """The file's tokens, up to the first error (a file need not parse to have comments)."""
    out: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            out.append(tok)
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def _read_lines(text: str) -> _Lines:
    lines = _Lines()
    tokens = _tokens(text)
    in_string: set[int] = set()  # lines that end inside a multi-line string
    fstrings: list[int] = []  # start rows of the open f-strings (Python 3.12 tokens)
    for tok in tokens:
        (srow, _), (erow, _) = tok.start, tok.end
        if tok.type == tokenize.COMMENT:
            lines.comments[srow - 1] = tok
            m = _DIRECTIVE.search(tok.string)
            if m:
                ids = m.group("ids")
                lines.directives[srow - 1] = (
                    ALL if ids is None else tuple(x.strip() for x in ids.split(",") if x.strip())
                )
            continue
        if tok.type == _FSTRING_START:
            fstrings.append(srow)
            continue
        if tok.type == _FSTRING_END and fstrings:
            srow = fstrings.pop()
        elif tok.type != tokenize.STRING:
            continue
        for row in range(srow, erow):
            lines.moved[row - 1] = erow - 1
            in_string.add(row - 1)
    source_lines = _physical_lines(text)
    for i in range(len(source_lines) - 1, -1, -1):
        line = source_lines[i].rstrip("\r\n")
        if i in in_string or i in lines.comments or not line.endswith("\\"):
            continue
        nxt = i + 1
        lines.moved[i] = lines.moved.get(nxt, nxt)
    return lines


def _physical_lines(text: str) -> list[str]:
    """The lines as tokenize and the detector count them (ended by ``\\n``), with their ends."""
    return io.StringIO(text).readlines()


def comment_line(lines: _Lines, line: int) -> int:
    """The line whose comment covers a finding that starts on ``line`` (0-based)."""
    while line in lines.moved:  # a string can end where the next one starts
        line = lines.moved[line]
    return line


def _suppressed(ids: tuple[str, ...] | None, finding: Finding) -> bool:
    return ids is ALL or matches_any(ids, finding.record)


@dataclass(frozen=True)
class Suppressor:
    """What decides which findings of a file are accepted: its comments, and the ids that the
    project's ``per-file-ignores`` list for the file."""

    per_file: tuple[str, ...] = ()

    def split(self, source: bytes, findings: Sequence[Finding]) -> tuple[list[Finding], int]:
        """The findings that stay, and how many were suppressed."""
        if not findings:
            return list(findings), 0
        if self.per_file:
            kept = [f for f in findings if not matches_any(self.per_file, f.record)]
        else:
            kept = list(findings)
        if kept and MARKER in source:
            lines = _read_lines(source.decode("utf-8", "replace"))
            if lines.directives:
                kept = [
                    f
                    for f in kept
                    if not _suppressed(
                        lines.directives.get(comment_line(lines, f.start.line), ()), f
                    )
                ]
        return kept, len(findings) - len(kept)

    def keep(self, source: bytes, findings: Sequence[Finding]) -> list[Finding]:
        return self.split(source, findings)[0]


def add_ignores(source: bytes, findings: Sequence[Finding]) -> bytes:
    """``source`` with a ``# recode: ignore[ID, ...]`` comment for each of ``findings``.

    An existing ``# recode: ignore[...]`` on the line gets the new ids added; any other comment
    is kept and the directive follows it (``# noqa: E501  # recode: ignore[X]``). Line endings,
    and every byte of the other lines, stay as they were.
    """
    if not findings:
        return source
    text = source.decode("utf-8")
    lines = _read_lines(text)
    wanted: dict[int, list[str]] = {}
    for f in findings:
        ids = wanted.setdefault(comment_line(lines, f.start.line), [])
        if f.record.id not in ids:
            ids.append(f.record.id)
    rows = _physical_lines(text)
    for row, ids in wanted.items():
        if row >= len(rows):
            continue
        body = rows[row].rstrip("\r\n")
        ending = rows[row][len(body) :]
        rows[row] = _with_directive(body, lines, row, ids) + ending
    return "".join(rows).encode("utf-8")


def _with_directive(body: str, lines: _Lines, row: int, ids: list[str]) -> str:
    comment = lines.comments.get(row)
    if comment is not None:
        m = _DIRECTIVE.search(comment.string)
        if m is not None:
            if m.group("ids") is None:
                return body  # a bare ignore covers them already
            old = [x.strip() for x in m.group("ids").split(",") if x.strip()]
            merged = ", ".join(old + [x for x in ids if x not in old])
            col = comment.start[1]
            start, end = col + m.start(), col + m.end()
            return f"{body[:start]}# recode: ignore[{merged}]{body[end:]}"
    return f"{body.rstrip()}  # recode: ignore[{', '.join(ids)}]"
