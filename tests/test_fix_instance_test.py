"""A class's ``instance_test`` fix: ``isinstance(obj, Old)``, alone or in a tuple of classes,
rewritten as the record's test of the object, and a from-import dropped with its last use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion
from tests.conftest import fixed

TEST_F = "isinstance({0}, {mod:pandas}.Index) and {0}.dtype.kind == 'f'"
TEST_I = "isinstance({0}, {mod:pandas}.Index) and {0}.dtype.kind == 'i'"


def _record(name: str, test: str, **safety: str) -> dict:
    return {
        "id": f"pd-{name}",
        "library": "pandas",
        "symbol": f"pandas.{name}",
        "kind": "removed",
        "removed_in": "2.0",
        "fix": {
            "kind": "template",
            "template": "{mod:pandas}.Index({0}{rest}, dtype='float64')",
            "args": ["data", "*", "copy", "name"],
            "instance_test": {"kind": "template", "template": test, "args": ["obj"], **safety},
        },
        "note": "test record",
        "source": {"url": "https://example.org/notes", "version": "1.0"},
    }


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    path = tmp_path_factory.mktemp("kb") / "pandas.jsonl"
    unsafe = {"applicability": "unsafe", "unsafe_because": "a RangeIndex"}
    records = [_record("Float64Index", TEST_F), _record("Int64Index", TEST_I, **unsafe)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    kb = load_knowledge_base([path])
    assert not kb.problems
    return Detector(kb, {"pandas": LibraryVersion(Version("3.0"), "installed")})


TEST_X = "isinstance(x, pd.Index) and x.dtype.kind == 'f'"


@pytest.mark.parametrize(
    "before, after",
    [
        # where any expression fits: a condition, an assignment, an argument
        (
            "import pandas as pd\nif isinstance(x, pd.Float64Index):\n    pass\n",
            f"import pandas as pd\nif {TEST_X}:\n    pass\n",
        ),
        (
            "import pandas as pd\nok = isinstance(x, pd.Float64Index)\n",
            f"import pandas as pd\nok = {TEST_X}\n",
        ),
        # an operand: parenthesised
        (
            "import pandas as pd\nassert not isinstance(x, pd.Float64Index), 'no'\n",
            f"import pandas as pd\nassert not ({TEST_X}), 'no'\n",
        ),
        # an attribute chain is read as often as the test needs
        (
            "import pandas as pd\nok = isinstance(df.index, pd.Float64Index)\n",
            "import pandas as pd\n"
            "ok = isinstance(df.index, pd.Index) and df.index.dtype.kind == 'f'\n",
        ),
        # ... and so is a subscript by a literal key
        (
            "import pandas as pd\nok = isinstance(mi.levels[-1], pd.Float64Index)\n",
            "import pandas as pd\n"
            "ok = isinstance(mi.levels[-1], pd.Index) and mi.levels[-1].dtype.kind == 'f'\n",
        ),
        # in a tuple: the other classes kept, in their order
        (
            "import pandas as pd\nok = isinstance(x, (pd.RangeIndex, pd.Float64Index, str))\n",
            f"import pandas as pd\nok = isinstance(x, (pd.RangeIndex, str)) or {TEST_X}\n",
        ),
        (
            "import pandas as pd\nok = isinstance(x, (pd.Float64Index, pd.RangeIndex))\n",
            f"import pandas as pd\nok = isinstance(x, pd.RangeIndex) or {TEST_X}\n",
        ),
        # the last use of a from-imported class rewritten: its import item goes, the rest kept
        (
            "import pandas as pd\nfrom pandas import (Float64Index,\n    RangeIndex)  # kept\n"
            "ok = isinstance(x, Float64Index)\ny = Float64Index([1.0])\n",
            "import pandas as pd\nfrom pandas import (RangeIndex)  # kept\n"
            f"ok = {TEST_X}\ny = pd.Index([1.0], dtype='float64')\n",
        ),
    ],
)
def test_isinstance_rewritten_as_the_records_test(detector, before, after):
    assert fixed(detector, before) == after


def test_two_classes_of_one_tuple_are_rewritten_one_after_the_other(detector):
    code = "import pandas as pd\nok = isinstance(x, (pd.Float64Index, pd.Int64Index))\n"
    test_i = "isinstance(x, pd.Index) and x.dtype.kind == 'i'"
    # without unsafe fixes, only the safe class's test
    assert fixed(detector, code) == (
        f"import pandas as pd\nok = isinstance(x, pd.Int64Index) or {TEST_X}\n"
    )
    # ``and`` as an operand of ``or`` needs no parentheses
    assert fixed(detector, code, unsafe=True) == (
        f"import pandas as pd\nok = {test_i} or {TEST_X}\n"
    )


def test_an_unsafe_test_keeps_the_import_until_unsafe_fixes_are_asked(detector):
    code = "from pandas import Int64Index\nok = isinstance(x, Int64Index)\n"
    findings = detector.detect(code.encode())
    imported = next(f for f in findings if f.start_byte < code.index("\n"))
    assert imported.edits is None
    assert "tested with `isinstance` (line 2), whose fix is unsafe (a RangeIndex)" in (
        imported.fix_unavailable or ""
    )
    assert fixed(detector, code) == code
    assert fixed(detector, code, unsafe=True) == (
        "import pandas\nok = isinstance(x, pandas.Index) and x.dtype.kind == 'i'\n"
    )


@pytest.mark.parametrize(
    "code, reason",
    [
        (
            "import pandas as pd\nok = isinstance(f(x), pd.Float64Index)\n",
            "`f(x)` would be evaluated more than once",
        ),
        (
            "import pandas as pd\nok = isinstance(mi.levels[k], pd.Float64Index)\n",
            "`mi.levels[k]` would be evaluated more than once",
        ),
        ("import pandas as pd\nok = issubclass(t, pd.Float64Index)\n", "not called here"),
    ],
)
def test_an_instance_test_it_cannot_make_is_left_with_the_reason(detector, code, reason):
    (finding,) = detector.detect(code.encode())
    assert finding.edits is None
    assert reason in (finding.fix_unavailable or "")
    assert fixed(detector, code, unsafe=True) == code


@pytest.mark.parametrize(
    "test",
    [
        {"kind": "template", "template": "{0}.dtype.kind == 'f'", "args": ["obj", "other"]},
        {"kind": "template", "template": "f({0}{rest})", "args": ["obj"]},
        {"kind": "rename", "to": "pandas.Index"},
    ],
)
def test_an_instance_test_is_checked_on_load(tmp_path: Path, test: dict):
    record = _record("Float64Index", TEST_F)
    record["fix"]["instance_test"] = test
    path = tmp_path / "pandas.jsonl"
    path.write_text(json.dumps(record) + "\n")
    kb = load_knowledge_base([path])
    assert any("instance_test" in str(p) for p in kb.problems)
