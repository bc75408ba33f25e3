"""Whether a fix may bind a name, answered from the text and the tree-sitter tree where that is
sure (``FileFacts._bound_by_imports_of``), and whether Python parses a file, answered from its
symbol table where that builds (``python_ast.parses``): both must answer what Python's own tree
and :class:`recode.server.scopes.Scopes` answer (issue 17: they cost most of the detector's time
on the bench corpus)."""

from __future__ import annotations

import re
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recode.server.detector import Analysis
from recode.server.fixes import python_ast
from recode.server.fixes.facts import FileFacts
from recode.server.parsing import parse
from recode.server.scopes import mentions, star_import
from recode.server.sparse import parse_ranges


class ScopesOnly(FileFacts):
    """The reference: every question goes to Python's tree and scopes."""

    def _bound_by_imports_of(self, name, targets) -> bool:
        return False


def facts(code: str, kind: type[FileFacts] = FileFacts) -> FileFacts:
    source = code.encode()
    return kind(Analysis(source, parse(source), []))


# where a statement binds {n}, or only reads it; {n} stands for the name asked about
STATEMENTS = [
    "{n} = 1",
    "{n}, other = 1, 2",
    "{n} += 1",
    "{n}: int = 1",
    "del {n}",
    "for {n} in []:\n    pass",
    "with open('f') as {n}:\n    pass",
    "def {n}():\n    pass",
    "class {n}:\n    pass",
    "def f({n}=None):\n    return {n}",
    "g = lambda {n}: {n}",
    "import {n}",
    "import {n}.linalg",
    "import os, {n}.linalg",
    "import os, \\\n    {n}.linalg",
    "x = 1; import {n}.linalg",
    "import numpy as {n}",
    "import numpy.linalg as {n}",
    "import {n} as other",
    "from numpy import {n}",
    "from numpy import prod as {n}",
    "from . import {n}",
    "from {n} import zeros",
    "from {n}.linalg import norm",
    "from numpy import *",
    "global {n}",
    "({n} := 1)",
    "print({n} := 1)",
    "print(k=({n} := 1))",
    "try:\n    pass\nexcept ValueError as {n}:\n    pass",
    "match x:\n    case C({n}):\n        pass",
    "match x:\n    case {{**{n}}}:\n        pass",
    "match x:\n    case [1, *{n}]:\n        pass",
    "y = [{n} for {n} in range(3)]",
    "{n}.zeros(3)",
    "{n} .zeros(3)",
    "{n}\\\n    .zeros(3)",
    "print({n})",
    "print(k={n})",
    "{n}(1)",
    "class C({n}):\n    pass",
    "# {n} = 1",
    "'''{n} = 1'''",
    "x = f'{{({n} := 2)}}'",
    "x = '{n}'",
    "\uff4e\uff50 = 1",  # ｎｐ: Python reads it as np
    "\uff4ep = 1",  # ｎp: np too
    "np\u1d2c = 1",  # npᴬ: Python reads npA
    "x = 'R\u00b2'  # R\u00b2 \u2026",  # words NFKC changes, none of them a name
    "def f(a, a):\n    pass",  # parses; only the symbol table rejects it
    "x = (",  # does not parse
]
NAMES = {"np": {"numpy"}, "prod": {"numpy.prod"}, "numpy": {"numpy"}}


@st.composite
def modules(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(NAMES)))
    lines = []
    for template in draw(st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=6)):
        stmt = template.format(n=name)
        if draw(st.booleans()):  # inside a function
            stmt = "def body():\n" + textwrap.indent(stmt, "    ")
        lines.append(stmt)
    return name, "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(), st.data())
def test_the_text_answers_as_the_scopes_do(module: tuple[str, str], data) -> None:
    name, code = module
    uses = [data.draw(st.integers(0, len(code.encode())))]
    expected = facts(code, ScopesOnly).conflict(name, NAMES[name], uses)
    assert facts(code).conflict(name, NAMES[name], uses) == expected


@st.composite
def modules_parsed_in_part(draw) -> tuple[str, str, list[tuple[int, int]]]:
    """A module as :func:`modules` makes them, and the byte ranges of some of its top-level
    statements: what the detector's partial parse (:mod:`recode.server.sparse`) hands on."""
    name = draw(st.sampled_from(sorted(NAMES)))
    statements = [
        template.format(n=name) + "\n"
        for template in draw(st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=6))
    ]
    ranges: list[tuple[int, int]] = []
    at = 0
    for stmt in statements:
        end = at + len(stmt.encode())
        if draw(st.booleans()):
            ranges.append((at, end))
        at = end
    return name, "".join(statements), ranges


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules_parsed_in_part(), st.data())
def test_the_text_answers_as_the_scopes_do_from_a_partial_tree(
    module: tuple[str, str, list[tuple[int, int]]], data
) -> None:
    """A mention the partial tree lacks is read from a tree-sitter parse of the whole file."""
    name, code, ranges = module
    source = code.encode()
    uses = [data.draw(st.integers(0, len(source)))]
    expected = facts(code, ScopesOnly).conflict(name, NAMES[name], uses)
    partial = FileFacts(Analysis(source, parse_ranges(source, ranges), []))
    assert partial.conflict(name, NAMES[name], uses) == expected


