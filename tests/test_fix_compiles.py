"""A fix never turns code that CPython compiles into code it refuses after the parse.

``ast.parse`` accepts ``f(a=1, a=2)``; only the compiler refuses it ("keyword argument
repeated"). A template that writes a keyword the call already passes (a record whose template
adds ``scale=`` while ``{rest}`` still holds the call's own ``scale=``) made such code, and the
parse check let it through to ``--write``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source, parses
from recode.server.fixes.python_ast import keeps_compiling
from recode.server.severity import LibraryVersion

# the template writes scale= and its {rest} keeps the call's own scale=: a keyword twice
RECORD = {
    "id": "sp-mad-twice",
    "library": "scipy",
    "symbol": "scipy.stats.median_absolute_deviation",
    "kind": "removed",
    "removed_in": "1.9",
    "fix": {
        "kind": "template",
        "template": "{mod:scipy.stats.median_abs_deviation}({0}{rest}, scale=1.0)",
        "args": ["x", "axis", "center", "scale", "nan_policy"],
    },
    "note": "test record",
    "source": {"url": "https://example.org/notes", "version": "1.9"},
}
OLD = "from scipy import stats\n\nm = stats.median_absolute_deviation([1.0, 2.0], scale=2.0)\n"


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    path = tmp_path / "kb.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    return path


def test_the_keyword_given_twice_parses_but_does_not_compile():
    code = b"f(x, scale=2.0, scale=1.0)\n"
    assert parses(code)  # what the parse check alone accepted
    assert not keeps_compiling(b"f(x, scale=2.0)\n", code)
    assert keeps_compiling(b"f(x, scale=2.0)\n", b"g(x, scale=2.0)\n")


def test_code_that_did_not_compile_before_is_left_to_the_parse_check():
    before = b"def f(a, a):\n    return a\n"  # a repeated parameter: compiled by no one
    assert parses(before)
    assert keeps_compiling(before, b"def f(a, a):\n    return a + 1\n")


def test_a_top_level_await_compiles_as_a_notebook_holds_it():
    cell = b"import asyncio\nawait asyncio.sleep(0)\n"
    assert keeps_compiling(cell, cell + b"x = 1\n")


def test_compiler_warnings_are_not_shown(capfd):
    code = b"x = 1\nif x is 'a':\n    pass\n"
    assert keeps_compiling(code, code + b"y = 2\n")
    assert "SyntaxWarning" not in capfd.readouterr().err


def test_fix_source_refuses_the_fix_and_says_why(kb_path):
    kb = load_knowledge_base([kb_path])
    assert not kb.problems
    detector = Detector(kb, {"scipy": LibraryVersion(Version("1.9"), "installed")})
    result = fix_source(OLD.encode(), detector)
    assert result.error is not None and "does not compile" in result.error
    assert result.source == OLD.encode()
    assert not result.fixed
    assert [f.record.id for f in result.remaining] == ["sp-mad-twice"]


def test_write_leaves_the_file_as_it_was(tmp_path, kb_path, capsys):
    target = tmp_path / "mad.py"
    target.write_bytes(OLD.encode())
    code = cli.main(
        [str(target), "--write", "--kb", str(kb_path), "--target", "scipy==1.9", "--no-progress"]
    )
    out, err = capsys.readouterr()
    assert target.read_bytes() == OLD.encode()
    assert "does not compile" in out + err
    assert code != 0
