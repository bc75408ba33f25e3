"""Name resolution, severity and the false-positive traps of the detector."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recode.server.detector import Detector, Finding
from recode.server.fixes import fix_source
from tests.conftest import versions


def found(detector: Detector, code: str) -> list[tuple[int, str, str]]:
    """(1-based line, record id, flagged text) for each finding.

    Every case also checks the shortcuts: the findings are the same with the byte prefilter
    and a partial parse (forced here, as if the file were large) as without any.
    """
    src = textwrap.dedent(code).encode()
    findings = detector.detect(src)
    unfiltered = detector.detect(src, prefilter=False)
    assert _keys(findings) == _keys(unfiltered), "the prefilter dropped a file with findings"
    detector.sparse_min_bytes = 0
    try:
        assert _keys(detector.detect(src)) == _keys(unfiltered), "the partial parse differs"
    finally:
        del detector.sparse_min_bytes
    return [
        (f.start.line + 1, f.record.id, src[f.start_byte : f.end_byte].decode()) for f in findings
    ]


def _keys(findings: list[Finding]) -> list[tuple]:
    return [(f.record.id, f.start_byte, f.end_byte, f.start, f.end, f.edits) for f in findings]


# -- resolution ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected",
    [
        ("import numpy as np\nnp.float_(1)\n", [(2, "np-float_", "np.float_")]),
        ("import numpy\nnumpy.float_(1)\n", [(2, "np-float_", "numpy.float_")]),
        ("import numpy as xp\nxp.float_\n", [(2, "np-float_", "xp.float_")]),
        (
            "from numpy import float_\nfloat_(2)\n",
            [(1, "np-float_", "float_"), (2, "np-float_", "float_")],
        ),
        (
            "from numpy import float_ as F\nF(2)\n",
            [(1, "np-float_", "float_"), (2, "np-float_", "F")],
        ),
        ("from numpy import *\nx = float_(1)\n", [(2, "np-float_", "float_")]),
        (
            "import numpy.random as npr\nnpr.random_integers(1, 3)\n",
            [(2, "np-random_integers", "npr.random_integers")],
        ),
        (
            "from numpy import random\nrandom.random_integers(1)\n",
            [(2, "np-random_integers", "random.random_integers")],
        ),
        (
            "import numpy as np\nnp.random.random_integers(1)\n",
            [(2, "np-random_integers", "np.random.random_integers")],
        ),
        (
            "def f():\n    import numpy as np\n    return np.float_\n",
            [(3, "np-float_", "np.float_")],
        ),
        ("import numpy.distutils.misc_util\n", [(1, "np-distutils", "numpy.distutils.misc_util")]),
        ("from numpy.distutils import misc_util\n", [(1, "np-distutils", "numpy.distutils")]),
    ],
)
def test_resolution(detector, code, expected):
    assert found(detector, code) == expected


def test_function_level_import_does_not_leak(detector):
    code = """
        def f():
            import numpy as np
            return np.float_
        def g(np):
            return np.float_
    """
    assert found(detector, code) == [(4, "np-float_", "np.float_")]


def test_keyword_arguments(detector):
    code = """
        import pandas as pd
        from pandas import read_csv as rc
        pd.read_csv("a.csv", error_bad_lines=False, sep=";")
        rc("b.csv", squeeze=True)
        pd.read_csv("c.csv", on_bad_lines="skip")
    """
    assert found(detector, code) == [
        (4, "pd-error_bad_lines", "error_bad_lines=False"),
        (5, "pd-squeeze", "squeeze=True"),
    ]


def test_keyword_of_constructor(detector):
    code = "from sklearn.linear_model import LinearRegression\nLinearRegression(normalize=True)\n"
    assert found(detector, code) == [(2, "sk-normalize", "normalize=True")]


def test_methods_on_objects_of_evident_class(detector):
    code = """
        import pandas as pd
        df = pd.read_csv("a.csv")
        df.append(df)
        frame = pd.DataFrame({"a": [1]})
        frame.to_csv("x", line_terminator="\\n")
        pd.DataFrame().iteritems()
        for k, v in frame.iteritems():
            pass
    """
    assert found(detector, code) == [
        (4, "pd-append", "df.append"),
        (6, "pd-line_terminator", 'line_terminator="\\n"'),
        (7, "pd-iteritems", "pd.DataFrame().iteritems"),
        (8, "pd-iteritems", "frame.iteritems"),
    ]


def test_name_only_methods_are_off_by_default_and_low_confidence(test_kb):
    code = b"import pandas as pd\ndef f(df):\n    return df.append(df)\n"
    vs = versions(pandas="2.2.0")
    assert Detector(test_kb, vs).detect(code) == []
    low = Detector(test_kb, vs, name_only_methods=True).detect(code)
    assert [(f.record.id, f.confidence) for f in low] == [("pd-append", "low")]
    assert "name only" in low[0].message
    chained = b"import pandas as pd\ndef f(df):\n    return (df.  # c\n        append(df))\n"
    low = Detector(test_kb, vs, name_only_methods=True).detect(chained)
    assert [(f.record.id, f.start.line, f.end.line) for f in low] == [("pd-append", 2, 3)]


# -- false-positive traps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        # strings and comments
        'import numpy as np\ns = "np.float_"\n# np.float_(1)\n',
        'import numpy as np\ndoc = """np.float_ is gone"""\n',
        # unrelated objects that share a name
        "import numpy as np\nclass A:\n    float_ = 1\nA.float_\n",
        "import numpy as np\nfloat_ = 3\nx = float_\n",
        "import numpy as np\nitems = []\nitems.append(1)\n",
        "import pandas as pd\nrows = []\nrows.append(1)\nx = {}.iteritems\n",
        "import numpy as np\nobj.np.float_\n",
        "def f(np):\n    return np.float_\nimport numpy as np\n",
        "import numpy as np\ndef f():\n    np = object()\n    return np.float_\n",
        "import numpy as np\nf = lambda np: np.float_\n",
        # no numpy import at all
        "float_ = 1\nnp.float_\n",
        "from mylib import float_\nfloat_(1)\n",
        # keyword named like a removed parameter on another callable
        "import pandas as pd\npd.read_json('x', squeeze=True)\n",
        # compatibility code guarded by try/except ImportError/AttributeError
        "import numpy as np\ntry:\n    F = np.float_\nexcept AttributeError:\n    F = np.float64\n",
        "try:\n    from numpy import trapezoid\nexcept ImportError:\n"
        "    from numpy import trapz as trapezoid\ntrapezoid([1])\n",
        "try:\n    from numpy import trapz\nexcept ImportError:\n"
        "    from numpy import trapezoid as trapz\ntrapz([1])\n",
        # version checks and hasattr tests
        "import numpy as np\nif np.__version__ < '2':\n    F = np.float_\nelse:\n    F = np.float64\n",
        "import numpy as np\nNUMPY_LT_2_0 = True\nif NUMPY_LT_2_0:\n    F = np.float_\n",
        "import numpy as np\nF = np.float_ if hasattr(np, 'float_') else np.float64\n",
        "import numpy as np\nfrom packaging.version import Version\n"
        "if Version(np.__version__) >= Version('2'):\n    pass\nelse:\n    F = np.float_\n",
    ],
)
def test_never_flagged(detector, code):
    assert found(detector, code) == []


def test_optional_import_still_resolves(detector):
    code = """
        try:
            import numpy as np
        except ImportError:
            np = None
        x = np.float_
    """
    assert found(detector, code) == [(6, "np-float_", "np.float_")]


def test_broken_code_is_still_scanned(detector):
    code = "import numpy as np\ndef f(:\n    pass\nx = np.float_(\ny = np.cast\n"
    ids = [r for _, r, _ in found(detector, code)]
    assert "np-cast" in ids and "np-float_" in ids


# -- severity ---------------------------------------------------------------------------------


def test_severity_follows_installed_version(test_kb):
    code = b"import numpy as np\nnp.float_\nnp.trapz\nnp.float\nnp.distutils\n"

    def sev(v: str) -> list[tuple[str, str]]:
        return [
            (f.record.id, f.severity) for f in Detector(test_kb, versions(numpy=v)).detect(code)
        ]

    assert sev("1.19.0") == []
    assert sev("1.22.0") == [("np-float", "warning")]
    assert sev("1.23.0") == [("np-float", "warning"), ("np-distutils", "warning")]
    assert sev("1.26.4") == [("np-float", "error"), ("np-distutils", "error")]
    assert sev("2.0.0") == [
        ("np-float_", "error"),
        ("np-trapz", "warning"),
        ("np-float", "error"),
        ("np-distutils", "error"),
    ]


def test_min_severity_hides_warnings(test_kb):
    code = b"import numpy as np\nnp.float_\nnp.trapz\n"
    d = Detector(test_kb, versions(numpy="2.0.0"), min_severity="error")
    assert [f.record.id for f in d.detect(code)] == ["np-float_"]


def test_behaviour_change_is_a_warning(detector):
    assert [(r, t) for _, r, t in found(detector, "import torch\ntorch.load('m.pt')\n")] == [
        ("torch-behavior", "torch.load")
    ]
    f = detector.detect(b"import torch\ntorch.load('m.pt')\n")[0]
    assert f.severity == "warning"


def test_unknown_library_version_is_not_checked(test_kb):
    d = Detector(test_kb, versions(pandas="2.2.0"))
    assert d.detect(b"import numpy as np\nnp.float_\n") == []


def test_message_names_the_version_in_use(detector):
    f = detector.detect(b"import numpy as np\nnp.float_\n")[0]
    assert f.message == (
        "`numpy.float_` was removed in numpy 2.0.0 (this environment has numpy 2.1.0). "
        "Use numpy.float64."
    )


def test_positions_count_code_points(detector):
    src = "import numpy as np\nx = ('é', np.float_)\n".encode()
    f = detector.detect(src)[0]
    assert (f.start.line, f.start.character, f.end.character) == (1, 10, 19)


def test_changed_default_is_not_flagged_when_passed_explicitly(detector):
    code = "import torch\ntorch.jit.load('a')\ntorch.jit.load('b', weights_only=False)\n"
    assert found(detector, code) == [(2, "torch-load-default", "torch.jit.load")]


def test_overriding_a_removed_hook_in_a_subclass(detector):
    code = """
        import pandas as pd
        class Frame(pd.DataFrame):
            def on_hook(self):
                pass
            @property
            def on_hook(self):
                pass
            def iteritems(self):  # not a hook: defining it is the subclass's own business
                pass
        class Unrelated:
            def on_hook(self):
                pass
    """
    assert found(detector, code) == [(4, "pd-hook-real", "on_hook"), (7, "pd-hook-real", "on_hook")]


def test_self_in_a_subclass_of_a_library_class(detector):
    """In the methods of a class whose one base is a library's class, ``self`` is an object of
    that class (imbalanced-learn's ``self._validate_data(...)`` in a BaseEstimator)."""
    code = """
        import pandas as pd
        class Frame(pd.DataFrame):
            def rows(self):
                return list(self.iteritems())
            def nested(self):
                def inner():
                    return self.iteritems()
                return inner
            @staticmethod
            def static(self):
                return self.iteritems()
            @classmethod
            def make(self):
                return self.iteritems()
            def first(this, self):
                return self.iteritems()
    """
    assert found(detector, code) == [
        (5, "pd-iteritems", "self.iteritems"),
        (8, "pd-iteritems", "self.iteritems"),
    ]
    fixed = fix_source(textwrap.dedent(code).encode(), detector).source.decode()
    assert "return list(self.items())" in fixed


@pytest.mark.parametrize(
    "code",
    [
        # the class defines a member its base has a record on: self.iteritems may be its own
        """
        import pandas as pd
        class Frame(pd.DataFrame):
            def iteritems(self):
                return iter(())
            def rows(self):
                return list(self.iteritems())
        """,
        # another base, whose member it may be
        """
        import pandas as pd
        class Frame(Mixin, pd.DataFrame):
            def rows(self):
                return list(self.iteritems())
        """,
        # a class attribute of that name
        """
        import pandas as pd
        class Frame(pd.DataFrame):
            iteritems = None
            def rows(self):
                return self.iteritems
        """,
        # no library base
        """
        import pandas as pd
        class Frame:
            def rows(self):
                return list(self.iteritems())
        """,
    ],
)
def test_self_is_not_typed_where_its_member_may_be_another(detector, code):
    assert [f for f in found(detector, code) if f[1] == "pd-iteritems"] == []


def test_parameter_records_limited_to_values(detector):
    code = "import numpy as np\nnp.asarray(x, copy=True)\nnp.asarray(x, copy=False)\n"
    assert found(detector, code) == [(3, "np-copy-false", "copy=False")]


def test_keyword_only_change_flags_only_too_many_positional_arguments(detector):
    code = """
        import pandas as pd
        df = pd.DataFrame()
        df.drop("a")
        df.drop("a", axis=1)
        df.drop("a", 1)
        df.drop(*cols)
        f = df.drop
    """
    assert found(detector, code) == [(6, "pd-drop-positional", "df.drop")]


def test_objects_returned_by_methods_and_attributes(detector):
    code = """
        import pandas as pd
        df = pd.read_csv("a")
        df.groupby("k").pad()
        g = df.groupby("k")
        g.pad()
        df.style.hide_index()
    """
    assert found(detector, code) == [
        (4, "pd-gb-pad", 'df.groupby("k").pad'),
        (6, "pd-gb-pad", "g.pad"),
        (7, "pd-style-hide", "df.style.hide_index"),
    ]


def test_importing_a_changed_callable_is_not_flagged(detector):
    code = "from torch.jit import load\nload('m')\nload('m', weights_only=True)\n"
    assert found(detector, code) == [(2, "torch-load-default", "load")]


def test_tuple_unpacking_of_known_results(test_kb):
    code = """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.old_method()
        fig2, axs = plt.subplots(2, 2)
        axs.old_method()
        f3, a3 = plt.subplots(ncols=2)
        a3.old_method()
    """
    d = Detector(test_kb, versions(matplotlib="3.9.0"))
    assert found(d, code) == [(4, "mpl-ax-old", "ax.old_method")]


# -- compatibility code, precisely -------------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected_lines",
    [
        # the branch that runs on the version in use (2.1) is checked; the other is not
        (
            "import numpy as np\nNUMPY_LT_1_20 = False\nif NUMPY_LT_1_20:\n    a = np.float64\nelse:\n    a = np.float_\n",
            [6],
        ),
        (
            "import numpy as np\nif np.__version__ >= '2.0':\n    a = np.float_\nelse:\n    a = np.float_\n",
            [3],
        ),
        (
            "import numpy as np\nfrom packaging.version import Version\nif Version(np.__version__) < Version('1.17'):\n    a = np.float_\nelif Version(np.__version__) < Version('2'):\n    a = np.float_\nelse:\n    a = np.float_\n",
            [8],
        ),
        (
            "import numpy as np\n_np_version_under1p17 = False\nx = np.float64 if _np_version_under1p17 else np.float_\n",
            [3],
        ),
        # a test this detector cannot evaluate guards every branch
        (
            "import numpy as np\nif np.lib.NumpyVersion(np.__version__) < '2.0.0' and FLAG:\n    a = np.float_\nelse:\n    a = np.float_\n",
            [],
        ),
        # 'version' inside another word is no version test
        ("import numpy as np\nif needs_conversion(x):\n    a = np.float_\n", [3]),
        # hasattr guards only the attribute it tests, and only on this library
        ("import numpy as np\nif hasattr(np, 'float_'):\n    a = np.float_\n", []),
        ("import numpy as np\nif hasattr(np, 'other'):\n    a = np.float_\n", [3]),
        ("import numpy as np\nif hasattr(obj, 'float_'):\n    a = np.float_\n", [3]),
        # try guards: only import/attribute errors, only body and handlers, only this library
        (
            "import numpy as np\ntry:\n    a = np.float_(x)\nexcept (TypeError, ValueError):\n    a = None\n",
            [3],
        ),
        (
            "import numpy as np\ntry:\n    import foo\nexcept AttributeError:\n    pass\nelse:\n    a = np.float_\n",
            [7],
        ),
        (
            "import numpy as np\ntry:\n    import scipy\nexcept ImportError:\n    a = np.float_\n",
            [5],
        ),
        (
            "import numpy as np\ntry:\n    a = np.float_\nexcept AttributeError:\n    a = np.float64\n",
            [],
        ),
    ],
)
def test_compatibility_code(detector, code, expected_lines):
    assert [line for line, _, _ in found(detector, code)] == expected_lines


