"""Benchmark: how much of what really disappeared between an old release and today's recode reports.

For one pair of releases of each library (``PAIRS``), ``recode-dataset diff --introspect``'s
engine (:mod:`recode.dataset.apiscan`) lists the public names, methods and keywords that the old
release has and today's does not, by the noise rules written in that module's docstring
(deprecations are not counted: they still work). Each one becomes a probe snippet in the idiom
users write:

* a name: ``np.NAME`` / ``pd.NAME`` / ``plt.NAME`` (attribute chains through the usual alias
  for numpy, pandas and pyplot), ``from scipy.x import NAME`` for the other libraries; a module:
  ``import matplotlib.tight_layout``;
* a method or attribute: called (or read) on an object made the way users make one:
  ``df = pd.DataFrame(...)``, ``s = pd.Series(...)``, ``a = np.zeros(3)``,
  ``fig, ax = plt.subplots()``, ``g = df.groupby("a")``, else ``obj = Class()``;
* a keyword: ``f(x, kw=1)``, ``df.method(kw=1)``, ``Class(kw=1)``.

The snippets of one library are checked with the real detector, one run of
``recode-migrate FOLDER --format json --no-progress --target LIB==NEW --libraries LIB``; an item
is reported when a finding lands on its probe line.

Weights come from a real-code corpus nobody on this project wrote: the wheels of
``bench_ruff.py``'s corpus (scikit-learn 1.0.2, pandas 1.3.5, statsmodels 0.13.5, seaborn 0.11.2,
astropy 4.3.1, xarray 0.20.2) and three more users of scikit-learn and matplotlib
(scikit-image 0.19.3, imbalanced-learn 0.10.1, mlxtend 0.22.0), fetched by ``bench_ruff.fetch``
into ``bench/.cache/corpus``. An item's weight is its number of occurrences in the files that
import its library, counted by regular expressions (an estimate, not a parse): a name as an
attribute chain through an alias (``np.lib.pad``) or in a ``from M import`` list; a module in
an import; a method as ``.NAME(`` (or ``.NAME`` for an attribute), which also counts same-named
methods of other classes, so a method name that other public classes of the new release still
have (``apply``, ``format``) or that a builtin type has (``count``, ``sort``, ``append``) gets
weight 0 (ambiguous, listed as such), and the others' counts are shared evenly among the items
of the library with that method name; a keyword as
``NAME=`` inside a call of the function's or method's name (shared evenly among the items with
the same callable name and keyword). The weighted share is
sum(weight of reported items) / sum(weight of all items), over all libraries.

Another package's names that left a namespace (numpy's aliases in scipy's, removed in 1.12)
belong to the owning package by the noise rules: they get a column of their own and stay out of
the shares. Where a library's own reference says which names of a namespace are public
(``DOCUMENTED_ONLY``: pandas' names under ``pandas.io``, scikit-learn's under
``sklearn.utils.estimator_checks``), the others, never in its documented
API, are not counted at all (their number is printed).

Usage: ``python bench/bench_kb_coverage.py [--libraries numpy ...] [--refresh] [--json OUT]
[--misses N]``. The introspection of each pair is cached in ``bench/.cache/kb_coverage``
(``--refresh`` redoes it); venvs are verify's (``~/.cache/recode/venvs``), installed on first
use.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "kb_coverage"
CORPUS_CACHE = HERE / ".cache" / "corpus"

#: library, old release, today's release
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("numpy", "1.26.4", "2.4.6"),
    ("pandas", "1.5.3", "3.1.2"),
    ("scipy", "1.10.1", "1.17.1"),
    ("scikit-learn", "1.2.2", "1.9.1"),
    ("matplotlib", "3.7.5", "3.11.2"),
    # the releases after those the base's records cover; torch: 2.13.0 (its CPU build) to
    # 2.15.0 (a CUDA build, introspected on the CPU), one pair across 2.14 so that 2.14's
    # removals stay counted (what 2.14 added and 2.15 removed is in neither release)
    ("jax", "0.6.2", "0.10.2"),
    ("scrapy", "2.13.4", "2.19.0"),
    ("torch", "2.13.0", "2.15.0"),
    # seaborn: 0.13 is today's series; 0.12.2 the last release before it
    ("seaborn", "0.12.2", "0.13.2"),
)
EXTRA_CORPUS = ("scikit-image==0.19.3", "imbalanced-learn==0.10.1", "mlxtend==0.22.0")

#: the alias users bind a module to (attribute chains go through it)
ALIASES: dict[str, str] = {
    "numpy": "np",
    "pandas": "pd",
    "matplotlib.pyplot": "plt",
    "jax.numpy": "jnp",
}

#: how users get an instance of a class: (setup lines, the variable)
INSTANCES: dict[str, tuple[str, str]] = {
    "numpy.ndarray": ("a = np.zeros(3)", "a"),
    "numpy.generic": ("x = np.float64(1.0)", "x"),
    "numpy.dtype": ("dt = np.dtype('f8')", "dt"),
    "numpy.ma.MaskedArray": ("m = np.ma.masked_array([1, 2])", "m"),
    "pandas.DataFrame": ("df = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})", "df"),
    "pandas.Series": ("s = pd.Series([1, 2])", "s"),
    "pandas.Index": ("idx = pd.Index([1, 2])", "idx"),
    "pandas.DatetimeIndex": ("dti = pd.date_range('2020-01-01', periods=3)", "dti"),
    "pandas.MultiIndex": ("mi = pd.MultiIndex.from_tuples([(1, 2)])", "mi"),
    "pandas.Categorical": ("cat = pd.Categorical(['a', 'b'])", "cat"),
    "pandas.Timestamp": ("ts = pd.Timestamp('2020-01-01')", "ts"),
    "pandas.Timedelta": ("td = pd.Timedelta('1D')", "td"),
    "pandas.core.groupby.DataFrameGroupBy": (
        "df = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})\ng = df.groupby('a')",
        "g",
    ),
    "pandas.core.groupby.SeriesGroupBy": (
        "df = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})\ng = df.groupby('a')['b']",
        "g",
    ),
    "pandas.core.resample.Resampler": (
        "s = pd.Series([1, 2], index=pd.date_range('2020-01-01', periods=2))\nr = s.resample('1D')",
        "r",
    ),
    "pandas.core.window.Rolling": ("s = pd.Series([1, 2])\nr = s.rolling(2)", "r"),
    "matplotlib.axes.Axes": ("fig, ax = plt.subplots()", "ax"),
    "matplotlib.figure.Figure": ("fig = plt.figure()", "fig"),
}


#: Noise rule "never in the library's documented API", where the library says which names of a
#: namespace are public: pandas' API reference (doc/source/reference/index.rst) calls public the
#: ``pandas.*`` namespace and a list of subpackages, "In addition, public functions in
#: ``pandas.io`` and ``pandas.tseries`` submodules are mentioned in the documentation"; under
#: ``pandas.io`` it names only these (reference/io.rst, style.rst), with their members. Anything
#: else under ``pandas.io`` (``pandas.io.formats.format``, ``.info``, ``.xml``, the pytables and
#: sql internals) was never public, and is not counted. scikit-learn's developer guide says of
#: ``sklearn.utils`` "These utilities are meant to be used internally within the scikit-learn
#: package. They are not guaranteed to be stable between versions" (developers/utilities.rst);
#: of ``sklearn.utils.estimator_checks`` its API reference documents two functions, not the
#: individual checks (``check_sample_weights_invariance``) or the module's imports.
DOCUMENTED_ONLY: dict[str, tuple[str, ...]] = {
    "pandas.io": (
        "pandas.io.json.read_json",
        "pandas.io.json.to_json",
        "pandas.io.json.json_normalize",
        "pandas.io.json.build_table_schema",
        "pandas.io.formats.style.Styler",
        "pandas.io.stata.StataReader",
        "pandas.io.stata.StataWriter",
    ),
    "sklearn.utils.estimator_checks": (
        "sklearn.utils.estimator_checks.check_estimator",
        "sklearn.utils.estimator_checks.parametrize_with_checks",
    ),
}


def undocumented(symbol: str) -> bool:
    """Whether ``symbol`` lies in a namespace of ``DOCUMENTED_ONLY`` and is not among (nor a
    member of) the names its library's reference documents there."""
    base = symbol.partition("(")[0]
    for namespace, documented in DOCUMENTED_ONLY.items():
        if base == namespace or base.startswith(namespace + "."):
            return not any(base == d or base.startswith(d + ".") for d in documented)
    return False


