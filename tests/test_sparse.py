"""Partial parses (recode.server.sparse) and the detector's shortcuts from the text.

* the outline: each unit it picks parses, within a partial tree, exactly as it does within the
  whole file (same node types, spans and points), over real code (the standard library, the
  repository) with random choices of units;
* the detector: with its shortcuts (the prefilter, uses skipped whose text leads nowhere, partial
  parses) it reports exactly what it reports without any (``prefilter=False``: every file
  parsed whole, every use looked up), edits included, over the knowledge base's examples, the
  bundled project, the standard library with the fuzz records, and byte mutations of them;
* targeted cases: the units of tricky layouts, and the cases where the scan gives up.
"""

from __future__ import annotations

import random
import sysconfig
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.version import Version

import recode.server.detector as detector_module
from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector, Finding
from recode.server.parsing import parse
from recode.server.severity import LibraryVersion
from recode.server.sparse import Outline, outline, parse_ranges
from tests.conftest import DATA, REPO
from tests.test_prefilter import (
    _mutate,
    everything_active,
    example_sources,
    positional_sources,
    project_sources,
    split_chains,
)

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(autouse=True)
def sparse_for_every_size(monkeypatch):
    """Partial parses for small files too, so that the examples exercise them."""
    monkeypatch.setattr(Detector, "sparse_min_bytes", 0)


# -- the outline -------------------------------------------------------------------------------


def _nodes_by_span(tree_root) -> dict[tuple[int, int, str], object]:
    found = {}
    stack = [(tree_root, 0)]
    while stack:
        node, depth = stack.pop()
        found[(node.start_byte, node.end_byte, node.type)] = node
        if depth < 8:
            stack.extend((c, depth + 1) for c in node.children)
    return found


def _statements(parent, depth: int = 0) -> Iterable:
    """The partial tree's statements that must read as in the whole file: top-level ones, and
    in a class or function whose body may be split, its body's statements and its parameters
    (the class or function node itself ends at its last statement parsed)."""
    for node in parent.named_children:
        if node.type == "comment":
            continue
        inner = (
            node.child_by_field_name("definition") if node.type == "decorated_definition" else node
        )
        splittable = inner is not None and (
            (inner.type == "class_definition" and depth == 0)
            or (inner.type == "function_definition" and depth <= 1)
        )
        if not splittable:
            yield node
            continue
        if inner.child_by_field_name("parameters") is not None:
            yield inner.child_by_field_name("parameters")
        body = inner.child_by_field_name("body")
        if body is not None:
            yield from _statements(body, depth + 1)


def check_units(source: bytes, rng: random.Random, picks: int = 4) -> int:
    """Parse a random choice of units; each must read as in the whole file. Units checked."""
    shape = outline(source)
    if shape is None or not source:
        return 0
    full = parse(source)
    if full.root_node.has_error:
        return 0
    positions = [rng.randrange(len(source)) for _ in range(picks)]
    ranges = shape.ranges(positions)
    tree = parse_ranges(source, ranges)
    assert not tree.root_node.has_error
    whole = _nodes_by_span(full.root_node)
    checked = 0
    for node in _statements(tree.root_node):
        same = whole.get((node.start_byte, node.end_byte, node.type))
        assert same is not None, f"no statement {node.type} at {node.start_point} in the file"
        assert str(same) == str(node) and same.start_point == node.start_point
        assert same.end_point == node.end_point
        checked += 1
    return checked


@pytest.mark.slow
def test_units_of_the_standard_library():
    rng = random.Random(11)
    files = sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)
    checked = sum(check_units(p.read_bytes(), rng) for p in files)
    assert checked > 5_000


def test_units_of_this_repository():
    rng = random.Random(5)
    files = sorted((REPO / "server").rglob("*.py")) + sorted((REPO / "tests").glob("test_*.py"))
    checked = sum(check_units(p.read_bytes(), rng, picks=8) for p in files)
    assert checked > 250