def test_version_tests_follow_the_target(test_kb):
    code = b"import numpy as np\nif np.__version__ < '2':\n    a = np.float_\n"
    old = Detector(test_kb, versions(numpy="1.26.4"))
    new = Detector(test_kb, versions(numpy="2.1.0"))
    assert old.detect(code) == []  # deprecated nowhere in 1.26, and the branch runs there
    assert new.detect(code) == []  # removed in 2.x, but the branch does not run there


def test_guard_doctests():
    import doctest

    from recode.server import guards

    result = doctest.testmod(guards)
    assert result.attempted >= 4 and result.failed == 0


def test_docstring_text_does_not_shadow_an_import(detector):
    code = '''
        import numpy as np
        def f(y):
            """
            >>> import numpy as np
            >>> f(np.array([1]))
            """
            # check for np.inf here, as np says
            return np.float_
    '''
    assert found(detector, code) == [(9, "np-float_", "np.float_")]


# -- records that concern only some calls ------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected",
    [
        # unless_keyword: importing the function is fine; a call without the keyword is not.
        (
            "from torch.utils.checkpoint import checkpoint\n"
            "y = checkpoint(f, x, use_reentrant=False)\n",
            [],
        ),
        (
            "from torch.utils.checkpoint import checkpoint\ny = checkpoint(f, x)\n",
            [(2, "torch-2.1-checkpoint-use_reentrant", "checkpoint")],
        ),
        ("from torch import meshgrid\ngx, gy = meshgrid(a, b, indexing='ij')\n", []),
        (
            "import torch\ngx, gy = torch.meshgrid(a, b)\n",
            [(2, "torch-1.10-meshgrid-indexing", "torch.meshgrid")],
        ),
    ],
)
def test_keyword_conditional_records_skip_the_import(code, expected):
    from recode.dataset.knowledge import load_knowledge_base

    d = Detector(load_knowledge_base(), versions(torch="2.13.0"))
    assert found(d, code) == expected


