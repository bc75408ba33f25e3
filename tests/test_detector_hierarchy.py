"""Records on a base class reach objects of its subclasses (types.json ``bases``), through
the classes library calls are documented to return, and nothing else: no finding by a method's
name alone, none on an unrelated class with a method of the same name, none on a member a
subclass overrides. Each case also checks the prefilter and the partial parse (``found``)."""

from __future__ import annotations

import textwrap

import pytest
from packaging.version import Version

from recode.dataset.knowledge import KnownTypes, load_knowledge_base
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion
from tests.test_detector import found

KB = load_knowledge_base()
TODAY = {"numpy": "2.4.6", "pandas": "3.1.1", "scipy": "1.17.1", "matplotlib": "3.11.2"}


@pytest.fixture(scope="module")
def today() -> Detector:
    return Detector(KB, {k: LibraryVersion(Version(v), "target") for k, v in TODAY.items()})


def ids(detector: Detector, code: str) -> list[tuple[int, str, str]]:
    return found(detector, textwrap.dedent(code))


def test_a_record_on_a_base_reaches_subclass_objects(today):
    code = """
        import pandas as pd
        dti = pd.date_range("2020-01-01", periods=3)
        dti.get_loc("2020-01-02", method="nearest")
        mi = pd.MultiIndex.from_tuples([(1, 2)])
        mi.get_loc((1, 2), tolerance=1)
        cat = pd.Categorical(["a", None])
        cat.fillna(method="ffill")
        cat.factorize(na_sentinel=-1)
        pd.period_range("2020", periods=2, freq="D").get_loc("2020", method="pad")
    """
    assert ids(today, code) == [
        (4, "pandas-2.0-Index-get_loc-method", 'method="nearest"'),
        (6, "pandas-2.0-Index-get_loc-tolerance", "tolerance=1"),
        (8, "pandas-3.0-ExtensionArray-fillna-method", 'method="ffill"'),
        (9, "pandas-2.0-ExtensionArray-factorize-na_sentinel", "na_sentinel=-1"),
        (10, "pandas-2.0-Index-get_loc-method", 'method="pad"'),
    ]


def test_the_classes_library_calls_return(today):
    code = """
        import numpy as np
        import pandas as pd
        from scipy import sparse
        df = pd.read_csv("a.csv")
        df.index.get_loc(1, method="pad")
        df.groupby("k").pct_change(limit=1)
        df["a"].groupby(df["k"]).backfill()
        x = np.float64(1.0)
        x.ptp()
        m = sparse.eye(3)
        m.A
        sparse.random(3, 3).H
        m.tocsr().A
        pd.offsets.Week(weekday=0).is_anchored()
    """
    assert ids(today, code) == [
        (6, "pandas-2.0-Index-get_loc-method", 'method="pad"'),
        (7, "pandas-3.0-GroupBy-pct_change-limit", "limit=1"),
        (10, "numpy-2.0-generic-ptp", "x.ptp"),
        (12, "scipy-1.14-sparse-spmatrix-A", "m.A"),
        (13, "scipy-1.14-sparse-spmatrix-H", "sparse.random(3, 3).H"),
        # the subclass's own record, not the base's as well
        (14, "scipy-1.14-sparse-csr_matrix-A", "m.tocsr().A"),
        (15, "pandas-3.0-BaseOffset-is_anchored", "pd.offsets.Week(weekday=0).is_anchored"),
    ]


def test_a_removed_hook_overridden_in_a_subclass_of_a_subclass():
    code = """
        from scrapy.spiders import CrawlSpider
        class Pages(CrawlSpider):
            def make_requests_from_url(self, url):
                return None
        class Other:
            def make_requests_from_url(self, url):
                return None
    """
    d = Detector(KB, {"scrapy": LibraryVersion(Version("2.13.4"), "target")})
    assert ids(d, code) == [(4, "scrapy-2.6-make_requests_from_url", "make_requests_from_url")]


def test_a_subclass_record_wins_over_its_base(today):
    code = """
        import pandas as pd
        pd.DateOffset(months=1).is_anchored()
        mi = pd.MultiIndex.from_arrays([[1], [2]])
        mi.set_levels([[1], [2]], inplace=True)
        mi.copy(levels=[[1], [2]])
    """
    assert ids(today, code) == [
        (3, "pandas-3.0-DateOffset-is_anchored", "pd.DateOffset(months=1).is_anchored"),
        (5, "pandas-2.0-MultiIndex-set_levels-inplace", "inplace=True"),
        (6, "pandas-2.0-MultiIndex-copy-levels", "levels=[[1], [2]]"),
    ]


