"""The template fix language (dataset/kb/README.md, "Fixes") and fix safety: each capability's
validation on load, its edits, and where it leaves the code to a person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import (
    Applicability,
    RecordError,
    load_knowledge_base,
    parse_record,
)
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion
from tests.conftest import fixed

FIX_KB = Path(__file__).parent / "data" / "fix_kb" / "templates.jsonl"
VERSIONS = {"numpy": "2.0", "scipy": "1.14", "pandas": "3.0", "scikit-learn": "1.4"}


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base([FIX_KB])
    assert not kb.problems
    return Detector(
        kb, {lib: LibraryVersion(Version(v), "installed") for lib, v in VERSIONS.items()}
    )


@pytest.mark.parametrize(
    "before, after",
    [
        # a reference rewritten to an expression, through the user's alias
        ("import numpy as np\nlo = np.NINF\n", "import numpy as np\nlo = -np.inf\n"),
        # ... parenthesised inside another operator (where one might bind tighter)
        (
            "import numpy as np\nx = np.NINF ** 2 + np.NINF\n",
            "import numpy as np\nx = (-np.inf) ** 2 + (-np.inf)\n",
        ),
        ("import numpy as np\nx = np.PZERO.hex()\n", "import numpy as np\nx = 0.0.hex()\n"),
        (
            "import numpy as np\nf(np.NINF, k=np.NINF)\n",
            "import numpy as np\nf(-np.inf, k=-np.inf)\n",
        ),
        # a from-imported name: the module the template needs is imported (never shadowing)
        (
            "from numpy import NINF\nlo = NINF\n",
            "import numpy\nlo = -numpy.inf\n",
        ),
        # attribute to method, on an object of evident class and on a call's result
        (
            "from scipy import sparse\nm = sparse.csr_matrix(a)\nprint(m.A)\n",
            "from scipy import sparse\nm = sparse.csr_matrix(a)\nprint(m.toarray())\n",
        ),
        (
            "from scipy import sparse\nprint(sparse.csr_matrix(a).A.sum())\n",
            "from scipy import sparse\nprint(sparse.csr_matrix(a).toarray().sum())\n",
        ),
        # method rename with a keyword value mapped to the new method; other keywords move
        (
            "import pandas as pd\ndf = pd.DataFrame(d)\nr = df.fillna(method='pad')\n",
            "import pandas as pd\ndf = pd.DataFrame(d)\nr = df.ffill()\n",
        ),
        (
            'import pandas as pd\ndf = pd.DataFrame(d)\nr = df.fillna(limit=2, method="bfill")\n',
            "import pandas as pd\ndf = pd.DataFrame(d)\nr = df.bfill(limit=2)\n",
        ),
        # a keyword added; the template keeps what the call passes, positional or keyword
        (
            "from sklearn.cluster import KMeans\nkm = KMeans(3, random_state=0)\n",
            "from sklearn.cluster import KMeans\nkm = KMeans(3, random_state=0, n_init=10)\n",
        ),
        (
            "from sklearn import cluster\nkm = cluster.KMeans()\n",
            "from sklearn import cluster\nkm = cluster.KMeans(n_init=10)\n",
        ),
        # an argument that becomes an attribute's object is parenthesised where it must be
        ("import numpy as np\nv = np.asscalar(a[0])\n", "import numpy as np\nv = a[0].item()\n"),
        (
            "import numpy as np\nv = np.asscalar(a + b)\n",
            "import numpy as np\nv = (a + b).item()\n",
        ),
        ("import numpy as np\nv = np.asscalar(-1)\n", "import numpy as np\nv = (-1).item()\n"),
        # a class call to another with a keyword added; keyword-only arguments follow
        (
            "import pandas as pd\ni = pd.Int64Index(data=[1], name='i')\n",
            "import pandas as pd\ni = pd.Index([1], name='i', dtype='int64')\n",
        ),
    ],
)
def test_template_rewrites(detector, before, after):
    assert fixed(detector, before) == after


def test_positionals_after_a_taken_argument_become_keywords(detector):
    before = "from scipy import integrate\na = integrate.simps(y, x, None, -1)\n"
    after = "from scipy import integrate\na = integrate.simpson(y, x=x, dx=None, axis=-1)\n"
    assert fixed(detector, before, unsafe=True) == after


@pytest.mark.parametrize(
    "before, after",
    [
        # a value mapped to nothing drops the argument; a name imported from a module brings
        # its replacement in the same way
        (
            "from sklearn.metrics import mean_squared_error as mse\nr = mse(a, b, squared=False)\n",
            # the old name's import, left unused, goes (server/fixes/emptied.py)
            "from sklearn.metrics import root_mean_squared_error\n"
            "r = root_mean_squared_error(a, b)\n",
        ),
        (
            "from sklearn import metrics\nr = metrics.mean_squared_error(a, b, squared=False)\n",
            "from sklearn import metrics\nr = metrics.root_mean_squared_error(a, b)\n",
        ),
        # ... unless the user has that name: then through the package
        (
            "from sklearn.metrics import mean_squared_error\n"
            "def root_mean_squared_error(): ...\n"
            "r = mean_squared_error(a, b, squared=False)\n",
            "import sklearn\n"
            "def root_mean_squared_error(): ...\n"
            "r = sklearn.metrics.root_mean_squared_error(a, b)\n",
        ),
        # a value the map does not name is left alone
        (
            "from sklearn import metrics\nr = metrics.mean_squared_error(a, b, squared=True)\n",
            "from sklearn import metrics\nr = metrics.mean_squared_error(a, b, squared=True)\n",
        ),
    ],
)
def test_value_maps_and_from_imports(detector, before, after):
    assert fixed(detector, before) == after


def test_wrap_keeps_the_other_arguments(detector):
    before = "import pandas as pd\ndf = pd.DataFrame(d)\ndf = df.append(o, ignore_index=True)\n"
    after = (
        "import pandas as pd\ndf = pd.DataFrame(d)\ndf = pd.concat([df, o], ignore_index=True)\n"
    )
    assert fixed(detector, before, unsafe=True) == after


@pytest.mark.parametrize(
    "code, record, reason",
    [
        (
            "import pandas as pd\ndf = pd.DataFrame(d)\nr = df.fillna(method='linear')\n",
            "pd-fillna-method",
            "no mapping for `method='linear'`",
        ),
        (
            "import pandas as pd\ndf = pd.DataFrame(d)\nr = df.fillna(0, method='ffill')\n",
            "pd-fillna-method",
            "more arguments by position",
        ),
        (
            "import pandas as pd\ndf = pd.DataFrame(d)\nr = df.fillna(value=0, method='ffill')\n",
            "pd-fillna-method",
            "no place for the argument `value`",
        ),
        (
            "import pandas as pd\ni = pd.Int64Index([1], 'int64')\n",
            "pd-Int64Index",
            "more arguments by position",
        ),
        ("import pandas as pd\ni = pd.Int64Index()\n", "pd-Int64Index", "does not pass `data`"),
        (
            "from sklearn.cluster import KMeans\nkm = KMeans(**kw)\n",
            "sk-KMeans",
            "unpacks its arguments",
        ),
    ],
)
def test_template_leaves_what_it_cannot_say(detector, code, record, reason):
    (finding,) = [f for f in detector.detect(code.encode()) if f.record.id == record]
    assert finding.edits is None
    assert reason in (finding.fix_unavailable or "")
    assert fixed(detector, code, unsafe=True) == code


def test_unsafe_fixes_only_when_asked(detector):
    code = "import pandas as pd\ndf = pd.DataFrame(d)\ndf = df.append(o)\nx = pd.Int64Index(a)\n"
    (append,) = [f for f in detector.detect(code.encode()) if f.record.id == "pd-append"]
    assert append.fixable and not append.applies(unsafe=False) and append.applies(unsafe=True)
    assert append.record.fix.applicability is Applicability.UNSAFE
    safe_only = fix_source(code.encode(), detector)
    assert "df.append(o)" in safe_only.source.decode()
    assert "pd.Index(a, dtype='int64')" in safe_only.source.decode()
    assert "pd-append" in {f.record.id for f in safe_only.remaining}
    both = fix_source(code.encode(), detector, unsafe=True).source.decode()
    assert "df = pd.concat([df, o])" in both


@pytest.mark.parametrize(
    "before, after",
    [
        (
            "import pandas as pd\nflag = pd.api.types.is_object_dtype(s)\n",
            "import pandas as pd\n"
            "flag = pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)\n",
        ),
        (  # an operand of another operator: parenthesised
            "from pandas.api.types import is_object_dtype\nok = a or is_object_dtype(x[k])\n",
            "import pandas\n"
            "ok = a or (pandas.api.types.is_object_dtype(x[k]) or "
            "pandas.api.types.is_string_dtype(x[k]))\n",
        ),
    ],
)
def test_a_behaviour_fix_that_keeps_the_call_is_made_once(detector, before, after):
    """regression: the fix of ``is_object_dtype`` (a changed answer, the call kept inside the
    new code) was flagged again in its own output, and the fix loop wrapped it ten times."""
    once = fixed(detector, before, unsafe=True)
    assert once == after
    assert fixed(detector, once, unsafe=True) == once
    assert "pd-is_object_dtype" not in {f.record.id for f in detector.detect(once.encode())}


@pytest.mark.parametrize(
    "code, flagged",
    [
        # written as the fix writes it, across lines and through another alias: not flagged
        (
            "import pandas\nok = (pandas.api.types.is_object_dtype(s)\n"
            "      or pandas.api.types.is_string_dtype(s))\n",
            0,
        ),
        # ... and with its dotted name split by backslash continuations (regression: found by
        # the chain-splitting differential test)
        (
            "import pandas as pd\nok = pd.api.types.is_object_dtype(s) or pd \\\n"
            "   .api \\\n       .types. \\\n      is_string_dtype(s)\n",
            0,
        ),
        # another argument in the second call, or another function: still the old question
        (
            "import pandas as pd\n"
            "ok = pd.api.types.is_object_dtype(a) or pd.api.types.is_string_dtype(b)\n",
            1,
        ),
        (
            "import pandas as pd\n"
            "ok = pd.api.types.is_object_dtype(a) or pd.api.types.is_bool_dtype(a)\n",
            1,
        ),
        ("import pandas as pd\nok = pd.api.types.is_object_dtype(a) and b\n", 1),
    ],
)
def test_only_the_fix_own_output_is_left_unflagged(detector, code, flagged):
    found = [f for f in detector.detect(code.encode()) if f.record.id == "pd-is_object_dtype"]
    assert len(found) == flagged


BASE = {
    "id": "x-1",
    "library": "numpy",
    "symbol": "numpy.old",
    "kind": "removed",
    "removed_in": "2.0",
    "note": "n",
    "source": {"url": "https://example.org", "version": "2.0"},
}


@pytest.mark.parametrize(
    "fix, message",
    [
        ({"kind": "rename", "to": "numpy.new", "applicability": "maybe"}, "safe or unsafe"),
        ({"kind": "rename", "to": "numpy.new", "applicability": "unsafe"}, "needs unsafe_because"),
        ({"kind": "rename", "to": "numpy.new", "unsafe_because": "x"}, "belongs to an unsafe fix"),
        ({"kind": "rename", "to": "numpy.new", "safe": True}, "unknown fix field"),
        ({"kind": "template", "template": "f({0})", "args": []}, "not one of the positional"),
        (
            {"kind": "template", "template": "f({0})", "args": ["*", "a"]},
            "not one of the positional",
        ),
        ({"kind": "template", "template": "f({kw:b})", "args": ["a"]}, "args does not list"),
        ({"kind": "template", "template": "f({self|map:a=b})"}, "only an argument's value"),
        ({"kind": "template", "template": "f({0|map:a})", "args": ["a"]}, "key=value"),
        ({"kind": "template", "template": "f({rest}, {rest})", "args": ["a"]}, "at most one"),
        ({"kind": "template", "template": "f({bad})"}, "not a placeholder"),
        ({"kind": "template", "template": "f(({0})", "args": ["a"]}, "not a Python expression"),
        ({"kind": "template", "template": "f({rest}=1)", "args": ["a"]}, "not a Python"),
        (
            {"kind": "template", "template": "-x", "target": "keyword"},
            "call, reference, statement or assignment",
        ),
        (
            {"kind": "template", "template": "{0}", "args": ["a"], "target": "reference"},
            "has no arguments",
        ),
        ({"kind": "template", "template": "f()", "args": ["a", "a"]}, "names a parameter twice"),
        ({"kind": "template", "template": "f()", "args": ["*", "*"]}, "at most one '*'"),
        # the fix for a method reached through its class is a fix, checked as one, not nested
        ({"kind": "rename", "to": "numpy.new", "through_class": "numpy.new"}, "fix.kind"),
        ({"kind": "rename", "to": "numpy.new", "through_class": {}}, "fix.kind"),
        (
            {
                "kind": "rename",
                "to": "numpy.new",
                "through_class": {"kind": "rename", "to": "numpy.x", "applicability": "unsafe"},
            },
            "needs unsafe_because",
        ),
        (
            {
                "kind": "rename",
                "to": "numpy.new",
                "through_class": {
                    "kind": "rename",
                    "to": "numpy.x",
                    "through_class": {"kind": "rename", "to": "numpy.y"},
                },
            },
            "unknown fix field",
        ),
        # the submodule to import must be one the template's {mod:...} reaches
        (
            {"kind": "template", "template": "{mod:numpy.linalg.norm}()", "module": "scipy.linalg"},
            "fix.module must be",
        ),
        ({"kind": "template", "template": "{mod:numpy.fft.fft}()", "module": 3}, "fix.module"),
    ],
)
def test_fixes_are_validated_on_load(fix, message):
    with pytest.raises(RecordError, match=message):
        parse_record({**BASE, "fix": fix})


def test_a_broken_fix_is_reported_with_its_line(tmp_path):
    kb = tmp_path / "numpy.jsonl"
    good = {
        **BASE,
        "fix": {"kind": "template", "template": "-{mod:numpy}.inf", "target": "reference"},
    }
    bad = {**BASE, "id": "x-2", "fix": {"kind": "template", "template": "f({kw:q})"}}
    kb.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    loaded = load_knowledge_base([kb])
    assert [r.id for r in loaded.records] == ["x-1"]
    (problem,) = loaded.problems
    assert problem.line == 2 and "args does not list" in problem.message


def test_every_shipped_fix_names_its_safety():
    kb = load_knowledge_base()
    unsafe = [r for r in kb.records if r.fix is not None and not r.fix.safe]
    assert unsafe and all(r.fix.unsafe_because for r in unsafe)


@pytest.mark.parametrize(
    "before, after",
    [
        # `import numpy` need not load numpy.polynomial.polynomial: the fix imports it
        (
            "import numpy as np\ny = np.oldpolyval(x, c)\n",
            "import numpy as np\nimport numpy.polynomial.polynomial\n"
            "y = np.polynomial.polynomial.polyval(x, c)\n",
        ),
        # already imported: nothing added, and the file's own spelling is used
        (
            "import numpy.polynomial.polynomial as P\nimport numpy as np\ny = np.oldpolyval(x, c)\n",
            "import numpy.polynomial.polynomial as P\nimport numpy as np\ny = P.polyval(x, c)\n",
        ),
        (
            "import numpy.polynomial.polynomial\ny = numpy.oldpolyval(x, c)\n",
            "import numpy.polynomial.polynomial\ny = numpy.polynomial.polynomial.polyval(x, c)\n",
        ),
    ],
)
def test_a_template_imports_the_submodule_it_names(detector, before, after):
    assert fixed(detector, before) == after