_KM = "from sklearn.cluster import KMeans, MiniBatchKMeans\nimport pytest\n"


@pytest.mark.parametrize(
    "code, expected",
    [
        # A class whose default changed, passed uncalled: flagged unless no call leaving the
        # default out can be reached (scikit-learn's own tests, issue 14).
        (
            _KM + "@pytest.mark.parametrize('Est', [KMeans, MiniBatchKMeans])\n"
            "def test(Est):\n    if Est is MiniBatchKMeans:\n        pass\n"
            "    Est(n_clusters=2, n_init=1).fit(X)\n",
            [],
        ),
        (
            _KM + "@pytest.mark.parametrize('Est', [KMeans, MiniBatchKMeans])\n"
            "def test(Est):\n    Est(n_init=1)\n    Est(n_clusters=2)\n",
            [
                (3, "scikit-learn-1.4-KMeans-n_init", "KMeans"),
                (3, "scikit-learn-1.4-MiniBatchKMeans-n_init", "MiniBatchKMeans"),
            ],
        ),
        (
            _KM + "@pytest.mark.parametrize('Est, algo', [(KMeans, 'lloyd')])\n"
            "def test(Est, algo):\n    Est(algorithm=algo, n_init=3)\n",
            [],
        ),
        (  # the parameter goes on to a helper: the call is out of sight
            _KM + "@pytest.mark.parametrize('Est, algo', [(KMeans, 'lloyd')])\n"
            "def test(Est, algo):\n    check(Est)\n",
            [(3, "scikit-learn-1.4-KMeans-n_init", "KMeans")],
        ),
        (
            _KM + "ok = isinstance(m, (KMeans, MiniBatchKMeans)) or type(m) is KMeans\n",
            [],
        ),
        (  # an alias or a subclass is called out of sight
            _KM + "Klass = KMeans\nclass My(MiniBatchKMeans):\n    pass\n",
            [
                (3, "scikit-learn-1.4-KMeans-n_init", "KMeans"),
                (4, "scikit-learn-1.4-MiniBatchKMeans-n_init", "MiniBatchKMeans"),
            ],
        ),
    ],
)
def test_changed_default_of_a_class_passed_uncalled(code, expected):
    from recode.dataset.knowledge import load_knowledge_base

    d = Detector(load_knowledge_base(), versions(scikit_learn="1.9.1"))
    assert found(d, code) == expected