def units(code: str, *, at: str | None = None) -> list[str]:
    """The units of ``code``: a split unit as HEADER and its body's units, indented; with
    ``at``, after asking for the ranges of that text's position (which splits functions)."""
    source = textwrap.dedent(code).encode()
    shape = outline(source)
    assert shape is not None
    if at is not None:
        shape.ranges([source.index(at.encode())])
    out: list[str] = []

    def show(unit, level: int) -> None:
        pad = "  " * level
        if unit.body is None:  # each shown without its first line's indentation
            out.append(pad + source[unit.start : unit.end].decode().lstrip(" "))
        else:
            head = source[unit.start : unit.body[0].start].decode().lstrip(" ")
            out.append(pad + "HEADER " + head)
            for inner in unit.body:
                show(inner, level + 1)

    for unit in shape.units:
        show(unit, 0)
    return out


def test_top_level_statements_and_their_clauses():
    assert units(
        """\
        # a comment
        import os
        x = (1,
        2)
        y = 3 \\
        + 4
        try:
            pass
        except ImportError:
            pass
        else:
            pass
        finally:
            pass
        @decorator(
        arg)
        @other
        def f():
            s = '''
        not a statement
        '''
            return s
        """
    ) == [
        "# a comment\nimport os\n",
        "x = (1,\n2)\n",
        "y = 3 \\\n+ 4\n",
        "try:\n    pass\nexcept ImportError:\n    pass\nelse:\n    pass\nfinally:\n    pass\n",
        "@decorator(\narg)\n@other\ndef f():\n    s = '''\nnot a statement\n'''\n    return s\n",
    ]


CLASS = """\
@dataclass
class A(Base):  # a comment
    '''Doc.'''
    x: int = 1
    @property
    async def f(self,
                a=1):
        y = 1
        if y:
            return 2
        return 1
    if X:
        y = 2
    else:
        y = 3
    def g(self): return 4
z = 1
"""


def test_a_class_body_is_split_into_its_statements():
    assert units(CLASS) == [CLASS.removesuffix("z = 1\n"), "z = 1\n"]  # until asked into
    assert units(CLASS, at="x: int") == [
        "HEADER @dataclass\nclass A(Base):  # a comment\n",
        "  '''Doc.'''\n",
        "  x: int = 1\n",
        "  @property\n    async def f(self,\n                a=1):\n        y = 1\n"
        "        if y:\n            return 2\n        return 1\n",
        "  if X:\n        y = 2\n    else:\n        y = 3\n",
        "  def g(self): return 4\n",
        "z = 1\n",
    ]


def test_a_function_is_split_when_a_position_in_it_is_asked_for():
    assert units(CLASS, at="return 2")[3:7] == [
        "  HEADER @property\n    async def f(self,\n                a=1):\n",
        "    y = 1\n",
        "    if y:\n            return 2\n",
        "    return 1\n",
    ]
    source = textwrap.dedent(CLASS).encode()
    shape = outline(source)
    assert shape is not None
    ranges = shape.ranges([source.index(b"return 2")])
    assert b"".join(source[a:b] for a, b in ranges) == (
        b"@dataclass\nclass A(Base):  # a comment\n"
        b"    '''Doc.'''\n"  # the file's first statement, at least
        b"    @property\n    async def f(self,\n                a=1):\n"
        b"        if y:\n            return 2\n"
    )
    assert shape.function_end(source.index(b"async def")) == source.index(b"    if X")


def test_a_one_line_class_is_one_unit():
    assert units("class A: pass\nx = 1\n") == ["class A: pass\n", "x = 1\n"]


@pytest.mark.parametrize(
    "code",
    [
        "x = 'unterminated\ny = 1\n",
        "x = '''never closed\ny = 1\n",
        "x = (1,\ny = 2\n",
        "x = 1)\n",
        "  x = 1\ny = 2\n",
        "x = 1\r\ny = 2\rz = 3\n",
        "x = 1\n\x0cy = 2\n",
    ],
)
def test_the_scan_gives_up_where_unsure(code):
    assert outline(code.encode()) is None


def test_ranges_keep_the_statements_around_imports():
    source = b'"""Doc."""\nimport a\nx = 1\ny = 2\nimport b\nz = 3\nw = 4\n'
    shape = outline(source)
    assert isinstance(shape, Outline)
    imports = [source.index(b"import a"), source.index(b"import b")]
    parts = [source[a:b] for a, b in shape.ranges([], imports=imports)]
    # the docstring, each import and the statement after it: where an added import would go
    assert parts == [b'"""Doc."""\nimport a\nx = 1\n', b"import b\nz = 3\n"]


