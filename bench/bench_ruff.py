"""Benchmark: recode-migrate's NumPy 2.0 findings and speed against ruff's NPY001/NPY201 rules.

The corpus is real code nobody on this project wrote: wheels of older releases of well-known
scientific packages (from before NumPy 2.0), downloaded by this script with pip into
``bench/.cache/ruff/`` (gitignored). Only their ``.py`` files are unpacked. Wheels rather than
sdists: an sdist of a compiled package makes ``pip download`` build its build requirements just
to read its metadata, which takes minutes and may fail; the wheel holds the same library code.

Both tools get the same explicit list of files, from the same working folder, in the same run:

    ruff check --isolated --select NPY001,NPY201 --output-format json --no-cache FILES
    recode-migrate FILES --format json --no-progress --target numpy==2.0.0 --libraries numpy
                   --jobs N

It reports

1. the share of ruff's findings that recode also finds, matched by file, line and name (the
   ``np.NAME`` in ruff's message against the record's symbol), and every miss grouped by the
   missing name, classified as a knowledge-base gap (no active record for that name), compatibility
   code that recode skips on purpose (``try/except ImportError``, version checks), or a detector
   gap (the record exists and the site is not guarded);
2. what recode finds beyond ruff, grouped by record, with the reason (ruff does not know the name,
   found with a probe file; an import site; a keyword or method record) and a few sampled sites;
3. wall and CPU time of each tool, the median of ``--runs`` alternating runs after one warm-up
   run each, and the ratio recode/ruff.

Usage: ``python bench/bench_ruff.py [--runs 3] [--jobs 2] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache" / "ruff"

#: Releases from before NumPy 2.0 (and mostly before 1.24) that still use the old aliases.
#: About 3,700 Python files, about 60 MB of wheels.
DEFAULT_PACKAGES = (
    "scikit-learn==1.0.2",
    "pandas==1.3.5",
    "statsmodels==0.13.5",
    "seaborn==0.11.2",
    "astropy==4.3.1",
    "xarray==0.20.2",
)
#: The platform the wheels are fetched for: CPython 3.9 on manylinux, which all of these have.
WHEEL_PLATFORM = (
    "--python-version",
    "3.9",
    "--implementation",
    "cp",
    "--abi",
    "cp39",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2010_x86_64",
    "--platform",
    "manylinux1_x86_64",
)
TARGET = "numpy==2.0.0"
RUFF_RULES = "NPY001,NPY201"
_RUFF_NAME = re.compile(r"`(np(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")


# -- corpus -------------------------------------------------------------------------------------


def fetch(packages: Sequence[str], cache: Path) -> list[Path]:
    """Download each package's wheel (once) and unpack its .py files; the unpacked folders."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    roots = []
    for spec in packages:
        name, _, version = spec.partition("==")
        if not version:
            raise SystemExit(f"bench_ruff: a package is NAME==VERSION, got {spec!r}")
        root = cache / "src" / f"{name}-{version}"
        roots.append(root)
        if (root / ".unpacked").exists():
            continue
        wheel = _find_wheel(wheels, name, version)
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            cmd += ["--only-binary", ":all:", *WHEEL_PLATFORM, "-d", str(wheels), spec]
            print("bench_ruff: " + " ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, check=True)
            wheel = _find_wheel(wheels, name, version)
            if wheel is None:
                raise SystemExit(f"bench_ruff: pip downloaded no wheel for {spec}")
        if root.exists():
            shutil.rmtree(root)
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.endswith(".py") and ".." not in Path(member).parts:
                    zf.extract(member, root)
        (root / ".unpacked").write_text(wheel.name + "\n")
    return roots


def _find_wheel(folder: Path, name: str, version: str) -> Path | None:
    stem = re.sub(r"[-_.]+", "_", name).lower()
    for whl in sorted(folder.glob("*.whl")):
        dist, _, rest = whl.name.partition("-")
        if re.sub(r"[-_.]+", "_", dist).lower() == stem and rest.startswith(version + "-"):
            return whl
    return None


def corpus_files(roots: Iterable[Path], base: Path) -> list[str]:
    """Every .py file under ``roots``, as sorted paths relative to ``base``."""
    out = []
    for root in roots:
        for path in root.rglob("*.py"):
            if path.is_file():
                out.append(path.relative_to(base).as_posix())
    return sorted(out)


# -- running the tools --------------------------------------------------------------------------


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + sys of the tool and its children

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


def tool(name: str) -> str:
    """The executable next to this interpreter (the project venv), else on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"bench_ruff: {name} not found")
    return found


def ruff_command(files: Sequence[str]) -> list[str]:
    return [
        tool("ruff"),
        "check",
        "--isolated",
        "--select",
        RUFF_RULES,
        "--output-format",
        "json",
        "--no-cache",
        *files,
    ]


def recode_command(files: Sequence[str], jobs: int, kb: Sequence[str] = ()) -> list[str]:
    cmd = [tool("recode-migrate"), *files, "--format", "json", "--no-progress"]
    cmd += ["--target", TARGET, "--libraries", "numpy", "--jobs", str(jobs)]
    for extra in kb:
        cmd += ["--kb", extra]
    return cmd


def tool_env(source_only: bool = False) -> dict[str, str]:
    """The environment the tools run in: this one, except that Python may write its bytecode
    (``__pycache__``), as an installed package has it, so that the warm-up run leaves it for
    the timed runs. With ``PYTHONDONTWRITEBYTECODE`` set (as on the shared development
    machine), each ``recode-migrate`` start compiled its own modules from source again: about
    0.1 s of CPU per run, which no installed copy pays. ``source_only`` keeps the variable."""
    if source_only:
        return dict(os.environ)
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: Sequence[str], cwd: Path, timing: Timing, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; record its wall and CPU time; its stdout. Exit 0 or 1 (findings) are fine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"bench_ruff: {Path(cmd[0]).name} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
    timing.wall.append(wall)
    timing.cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return proc.stdout


# -- findings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuffFinding:
    path: str
    line: int
    column: int
    code: str
    name: str  # numpy.float_ (ruff writes np.float_)
    message: str


@dataclass(frozen=True)
class RecodeFinding:
    path: str
    line: int
    column: int
    record: str
    symbol: str
    severity: str
    message: str


def ruff_name(message: str) -> str | None:
    """``numpy.NAME`` from a ruff NPY message: "`np.float_` will be removed..." -> numpy.float_."""
    m = _RUFF_NAME.search(message)
    return "numpy" + m.group(1)[2:] if m else None


def parse_ruff(out: str, base: Path) -> list[RuffFinding]:
    found = []
    for item in json.loads(out or "[]"):
        code = item.get("code") or ""
        if not code.startswith("NPY"):
            continue  # syntax errors and other rules
        path = _relative(item["filename"], base)
        name = ruff_name(item["message"]) or "?"
        loc = item["location"]
        found.append(RuffFinding(path, loc["row"], loc["column"], code, name, item["message"]))
    return found


def parse_recode(out: str, base: Path) -> tuple[list[RecodeFinding], dict]:
    data = json.loads(out)
    found = [
        RecodeFinding(
            _relative(f["path"], base),
            f["line"],
            f["column"],
            f["record"],
            f["symbol"],
            f["severity"],
            f["message"],
        )
        for f in data["findings"]
        if f.get("library") == "numpy"
    ]
    return found, data.get("summary", {})


def _relative(path: str, base: Path) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(base.resolve()).as_posix()
        except ValueError:
            return p.as_posix()
    return p.as_posix()


def symbol_path(symbol: str) -> str:
    """``numpy.foo(bar)`` -> ``numpy.foo``."""
    return symbol.split("(", 1)[0]


def same_name(ruff: str, symbol: str) -> bool:
    """Whether a recode symbol names what ruff's message names (full path, or the last part)."""
    path = symbol_path(symbol)
    return path == ruff or path.rpartition(".")[2] == ruff.rpartition(".")[2]


def match(
    ruff: Sequence[RuffFinding], recode: Sequence[RecodeFinding]
) -> tuple[list[tuple[RuffFinding, RecodeFinding]], list[RuffFinding], list[RecodeFinding]]:
    """Pair findings on the same file and line with the same name; each finding pairs once.

    Returns (pairs, ruff findings recode lacks, recode findings ruff lacks).
    """
    recode_by_line: dict[tuple[str, int], list[RecodeFinding]] = defaultdict(list)
    for f in recode:
        recode_by_line[(f.path, f.line)].append(f)
    ruff_by_line: dict[tuple[str, int], list[RuffFinding]] = defaultdict(list)
    for r in ruff:
        ruff_by_line[(r.path, r.line)].append(r)
    pairs: list[tuple[RuffFinding, RecodeFinding]] = []
    misses: list[RuffFinding] = []
    used: set[int] = set()
    for key in sorted(ruff_by_line):
        rs, cs = ruff_by_line[key], recode_by_line.get(key, [])
        # every same-name pair on the line, best first: the full path, then the nearer column
        options = sorted(
            (
                (symbol_path(c.symbol) != r.name, abs(c.column - r.column), i, j)
                for i, r in enumerate(rs)
                for j, c in enumerate(cs)
                if same_name(r.name, c.symbol)
            )
        )
        taken_r: set[int] = set()
        for _, _, i, j in options:
            if i in taken_r or id(cs[j]) in used:
                continue
            taken_r.add(i)
            used.add(id(cs[j]))
            pairs.append((rs[i], cs[j]))
        misses += [r for i, r in enumerate(rs) if i not in taken_r]
    misses.sort(key=lambda x: (x.path, x.line, x.column))
    extra = [f for f in recode if id(f) not in used]
    return pairs, misses, extra


# -- explaining the differences -----------------------------------------------------------------


class RecodeView:
    """recode's own view of a site: which records are active, and whether a site is guarded."""

    def __init__(self, kb_extra: Sequence[str] = ()) -> None:
        from packaging.version import Version

        from recode.dataset.knowledge import load_knowledge_base
        from recode.server.detector import Detector
        from recode.server.severity import LibraryVersion

        kb = load_knowledge_base(None)
        if kb_extra:
            extra = load_knowledge_base([Path(p) for p in kb_extra])
            kb = type(kb)(kb.records + extra.records, kb.problems + extra.problems)
        self.kb = kb.restricted(["numpy"])
        self.records = self.kb.records
        version = LibraryVersion(Version(TARGET.partition("==")[2]), "target")
        self.detector = Detector(self.kb, {"numpy": version}, min_severity="warning")
        self.active_paths = set(self.detector.active)
        self.by_leaf: dict[str, set[str]] = defaultdict(set)
        for path in self.active_paths:
            self.by_leaf[path.rpartition(".")[2]].add(path)

    def knows(self, name: str) -> bool:
        return name in self.active_paths or bool(self.by_leaf.get(name.rpartition(".")[2]))

    def guard(self, source: bytes, line: int, column: int) -> str | None:
        """The kind of compatibility code (try/if) around a site, as recode judges it, or None."""
        from packaging.version import Version

        from recode.server.guards import Library, guard
        from recode.server.parsing import parse

        tree = parse(source)
        row = line - 1
        text = source.split(b"\n")[row] if row < source.count(b"\n") + 1 else b""
        col = len(text.decode("utf-8", "replace")[: column - 1].encode("utf-8"))
        node = tree.root_node.descendant_for_point_range((row, col), (row, col + 1))
        if node is None:
            return None
        # the detector's own rule, so the verdict is the one it applied
        lib = Library.of("numpy", {"np", "numpy"}, Version(TARGET.partition("==")[2]))
        g = guard(node, lib)
        return None if g is None else describe_guard(g, node)


def describe_guard(guard: Node, node: Node) -> str:
    """What made recode call a site compatibility code: the try's handlers or the if's test."""
    part = node
    while part.parent is not None and part.parent != guard:
        part = part.parent
    if guard.type == "try_statement":
        caught = [
            " ".join(_text(c).split(":", 1)[0].split())
            for c in guard.children
            if c.type == "except_clause"
        ]
        where = {"block": "try body"}.get(part.type, part.type.replace("_", " "))
        return f"in the {where} of a try with {'; '.join(caught)}"
    if guard.type == "conditional_expression":
        parts = guard.named_children
        cond = parts[1] if len(parts) > 1 else guard
        return f"in a conditional expression on `{_short(_text(cond))}`"
    cond = guard.child_by_field_name("condition")
    return f"under `if {_short(_text(cond))}` (site in its {part.type.replace('_', ' ')})"


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


def _short(s: str, n: int = 70) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def classify_misses(misses: Sequence[RuffFinding], view: RecodeView, base: Path) -> dict[str, str]:
    """``path:line:column`` -> "kb-gap" | "guarded: <why>" | "detector-gap"."""
    out = {}
    cache: dict[str, bytes] = {}
    for r in misses:
        key = f"{r.path}:{r.line}:{r.column}"
        if not view.knows(r.name):
            out[key] = "kb-gap"
            continue
        src = cache.get(r.path)
        if src is None:
            src = cache[r.path] = (base / r.path).read_bytes()
        g = view.guard(src, r.line, r.column)
        out[key] = f"guarded: {g}" if g else "detector-gap"
    return out


def ruff_known(paths: Iterable[str], workdir: Path) -> set[str]:
    """Which numpy paths ruff's NPY001/NPY201 flag, found by running ruff on a probe file."""
    paths = sorted(set(paths))
    lines = ["import numpy", *paths]
    probe = workdir / "probe_ruff_names.py"
    probe.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(ruff_command([str(probe)]), capture_output=True, text=True)
    rows = {item["location"]["row"] for item in json.loads(proc.stdout or "[]")}
    return {p for i, p in enumerate(paths, start=2) if i in rows}


def explain_extra(
    extra: Sequence[RecodeFinding], view: RecodeView, known: set[str], base: Path, per: int
) -> dict[str, dict]:
    """Recode's findings beyond ruff, grouped by record: count, why, and sampled sites."""
    records = {r.id: r for r in view.records}
    groups: dict[str, list[RecodeFinding]] = defaultdict(list)
    for f in extra:
        groups[f.record].append(f)
    lines: dict[str, list[str]] = {}
    out = {}
    rng = random.Random(0)
    for rid, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rec = records.get(rid)
        path = symbol_path(items[0].symbol)
        sites = Counter()
        for f in items:
            src = lines.get(f.path)
            if src is None:
                src = lines[f.path] = (base / f.path).read_text("utf-8", "replace").splitlines()
            code = src[f.line - 1].strip() if f.line - 1 < len(src) else ""
            sites[_site_kind(code)] += 1
        if rec is not None and rec.parameter:
            why = "keyword record (ruff's NPY rules check names, not keywords)"
        elif rec is not None and rec.kind in ("behavior", "signature"):
            why = "behaviour/signature change of a name that still exists"
        elif path not in known:
            why = "name ruff does not know"
        elif sites.get("import", 0) == len(items):
            why = "import sites (ruff flags the uses, not the import)"
        else:
            why = "ruff knows the name but did not flag these sites"
        sample = rng.sample(items, min(per, len(items)))
        out[rid] = {
            "symbol": items[0].symbol,
            "kind": rec.kind if rec else "?",
            "count": len(items),
            "sites": dict(sites),
            "why": why,
            "samples": [
                _site(f, lines[f.path]) for f in sorted(sample, key=lambda x: (x.path, x.line))
            ],
            "all": [_site(f, lines[f.path]) for f in items],
        }
    return out


def _site(f: RecodeFinding, lines: list[str]) -> dict[str, str]:
    code = lines[f.line - 1].strip() if f.line - 1 < len(lines) else ""
    return {"where": f"{f.path}:{f.line}:{f.column}", "code": code}


def _site_kind(code: str) -> str:
    if re.match(r"(from\s+\S+\s+)?import\b", code):
        return "import"
    return "use"


# -- the run ------------------------------------------------------------------------------------


def kb_fingerprint() -> dict:
    from recode.dataset.knowledge import default_kb_dir

    f = Path(default_kb_dir()) / "numpy.jsonl"
    if not f.exists():
        return {"file": str(f), "exists": False}
    data = f.read_bytes()
    return {
        "file": "dataset/kb/numpy.jsonl",
        "lines": data.count(b"\n"),
        "sha256": hashlib.sha256(data).hexdigest()[:16],
    }


def git_head() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return proc.stdout.strip() or "?"


def version_of(cmd: str) -> str:
    proc = subprocess.run([tool(cmd), "--version"], capture_output=True, text=True)
    return proc.stdout.strip()


def run(args: argparse.Namespace) -> dict:
    roots = fetch(args.packages, args.cache)
    base = args.cache / "src"
    files = corpus_files(roots, base)
    if not files:
        raise SystemExit("bench_ruff: no Python files in the corpus")
    nbytes = sum((base / f).stat().st_size for f in files)
    nlines = sum((base / f).read_bytes().count(b"\n") for f in files)
    per_pkg = Counter(f.split("/", 1)[0] for f in files)

    ruff_cmd = ruff_command(files)
    recode_cmd = recode_command(files, args.jobs, args.kb)
    ruff_t, recode_t = Timing(), Timing()
    # one warm-up run each (file cache, interpreter start-up caches), then alternate
    env = tool_env(args.source_only)
    timed(ruff_cmd, base, Timing(), env)
    timed(recode_cmd, base, Timing(), env)
    ruff_out = recode_out = ""
    for _ in range(args.runs):
        ruff_out = timed(ruff_cmd, base, ruff_t, env)
        recode_out = timed(recode_cmd, base, recode_t, env)

    ruff_found = parse_ruff(ruff_out, base)
    recode_found, summary = parse_recode(recode_out, base)
    pairs, misses, extra = match(ruff_found, recode_found)
    view = RecodeView(args.kb)
    classes = classify_misses(misses, view, base)
    with tempfile.TemporaryDirectory(prefix="bench-ruff-") as tmp:
        known = ruff_known(
            {symbol_path(f.symbol) for f in extra} | {r.path for r in view.records},
            Path(tmp),
        )
    extra_groups = explain_extra(extra, view, known, base, args.samples)

    miss_groups: dict[str, list[dict]] = defaultdict(list)
    for r in misses:
        key = f"{r.path}:{r.line}:{r.column}"
        miss_groups[r.name].append(
            {"where": key, "code": r.code, "message": r.message, "class": classes[key]}
        )
    same_line_other = sum(
        1 for r in misses if any(f.path == r.path and f.line == r.line for f in recode_found)
    )
    share = len(pairs) / len(ruff_found) if ruff_found else 1.0
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "repo_head": git_head(),
        "knowledge_base": kb_fingerprint()
        | {"numpy_records": len(view.records), "active_at_target": len(view.active_paths)},
        "tools": {"ruff": version_of("ruff"), "python": sys.version.split()[0]},
        "commands": {
            "ruff": "ruff " + " ".join(ruff_cmd[1 : len(ruff_cmd) - len(files)]) + " FILES",
            "recode": "recode-migrate FILES " + " ".join(recode_cmd[1 + len(files) :]),
            "cwd": str(base),
            "bytecode": "as the environment says" if args.source_only else "written",
        },
        "corpus": {
            "packages": list(args.packages),
            "files": len(files),
            "lines": nlines,
            "bytes": nbytes,
            "files_per_package": dict(per_pkg),
            "recode_skipped": summary.get("files_skipped", []),
        },
        "timing": {
            "runs": args.runs,
            "jobs": args.jobs,
            "ruff": asdict(ruff_t),
            "recode": asdict(recode_t),
            "ruff_wall_median": ruff_t.wall_median,
            "recode_wall_median": recode_t.wall_median,
            "ruff_cpu_median": ruff_t.cpu_median,
            "recode_cpu_median": recode_t.cpu_median,
            "wall_ratio": recode_t.wall_median / ruff_t.wall_median,
            "cpu_ratio": recode_t.cpu_median / max(ruff_t.cpu_median, 1e-9),
            "load_average": os.getloadavg(),
        },
        "coverage": {
            "ruff_findings": len(ruff_found),
            "ruff_by_code": dict(Counter(r.code for r in ruff_found)),
            "recode_findings": len(recode_found),
            "matched": len(pairs),
            "share_of_ruff_found": share,
            "missed": len(misses),
            "missed_by_class": dict(Counter(_class_head(c) for c in classes.values())),
            "missed_with_other_recode_finding_on_line": same_line_other,
            "misses": dict(sorted(miss_groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))),
        },
        "beyond_ruff": {
            "findings": len(extra),
            "by_reason": dict(
                Counter(g["why"] for g in extra_groups.values() for _ in range(g["count"]))
            ),
            "records": extra_groups,
        },
    }