@pytest.mark.parametrize(
    "code, ranges",
    [
        # a docstring's example, in a function the partial tree lacks
        (
            'def f():\n    """\n    >>> import numpy as np\n    """\n\nimport numpy as np\n'
            "np.ones(2)\n",
            [(53, 83)],
        ),
        # a word that NFKC normalization changes, in a comment (R², an ellipsis)
        ("# R\u00b2 \u2026\nimport numpy as np\nnp.ones(2)\n", None),
    ],
)
def test_what_the_partial_tree_or_unicode_left_open_needs_no_python_tree(
    code: str, ranges: list[tuple[int, int]] | None, monkeypatch
) -> None:
    """10 of the 14 files of the bench corpus that went to Python's tree and scopes did for a
    mention of ``np`` in a docstring or comment outside the partial tree, 4 for a non-ASCII
    character in a docstring (BENCHMARKS.md, "Detector vs ruff")."""

    def no_tree(*args, **kwargs):
        raise AssertionError("Python's tree was built")

    source = code.encode()
    tree = parse(source) if ranges is None else parse_ranges(source, ranges)
    if ranges is not None:
        assert source[ranges[0][0] : ranges[0][1]].startswith(b"import numpy as np\n")
    monkeypatch.setattr("recode.server.fixes.facts.python_tree", no_tree)
    assert (
        FileFacts(Analysis(source, tree, [])).conflict("np", {"numpy"}, [len(source) - 4]) is None
    )


@pytest.mark.parametrize(
    "code",
    [
        "import numpy as np\n\nx = np.zeros(3)  # np is numpy\nprint(np, k=np)\ns = 'np'\n",
        "import numpy\nfrom numpy import zeros\nfrom numpy.linalg import norm\nnumpy.ones(2)\n",
        '"""\n>>> import numpy as np\n"""\nimport numpy as np\nnp.ones(2)\n',
    ],
)
def test_a_name_bound_only_by_its_import_needs_no_python_tree(code: str, monkeypatch) -> None:
    def no_tree(*args, **kwargs):
        raise AssertionError("Python's tree was built")

    monkeypatch.setattr("recode.server.fixes.facts.python_tree", no_tree)
    name = "np" if "as np" in code else "numpy"
    assert facts(code).conflict(name, {"numpy"}, [len(code) - 2]) is None


@pytest.mark.parametrize(
    "code, name",
    [
        ("import numpy as np\nimport np.linalg\n", "np"),
        ("import numpy as np\nimport os, \\\n    np.linalg\n", "np"),
        ("import numpy as np\r\nimport os, \\\r\n    np.linalg\r\n", "np"),
        ("import numpy as np\n\uff4e\uff50 = 1\n", "np"),
        ("import numpy as np\nprint(np := 2)\n", "np"),
        ("import numpy as np\nmatch x:\n    case C(np):\n        pass\n", "np"),
        ("import numpy as np\nx = 1  # R\u00b2\n\uff4ep = 1\n", "np"),
        # no ASCII np in the text at all: Python still reads ｎｐ as np
        ("import numpy\n\uff4e\uff50 = 1\nnumpy.float_(1)\n", "np"),
    ],
)
def test_a_binding_the_text_may_hide_goes_to_the_scopes(code: str, name: str) -> None:
    assert facts(code).conflict(name, {"numpy"}, [len(code) - 2]) is not None


def test_a_binding_the_partial_tree_lacks_goes_to_the_scopes() -> None:
    code = "def f():\n    global np\n    np = 1\n\nimport numpy as np\nnp.ones(2)\n"
    source = code.encode()
    start = source.index(b"import")
    partial = FileFacts(Analysis(source, parse_ranges(source, [(start, len(source))]), []))
    assert partial.conflict("np", {"numpy"}, [len(source) - 4]) is not None