def test_import_keywords_outside_strings_and_comments():
    source = (
        b'import os\nx = "import y"  # import z (a bracket)\ns = """\nimport q\n"""; '
        b'exec("a\\n" + "import w")\nreimport = importlib\nfrom a import b\n'
    )
    shape = outline(source)
    assert shape is not None
    assert shape.keywords(b"import") == [0, source.index(b"import b")]


def test_logical_lines():
    source = b"x = 1\nfrom a \\\n    import (b,\n  c)  # (\ny = '''\n(\n'''\n"
    shape = outline(source)
    assert shape is not None
    start, end = shape.logical_line(source.index(b"import"))
    assert source[start:end] == b"from a \\\n    import (b,\n  c)  # ("
    start, end = shape.logical_line(source.index(b"y ="))
    assert source[start:end] == b"y = '''\n(\n'''"


def test_nested_imports_of_untracked_modules_are_not_parsed(monkeypatch):
    """A function whose only import is of an untracked module is not parsed for it."""
    calls: list[bytes] = []
    real = detector_module.sparse.parse_ranges

    def recording(source: bytes, ranges: list[tuple[int, int]]):
        calls.append(b"".join(source[a:b] for a, b in ranges))
        return real(source, ranges)

    monkeypatch.setattr(detector_module.sparse, "parse_ranges", recording)
    source = textwrap.dedent(
        """\
        import os
        import numpy as np
        x = 1

        def untracked():
            import json
            return json.dumps(1)

        def tracked():
            from numpy import float_
            return float_

        def uses():
            return np.float_(1)
        """
    ).encode()
    found = everything_active().detect(source)
    assert [(f.record.path, f.start.line) for f in found] == [
        ("numpy.float_", 9),
        ("numpy.float_", 10),
        ("numpy.float_", 13),
    ]
    assert len(calls) == 1
    assert b"def tracked" in calls[0] and b"def uses" in calls[0]
    assert b"def untracked" not in calls[0]


def test_a_rebinding_after_the_part_parsed_still_counts():
    """``np`` assigned further down the function makes it a local name throughout: the part
    of the function parsed ends before that assignment, and the finding must still go."""
    source = textwrap.dedent(
        """\
        import numpy as np
        z = 0

        def f():
            x = np.float_(1)
            y = 2
            np = None
            return x, y, np

        def g():
            return np.float_(2)
        """
    ).encode()
    detector = everything_active()
    found = detector.detect(source)
    assert [f.start.line for f in found] == [10]
    assert [_key(f) for f in found] == [_key(f) for f in detector.detect(source, prefilter=False)]


# -- the detector with and without its shortcuts -----------------------------------------------


def _key(f: Finding) -> tuple:
    return (
        f.record.id,
        f.start_byte,
        f.end_byte,
        f.start,
        f.end,
        f.severity,
        f.confidence,
        f.message,
        tuple(f.edits) if f.edits is not None else None,
    )


def same_findings(detector: Detector, sources: Iterable[bytes]) -> int:
    """Assert the shortcuts change nothing over ``sources``; the number of findings."""
    total = 0
    for source in sources:
        reference = [_key(f) for f in detector.detect(source, prefilter=False)]
        assert [_key(f) for f in detector.detect(source)] == reference, source.decode(
            "utf-8", "replace"
        )[:3000]
        total += len(reference)
    return total


def test_knowledge_base_examples_and_project():
    assert same_findings(everything_active(), example_sources() + project_sources()) > 1000


def test_values_passed_by_position():
    assert same_findings(everything_active(), positional_sources()) > 100


def test_a_large_project_file_is_parsed_in_part(monkeypatch):
    """The shortcut is taken (not always falling back to a whole parse) on real code."""
    monkeypatch.setattr(Detector, "sparse_min_bytes", 4096)
    detector = everything_active()
    calls: list[int] = []
    real = detector_module.sparse.parse_ranges

    def counting(source: bytes, ranges: list[tuple[int, int]]):
        calls.append(sum(b - a for a, b in ranges))
        return real(source, ranges)

    monkeypatch.setattr(detector_module.sparse, "parse_ranges", counting)
    source = (
        b"import numpy as np\n"
        + b"\n".join(f"def f{i}(x):\n    return np.zeros(x) + {i}\n".encode() for i in range(300))
        + b"\ndef g():\n    return np.float_(1)\n"
    )
    found = detector.detect(source)
    assert [f.record.path for f in found] == ["numpy.float_"]
    assert calls and max(calls) < len(source) / 10


