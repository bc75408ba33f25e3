"""A template whose target is the statement: ``df.set_index("a", inplace=True)`` ->
``df = df.set_index("a")`` (pandas' inplace records), made only where the assignment rebinds
what the call read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

KB = load_knowledge_base()
PANDAS_KB = Path(__file__).parents[1] / "dataset" / "kb" / "pandas.jsonl"
HEAD = 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2], "b": [3, None]})\n'


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(KB, {"pandas": LibraryVersion(Version("3.1.1"), "target")})


def fixed(detector: Detector, code: str, *, unsafe: bool = True) -> str:
    result = fix_source(code.encode(), detector, unsafe=unsafe)
    assert result.error is None
    return result.source.decode()


@pytest.mark.parametrize(
    "before, after",
    [
        # at module level, the comment after it kept
        (
            HEAD + 'df.set_index("a", inplace=True)  # keep\n',
            HEAD + 'df = df.set_index("a")  # keep\n',
        ),
        # the other arguments kept, a positional one by name where the new release wants it
        (
            HEAD + "df.sort_values('b', ascending=False, inplace=True, na_position='first')\n",
            HEAD + "df = df.sort_values('b', ascending=False, na_position='first')\n",
        ),
        # in a function that binds the name
        (
            HEAD + "def f(x):\n    d = pd.DataFrame(x)\n    d.dropna(inplace=True)\n",
            HEAD + "def f(x):\n    d = pd.DataFrame(x)\n    d = d.dropna()\n",
        ),
        # its value assigned (pandas' tests: `assert return_value is None`): the name gets the
        # None the call returned, on a line of its own after the comment; line ends kept
        (
            HEAD + "def f(x):\n    d = pd.DataFrame(x)\n    rv = d.set_index(\n"
            "        'a', inplace=True)  # keep\n    assert rv is None\n",
            HEAD + "def f(x):\n    d = pd.DataFrame(x)\n    d = d.set_index('a')  # keep\n"
            "    rv = None\n    assert rv is None\n",
        ),
        (
            HEAD.replace("\n", "\r\n") + "rv = df.dropna(inplace=True)\r\nprint(rv)",
            HEAD.replace("\n", "\r\n") + "df = df.dropna()\r\nrv = None\r\nprint(rv)",
        ),
    ],
)
def test_an_inplace_call_becomes_an_assignment(detector, before, after):
    assert fixed(detector, before) == after


def test_the_assignment_is_unsafe(detector):
    code = HEAD + "df.dropna(inplace=True)\n"
    assert fixed(detector, code, unsafe=False) == code
    (finding,) = [f for f in detector.detect(code.encode()) if f.record.parameter == "inplace"]
    assert "another name of the object" in (finding.fix.unsafe_because or "")


@pytest.mark.parametrize(
    "code, reason",
    [
        (HEAD + "x: object = df.dropna(inplace=True)\n", "its value is used"),
        (HEAD + "x = y = df.dropna(inplace=True)\n", "its value is used"),
        (HEAD + "x = df.dropna(inplace=True); y = x\n", "other code after it"),
        (HEAD + "print(df.dropna(inplace=True))\n", "its value is used"),
        # the function reads the module's df: `df = ...` there would make a local name
        (HEAD + "def f():\n    df.dropna(inplace=True)\n", "not bound in the function"),
        (HEAD + "class K:\n    df.dropna(inplace=True)\n", "not bound in the function"),
        (HEAD + "df.dropna(inplace=flag)\n", "no mapping for `inplace=flag`"),
    ],
)
def test_left_to_a_person_with_the_reason(detector, code, reason):
    findings = [f for f in detector.detect(code.encode()) if f.record.parameter == "inplace"]
    assert findings and all(f.edits is None for f in findings)
    assert reason in (findings[0].fix_unavailable or "")
    assert fixed(detector, code) == code


@pytest.mark.parametrize(
    "template, message",
    [
        ("{self} = {self}.dropna({rest})\n{self}", "one simple statement"),
        ("{self} = ({rest}", "one simple statement"),
    ],
)
def test_a_statement_template_is_checked_on_load(template, message):
    lines = PANDAS_KB.read_text().splitlines()
    raw = json.loads(next(line for line in lines if "DataFrame-dropna-inplace" in line))
    raw["fix"]["template"] = template
    with pytest.raises(RecordError, match=message):
        parse_record(raw)
