"""Regression tests for the fixes that the upgrade benchmark's projects were blocked on: pandas
3's removed offset and unit aliases (a value fix), a from-import of a name a template rewrites
(``from scipy.integrate import simps``), a method reached through its class (``np.ndarray.ptp``)
and ``np.finfo(...).machar``. Shipped records, real detector, exact expected output."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion
from tests.conftest import fixed

KB = load_knowledge_base()
TODAY = {"numpy": "2.4.0", "pandas": "3.0.0", "scipy": "1.14.0", "matplotlib": "3.11.0"}


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(KB, {lib: LibraryVersion(Version(v), "installed") for lib, v in TODAY.items()})


def reasons(detector: Detector, code: str) -> dict[str, str | None]:
    return {f.record.id: f.fix_unavailable for f in detector.detect(code.encode())}


# -- value fixes: the literal's text, quotes kept ------------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        # by keyword and by position; either quote
        (
            "import pandas as pd\nidx = pd.date_range('2000-1-30', periods=9, freq='M')\n",
            "import pandas as pd\nidx = pd.date_range('2000-1-30', periods=9, freq='ME')\n",
        ),
        (
            'import pandas as pd\nidx = pd.date_range("2020", "2021", None, "Q-JAN")\n',
            'import pandas as pd\nidx = pd.date_range("2020", "2021", None, "QE-JAN")\n',
        ),
        (
            "import pandas as pd\nidx = pd.date_range('2020', periods=3, freq='A-DEC')\n",
            "import pandas as pd\nidx = pd.date_range('2020', periods=3, freq='YE-DEC')\n",
        ),
        # multiples, and the other families
        (
            "import pandas as pd\ns = pd.Series([1])\nr = s.resample('2H').sum()\n",
            "import pandas as pd\ns = pd.Series([1])\nr = s.resample('2h').sum()\n",
        ),
        (
            "import pandas as pd\nt = pd.timedelta_range('1 day', periods=3, freq='30T')\n",
            "import pandas as pd\nt = pd.timedelta_range('1 day', periods=3, freq='30min')\n",
        ),
        (
            "import pandas as pd\ntd = pd.to_timedelta([1, 2], 'L')\n",
            "import pandas as pd\ntd = pd.to_timedelta([1, 2], 'ms')\n",
        ),
        # matplotlib's seaborn styles under their 3.6 names
        (
            "import matplotlib.pyplot as plt\nplt.style.use('seaborn-whitegrid')\n",
            "import matplotlib.pyplot as plt\nplt.style.use('seaborn-v0_8-whitegrid')\n",
        ),
        # a period alias becomes the period spelling, not the offset's
        (
            "import pandas as pd\np = pd.Period('2020-01-01', 'A')\n",
            "import pandas as pd\np = pd.Period('2020-01-01', 'Y')\n",
        ),
    ],
)
def test_value_fix_rewrites_the_literal_only(detector, before, after):
    assert fixed(detector, before) == after


def test_value_fix_that_differs_on_a_period_index_is_unsafe(detector):
    code = "import pandas as pd\ns = pd.Series([1])\nr = s.asfreq('M')\n"
    assert fixed(detector, code) == code
    (finding,) = detector.detect(code.encode())
    assert "PeriodIndex" in finding.record.fix.unsafe_because
    assert fixed(detector, code, unsafe=True) == code.replace("'M'", "'ME'")


@pytest.mark.parametrize(
    "code",
    [
        "import pandas as pd\nidx = pd.date_range('2020', periods=3, freq=F)\n",
        "import pandas as pd\nidx = pd.date_range('2020', periods=3, freq=f'M')\n",
        "import pandas as pd\nidx = pd.date_range('2020', periods=3, freq='M' 'E')\n",
    ],
)
def test_values_other_than_plain_literals_are_left_to_a_person(detector, code):
    assert fixed(detector, code) == code


def _freq_record(fix: dict) -> dict:
    return {
        "id": "t",
        "library": "pandas",
        "symbol": "pandas.date_range(freq)",
        "kind": "signature",
        "changed_in": "3.0.0",
        "values": ["'M'", '"M"'],
        "fix": fix,
        "note": "n",
        "source": {"url": "https://example.org", "version": "3.0.0"},
    }


@pytest.mark.parametrize(
    "fix, message",
    [
        ({"kind": "value", "map": {"Q": "QE"}}, "fix.map names 'Q'"),
        ({"kind": "value", "map": {"M": "M'E"}}, "no quotes"),
        ({"kind": "value", "map": {}}, "a value fix needs 'map'"),
        ({"kind": "keyword_drop", "map": {"M": "ME"}}, "fix.map belongs to a value fix"),
    ],
)
def test_a_value_fix_is_checked_on_load(fix, message):
    with pytest.raises(RecordError, match=message):
        parse_record(_freq_record(fix))
    raw = _freq_record({"kind": "value", "map": {"M": "ME"}})
    assert parse_record(raw).fix.literal("M") == "ME"
    raw["symbol"] = "pandas.date_range"
    del raw["values"]
    with pytest.raises(RecordError, match="callable\\(param\\)"):
        parse_record(raw)


# -- a from-import of a name a template rewrites -----------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        (  # PeakUtils 1.3.3, peakutils/peak.py
            "import numpy as np\nfrom scipy.integrate import simps\n\n"
            "def f(yt, x):\n    return simps(yt, x) / simps(x * yt, x)\n",
            "import numpy as np\nfrom scipy.integrate import simpson\n\n"
            "def f(yt, x):\n    return simpson(yt, x=x) / simpson(x * yt, x=x)\n",
        ),
        (  # one item of several: the new name of the same module takes its place
            "from scipy.integrate import quad, simps\na = simps([1, 2, 3])\n",
            "from scipy.integrate import quad, simpson\na = simpson([1, 2, 3])\n",
        ),
        (  # ... kept where the line has a comment and parentheses
            "from scipy.integrate import (quad,  # q\n    simps)\na = simps([1, 2, 3])\n",
            "from scipy.integrate import (quad,  # q\n    simpson)\na = simpson([1, 2, 3])\n",
        ),
        (  # under an alias of the user's
            "from scipy.integrate import simps as integrate\na = integrate([1, 2, 3], dx=2)\n",
            "from scipy.integrate import simpson\na = simpson([1, 2, 3], dx=2)\n",
        ),
        (  # not used at all: the import alone goes, else the module fails at import
            "import os\nfrom scipy.integrate import simps\n",
            "import os\n",
        ),
        (  # the new name is the user's: reached through the module, the user's left alone
            "from scipy.integrate import simps\n\ndef simpson():\n    pass\n\na = simps([1, 2])\n",
            "import scipy\n\ndef simpson():\n    pass\n\na = scipy.integrate.simpson([1, 2])\n",
        ),
    ],
)
def test_template_fix_rewrites_the_from_import_with_its_uses(detector, before, after):
    assert fixed(detector, before) == after
    assert "scipy-1.14-integrate-simps" not in reasons(detector, after)


def test_a_use_the_template_cannot_rewrite_keeps_the_import(detector):
    code = "from scipy.integrate import simps\nrule = simps\na = simps([1, 2, 3])\n"
    result = fix_source(code.encode(), detector)
    # the call is rewritten; the import stays for the use that is not a call, and says why
    assert result.source.decode() == (
        "from scipy.integrate import simps\nfrom scipy.integrate import simpson\n"
        "rule = simps\na = simpson([1, 2, 3])\n"
    )
    (left,) = [f for f in result.remaining if f.start.line == 0]
    assert "used other than in a call (line 3)" in left.fix_unavailable


# -- methods reached through their class; finfo.machar -----------------------------------------


def test_a_method_reached_through_its_class_gets_the_records_through_class_fix(detector):
    # quantities 0.13.0: @with_doc(np.ndarray.ptp); np.ptp is not exact there (its docstring,
    # __array_function__, array-likes): an unsafe fix, made with --unsafe-fixes only
    code = (
        "import numpy as np\nfrom numpy import ndarray\n\n"
        "@with_doc(np.ndarray.ptp)\ndef ptp(a):\n    return ndarray.ptp(a, 0, None, True)\n"
    )
    assert fixed(detector, code) == code
    assert fixed(detector, code, unsafe=True) == (  # `ndarray`, now unused, goes
        "import numpy as np\n\n"
        "@with_doc(np.ptp)\ndef ptp(a):\n    return np.ptp(a, 0, None, True)\n"
    )
    findings = detector.detect(code.encode())
    assert [f.fix.template for f in findings] == ["{mod:numpy}.ptp"] * 2
    assert all(not f.fix.safe and "__array_function__" in f.fix.unsafe_because for f in findings)
    # an object's method keeps the record's own (safe) fix
    (own,) = detector.detect(b"import numpy as np\na = np.ones(2)\nr = a.ptp()\n")
    assert own.fix is own.record.fix and own.fix.safe


def test_a_record_without_a_through_class_fix_still_needs_the_object(detector):
    code = "import numpy as np\nr = np.generic.ptp()\n"
    assert fixed(detector, code, unsafe=True) == code
    (finding,) = detector.detect(code.encode())
    assert "`np.generic.ptp` is the method reached through its class" in finding.fix_unavailable


def test_ptp_keeps_its_arguments(detector):
    code = "import numpy as np\na = np.ones((2, 2))\nr = a.ptp(0, keepdims=True)\n"
    assert fixed(detector, code) == (
        "import numpy as np\na = np.ones((2, 2))\nr = np.ptp(a, 0, keepdims=True)\n"
    )


def test_finfo_machar_is_found_and_says_what_to_write(detector):
    code = "import numpy as np\n_TINY = np.finfo(float).machar.tiny\n"
    (finding,) = detector.detect(code.encode())
    assert finding.record.id == "numpy-1.25-finfo-machar"
    assert "np.finfo(t).eps" in finding.record.replacement
    # numdifftools 0.9.39: an unsafe fix (0-d arrays become scalars; attributes finfo lacks)
    assert fixed(detector, code) == code
    assert (
        fixed(detector, code, unsafe=True) == "import numpy as np\n_TINY = np.finfo(float).tiny\n"
    )
    assert "0-d arrays" in finding.fix.unsafe_because


def test_machar_becomes_finfo_of_float64_unsafely(detector):
    code = "import numpy as np\nEPS = np.MachAr().eps\nm = np.MachAr(float_conv=float)\n"
    assert fixed(detector, code, unsafe=True) == (
        "import numpy as np\nEPS = np.finfo(np.float64).eps\nm = np.MachAr(float_conv=float)\n"
    )


# -- a value the call passes through a name (np.array(copy=copy)) ------------------------------


@pytest.mark.parametrize(
    "call, fixed_call",
    [
        # quantities 0.13.0: Quantity.__new__(..., copy=True) passes its parameter on
        ("np.array(d, dtype=t, copy=copy)", "np.array(d, dtype=t, copy=copy or None)"),
        (
            "np.array(d, copy=self.copy, subok=True)",
            "np.array(d, subok=True, copy=self.copy or None)",
        ),
    ],
)
def test_a_copy_passed_through_a_name_keeps_its_1x_meaning_unsafely(detector, call, fixed_call):
    code = f"import numpy as np\nr = {call}\n"
    (finding,) = detector.detect(code.encode())  # the prefilter keeps it: no `False` in the text
    assert finding.record.id == "numpy-2.0-array-copy-unseen"
    assert "ValueError" in finding.fix.unsafe_because
    assert fixed(detector, code) == code
    assert fixed(detector, code, unsafe=True) == f"import numpy as np\nr = {fixed_call}\n"


@pytest.mark.parametrize(
    "copy, ids",
    [
        ("False", ["numpy-2.0-array-copy"]),  # the literal: the record of values (asarray)
        ("True", []),
        ("None", []),
        ("f()", []),  # an expression: neither (what `or None` would bind to is not plain)
        ("a if b else c", []),
    ],
)
def test_only_a_name_or_attribute_is_an_unseen_value(detector, copy, ids):
    code = f"import numpy as np\nr = np.array(d, copy={copy})\n"
    assert [f.record.id for f in detector.detect(code.encode())] == ids


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"unseen": True}, "unseen applies only to a record with values"),
        ({"unseen": True, "values": ["False"], "position": 1}, "matched by keyword"),
        ({"unseen": "yes", "values": ["False"]}, "unseen must be true or false"),
    ],
)
def test_unseen_is_checked_on_load(extra, message):
    raw = {
        "id": "numpy-2.0-x",
        "library": "numpy",
        "symbol": "numpy.array(copy)",
        "kind": "behavior",
        "changed_in": "2.0.0",
        "note": "n",
        "source": {"url": "https://numpy.org", "version": "2.0.0"},
        **extra,
    }
    with pytest.raises(RecordError, match=message):
        parse_record(raw)


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_writes_the_fixes(tmp_path, capsys):
    src = tmp_path / "m.py"
    src.write_text(
        "import pandas as pd\nfrom scipy.integrate import simps\n"
        'idx = pd.date_range("2000-1-30", periods=9, freq="M")\n'
        "area = simps([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])\n"
    )
    argv = [str(src), "--write", "--format", "json", "--no-progress"]
    argv += [f"--target={lib}=={v}" for lib, v in TODAY.items() if lib in ("pandas", "scipy")]
    assert cli.main(argv) == 0
    assert src.read_text() == (
        "import pandas as pd\nfrom scipy.integrate import simpson\n"
        'idx = pd.date_range("2000-1-30", periods=9, freq="ME")\n'
        "area = simpson([1.0, 2.0, 3.0], x=[0.0, 1.0, 2.0])\n"
    )
    json.loads(capsys.readouterr().out)


# -- matplotlib.cm.get_cmap ----------------------------------------------------------------------


def test_get_cmap_moves_out_of_a_from_import(detector):
    code = "from matplotlib.cm import get_cmap, ScalarMappable\nc = get_cmap('viridis')\n"
    assert fixed(detector, code) == (
        "from matplotlib.cm import ScalarMappable\nimport matplotlib\n"
        "c = matplotlib.colormaps.get_cmap('viridis')\n"
    )


def test_get_cmap_with_lut_is_left_to_a_person(detector):
    # a Colormap passed as name came back unchanged, lut ignored: .resampled(lut) is not exact
    code = "import matplotlib.cm as cm\nc = cm.get_cmap('viridis', 8)\n"
    assert fixed(detector, code) == code
    (finding,) = detector.detect(code.encode())
    assert (
        finding.fix_unavailable
        == "the call passes more arguments by position than the rewrite takes"
    )
    assert ".resampled(lut)" in finding.record.replacement


def test_a_renamed_module_is_renamed_in_a_from_import(detector):
    # numdifftools 0.9.39's tests: every name of numpy.testing.utils is one of numpy.testing's
    code = (
        "import numpy as np\nfrom numpy.testing.utils import assert_array_almost_equal, "
        "assert_allclose\nassert_allclose(np.ones(2), np.ones(2))\n"
        "np.testing.utils.assert_equal(1, 1)\n"
    )
    assert fixed(detector, code) == (
        "import numpy as np\nfrom numpy.testing import assert_array_almost_equal, "
        "assert_allclose\nassert_allclose(np.ones(2), np.ones(2))\n"
        "np.testing.assert_equal(1, 1)\n"
    )


def test_a_name_the_module_exports_keeps_its_import(detector):
    code = "from scipy.integrate import simps\n__all__ = ['simps']\n"
    assert fixed(detector, code) == code
    (finding,) = detector.detect(code.encode())
    assert "named in a string (`__all__`?)" in finding.fix_unavailable


def test_every_value_fix_maps_every_string_its_record_flags():
    # a value added to a record's values without its new spelling would be flagged, not fixed
    value_fixes = [r for r in KB.records if r.fix is not None and r.fix.kind == "value"]
    assert len(value_fixes) > 250
    for record in value_fixes:
        texts = {v[1:-1] for v in record.values if v[0] in "'\""}
        assert texts == {old for old, _ in record.fix.literals}, record.id


# -- an import every use of which the fixes rewrite away goes with them ---------------------------

MISC = "img = misc.face()\nasc = misc.ascent()\n"
DATASETS = "img = scipy.datasets.face()\nasc = scipy.datasets.ascent()\n"


@pytest.mark.parametrize(
    "before, after",
    [
        # a module imported by name: the import was kept, unused (and deprecated)
        ("from scipy import misc\n" + MISC, "import scipy\n" + DATASETS),
        (  # through an alias
            "from scipy import misc as m\nimport numpy as np\nx = m.face()\n",
            "import numpy as np\nimport scipy\nx = scipy.datasets.face()\n",
        ),
        # one item of several goes; the others stay
        (
            "from scipy import misc, stats\n" + MISC + "s = stats.norm\n",
            "from scipy import stats\nimport scipy\n" + DATASETS + "s = stats.norm\n",
        ),
    ],
)
def test_an_import_whose_uses_are_all_rewritten_goes(tmp_path, capsys, before, after):
    path = tmp_path / "m.py"
    path.write_text(before)
    argv = [str(path), "--write", "--unsafe-fixes", "--target=scipy==1.15", "--no-progress"]
    assert cli.main(argv) == 0, capsys.readouterr()
    assert path.read_text() == after


@pytest.mark.parametrize(
    "code",
    [
        "from scipy import misc\n" + MISC + "print(misc)\n",  # a use no fix rewrites
        "from scipy import misc\n" + MISC + "__all__ = ['misc']\n",  # re-exported
        "from scipy import misc  # images\n" + MISC,  # `pass  # images` would be no better
        "from scipy import misc; import os\n" + MISC,
        "import scipy.misc as misc\n" + MISC,  # a whole module's import (see fixes/emptied.py)
        "import scipy\nfrom scipy import misc\n" + MISC + "a = scipy.misc\n",  # loads it
    ],
)
def test_an_import_still_needed_or_sharing_its_line_stays(detector, code):
    detector = Detector(KB, {"scipy": LibraryVersion(Version("1.15"), "installed")})
    out = fixed(detector, code, unsafe=True)
    assert out.startswith(code.split("\n")[0] + "\n")
    assert "misc.face" not in out


def test_the_import_goes_only_with_the_fixes_that_empty_it():
    detector = Detector(KB, {"scipy": LibraryVersion(Version("1.15"), "installed")})
    code = "from scipy import misc\n" + MISC
    assert fixed(detector, code) == code  # the fixes are unsafe: nothing is made
    findings = detector.detect(code.encode())
    assert {f.edits for f in findings} != {None}
    (edits,) = {f.edits for f in findings}  # one edit set, made together
    assert len(edits) == 4  # two uses, the import added and the one removed


def test_a_module_import_goes_where_the_fix_imports_the_submodule_it_needs(detector):
    # the new name's submodule, which the dropped import loaded, is imported (the record's
    # `module`); two imports inserted at one place are no clash
    detector = Detector(KB, {"matplotlib": LibraryVersion(Version("3.9"), "installed")})
    code = "from matplotlib import offsetbox\ndraw = offsetbox.bbox_artist\n"
    assert fixed(detector, code) == (
        "import matplotlib\nimport matplotlib.patches\ndraw = matplotlib.patches.bbox_artist\n"
    )
