"""Parse only the parts of a file the detector looks at.

Parsing is most of the cost of analysing a file that holds an outdated call, and most of a
file is code the detector never looks at: it reads the import statements, the statements around
each use of an imported name, and the tree above them (the enclosing functions, ``try`` and
``if`` statements). This module splits a file, from its text alone, into units that tree-sitter
parses the same way alone as within the whole file: its top-level statements; within a
top-level class, the statements of the class body; within a top-level function or a method of
a top-level class, the statements of its body (split only when a position in it is asked for:
most functions of a file are never looked into). :meth:`Outline.ranges` picks the units that
hold given byte positions, with the headers above them, and :func:`parse_ranges` parses only
those (tree-sitter's included ranges: the nodes keep the byte offsets and points of the whole
file). A class or function node of such a tree ends at its last statement parsed;
:meth:`Outline.function_end` tells where a split function really ends.

What the parts of a file are is read from a scan of its strings, comments, brackets and line
continuations. Where that scan is unsure (an unterminated string, brackets that do not pair, a
form feed or a stray carriage return, a first statement that is indented, a body indented with
tabs) :func:`outline` returns None (or the body is left whole) and the caller parses the whole
file.

:class:`recode.server.detector.Detector` uses this for files without a tree of their own (the
CLI): it parses the units holding imports and the uses it guesses from the text, and more
where the analysis needs more; a use outside the parsed units, or a parse with errors, makes it
parse the whole file. ``tests/test_sparse.py`` checks that the findings are those of a
whole-file parse.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tree_sitter import Range, Tree

from recode.server.parsing import parser

# Strings and comments, from their first byte (a string's prefix letters are left outside: they
# do not change where it ends).
_STRING = (
    rb'"""(?:[^"\\]++|\\.|"(?!""))*+"""'
    rb"|'''(?:[^'\\]++|\\.|'(?!''))*+'''"
    rb'|"(?:[^"\\\r\n]++|\\(?:\r\n|.))*+"'
    rb"|'(?:[^'\\\r\n]++|\\(?:\r\n|.))*+'"
)
_COMMENT = rb"#[^\r\n]*+"
_STRING_OR_COMMENT = re.compile(_STRING + rb"|" + _COMMENT, re.S)
# Strings and comments that change nothing for the scan when read as code (one line, no
# bracket, no backslash) are skipped with the code around them; each match of _TOKENS ends at a
# string or comment that must be masked (group 1), a quote that opens no string (group 2: a
# string that does not end), or the end of the file. Far fewer matches than tokens.
_HARMLESS = (
    rb"[^\"'#]++"
    rb'|"(?!"")[^"\\\r\n()\[\]{}]*+"'
    rb"|'(?!'')[^'\\\r\n()\[\]{}]*+'"
    rb"|#[^\r\n()\[\]{}\\]*+(?![^\r\n])"
)
_TOKENS = re.compile(
    rb"(?:" + _HARMLESS + rb")*+(?:(" + _STRING + rb"|" + _COMMENT + rb")|([\"'])|\Z)", re.S
)
# A line that starts a statement at the indentation of a block: the caller puts the block's
# indentation between the newline and the lookahead. Masked string and comment bytes are \0.
_AFTER_INDENT = rb"(?=[^\s#\0])"
_TOP = re.compile(rb"\n" + _AFTER_INDENT)
_FIRST_CODE = re.compile(rb"(?m)^([ \t]*)" + _AFTER_INDENT)
# A clause that continues the statement above it (same indentation, no new unit).
_CLAUSE = re.compile(rb"(?:else|elif|except|finally)(?![\w\x80-\xff])")
_CLASS = re.compile(rb"class(?![\w\x80-\xff])")
_DEF = re.compile(rb"(?:async[ \t]+)?def(?![\w\x80-\xff])")
_INDENTED = re.compile(rb"\n([ \t]+)" + _AFTER_INDENT)
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_MASKED = re.compile(rb"\0*")
_WALRUS = re.compile(rb"[ \t\r\n\\]*:=")
_NAME_BYTE = [chr(c).isascii() and (chr(c).isalnum() or c == 95) for c in range(256)]


@dataclass
class Unit:
    """A statement, ``[start, end)``, from the start of its first line. For a top-level class
    or function, or a function in a top-level class, whose body is split: its header ``[start,
    body[0].start)`` and the statements of its body (each a unit, split in turn)."""

    start: int
    end: int
    body: list[Unit] | None = None
    # a class or function whose body is split when first needed (Outline._split_now)
    may_split: bool = False
    top: bool = False  # a top-level statement


class Outline:
    """The units of one file; see the module docstring."""

    def __init__(
        self,
        source: bytes,
        units: list[Unit],
        skeleton: bytes,
        brackets: bytes,
    ) -> None:
        self.source = source
        self.units = units
        self._starts = [u.start for u in units]
        # where each split function's definition starts (its def, or async) -> where it ends:
        # the tree of a part of the file ends the function at its last statement parsed
        self._function_ends: dict[int, int] = {}
        self._brackets = brackets  # the skeleton with every bracket read as ( or )
        self._skeleton = skeleton  # the source with its multi-line or bracketed strings and
        # comments masked (\0 but for their first byte)

    def keywords(self, word: bytes) -> list[int]:
        """Where ``word`` may be a keyword token: not inside a string or comment, nor part of a
        longer ASCII name (a statement can hold the keyword only there)."""
        found = []
        skeleton = self._skeleton
        n = len(word)
        at = skeleton.find(word)
        while at >= 0:
            end = at + n
            if (
                not (at and _NAME_BYTE[skeleton[at - 1]])
                and not (end < len(skeleton) and _NAME_BYTE[skeleton[end]])
                and not self._in_string_or_comment(at)
            ):
                found.append(at)
            at = skeleton.find(word, end)
        return found

    def logical_line(self, pos: int) -> tuple[int, int]:
        """The logical line holding byte ``pos`` (outside strings): from the start of its first
        physical line (after backslash continuations) to the newline that ends it (its brackets
        closed, no continuation), or the end of the file."""
        skeleton, brackets = self._skeleton, self._brackets
        start = skeleton.rfind(b"\n", 0, pos) + 1
        while start and continued(skeleton, start - 1):
            start = skeleton.rfind(b"\n", 0, start - 1) + 1
        depth = 0
        at = start
        while True:
            end = skeleton.find(b"\n", pos)
            if end < 0:
                return start, len(skeleton)
            depth += brackets.count(b"(", at, end) - brackets.count(b")", at, end)
            if depth <= 0 and not continued(skeleton, end):
                return start, end
            at = pos = end + 1

    def may_bind_at(self, start: int, end: int) -> bool:
        """Whether the name spelled at bytes ``[start, end)`` may be bound there as far as
        strings and comments tell: not in a string or comment, unless ``:=`` follows it (a
        walrus in the replacement field of an f-string)."""
        return not self._in_string_or_comment(start) or bool(_WALRUS.match(self.source, end))

    def _in_string_or_comment(self, pos: int) -> bool:
        """Whether byte ``pos`` is in a string or comment: masked in the skeleton, or in one of
        those left unmasked (on one line), found by reading its line from the start."""
        skeleton = self._skeleton
        if skeleton[pos] == 0:
            return True
        # from the line's start, or the end of a string that spans lines into it
        start = _MASKED.match(skeleton, skeleton.rfind(b"\n", 0, pos) + 1).end()
        end = skeleton.find(b"\n", pos)
        for m in _STRING_OR_COMMENT.finditer(self.source, start, len(skeleton) if end < 0 else end):
            if m.start() >= pos:
                break
            if pos < m.end():
                return True
        return False

    def unit_at(self, pos: int) -> Unit | None:
        i = bisect.bisect_right(self._starts, pos) - 1
        if i < 0 or pos >= self.units[i].end:
            return None
        return self.units[i]

    def ranges(
        self, positions: Iterable[int], whole: Iterable[int] = (), imports: Iterable[int] = ()
    ) -> list[tuple[int, int]]:
        """The byte ranges to parse so that each of ``positions`` is in a parsed unit, each of
        ``whole`` in a wholly parsed top-level statement; with ``imports`` (the positions of
        import statements), those, the first statement of the file and the statement after each
        unit holding an import too, so that the top-level statements around the imports read the
        same as in the whole file (where an added import goes: after the last import of the
        first run of them)."""
        picked: set[tuple[int, int]] = set()
        units = self.units
        if units:
            self._least(units[0], picked)
        for pos in imports:
            self._holding(pos, picked)
            i = bisect.bisect_right(self._starts, pos) - 1
            if 0 <= i < len(units) - 1:
                self._least(units[i + 1], picked)
        for pos in positions:
            self._holding(pos, picked)
        for pos in whole:
            unit = self.unit_at(pos)
            if unit is not None:
                picked.add((unit.start, unit.end))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(picked):
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged

    def _holding(self, pos: int, picked: set[tuple[int, int]]) -> None:
        """The unit holding ``pos``: a top-level statement, or the headers of the split units
        around it and the statement of the innermost body that holds it (the first statement,
        for a position in a header)."""
        unit = self.unit_at(pos)
        if unit is None:
            return
        while True:
            self._split_now(unit)
            if unit.body is None:
                break
            picked.add((unit.start, unit.body[0].start))
            j = bisect.bisect_right([u.start for u in unit.body], pos) - 1
            unit = unit.body[max(j, 0)]
        picked.add((unit.start, unit.end))

    def _least(self, unit: Unit, picked: set[tuple[int, int]]) -> None:
        """The least of a unit that parses as a statement of its kind."""
        while True:
            self._split_now(unit)
            if unit.body is None:
                break
            picked.add((unit.start, unit.body[0].start))
            unit = unit.body[0]
        picked.add((unit.start, unit.end))

    def _split_now(self, unit: Unit) -> None:
        """Split a unit's body when first needed: most classes and functions of a file are
        never looked into, and splitting them all cost more than parsing what they spared."""
        if unit.may_split:
            unit.may_split = False
            _split(unit, self._skeleton, self._brackets, self.source, self._function_ends)

    def function_end(self, start: int) -> int | None:
        """Where the function whose definition starts at byte ``start`` ends, if its body was
        split (else its node in any tree ends where it does)."""
        return self._function_ends.get(start)

    def covers(self, ranges: list[tuple[int, int]]) -> bool:
        """Whether ``ranges`` are the whole file."""
        return ranges == [(self.units[0].start, len(self.source))] if self.units else True


_BLANK_OR_COMMENT_LINES = re.compile(rb"(?:[ \t]*+(?:#[^\r\n]*+)?\r?\n)*+")


def defines(source: bytes, unit: Unit) -> bool:
    """Whether ``unit`` is a class or function definition (decorated or not), whose indented
    lines are a body of their own rather than lines of one statement or block. (The first unit
    starts at the file's start: comments and blank lines before its code are skipped.)"""
    start = _BLANK_OR_COMMENT_LINES.match(source, unit.start).end()
    return source[start : start + 1] == b"@" or bool(
        _CLASS.match(source, start) or _DEF.match(source, start)
    )


def outline(source: bytes) -> Outline | None:
    """The units of ``source``, or None where the scan is unsure (see the module docstring)."""
    if b"\0" in source or b"\f" in source or b"\x0b" in source:
        return None
    if b"\r" in source and source.count(b"\r") != source.count(b"\r\n"):
        return None
    masked = bytearray(source)
    for m in _TOKENS.finditer(source):
        if m.start(2) >= 0:
            return None  # a string that does not end
        a, b = m.span(1)
        if b - a > 1:
            masked[a + 1 : b] = bytes(b - a - 1)  # keep the first byte: a statement may start there
    skeleton = bytes(masked)
    brackets = skeleton.translate(_BRACKETS)
    if brackets.count(b"(") != brackets.count(b")"):
        return None
    # top-level statement starts; the first unit holds what comes before its code too
    first = _FIRST_CODE.search(skeleton)
    if first is None:
        return Outline(source, [Unit(0, len(source))], skeleton, brackets)
    if first.group(1):
        return None  # an indented first statement
    starts = _starts(skeleton, brackets, source, first.end(), len(source), _TOP, first.end())
    if starts is None:
        return None
    starts[0] = 0
    units = [Unit(s, e) for s, e in zip(starts, [*starts[1:], len(source)], strict=True)]
    for unit in units:
        unit.may_split = unit.top = True
    return Outline(source, units, skeleton, brackets)


def _starts(
    skeleton: bytes,
    brackets: bytes,
    source: bytes,
    lo: int,
    hi: int,
    pattern: re.Pattern[bytes],
    first: int,
) -> list[int] | None:
    """Statement starts in ``[lo, hi)`` at one indentation: lines matched by ``pattern`` outside
    brackets and continuations, clauses (``else:``) and decorated definitions kept with the
    statement they belong to. ``first`` is the first statement's start."""
    starts = [first]
    depth = 0
    last = first
    decorator = source.startswith(b"@", _code_start(source, first))
    for m in pattern.finditer(skeleton, lo, hi):
        at = m.end()
        depth += brackets.count(b"(", last, at) - brackets.count(b")", last, at)
        last = at
        if depth < 0:
            return None
        if depth:
            continue
        if continued(skeleton, m.start()):
            continue
        code = _code_start(source, at)
        if _CLAUSE.match(source, code):
            continue
        if decorator:
            decorator = source.startswith(b"@", code)
            continue
        decorator = source.startswith(b"@", code)
        starts.append(m.start() + 1)
    return starts


def continued(skeleton: bytes, newline: int) -> bool:
    """Whether the line ending at ``newline`` (of a source, or its skeleton) ends with a
    backslash continuation."""
    before = newline - 1
    if before >= 0 and skeleton[before] == 13:
        before -= 1
    return before >= 0 and skeleton[before] == 92


def _code_start(source: bytes, line_start: int) -> int:
    i = line_start
    while i < len(source) and source[i] in b" \t":
        i += 1
    return i


def _split(
    unit: Unit, skeleton: bytes, brackets: bytes, source: bytes, function_ends: dict[int, int]
) -> None:
    """Split the body of a class (at the top level) or a function (at the top level or in a
    top-level class) into its statements; a class's methods are marked to be split when
    needed. A split function's end is noted in ``function_ends`` by where its definition
    starts."""
    head = _code_start(source, unit.start)
    indent = source[unit.start : head]
    while source.startswith(b"@", head):  # decorators belong to the header
        nxt = _next_line_at_depth0(skeleton, brackets, head, unit.end)
        if nxt is None:
            return
        head = _code_start(source, nxt)
    is_class = unit.top and _CLASS.match(source, head) is not None
    if not is_class and _DEF.match(source, head) is None:
        return
    body = None
    depth = 0
    last = head
    for m in _INDENTED.finditer(skeleton, head, unit.end):
        at = m.end()
        depth += brackets.count(b"(", last, at) - brackets.count(b")", last, at)
        last = at
        if depth or continued(skeleton, m.start()):
            continue
        body = m
        break
    if body is None:
        return
    inner = body.group(1)
    if b"\t" in inner or len(inner) <= len(indent) or not inner.startswith(indent):
        return  # a body on the header's line, or indented with tabs: left whole
    first = body.start() + 1
    pattern = re.compile(rb"\n" + re.escape(inner) + _AFTER_INDENT)
    starts = _starts(skeleton, brackets, source, first, unit.end, pattern, first)
    if starts is None or len(starts) < 2:
        return
    unit.body = [Unit(a, b) for a, b in zip(starts, [*starts[1:], unit.end], strict=True)]
    if is_class:
        for member in unit.body:
            member.may_split = True  # a method, or not: _split tells when asked
    else:
        function_ends[head] = unit.end


def _next_line_at_depth0(skeleton: bytes, brackets: bytes, lo: int, hi: int) -> int | None:
    depth = 0
    last = lo
    i = lo
    while True:
        k = skeleton.find(b"\n", i, hi)
        if k < 0:
            return None
        depth += brackets.count(b"(", last, k) - brackets.count(b")", last, k)
        last = k
        if depth == 0 and not continued(skeleton, k):
            return k + 1
        i = k + 1


def parse_ranges(source: bytes, ranges: list[tuple[int, int]]) -> Tree:
    """A tree of only ``ranges`` of ``source`` (byte offsets and points as in the whole file)."""
    p = parser()
    spans = []
    row = 0
    at = 0
    for start, end in ranges:
        row += source.count(b"\n", at, start)
        start_point = (row, start - (source.rfind(b"\n", 0, start) + 1))
        row += source.count(b"\n", start, end)
        end_point = (row, end - (source.rfind(b"\n", 0, end) + 1))
        at = end
        spans.append(Range(start_point, end_point, start, end))
    p.included_ranges = spans
    try:
        return p.parse(source)
    finally:
        p.included_ranges = []