_BUILTIN_METHODS = frozenset(
    n
    for t in (list, dict, str, bytes, set, tuple, int, float, object)
    for n in dir(t)
    if not n.startswith("_")
)


@dataclass
class Item:
    library: str
    kind: str  # name | module | method | attribute | keyword
    symbol: str
    detail: str
    code: str = ""
    line: int = 0  # the probe line in ``code``
    weight: int = 0
    reported: bool = False
    by: str = ""  # the record that reported it
    #: a method name other classes still have (``apply``, ``format``) or a builtin type's
    #: (``count``, ``sort``): its uses in the corpus cannot be told apart, its weight is 0
    ambiguous: bool = False
    in_kb: bool = False  # a record covers it (``recode-dataset diff --check``'s rule)

    @property
    def reexport(self) -> bool:
        """Another package's name gone from this one's namespace (numpy's in scipy's): by the
        noise rules it belongs to the owning package, so it is kept out of the share."""
        return "re-export of" in self.detail

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "library",
                "kind",
                "symbol",
                "detail",
                "weight",
                "reported",
                "by",
                "ambiguous",
                "in_kb",
            )
        }


# -- what disappeared ----------------------------------------------------------------------------


def disappeared(library: str, old: str, new: str, refresh: bool) -> dict[str, Any]:
    """The introspected changes of one pair (cached), with each object's kind, and the names
    of the members public classes of the new release still have."""
    from recode.dataset.apiscan import introspect_versions
    from recode.dataset.knowledge import IMPORT_NAMES
    from recode.dataset.verify import Interpreter, venv_provider
    from recode.training.dataset_tools import run

    cached = CACHE / f"{library}-{old}-{new}.json"
    if cached.exists() and not refresh:
        return json.loads(cached.read_text("utf-8"))
    here = "{}.{}".format(*sys.version_info[:2])
    provider = venv_provider(interpreters=[Interpreter(sys.executable, here)])
    started = time.monotonic()
    found = introspect_versions(
        library, old, new, provider, run, packages=IMPORT_NAMES.get(library, (library,))
    )
    print(
        f"bench_kb_coverage: introspected {library} {old} -> {new} in "
        f"{time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    out = []
    for c in found.changes:
        base = c.symbol.partition("(")[0]
        obj = found.old.object(base) or {}
        out.append(
            {
                **c.to_dict(),
                "object": obj.get("kind"),
                "parent": (found.old.object(base.rpartition(".")[0]) or {}).get("kind"),
            }
        )
    kept = sorted(
        {
            name
            for obj in found.new.objects.values()
            if "foreign" not in obj
            for name in obj.get("members", {})
        }
    )
    data = {"changes": out, "kept_members": kept}
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(data, indent=0) + "\n", "utf-8")
    return data