SOURCES = [
    b"x = 1\n",
    b"def f(a, a):\n    pass\n",  # the symbol table's error only
    b"nonlocal x\n",
    b"def f():\n    x = 1\n    global x\n",
    b"x = (\n",
    b"print 'x'\n",
    b"\xef\xbb\xbfx = 1\n",
    b"# -*- coding: latin-1 -*-\nx = '\xe9'\n",
    b"x = '\xe9'\n",  # not UTF-8
    b"x = 1\0\n",
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("as_file", [False, True])
def test_parses_answers_as_pythons_tree(source: bytes, as_file: bool) -> None:
    python_ast._VERDICTS.clear()
    verdict = python_ast.parses(source, as_file=as_file)
    python_ast._VERDICTS.clear()
    assert verdict == (python_ast.python_tree(source, as_file=as_file) is not None)


DECLARED = [
    b"# -*- coding: utf-8 -*-\nx = '\xc3\xa9'\n",
    b"#!/usr/bin/env python\n# vim: set fileencoding=utf8 :\nx = 1\n",
    b"\xef\xbb\xbf# coding: utf-8\nx = 1\n",
    b"# coding: latin-1\nx = '\xc3\xa9'\n",  # decoded differently as the file: same verdict
    b"# coding: latin-1\nx = '\xe9'\n",  # not UTF-8 text, but a latin-1 file
    b"# coding: ascii\nx = '\xc3\xa9'\n",  # UTF-8 text, but not an ASCII file
    b"# coding: no-such-codec\nx = 1\n",  # text that parses, a file that does not
    b"\xef\xbb\xbf# coding: latin-1\nx = 1\n",  # a BOM with another coding: no file
]


@pytest.mark.parametrize("source", SOURCES + DECLARED)
def test_parses_as_file_after_as_text_answers_as_the_file(source: bytes) -> None:
    """``--write`` and the check ask about a file's text first (the fixes), then about its
    bytes as Python reads the file: the second answer reuses the first only where the file is
    read as UTF-8 (a coding declaration may name another codec, or an unknown one)."""
    python_ast._VERDICTS.clear()
    python_ast.parses(source)
    verdict = python_ast.parses(source, as_file=True)
    python_ast._VERDICTS.clear()
    assert verdict == (python_ast.python_tree(source, as_file=True) is not None)


def test_a_file_declared_utf8_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file declaring UTF-8 (18 of the 272 parses on the bench corpus) is parsed once
    for its text and its bytes."""
    parsed: list[bytes] = []
    real = python_ast._symbols

    def counted(source: bytes, as_file: bool) -> bool:
        parsed.append(source)
        return real(source, as_file)

    monkeypatch.setattr(python_ast, "_symbols", counted)
    python_ast._VERDICTS.clear()
    source = DECLARED[0]
    assert python_ast.parses(source) and python_ast.parses(source, as_file=True)
    assert parsed == [source]
    python_ast.parses(DECLARED[3])
    python_ast.parses(DECLARED[3], as_file=True)
    assert parsed == [source, DECLARED[3], DECLARED[3]]  # latin-1: a parse of its own


def _reference_candidates(source: bytes, name: str) -> list[tuple[int, int]]:
    """What ``_binding_candidates`` finds, as the text reading first read it: every mention,
    with a leading lookbehind, less those followed by a dot with no ``import`` before them on
    their logical line (found by walking back over lines ending in a backslash)."""
    found = []
    for m in re.finditer(rb"(?<![\w.])(" + re.escape(name.encode()) + rb")\b([ \t]*\.)?", source):
        start = m.start(1)
        line = source.rfind(b"\n", 0, start) + 1
        while line:
            end = line - 1
            if end and source[end - 1] == 0x0D:
                end -= 1
            if not end or source[end - 1] != 0x5C:
                break
            line = source.rfind(b"\n", 0, end) + 1
        if m.group(2) and not re.compile(rb"(?<![\w.])import\b").search(source, line, start):
            continue
        found.append(m.span(1))
    return found


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["np", "np.", "np .", "import ", "x", ".", " ", "\\\n", "\r\n", "\n", "#", "*", "("]
        ),
        max_size=14,
    ),
    st.sampled_from(["np", "import"]),
)
def test_the_mentions_asked_about_are_those_the_text_reading_asked_about(
    parts: list[str], name: str
) -> None:
    """The mentions are found by patterns that open with the name, not a lookbehind (18x
    faster), and those after an ``import`` on its logical line from the ``import`` words."""
    source = "".join(parts).encode()
    assert facts(source.decode())._binding_candidates(name) == _reference_candidates(source, name)
    plain = re.search(rb"(?<![\w.])" + re.escape(name.encode()) + rb"\b", source) is not None
    assert mentions(source, name) == plain
    assert star_import(source) == (re.search(rb"\bimport[ \t\\\n(]*\*", source) is not None)


@pytest.mark.parametrize(
    "code, star",
    [
        (b"from m import *\n", True),
        (b"from m import (\n    *)\n", True),
        (b"from m import \\\n *\n", True),
        (b"x = 1;import *\n", True),
        (b"ximport *\n", False),
        (b"_import *\n", False),
        (b"1import *\n", False),
        (b".import *\n", True),
    ],
)
def test_a_star_import_is_read_where_the_word_import_begins(code: bytes, star: bool) -> None:
    """``star_import`` reads ``import`` as a word of its own (the literal first, then what
    precedes it), as ``\\bimport`` read it."""
    assert star_import(code) == star
    assert (re.search(rb"\bimport[ \t\\\n(]*\*", code) is not None) == star
