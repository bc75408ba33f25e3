"""A class whose default changed, passed uncalled as a ``pytest.mark.parametrize`` value: the
fix is made at the calls of the parameter that leave the keyword out, where every value of the
parameter takes the same fix there (scikit-learn's tests: ``Est(max_iter=20)`` ->
``Est(max_iter=20, categorical_features=None)``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server import cli
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion
from tests.conftest import fixed

HGB = (
    "import pytest\n"
    "from sklearn.ensemble import HistGradientBoostingClassifier as C\n"
    "from sklearn.ensemble import HistGradientBoostingRegressor as R\n"
    "from sklearn.cluster import KMeans, MiniBatchKMeans\n"
)
NEW = "categorical_features=None"


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base()
    return Detector(kb, {"scikit-learn": LibraryVersion(Version("1.9.1"), "installed")})


@pytest.mark.parametrize(
    "before, after",
    [
        # every call that leaves the keyword out; one that passes it, and comparisons, kept
        (
            "@pytest.mark.parametrize('Est', [C, R])\ndef test(Est):\n"
            "    if Est is C:\n        pass\n"
            "    a = Est(max_iter=20)\n    b = Est(categorical_features=[0])\n"
            "    c = Est().fit(X, y)\n",
            "@pytest.mark.parametrize('Est', [C, R])\ndef test(Est):\n"
            "    if Est is C:\n        pass\n"
            f"    a = Est(max_iter=20, {NEW})\n    b = Est(categorical_features=[0])\n"
            f"    c = Est({NEW}).fit(X, y)\n",
        ),
        # rows of several names, one of them unpacked after the class
        (
            "@pytest.mark.parametrize('Est, X, y', [(C, *data()), (R, X1, y1)])\n"
            "def test(Est, X, y):\n    Est(loss=l).fit(X, y)\n",
            "@pytest.mark.parametrize('Est, X, y', [(C, *data()), (R, X1, y1)])\n"
            f"def test(Est, X, y):\n    Est(loss=l, {NEW}).fit(X, y)\n",
        ),
    ],
)
def test_the_calls_of_the_parameter_are_completed(detector, before, after):
    assert fixed(detector, HGB + before) == HGB + after
    assert [f.record.id for f in detector.detect((HGB + after).encode())] == []


@pytest.mark.parametrize(
    "code, reason",
    [
        # KMeans keeps n_init=10, MiniBatchKMeans n_init=3: no one call serves both
        (
            "@pytest.mark.parametrize('Est', [KMeans, MiniBatchKMeans])\n"
            "def test(Est):\n    Est(n_clusters=2)\n",
            "the values of `Est` take different fixes at its call (line 7)",
        ),
        # a value no record of the keyword flags: the call must work for it as it is
        (
            "@pytest.mark.parametrize('Est', [C, Other])\ndef test(Est):\n    Est()\n",
            "not called here",
        ),
        # the parameter goes on out of sight
        ("@pytest.mark.parametrize('Est', [C, R])\ndef test(Est):\n    check(Est)\n", "not called"),
        # the call unpacks arguments that may hold the keyword
        (
            "@pytest.mark.parametrize('Est', [C, R])\ndef test(Est):\n    Est(**params)\n",
            "unpacks its arguments",
        ),
        # a nested function binding the same name: a use other than a call, so left
        (
            "@pytest.mark.parametrize('Est', [C, R])\ndef test(Est):\n"
            "    def make(Est):\n        return Est()\n    Est(max_iter=1)\n",
            "not called here",
        ),
        # a row whose items are unpacked before the class: its place is unknown
        (
            "@pytest.mark.parametrize('a, Est', [(*p, C), (1, R)])\ndef test(a, Est):\n    Est()\n",
            "not called here",
        ),
    ],
)
def test_left_to_a_person_with_the_reason(detector, code, reason):
    findings = [f for f in detector.detect((HGB + code).encode()) if f.start.line == 4]
    assert findings and all(f.edits is None for f in findings)
    assert all(reason in (f.fix_unavailable or "") for f in findings)
    assert fixed(detector, HGB + code) == HGB + code


def test_cli_writes_the_calls(tmp_path: Path, capsys):
    src = tmp_path / "test_m.py"
    code = (
        "@pytest.mark.parametrize(\r\n    'Est', (C, R)\r\n)\r\ndef test(Est):\r\n"
        "    Est(max_iter=3).fit(X, y)  # kept\r\n"
    )
    src.write_bytes((HGB + code).encode())
    argv = [str(src), "--write", "--no-progress", "--target=scikit-learn==1.9.1"]
    assert cli.main(argv) == 0
    assert src.read_bytes() == (HGB + code.replace("max_iter=3", f"max_iter=3, {NEW}")).encode()
    assert "2 fixed" in capsys.readouterr().out