def items_of(library: str, found: dict[str, Any]) -> list[Item]:
    out = []
    kept = set(found["kept_members"]) | _BUILTIN_METHODS
    for c in found["changes"]:
        if c["kind"] == "deprecated":
            continue
        symbol, detail = c["symbol"], c["detail"]
        if undocumented(symbol):
            continue
        if c["kind"].startswith("parameter_"):
            kind = "keyword"
        elif detail.startswith("public module"):
            kind = "module"
        elif detail.startswith(("method", "property", "attribute")):
            kind = "method" if detail.startswith("method") else "attribute"
        else:
            kind = "name"
        item = Item(library, kind, symbol, detail)
        item.ambiguous = kind in ("method", "attribute") and symbol.rpartition(".")[2] in kept
        item.code, item.line = snippet(item, c)
        out.append(item)
    return out


# -- snippets ------------------------------------------------------------------------------------


def _reach(path: str) -> tuple[list[str], str]:
    """(import lines, expression) that name ``path`` the way users do."""
    module, _, name = path.rpartition(".")
    for prefix, alias in sorted(ALIASES.items(), key=lambda t: -len(t[0])):
        if path == prefix:
            return [f"import {prefix} as {alias}"], alias
        if module == prefix or module.startswith(prefix + "."):
            rest = module[len(prefix) :]
            return [f"import {prefix} as {alias}"], f"{alias}{rest}.{name}"
    if "." not in module:  # the top level of a package without a usual alias
        return [f"import {module}"], path
    return [f"from {module} import {name}"], name


