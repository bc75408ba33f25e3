"""``recode-dataset verify``: check each record's claim against the real releases.

For a record of library L whose change took effect in version V, the release before V and the
release at V (the newest patch release of V's series) are installed in cached virtual
environments (:class:`recode.dataset.build.VenvPool`, wheels only; an old release with an older
interpreter given by ``--python``) and probed in a subprocess by import and introspection:

- a removed name resolves before V and not at V (``getattr``, so names a module
  ``__getattr__`` expires, by AttributeError or ImportError, count as gone; a submodule is tried
  by import; a name kept as a stub whose body only raises, after assignments that call nothing,
  or only returns the call of such a stub it imports, counts as gone);
- a deprecated name warns (``DeprecationWarning``, ``FutureWarning`` or a subclass) at
  ``deprecated_in``, on access or, where access alone does not warn, on a call without arguments;
  where a call needs arguments, or fails before it could warn, the check says "cannot check:
  needs a call";
- a removed keyword is in ``inspect.signature`` before V and gone at V; where the signature does
  not tell (opaque, ``**kwargs``, a decorator that takes the keyword, a parameter kept only to
  refuse it: a deprecation or "unspecified" sentinel as default, jax's ``DeprecatedArg``, or a
  keyword-only None) a call passing that keyword decides, and a refusal counts only where the
  release before took the keyword;
- parameters made keyword-only (``max_positional``) and changed defaults (``unless_keyword``)
  are read from the signatures; before V a decorated function's (or a class's decorated
  ``__init__``'s) own signature counts, found by ``inspect.unwrap``, and where a decorator
  hides what the release took (scipy's positional-argument wrapper shows the future
  signature and takes ``*args``) a call with one positional argument too many decides: a
  deprecation warning shows the release still took it, a TypeError about positional
  arguments that it did not;
- a replacement named as a symbol (or a rename fix's target) resolves at V.

A record agrees when every check of its main claim agrees and nothing disagrees; the
deprecation warning of a record that also states a removal, and the replacement, are secondary
claims. A behaviour change cannot be proven by introspection: such a record is "cannot check",
with its name still looked up. Probes of one release run in one process.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from recode.dataset.knowledge import _SYMBOL, IMPORT_NAMES, ApiChange, FixKind, RecordKind


class Outcome(Enum):
    AGREE = "agree"
    DISAGREE = "disagree"
    UNCHECKABLE = "cannot check"


@dataclass(frozen=True)
class Environment:
    """An interpreter that has one release installed; ``path``: folders put before its own
    ``sys.path`` (a package tree on disk instead of an installed release)."""

    python: str
    path: tuple[str, ...] = ()


#: (library, version) -> an environment, or the reason there is none
Provider = Callable[[str, str], "Environment | str"]


@dataclass
class Check:
    claim: str
    outcome: Outcome
    observed: str
    main: bool = True  # a check of what the record states, not only a sanity check

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "outcome": self.outcome.value,
            "observed": self.observed,
            "main": self.main,
        }


@dataclass
class RecordResult:
    record: ApiChange
    checks: list[Check] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        """Disagree where any check disagrees; agree where every check of the record's main
        claim agrees; otherwise cannot check."""
        if any(c.outcome is Outcome.DISAGREE for c in self.checks):
            return Outcome.DISAGREE
        main = [c for c in self.checks if c.main]
        if main and all(c.outcome is Outcome.AGREE for c in main):
            return Outcome.AGREE
        return Outcome.UNCHECKABLE

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.record.id,
            "symbol": self.record.symbol,
            "kind": self.record.kind,
            "outcome": self.outcome.value,
            "checks": [c.to_dict() for c in self.checks],
        }


# -- choosing releases ---------------------------------------------------------------------------


def final_releases(versions: Iterable[str]) -> list[Version]:
    out = []
    for v in versions:
        try:
            parsed = Version(v)
        except InvalidVersion:
            continue
        if not parsed.is_prerelease and not parsed.is_devrelease:
            out.append(parsed)
    return sorted(set(out))


#: how many leading parts of a version name its series, a feature release and its bug-fix
#: releases (2: major.minor). jax makes every 0.x.y a feature release (0.4.24 and 0.4.38 differ
#: by what 0.4.25-0.4.38 removed; 0.8.0 and 0.8.3 too)
SERIES_PARTS: dict[str, int] = {"jax": 3}


def release_at(releases: list[Version], version: Version, parts: int = 2) -> Version | None:
    """The newest release of ``version``'s series (the same first ``parts`` parts) not older
    than it.

    >>> release_at(final_releases(["1.26.4", "2.0.0", "2.0.2", "2.1.0"]), Version("2.0"))
    <Version('2.0.2')>
    >>> release_at(final_releases(["0.4.24", "0.4.38", "0.9.0.1"]), Version("0.4.24"), parts=3)
    <Version('0.4.24')>
    >>> release_at(final_releases(["0.4.24", "0.4.38", "0.9.0.1"]), Version("0.9.0"), parts=3)
    <Version('0.9.0.1')>
    """
    key = version.release[:parts] + (0,) * (parts - len(version.release))
    series = [
        v
        for v in releases
        if v.release[:parts] + (0,) * (parts - len(v.release)) == key and v >= version
    ]
    return max(series) if series else None


def release_before(releases: list[Version], version: Version) -> Version | None:
    """The newest release older than ``version``.

    >>> release_before(final_releases(["1.26.4", "2.0.0", "2.0.2"]), Version("2.0.0"))
    <Version('1.26.4')>
    """
    older = [v for v in releases if v < version]
    return max(older) if older else None


# -- the probe (runs under the release's interpreter) --------------------------------------------

_PROBE = r'''
import importlib, inspect, json, sys, warnings

WARNS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)

def _warns(caught):
    out = []
    for w in caught:
        cat = w.category
        if issubclass(cat, WARNS) or "Deprecat" in cat.__name__:
            out.append(cat.__name__ + ": " + str(w.message)[:200])
    return out

def _err(exc):
    return type(exc).__name__ + ": " + " ".join(str(exc).split())[:200]

def step(obj, prefix, part):
    try:
        return getattr(obj, part), None
    except (AttributeError, ImportError) as exc:  # a module __getattr__ may raise either
        error = _err(exc)
    if inspect.ismodule(obj):
        try:
            return importlib.import_module(prefix + "." + part), None
        except ModuleNotFoundError as exc:
            if exc.name != prefix + "." + part:
                raise  # the submodule exists but fails to import: that says nothing
    return None, error

def resolve(path):
    """(object, error, warnings of the last step): getattr, else a submodule import; an
    attribute of a class in INSTANCES is read from an instance of it."""
    parent, _, leaf = path.rpartition(".")
    if parent in INSTANCES:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            try:
                importlib.import_module(parent.split(".")[0])
                instance = eval(INSTANCES[parent], {"importlib": importlib})
            except BaseException as exc:
                return None, "making an instance: " + _err(exc), [], True
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return getattr(instance, leaf), None, _warns(caught), False
            except AttributeError as exc:
                return None, _err(exc), _warns(caught), False
            except BaseException as exc:
                return None, _err(exc), _warns(caught), True
    parts = path.split(".")
    try:
        obj = importlib.import_module(parts[0])
    except BaseException as exc:
        return None, "import " + parts[0] + ": " + _err(exc), [], True
    got = []
    for i, part in enumerate(parts[1:], 1):
        broken = False
        owner = obj
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                obj, error = step(obj, ".".join(parts[:i]), part)
                if error is not None and not inspect.ismodule(owner):
                    # a package attribute that shadows its submodule (jax.config is a Config
                    # object; the module jax.config held the name config)
                    module = sys.modules.get(".".join(parts[:i]))
                    if inspect.ismodule(module):
                        obj, error = step(module, ".".join(parts[:i]), part)
            except BaseException as exc:  # neither Attribute- nor ImportError: it exists
                obj, error, broken = None, _err(exc), True
        if i == len(parts) - 1:
            got = _warns(caught)
        if error is not None:
            if inspect.isclass(owner) and i == len(parts) - 1:
                error = "not a class attribute (instances may set it): " + error
            return None, error, got, broken
    return obj, None, got, False

def stub(obj, follow=True):
    """The raise statement, where a callable's body (or a class's __init__/__new__) does
    nothing but raise: a name kept only to say it was removed. Assignments that call nothing
    may come before the raise (torch.qr builds its message); a body that only imports a
    function and returns its call is the stub that function is (torch.Tensor.qr)."""
    import ast, textwrap
    if inspect.isclass(obj):
        obj = vars(obj).get("__init__") or vars(obj).get("__new__")
    if not inspect.isfunction(obj):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return None
    body = tree.body[0].body if tree.body and hasattr(tree.body[0], "body") else []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body:
        return None
    *lead, last = body
    if isinstance(last, ast.Raise) and all(
            isinstance(s, (ast.Assign, ast.AnnAssign))
            and not any(isinstance(n, ast.Call) for n in ast.walk(s)) for s in lead):
        return ast.unparse(last)[:200]
    call = last.value if isinstance(last, ast.Return) else None
    if follow and isinstance(call, ast.Call) and isinstance(call.func, ast.Name) \
            and lead and all(isinstance(s, ast.ImportFrom) and s.level == 0 for s in lead):
        for s in lead:
            for alias in s.names:
                if (alias.asname or alias.name) == call.func.id:
                    try:
                        target = getattr(importlib.import_module(s.module), alias.name)
                    except Exception:
                        return None
                    return stub(target, follow=False)
    return None

def params(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError) as exc:
        return None, _err(exc)
    return [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)[:80]]
            for p in sig.parameters.values()], None

def poscall(obj, n, ps):
    """A call with n + 1 positional arguments (None), one more for an unbound method's
    self: whether a wrapper warns about them or refuses them."""
    extra = 1 if ps and ps[0][0] in ("self", "cls") and not inspect.isclass(obj) else 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            obj(*[None] * (n + 1 + extra))
            err = None
        except BaseException as exc:
            err = _err(exc)
    return {"warnings": _warns(caught), "error": err}

class Marker:  # a value no library takes for a keyword it still has
    def __repr__(self):
        return "<verify marker>"

def fillcall(obj, ps, kw):
    """A call with the required arguments as 0 (numeric libraries check types first) and the
    keyword as a marker: whether the function refuses the keyword it still names."""
    required = [p[0] for p in ps if p[2] is None and p[0] not in ("self", "cls")
                and p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            obj(*[0] * len(required), **{kw: Marker()})
        except BaseException as exc:
            return _err(exc)
    return None

def sentinel(p):
    """A parameter kept only to refuse its keyword: a deprecation or "unspecified" sentinel as
    its default (jax's DeprecatedArg, _UNSPECIFIED), or keyword-only with None (jax's sort
    kind=None)."""
    default = (p[2] or "").lower()
    return "deprecat" in default or "unspecified" in default or (
        p[1] == "KEYWORD_ONLY" and p[2] == "None")

def probe(q):
    obj, error, warned, broken = resolve(q["path"])
    res = {"found": error is None, "error": error, "warnings": warned}
    if broken:
        res["probe_failed"] = True
    if error is not None:
        return res
    res["type"] = type(obj).__name__
    res["is_class"] = inspect.isclass(obj)
    res["stub"] = stub(obj)
    res["params"], res["sig_error"] = params(obj) if callable(obj) else (None, "not callable")
    # a decorator may show another signature than the function's own (matplotlib's decorated
    # constructors: the class's __init__ is the wrapper)
    inner = obj.__init__ if inspect.isclass(obj) and hasattr(obj.__init__, "__wrapped__") else obj
    res["wrapped"] = hasattr(inner, "__wrapped__")
    if res["wrapped"]:
        res["wrapped_params"] = params(inspect.unwrap(inner))[0]
    if q.get("positional") is not None and res["wrapped"] and callable(obj):
        res["poscall"] = poscall(obj, q["positional"], res["params"] or [])
    if q.get("call") and not warned:
        required = [p for p in (res["params"] or [])
                    if p[2] is None and p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD",
                                                  "KEYWORD_ONLY")]
        if not callable(obj) or res["params"] is None or required or inspect.ismodule(obj):
            res["call"] = {"skipped": "not callable" if not callable(obj) else
                           "opaque signature" if res["params"] is None else
                           "needs arguments: " + ", ".join(p[0] for p in required)}
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    made = obj()
                    if inspect.isgenerator(made):  # a generator warns when it starts
                        next(made, None)
                    err = None
                except BaseException as exc:
                    err = _err(exc)
            res["call"] = {"warnings": _warns(caught), "error": err}
    named = {p[0] for p in res["params"] or [] if p[1] not in ("VAR_KEYWORD", "VAR_POSITIONAL")}
    open_ended = res["params"] is None or any(p[1] == "VAR_KEYWORD" for p in res["params"])
    for kw in q.get("kwcall", []):
        param = next((p for p in res["params"] or [] if p[0] == kw), None)
        if param is not None and callable(obj) and sentinel(param):
            res.setdefault("kwfill", {})[kw] = fillcall(obj, res["params"], kw)
        if not (open_ended or res["wrapped"]) or kw in named or not callable(obj):
            continue  # the signature tells; no call
        try:
            obj(**{kw: None})
            res.setdefault("kwcall", {})[kw] = None
        except BaseException as exc:
            res.setdefault("kwcall", {})[kw] = _err(exc)
    return res

def main():
    sys.path[:0] = REQ["path"]
    out = {}
    for q in REQ["queries"]:
        try:
            out[q["path"]] = probe(q)
        except BaseException as exc:
            out[q["path"]] = {"found": False, "error": "probe failed: " + _err(exc),
                              "warnings": [], "probe_failed": True}
    print("@@PROBE@@" + json.dumps(out))

main()
'''


#: how the probe makes an instance of a class, so that an attribute that only instances
#: resolve (a numpy method turned into a descriptor that raises, a pandas property that
#: warns) is read from one
INSTANCES: dict[str, str] = {
    "numpy.ndarray": "importlib.import_module('numpy').zeros(2)",
    "numpy.generic": "importlib.import_module('numpy').float64(0)",
    "numpy.dtype": "importlib.import_module('numpy').dtype('f8')",
    "pandas.DataFrame": "importlib.import_module('pandas').DataFrame({'a': [1, 2]})",
    "pandas.Series": "importlib.import_module('pandas').Series([1, 2])",
    "pandas.Index": "importlib.import_module('pandas').Index([1, 2])",
    "pandas.Series.dt": "importlib.import_module('pandas').Series("
    "importlib.import_module('pandas').to_datetime(['2020-01-01'])).dt",
    # a mixin of every sparse matrix class: their shared members are not on it
    "scipy.sparse.spmatrix": "importlib.import_module('scipy.sparse').eye(2)",
    "scipy.sparse.sparray": "importlib.import_module('scipy.sparse').csr_array((2, 2))",
}


#: ``run(code, python, timeout_s, env, *, read_paths, max_output_bytes)``: the sandbox
ProbeRunner = Callable[..., Any]


@dataclass
class Query:
    path: str
    call: bool = False
    kwcall: set[str] = field(default_factory=set)
    positional: int | None = None  # max_positional: call with one positional argument more

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "call": self.call,
            "kwcall": sorted(self.kwcall),
            "positional": self.positional,
        }


def run_probe(
    run: ProbeRunner, env: Environment, queries: list[Query], *, timeout_s: float = 300.0
) -> dict[str, dict[str, Any]] | str:
    """Probe results by path, or the reason the probe gave none. ``run`` is the sandbox (this
    layer imports none: :class:`recode.dataset.build.BuildTools` ``run``)."""
    request = {"path": list(env.path), "queries": [q.to_dict() for q in queries]}
    code = f"REQ = {request!r}\nINSTANCES = {INSTANCES!r}\n{_PROBE}"
    return run_marked(run, env, code, "@@PROBE@@", timeout_s, 16 * 1024 * 1024)


def run_marked(
    run: ProbeRunner, env: Environment, code: str, marker: str, timeout_s: float, max_output: int
) -> Any:
    """Run ``code`` in the sandbox under ``env`` (its packages readable) and read the JSON it
    prints on the line after ``marker``; where it printed none, the last line it wrote to
    stderr (or its status), as the reason: the probe's and the API walk's one way to ask."""
    res = run(
        code,
        env.python,
        timeout_s,
        {"MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu"},
        read_paths=list(env.path),
        max_output_bytes=max_output,
    )
    at = res.stdout.rfind(marker)
    if at < 0:
        return (res.stderr.strip().splitlines() or [str(res.status)])[-1][:300]
    return json.loads(res.stdout[at + len(marker) :].strip().splitlines()[0])


# -- the claims ----------------------------------------------------------------------------------

_MISSING = re.compile(r"^TypeError: .*(missing \d+ required|required argument|takes at least)")
_UNEXPECTED = re.compile(
    r"unexpected keyword|invalid keyword|no keyword argument|"
    r"not a valid (?:keyword|parameter)"
)


def _symbol_paths(text: str, library: str) -> tuple[str, str | None] | None:
    """``(path, param)`` where ``text`` is a symbol of ``library``, of another library the
    knowledge base knows, or of ``builtins``."""
    m = _SYMBOL.match(text.strip())
    if m is None:
        return None
    path = m.group("path")
    # another library's name (numpy for a scipy record) is looked up where it is installed
    # as a dependency; where it is not, the check cannot be made
    roots = IMPORT_NAMES.get(library, (library,)) + ("builtins",)
    roots += tuple(n for names in IMPORT_NAMES.values() for n in names)
    if path.split(".")[0] not in roots or "." not in path:
        return None
    return path, m.group("param")


@dataclass
class _Plan:
    """Which releases a record needs, and where each claim is looked up."""

    record: ApiChange
    before: Version | None = None  # the release before removed_in / changed_in
    at: Version | None = None  # the release at removed_in / changed_in
    dep_at: Version | None = None  # the release at deprecated_in
    dep_before: Version | None = None  # the release before deprecated_in (deprecated records)
    why_none: str = ""


def plan(record: ApiChange, releases: list[Version]) -> _Plan:
    p = _Plan(record)
    effective = record.effective_in
    parts = SERIES_PARTS.get(record.library, 2)
    if effective is not None:
        p.at = release_at(releases, effective, parts)
        p.before = release_before(releases, effective)
    if record.deprecated_in is not None:
        p.dep_at = release_at(releases, record.deprecated_in, parts)
        if record.kind is RecordKind.DEPRECATED:
            p.dep_before = release_before(releases, record.deprecated_in)
    return p


class Verifier:
    """Runs the checks of many records, one probe process per release."""

    def __init__(
        self,
        provider: Provider,
        releases: dict[str, list[Version]],
        run: ProbeRunner,
        *,
        timeout_s: float = 300.0,
    ) -> None:
        self.provider = provider
        self.run = run
        self.releases = releases
        self.timeout_s = timeout_s

    def verify(
        self, records: list[ApiChange], log: Callable[[str], None] | None = None
    ) -> list[RecordResult]:
        plans = [plan(r, self.releases.get(r.library, [])) for r in records]
        wanted: dict[tuple[str, Version], dict[str, Query]] = {}

        for p in plans:
            for lib, v, path, call, kw in _questions(p):
                if v is None:
                    continue
                q = wanted.setdefault((lib, v), {}).setdefault(path, Query(path))
                q.call = q.call or call
                if kw:
                    q.kwcall.add(kw)
                if p.record.max_positional is not None and path == p.record.path:
                    q.positional = p.record.max_positional
        answers: dict[tuple[str, Version], dict[str, dict[str, Any]] | str] = {}
        for (lib, v), queries in sorted(wanted.items()):
            env = self.provider(lib, str(v))
            if isinstance(env, str):
                answers[(lib, v)] = f"no environment for {lib}=={v}: {env}"
                continue
            if log:
                log(f"probing {len(queries)} names in {lib}=={v}")
            answers[(lib, v)] = run_probe(
                self.run, env, list(queries.values()), timeout_s=self.timeout_s
            )
        return [_judge(p, answers) for p in plans]


def _questions(p: _Plan) -> Iterable[tuple[str, Version | None, str, bool, str | None]]:
    r = p.record
    lib, path, param = r.library, r.path, r.parameter
    if r.removed_in is not None or r.changed_in is not None:
        for v in (p.before, p.at):
            yield lib, v, path, False, param if param else None
    if r.deprecated_in is not None:
        yield lib, p.dep_at, path, param is None, param
        if p.dep_before is not None:
            yield lib, p.dep_before, path, param is None, param
    for target, _ in _replacements(r):
        yield lib, p.at or p.dep_at, target, False, None


def _replacements(r: ApiChange) -> list[tuple[str, str | None]]:
    """Symbols the record names as replacements: (path, param)."""
    out = []
    if r.fix is not None and r.fix.kind is FixKind.RENAME and r.fix.to:
        found = _symbol_paths(r.fix.to, r.library)
        if found:
            out.append(found)
    if r.fix is not None and r.fix.kind is FixKind.KEYWORD_RENAME and r.fix.to:
        out.append((r.path, r.fix.to))
    if r.replacement:  # free text: "numpy.ptp(x)" is a call, not a keyword
        found = _symbol_paths(r.replacement, r.library)
        if found and (found[0], None) not in out and found[0] != r.path:
            out.append((found[0], None))
    return out


def _judge(p: _Plan, answers: dict[tuple[str, Version], Any]) -> RecordResult:
    r = p.record
    result = RecordResult(r)
    checks = result.checks
    lib, path, param = r.library, r.path, r.parameter

    def look(v: Version | None, what: str, which: str) -> dict[str, Any] | str:
        if v is None:
            return f"no release of {lib} {which} {what} on the index"
        got = answers.get((lib, v))
        if got is None:
            return f"{lib}=={v} was not probed"
        if isinstance(got, str):
            return got if got.startswith("no environment") else f"probe of {lib}=={v}: {got}"
        return got[path]

    def where(v: Version | None) -> str:
        return f"{lib} {v}"

    if r.removed_in is not None and re.fullmatch(r"__\w+__", path.rsplit(".", 1)[-1]):
        checks.append(
            Check(
                f"{r.symbol} removed in {r.removed_in}",
                Outcome.UNCHECKABLE,
                "a way of using an operator or protocol method, which stays: needs running code",
            )
        )
    elif r.removed_in is not None:
        before = look(p.before, str(r.removed_in), "before")
        at = look(p.at, str(r.removed_in), "at")
        if param is None:
            checks.append(_resolves(f"{path} resolves in {where(p.before)}", before, True))
            checks.append(_resolves(f"{path} is gone in {where(p.at)}", at, False))
        else:
            checks.append(
                _resolves(f"{path} resolves in {where(p.before)}", before, True, main=False)
            )
            checks.append(
                _accepts(f"{path} accepts {param}= in {where(p.before)}", before, param, True)
            )
            checks.append(
                _accepts(
                    f"{path} no longer accepts {param}= in {where(p.at)}",
                    at,
                    param,
                    False,
                    baseline=before,
                )
            )
    elif r.changed_in is not None:
        before = look(p.before, str(r.changed_in), "before")
        at = look(p.at, str(r.changed_in), "at")
        checks.append(_resolves(f"{path} resolves in {where(p.at)}", at, True, main=False))
        if param is not None:
            checks.append(
                _accepts(f"{path} accepts {param}= in {where(p.at)}", at, param, True, main=False)
            )
        if r.max_positional is not None:
            checks.append(_positional(r, f"in {where(p.before)}", before, False))
            checks.append(_positional(r, f"in {where(p.at)}", at, True))
        if r.unless_keyword is not None:
            checks.append(_default_changed(r.unless_keyword, p, before, at))
        if r.max_positional is None and r.unless_keyword is None:
            what = "a change of meaning" if r.kind.breaks else "a change of behaviour"
            checks.append(
                Check(
                    f"{r.symbol} changed in {r.changed_in}",
                    Outcome.UNCHECKABLE,
                    f"{what}: needs running code, not introspection",
                )
            )
    if r.deprecated_in is not None:
        # the warning is the main claim only of a deprecation; of a removal it is a side claim
        primary = r.effective_in is None
        dep = look(p.dep_at, str(r.deprecated_in), "at")
        claim = f"{r.symbol} warns in {where(p.dep_at)}"
        if param is not None or r.max_positional is not None or r.unless_keyword is not None:
            checks.append(_resolves(f"{path} resolves in {where(p.dep_at)}", dep, True, main=False))
            if param is not None:
                checks.append(
                    _accepts(
                        f"{path} accepts {param}= in {where(p.dep_at)}",
                        dep,
                        param,
                        True,
                        main=False,
                    )
                )
            checks.append(
                Check(
                    claim,
                    Outcome.UNCHECKABLE,
                    "cannot check: needs a call (the warning depends on the arguments passed)",
                    primary,
                )
            )
        else:
            checks.append(_warns(claim, dep, True, main=primary))
            if p.dep_before is not None:
                prior = look(p.dep_before, str(r.deprecated_in), "before")
                checks.append(
                    _warns(
                        f"{path} does not warn yet in {where(p.dep_before)}",
                        prior,
                        False,
                        main=False,
                    )
                )
    for target, tparam in _replacements(r):
        v = p.at or p.dep_at
        got = answers.get((lib, v)) if v is not None else None
        if not isinstance(got, dict):
            checks.append(
                Check(
                    f"replacement {target} resolves",
                    Outcome.UNCHECKABLE,
                    "no environment",
                    main=False,
                )
            )
            continue
        ans = got[target]
        if tparam is None:
            checks.append(
                _resolves(f"replacement {target} resolves in {where(v)}", ans, True, main=False)
            )
        else:
            checks.append(
                _accepts(
                    f"replacement {target} accepts {tparam}= in {where(v)}",
                    ans,
                    tparam,
                    True,
                    main=False,
                )
            )
    return result


def _resolves(claim: str, ans: dict[str, Any] | str, expected: bool, main: bool = True) -> Check:
    if isinstance(ans, str):
        return Check(claim, Outcome.UNCHECKABLE, ans, main)
    if ans.get("probe_failed"):
        return Check(claim, Outcome.UNCHECKABLE, ans["error"], main)
    if ans["found"] and ans.get("stub") and not expected:
        return Check(claim, Outcome.AGREE, f"a stub that only raises: {ans['stub']}", main)
    if ans["found"]:
        seen = f"resolves to a {ans.get('type', 'value')}"
        if ans.get("warnings"):
            seen += f" (warns: {ans['warnings'][0]})"
    else:
        seen = f"does not resolve ({ans['error']})"
        if expected and ans["error"].startswith("not a class attribute"):
            return Check(claim, Outcome.UNCHECKABLE, seen, main)
    ok = ans["found"] is expected
    return Check(claim, Outcome.AGREE if ok else Outcome.DISAGREE, seen, main)


def _accepts(
    claim: str,
    ans: dict[str, Any] | str,
    param: str,
    expected: bool,
    main: bool = True,
    baseline: dict[str, Any] | str | None = None,
) -> Check:
    """Whether the callable takes keyword ``param``: by its signature, else by a call passing
    only that keyword (``baseline``: the release before, which such a call is compared with)."""
    if isinstance(ans, str) or ans.get("probe_failed"):
        why = ans if isinstance(ans, str) else ans["error"]
        return Check(claim, Outcome.UNCHECKABLE, why, main)
    if not ans["found"]:
        if expected:
            return Check(
                claim, Outcome.DISAGREE, f"the callable does not resolve ({ans['error']})", main
            )
        return Check(claim, Outcome.AGREE, f"the callable itself is gone ({ans['error']})", main)
    params = ans.get("params")
    if params is None:
        how = f"opaque signature ({ans.get('sig_error')})"
        return _by_call(claim, ans, param, expected, main, baseline, how)
    if param in _named(params):
        refused = (ans.get("kwfill") or {}).get(param) or ""
        if not expected and re.search(
            rf"\b{re.escape(param)}\b.*\b(?:removed|not supported)\b", refused, re.I
        ):
            seen = (
                f"{param} is in the signature only to refuse it: a call passing it raised {refused}"
            )
            return Check(claim, Outcome.AGREE, seen, main)
        return Check(
            claim,
            Outcome.AGREE if expected else Outcome.DISAGREE,
            f"{param} is in the signature",
            main,
        )
    if expected and ans.get("wrapped"):  # a decorator may take it: a call that gets past
        how = f"{param} is not in the signature of the wrapped function"
        return _by_call(claim, ans, param, expected, main, baseline, how, past_is_enough=True)
    if any(kind == "VAR_KEYWORD" for _, kind, _ in params):
        how = f"{param} is not named in the signature, which takes **kwargs"
        return _by_call(claim, ans, param, expected, main, baseline, how)
    return Check(
        claim,
        Outcome.DISAGREE if expected else Outcome.AGREE,
        f"{param} is not in the signature",
        main,
    )


def _named(params: list[list[Any]]) -> set[str]:
    return {
        n
        for n, kind, _ in params
        if kind not in ("VAR_KEYWORD", "VAR_POSITIONAL", "POSITIONAL_ONLY")
    }


def _by_call(
    claim: str,
    ans: dict[str, Any],
    param: str,
    expected: bool,
    main: bool,
    baseline: dict[str, Any] | str | None,
    how: str,
    past_is_enough: bool = False,
) -> Check:
    """Judge by a call passing only ``param``. A refusal alone proves little (without its other
    arguments the call may take another path): a removal is shown only where the release before
    took the keyword (named it, or let the same call through). ``past_is_enough``: a call that
    failed for a missing argument after a decorator took the keyword shows it was taken (with
    ``**kwargs`` it shows nothing: they swallow any keyword)."""
    calls = ans.get("kwcall") or {}
    if param not in calls:
        return Check(claim, Outcome.UNCHECKABLE, f"{how}; not called", main)
    error = calls[param]
    seen = f"{how}; a call with only {param}= " + (f"raised {error}" if error else "went through")
    refused = error is not None and _refused(error, param)
    if expected:
        if error is None:
            return Check(claim, Outcome.AGREE, seen, main)
        if past_is_enough and _MISSING.search(error) and f"'{param}'" not in error:
            return Check(claim, Outcome.AGREE, seen + ": it got past the keyword", main)
        return Check(claim, Outcome.UNCHECKABLE, seen + ", which does not tell", main)
    if error is None:  # into **kwargs, which may pass it on to be refused with real arguments
        outcome = Outcome.UNCHECKABLE if "**kwargs" in how else Outcome.DISAGREE
        return Check(
            claim, outcome, seen + (", which does not tell" if "**kwargs" in how else ""), main
        )
    if not refused:
        return Check(claim, Outcome.UNCHECKABLE, seen + ", which does not tell", main)
    if isinstance(baseline, dict) and baseline.get("found"):
        if param in _named(baseline.get("params") or []):
            return Check(claim, Outcome.AGREE, seen + "; the release before named it", main)
        before = (baseline.get("kwcall") or {}).get(param, "not called")
        if before != "not called" and not (before and _refused(before, param)):
            return Check(claim, Outcome.AGREE, seen + "; the same call went further before", main)
    return Check(claim, Outcome.UNCHECKABLE, seen + ", as the release before did too", main)


def _refused(error: str, param: str) -> bool:
    """Whether a call's error says the keyword ``param`` is not accepted."""
    quoted = f"'{param}'" in error
    return error.startswith("TypeError") and quoted and bool(_UNEXPECTED.search(error))


