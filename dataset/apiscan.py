"""Breaking changes between two releases found by introspecting both, installed.

``recode-dataset diff LIB OLD NEW --introspect`` installs both releases in the cached venvs of
``recode-dataset verify`` (:func:`recode.dataset.verify.venv_provider`) and walks each one's
public API in the sandbox (the probe runner ``verify`` uses), which a static look
(:mod:`recode.dataset.apidiff`) misses: names a module ``__getattr__`` serves or expires, C
functions, names made at import time. The walk, per release:

* modules: the package, then every public submodule (``pkgutil`` over ``__path__``), imported;
  a module whose import fails is skipped and named (``Snapshot.failed``);
* names of a module: its public ``dir()``, its ``__all__``, and the names its ``__getattr__``
  serves from numpy's tables (``__expired_attributes__``, ``__former_attrs__``,
  ``__deprecated_attrs__``); each is read with ``getattr`` with warnings recorded, so an expired
  name is seen with its message and a deprecated one (scipy's deprecated namespaces such as
  ``scipy.signal.signaltools``, numpy's ``__deprecated_attrs__``) with its warning;
* classes: their public methods and attributes (``dir`` of the class, inherited ones included:
  that is what users call); callables: their parameters (``inspect.signature``).

Then :func:`compare` reports what disappeared (names, methods, keywords) and what became
deprecated (a warning on access that the old release did not give). Every disappearance is
confirmed by looking the path up directly in the new release (``verify``'s probe: ``getattr``,
else a submodule import), so a name the walk did not reach but that still resolves is not
reported.

Noise rules (what is not reported, and why):

* private: any part of the path after the package that starts with ``_``; test and build
  modules (``tests``, ``testing``, ``conftest``, ``setup``, vendored copies, ``__main__``);
* in a module without ``__all__``, a callable that is the package's own top-level object of the
  same name (``numpy.lib.user_array.add`` is ``numpy.add``, a ufunc with no ``__module__``): an
  import, reported at the top level only;
* in a module without ``__all__`` (not the package's top level), an object with no
  ``__module__`` (an instance, a constant, a ufunc) that the module's source binds only by
  ``from M import NAME`` from a public module ``M`` is an import as a class would be
  (``scrapy.extensions.httpcache.responsetypes``, ``sklearn.calibration.xlogy``), reported
  where it is defined; imported from a private module, this is its public path and it counts.
  Names the source binds only inside a top-level ``for`` statement are the loop's leftovers
  (``scrapy.utils.ossignal.signame``), and a type variable (``T = TypeVar("T")``) is a
  generic's parameter for annotations: neither is reported;
* a module bound under another module's name (``np`` inside a module, ``os``, ``mcoll`` for
  ``matplotlib.collections`` inside ``matplotlib.axes``): not a name of that module; a module of
  the package at another path of its top level (``numpy.emath``) is walked there too;
* re-exports of other packages' names (numpy's functions in scipy's namespace): the name is
  reported where the package exports it (its top level or its ``__all__``: users write
  ``scipy.interp``), with the owner named, elsewhere it is an implementation import and ignored
  (a constant is another package's where that package's top level holds the same object under
  the same name: ``matplotlib.pylab.NaN`` is numpy's); its methods and
  keywords are reported under the owning package only, and so are the members a class inherits
  from another package's class (``ndarray`` methods of a scipy subclass);
* a name re-exported at several paths of the package: its methods and keywords are reported
  once, under its shortest public path; a method a class inherits is reported under the class
  that defines it (``numpy.generic.ptp``, not each scalar type);
* a method that left a base class but that every public subclass of it in the new release still
  has moved down (``spmatrix.sum``, ``BaseDecisionTree.fit``): instances still have it, not
  reported (``ndarray.ptp`` is: ``matrix`` has one, ``memmap`` does not); so is one that every
  subclass of it in the package has, private ones included, where there is one: the objects a
  factory returns (``DistanceMetric.get_metric(...)``, instances of the private
  ``DistanceMetric64`` since scikit-learn 1.3) still have it; an
  attribute or property gone from the class may now be set by instances (``coef_``): not
  reported;
* under a removed module or class, only the module or class is reported, not each name in it;
* parameters: only where ``inspect.signature`` works in both releases (C functions and ufuncs
  without a signature: parameters unknown, nothing reported); a keyword that left the named
  parameters of a callable that now takes ``**kwargs`` may still be accepted and is not
  reported; positional-only parameters are not keywords;
* a name, method or keyword whose look-up in the new release fails for another reason than
  its absence (an import error of the module around it) is not reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recode.dataset.apidiff import ApiChange, _pair_objects
from recode.dataset.verify import (
    Environment,
    ProbeRunner,
    Provider,
    Query,
    run_marked,
    run_probe,
)

__all__ = ["Introspection", "Snapshot", "compare", "introspect", "introspect_versions"]

# inspect.Parameter kinds, as the probe writes them
_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD, _VAR_POSITIONAL, _KEYWORD_ONLY, _VAR_KEYWORD = range(5)

_NOISE_PARTS = frozenset(
    {
        "test",
        "tests",
        "testing",
        "conftest",
        "setup",
        "_vendor",
        "vendor",
        "vendored",
        "externals",
        "benchmark",
        "benchmarks",
        "__main__",
    }
)

_WALK = r"""
import ast, collections, importlib, inspect, json, pkgutil, sys, types, typing, warnings

