"""recode-dataset verify: each claim checked against a package tree with two "releases" written
to disk (fast), and against real numpy wheels (slow, integration: installs two venvs once)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import parse_record
from recode.dataset.verify import (
    Outcome,
    Verifier,
    final_releases,
    format_json,
    format_text,
    plan,
    tree_provider,
)
from recode.training.dataset_tools import run

V1 = """
import functools

def stubbed(x):
    return x

def built(x, some=True):
    return x

def checked(x):
    return x

class Matrix:
    def qr(self, some=True):
        return self

class Model:
    def fit(self):
        return self
import inspect
import warnings

def _future_signature(f):  # like pandas' deprecate_nonkeyword_arguments: shows what will be
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)
    sig = inspect.signature(f)
    ps = [p.replace(kind=p.KEYWORD_ONLY) if i else p for i, p in enumerate(sig.parameters.values())]
    wrapper.__signature__ = sig.replace(parameters=ps)
    return wrapper

@_future_signature
def decorated(a, b=1, c=2):
    return a

def swallow(a=None, legacy=None, **kwargs):
    return a

def takes_all(a, **kwargs):
    return a

def _rename_old(f):  # like numpy's keyword renames: the old keyword is the wrapper's
    @functools.wraps(f)
    def wrapper(*args, old=None, **kwargs):
        if old is not None:
            kwargs["new"] = old
        return f(*args, **kwargs)
    return wrapper

@_rename_old
def renamed(other, new=None):
    return other

def dataset():
    return 1

def router(**kwargs):  # like pd.Grouper: takes the keyword only on a path other arguments pick
    if kwargs.get("freq") is None and kwargs:
        raise TypeError(f"router() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return kwargs

def old_func(a, b=1):
    return a

def kept(x, legacy=None):
    return x

def deprecated_noargs():
    return 1

def needs_args(x):
    return x

def positional(a, b, c=1):
    return a

def default_changed(x, flag=False):
    return x

def lister():
    yield 1

class Thing:
    def method(self):
        return 1

def sentinel_kw(a, *, legacy=None):
    return a

def sorter(a, kind="quicksort"):
    return a

from fakelib import settings as _settings_module  # like jax.config: an object shadows the module

class _Settings:
    pass

settings = _Settings()

def forwards(data=None, data2=None, **kwargs):
    return data

def _warn_positional(f):  # like scipy's _deprecate_positional_args: f shows the future signature
    @functools.wraps(f)
    def inner(*args, **kwargs):
        if len(args) > 1:
            warnings.warn("pass b and c by keyword", DeprecationWarning, stacklevel=2)
            kwargs.update(zip(("a", "b", "c"), args))
            args = ()
        return f(*args, **kwargs)
    return inner

@_warn_positional
def wrapped_positional(a, *, b=1, c=2):
    return a

@_warn_positional
def still_wrapped(a, *, b=1, c=2):
    return a

def _keyword_only(f):  # like matplotlib's make_keyword_only on a constructor
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)
    sig = inspect.signature(f)
    ps = [p.replace(kind=p.KEYWORD_ONLY) if p.name == "b" else p for p in sig.parameters.values()]
    wrapper.__signature__ = sig.replace(parameters=ps)
    return wrapper

class Built:
    @_keyword_only
    def __init__(self, a=None, b=None):
        self.a = a

def __getattr__(name):
    if name == "lazy_alias":
        warnings.warn("fakelib.lazy_alias is deprecated", DeprecationWarning, stacklevel=2)
        return old_func
    raise AttributeError(name)
"""

V2 = """
import functools
import warnings

def stubbed(x):
    '''Removed in 2.0.'''
    raise NotImplementedError("stubbed was removed in 2.0")

def built(x, some=True):  # like torch.qr in 2.14: the message is made first
    mode = "reduced" if some else "complete"
    raise RuntimeError(f"built was removed in 2.0; use mode={mode!r}")

def checked(x):  # may return: a call before the raise can do anything
    x = stubbed(x) if x else x
    raise RuntimeError("not reached when x")

class Matrix:
    def qr(self, some=True):  # like torch.Tensor.qr in 2.14: returns the removed function's call
        from fakelib import built
        return built(self, some=some)