def _positional(r: ApiChange, where: str, ans: dict[str, Any] | str, after: bool) -> Check:
    n = r.max_positional
    claim = (
        f"{r.path} takes at most {n} positional arguments {where}"
        if after
        else f"{r.path} takes more than {n} positional arguments {where}"
    )
    if isinstance(ans, str) or not ans["found"] or ans.get("params") is None:
        why = ans if isinstance(ans, str) else (ans.get("error") or ans.get("sig_error"))
        return Check(claim, Outcome.UNCHECKABLE, str(why))
    params = ans["params"]
    own = ""
    if not after and ans.get("wrapped"):  # the decorator that warns shows the future signature
        if ans.get("wrapped_params") is None:
            return Check(claim, Outcome.UNCHECKABLE, "the decorated function's signature is opaque")
        params, own = ans["wrapped_params"], " (by the decorated function's own signature)"
    if params and params[0][0] in ("self", "cls"):
        params = params[1:]
    if any(kind == "VAR_POSITIONAL" for _, kind, _ in params):
        return Check(claim, Outcome.UNCHECKABLE, "the signature takes *args")
    count = sum(1 for _, kind, _ in params if kind in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD"))
    ok = count <= n if after else count > n
    seen = f"{count} parameters can be passed by position{own}"
    call = ans.get("poscall")
    if call is not None and (after or not ok):  # the wrapper may take more than it shows
        return _by_position(claim, n, after, call, seen)
    return Check(claim, Outcome.AGREE if ok else Outcome.DISAGREE, seen)


_POSITIONAL_REFUSED = re.compile(r"^TypeError: .*positional arguments? but \d+ (?:were|was) given")


def _by_position(claim: str, n: int, after: bool, call: dict[str, Any], seen: str) -> Check:
    """Judge by a call with ``n + 1`` positional arguments through a decorator: a deprecation
    warning shows they were still taken, a TypeError about positional arguments that they were
    not; any other error is the placeholder arguments' and tells nothing."""
    how = f"{seen}, but a decorator wraps it; a call with {n + 1} positional arguments "
    if call["warnings"]:
        outcome = Outcome.DISAGREE if after else Outcome.AGREE
        return Check(claim, outcome, how + f"warns: {call['warnings'][0]}")
    if call["error"] and _POSITIONAL_REFUSED.search(call["error"]):
        outcome = Outcome.AGREE if after else Outcome.DISAGREE
        return Check(claim, outcome, how + f"raised {call['error']}")
    if after:
        return Check(claim, Outcome.AGREE, seen)
    what = f"raised {call['error']}" if call["error"] else "went through"
    return Check(claim, Outcome.UNCHECKABLE, how + what + ", which does not tell")


def _default_changed(
    keyword: str, p: _Plan, before: dict[str, Any] | str, at: dict[str, Any] | str
) -> Check:
    claim = f"the default of {keyword}= differs between {p.before} and {p.at}"
    defaults = []
    for ans in (before, at):
        if isinstance(ans, str) or not ans["found"] or ans.get("params") is None:
            why = ans if isinstance(ans, str) else (ans.get("error") or ans.get("sig_error"))
            return Check(claim, Outcome.UNCHECKABLE, str(why))
        found = [d for n, _, d in ans["params"] if n == keyword]
        defaults.append(found[0] if found else None)
    old, new = defaults
    if new is None and not any(n == keyword for n, _, _ in at["params"]):  # type: ignore[index]
        return Check(claim, Outcome.DISAGREE, f"{keyword} is not a parameter in {p.at}")
    if old != new:
        return Check(claim, Outcome.AGREE, f"{old} -> {new}")
    return Check(
        claim,
        Outcome.UNCHECKABLE,
        f"the default is {new} in both: a sentinel resolved at run time, or unchanged",
    )


def _warns(claim: str, ans: dict[str, Any] | str, expected: bool, main: bool = True) -> Check:
    if isinstance(ans, str) or ans.get("probe_failed"):
        why = ans if isinstance(ans, str) else ans["error"]
        return Check(claim, Outcome.UNCHECKABLE, why, main)
    if not ans["found"]:
        if expected and ans["error"].startswith("not a class attribute"):
            # as in _resolves: a subclass or an instance may hold it (pandas 1.0's offset
            # classes warned from onOffset, which their base class gained in 1.1)
            why = f"does not resolve on the class ({ans['error']})"
            return Check(claim, Outcome.UNCHECKABLE, why, main)
        if expected:
            return Check(claim, Outcome.DISAGREE, f"does not resolve ({ans['error']})", main)
        return Check(claim, Outcome.UNCHECKABLE, f"does not resolve yet ({ans['error']})", main)
    if ans.get("warnings"):
        return Check(
            claim,
            Outcome.AGREE if expected else Outcome.DISAGREE,
            f"warns on access: {ans['warnings'][0]}",
            main,
        )
    call = ans.get("call") or {}
    if call.get("warnings"):
        return Check(
            claim,
            Outcome.AGREE if expected else Outcome.DISAGREE,
            f"warns on a call without arguments: {call['warnings'][0]}",
            main,
        )
    if "skipped" in call:
        if call["skipped"].startswith("needs arguments"):
            return Check(
                claim,
                Outcome.UNCHECKABLE,
                f"cannot check: needs a call (no warning on access; {call['skipped']})",
                main,
            )
        return Check(claim, Outcome.UNCHECKABLE, f"no warning on access; {call['skipped']}", main)
    if _MISSING.search(call.get("error") or ""):  # the signature hid a required argument
        return Check(
            claim,
            Outcome.UNCHECKABLE,
            f"cannot check: needs a call (no warning on access; a call without arguments raised "
            f"{call['error']})",
            main,
        )
    if "error" in call and ans.get("is_class") and not call["error"]:
        return Check(
            claim,
            Outcome.UNCHECKABLE,
            "cannot check: needs a call (an instance made without arguments did not warn; "
            "its methods may)",
            main,
        )
    if call.get("error"):  # it failed before reaching any warning it gives (InitSpider warns
        # after its base class's __init__ refused the missing name)
        return Check(
            claim,
            Outcome.UNCHECKABLE,
            f"cannot check: needs a call (no warning on access; a call without arguments raised "
            f"{call['error']} before any warning)",
            main,
        )
    if "error" in call:
        seen = "no warning on access or on a call without arguments"
        return Check(claim, Outcome.DISAGREE if expected else Outcome.AGREE, seen, main)
    return Check(claim, Outcome.UNCHECKABLE, "no warning on access; not called", main)


# -- environments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interpreter:
    """A Python to make venvs with, and the releases that have a wheel for it (None: unknown,
    try them all)."""

    python: str
    label: str  # "3.11"
    wheels: frozenset[str] | None = None


def venv_provider(
    cache_dir: Path | None = None, *, install: bool = True, interpreters: list[Interpreter]
) -> Provider:
    """Environments from the dataset builder's cached venvs, installed from wheels, made with
    the first interpreter that has a wheel of the release (an old release has none for a new
    Python). Venvs of the running Python live in ``{cache}/venvs``, others' in
    ``{cache}/python{X.Y}/venvs``."""
    from recode.dataset.build import VenvPool
    from recode.dataset.release_notes import default_cache_dir

    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    base = cache_dir or default_cache_dir()
    pools = [
        (
            i,
            VenvPool(
                base if i.label == here else base / f"python{i.label}",
                python=i.python,
                allow_create=install,
                only_binary=True,
            ),
        )
        for i in interpreters
    ]

    def provide(library: str, version: str) -> Environment | str:
        for interp, pool in pools:
            cached = (pool.root / f"{library}-{version}" / ".complete").exists()
            if cached or interp.wheels is None or version in interp.wheels:
                py = pool.interpreter(library, version)
                if py is None:
                    return pool.failed.get(f"{library}=={version}", "not installed")
                return Environment(py)
        return "no wheel for Python " + ", ".join(i.label for i, _ in pools)

    return provide


def tree_provider(trees: dict[tuple[str, str], Path]) -> Provider:
    """Environments from package folders on disk: ``{(library, version): folder}``, each
    folder holding the library's import package; run with this interpreter."""

    def provide(library: str, version: str) -> Environment | str:
        folder = trees.get((library, version))
        if folder is None:
            return "no such tree"
        return Environment(sys.executable, (str(folder),))

    return provide


# -- output --------------------------------------------------------------------------------------


def counts(results: list[RecordResult]) -> dict[str, int]:
    out = {o.value: 0 for o in Outcome}
    for res in results:
        out[res.outcome.value] += 1
    return out


def format_text(results: list[RecordResult]) -> str:
    lines = []
    for res in results:
        lines.append(f"{res.outcome.value:12}  {res.record.id}  ({res.record.symbol})")
        for c in res.checks:
            mark = "" if c.main else " [secondary]"
            lines.append(f"    {c.outcome.value:12}  {c.claim}{mark}: {c.observed}")
    total = counts(results)
    lines.append(", ".join(f"{n} {name}" for name, n in total.items()) + f" of {len(results)}")
    return "\n".join(lines) + "\n"


def format_json(results: list[RecordResult]) -> str:
    return (
        json.dumps(
            {"counts": counts(results), "records": [r.to_dict() for r in results]},
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
