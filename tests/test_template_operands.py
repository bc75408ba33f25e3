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
    before = "import numpy as np\nr = np.in1d(a.x, c[0])\n"
    after = "import numpy as np\nr = np.isin(a.x, c[0]) == (c[0] != a.x)\n"
    assert fixed(detector, before) == after
    # an operator expression written twice would be evaluated twice: left, with the reason
    result = fix_source(b"import numpy as np\nr = np.in1d(a or b, c + d)\n", detector)
    assert result.source == b"import numpy as np\nr = np.in1d(a or b, c + d)\n"
    assert "would be evaluated 2 times" in (result.remaining[0].fix_unavailable or "")


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


SK = {"scikit-learn": LibraryVersion(Version("1.2.0"), "installed")}


@pytest.mark.parametrize(
    "before, after",
    [
        # the new name of the same module takes the old one's place in its import line
        (
            "from sklearn.metrics import plot_confusion_matrix, accuracy_score  # m\n"
            "plot_confusion_matrix(clf, X, y)\n",
            "from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score  # m\n"
            "ConfusionMatrixDisplay.from_estimator(clf, X, y)\n",
        ),
        (
            "from sklearn.metrics import (\n    plot_confusion_matrix as pcm,\n)\n"
            "pcm(clf, X, y_true=y, cmap='Blues')\npcm(clf, X, y)\n",
            "from sklearn.metrics import (\n    ConfusionMatrixDisplay,\n)\n"
            "ConfusionMatrixDisplay.from_estimator(clf, X, y, cmap='Blues')\n"
            "ConfusionMatrixDisplay.from_estimator(clf, X, y)\n",
        ),
        (
            "from sklearn import metrics\nmetrics.plot_confusion_matrix(clf, X, y)\n",
            "from sklearn import metrics\nmetrics.ConfusionMatrixDisplay.from_estimator(clf, X, y)\n",
        ),
    ],
)
def test_a_call_whose_import_changes_with_it(before, after):
    kb = load_knowledge_base([OPERANDS_KB])
    assert fixed(Detector(kb, SK), before) == after


def test_a_use_other_than_a_call_keeps_the_import_and_the_calls_are_rewritten():
    kb = load_knowledge_base([OPERANDS_KB])
    before = "from sklearn.metrics import plot_confusion_matrix\nf = plot_confusion_matrix\n"
    before += "plot_confusion_matrix(clf, X, y)\n"
    result = fix_source(before.encode(), Detector(kb, SK))
    assert result.source.decode() == (
        "from sklearn.metrics import plot_confusion_matrix\n"
        "from sklearn.metrics import ConfusionMatrixDisplay\n"
        "f = plot_confusion_matrix\nConfusionMatrixDisplay.from_estimator(clf, X, y)\n"
    )
    assert {f.fix_unavailable for f in result.remaining} >= {
        "`plot_confusion_matrix` is used other than in a call (line 3), which the fix cannot "
        "rewrite, so its import stays"
    }