def test_members_a_subclass_overrides_are_not_flagged(today):
    code = """
        import numpy as np
        import pandas as pd
        np.zeros(3).ptp()
        np.asmatrix([[1, 2]]).ptp()
        np.ma.masked_array([1, 2]).ptp()
        pd.Index([1]).asi8
        pd.date_range("2020", periods=2).asi8
        pd.Index([1]).copy(names=["a"])
        pd.MultiIndex.from_tuples([(1, 2)]).copy(names=["a", "b"])
    """
    assert [(line, rid) for line, rid, _ in ids(today, code)] == [
        (4, "numpy-2.0-ndarray-ptp"),
        (7, "pandas-2.0-Index-asi8"),
        (9, "pandas-2.0-Index-copy-names"),
    ]


@pytest.mark.parametrize(
    "code",
    [
        # the same method names on classes that are no subclass of the record's
        "import pandas as pd\npd.Series([1.0]).get_loc(1, method='pad')\n",
        "import pandas as pd\npd.Timestamp('2020').is_anchored()\n",
        "import pandas as pd\npd.Categorical(['a']).get_loc('a', method='pad')\n",
        "import pandas as pd\npd.Index([1.0]).fillna(method='ffill')\n",
        "from scipy import sparse\nsparse.eye_array(3).tocsr().getnnz()\n",
        # an object whose class is not evident: no finding by the method's name alone
        "import pandas as pd\ndef f(idx):\n    return idx.get_loc(1, method='pad')\n",
        "import numpy as np\nx = make()\nx.ptp()\n",
        # a class of another package with a library's class name
        "from mylib import DatetimeIndex\nDatetimeIndex([]).get_loc(1, method='pad')\n",
        "import numpy as np\nclass generic:\n    def ptp(self): ...\ngeneric().ptp()\n",
    ],
)
def test_never_flagged(today, code):
    assert ids(today, code) == []


def test_hierarchy_comes_from_the_types_file_and_follows_it(tmp_path):
    """A knowledge base with its own types.json: the detector follows its bases and overrides
    and nothing else (without bases, the subclass's object is not flagged)."""
    import json

    folder = tmp_path / "kb"
    folder.mkdir()
    record = {
        "id": "t-base-old",
        "library": "numpy",
        "symbol": "numpy.Base.old",
        "kind": "removed",
        "removed_in": "2.0.0",
        "note": "gone",
        "source": {"url": "https://numpy.org/doc/", "version": "2.0.0"},
    }
    (folder / "numpy.jsonl").write_text(json.dumps(record) + "\n")
    code = "import numpy as np\na = np.Sub()\na.old()\nb = np.Other()\nb.old()\n"
    results = []
    for types in (
        {"classes": ["numpy.Sub", "numpy.Other"]},
        {"classes": ["numpy.Sub", "numpy.Other"], "bases": {"numpy.Sub": ["numpy.Base"]}},
        {
            "classes": ["numpy.Sub", "numpy.Other"],
            "bases": {"numpy.Sub": ["numpy.Base"]},
            "overrides": {"numpy.Sub": ["old"]},
        },
    ):
        (folder / "types.json").write_text(json.dumps(types))
        kb = load_knowledge_base([folder])
        assert kb.problems == []
        d = Detector(kb, {"numpy": LibraryVersion(Version("2.0"), "target")})
        results.append(ids(d, code))
    assert results == [[], [(3, "t-base-old", "a.old")], []]


def test_inherited_entries_nearest_first_and_overrides():
    types = KnownTypes(
        bases={"C": ("B",), "B": ("A",), "D": ("B",)},
        overrides={"B": frozenset({"m(kw)"}), "D": frozenset({"n"})},
    )
    assert types.ancestors("C") == ("B", "A")
    table = {"A.m": "a", "B.m": "b", "A.n": "an", "A.m(kw)": "akw", "A.m(x)": "ax", "C.n": "cn"}
    assert types.inherited(table) == {
        **table,
        "B.n": "an",
        "B.m(x)": "ax",  # B overrides only the keyword kw of m
        "C.m": "b",  # the nearer base's
        "C.m(x)": "ax",
        "D.m": "b",
        "D.m(x)": "ax",
    }