def test_own_fix_output_with_a_comment_in_its_chain_is_not_flagged_again():
    from recode.dataset.knowledge import load_knowledge_base

    d = Detector(load_knowledge_base(), versions(numpy="2.4.6"))
    code = (
        "import numpy as np\nu, inv = np.unique(np.  # flat\n    ravel(a), return_inverse=True)\n"
    )
    assert found(d, code) == []
    assert found(d, code.replace("ravel(a)", "asarray(a)")) == [
        (3, "numpy-2.0-unique-return_inverse", "return_inverse=True")
    ]


def test_changed_default_passed_by_position_is_not_flagged():
    from recode.dataset.knowledge import load_knowledge_base

    d = Detector(load_knowledge_base(), versions(numpy="2.4.6"))
    code = "import numpy as np\nx = np.linalg.lstsq(a, b, rc)\ny = np.linalg.lstsq(a, b)\n"
    assert found(d, code) == [(3, "numpy-2.0-lstsq-rcond", "np.linalg.lstsq")]


# -- attribute chains across lines ------------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected",
    [
        # (line, column) of the chain's start and of its end, 0-based, as the finding has them
        ("y = (np\n     .float_(x))\n", ((1, 5), (2, 12), "np\n     .float_")),
        ("y = (np.\n     float_(x))\n", ((1, 5), (2, 11), "np.\n     float_")),
        ("y = np \\\n    .float_(x)\n", ((1, 4), (2, 11), "np \\\n    .float_")),
        ("y = np. \\\n    float_(x)\n", ((1, 4), (2, 10), "np. \\\n    float_")),
        (
            "y = (np  # a comment\n     .float_(x))\n",
            ((1, 5), (2, 12), "np  # a comment\n     .float_"),
        ),
        (
            "y = (np.  # a comment\n     float_(x))\n",
            ((1, 5), (2, 11), "np.  # a comment\n     float_"),
        ),
        ("y = (np\n\n     .float_(x))\n", ((1, 5), (3, 12), "np\n\n     .float_")),
        ("y = (np\r\n     .float_(x))\r\n", ((1, 5), (2, 12), "np\r\n     .float_")),
        ("y = (np\n     .random\n     .random_integers(3))\n", ((1, 5), (3, 21), None)),
        ("def f(x):\n    return (np\n            .float_(x))\n", ((2, 12), (3, 19), None)),
        ("y = (ñp, np\n     .float_(x))\n", ((1, 9), (2, 12), None)),
    ],
)
def test_attribute_chains_across_lines(detector, code, expected):
    """A chain split across lines inside brackets, by a backslash, or with a comment in it,
    is found where it is, and its end is where the attribute ends."""
    source = "import numpy as np\n" + code
    ids = [r for _, r, _ in found(detector, source)]
    assert ids == ["np-random_integers" if "random\n" in code else "np-float_"]
    (f,) = detector.detect(source.encode())
    start, end, spelled = expected
    assert ((f.start.line, f.start.character), (f.end.line, f.end.character)) == (start, end)
    if spelled is not None:
        assert source.encode()[f.start_byte : f.end_byte].decode() == spelled