class Model:  # warns about a default only when fitted
    def fit(self):
        warnings.warn("the default of n changes", FutureWarning, stacklevel=2)
        return self

def decorated(a, *, b=1, c=2):
    return a

def router(**kwargs):  # like pd.Grouper: takes the keyword only on a path other arguments pick
    if kwargs.get("freq") is None and kwargs:
        raise TypeError(f"router() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return kwargs

def renamed(other, new=None):
    return other

def takes_all(a, **kwargs):
    return a

def swallow(a=None, **kwargs):
    if kwargs:
        raise TypeError(f"swallow() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return a

def new_func(a, b=1):
    return a

def kept(x):
    return x

def deprecated_noargs():
    warnings.warn("deprecated_noargs is deprecated", DeprecationWarning, stacklevel=2)
    return 1

def needs_args(x):
    warnings.warn("needs_args is deprecated", FutureWarning, stacklevel=2)
    return x

def positional(a, *, b, c=1):
    return a

def default_changed(x, flag=True):
    return x

def lister():
    warnings.warn("lister is deprecated", DeprecationWarning, stacklevel=2)
    yield 1

class Thing:
    def method(self):
        return 1

def _impl(a):
    return a

def hidden(*args, **kwargs):  # like a C dispatcher: the signature hides the required argument
    return _impl(*args, **kwargs)

def wrapped_positional(a, *, b=1, c=2):
    return a

def _warn_positional(f):
    @functools.wraps(f)
    def inner(*args, **kwargs):
        if len(args) > 1:
            warnings.warn("pass b and c by keyword", DeprecationWarning, stacklevel=2)
            kwargs.update(zip(("a", "b", "c"), args))
            args = ()
        return f(*args, **kwargs)
    return inner

@_warn_positional
def still_wrapped(a, *, b=1, c=2):
    return a

class Built:
    def __init__(self, a=None, *, b=None):
        self.a = a

class _Deprecated:  # like jax's DeprecatedArg: a keyword kept only to refuse it
    def __repr__(self):
        return "Deprecated"

Deprecated = _Deprecated()

def sentinel_kw(a, *, legacy=Deprecated):
    if legacy is not Deprecated:
        raise TypeError("sentinel_kw() argument legacy was removed in 2.0. Use mode instead.")
    return a

def forwards(data=None, **kwargs):  # like seaborn.kdeplot: the keyword goes on to matplotlib
    return kwargs

def sorter(a, *, kind=None):  # like jax.numpy.sort: kind kept only to refuse it
    if kind is not None:
        raise TypeError("'kind' argument to sorter is not supported. Use stable=True.")
    return a

from fakelib import settings as _settings_module  # like jax.config: an object shadows the module

class _Settings:
    pass

settings = _Settings()

class Offset:  # like pandas 1.0's BaseOffset: its subclasses held the deprecated method
    pass

class Day(Offset):
    def onOffset(self, dt):
        warnings.warn("onOffset is deprecated, use is_on_offset", FutureWarning, stacklevel=2)
        return True

def fails_first(name=None):  # like InitSpider: warns only after its base class took the name
    if name is None:
        raise ValueError("fails_first needs a name")
    warnings.warn("fails_first is deprecated", DeprecationWarning, stacklevel=2)
    return name

def __getattr__(name):
    if name in ("old_func", "lazy_alias"):
        raise AttributeError(f"fakelib.{name} was removed in 2.0")
    if name == "dataset":  # like sklearn.datasets.load_boston
        raise ImportError("dataset was removed in 2.0.\\n\\nSee the notes.")
    raise AttributeError(name)
"""


def record(rid: str, symbol: str, kind: str, **fields: object):
    raw = {
        "id": rid,
        "library": "fakelib",
        "symbol": symbol,
        "kind": kind,
        "note": "n",
        "source": {"url": "https://example.org/notes", "version": "2.0.0"},
        **fields,
    }
    return parse_record(raw)


@pytest.fixture(scope="module")
def verifier(tmp_path_factory) -> Verifier:
    root = tmp_path_factory.mktemp("trees")
    trees = {}
    for version, source in (("1.0.0", V1), ("2.0.0", V2)):
        pkg = root / version / "fakelib"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(textwrap.dedent(source))
        (pkg / "settings.py").write_text("config = 1\n" if version == "1.0.0" else "other = 1\n")
        if version == "1.0.0":
            (pkg / "gone.py").write_text("X = 1\n")
            # exists, but fails to import under this environment's dependencies
            (pkg / "broken.py").write_text("from json import no_such_name\n")
        trees[("fakelib", version)] = root / version
    return Verifier(tree_provider(trees), {"fakelib": final_releases(["1.0.0", "2.0.0"])}, run)


RECORDS = [
    record(
        "removed",
        "fakelib.old_func",
        "removed",
        removed_in="2.0.0",
        replacement="fakelib.new_func",
        fix={"kind": "rename", "to": "fakelib.new_func"},
    ),
    record("misdated", "fakelib.kept", "removed", removed_in="2.0.0"),
    record("keyword", "fakelib.kept(legacy)", "signature", removed_in="2.0.0"),
    record("keyword-kept", "fakelib.positional(b)", "signature", removed_in="2.0.0"),
    record("warns", "fakelib.deprecated_noargs", "deprecated", deprecated_in="2.0.0"),
    record("warns-early", "fakelib.deprecated_noargs", "deprecated", deprecated_in="1.0.0"),
    record("needs-call", "fakelib.needs_args", "deprecated", deprecated_in="2.0.0"),
    record("generator", "fakelib.lister", "deprecated", deprecated_in="2.0.0"),
    record("lazy", "fakelib.lazy_alias", "removed", deprecated_in="1.0.0", removed_in="2.0.0"),
    record("submodule", "fakelib.gone", "removed", removed_in="2.0.0"),
    record("positional", "fakelib.positional", "signature", changed_in="2.0.0", max_positional=1),
    record(
        "default", "fakelib.default_changed", "behavior", changed_in="2.0.0", unless_keyword="flag"
    ),
    record("behavior", "fakelib.kept", "behavior", changed_in="2.0.0"),
    record(
        "bad-replacement",
        "fakelib.old_func",
        "removed",
        removed_in="2.0.0",
        replacement="fakelib.nowhere",
    ),
    record("method-gone", "fakelib.Thing.method", "removed", removed_in="2.0.0"),
    record("base-lacks-method", "fakelib.Offset.onOffset", "deprecated", deprecated_in="2.0.0"),
    record(
        "decorated-positional",
        "fakelib.decorated",
        "signature",
        changed_in="2.0.0",
        max_positional=1,
    ),
    record("kwargs-gone", "fakelib.swallow(legacy)", "signature", removed_in="2.0.0"),
    record("kwargs-refused-in-both", "fakelib.router(base)", "signature", removed_in="2.0.0"),
    record("stub", "fakelib.stubbed", "removed", removed_in="2.0.0"),
    record("stub-message-first", "fakelib.built", "removed", removed_in="2.0.0"),
    record("stub-delegate", "fakelib.Matrix.qr", "removed", removed_in="2.0.0"),
    record("not-a-stub", "fakelib.checked", "removed", removed_in="2.0.0"),
    record("warns-when-used", "fakelib.Model", "deprecated", deprecated_in="2.0.0"),
    record("import-error", "fakelib.dataset", "removed", removed_in="2.0.0"),
    record("wrapped-keyword", "fakelib.renamed(old)", "signature", removed_in="2.0.0"),
    record("broken-submodule", "fakelib.broken", "removed", removed_in="2.0.0"),
    record("kwargs-swallowed", "fakelib.takes_all(legacy)", "signature", removed_in="2.0.0"),
    record("hidden-argument", "fakelib.hidden", "deprecated", deprecated_in="2.0.0"),
    record("no-release", "fakelib.kept", "removed", removed_in="3.0.0"),
    record(
        "wrapper-positional",
        "fakelib.wrapped_positional",
        "signature",
        changed_in="2.0.0",
        max_positional=1,
    ),
    record(
        "wrapper-still-warns",
        "fakelib.still_wrapped",
        "signature",
        changed_in="2.0.0",
        max_positional=1,
    ),
    record("none-sentinel-keyword", "fakelib.sorter(kind)", "signature", removed_in="2.0.0"),
    record("shadowed-module", "fakelib.settings.config", "removed", removed_in="2.0.0"),
    record("kwargs-forwarded", "fakelib.forwards(data2)", "signature", removed_in="2.0.0"),
    record("sentinel-keyword", "fakelib.sentinel_kw(legacy)", "signature", removed_in="2.0.0"),
    record("fails-before-warning", "fakelib.fails_first", "deprecated", deprecated_in="2.0.0"),
    record(
        "constructor-positional", "fakelib.Built", "signature", changed_in="2.0.0", max_positional=1
    ),
    record("removed-earlier", "fakelib.old_func", "removed", removed_in="3.0.0"),
]


@pytest.fixture(scope="module")
def results(verifier):
    return {r.record.id: r for r in verifier.verify(RECORDS)}


@pytest.mark.parametrize(
    "rid, outcome",
    [
        ("removed", Outcome.AGREE),
        ("misdated", Outcome.DISAGREE),
        ("keyword", Outcome.AGREE),
        ("keyword-kept", Outcome.DISAGREE),
        ("warns", Outcome.AGREE),
        ("warns-early", Outcome.DISAGREE),
        ("needs-call", Outcome.UNCHECKABLE),
        ("generator", Outcome.AGREE),
        ("lazy", Outcome.AGREE),
        ("submodule", Outcome.AGREE),
        ("positional", Outcome.AGREE),
        ("default", Outcome.AGREE),
        ("behavior", Outcome.UNCHECKABLE),
        ("bad-replacement", Outcome.DISAGREE),
        ("method-gone", Outcome.DISAGREE),
        ("base-lacks-method", Outcome.UNCHECKABLE),
        ("decorated-positional", Outcome.AGREE),
        ("kwargs-gone", Outcome.AGREE),
        ("kwargs-refused-in-both", Outcome.UNCHECKABLE),
        ("stub", Outcome.AGREE),
        ("stub-message-first", Outcome.AGREE),
        ("stub-delegate", Outcome.AGREE),
        ("not-a-stub", Outcome.DISAGREE),
        ("warns-when-used", Outcome.UNCHECKABLE),
        ("import-error", Outcome.AGREE),
        ("wrapped-keyword", Outcome.AGREE),
        ("broken-submodule", Outcome.UNCHECKABLE),
        ("kwargs-swallowed", Outcome.UNCHECKABLE),
        ("hidden-argument", Outcome.UNCHECKABLE),
        ("no-release", Outcome.UNCHECKABLE),
        ("wrapper-positional", Outcome.AGREE),
        ("wrapper-still-warns", Outcome.DISAGREE),
        ("constructor-positional", Outcome.AGREE),
        ("fails-before-warning", Outcome.UNCHECKABLE),
        ("sentinel-keyword", Outcome.AGREE),
        ("kwargs-forwarded", Outcome.UNCHECKABLE),
        ("none-sentinel-keyword", Outcome.AGREE),
        ("shadowed-module", Outcome.AGREE),
        ("removed-earlier", Outcome.DISAGREE),
    ],
)
def test_outcome(results, rid, outcome):
    assert results[rid].outcome is outcome, format_text([results[rid]])


def test_observations_say_what_was_seen(results):
    misdated = results["misdated"].checks
    assert [c.outcome for c in misdated] == [Outcome.AGREE, Outcome.DISAGREE]
    assert "resolves to a function" in misdated[1].observed
    lazy = {c.claim: c for c in results["lazy"].checks}
    warned = lazy["fakelib.lazy_alias warns in fakelib 1.0.0"]
    assert warned.outcome is Outcome.AGREE and "DeprecationWarning" in warned.observed
    gone = lazy["fakelib.lazy_alias is gone in fakelib 2.0.0"]
    assert "was removed in 2.0" in gone.observed  # the module __getattr__'s own message
    need = [c for c in results["needs-call"].checks if c.main][0]
    assert need.observed.startswith("cannot check: needs a call")
    decorated = [c for c in results["decorated-positional"].checks if "1.0.0" in c.claim][0]
    assert decorated.observed == (
        "3 parameters can be passed by position (by the decorated function's own signature)"
    )
    gone = [c for c in results["kwargs-gone"].checks if "no longer" in c.claim][0]
    assert (
        "raised TypeError: swallow() got an unexpected keyword argument 'legacy'" in gone.observed
    )
    stubbed = results["stub"].checks[1]
    assert stubbed.observed == (
        "a stub that only raises: raise NotImplementedError('stubbed was removed in 2.0')"
    )
    built = "a stub that only raises: raise RuntimeError(f'built was removed in 2.0; use mode={mode!r}')"
    assert results["stub-message-first"].checks[1].observed == built
    assert results["stub-delegate"].checks[1].observed == built
    assert results["import-error"].checks[1].observed == (
        "does not resolve (ImportError: dataset was removed in 2.0. See the notes.)"
    )
    assert "ImportError: cannot import name 'no_such_name'" in (
        results["broken-submodule"].checks[0].observed
    )
    swallowed = results["kwargs-swallowed"].checks[1]  # **kwargs take any keyword: no evidence
    assert swallowed.outcome is Outcome.UNCHECKABLE and "which does not tell" in swallowed.observed
    hidden = [c for c in results["hidden-argument"].checks if c.main][0]
    assert hidden.observed.startswith("cannot check: needs a call")
    assert "missing 1 required positional argument" in hidden.observed
    early = [c for c in results["warns-early"].checks if c.outcome is Outcome.DISAGREE][0]
    assert "no warning" in early.observed
    bad = [c for c in results["bad-replacement"].checks if c.outcome is Outcome.DISAGREE][0]
    assert "fakelib.nowhere" in bad.claim and not bad.main
    assert "no release of fakelib at 3.0.0" in results["no-release"].checks[1].observed


def test_a_wrapper_that_hides_what_it_took_is_asked_by_a_call(results):
    """scipy's positional-argument wrapper shows the future signature and takes *args: a call
    with one positional argument too many tells; a constructor's decorated __init__ is
    unwrapped (issue 13 item 2)."""
    before, after = [c for c in results["wrapper-positional"].checks if "arguments" in c.claim]
    assert "a call with 2 positional arguments warns: DeprecationWarning" in before.observed
    assert after.observed == "1 parameters can be passed by position"
    still = [c for c in results["wrapper-still-warns"].checks if "2.0.0" in c.claim][-1]
    assert still.outcome is Outcome.DISAGREE and "warns: DeprecationWarning" in still.observed
    failed = [c for c in results["fails-before-warning"].checks if c.main][0]
    assert failed.observed == (
        "cannot check: needs a call (no warning on access; a call without arguments raised "
        "ValueError: fails_first needs a name before any warning)"
    )
    refused = [c for c in results["sentinel-keyword"].checks if "no longer" in c.claim][0]
    assert refused.observed == (
        "legacy is in the signature only to refuse it: a call passing it raised TypeError: "
        "sentinel_kw() argument legacy was removed in 2.0. Use mode instead."
    )
    built = [c for c in results["constructor-positional"].checks if "1.0.0" in c.claim][0]
    assert built.observed == (
        "2 parameters can be passed by position (by the decorated function's own signature)"
    )


def test_a_missing_environment_is_uncheckable(tmp_path):
    v = Verifier(tree_provider({}), {"fakelib": final_releases(["1.0.0", "2.0.0"])}, run)
    (res,) = v.verify([RECORDS[0]])
    assert res.outcome is Outcome.UNCHECKABLE
    assert "no environment for fakelib==1.0.0: no such tree" in res.checks[0].observed


def test_json_and_text_formats(results):
    chosen = [results["removed"], results["misdated"], results["behavior"]]
    data = json.loads(format_json(chosen))
    assert data["counts"] == {"agree": 1, "disagree": 1, "cannot check": 1}
    assert [r["outcome"] for r in data["records"]] == ["agree", "disagree", "cannot check"]
    text = format_text(chosen)
    assert text.splitlines()[-1] == "1 agree, 1 disagree, 1 cannot check of 3"


# -- real releases -------------------------------------------------------------------------------

NUMPY_SUBSET = [
    "numpy-2.0-float_",
    "numpy-2.0-deprecate",
    "numpy-2.0-ndarray-ptp",
    "numpy-2.0-array-copy",
]


@pytest.mark.slow
@pytest.mark.integration
def test_verify_numpy_records_against_the_wheels(capsys):
    """numpy 1.26.4 and 2.0.2 wheels (cached venvs under ~/.cache/recode/venvs after the first
    run; both install on Python 3.11)."""
    from recode.training.dataset_tools import main

    argv = ["verify", "numpy", "--format", "json"]
    for rid in NUMPY_SUBSET:
        argv += ["--record", rid]
    code = main(argv)
    data = json.loads(capsys.readouterr().out)
    outcomes = {r["id"]: r["outcome"] for r in data["records"]}
    assert outcomes == {
        "numpy-2.0-float_": "agree",
        "numpy-2.0-deprecate": "agree",
        "numpy-2.0-ndarray-ptp": "agree",
        "numpy-2.0-array-copy": "cannot check",
    }
    assert code == 0


SCRAPY_SUBSET = [
    "scrapy-2.16-http11-ScrapyAgent",
    "scrapy-2.16-MutableChain",
    "scrapy-2.16-FormRequest",
]


@pytest.mark.slow
@pytest.mark.integration
def test_verify_scrapy_records_against_the_wheels(capsys):
    """Scrapy 2.15.2 and 2.16.0 (small pure-Python wheels, cached venvs after the first run): a
    name made private, two deprecations that warn from 2.16.0."""
    from recode.training.dataset_tools import main

    argv = ["verify", "scrapy", "--format", "json"]
    for rid in SCRAPY_SUBSET:
        argv += ["--record", rid]
    code = main(argv)
    data = json.loads(capsys.readouterr().out)
    assert {r["id"]: r["outcome"] for r in data["records"]} == dict.fromkeys(SCRAPY_SUBSET, "agree")
    assert code == 0


@pytest.mark.slow
@pytest.mark.integration
def test_verify_exits_1_on_a_wrong_record(tmp_path: Path, capsys):
    from recode.training.dataset_tools import main

    wrong = {
        "id": "numpy-2.0-sum",
        "library": "numpy",
        "symbol": "numpy.sum",
        "kind": "removed",
        "removed_in": "2.0.0",
        "note": "not true",
        "source": {
            "url": "https://numpy.org/doc/stable/release/2.0.0-notes.html",
            "version": "2.0.0",
        },
    }
    kb = tmp_path / "numpy.jsonl"
    kb.write_text(json.dumps(wrong) + "\n")
    assert main(["verify", "numpy", "--kb", str(kb)]) == 1
    out = capsys.readouterr().out
    assert "disagree      numpy.sum is gone in numpy 2.0.2: resolves to a " in out


def test_unknown_record_is_a_usage_error(capsys):
    from recode.training.dataset_tools import main

    assert main(["verify", "numpy", "--record", "numpy-0.1-nothing"]) == 2
    assert "no record numpy-0.1-nothing" in capsys.readouterr().err


def test_every_jax_release_is_its_own_series():
    """jax 0.4.24 and 0.4.38 are two feature releases: a record of 0.4.24 is checked against
    0.4.23 and 0.4.24 itself, not 0.4.38 (where the name had long gone); numpy's 2.0 is its
    newest bug-fix release."""
    raw = {
        "id": "jax-x",
        "library": "jax",
        "symbol": "jax.numpy.in1d",
        "kind": "removed",
        "deprecated_in": "0.4.16",
        "removed_in": "0.4.24",
        "note": "n",
        "source": {"url": "https://example.org", "version": "0.4.24"},
    }
    releases = final_releases(["0.4.16", "0.4.23", "0.4.24", "0.4.38", "0.5.0"])
    p = plan(parse_record(raw), releases)
    assert (p.before, p.at, p.dep_at) == (Version("0.4.23"), Version("0.4.24"), Version("0.4.16"))
    raw.update(library="numpy", symbol="numpy.in1d", removed_in="2.0.0", deprecated_in=None)
    numpy = plan(parse_record(raw), final_releases(["1.26.4", "2.0.0", "2.0.2"]))
    assert (numpy.before, numpy.at) == (Version("1.26.4"), Version("2.0.2"))
