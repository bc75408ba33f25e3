"""Template placeholders as operands, and value maps whose values hold commas (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, load_knowledge_base, value_map
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

OPERANDS_KB = Path(__file__).parent / "data" / "fix_kb" / "operands.jsonl"
VERSIONS = {
    "pandas": LibraryVersion(Version("2.0.0"), "installed"),
    "numpy": LibraryVersion(Version("2.0.0"), "installed"),
}


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base([OPERANDS_KB])
    assert not kb.problems
    return Detector(kb, VERSIONS)


def fixed(detector: Detector, code: str) -> str:
    result = fix_source(code.encode(), detector)
    assert result.error is None
    assert result.remaining == []
    return result.source.decode()


OFF = "import pandas as pd\noff = pd.DateOffset(days=1)\n"


@pytest.mark.parametrize(
    "before, after",
    [
        ("n = off.apply(ts)\n", "n = off + ts\n"),
        ("n = off.apply(ts.x[0])\n", "n = off + ts.x[0]\n"),
        # an argument that is not primary is parenthesised where it becomes an operand
        ("n = off.apply(a if c else b)\n", "n = off + (a if c else b)\n"),
        ("n = off.apply(a + b)\n", "n = off + (a + b)\n"),
        ("n = off.apply(-a)\n", "n = off + (-a)\n"),
        ("n = off.apply(lambda: 1)\n", "n = off + (lambda: 1)\n"),
        # ... and the whole rendering where it stands as one
        ("n = off.apply(a + b).day\n", "n = (off + (a + b)).day\n"),
        ("f(off.apply(a), 1)\n", "f(off + a, 1)\n"),
    ],
)
def test_an_argument_becomes_an_operand(detector, before, after):
    assert fixed(detector, OFF + before) == OFF + after


def test_the_same_argument_as_an_operand_and_as_an_argument(detector):
    before = "import numpy as np\nr = np.in1d(a or b, c + d)\n"
    after = "import numpy as np\nr = np.isin(a or b, c + d) == ((c + d) != (a or b))\n"
    assert fixed(detector, before) == after


DF = "import pandas as pd\ndf = pd.DataFrame(d)\n"


@pytest.mark.parametrize(
    "how, new",
    [
        ("'pair'", "(1, 2)"),
        ("'list'", "[0, 1]"),
        ("'s'", "'a,b'"),
        ('"eq"', "x == y"),
    ],
)
def test_a_map_value_may_hold_a_comma(detector, how, new):
    before = DF + f"r = df.old_fill(how={how})\n"
    assert fixed(detector, before) == DF + f"r = df.new_fill({new})\n"


def test_value_map_splits_at_top_level_commas_only():
    assert value_map("a=(1, 2), b='x,y' ,c=") == {"a": "(1, 2)", "b": "'x,y'", "c": ""}
    assert value_map("0=,index=") == {"0": "", "index": ""}
    for bad in ("", "a", "a=1,", "a=(1, 2", "a=1\nb=2", "=1"):
        with pytest.raises(RecordError, match="a value map must be key=value items"):
            value_map(bad)


def test_the_cli_parenthesises_an_operand(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text(OFF + "n = off.apply(a if c else b)\n")
    code = cli.main(
        [str(tmp_path), "--write", "--kb", str(OPERANDS_KB), "--target", "pandas==2.0.0"]
        + ["--no-progress"]
    )
    capsys.readouterr()
    assert code == 0
    assert path.read_text() == OFF + "n = off + (a if c else b)\n"