@pytest.mark.parametrize(
    "code",
    [
        "import numpy \\\n    .random as npr\nnpr.random_integers(1)\n",
        "import numpy. \\\n    random as npr\nnpr.random_integers(1)\n",
        "from numpy \\\n    .random import random_integers\nrandom_integers(1)\n",
        "import numpy . random as npr\nnpr.random_integers(1)\n",
    ],
)
def test_dotted_imports_across_lines(detector, code):
    assert [r for _, r, _ in found(detector, code)][-1:] == ["np-random_integers"]


def test_a_chain_across_lines_outside_brackets_is_two_statements(detector):
    """``np`` alone on a line, ``.float_`` on the next: broken code, no chain, no finding
    (tree-sitter reads no attribute), and no crash."""
    assert found(detector, "import numpy as np\ny = np\n.float_(x)\n") == []


def test_the_fix_of_a_chain_across_lines_renames_only_the_attribute(detector):
    source = b"import numpy as np\ny = (np  # keep me\n     .float_(x))\nz = np.\\\n    float_\n"
    findings = detector.detect(source)
    assert [f.record.id for f in findings] == ["np-float_", "np-float_"]
    result = fix_source(source, detector)
    assert result.source == source.replace(b"float_", b"float64")
    for f in findings:
        (edit,) = f.edits
        assert source[edit.start : edit.end] == b"float_" and edit.text == "float64"