WARNS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
NOISE = set(REQ["noise"])
ROOTS = tuple(REQ["packages"])
SERVED = ("__expired_attributes__", "__former_attrs__", "__deprecated_attrs__")
sys.path[:0] = REQ["path"]

def err(exc):
    return type(exc).__name__ + ": " + " ".join(str(exc).split())[:300]

def warned(caught):
    return [w.category.__name__ + ": " + " ".join(str(w.message).split())[:300]
            for w in caught if issubclass(w.category, WARNS) or "Deprecat" in w.category.__name__]

def attr(obj, name):
    # an object whose __getattr__ raises anything (torch.backends.cuda's cuFFT plan cache asks a
    # CUDA device on a CPU build: AssertionError) has no such attribute for the walk
    try:
        return getattr(obj, name, None)
    except Exception:
        return None

def public(name):
    return isinstance(name, str) and name.isidentifier() and not name.startswith("_") \
        and name not in NOISE

def ours(modname):
    return isinstance(modname, str) and modname.split(".")[0] in ROOTS

def params(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError, RuntimeError):
        return None
    return [[p.name, int(p.kind), int(p.default is not p.empty)]
            for p in sig.parameters.values()]

def read(owner, name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return getattr(owner, name), None, warned(caught)
        except Exception as exc:
            return None, err(exc), warned(caught)

def lender(name, obj):
    # the other package whose top level holds this very object under this name (a constant
    # re-exported by `from numpy import *`), else None
    for modname, other in list(sys.modules.items()):
        if "." in modname or ours(modname) or not isinstance(other, types.ModuleType):
            continue
        try:
            if vars(other).get(name, lender) is obj:
                return modname
        except TypeError:
            continue
    return None

def members(cls):
    out = {}
    for name in sorted(n for n in dir(cls) if public(n)):
        try:
            static = inspect.getattr_static(cls, name)
        except AttributeError:
            static = None
        value, error, got = read(cls, name)
        if error is not None:
            continue
        entry = {}
        where = next((k for k in cls.__mro__ if name in vars(k)), cls)
        if where is not cls:
            entry["def"] = str(where.__module__) + ":" + where.__qualname__
        if isinstance(static, property):
            entry["kind"] = "property"
        elif callable(value):
            entry["kind"] = "method"
            entry["params"] = params(value)
        else:
            entry["kind"] = "attribute"
        if got:
            entry["warn"] = got
        out[name] = entry
    return out

BOUND = {}

def bindings(mod):
    # name -> how the module's own top-level code binds it: "import" (from a module whose
    # path is public), "loop" (inside a top-level for statement), "other"; {} without source
    if mod.__name__ in BOUND:
        return BOUND[mod.__name__]
    out = BOUND[mod.__name__] = {}
    try:
        tree = ast.parse(inspect.getsource(mod))
    except Exception:
        return out
    package = mod.__name__ if hasattr(mod, "__path__") else mod.__name__.rpartition(".")[0]

    def note(name, how):
        out.setdefault(name, set()).add(how)

    def visit(stmts, loop):
        for s in stmts:
            if isinstance(s, ast.ImportFrom):
                source = s.module or ""
                if s.level:
                    base = package.rsplit(".", s.level - 1)[0] if s.level > 1 else package
                    source = base + ("." + source if source else "")
                private = any(p.startswith("_") for p in source.split("."))
                for a in s.names:
                    if a.name != "*":
                        note(a.asname or a.name,
                             "loop" if loop else "other" if private else "import")
            elif isinstance(s, (ast.For, ast.AsyncFor)):
                for n in ast.walk(s.target):
                    if isinstance(n, ast.Name):
                        note(n.id, "loop")
                visit(s.body, True)
                visit(s.orelse, True)
            elif isinstance(s, (ast.If, ast.Try, ast.While, ast.With)) or \
                    type(s).__name__ == "TryStar":
                for item in getattr(s, "items", []):
                    for n in ast.walk(item):
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                            note(n.id, "loop" if loop else "other")
                visit(getattr(s, "body", []), loop)
                visit(getattr(s, "orelse", []), loop)
                for h in getattr(s, "handlers", []):
                    visit(h.body, loop)
                visit(getattr(s, "finalbody", []), loop)
            elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                note(s.name, "loop" if loop else "other")
            elif isinstance(s, ast.Import):
                for a in s.names:
                    note(a.asname or a.name.split(".")[0], "other")
            else:
                for n in ast.walk(s):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        note(n.id, "loop" if loop else "other")

    visit(tree.body, False)
    return out

TYPEVARS = tuple(getattr(typing, n) for n in ("TypeVar", "ParamSpec", "TypeVarTuple")
                 if isinstance(getattr(typing, n, None), type))

NAMES = {}

def subclass_members(cls):
    # the public members every subclass of cls in the package has (any path, private
    # ones too: a factory may return them), or None where it has none
    seen, todo, common = set(), list(type.__subclasses__(cls)), None
    while todo:
        k = todo.pop()
        if k in seen or not ours(getattr(k, "__module__", None)):
            continue
        seen.add(k)
        todo.extend(type.__subclasses__(k))
        if k not in NAMES:
            try:
                NAMES[k] = frozenset(n for n in dir(k) if public(n))
            except Exception:
                NAMES[k] = frozenset()
        common = NAMES[k] if common is None else common & NAMES[k]
    return sorted(common) if common is not None else None

paths, objects, failed = {}, {}, {}
walked = collections.Counter()
queue = collections.deque()
for root in ROOTS:
    try:
        queue.append((root, importlib.import_module(root)))
        paths[root] = {"id": "module:" + root}
    except Exception as exc:
        failed[root] = err(exc)

while queue:
    mpath, mod = queue.popleft()
    top = "." not in mpath
    explicit = getattr(mod, "__all__", None)
    explicit = {n for n in explicit if public(n)} if isinstance(explicit, (list, tuple)) else set()
    if top:  # a package's own namespace: also what its __dir__ hides (scipy's numpy aliases)
        names = {n for n in [*dir(mod), *vars(mod)] if public(n)}
    else:
        names = set(explicit) if explicit else {n for n in dir(mod) if public(n)}
    names |= explicit
    for table in SERVED:
        served = vars(mod).get(table)
        if isinstance(served, (dict, set, frozenset, list, tuple)):
            names |= {n for n in served if public(n)}
    subs = set()
    if hasattr(mod, "__path__"):
        try:
            subs = {i.name for i in pkgutil.iter_modules(mod.__path__) if public(i.name)}
        except Exception:
            subs = set()
    names |= subs
    for name in sorted(names):
        path = mpath + "." + name
        if path in paths or path in failed:
            continue
        obj, error, got = read(mod, name)
        if error is not None and name in subs:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    obj, error = importlib.import_module(mod.__name__ + "." + name), None
                except BaseException as exc:
                    failed[path] = err(exc)
                    continue
                got = warned(caught)
        if error is not None:
            paths[path] = {"error": error}
            if got:
                paths[path]["warn"] = got
            continue
        if isinstance(obj, types.ModuleType):
            if not ours(obj.__name__):
                continue  # another package's module bound to a name (np, os)
            if mpath.startswith(obj.__name__ + ".") or obj.__name__ == mpath:
                continue  # a module's own parent: a cycle
            own = obj.__name__ == mod.__name__ + "." + name
            if not (own or top):
                continue  # `import matplotlib.collections as mcoll` inside a module
            oid = "module:" + obj.__name__
            paths[path] = {"id": oid}
            if got:
                paths[path]["warn"] = got
            objects.setdefault(oid, {"kind": "module"})
            if walked[oid] < 3 and path.count(".") < 6:
                walked[oid] += 1
                queue.append((path, obj))
            continue
        owner = attr(obj, "__module__") if (inspect.isclass(obj) or callable(obj)) else None
        owner = owner if isinstance(owner, str) else None
        if owner is None and not isinstance(obj, (bool, type(None))):
            owner = lender(name, obj)
        if owner is None and not (top or explicit) and callable(obj) \
                and vars(sys.modules[mpath.split(".")[0]]).get(name, lender) is obj:
            continue  # the package's own top-level callable imported here (a ufunc: no owner)
        if owner is None and not (top or explicit):
            if isinstance(obj, TYPEVARS):
                continue  # a type variable: a generic's parameter, for annotations
            how = bindings(mod).get(name)
            if how == {"import"} or how == {"loop"}:
                continue  # an instance or a constant imported here, or a loop's leftover
        foreign = owner is not None and not ours(owner)
        if foreign and not (top or name in explicit):
            continue  # an implementation import of another package's name
        if owner and not (top or explicit) and owner != mod.__name__:
            continue  # a module without __all__: an import of a name defined elsewhere
        qual = attr(obj, "__qualname__")
        if owner and isinstance(qual, str):
            oid = owner + ":" + qual
        elif isinstance(obj, (bool, int, float, str)):  # a constant re-exported elsewhere
            oid = "value:" + name + ":" + type(obj).__name__ + ":" + repr(obj)[:60]
        else:
            oid = "value:" + path
        paths[path] = {"id": oid}
        if got:
            paths[path]["warn"] = got
        if oid in objects:
            continue
        entry = {"kind": "class" if inspect.isclass(obj) else
                 "function" if callable(obj) else "attribute"}
        if foreign:
            entry["foreign"] = owner.split(".")[0]
        elif callable(obj):
            entry["params"] = params(obj)
            if inspect.isclass(obj):
                entry["members"] = members(obj)
                entry["bases"] = [str(k.__module__) + ":" + k.__qualname__
                                  for k in obj.__mro__[1:] if ours(k.__module__)]
                below = subclass_members(obj)
                if below is not None:
                    entry["below"] = below
        objects[oid] = entry

print("@@WALK@@" + json.dumps({"paths": paths, "objects": objects, "failed": failed,
                               "python": sys.version.split()[0]}))
"""


@dataclass
class Snapshot:
    """One release's public API as the walk saw it.

    ``paths``: public path -> ``{"id": object id, "warn": [...]}`` or ``{"error": ...}`` (a
    name the module serves only to refuse: an expired alias); ``objects``: id -> kind,
    ``params`` (``[[name, kind], ...]`` or None where the signature is unknown), ``members``
    of a class, ``foreign`` (the package owning a re-export); ``failed``: module -> import
    error."""

    paths: dict[str, dict[str, Any]]
    objects: dict[str, dict[str, Any]]
    failed: dict[str, str] = field(default_factory=dict)

    def present(self, path: str) -> bool:
        entry = self.paths.get(path)
        return entry is not None and "id" in entry

    def object(self, path: str) -> dict[str, Any] | None:
        entry = self.paths.get(path)
        return self.objects.get(entry["id"]) if entry and "id" in entry else None

    def to_dict(self) -> dict[str, Any]:
        return {"paths": self.paths, "objects": self.objects, "failed": self.failed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        return cls(data["paths"], data["objects"], data.get("failed", {}))


def introspect(
    run: ProbeRunner, env: Environment, packages: tuple[str, ...], *, timeout_s: float = 900.0
) -> Snapshot:
    """Walk ``packages`` under ``env`` in the sandbox ``run``; RuntimeError where it gives
    nothing back."""
    request = {"packages": list(packages), "noise": sorted(_NOISE_PARTS), "path": list(env.path)}
    code = f"REQ = {request!r}\n{_WALK}"
    got = run_marked(run, env, code, "@@WALK@@", timeout_s, 256 * 1024 * 1024)
    if isinstance(got, str):
        raise RuntimeError(f"the walk of {', '.join(packages)} under {env.python} failed: {got}")
    return Snapshot.from_dict(got)


# -- comparing -----------------------------------------------------------------------------------


#: namespaces a library's own documentation calls private, though their names carry no
#: underscore, and the documented names inside them. pandas: "The pandas.core, pandas.compat,
#: and pandas.util top-level modules are PRIVATE" (https://pandas.pydata.org/docs/reference/
#: index.html); its API reference documents the groupby, window and resample classes and two
#: hash functions at these paths.
_PRIVATE: dict[str, tuple[str, ...]] = {
    "pandas": ("pandas.core", "pandas.compat", "pandas.util"),
}
_DOCUMENTED: dict[str, tuple[str, ...]] = {
    "pandas": (
        "pandas.core.groupby.DataFrameGroupBy",
        "pandas.core.groupby.SeriesGroupBy",
        "pandas.core.groupby.GroupBy",
        "pandas.core.resample.Resampler",
        "pandas.core.window.Rolling",
        "pandas.core.window.Expanding",
        "pandas.core.window.ExponentialMovingWindow",
        "pandas.core.window.Window",
        "pandas.util.hash_pandas_object",
        "pandas.util.hash_array",
    ),
}


def _within(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def _noise(path: str) -> bool:
    """Not public API, by the rules of the module docstring.

    >>> [_noise(p) for p in ("numpy.lib.pad", "numpy._core.x", "scipy.signal.tests.t",
    ...     "pandas.core.frame.DataFrame", "pandas.core.groupby.SeriesGroupBy.mad")]
    [False, True, True, True, False]
    """
    parts = path.split(".")
    if any(p.startswith("_") or p in _NOISE_PARTS for p in parts[1:]):
        return True
    root = parts[0]
    return _within(path, _PRIVATE.get(root, ())) and not _within(path, _DOCUMENTED.get(root, ()))


def _optional_keywords(params: list[list[Any]]) -> list[str]:
    """Parameters that can be passed by keyword and have a default (a required one is passed
    by position, whatever its name)."""
    return [p[0] for p in params if p[1] in (_POSITIONAL_OR_KEYWORD, _KEYWORD_ONLY) and p[2]]


def _canonical_paths(snap: Snapshot) -> dict[str, str]:
    """Object id -> its shortest public path (ties: alphabetical)."""
    best: dict[str, str] = {}
    for path in sorted(snap.paths, key=lambda p: (p.count("."), len(p), p)):
        entry = snap.paths[path]
        if "id" in entry and not _noise(path):
            best.setdefault(entry["id"], path)
    return best


def _keywords(
    path: str, old: list[list[Any]] | None, new: list[list[Any]] | None, location: str
) -> list[ApiChange]:
    if old is None or new is None:
        return []  # parameters unknown
    if any(p[1] == _VAR_KEYWORD for p in new):
        return []  # **kwargs may still take it
    kept = {p[0] for p in new if p[1] != _VAR_POSITIONAL}
    return [
        ApiChange("parameter_removed", f"{path}({name})", "keyword no longer accepted", location)
        for name in _optional_keywords(old)
        if name not in kept and not name.startswith("_")
    ]


def _under(path: str, removed: set[str]) -> bool:
    parts = path.split(".")
    return any(".".join(parts[:i]) in removed for i in range(1, len(parts)))


#: ``paths -> {path: verify's probe answer}`` in the new release
Resolver = Callable[[list[str]], dict[str, dict[str, Any]]]


def compare(old: Snapshot, new: Snapshot, resolve: Resolver | None = None) -> list[ApiChange]:
    """What disappeared from ``old`` to ``new`` (names, methods, keywords) and what became
    deprecated, by the noise rules of this module. ``resolve`` looks paths up in the new
    release directly; a disappearance it finds resolving, or cannot decide, is dropped."""
    canonical = _canonical_paths(old)
    roots = {p.split(".")[0] for p in old.paths}
    changes: list[ApiChange] = []
    # names
    gone = sorted(
        (p for p in old.paths if old.present(p) and not new.present(p) and not _noise(p)),
        key=lambda p: (p.count("."), p),
    )
    removed: set[str] = set()
    named: list[str] = []
    for path in gone:
        home = canonical.get(old.paths[path]["id"], path)
        if _under(path, removed) or (home != path and home in removed):
            continue
        removed.add(path)
        named.append(path)
    # methods of classes that are still there, each under the class that defines it where
    # that class is public, else under the first class (shortest path) that inherits it
    by_member: dict[tuple[str, str], list[str]] = {}
    for oid, path in sorted(canonical.items(), key=lambda t: (t[1].count("."), t[1])):
        obj = old.objects.get(oid) or {}
        if obj.get("kind") != "class" or "foreign" in obj or not new.present(path):
            continue
        after = new.object(path) or {}
        if after.get("kind") != "class":
            continue
        for name, member in obj.get("members", {}).items():
            where = member.get("def", oid)
            if where.split(".")[0].split(":")[0] not in roots:
                continue  # inherited from another package's class: reported under that package
            if name not in after.get("members", {}):
                key = (where, name)
                by_member.setdefault(key, []).append(path)
    # a member that left a base class but that every public subclass of it still has moved
    # down: instances of the classes users make still have it
    public_new = set(_canonical_paths(new))
    below: dict[str, list[set[str]]] = {}
    for oid, obj in new.objects.items():
        for base in obj.get("bases", []) if oid in public_new else []:
            below.setdefault(base, []).append(set(obj.get("members", {})))
    methods: list[str] = []
    for (where, name), classes in by_member.items():
        home = canonical.get(where)
        path = f"{home if home in classes else classes[0]}.{name}"
        cls = new.paths[path.rpartition(".")[0]]["id"]
        subclasses = below.get(cls, [])
        if subclasses and all(name in members for members in subclasses):
            continue
        if name in new.objects.get(cls, {}).get("below", ()):
            continue  # every subclass has it, public or not: what the factory returns
        methods.append(path)
    answers = resolve(named + methods) if resolve else {}

    def really_gone(path: str) -> tuple[bool, str]:
        if resolve is None:
            return True, "not found"
        ans = answers.get(path)
        if not isinstance(ans, dict) or ans.get("found") or ans.get("probe_failed"):
            return False, ""
        return True, str(ans.get("error") or "not found")

    for path in named:
        ok, why = really_gone(path)
        if not ok:
            continue
        entry = new.paths.get(path, {})
        detail = entry.get("error") or why
        owner = (old.object(path) or {}).get("foreign")
        if owner:
            detail = f"re-export of {owner}'s name; {detail}"
        if old.paths[path].get("warn"):
            detail = f"deprecated already in the old release; {detail}"
        what = "module" if (old.object(path) or {}).get("kind") == "module" else "name"
        changes.append(
            ApiChange("removed", path, f"public {what} gone: {detail}", _location(old, path))
        )
    for path in methods:
        ok, why = really_gone(path)
        cls, _, name = path.rpartition(".")
        what = ((old.object(cls) or {}).get("members", {}).get(name) or {}).get("kind")
        if what != "method" and why.startswith("not a class attribute"):
            continue  # an attribute or property that instances may now set themselves
        if ok:
            changes.append(ApiChange("removed", path, f"{what} gone: {why}", _location(old, cls)))
    # keywords: functions and classes at their canonical path, and methods (once per class
    # that defines them, like methods above)
    seen: set[tuple[str, str]] = set()
    for oid, path in sorted(canonical.items(), key=lambda t: (t[1].count("."), t[1])):
        obj = old.objects.get(oid) or {}
        if "foreign" in obj or obj.get("kind") not in ("function", "class"):
            continue
        after = new.object(path)
        if after is None or after.get("kind") != obj["kind"]:
            continue
        changes += _keywords(path, obj.get("params"), after.get("params"), _location(old, path))
        for name, member in obj.get("members", {}).items():
            now = after.get("members", {}).get(name)
            key = (member.get("def", oid), name)
            if key in seen or key[0].split(".")[0].split(":")[0] not in roots:
                continue
            seen.add(key)
            if member.get("kind") == "method" and now and now.get("kind") == "method":
                changes += _keywords(
                    f"{path}.{name}", member.get("params"), now.get("params"), _location(old, path)
                )
    # deprecations on access
    for path, entry in sorted(new.paths.items()):
        if "id" in entry and entry.get("warn") and old.present(path) and not _noise(path):
            if not old.paths[path].get("warn"):
                changes.append(
                    ApiChange("deprecated", path, entry["warn"][0], _location(new, path))
                )
    return changes


def _location(snap: Snapshot, path: str) -> str:
    """Where a name lives: its owner module, from the object id."""
    entry = snap.paths.get(path, {})
    oid = entry.get("id", "")
    if oid.startswith("module:"):
        return oid.partition(":")[2]
    if ":" in oid and not oid.startswith("value:"):
        return oid.partition(":")[0]
    return path.rpartition(".")[0]


@dataclass
class Introspection:
    """The changes between two releases and the snapshots they were read from."""

    changes: list[ApiChange]
    old: Snapshot
    new: Snapshot


def introspect_versions(
    library: str,
    old_version: str,
    new_version: str,
    provider: Provider,
    run: ProbeRunner,
    *,
    packages: tuple[str, ...],
    timeout_s: float = 900.0,
) -> Introspection:
    """Install (or reuse) both releases of ``library``, walk ``packages`` in each and compare;
    RuntimeError where a release has no environment or its walk fails."""
    snaps: list[Snapshot] = []
    envs: list[Environment] = []
    for version in (old_version, new_version):
        env = provider(library, version)
        if isinstance(env, str):
            raise RuntimeError(f"no environment for {library}=={version}: {env}")
        envs.append(env)
        snaps.append(introspect(run, env, packages, timeout_s=timeout_s))

    def resolve(paths: list[str]) -> dict[str, dict[str, Any]]:
        if not paths:
            return {}
        got = run_probe(run, envs[1], [Query(p) for p in paths], timeout_s=timeout_s)
        if isinstance(got, str):
            raise RuntimeError(f"the look-up in {library}=={new_version} failed: {got}")
        return got

    old, new = snaps
    changes = compare(old, new, resolve)
    # a name gone from one place that appeared in another: a move or rename, for the candidates
    present = [{p: "object" for p in s.paths if s.present(p)} for s in snaps]
    _pair_objects(changes, present[0], present[1])
    return Introspection(changes, old, new)
