"""Subscript records (``key``, ``made_with``): ``s[0]`` on a pandas Series whose index is
evidently not integer, which pandas 3.0 reads as a label (KeyError) where 2.x fell back to the
position; fixed as ``s.iloc[0]``. Where the index is not evident, nothing is reported."""

from __future__ import annotations

import textwrap

import pytest

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server import cli
from recode.server.detector import Detector
from tests.conftest import versions
from tests.test_detector import found

KB = load_knowledge_base()
GET = "pandas-3.0-Series-getitem-positional"
SET = "pandas-3.0-Series-setitem-positional"
HEAD = "import pandas as pd\n"
DATES = "s = pd.Series([1.0, 2.0, 3.0], index=pd.date_range('2000-01-01', periods=3))\n"


@pytest.fixture
def pandas3() -> Detector:
    return Detector(KB, versions(pandas="3.1.1", numpy="2.4.0"))


@pytest.mark.parametrize(
    "code, expected",
    [
        # a DatetimeIndex from a factory: the integer is a position in 2.x, a label in 3.x
        (
            HEAD + DATES + "a = s[0]\nb = s[-1]\nc = s[ - 1 ]\n",
            [(3, GET, "s[0]"), (4, GET, "s[-1]"), (5, GET, "s[ - 1 ]")],
        ),
        # string labels; and the index given through a name of evident class
        (
            HEAD + "t = pd.Series([1, 2], index=['a', 'b'])\nprint(t[1])\n",
            [(3, GET, "t[1]")],
        ),
        (
            HEAD
            + "idx = pd.date_range('2000', periods=2)\n"
            + "u = pd.Series([1, 2], index=idx)\nx = u[0]\n",
            [(4, GET, "u[0]")],
        ),
        (
            HEAD + "v = pd.Series([1], index=pd.DatetimeIndex(['2000-01-01']))\nv[0]\n",
            [(3, GET, "v[0]")],
        ),
        # an assignment's target is __setitem__ (3.x adds a row labelled 0)
        (HEAD + DATES + "s[0] = 5.0\ns[-1] += 1\n", [(3, SET, "s[0]"), (4, SET, "s[-1]")]),
        # a class body, as empyrical's tests write it, read in a decorator's argument
        (
            HEAD
            + "class T:\n"
            + "    one = pd.Series([0.01], index=pd.date_range('2000-1-30', periods=1))\n"
            + "    cases = [(one, 0, one[0])]\n",
            [(4, GET, "one[0]")],
        ),
        # slices stay positional in pandas 3; labels, names, iloc and other keys are no change
        (HEAD + DATES + "s[1:3]\ns[-2:]\ns.iloc[0]\ns['2000-01-01']\ns[i]\ns[0, 1]\n", []),
        (HEAD + DATES + "del s[0]\ns.__getitem__(0)\n", []),
        # an integer index (the default RangeIndex, integer or float labels): s[0] is a label
        # in every release, nothing changed
        (HEAD + "s = pd.Series([1.0, 2.0])\ns[0]\n", []),
        (HEAD + "s = pd.Series([1.0, 2.0], index=[3, 4])\ns[0]\n", []),
        (HEAD + "s = pd.Series([1.0, 2.0], index=[0.5, 1.5])\ns[0]\n", []),
        # an index the code does not show
        (HEAD + "s = pd.Series([1.0, 2.0], index=labels)\ns[0]\n", []),
        (HEAD + "s = pd.Series({'a': 1.0})\ns[0]\n", []),
        (HEAD + "def f(s):\n    return s[0]\n", []),
        # an index changed after the constructor: not what the call says any more
        (HEAD + DATES + "s.index = range(3)\ns[0]\n", []),
        (
            HEAD + DATES + "s.reset_index(drop=True, inplace=True)\ns[0]\n",
            [(3, "pandas-3.1-Series-reset_index-inplace", "inplace=True")],
        ),
        # rebound to something else
        (HEAD + DATES + "s = [1, 2]\ns[0]\n", []),
    ],
)
def test_findings(pandas3, code, expected):
    assert found(pandas3, code) == expected


def test_messages_and_severity(pandas3):
    src = (HEAD + DATES + "x = s[0]\ns[1] = 2.0\n").encode()
    get, put = pandas3.detect(src)
    assert (get.severity, put.severity) == ("error", "warning")  # KeyError; a row added
    assert get.message == (
        "`pandas.Series.__getitem__` with an integer key (`s[0]`) changed its signature in "
        "pandas 3.0.0 (this environment has pandas 3.1.1). Use s.iloc[0] (by position); "
        "s.loc[label] (by label)."
    )
    # before 3.0 it still works, with pandas' FutureWarning: a warning, deprecated since 2.1
    (old,) = Detector(KB, versions(pandas="2.2.3")).detect((HEAD + DATES + "s[0]\n").encode())
    assert (old.severity, old.record.id) == ("warning", GET)
    assert "is deprecated since pandas 2.1.0 and goes in 3.0.0" in old.message
    assert Detector(KB, versions(pandas="2.0.3")).detect((HEAD + DATES + "s[0]\n").encode()) == []


def test_fix_through_the_cli(tmp_path, capsys):
    path = tmp_path / "prices.py"
    path.write_text(
        textwrap.dedent(
            """\
            import pandas as pd

            prices = pd.Series([1.0, 2.5], index=pd.date_range("2024-01-01", periods=2))
            first, last = prices[0], prices[-1]  # by position
            prices[0] = 0.5
            window = prices[0:1]
            plain = pd.Series([1.0, 2.0])
            print(first, last, plain[0])
            """
        )
    )
    code = cli.main([str(path), "--write", "--target", "pandas==3.1.1", "--no-progress"])
    assert code == 0, capsys.readouterr()
    assert path.read_text() == textwrap.dedent(
        """\
        import pandas as pd

        prices = pd.Series([1.0, 2.5], index=pd.date_range("2024-01-01", periods=2))
        first, last = prices.iloc[0], prices.iloc[-1]  # by position
        prices.iloc[0] = 0.5
        window = prices[0:1]
        plain = pd.Series([1.0, 2.0])
        print(first, last, plain[0])
        """
    )


def _raw(**changes: object) -> dict:
    raw = {
        "id": "x",
        "library": "pandas",
        "symbol": "pandas.Series.__getitem__",
        "kind": "signature",
        "changed_in": "3.0.0",
        "note": "n",
        "source": {"url": "https://pandas.pydata.org/docs/whatsnew/v3.0.0.html", "version": "3"},
        "key": "int",
    }
    return {**raw, **changes}


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"key": "slice"}, "key must be one of int"),
        ({"symbol": "pandas.Series.head"}, "key applies only to a Class.__getitem__"),
        ({"made_with": {"index": []}}, "made_with must map keyword names"),
        ({"made_with": ["index"]}, "made_with must map keyword names"),
        ({"key": None, "made_with": {"index": ["str"]}}, "made_with applies only to a record"),
    ],
)
def test_bad_subscript_records(changes, error):
    with pytest.raises(RecordError, match=error):
        parse_record({k: v for k, v in _raw(**changes).items() if v is not None})


def test_record_fields_load():
    record = parse_record(_raw(made_with={"index": ["pandas.DatetimeIndex", "str"]}))
    assert (record.key, record.made_with) == ("int", (("index", ("pandas.DatetimeIndex", "str")),))