@pytest.mark.parametrize(
    "code, expected",
    [
        # the most common pandas style: one method per line
        (
            """
            df = pd.DataFrame({"a": [1]})
            out = (df
                   .append(other)
                   .reset_index())
            """,
            [(4, "pd-append", "df\n       .append")],
        ),
        (
            """
            out = (pd.read_csv("a.csv")
                   .append(other)
                   .reset_index())
            """,
            [(3, "pd-append", 'pd.read_csv("a.csv")\n       .append')],
        ),
        (
            """
            df = pd.read_csv("a")
            out = (df  # the frame
                   .groupby("k")
                   .pad())
            """,
            [(4, "pd-gb-pad", 'df  # the frame\n       .groupby("k")\n       .pad')],
        ),
        (
            """
            frame = pd.DataFrame()
            frame \\
                .to_csv("x", line_terminator="\\n")
            for k, v in (frame.
                         iteritems()):
                pass
            """,
            [
                (5, "pd-line_terminator", 'line_terminator="\\n"'),
                (6, "pd-iteritems", "frame.\n             iteritems"),
            ],
        ),
    ],
)
def test_pandas_method_chains_across_lines(detector, code, expected):
    """Methods of an object of evident class, one per line, found as on one line."""
    assert found(detector, "import pandas as pd\n" + textwrap.dedent(code)) == expected


def test_the_fix_of_a_method_chain_across_lines(detector):
    source = b"import pandas as pd\ndf = pd.DataFrame()\nout = (df\n       .append(o)\n       .reset_index())\n"
    result = fix_source(source, detector)
    assert result.source == source.replace(b"df\n       .append(o)", b"pd.concat([df, o])")


# -- rebinding: what makes an imported name another one in a function --------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "sp = dict(np=npts, k=1)",  # a keyword argument spelled like the alias
        "g(np = 3)",
        "x: np = 1",  # annotations
        "x: np",
        "if np == x:\n    pass",  # comparisons
        "if np <= x or np != x:\n    pass",
        "def g(a=h(np)):\n    pass",  # a default value that uses the name
        "def g(a=h(np=1)):\n    pass",
        "def g(np):\n    pass",  # a nested function's own parameter, assignment, lambda
        "def g():\n    np = 1",
        "h = lambda np=1: np",
        "y = x.np = 2",  # an attribute, a subscript
        "np[0] = 1",
        "s = 'np = 1'  # np = 1",
        "import x.np",
        "from np import a",
    ],
)
def test_what_does_not_rebind_an_import(detector, statement):
    code = "import numpy as np\n\ndef f(npts, x):\n" + textwrap.indent(statement, "    ")
    code += "\n    return np.float_(x)\n"
    assert [r for _, r, _ in found(detector, code)] == ["np-float_"]


@pytest.mark.parametrize(
    "statement",
    [
        "np = None",
        "np += 1",
        "np: int = 1",
        "a, np = 1, 2",
        "for np in y:\n    pass",
        "for a, (b, np) in y:\n    pass",
        "with y as np:\n    pass",
        "with y as (a, np):\n    pass",
        "try:\n    pass\nexcept E as np:\n    pass",
        "if (np := y):\n    pass",
        "del np",
        "import other as np",
        "import np.linalg",
        "from m import a as np",
        "global np",
        "def np():\n    pass",
        "class np:\n    pass",
        "match y:\n    case [*np]:\n        pass",
        "def g(a=(np := 1)):\n    pass",  # a walrus in a default binds in f
    ],
)
def test_what_rebinds_an_import(detector, statement):
    code = "import numpy as np\n\ndef f(x):\n" + textwrap.indent(statement, "    ")
    code += "\n    return np.float_(x)\n"
    assert found(detector, code) == []


@pytest.mark.parametrize("params", ["np", "a, np=None", "*np", "**np", "*, np", "np: int"])
def test_parameters_rebind_an_import(detector, params):
    code = f"import numpy as np\n\ndef f({params}):\n    return np.float_(1)\n"
    assert found(detector, code) == []
    if ":" not in params:  # a lambda's parameters have no annotations
        lam = f"import numpy as np\n\nf = lambda {params}: np.float_(1)\n"
        assert found(detector, lam) == []


def test_nonlocal_rebinds_an_import(detector):
    code = """
        import numpy as np

        def outer():
            np = None
            def inner():
                nonlocal np
                return np.float_(1)
            return inner
    """
    assert found(detector, code) == []