def _instance(cls: str) -> tuple[list[str], str]:
    if cls in INSTANCES:
        setup, var = INSTANCES[cls]
        imports, _ = _reach(cls)
        lib = cls.split(".")[0]
        head = imports[0] if lib in ("numpy", "pandas") else ""
        if cls.startswith("matplotlib"):
            head = "import matplotlib.pyplot as plt"
        return [h for h in (head,) if h] + setup.splitlines(), var
    imports, expr = _reach(cls)
    return [*imports, f"obj = {expr}()"], "obj"


def snippet(item: Item, change: dict[str, Any]) -> tuple[str, int]:
    base, _, keyword = item.symbol.partition("(")
    keyword = keyword.rstrip(")")
    if item.kind == "module":
        lines = [f"import {base}"]
    elif item.kind == "name":
        imports, expr = _reach(base)
        lines = [*imports, f"value = {expr}"]
    elif item.kind in ("method", "attribute"):
        cls, _, name = base.rpartition(".")
        setup, var = _instance(cls)
        lines = [*setup, f"{var}.{name}()" if item.kind == "method" else f"value = {var}.{name}"]
    else:  # keyword
        if change.get("parent") == "class":  # a method's keyword
            cls, _, name = base.rpartition(".")
            setup, var = _instance(cls)
            lines = [*setup, f"{var}.{name}({keyword}=1)"]
        else:
            imports, expr = _reach(base)
            args = "" if change.get("object") == "class" else "[1, 2], "
            lines = [*imports, f"result = {expr}({args}{keyword}=1)"]
    return "\n".join(lines) + "\n", len(lines)


# -- the detector --------------------------------------------------------------------------------


def covered(library: str, items: list[Item]) -> None:
    from recode.dataset.apidiff import ApiChange, missing_from_kb
    from recode.dataset.knowledge import load_knowledge_base

    changes = [ApiChange("removed", i.symbol, i.detail) for i in items]
    missing = {c.symbol for c in missing_from_kb(changes, load_knowledge_base(), library)}
    for i in items:
        i.in_kb = i.symbol not in missing


def detect(library: str, new: str, items: list[Item]) -> None:
    with tempfile.TemporaryDirectory(prefix="kbcov-") as tmp:
        folder = Path(tmp)
        for i, item in enumerate(items):
            (folder / f"probe_{i:05d}.py").write_text(item.code, "utf-8")
        cmd = [
            "recode-migrate",
            str(folder),
            "--format",
            "json",
            "--no-progress",
            "--target",
            f"{library}=={new}",
            "--libraries",
            library,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        try:
            findings = json.loads(proc.stdout)["findings"]
        except (ValueError, KeyError) as exc:
            raise SystemExit(
                f"bench_kb_coverage: recode-migrate gave no JSON ({exc}): {proc.stderr[-500:]}"
            ) from exc
    by_line: dict[tuple[int, int], str] = {}
    for f in findings:
        index = int(re.search(r"probe_(\d+)\.py$", f["path"]).group(1))
        by_line.setdefault((index, f["line"]), f["record"])
    for i, item in enumerate(items):
        # A name reached by ``from M import NAME`` is reported by a finding on that import too
        # (a record of a deprecated module M flags the import, not the later use of NAME).
        imported = item.kind == "name" and item.code.startswith("from ")
        lines = [item.line, 1] if imported else [item.line]
        record = next((by_line[(i, n)] for n in lines if (i, n) in by_line), None)
        item.reported, item.by = record is not None, record or ""


# -- weights -------------------------------------------------------------------------------------


def corpus_texts() -> list[str]:
    sys.path.insert(0, str(HERE))
    import bench_ruff

    roots = bench_ruff.fetch([*bench_ruff.DEFAULT_PACKAGES, *EXTRA_CORPUS], CORPUS_CACHE)
    return [p.read_text("utf-8", errors="replace") for root in roots for p in root.rglob("*.py")]


_CHAIN = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]*)", re.M)
_IMPORT = re.compile(r"^\s*import\s+([^\n]+)", re.M)
_METHOD = re.compile(r"\.([A-Za-z_]\w*)\s*(\()?")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(((?:[^()]|\([^()]*\))*)\)")
_KEYWORD = re.compile(r"\b([A-Za-z_]\w*)\s*=(?!=)")


