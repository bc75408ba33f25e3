"""Name resolution, severity and the false-positive traps of the detector."""

from __future__ import annotations

import textwrap

import pytest

from recode.server.detector import Detector
from tests.conftest import versions


def found(detector: Detector, code: str) -> list[tuple[int, str, str]]:
    """(1-based line, record id, flagged text) for each finding.

    Every case also checks the byte prefilter: the findings are the same with it as without.
    """
    src = textwrap.dedent(code).encode()
    findings = detector.detect(src)
    unfiltered = detector.detect(src, prefilter=False)
    assert [(f.record.id, f.start_byte, f.end_byte) for f in findings] == [
        (f.record.id, f.start_byte, f.end_byte) for f in unfiltered
    ], "the prefilter dropped a file with findings"
    return [
        (f.start.line + 1, f.record.id, src[f.start_byte : f.end_byte].decode()) for f in findings
    ]


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


def test_rebinding_scan_reads_as_its_reference_pattern(detector):
    """_assigned (the name first, what precedes it checked by hand) against the lookbehind
    pattern it replaces, on random text made of the pieces that matter."""
    import random
    import re

    from recode.server.detector import _assigned

    reference = re.compile(rb"(?<![\w.])np[ \t]*(?::[^=\n]*)?=(?!=)|\bfor[ \t]+np[ \t]+in\b")
    fast = detector.rebinding_patterns(b"np")[1]
    rng = random.Random(4)
    pieces = [b"np", b" ", b"\t", b"=", b"==", b":", b"for", b"in", b".", b"x", b"\n", b"1", b"fo"]
    for _ in range(50_000):
        text = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        assert _assigned(fast, text, start, end) == bool(reference.search(text, start, end)), (
            text,
            start,
            end,
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