# Statements of a function body (N: a name, ``np`` or another) and parameter lists, for the
# property test below: every way Python binds a name, and uses that look like bindings.
BODY = [
    "N = 1",
    "N += 1",
    "N: int = 1",
    "N: int",
    "x: N = 1",
    "x: N",
    "a, N = 1, 2",
    "[a, N] = y",
    "*N, = y",
    "for N in y: pass",
    "for a, (N, b) in y: pass",
    "with y as N: pass",
    "with y as a, z as N: pass",
    "with y as (a, N): pass",
    "try:\n    pass\nexcept E as N:\n    pass",
    "(N := 1)",
    "if (N := y): pass",
    "del N",
    "del a, N",
    "del (N)",
    "del N[0]",
    "del N.a",
    "import N",
    "import N.sub",
    "import a.b as N",
    "import a, \\\n    N.sub",
    "import N as a",
    "from N import a",
    "from m import N",
    "from m import a as N",
    "from m import (b,\n    N)",
    "global N",
    "dict(N=1)",
    "g(N, N=N)",
    "N == 1",
    "N <= 1",
    "y = N",
    "y[N] = 1",
    "y.N = 1",
    "N.a = 1",
    "N[0] = 1",
    "N(1)",
    "print(N, sep=N)",
    "g = lambda N: 1",
    "g = lambda N=1: N",
    "g = lambda *N: 1",
    "g = lambda: (N := 1)",
    "def N(): pass",
    "class N(A): pass",
    "def g(N): pass",
    "def g(a=N): pass",
    "def g(a=(N := 1)): pass",
    "def g(a: N) -> N: pass",
    "def g():\n    N = 1",
    "def g():\n    global N",
    "async def g():\n    async with y as N: pass",
    "@N\ndef g(): pass",
    "@dec(N=1)\ndef g(): pass",
    "class N: pass",
    "class A:\n    N = 1",
    "[N for N in y]",
    "[y for a in N]",
    "[(N := a) for a in y]",
    "x = {N: N for N in y}",
    "match y:\n    case N: pass",
    "match y:\n    case [a, *N]: pass",
    "match y:\n    case A(x=N): pass",
    "match y:\n    case N.B: pass",
    "match y:\n    case {'k': N}: pass",
    "match y:\n    case {**N}: pass",
    "match y:\n    case A() as N: pass",
    "s = f'{N}'",
    "s = f'{(N := 1)}'",
    "s = 'N = 1'",
    "# N = 1",
    "x = (N\n     .a)",
    "x = (y.\n     N)",
    "N \\\n    = 2",
    "for a in y:\n    pass\nelse:\n    N = 1",
]
PARAMS = [
    "",
    "N",
    "a=N",
    "*N",
    "**N",
    "a, *, N=1",
    "N: int",
    "a: N",
    "a=g(N=1)",
    "a=g(N)",
    "N=None, /",
    "a=(N := 1)",
    "N: int = 2",
]


def _bound_in(func: ast.FunctionDef, name: str) -> bool:
    """Whether ``func`` binds ``name`` in its own scope, read from Python's own parse (class
    bodies and comprehensions in it count as its scope, as for the detector)."""

    def own(node: ast.AST) -> Iterator[ast.AST]:
        """The nodes evaluated in ``func``'s scope: not a nested function's or lambda's body
        or parameters (their defaults, annotations and decorators are)."""
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield child
                a = child.args
                outer = [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
                if not isinstance(child, ast.Lambda):
                    params = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                    outer += [p.annotation for p in params if p and p.annotation]
                    outer += [*child.decorator_list, *([child.returns] if child.returns else [])]
                for expr in outer:
                    yield expr
                    yield from own(expr)
            else:
                yield child
                yield from own(child)

    a = func.args
    params = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
    names = {p.arg for p in params if p is not None}
    for node in own(ast.Module(body=func.body, type_ignores=[])):
        match node:
            case ast.Name(id=n, ctx=ast.Store() | ast.Del()):
                names.add(n)
            case ast.FunctionDef(name=n) | ast.AsyncFunctionDef(name=n) | ast.ClassDef(name=n):
                names.add(n)
            case ast.Import(names=items):
                names.update(i.asname or i.name.split(".")[0] for i in items)
            case ast.ImportFrom(names=items):
                names.update(i.asname or i.name for i in items)
            case ast.Global(names=declared) | ast.Nonlocal(names=declared):
                names.update(declared)
            case ast.ExceptHandler(name=n) | ast.MatchAs(name=n) | ast.MatchStar(name=n):
                names.add(n)
            case ast.MatchMapping(rest=n):
                names.add(n)
    return name in names


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.sampled_from(PARAMS),
    st.lists(st.tuples(st.sampled_from(BODY), st.sampled_from(["np", "np", "npx"])), max_size=4),
    st.sampled_from(["np", "npx"]),
)
def test_rebinding_is_what_python_binds(test_kb, params, body, param_name):
    """A use of the import in a function is found exactly where Python's own parse says the
    function does not bind the name (with every shortcut, and without)."""
    detector = Detector(test_kb, versions(numpy="2.1.0"))
    lines = "".join(textwrap.indent(s.replace("N", n), "    ") + "\n" for s, n in body)
    code = f"import numpy as np\n\ndef f({params.replace('N', param_name)}):\n{lines}"
    code += "    return np.float_(1)\n"
    func = ast.parse(code).body[1]
    # a walrus in a default value binds the module's name, before f runs
    defaults = [*func.args.defaults, *(d for d in func.args.kw_defaults if d is not None)]
    walrus = any(
        isinstance(n, ast.NamedExpr) and n.target.id == "np" for d in defaults for n in ast.walk(d)
    )
    bound = walrus or _bound_in(func, "np")
    assert found(detector, code) == (
        [] if bound else [(code.count("\n"), "np-float_", "np.float_")]
    )