@pytest.mark.timeout(30)
def test_a_name_broken_code_leaves_empty_is_no_endless_search():
    """A mutant of an example (found by test_mutated_examples): tree-sitter's recovery binds a
    typed name with no text, whose reference pattern matched the empty string at the same offset
    forever; the language server's analysis of code being typed would never have returned."""
    source = (
        b"import pandas as pd\n= pd.DataFrame({'a': [1, 2, 3, 4, 5, 6]}, "
        b"index=pd.date_range('2020-01-01', periods=6, freq='D'))\nres\n = df.shift(1, freq='D')\n"
    )
    detector = everything_active()
    assert detector.detect(source, prefilter=False) == detector.detect(source)


def test_mutated_examples():
    rng = random.Random(20261123)
    base = [s for s in example_sources() + project_sources() if len(s) < 6000]
    mutants = [_mutate(rng.choice(base), rng) for _ in range(3000)]
    mutants += [split_chains(rng.choice(base), rng) for _ in range(1000)]
    # how many mutants took the partial-parse path and were compared (about a quarter: the
    # share moves with the knowledge base's examples, which the mutants are made from)
    assert same_findings(everything_active(), mutants) > 900


def test_chains_across_lines_find_what_one_line_finds():
    """Every example that parses, with some of its dotted chains (imports included) split
    across lines: the same findings, record by record."""
    rng = random.Random(20261207)
    detector = everything_active()
    compared = 0
    for source in example_sources() + project_sources():
        if parse(source).root_node.has_error:
            continue
        split = split_chains(source, rng)
        if split == source or parse(split).root_node.has_error:
            continue  # tree-sitter's own limit (below), not the detector's
        expected = sorted(f.record.id for f in detector.detect(source))
        assert sorted(f.record.id for f in detector.detect(split)) == expected, split.decode()
        compared += bool(expected)
    assert compared > 1000


@pytest.mark.xfail(strict=True, reason="tree-sitter-python reads a dedent after a trailing dot")
def test_a_chain_split_by_a_dedented_line_in_brackets():
    """Valid Python that tree-sitter-python misreads: inside brackets, a line after a trailing
    dot indented less than the block ends the block in its tree (an ERROR node), so the
    statement's findings are lost. Python's tokenizer ignores indentation inside brackets."""
    source = b"import numpy as np\ndef f(arr):\n    arr[np.\nisnan(arr)] = np.NaN\n"
    assert not parse(source).root_node.has_error
    assert [f.record.id for f in everything_active().detect(source)] == ["numpy-2.0-NaN"]


@pytest.mark.slow
def test_standard_library_with_synthetic_records():
    kb = load_knowledge_base([DATA / "kb" / "fuzz.jsonl"])
    v = LibraryVersion(Version("1.0"), "installed")
    detector = Detector(kb, dict.fromkeys(("os", "re", "sys", "collections"), v))
    files = sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)
    sources = [p.read_bytes() for p in files]
    rng = random.Random(8)
    sources += [_mutate(rng.choice(sources), rng) for _ in range(300)]
    assert same_findings(detector, sources) > 1000


@pytest.mark.slow
def test_dataset_examples():
    from tests.test_prefilter import dataset_sources

    assert same_findings(everything_active(), dataset_sources()) > 1000


def test_an_import_joined_to_the_line_above_is_parsed():
    """regression (found by test_mutated_examples): ``from m`` and an indented ``import x`` on
    the next line, broken code that tree-sitter reads as one import, were one unit whose import
    keyword the partial parse left out (its line starts indented), so the finding was lost."""
    source = b"from scrapy.utils.python\n import is_writable\nok = is_writable('/tmp/ouQ')\n"
    detector = everything_active()
    whole = [_key(f) for f in detector.detect(source, prefilter=False)]
    assert [k[0] for k in whole] == ["scrapy-2.0-is_writable"] * 2
    assert [_key(f) for f in detector.detect(source)] == whole


def test_a_definition_after_leading_comments_is_one():
    from recode.server import sparse

    source = b"# header\n\n@decorate\ndef f():\n    import numpy as np\n"
    unit = sparse.outline(source).units[0]
    assert sparse.defines(source, unit)
    assert not sparse.defines(
        b"# header\nx = f(\n    1)\n", sparse.outline(b"# header\nx = f(\n    1)\n").units[0]
    )
