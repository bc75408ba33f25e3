"""Fixes never bind a name of the user's (issue 12, item 3).

The regression tests run ``recode-migrate --write`` (``cli.main``) with the shipped knowledge
base and then execute the fixed program under the installed numpy (2.x, where the old names are
gone). The property test generates modules whose own bindings shadow the names a fix would
introduce, fixes them, and executes both versions against a stand-in ``numpy`` whose functions
say who they are: every call must still reach numpy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

np = pytest.importorskip("numpy")
KB = load_knowledge_base()


def migrate(capsys, path: Path, *args: str) -> dict:
    cli.main([*args, "--target", "numpy==2.0", "--format", "json", "--no-progress", str(path)])
    return json.loads(capsys.readouterr().out)


def execute(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def write(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "mod.py"
    path.write_text(textwrap.dedent(code))
    return path


@pytest.mark.skipif(Version(np.__version__) < Version("2.0"), reason="needs numpy 2.x")
@pytest.mark.parametrize(
    "code, printed, spelled",
    [
        # the user's own prod: the import is aliased, the calls reach numpy
        (
            """\
            from numpy import product


            def prod(xs):
                return "mine"


            print(product([2, 3]), prod([1]))
            """,
            "6 mine",
            "from numpy import prod as numpy_prod\n",
        ),
        # ... or go through the module import the file has
        (
            """\
            import numpy as np
            from numpy import product


            def prod(xs):
                return "mine"


            print(product([2, 3]), prod([1]))
            """,
            "6 mine",
            "print(np.prod([2, 3]), prod([1]))\n",
        ),
        # a module-level string called float64
        (
            """\
            from numpy import float_

            float64 = "a label"
            print(float_(1.5) + 1, float64)
            """,
            "2.5 a label",
            "from numpy import float64 as numpy_float64\n",
        ),
        # a module defining numpy(): the template goes through the file's np, no import added
        (
            """\
            import numpy as np
            from numpy import zeros


            def numpy():
                return "mine"


            print(zeros(3).ptp(), numpy())
            """,
            "0.0 mine",
            "print(np.ptp(zeros(3)), numpy())\n",
        ),
        # a parameter np where a template would spell np: the module import is added instead
        (
            """\
            import numpy as np
            from numpy import zeros


            def spread(np):
                return zeros(3).ptp() + np


            print(spread(1))
            """,
            "1.0",
            "return numpy.ptp(zeros(3)) + np\n",
        ),
    ],
)
def test_fixed_program_calls_numpy_not_the_users_name(
    capsys, tmp_path, code, printed, spelled
) -> None:
    path = write(tmp_path, code)
    report = migrate(capsys, path, "--write")
    assert report["summary"]["fixed"] >= 1
    fixed = path.read_text()
    assert spelled in fixed
    assert execute(path) == printed


def test_a_module_named_like_the_import_to_add_is_left_unfixed_with_the_reason(
    capsys, tmp_path
) -> None:
    code = """\
        from numpy import zeros


        def numpy():
            return "mine"


        print(zeros(3).ptp())
        """
    path = write(tmp_path, code)
    before = path.read_bytes()
    report = migrate(capsys, path, "--write")
    assert path.read_bytes() == before  # no `import numpy` to be replaced by the user's def
    (finding,) = report["findings"]
    assert not finding["fixable"]
    assert "binds `numpy` on line 4" in finding["fix_unavailable"]
    cli.main(["--target", "numpy==2.0", "--no-progress", str(path)])
    text = capsys.readouterr().out
    assert "[not fixed: this module binds `numpy` on line 4" in text


def test_a_star_import_makes_the_name_unknowable(capsys, tmp_path) -> None:
    path = write(tmp_path, "from os.path import *\nfrom numpy import product\nproduct([1])\n")
    report = migrate(capsys, path)
    assert report["findings"] and not any(f["fixable"] for f in report["findings"])
    assert all("star import on line 1" in f["fix_unavailable"] for f in report["findings"])


# -- property: generated modules with shadowing bindings ---------------------------------------

#: the names the fixes below would introduce (and their aliases)
NAMES = ["prod", "float64", "numpy", "np", "numpy_prod", "numpy_float64", "ptp"]

#: one binding of NAME, at module level (run before the uses)
MODULE_FORMS = [
    "def {n}(*a, **k):\n    return 'user'\n",
    "class {n}:\n    def __init__(self, *a):\n        pass\n",
    "{n} = _user\n",
    "{n}: object = _user\n",
    "for {n} in [_user]:\n    pass\n",
    "with _Ctx() as {n}:\n    pass\n",
    "from os import sep as {n}\n",
    "if ({n} := _user):\n    pass\n",
    "def _set_{n}():\n    global {n}\n    {n} = _user\n\n\n_set_{n}()\n",
    "try:\n    raise ValueError\nexcept ValueError as {n}:\n    pass\n",
]

#: one binding of NAME inside the function that holds the uses
FUNCTION_FORMS = ["{n} = _user", "def {n}(*a):\n        return 'user'", "import os as {n}"]

#: the uses: each call's result is recorded
USES = ["product([2, 3])", "float_(1.5)", "zeros(3).ptp()"]


def stand_in_numpy() -> types.ModuleType:
    """A numpy whose functions return who they are."""
    module = types.ModuleType("numpy")

    class Array:
        def ptp(self):
            return ("numpy", "ndarray.ptp")

    def named(name):
        return lambda *a, **k: ("numpy", name)

    for name in ["product", "prod", "float_", "float64", "ptp"]:
        setattr(module, name, named(name))
    module.zeros = lambda *a, **k: Array()
    return module


def run_module(code: str) -> list:
    saved = sys.modules.get("numpy")
    sys.modules["numpy"] = stand_in_numpy()
    try:
        scope: dict = {"__name__": "generated"}
        exec(compile(code, "generated.py", "exec"), scope)
        return scope["RESULTS"]
    finally:
        if saved is None:
            del sys.modules["numpy"]
        else:
            sys.modules["numpy"] = saved


@st.composite
def modules(draw) -> str:
    lines = ["import numpy as np"] if draw(st.booleans()) else []
    lines += ["from numpy import product, float_, zeros", "", "RESULTS = []", ""]
    lines += [
        "def _user(*a, **k):",
        "    return 'user'",
        "",
        "",
        "class _Ctx:",
        "    def __enter__(self):",
        "        return _user",
        "",
        "    def __exit__(self, *a):",
        "        return False",
        "",
        "",
    ]
    shadowed = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    for name in shadowed:
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(MODULE_FORMS)).format(n=name))
    inner = [
        draw(st.sampled_from(FUNCTION_FORMS)).format(n=name)
        for name in shadowed
        if draw(st.booleans())
    ]
    params = ", ".join(f"{n}=_user" for n in shadowed if draw(st.booleans()))
    lines.append(f"def work({params}):")
    lines += [f"    {line}" for line in inner]
    for use in draw(st.lists(st.sampled_from(USES), min_size=1, max_size=3)):
        lines.append(f"    RESULTS.append({use})")
    lines += ["", "", "work()"]
    for use in draw(st.lists(st.sampled_from(USES), max_size=2)):
        lines.append(f"RESULTS.append({use})")
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules())
def test_fixes_never_resolve_to_a_users_binding(code: str) -> None:
    detector = Detector(KB, {"numpy": LibraryVersion(Version("2.0.0"), "target")})
    before = run_module(code)
    assert before and all(r[0] == "numpy" for r in before)  # the generated module is sound
    result = fix_source(code.encode(), detector)
    assert result.error is None
    fixed = result.source.decode()
    after = run_module(fixed)
    assert len(after) == len(before)
    assert all(isinstance(r, tuple) and r[0] == "numpy" for r in after), fixed
    # what was not fixed says why
    for finding in result.remaining:
        if finding.record.fix is not None and finding.confidence == "high":
            assert finding.fix_unavailable, (finding.record.id, fixed)


def fixed_text(code: str) -> tuple[str, list[str | None]]:
    detector = Detector(KB, {"numpy": LibraryVersion(Version("2.0.0"), "target")})
    result = fix_source(textwrap.dedent(code).encode(), detector)
    assert result.error is None
    return result.source.decode(), [f.fix_unavailable for f in result.remaining]


@pytest.mark.parametrize(
    "code, after",
    [
        # a star import of numpy itself binds prod there: fine, unless the user binds it too
        ("from numpy import *\nx = product([2])\n", "from numpy import *\nx = prod([2])\n"),
        ("from numpy import *\nprod = 1\nx = product([2])\n", None),
        # a class body's names are not seen from its methods
        (
            "from numpy import product\n\n\nclass A:\n    prod = 1\n\n"
            "    def f(self):\n        return product([2])\n",
            "from numpy import prod\n\n\nclass A:\n    prod = 1\n\n"
            "    def f(self):\n        return prod([2])\n",
        ),
        # a parameter of another function is no conflict; one of the using function is
        (
            "from numpy import product\n\n\ndef g(prod):\n    return prod\n\n\nx = product([2])\n",
            "from numpy import prod\n\n\ndef g(prod):\n    return prod\n\n\nx = prod([2])\n",
        ),
        (
            "from numpy import product\n\n\ndef g(prod):\n    return product([prod])\n",
            "from numpy import prod as numpy_prod\n\n\n"
            "def g(prod):\n    return numpy_prod([prod])\n",
        ),
        # the alias itself taken: the next free one
        (
            "from numpy import product\nprod = numpy_prod = 1\nx = product([2])\n",
            "from numpy import prod as numpy_prod_2\nprod = numpy_prod = 1\n"
            "x = numpy_prod_2([2])\n",
        ),
    ],
)
def test_where_a_fix_may_bind_its_name(code: str, after: str | None) -> None:
    text, reasons = fixed_text(code)
    if after is None:
        assert text == code and reasons and all("binds `prod`" in r for r in reasons)
    else:
        assert text == after and not reasons


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_scopes_are_placed_right_whatever_the_line_endings(newline: str, bom: str) -> None:
    """A parameter ``prod`` of one function is no conflict for a use after it, but is for a
    use inside it: the scopes' byte ranges follow Python's lines (CR, CRLF) and skip a BOM."""
    code = (
        "from numpy import product\n\n\ndef g(prod):\n    return prod\n\n\n"
        "def h(prod):\n    return product([prod])\n"
    )
    detector = Detector(KB, {"numpy": LibraryVersion(Version("2.0.0"), "target")})
    outside = code.replace("def h(prod):\n    return product([prod])", "x = product([2])")
    for source, alias in [(outside, False), (code, True)]:
        raw = (bom + source.replace("\n", newline)).encode()
        fixed = fix_source(raw, detector).source.decode().replace(newline, "\n")
        assert ("numpy_prod" in fixed) is alias, fixed
        assert "product" not in fixed


def test_the_projects_own_class_after_the_import_is_not_renamed(capsys, tmp_path) -> None:
    """imbalanced-learn: ``from sklearn.utils._param_validation import _MissingValues`` and then
    a ``class _MissingValues`` of its own; the uses are of the project's class."""
    code = """\
        from sklearn.utils._param_validation import _MissingValues


        class _MissingValues:
            pass


        c = _MissingValues()
        """
    path = write(tmp_path, code)
    cli.main(["--target", "scikit-learn==1.5", "--format", "json", "--no-progress", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert [(f["line"], f["column"]) for f in report["findings"]] == [(1, 45)]
    cli.main(["--target", "scikit-learn==1.5", "--diff", "--no-progress", str(path)])
    diff = capsys.readouterr().out
    assert "-from sklearn.utils._param_validation import _MissingValues\n" in diff
    assert "+from sklearn.utils._param_validation import MissingValues\n" in diff
    assert "c = MissingValues()" not in diff


def test_the_projects_class_in_a_version_branch_is_not_renamed(capsys, tmp_path) -> None:
    code = """\
        import sklearn

        if sklearn.__version__ < "1.3":
            from sklearn.utils._param_validation import _MissingValues
        else:

            class _MissingValues:
                pass


        c = _MissingValues()
        """
    path = write(tmp_path, code)
    before = path.read_bytes()
    cli.main(["--target", "scikit-learn==1.5", "--write", "--no-progress", str(path)])
    capsys.readouterr()
    assert path.read_bytes() == before
    cli.main(["--target", "scikit-learn==1.5", "--format", "json", "--no-progress", str(path)])
    assert json.loads(capsys.readouterr().out)["findings"] == []
