"""A ``when_passed`` fix chosen by a keyword's value (``axis=1``, ``axis="columns"``), and a
template's ``{then}``: the call with the method called on its result at once
(``df.groupby(level=0, axis=1).mean()`` -> ``df.T.groupby(level=0).mean().T``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, _parse_fix, load_knowledge_base
from recode.server import cli
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion
from tests.conftest import fixed

TRANSPOSED = {
    "kind": "template",
    "template": "{self}.T.groupby{kw:axis|map:1=,columns=}({rest}){then}.T",
    "args": ["*", "axis", "level", "sort"],
    "then": ["mean", "size"],
}
RECORD = {
    "id": "pd-groupby-axis",
    "library": "pandas",
    "symbol": "pandas.DataFrame.groupby(axis)",
    "kind": "signature",
    "removed_in": "3.0",
    "fix": {
        "kind": "template",
        "template": "{self}.groupby{kw:axis|map:0=,index=}({rest})",
        "args": ["by", "axis", "level", "sort"],
        "when_passed": {"axis=1": TRANSPOSED, "axis=columns": TRANSPOSED},
    },
    "note": "test record",
    "source": {"url": "https://example.org/notes", "version": "3.0"},
}
DF = "import pandas as pd\ndf = pd.DataFrame({'a': [1.0]})\n"


@pytest.fixture(scope="module")
def kb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "pandas.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    return path


@pytest.fixture(scope="module")
def detector(kb_path: Path) -> Detector:
    kb = load_knowledge_base([kb_path])
    assert not kb.problems
    return Detector(kb, {"pandas": LibraryVersion(Version("3.0"), "installed")})


@pytest.mark.parametrize(
    "before, after",
    [
        # the value as written, or a string's text, selects the fix
        ("m = df.groupby(level=0, axis=1).mean()\n", "m = df.T.groupby(level=0).mean().T\n"),
        (
            "m = df.groupby(axis='columns', level=1, sort=False).mean()\n",
            "m = df.T.groupby(level=1, sort=False).mean().T\n",
        ),
        # the method's arguments as written; the result an operand
        (
            "m = 2 * df.groupby(level=0, axis=1).size( ) + 1\n",
            "m = 2 * df.T.groupby(level=0).size( ).T + 1\n",
        ),
        # another value keeps the record's own fix
        ("g = df.groupby('a', axis=0)\n", "g = df.groupby('a')\n"),
    ],
)
def test_the_keyword_value_selects_the_fix_and_then_takes_the_method(detector, before, after):
    assert fixed(detector, DF + before) == DF + after


@pytest.mark.parametrize(
    "code, reason",
    [
        # a method the fix does not list, or the result used otherwise
        ("m = df.groupby(level=0, axis=1).sum()\n", "one of `mean`, `size`"),
        ("g = df.groupby(level=0, axis=1)\n", "here the result is used otherwise"),
        ("m = df.groupby(level=0, axis=1).mean\n", "here the result is used otherwise"),
        # an argument the transposed fix has no place for (a grouping by row labels)
        ("m = df.groupby([0, 0], axis=1).mean()\n", "with `axis=1`: the call passes more"),
        ("m = df.groupby(by=f, axis='columns').mean()\n", "with `axis=columns`: the replacement"),
        # a value no key names: the record's own fix, which has no mapping for it
        ("m = df.groupby(level=0, axis=a).mean()\n", "no mapping for `axis=a`"),
    ],
)
def test_left_to_a_person_with_the_reason(detector, code, reason):
    (finding,) = detector.detect((DF + code).encode())
    assert finding.edits is None
    assert reason in (finding.fix_unavailable or "")
    assert fixed(detector, DF + code) == DF + code


@pytest.mark.parametrize(
    "fix, message",
    [
        ({**TRANSPOSED, "then": []}, "fix.then lists"),
        ({**TRANSPOSED, "then": ["mean()"]}, "fix.then lists"),
        ({**TRANSPOSED, "template": "{self}.T.groupby({rest}).T"}, "fix.then lists"),
        ({**TRANSPOSED, "template": "{self}.T.groupby({rest}){then}{then}"}, "fix.then lists"),
        ({**TRANSPOSED, "template": "{self}.T.groupby({rest}){then|map:a=b}"}, "{then} is not"),
        ({"kind": "keyword_drop", "then": ["mean"]}, "belongs to a template fix"),
        ({"kind": "keyword_drop", "when_passed": {"axis=": TRANSPOSED}}, "map keyword names"),
    ],
)
def test_then_and_keyed_values_are_validated_on_load(fix, message):
    with pytest.raises(RecordError, match=message):
        _parse_fix(fix, "axis")


def test_cli_writes_the_transposed_call(tmp_path: Path, kb_path: Path, capsys):
    src = tmp_path / "m.py"
    src.write_bytes((DF + "m = df.groupby(level=0, axis=1).mean()  # kept\r\n").encode())
    argv = [str(src), "--write", "--no-progress", "--kb", str(kb_path), "--target=pandas==3.0"]
    assert cli.main(argv) == 0
    assert src.read_bytes() == (DF + "m = df.T.groupby(level=0).mean().T  # kept\r\n").encode()
    assert "1 fixed" in capsys.readouterr().out
