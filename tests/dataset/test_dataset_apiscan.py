"""recode-dataset diff --introspect: the walk and the comparison against two "releases" of a
package written to disk (fast), and against the real numpy wheels (slow: verify's venvs)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from recode.dataset.apiscan import compare, introspect, introspect_versions
from recode.dataset.cli import main as dataset_main
from recode.dataset.verify import Environment, tree_provider
from recode.training.dataset_tools import run

V1 = {
    "__init__.py": """
        import os
        from math import sqrt
        from demo.core import Model, helper, old_func
        from demo import sub

        def kept(x, legacy=None, mode="a"):
            return x

        def swallowed(x, old=None):
            return x

        def required_renamed(a):
            return a

        expired_name = 1
        deprecated_alias = kept
        CONST = 3

        class _UFunc:  # like a numpy ufunc: an instance without __module__
            def __call__(self, x):
                return x

        _UFunc.__module__ = None
        negative = _UFunc()
    """,
    "user_array.py": """
        from demo import negative  # an import in a module without __all__

        class container:
            pass
    """,
    "core.py": """
        class Base:
            def shared(self):
                return 1

            def moved_down(self):
                return 2

            def dropped(self):
                return 6

        class Other(Base):
            pass

        class Model(Base):
            def fit(self, X, normalize=False):
                return self

            def old_method(self):
                return 3

            @property
            def coef_(self):
                return 4

        def helper(x, flag=False):
            return x

        def old_func():
            return 5
    """,
    "sub.py": """
        import json
        __all__ = ["a", "b"]
        a = 1
        b = 2
        c = 3
    """,
    "broken.py": """
        def f():
            return 1
    """,
    "device.py": """
        class _PlanCache:  # like torch.backends.cuda's cuFFT plan cache on a CPU build
            def __getattr__(self, name):
                raise AssertionError("Torch not compiled with CUDA enabled")

        plan_cache = _PlanCache()
    """,
    "tests/__init__.py": "",
    "tests/test_it.py": """
        def test_x():
            pass
    """,
    "_private.py": """
        def internal():
            return 1
    """,
    "signals.py": """
        from typing import TypeVar

        from demo.constants import LIMITS  # an instance imported: reported at its home
        from demo._tables import TABLE  # from a private module: this is its public path

        names = {}
        for signame in ("SIGINT", "SIGTERM"):  # like scrapy.utils.ossignal
            signum = len(signame)
            names[signum] = signame
        T = TypeVar("T")
    """,
    "constants.py": "LIMITS = {'a': 1}\n",
    "_tables.py": "TABLE = {'a': 1}\n",
    "metrics.py": """
        class Metric:  # like sklearn's DistanceMetric before 1.3
            @classmethod
            def get_metric(cls, name):
                return _Euclidean()

            def pairwise(self, X):
                return X

            def rdist(self, X):
                return X

        class _Euclidean(Metric):
            pass
    """,
}

V2 = {
    "__init__.py": """
        import warnings
        from demo.core import Model, helper
        from demo import sub

        __all__ = ["Model", "helper", "sub", "kept", "swallowed", "required_renamed", "CONST",
                   "deprecated_alias"]
        __expired_attributes__ = {"expired_name": "expired_name was removed, use CONST"}

        def __getattr__(name):
            if name in __expired_attributes__:
                raise AttributeError(__expired_attributes__[name])
            if name == "deprecated_alias":
                warnings.warn("deprecated_alias is deprecated, use kept", DeprecationWarning)
                return kept
            raise AttributeError(name)

        def kept(x, mode="a"):
            return x

        def swallowed(x, **kwargs):
            return x

        def required_renamed(b):
            return b

        CONST = 3

        class _UFunc:
            def __call__(self, x):
                return x

        _UFunc.__module__ = None
        negative = _UFunc()
    """,
    "user_array.py": """
        class container:
            pass
    """,
    "core.py": """
        class Base:
            def shared(self):
                return 1

        class Model(Base):
            def fit(self, X):
                return self

            def moved_down(self):
                return 2

            def dropped(self):
                return 6

        class Other(Base):
            def moved_down(self):
                return 2

        class _Opaque:  # a C function: no signature
            @property
            def __signature__(self):
                raise ValueError("no signature found for builtin")

            def __call__(self, *args, **kwargs):
                return None

        _Opaque.__module__ = "demo.core"
        helper = _Opaque()
    """,
    "sub.py": """
        __all__ = ["a"]
        a = 1
    """,
    "broken.py": """
        raise ImportError("needs an optional dependency")
    """,
    "device.py": """
        class _PlanCache:  # like torch.backends.cuda's cuFFT plan cache on a CPU build
            def __getattr__(self, name):
                raise AssertionError("Torch not compiled with CUDA enabled")

        plan_cache = _PlanCache()
    """,
    "signals.py": "names = {}\n",
    "constants.py": "LIMITS = {'a': 1}\n",
    "_tables.py": "TABLE = {'a': 1}\n",
    "metrics.py": """
        class Metric:  # like sklearn's DistanceMetric since 1.3: the methods live on the
            @classmethod  # private subclasses that get_metric returns
            def get_metric(cls, name):
                return _Euclidean64()

        class _Metric64(Metric):
            def pairwise(self, X):
                return X

        class _Euclidean64(_Metric64):
            def rdist(self, X):
                return X
    """,
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    # the sandboxed walk runs as an unprivileged uid: its read paths must be readable by others
    # (pytest makes its temporary folders 0700)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for name, text in files.items():
        path = root / "demo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), "utf-8")
    return root


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    trees = {
        ("demo", "1.0"): _tree(tmp_path_factory.mktemp("v1"), V1),
        ("demo", "2.0"): _tree(tmp_path_factory.mktemp("v2"), V2),
    }
    return introspect_versions(
        "demo", "1.0", "2.0", tree_provider(trees), run, packages=("demo",), timeout_s=120
    )


def test_an_object_whose_attribute_lookup_raises_is_walked(found):
    """Any error from an object's __getattr__ (torch.backends.cuda's AssertionError on a CPU
    build) means the attribute is not there for the walk, not that the walk failed."""
    assert found.old.present("demo.device.plan_cache")
    assert found.new.present("demo.device.plan_cache")


def _by_symbol(found) -> dict[str, tuple[str, str]]:
    return {c.symbol: (c.kind, c.detail) for c in found.changes}


def test_names_that_disappeared_are_reported_with_the_new_release_message(found):
    got = _by_symbol(found)
    assert got["demo.expired_name"][0] == "removed"
    assert "expired_name was removed, use CONST" in got["demo.expired_name"][1]
    assert got["demo.sub.b"][0] == "removed"
    assert got["demo.old_func"][0] == "removed"


def test_a_name_re_exported_in_two_places_is_reported_once(found):
    assert "demo.core.old_func" not in _by_symbol(found)


def test_a_re_export_of_another_package_says_whose_name_it_is(found):
    kind, detail = _by_symbol(found)["demo.sqrt"]
    assert kind == "removed" and "re-export of math's name" in detail


def test_methods_and_keywords_that_disappeared(found):
    got = _by_symbol(found)
    assert got["demo.Model.old_method"][0] == "removed"
    assert got["demo.Model.old_method"][1].startswith("method gone")
    assert got["demo.Model.fit(normalize)"][0] == "parameter_removed"
    assert got["demo.kept(legacy)"][0] == "parameter_removed"


def test_a_method_gone_from_a_base_class_counts_where_a_subclass_lost_it(found):
    # Model overrides `dropped`, Other inherited it and has lost it with the base class
    assert _by_symbol(found)["demo.core.Base.dropped"][0] == "removed"


def test_a_name_imported_from_a_private_module_counts_where_it_is_public(found):
    assert _by_symbol(found)["demo.signals.TABLE"][0] == "removed"


def test_a_method_some_subclass_lacks_is_reported(found):
    # _Metric64, which get_metric's instances inherit from, has no rdist
    assert _by_symbol(found)["demo.metrics.Metric.rdist"][0] == "removed"


def test_a_warning_on_access_is_a_deprecation(found):
    kind, detail = _by_symbol(found)["demo.deprecated_alias"]
    assert kind == "deprecated" and "deprecated_alias is deprecated" in detail


@pytest.mark.parametrize(
    "symbol",
    [
        "demo.os",  # another package's module bound to a name
        "demo.sub.c",  # not in the module's __all__
        "demo.sub.json",
        "demo.tests",  # tests
        "demo.tests.test_it.test_x",
        "demo._private.internal",  # private
        "demo.core.Base.moved_down",  # moved down to every subclass: instances still have it
        "demo.Model.coef_",  # a property instances may now set themselves
        "demo.helper(flag)",  # no signature in the new release: parameters unknown
        "demo.swallowed(old)",  # **kwargs may still take it
        "demo.required_renamed(a)",  # a required parameter is passed by position
        "demo.broken",  # its import fails in the new release: not known to be gone
        "demo.broken.f",
        "demo.user_array.negative",  # the package's own top-level ufunc, imported
        "demo.signals.LIMITS",  # an instance imported from a public module: reported there
        "demo.signals.signame",  # a loop's leftover variables
        "demo.signals.signum",
        "demo.signals.T",  # a type variable
        "demo.metrics.Metric.pairwise",  # every subclass has it, private ones included
    ],
)
def test_noise_is_not_reported(found, symbol):
    assert symbol not in _by_symbol(found)


def test_modules_whose_import_fails_are_named(found):
    assert "needs an optional dependency" in found.new.failed["demo.broken"]
    assert found.old.failed == {}


def test_without_a_resolver_every_listed_absence_counts(tmp_path):
    v1 = introspect(
        run,
        Environment(sys.executable, (str(_tree(tmp_path / "a", V1)),)),
        ("demo",),
        timeout_s=120,
    )
    v2 = introspect(
        run,
        Environment(sys.executable, (str(_tree(tmp_path / "b", V2)),)),
        ("demo",),
        timeout_s=120,
    )
    symbols = {c.symbol for c in compare(v1, v2)}
    assert "demo.broken" in symbols  # only the look-up in the new release drops it
    assert "demo.expired_name" in symbols


def test_a_missing_environment_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no environment for demo==1.0"):
        introspect_versions("demo", "1.0", "2.0", tree_provider({}), run, packages=("demo",))


def test_cli_introspect_needs_the_sandbox(capsys):
    assert dataset_main(["diff", "numpy", "1.26.4", "2.4.6", "--introspect"]) == 2
    assert "sandbox" in capsys.readouterr().err


@pytest.mark.slow
def test_numpy_wheels_introspected_and_checked_against_the_knowledge_base(capsys, tmp_path):
    """numpy 1.26.4 -> 2.4.6 in verify's cached venvs (installed once): names expired through
    the module __getattr__, methods, keywords, and the --check output of diff."""
    from recode.training.dataset_tools import build_tools

    full = dataset_main(
        ["diff", "numpy", "1.26.4", "2.4.6", "--introspect", "--no-notes", "--json"],
        tools=build_tools(),
    )
    listed = {
        line.split('"symbol": "')[1].split('"')[0] for line in capsys.readouterr().out.splitlines()
    }
    assert full == 0
    assert {
        "numpy.float_",
        "numpy.ndarray.ptp",
        "numpy.percentile(interpolation)",
        "numpy.lib.pad",
    } <= listed
    assert not {s for s in listed if s.startswith(("numpy._", "numpy.testing"))}
    candidates = tmp_path / "candidates.jsonl"
    rc = dataset_main(
        [
            "diff",
            "numpy",
            "1.26.4",
            "2.4.6",
            "--introspect",
            "--no-notes",
            "--json",
            "--check",
            "--candidates",
            str(candidates),
        ],
        tools=build_tools(),
    )
    out, err = capsys.readouterr()
    assert rc == 1  # some removals are candidates, not records
    assert "breaking changes;" in err
    shown = {line.split('"symbol": "')[1].split('"')[0] for line in out.splitlines()}
    # covered by records: not shown
    assert {"numpy.float_", "numpy.ndarray.ptp", "numpy.percentile(interpolation)"} & shown == set()
    assert shown and candidates.read_text("utf-8").count("-candidate") == len(shown)


#: a handful of what numpy 2.x removed, each in one idiom: a name its module __getattr__
#: expires, a method, a keyword, a name gone from a submodule's namespace
NUMPY_HANDFUL = (
    "numpy.float_",
    "numpy.NaN",
    "numpy.in1d",
    "numpy.lib.pad",
    "numpy.ndarray.ptp",
    "numpy.percentile(interpolation)",
)


@pytest.mark.slow
def test_kb_coverage_bench_on_a_handful_of_numpy_removals(tmp_path, monkeypatch):
    """bench_kb_coverage's own path on a cached subset: introspection, snippets in the users'
    idiom, the real detector through recode-migrate."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import bench_kb_coverage as bench

    monkeypatch.setattr(bench, "CACHE", tmp_path)
    found = bench.disappeared("numpy", "1.26.4", "2.4.6", refresh=False)
    items = [i for i in bench.items_of("numpy", found) if i.symbol in NUMPY_HANDFUL]
    assert sorted(i.symbol for i in items) == sorted(NUMPY_HANDFUL)
    assert {i.kind for i in items} == {"name", "method", "keyword"}
    bench.detect("numpy", "2.4.6", items)
    assert [i.symbol for i in items if not i.reported] == []
    assert all(i.by.startswith("numpy-") for i in items)