@dataclass
class Uses:
    """What the files that import one library use, counted once per file by regular
    expressions."""

    chains: Counter[str]  # dotted names: np.lib.pad
    imported: Counter[tuple[str, str]]  # (module, name) of from-imports
    modules: Counter[str]  # import M / from M import
    calls: Counter[str]  # .name( : a method call
    reads: Counter[str]  # .name not called
    keywords: Counter[tuple[str, str]]  # (called name, keyword)

    @classmethod
    def of(cls, texts: Iterable[str]) -> Uses:
        u = cls(Counter(), Counter(), Counter(), Counter(), Counter(), Counter())
        for text in texts:
            u.chains.update(_CHAIN.findall(text))
            for module, names in _FROM.findall(text):
                u.modules[module] += 1
                for part in names.strip("()").split(","):
                    name = part.split(" as ")[0].strip()
                    if name:
                        u.imported[(module, name)] += 1
            for line in _IMPORT.findall(text):
                for part in line.split(","):
                    u.modules[part.split(" as ")[0].strip()] += 1
            for name, paren in _METHOD.findall(text):
                (u.calls if paren else u.reads)[name] += 1
            for func, args in _CALL.findall(text):
                for kw in _KEYWORD.findall(args):
                    u.keywords[(func, kw)] += 1
        return u


def _spellings(path: str) -> list[str]:
    """``path`` as users write it: in full and through its usual alias."""
    out = [path]
    for prefix, alias in ALIASES.items():
        if path.startswith(prefix + "."):
            out.append(alias + path[len(prefix) :])
    return out


def weigh(items: list[Item], texts: list[str]) -> None:
    roots = {"scikit-learn": "sklearn"}
    for library in {i.library for i in items}:
        root = roots.get(library, library)
        imports = re.compile(rf"^\s*(?:import|from)\s+{root}\b", re.M)
        uses = Uses.of(t for t in texts if imports.search(t))
        for item in (i for i in items if i.library == library):
            base, _, keyword = item.symbol.partition("(")
            keyword = keyword.rstrip(")")
            module, _, name = base.rpartition(".")
            if item.kind == "module":
                item.weight = uses.modules[base] + uses.imported[(module, name)]
            elif item.kind == "name":
                item.weight = sum(uses.chains[s] for s in _spellings(base))
                item.weight += uses.imported[(module, name)]
            elif item.ambiguous:
                item.weight = 0
            elif item.kind in ("method", "attribute"):
                # a leaf that several classes lost (ndarray.ptp, generic.ptp) shares its uses
                same = sum(
                    1
                    for i in items
                    if i.library == library
                    and i.kind == item.kind
                    and i.symbol.rpartition(".")[2] == name
                )
                count = uses.calls if item.kind == "method" else uses.reads
                item.weight = count[name] // same
            else:  # a keyword several callables of that name lost shares its uses
                leaf = f"{name}({keyword})"
                same = sum(
                    1
                    for i in items
                    if i.library == library
                    and i.kind == "keyword"
                    and i.symbol.rpartition(".")[2] == leaf
                )
                item.weight = uses.keywords[(name, keyword)] // same


# -- report --------------------------------------------------------------------------------------


def share(items: list[Item], weighted: bool = False) -> tuple[float, int, int]:
    total = sum(i.weight if weighted else 1 for i in items)
    got = sum(i.weight if weighted else 1 for i in items if i.reported)
    return (got / total if total else 1.0), got, total