def test_analysis_bindings_are_complete(detector):
    """analyse() looks up every use: an object of evident class is bound even where no use of
    it can be a finding yet (the language server compares module-level bindings across edits;
    detect() may skip such uses)."""
    source = b"import numpy as np\na = np.array([1])\nb = a.sum()\nc = np.float_(1)\n"
    found, analysis = detector.analyse(source)
    assert analysis is not None
    assert ("a", "numpy.ndarray", "typed") in {
        (b.name, b.target, b.kind) for b in analysis.bindings
    }
    assert [f.record.path for f in found] == ["numpy.float_"]
    assert [f.record.path for f in detector.detect(source)] == ["numpy.float_"]


def test_an_axes_legend_is_a_legend():
    """regression: seaborn 0.12.2's ``ax.legend_.legendHandles`` (removed in matplotlib 3.9)
    was not reported: the class of ``Axes.legend_`` (documented as a Legend) was not known."""
    from packaging.version import Version

    from recode.dataset.knowledge import load_knowledge_base
    from recode.server.severity import LibraryVersion

    d = Detector(load_knowledge_base(), {"matplotlib": LibraryVersion(Version("3.11.2"), "target")})
    code = """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        handles = ax.legend_.legendHandles
        ax2 = plt.gca()
        n = len(ax2.legend_.legendHandles)
        other.legend_.legendHandles
    """
    assert found(d, code) == [
        (4, "matplotlib-3.9-Legend-legendHandles", "ax.legend_.legendHandles"),
        (6, "matplotlib-3.9-Legend-legendHandles", "ax2.legend_.legendHandles"),
    ]
    fixed = fix_source(textwrap.dedent(code).encode(), d).source.decode()
    assert "handles = ax.legend_.legend_handles\n" in fixed
    assert "other.legend_.legendHandles" in fixed


# -- rebinding after an import in the same scope: the binding that reaches the use -------------


@pytest.mark.parametrize(
    "statement",
    [
        "class float_:\n    pass",
        "def float_(x):\n    return x",
        "float_ = int",
        "float_, y = int, 1",
        "for float_ in (int,):\n    pass",
        "with open('f') as float_:\n    pass",
        "from mylib import float_",
        "import mylib as float_",
        "del float_",
    ],
)
def test_a_later_binding_in_the_same_scope_is_the_projects(detector, statement):
    """After ``from numpy import float_``, a statement that binds ``float_`` again makes the
    uses it reaches the project's: the import alone is flagged."""
    code = f"from numpy import float_\n{statement}\nx = float_(1)\n"
    assert found(detector, code) == [(1, "np-float_", "float_")]
    inner = f"from numpy import float_\ndef f():\n    return float_(1)\n{statement}\n"
    assert found(detector, inner) == [(1, "np-float_", "float_")]  # runs after the module


@pytest.mark.parametrize(
    "code",
    [
        # a version test of numpy: the import in one branch, the project's class in the other
        "import numpy as np\nif np.__version__ < '2':\n    from numpy import float_\n"
        "else:\n    class float_:\n        pass\nx = float_(1)\n",
        "import numpy as np\nif NP_LT_2:\n    from numpy import float_\n"
        "else:\n    def float_(x):\n        return x\nx = float_(1)\n",
        "try:\n    from numpy import float_\nexcept ImportError:\n"
        "    class float_:\n        pass\nx = float_(1)\n",
        # the project's binding in a branch of its own: either may reach the use
        "from numpy import float_\nif flag:\n    class float_:\n        pass\nx = float_(1)\n",
        "from numpy import float_\nfor _ in y:\n    float_ = int\nx = float_(1)\n",
    ],
)
def test_where_the_projects_binding_may_reach_a_use_it_is_not_flagged(detector, code):
    last = code.count("\n")
    assert [(line, text) for line, _, text in found(detector, code) if line == last] == []


@pytest.mark.parametrize(
    "code, line",
    [
        ("class float_:\n    pass\nfrom numpy import float_\nx = float_(1)\n", 4),  # before
        ("from numpy import float_\nx = float_(1)\nclass float_:\n    pass\n", 2),  # use first
        ("from numpy import float_\nclass A:\n    float_ = int\nx = float_(1)\n", 4),  # class body
        ("from numpy import float_\ndef f():\n    float_ = int\nx = float_(1)\n", 4),  # function's
        ("from numpy import float_\nx = [float_ for float_ in y]\nz = float_(1)\n", 3),
        ("from numpy import float_\nfloat_ == 1\nfloat_(1)\n", 3),  # a comparison binds nothing
    ],
)
def test_a_binding_that_does_not_reach_the_use_leaves_it_the_librarys(detector, code, line):
    assert (line, "np-float_", "float_") in found(detector, code)