def _class_head(c: str) -> str:
    return c.split(":", 1)[0]


# -- output -------------------------------------------------------------------------------------


def render(result: dict, max_sites: int = 1000) -> str:
    t, c, b, k = result["timing"], result["coverage"], result["beyond_ruff"], result["corpus"]
    out = [
        f"# recode vs ruff ({RUFF_RULES}), {result['date']}, repo {result['repo_head']}",
        f"{result['tools']['ruff']}; knowledge base {result['knowledge_base']}",
        f"corpus: {k['files']} files, {k['lines']:,} lines, {k['bytes'] / 1e6:.1f} MB: "
        + ", ".join(f"{p} ({n})" for p, n in sorted(k["files_per_package"].items())),
    ]
    if k["recode_skipped"]:
        out.append(f"recode skipped {len(k['recode_skipped'])} files: {k['recode_skipped'][:5]}")
    out += [
        "",
        "| | ruff | recode | recode/ruff |",
        "|---|---:|---:|---:|",
        f"| wall s (median of {t['runs']}) | {t['ruff_wall_median']:.2f} | "
        f"{t['recode_wall_median']:.2f} | {t['wall_ratio']:.2f}x |",
        f"| CPU s, user+sys (median) | {t['ruff_cpu_median']:.2f} | "
        f"{t['recode_cpu_median']:.2f} | {t['cpu_ratio']:.2f}x |",
        f"| findings | {c['ruff_findings']} | {c['recode_findings']} | |",
        "",
        f"wall runs: ruff {_fmt(t['ruff']['wall'])}, recode {_fmt(t['recode']['wall'])}; "
        f"load average {', '.join(f'{x:.1f}' for x in t['load_average'])}",
        "",
        f"ruff's findings recode also finds (file, line, name): {c['matched']}/"
        f"{c['ruff_findings']} = {100 * c['share_of_ruff_found']:.1f}%",
        f"missed: {c['missed']} {c['missed_by_class']}; of them "
        f"{c['missed_with_other_recode_finding_on_line']} have another recode finding on the line",
    ]
    shown = 0
    for name, items in c["misses"].items():
        classes = Counter(_class_head(i["class"]) for i in items)
        out.append(f"\n## missed {name}: {len(items)} ({dict(classes)})")
        for i in items:
            if shown >= max_sites:
                break
            out.append(f"- {i['where']} [{i['class']}] {i['message']}")
            shown += 1
    out += ["", f"recode beyond ruff: {b['findings']} findings {b['by_reason']}"]
    out += ["", "| record | symbol | n | why | sites |", "|---|---|---:|---|---|"]
    for rid, g in b["records"].items():
        out.append(f"| {rid} | {g['symbol']} | {g['count']} | {g['why']} | {g['sites']} |")
    out.append("")
    for rid, g in b["records"].items():
        for s in g["samples"]:
            out.append(f"- {rid}: {s['where']}: `{s['code'][:160]}`")
    return "\n".join(out)


def _fmt(xs: Iterable[float]) -> str:
    return "[" + ", ".join(f"{x:.2f}" for x in xs) + "]"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES), metavar="NAME==VER")
    p.add_argument("--cache", type=Path, default=CACHE, help="download/unpack folder")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each tool (median)")
    p.add_argument("--jobs", type=int, default=2, help="recode-migrate --jobs")
    p.add_argument("--samples", type=int, default=3, help="sampled sites per extra record")
    p.add_argument("--kb", action="append", default=[], help="extra KB file for recode (dev)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the full result as JSON")
    p.add_argument("--max-sites", type=int, default=1000, help="missed sites printed at most")
    p.add_argument(
        "--source-only",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE if set (recode compiles its modules on every start)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 1:
        raise SystemExit("bench_ruff: --runs must be at least 1")
    args.cache = args.cache.resolve()
    args.kb = [str(Path(k).resolve()) for k in args.kb]
    result = run(args)
    print(render(result, args.max_sites))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
