"""A from-imported class whose calls a template rewrites: each call through the ``when_passed``
fix its keywords select (``Float64Index(a, dtype="float64")``), so that the import goes with its
last use; an unsafe ``when_passed`` fix keeps the import until unsafe fixes are asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server import cli
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion
from tests.conftest import fixed

ARGS = ["data", "*", "copy", "name"]


def _record(name: str, dtype: str, **safety: str) -> dict:
    keyed = {
        "kind": "template",
        "template": f"{{mod:pandas}}.Index({{0}}{{rest}}, dtype={{kw:dtype|map:{dtype}='{dtype}',"
        f"np.{dtype}=np.{dtype}}})",
        "args": ["data", "*", "dtype", "copy", "name"],
        **safety,
    }
    return {
        "id": f"pd-{name}",
        "library": "pandas",
        "symbol": f"pandas.{name}",
        "kind": "removed",
        "removed_in": "2.0",
        "fix": {
            "kind": "template",
            "template": f"{{mod:pandas}}.Index({{0}}{{rest}}, dtype='{dtype}')",
            "args": ARGS,
            "when_passed": {"dtype": keyed},
        },
        "note": "test record",
        "source": {"url": "https://example.org/notes", "version": "1.0"},
    }


@pytest.fixture(scope="module")
def kb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "pandas.jsonl"
    unsafe = {"applicability": "unsafe", "unsafe_because": "a corner"}
    records = [_record("Float64Index", "float64"), _record("UInt64Index", "uint64", **unsafe)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def detector(kb_path: Path) -> Detector:
    kb = load_knowledge_base([kb_path])
    assert not kb.problems
    return Detector(kb, {"pandas": LibraryVersion(Version("3.0"), "installed")})


def test_the_import_goes_with_calls_that_pass_the_keyword(detector):
    code = (
        "import numpy as np\nimport pandas as pd\nfrom pandas import Float64Index, RangeIndex\n"
        "a = Float64Index([1.0], dtype=np.float64)\nb = Float64Index([2.0], name='b')\n"
    )
    findings = detector.detect(code.encode())
    imported = next(f for f in findings if f.start.line == 2)
    assert imported.fix_unavailable is None and imported.edits is not None
    assert fixed(detector, code) == (
        "import numpy as np\nimport pandas as pd\nfrom pandas import RangeIndex\n"
        "a = pd.Index([1.0], dtype=np.float64)\nb = pd.Index([2.0], name='b', dtype='float64')\n"
    )


def test_a_value_the_map_lacks_keeps_the_import_with_the_reason(detector):
    code = "from pandas import Float64Index\na = Float64Index([1.0], dtype=d)\n"
    imported, call = detector.detect(code.encode())
    assert imported.edits is None and call.edits is None
    assert "no mapping for `dtype=d`" in (imported.fix_unavailable or "")
    assert fixed(detector, code, unsafe=True) == code


def test_an_unsafe_keyword_fix_keeps_the_import_until_unsafe_fixes_are_asked(detector):
    code = "from pandas import UInt64Index\na = UInt64Index([1], dtype='uint64')\n"
    imported = detector.detect(code.encode())[0]
    assert "called with `dtype` (line 2), whose fix is unsafe (a corner)" in (
        imported.fix_unavailable or ""
    )
    assert fixed(detector, code) == code
    assert fixed(detector, code, unsafe=True) == (
        "import pandas\na = pandas.Index([1], dtype='uint64')\n"
    )


def test_cli_writes_the_calls_and_drops_the_import(tmp_path: Path, kb_path: Path, capsys):
    src = tmp_path / "m.py"
    src.write_bytes(
        b"import pandas as pd\r\nfrom pandas import Float64Index\r\n"
        b"a = Float64Index([1.0], dtype='float64')\r\n"
    )
    argv = [str(src), "--write", "--no-progress", "--kb", str(kb_path), "--target=pandas==3.0"]
    assert cli.main(argv) == 0
    assert src.read_bytes() == (b"import pandas as pd\r\na = pd.Index([1.0], dtype='float64')\r\n")
    capsys.readouterr()