def _weighted(w: float, got: int, total: int) -> str:
    """The weighted share, or "no uses" where the corpus never uses what disappeared (it
    has no users of jax, scrapy or torch): no weight, no share."""
    return f"{w:.1%} ({got}/{total} uses)" if total else "no uses in the corpus"


def report(pairs: list[tuple[str, str, str]], items: list[Item], misses: int) -> str:
    """The table (re-exports of other packages' names apart, as the noise rules say), the
    biggest misses and the misses grouped by namespace."""
    lines = [
        "| library | pair | disappeared (names / methods / keywords) | reported | share | "
        "weighted share | other packages' names gone (reported) |",
        "|---|---|---|---|---|---|---|",
    ]
    own = [i for i in items if not i.reexport]
    for library, old, new in pairs:
        mine = [i for i in own if i.library == library]
        kinds = [
            sum(1 for i in mine if i.kind in ks)
            for ks in (("name", "module"), ("method", "attribute"), ("keyword",))
        ]
        s, got, total = share(mine)
        w, wgot, wtotal = share(mine, weighted=True)
        other = [i for i in items if i.library == library and i.reexport]
        lines.append(
            f"| {library} | {old} -> {new} | {total} ({' / '.join(map(str, kinds))}) | "
            f"{got} | {s:.1%} | {_weighted(w, wgot, wtotal)} | "
            f"{len(other)} ({sum(i.reported for i in other)}) |"
        )
    s, got, total = share(own)
    w, wgot, wtotal = share(own, weighted=True)
    other = [i for i in items if i.reexport]
    lines.append(
        f"| all | | {total} | {got} | {s:.1%} | {_weighted(w, wgot, wtotal)} | "
        f"{len(other)} ({sum(i.reported for i in other)}) |"
    )
    missed = sorted((i for i in own if not i.reported), key=lambda i: (-i.weight, i.symbol))
    gaps = sum(1 for i in missed if not i.in_kb)
    lines += [
        "",
        f"Misses: {len(missed)}, of which {gaps} have no record (a knowledge-base gap) "
        f"and {len(missed) - gaps} have one the snippet did not trigger (a detector gap). "
        "Biggest by uses in the corpus:",
        "",
    ]
    lines += [
        f"- `{i.symbol}` ({i.kind}, {i.weight} uses, "
        f"{'record exists' if i.in_kb else 'no record'}): {i.detail[:80]}"
        for i in missed[:misses]
    ]
    groups = Counter(i.symbol.partition("(")[0].rpartition(".")[0] for i in missed)
    stale = sum(1 for i in missed if "deprecated already" in i.detail)
    lines += [
        "",
        f"Misses by namespace or class ({stale} of them already deprecated in the old release):",
        "",
    ]
    lines += [f"- `{where}`: {n}" for where, n in groups.most_common(misses // 2)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--libraries", nargs="*", help="only these libraries of PAIRS")
    p.add_argument("--refresh", action="store_true", help="introspect again instead of the cache")
    p.add_argument("--misses", type=int, default=40, help="how many misses to list")
    p.add_argument("--json", type=Path, help="write every item and its result here")
    args = p.parse_args(argv)
    pairs = [t for t in PAIRS if not args.libraries or t[0] in args.libraries]
    texts = corpus_texts()
    items: list[Item] = []
    dropped: Counter[str] = Counter()
    for library, old, new in pairs:
        found = disappeared(library, old, new, args.refresh)
        mine = items_of(library, found)
        dropped[library] = sum(
            1 for c in found["changes"] if c["kind"] != "deprecated" and undocumented(c["symbol"])
        )
        detect(library, new, mine)
        covered(library, mine)
        items += mine
    weigh(items, texts)
    print(report(pairs, items, args.misses))
    if +dropped:
        print(
            "\nNot counted, never in the documented API (DOCUMENTED_ONLY): "
            + ", ".join(f"{library} {n}" for library, n in (+dropped).items())
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)  # bench/results/ is not in git
        args.json.write_text(json.dumps([i.to_dict() for i in items], indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
