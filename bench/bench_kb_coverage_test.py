"""Tests of bench_kb_coverage's own logic (snippets in the users' idiom, corpus counts); no
install; one detector run (recode-migrate) for the rule that decides what is reported.

Run: ``pytest bench/bench_kb_coverage_test.py`` (bench/ is outside the default test paths).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_kb_coverage as bk  # noqa: E402


def _item(symbol: str, detail: str, kind: str = "removed", **extra: str) -> bk.Item:
    found = {
        "changes": [{"kind": kind, "symbol": symbol, "detail": detail, **extra}],
        "kept_members": ["apply"],
    }
    return bk.items_of(symbol.split(".")[0], found)[0]


@pytest.mark.parametrize(
    ("symbol", "detail", "probe"),
    [
        ("numpy.float_", "public name gone: x", "value = np.float_"),
        ("numpy.lib.pad", "public name gone: x", "value = np.lib.pad"),
        ("scipy.signal.cwt", "public name gone: x", "value = cwt"),
        ("matplotlib.tight_layout", "public module gone: x", "import matplotlib.tight_layout"),
        ("matplotlib.pyplot.plot_date", "public name gone: x", "value = plt.plot_date"),
        ("pandas.DataFrame.append", "method gone: x", "df.append()"),
        ("pandas.Timestamp.freq", "property gone: x", "value = ts.freq"),
        ("sklearn.svm.SVC.foo", "method gone: x", "obj.foo()"),
        ("jax.numpy.round_", "public name gone: x", "value = jnp.round_"),
        ("jax.device_put_sharded", "public name gone: x", "value = jax.device_put_sharded"),
    ],
)
def test_names_and_methods_in_the_users_idiom(symbol, detail, probe):
    item = _item(symbol, detail)
    lines = item.code.splitlines()
    assert lines[item.line - 1] == probe
    compile(item.code, "probe.py", "exec")


def test_keywords_of_functions_methods_and_constructors():
    f = _item("numpy.percentile(interpolation)", "k", "parameter_removed", object="function")
    assert f.code.splitlines()[-1] == "result = np.percentile([1, 2], interpolation=1)"
    m = _item("pandas.DataFrame.fillna(method)", "k", "parameter_removed", parent="class")
    assert m.code.splitlines() == [
        "import pandas as pd",
        "df = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})",
        "df.fillna(method=1)",
    ]
    c = _item("sklearn.manifold.TSNE(square_distances)", "k", "parameter_removed", object="class")
    assert c.code == "from sklearn.manifold import TSNE\nresult = TSNE(square_distances=1)\n"


def test_deprecations_are_not_items():
    found = {
        "changes": [{"kind": "deprecated", "symbol": "numpy.x", "detail": "w"}],
        "kept_members": [],
    }
    assert bk.items_of("numpy", found) == []


def test_weights_count_what_the_corpus_uses():
    texts = [
        "import numpy as np\nx = np.float_(1)\ny = np.lib.pad(a, 1)\nfrom numpy.lib import pad\n"
        "np.percentile(a, 5, interpolation='lower')\n",
        "import pandas as pd\ndf.append(x)\ndf.apply(f)\nz = df.append(y)\n",
        "x = np.float_  # a file that does not import numpy: not counted\n",
    ]
    items = [
        _item("numpy.float_", "public name gone: x"),
        _item("numpy.lib.pad", "public name gone: x"),
        _item("numpy.percentile(interpolation)", "k", "parameter_removed", object="function"),
        _item("pandas.DataFrame.append", "method gone: x"),
        _item("pandas.offsets.BaseOffset.apply", "method gone: x"),
    ]
    bk.weigh(items, texts)
    assert [i.weight for i in items] == [1, 2, 1, 0, 0]
    # `append` is a list method too: ambiguous; `apply` other classes still have
    assert items[3].ambiguous and items[4].ambiguous


def test_shares_keep_other_packages_names_apart():
    own = _item("scipy.signal.cwt", "public name gone: x")
    other = _item("scipy.interp", "public name gone: re-export of numpy's name; x")
    own.reported, other.reported = False, True
    text = bk.report([("scipy", "1", "2")], [own, other], misses=5)
    assert "| scipy | 1 -> 2 | 1 (1 / 0 / 0) | 0 | 0.0% |" in text
    assert "| 1 (1) |" in text


def test_a_library_the_corpus_never_uses_has_no_weighted_share():
    """No user of scrapy in the corpus: its weighted share is not 100% of nothing."""
    item = _item("scrapy.utils.misc.md5sum", "public name gone: x")
    item.reported = True
    text = bk.report([("scrapy", "1", "2")], [item], misses=5)
    assert "| scrapy | 1 -> 2 | 1 (1 / 0 / 0) | 1 | 100.0% | no uses in the corpus |" in text


def test_a_finding_on_the_from_import_reports_the_name():
    """The detector's real run: a deprecated module's record flags ``from M import NAME``."""
    flagged = _item("scipy.stats.stats.namedtuple", "public name gone: x")
    unknown = _item("sklearn.utils.fixes.threadpool_limits", "public name gone: x")
    assert flagged.code.startswith("from scipy.stats.stats import namedtuple\n")
    bk.detect("scipy", "1.17.1", [flagged])
    bk.detect("scikit-learn", "1.9.1", [unknown])
    assert (flagged.reported, flagged.by) == (True, "scipy-1.8-private-stats-stats")
    assert (unknown.reported, unknown.by) == (False, "")


def test_names_pandas_never_documented_under_pandas_io_are_not_counted():
    """pandas' reference names few of pandas.io's names: the formatters and table builders of
    pandas.io.formats are not items, Styler's methods and the documented json functions are."""
    found = {
        "changes": [
            {"kind": "removed", "symbol": s, "detail": "method gone: x"}
            for s in (
                "pandas.io.formats.info.BaseInfo",
                "pandas.io.formats.xml.EtreeXMLFormatter.build_tree",
                "pandas.io.formats.format.get_format_timedelta64(nat_rep)",
                "pandas.io.json.dumps",
                "pandas.io.formats.style.Styler.applymap",
                "pandas.io.formats.style.Styler.highlight_null(null_color)",
                "pandas.io.json.json_normalize",
                "pandas.DataFrame.append",
            )
        ],
        "kept_members": [],
    }
    assert [i.symbol for i in bk.items_of("pandas", found)] == [
        "pandas.io.formats.style.Styler.applymap",
        "pandas.io.formats.style.Styler.highlight_null(null_color)",
        "pandas.io.json.json_normalize",
        "pandas.DataFrame.append",
    ]
    assert not bk.undocumented("pandas.iofoo.x")  # a prefix of a name is not its namespace


def test_only_the_documented_estimator_checks_are_counted():
    ec = "sklearn.utils.estimator_checks"
    assert bk.undocumented(f"{ec}.check_sample_weights_invariance")
    assert bk.undocumented(f"{ec}.check_estimators_fit_returns_self(readonly_memmap)")
    assert not bk.undocumented(f"{ec}.check_estimator(Estimator)")
    assert not bk.undocumented("sklearn.utils.check_array(force_all_finite)")
