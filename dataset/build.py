"""ReCode training examples from real code, checked before they are kept.

Where the old code comes from (``origin`` in each example's provenance):

* ``mined``: real usages of an outdated API in published code: the Python files of
  distributions pip downloads into the cache (packages that depend on a library, and the
  library's own older releases with their tests and docs), or any local folder. Each usage the
  detector finds is cut to a small self-contained snippet (:func:`cut_snippet`): the innermost
  enclosing function (or statement) of at most ``max_lines`` lines, dedented, preceded by the
  file's imports that it uses.
* ``kb-example``: the examples written with each knowledge-base record (run by the
  knowledge-base authors under the versions before and after the change).

Where the new code comes from: the record's mechanical fix (with a detector that knows only
that record), else an optional teacher model (:class:`Teacher`; skipped when none is given),
else the record's own example.

The builder sits in the bottom layer and imports nothing above it: the detector, the fixes, the
sandbox and the teacher's client belong to the layers above, which hand them in as
:class:`BuildTools` (``recode.training.dataset_tools`` wires the real ones, and the
``recode-dataset`` command runs through it).

Checks, in order (an example that fails one is rejected and counted under that reason):

1. ``parse``: old and new code parse (``ast``);
2. ``detect``: the detector flags the old code with this record, and nothing else that the
   migration would not fix (a snippet with other outdated calls teaches the wrong target);
3. ``fixed``: the detector does not flag the new code, and old and new differ;
4. ``run`` (optional, where both versions can be installed): the old code runs under the last
   release before the change and the new code under the release that made it, each in its own
   cached virtual environment, inside the sandbox (``BuildTools.run``); a line tracer
   confirms that the lines the detector flagged were executed (defining a function that is never
   called proves nothing). When the old code fails under the new version (or warns there, for a
   deprecation), the example is also ``discriminating``.

``verification`` is ``static`` (1-3) or ``executed`` (1-4). Examples are deduplicated on
normalised code (comments, blank lines and spacing removed) and split into train / validation /
test by update (record id), so no update is in two splits.

Each kept example is also marked ``exact_fix`` (:func:`exact_fix_records`): whether the
mechanical fixes turn its old code into its new code, equal once normalised as the reward
normalises code (:func:`recode.dataset.codesim.normalize_code`), with ``exact_fix_records`` the
records whose fixes did it. Training leaves those out by default: a template already writes
them, so the model's data is what no template expresses. ``recode-dataset mark`` re-marks a
built set with the fixes of the day, without rebuilding it.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import subprocess
import sys
import textwrap
import time
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from packaging.version import Version

from recode.dataset.codesim import normalize_code
from recode.dataset.knowledge import ApiChange, KnowledgeBase, load_knowledge_base
from recode.dataset.prompt import build_messages, extract_answer
from recode.dataset.release_notes import default_cache_dir

__all__ = [
    "BuildReport",
    "BuildTools",
    "Candidate",
    "Checker",
    "Teacher",
    "VenvPool",
    "cut_snippet",
    "exact_fix_records",
    "mark_exact_fix",
    "mine_file",
    "mine_tree",
    "normalise",
    "split_of",
]

FAR_FUTURE = Version("9999")


# -- what the builder runs -----------------------------------------------------------------------


class Line(Protocol):
    @property
    def line(self) -> int: ...  # 0-based


class Finding(Protocol):
    """What the builder reads of a detector's finding."""

    @property
    def record(self) -> ApiChange: ...
    @property
    def confidence(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def start(self) -> Line: ...


class Detecting(Protocol):
    def detect(self, source: bytes) -> Sequence[Finding]: ...


class RunOutput(Protocol):
    """What the builder reads of a sandboxed run."""

    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def status(self) -> str: ...


class Chat(Protocol):
    def __call__(self, messages: list[dict[str, str]], max_tokens: int) -> str | None: ...


@dataclass(frozen=True)
class BuildTools:
    """What the builder runs, handed in by the layer that owns it (the builder imports neither
    the detector nor the sandbox): ``recode.training.dataset_tools.build_tools()``."""

    #: a detector applying every record of the knowledge base, with every library at a
    #: far-future version (removed APIs are errors, deprecated ones warnings)
    detector: Callable[[KnowledgeBase], Detecting]
    #: the mechanical fixes of a detector's findings: the fixed source, or None when none applied
    fix: Callable[[bytes, Detecting], bytes | None]
    #: ``run(code, python, timeout_s, env, *, read_paths=(), max_output_bytes=None)``: run code
    #: in the sandbox under that interpreter, with no memory limit (an old release's import may
    #: map more than any sensible limit); ``read_paths`` readable there too
    run: Callable[..., RunOutput]
    #: ``chat(url, model, api_key=, timeout=)``: the chat client of a teacher model (None: the
    #: build cannot ask one)
    chat: Callable[..., Chat] | None = None


# -- snippets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An old-code snippet that uses ``record``'s API, before any check."""

    record_id: str
    old_code: str
    provenance: dict[str, Any]
    #: the statement a later-release pairing widened to its function: what the mechanical fix
    #: gets when the maintainers' version does not pass
    statement: str | None = field(default=None, compare=False)


def _names_used(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            base = node
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
    return names


def _bound_by(stmt: ast.stmt) -> set[str]:
    out: set[str] = set()
    if isinstance(stmt, ast.Import):
        for a in stmt.names:
            out.add(a.asname or a.name.split(".")[0])
    elif isinstance(stmt, ast.ImportFrom):
        for a in stmt.names:
            out.add(a.asname or a.name)
    return out


def cut_snippet(
    source: str, line: int, *, max_lines: int = 30, prefer: int | None = None
) -> str | None:
    """A small self-contained piece of ``source`` around 1-based ``line``: the innermost
    function holding it when that is at most ``max_lines`` long, else the innermost statement
    that is, dedented; preceded by the file's import statements (module level or in enclosing
    functions) that bind a name it uses. None when nothing that small holds the line, or the
    result does not parse.

    >>> src = "import os\\nimport numpy as np\\n\\nclass A:\\n    def f(self):\\n"
    >>> src += "        return np.float_(1)\\n"
    >>> print(cut_snippet(src, 6), end="")
    import numpy as np
    <BLANKLINE>
    def f(self):
        return np.float_(1)
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.splitlines()
    best: ast.AST | None = None
    imports: list[ast.stmt] = []

    def visit(node: ast.AST, depth_imports: list[ast.stmt]) -> None:
        nonlocal best, imports
        body_imports = list(depth_imports)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                body_imports.append(child)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.stmt):
                continue
            start = _first_line(child)
            end = child.end_lineno or child.lineno
            if start <= line <= end:
                size = end - start + 1
                if prefer is not None and child.lineno == prefer:
                    best, imports = child, body_imports
                    return
                if (
                    prefer is None
                    and size <= max_lines
                    and not isinstance(child, (ast.Import, ast.ImportFrom))
                ):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) or best is None:
                        best = child
                        imports = body_imports
                    elif not isinstance(best, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        best = child
                        imports = body_imports
                if (
                    isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    or (size > max_lines)
                    or best is not child
                ):
                    visit(child, body_imports)
                elif isinstance(child, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                    visit(child, body_imports)

    visit(tree, [])
    if best is None:
        return None
    start = _first_line(best)
    end = best.end_lineno or best.lineno
    body = textwrap.dedent("\n".join(lines[start - 1 : end]))
    try:
        body_tree = ast.parse(body)
    except SyntaxError:
        return None
    used = _names_used(body_tree)
    defined = {
        a.arg
        for n in ast.walk(body_tree)
        if isinstance(n, ast.arguments)
        for a in n.args + n.kwonlyargs
    }
    need: list[str] = []
    for imp in imports:
        if _first_line(imp) <= end and (_bound_by(imp) & (used - defined)):
            text = textwrap.dedent("\n".join(lines[_first_line(imp) - 1 : imp.end_lineno]))
            if text not in need and not text.startswith("from ."):
                need.append(text)
    snippet = ("\n".join(need) + "\n\n" + body if need else body).strip() + "\n"
    try:
        ast.parse(snippet)
    except SyntaxError:
        return None
    return snippet


def _first_line(node: ast.stmt) -> int:
    decos = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [d.lineno for d in decos])


def enclosing_function(source: str, line: int) -> str | None:
    """The qualified name (``Class.method``, ``outer.inner``) of the innermost function whose
    body holds 1-based ``line``, or None."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    best: str | None = None

    def visit(node: ast.AST, prefix: str) -> None:
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if _first_line(child) <= line <= (child.end_lineno or child.lineno):
                    name = f"{prefix}{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        best = name
                    visit(child, name + ".")
            elif isinstance(child, ast.stmt):
                visit(child, prefix)

    visit(tree, "")
    return best


def function_snippet(source: str, qualname: str, *, max_lines: int = 60) -> str | None:
    """The function ``qualname`` of ``source`` cut like :func:`cut_snippet` does, or None when
    the file has no such function."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    node: ast.AST = tree
    for part in qualname.split("."):
        node = next(
            (
                c
                for c in ast.iter_child_nodes(node)
                if isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and c.name == part
            ),
            None,
        )
        if node is None:
            return None
    if isinstance(node, ast.ClassDef) or not node.body:
        return None
    return cut_snippet(source, node.body[-1].lineno, max_lines=max_lines, prefer=node.lineno)


# -- detection -----------------------------------------------------------------------------------


#: code that asserts the deprecation itself (a library's own tests of it): not a usage to migrate
_TESTS_THE_WARNING = re.compile(
    r"\b(?:warns|assert_warns|deprecated_call|assert_produces_warning|assertWarns|"
    r"DeprecationWarning|FutureWarning|VisibleDeprecationWarning|MatplotlibDeprecationWarning|"
    r"ScrapyDeprecationWarning|suppress_warnings|filterwarnings)\b"
)


def mine_file(
    source: str,
    detector: Detecting,
    provenance: dict[str, Any],
    *,
    max_lines: int = 30,
    max_bytes: int = 400_000,
) -> Iterator[Candidate]:
    """Candidates for every finding in one file, one per (record, snippet)."""
    raw = source.encode("utf-8", "replace")
    if len(raw) > max_bytes:
        return
    try:
        findings = detector.detect(raw)
    except Exception:  # noqa: BLE001 - a file the parser chokes on is skipped
        return
    seen: set[tuple[str, str]] = set()
    for f in findings:
        if f.confidence != "high":
            continue
        snippet = cut_snippet(source, f.start.line + 1, max_lines=max_lines)
        if snippet is None or _TESTS_THE_WARNING.search(snippet):
            continue
        key = (f.record.id, snippet)
        if key in seen:
            continue
        seen.add(key)
        yield Candidate(f.record.id, snippet, {**provenance, "line": f.start.line + 1})


def mine_tree(
    root: Path, detector: Detecting, provenance: dict[str, Any], **kw: Any
) -> Iterator[Candidate]:
    """Candidates from every ``.py`` file under ``root`` (sorted, so runs are reproducible)."""
    for path in sorted(root.rglob("*.py")):
        if not path.is_file():
            continue
        try:
            source = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        rel = path.relative_to(root).as_posix()
        yield from mine_file(source, detector, {**provenance, "path": rel}, **kw)


def successors(
    candidates: Iterable[Candidate], old_root: Path, new_root: Path, *, max_lines: int = 60
) -> Iterator[tuple[Candidate, str | None, str]]:
    """Each candidate with the same function in a later release of the same distribution, where
    the maintainers may have migrated it themselves: (candidate, that function or None,
    "later-release"). The file is found at the same relative path, else by a unique file name.
    A candidate cut as a statement of a longer function is paired through that whole function
    when it is at most ``max_lines`` long: the candidate's old code becomes the function
    (provenance ``"cut": "function"``), so both sides are the same unit of code."""
    by_name: dict[str, list[Path]] = {}
    for p in new_root.rglob("*.py"):
        by_name.setdefault(p.name, []).append(p)
    # an sdist unpacks to one versioned folder (pkg-1.0/): the same file is under pkg-1.1/
    tops = (_only_folder(old_root), _only_folder(new_root))
    cache: dict[str, str | None] = {}
    for cand in candidates:
        rel = cand.provenance.get("path", "")
        old_file = old_root / rel
        target = new_root / rel
        if not target.is_file() and tops[0] and tops[1] and rel.startswith(tops[0] + "/"):
            target = new_root / tops[1] / rel[len(tops[0]) + 1 :]
        if not target.is_file():
            options = by_name.get(Path(rel).name, [])
            target = options[0] if len(options) == 1 else Path("/nonexistent")
        new_code = None
        old_code = cand.old_code
        prov = dict(cand.provenance)
        try:
            old_source = old_file.read_text("utf-8")
            qual = enclosing_function(old_source, cand.provenance.get("line", 0))
            if qual and not re.search(rf"def {re.escape(qual.rsplit('.', 1)[-1])}\(", old_code):
                whole = function_snippet(old_source, qual, max_lines=max_lines)
                if (
                    whole is not None
                    and len(whole.splitlines()) <= max_lines
                    and not _TESTS_THE_WARNING.search(whole)
                ):
                    old_code = whole
                else:
                    qual = None
            if qual:
                key = str(target)
                if key not in cache:
                    cache[key] = target.read_text("utf-8") if target.is_file() else None
                if cache[key] is not None:
                    new_code = function_snippet(cache[key], qual, max_lines=max_lines)
        except (OSError, UnicodeDecodeError):
            new_code = None
        if new_code is None:
            old_code = cand.old_code
        else:
            prov["new_path"] = target.relative_to(new_root).as_posix()
            if old_code != cand.old_code:
                prov["cut"] = "function"
        statement = cand.old_code if old_code != cand.old_code else None
        yield Candidate(cand.record_id, old_code, prov, statement), new_code, "later-release"


def _only_folder(root: Path) -> str | None:
    """The name of ``root``'s only entry when that is a folder, else None."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return None
    return entries[0].name if len(entries) == 1 and entries[0].is_dir() else None


def similarity(a: str, b: str) -> float:
    """Edit similarity (0..1) of two pieces of code after :func:`normalise`."""
    from rapidfuzz.fuzz import ratio

    return ratio(normalise(a), normalise(b)) / 100.0


# -- normalising and splitting -------------------------------------------------------------------


def normalise(code: str) -> str:
    """Code without comments, docstring-free blank lines and spacing differences, for dedup.

    >>> normalise("x = f( 1 )  # call\\n\\n\\ny=2\\n") == normalise("x = f(1)\\ny = 2")
    True
    """
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENCODING,
                tokenize.ENDMARKER,
            ):
                continue
            out.append("\n" if tok.type == tokenize.NEWLINE else tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.sub(r"\s+", " ", code).strip()
    return " ".join(out).replace(" \n ", "\n").strip()


def split_of(record_id: str, *, validation: float = 0.1, test: float = 0.1) -> str:
    """train / validation / test, fixed per update by a hash of its record id."""
    h = int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < test:
        return "test"
    if h < test + validation:
        return "validation"
    return "train"


# -- teacher -------------------------------------------------------------------------------------


class Teacher:
    """A chat model asked to migrate what no mechanical fix covers, through the chat client the
    tools hand in (``BuildTools.chat``: the OpenAI-compatible client the CLI and the language
    server use, with their URL forms, retries and errors)."""

    def __init__(self, chat: Chat, model: str, *, max_tokens: int = 1024) -> None:
        self.chat = chat
        self.model = model
        self.max_tokens = max_tokens

    def migrate(self, record: ApiChange, old_code: str) -> str | None:
        messages = build_messages(
            record.library, f"=={record.display_version}", update_info(record), old_code
        )
        text = self.chat(messages[:2], self.max_tokens)
        if text is None:
            return None
        answer = extract_answer("<think>" + text if "<think>" not in text else text)
        return answer + "\n" if answer else None


def update_info(record: ApiChange) -> str:
    """The update text shown to the model: the record's release note, and the replacement
    when the note does not already name it."""
    info = record.note.strip()
    leaf = (record.replacement or "").rsplit(".", 1)[-1]
    if record.replacement and not re.search(rf"(?<![\w]){re.escape(leaf)}(?![\w])", info):
        info += f"\nReplacement: {record.replacement}"
    return info


# -- running under two versions ------------------------------------------------------------------

_TRACER = r"""
import json as _j, sys as _s
_code = {code!r}
_seen = set()
def _t(frame, event, arg):
    if frame.f_code.co_filename == "<snippet>":
        if event == "line":
            _seen.add(frame.f_lineno)
        return _t
    return None
_err = None
_s.settrace(_t)
try:
    exec(compile(_code, "<snippet>", "exec"), {{"__name__": "__main__"}})
except BaseException as e:
    _err = type(e).__name__ + ": " + str(e)[:300]
finally:
    _s.settrace(None)
print("\n@@TRACE@@" + _j.dumps({{"lines": sorted(_seen), "error": _err}}))
"""


class VenvPool:
    """One virtual environment per (library, version), created on first use under
    ``{cache}/venvs`` by pip; ``known`` maps ``"lib==version"`` to an existing interpreter."""

    #: extra requirements that keep an old release importable (pins of its era; ``{version}``
    #: is the release's own version) and the optional dependencies the examples use: the first
    #: entry whose bound is above the version applies. jax before 0.4.31 does not require
    #: jaxlib, so the matching jaxlib is named; scrapy before 2.13 imports
    #: ``w3lib.url._safe_chars``, which w3lib 2.2 dropped; seaborn before 0.12 sets pandas'
    #: ``mode.use_inf_as_null`` (gone in pandas 2.0) and before 0.11 uses ``np.float``; pandas
    #: before 1.1 uses ``np.bool`` and scipy before 1.8 imports ``numpy.int`` (gone in 1.24).
    ERA: dict[str, list[tuple[str, list[str]]]] = {
        "pandas": [
            ("1.1", ["numpy<1.24", "jinja2"]),
            ("2.2", ["numpy<2", "jinja2"]),
            ("9999", ["jinja2"]),
        ],
        "scipy": [("1.8", ["numpy<1.24"]), ("1.13", ["numpy<2"])],
        "scikit-learn": [
            ("1.4", ["numpy<2", "scipy<1.12", "matplotlib<3.8"]),
            ("9999", ["matplotlib"]),
        ],
        "matplotlib": [("3.8", ["numpy<2"])],
        "seaborn": [
            ("0.11", ["numpy<1.24", "pandas<2.0", "matplotlib<3.8", "contourpy<1.1", "scipy<1.12"]),
            ("0.12", ["numpy<2", "pandas<2.0", "matplotlib<3.8", "scipy<1.12"]),
            ("0.13", ["numpy<2", "pandas<2.1", "matplotlib<3.8", "scipy<1.12"]),
            ("9999", ["scipy"]),
        ],
        "numpy": [],
        "scrapy": [("2.11", ["Twisted<23.8", "w3lib<2.2"]), ("2.13", ["w3lib<2.2"])],
        "jax": [
            ("0.4.30", ["numpy<2", "scipy<1.13", "jaxlib=={version}"]),
            ("0.4.31", ["jaxlib=={version}"]),
        ],
        "torch": [],
    }

    def __init__(
        self,
        cache_dir: Path | None = None,
        known: dict[str, str] | None = None,
        python: str | None = None,
        allow_create: bool = True,
        only_binary: bool = False,
    ) -> None:
        self.root = (cache_dir or default_cache_dir()) / "venvs"
        self.known = dict(known or {})
        self.python = python or sys.executable
        self.allow_create = allow_create
        #: install wheels only: a release without a wheel for this Python fails at once
        #: instead of compiling for minutes
        self.only_binary = only_binary
        self.failed: dict[str, str] = {}

    @classmethod
    def era_pins(cls, library: str, version: str) -> list[str]:
        """The extra requirements installed beside ``library==version``.

        >>> VenvPool.era_pins("jax", "0.4.23")
        ['numpy<2', 'scipy<1.13', 'jaxlib==0.4.23']
        >>> VenvPool.era_pins("scrapy", "2.13.4")
        []
        >>> VenvPool.era_pins("seaborn", "0.11.2")
        ['numpy<2', 'pandas<2.0', 'matplotlib<3.8', 'scipy<1.12']
        """
        for below, pins in cls.ERA.get(library, []):
            if Version(version) < Version(below):
                return [pin.format(version=version) for pin in pins]
        return []

    def interpreter(self, library: str, version: str) -> str | None:
        key = f"{library}=={version}"
        if key in self.known:
            return self.known[key]
        if key in self.failed:
            return None
        venv = self.root / f"{library}-{version}"
        py = venv / "bin" / "python"
        if (venv / ".complete").exists():
            return str(py)
        if not self.allow_create:
            self.failed[key] = "not created (creation disabled)"
            return None
        reqs = [key, *self.era_pins(library, version)]
        try:
            subprocess.run(
                [self.python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
            )
            binary = ["--only-binary=:all:"] if self.only_binary else []
            proc = subprocess.run(
                [str(py), "-m", "pip", "install", "-q", *binary, *reqs],
                capture_output=True,
                text=True,
                timeout=1800,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.failed[key] = str(exc)
            return None
        if proc.returncode != 0:
            self.failed[key] = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            return None
        (venv / ".complete").write_text(" ".join(reqs))
        return str(py)


@dataclass
class RunResult:
    ok: bool
    lines: list[int]
    error: str | None
    status: str


def run_traced(
    code: str,
    python: str,
    run: Callable[[str, str, float, Mapping[str, str]], RunOutput],
    *,
    timeout_s: float = 60.0,
    warnings_as_errors: bool = False,
) -> RunResult:
    """Run ``code`` in the sandbox (``run``) under ``python``; which of its lines ran, and its
    error."""
    wrapper = _TRACER.format(code=code)
    if warnings_as_errors:
        wrapper = (
            "import warnings\nwarnings.simplefilter('error', DeprecationWarning)\n"
            "warnings.simplefilter('error', FutureWarning)\n"
            "warnings.simplefilter('error', PendingDeprecationWarning)\n" + wrapper
        )
    env = {"MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu", "PYTHONWARNINGS": "ignore"}
    res = run(wrapper, python, timeout_s, env)
    marker = res.stdout.rfind("@@TRACE@@")
    if marker < 0:
        return RunResult(
            False, [], (res.stderr.strip().splitlines() or [res.status])[-1], res.status
        )
    try:
        data = json.loads(res.stdout[marker + len("@@TRACE@@") :].strip().splitlines()[0])
    except (ValueError, IndexError):
        return RunResult(False, [], "unreadable trace", res.status)
    return RunResult(data["error"] is None, data["lines"], data["error"], res.status)


# -- the checks ----------------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: bool
    reason: str = ""
    new_code: str = ""
    new_source: str = ""  # "fix" | "teacher" | "kb-example"
    checks: dict[str, Any] = field(default_factory=dict)
    flagged_lines: list[int] = field(default_factory=list)


class Checker:
    """Static checks 1-3 of the module doc for one record's candidates."""

    def __init__(
        self, kb: KnowledgeBase, tools: BuildTools, teacher: Teacher | None = None
    ) -> None:
        self.kb = kb
        self.tools = tools
        self.full = tools.detector(kb)
        self.teacher = teacher
        self._single: dict[str, Detecting] = {}

    def single(self, record: ApiChange) -> Detecting:
        det = self._single.get(record.id)
        if det is None:
            det = self._single[record.id] = self.tools.detector(self.kb.with_records([record]))
        return det

    def check(
        self, record: ApiChange, old_code: str, new_code: str | None = None, new_source: str = ""
    ) -> Verdict:
        if not _parses(old_code):
            return Verdict(False, "old code does not parse")
        old_findings = self.full.detect(old_code.encode())
        mine = [f for f in old_findings if f.record.id == record.id]
        if not mine:
            return Verdict(False, "detector does not flag the old code")
        others = {
            f.record.id
            for f in old_findings
            if f.record.id != record.id and f.severity in ("error", "warning")
        }
        if new_code is None and record.fix is not None:
            fixed = self.tools.fix(old_code.encode(), self.single(record))
            if fixed is not None:
                new_code, new_source = fixed.decode(), "fix"
        if new_code is None and self.teacher is not None:
            new_code, new_source = self.teacher.migrate(record, old_code), "teacher"
        if new_code is None:
            return Verdict(False, "no mechanical fix and no teacher")
        if not _parses(new_code):
            return Verdict(False, "new code does not parse")
        if normalise(new_code) == normalise(old_code):
            return Verdict(False, "new code equals old code")
        if others:
            # other outdated calls the migration leaves alone: a partial target
            return Verdict(False, "other outdated calls in the snippet")
        new_findings = self.full.detect(new_code.encode())
        if any(f.record.id == record.id for f in new_findings):
            return Verdict(False, "detector still flags the new code")
        if any(f.severity in ("error", "warning") for f in new_findings):
            return Verdict(False, "new code holds another outdated call")
        return Verdict(
            True,
            new_code=new_code,
            new_source=new_source,
            checks={"parse": True, "detect": True, "fixed": True},
            flagged_lines=sorted({f.start.line + 1 for f in mine}),
        )


def exact_fix_records(checker: Checker, record_id: str, old_code: str, new_code: str) -> list[str]:
    """The records whose mechanical fixes turn ``old_code`` into ``new_code`` (equal after
    :func:`~recode.dataset.codesim.normalize_code`, the reward's normalisation), or ``[]``.

    First the example's own record's fix alone (``[record_id]``); else every fix the full
    detector's findings carry, applied together (the ids of those findings' records that have a
    fix, sorted). An unknown ``record_id`` skips the first try."""
    target = normalize_code(new_code)
    source = old_code.encode()
    record = checker.kb.get(record_id)
    if record is not None and record.fix is not None:
        fixed = checker.tools.fix(source, checker.single(record))
        if fixed is not None and normalize_code(fixed.decode()) == target:
            return [record.id]
    fixable = sorted({f.record.id for f in checker.full.detect(source) if f.record.fix is not None})
    if fixable:
        fixed = checker.tools.fix(source, checker.full)
        if fixed is not None and normalize_code(fixed.decode()) == target:
            return fixable
    return []


def mark_exact_fix(row: dict[str, Any], records: list[str]) -> dict[str, Any]:
    """``row`` with ``exact_fix`` and ``exact_fix_records`` set (placed after
    ``new_code_from``, replacing any earlier marks)."""
    marks = {"exact_fix": bool(records), "exact_fix_records": list(records)}
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in marks:
            continue
        out[key] = value
        if key == "new_code_from":
            out.update(marks)
    out.update(marks)  # where there was no new_code_from: at the end (a no-op otherwise)
    return out


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def run_versions(record: ApiChange, releases: list[str]) -> tuple[str, str] | None:
    """(old, new): the last release before the change and the first release of the change's
    own minor series (its newest patch); for a deprecation without removal, the first release
    that deprecates it, for both. None when the releases list cannot answer."""
    vs = sorted((Version(v), v) for v in releases if not Version(v).is_prerelease)
    if not vs:
        return None
    eff = record.effective_in
    if eff is None:
        dep = record.deprecated_in
        if dep is None:
            return None
        same = [s for v, s in vs if v >= dep and v.release[:2] == dep.release[:2]]
        return (same[-1], same[-1]) if same else None
    before = [s for v, s in vs if v < eff]
    series = [s for v, s in vs if v >= eff and v.release[:2] == eff.release[:2]]
    if not before or not series:
        return None
    return before[-1], series[-1]


def execute(
    record: ApiChange,
    old_code: str,
    new_code: str,
    flagged: list[int],
    pool: VenvPool,
    releases: list[str],
    tools: BuildTools,
    *,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Step 4: run old under the old release, new under the new one; ``ok`` when both ran
    and the flagged lines were executed."""
    versions = run_versions(record, releases)
    if versions is None:
        return {"ok": False, "reason": "no release pair to run"}
    old_v, new_v = versions
    py_old = pool.interpreter(record.library, old_v)
    py_new = pool.interpreter(record.library, new_v)
    if py_old is None or py_new is None:
        return {
            "ok": False,
            "reason": "environment unavailable",
            "old_version": old_v,
            "new_version": new_v,
        }
    old_run = run_traced(old_code, py_old, tools.run, timeout_s=timeout_s)
    result: dict[str, Any] = {
        "old_version": old_v,
        "new_version": new_v,
        "old_ok": old_run.ok,
        "old_error": old_run.error,
    }
    if not old_run.ok:
        return {**result, "ok": False, "reason": "old code fails under the old version"}
    if not set(flagged) <= set(old_run.lines):
        return {**result, "ok": False, "reason": "the flagged lines did not run"}
    new_run = run_traced(new_code, py_new, tools.run, timeout_s=timeout_s)
    result.update(new_ok=new_run.ok, new_error=new_run.error)
    if not new_run.ok:
        return {**result, "ok": False, "reason": "new code fails under the new version"}
    against = run_traced(
        old_code,
        py_new,
        tools.run,
        timeout_s=timeout_s,
        warnings_as_errors=record.effective_in is None,
    )
    result["discriminating"] = not against.ok
    result["old_under_new_error"] = against.error
    return {**result, "ok": True}


# -- the build -----------------------------------------------------------------------------------


@dataclass
class BuildReport:
    kept: int = 0
    candidates: int = 0
    rejected: Counter = field(default_factory=Counter)
    duplicates: int = 0
    by_library: Counter = field(default_factory=Counter)
    by_level: Counter = field(default_factory=Counter)
    run_failures: Counter = field(default_factory=Counter)
    reused_runs: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}


def kb_candidates(kb: KnowledgeBase) -> Iterator[tuple[Candidate, str]]:
    """The knowledge base's own examples: (candidate, the example's new code)."""
    for r in kb.records:
        for n, ex in enumerate(r.examples):
            yield (
                Candidate(
                    r.id,
                    ex.old,
                    {"origin": "kb-example", "record": r.id, "example": n, "kb_file": r.origin},
                ),
                ex.new,
            )


def example_row(record: ApiChange, cand: Candidate, verdict: Verdict) -> dict[str, Any]:
    new_version = f"=={record.effective_in or record.deprecated_in}"
    digest = hashlib.sha256((record.id + "\0" + normalise(cand.old_code)).encode()).hexdigest()
    return {
        "id": f"{record.id}-{digest[:10]}",
        "dependency": record.library,
        "new_version": new_version,
        "update_info": update_info(record),
        "old_code": cand.old_code,
        "new_code": verdict.new_code,
        "record": record.id,
        "symbol": record.symbol,
        "change_kind": record.kind,
        "new_code_from": verdict.new_source,
        "verification": "static",
        "checks": verdict.checks,
        "provenance": cand.provenance,
        "split": split_of(record.id),
    }


def build(
    candidates: Iterable[tuple[Candidate, str | None] | tuple[Candidate, str | None, str]],
    kb: KnowledgeBase,
    tools: BuildTools,
    *,
    teacher: Teacher | None = None,
    per_record_cap: int = 40,
    library_caps: dict[str, int] | None = None,
    min_similarity: float = 0.6,
    report: BuildReport | None = None,
) -> list[dict[str, Any]]:
    """Check every candidate; keep the first of each normalised (record, old code) pair and at
    most ``per_record_cap`` examples per update, so a few common calls do not swamp the set;
    ``library_caps`` sets another cap for the updates of some libraries (one with few updates
    can take more examples of each). The split stays by update whatever the cap.

    A candidate comes with the new code (and where it came from: ``kb-example``,
    ``later-release``) or None (fix, else teacher). A later release's function must stay
    ``min_similarity`` close to the old one: a rewrite is not a migration."""
    report = report if report is not None else BuildReport()
    started = time.monotonic()
    checker = Checker(kb, tools, teacher)
    seen: set[tuple[str, str]] = set()
    per_record: Counter = Counter()
    caps = dict(library_caps or {})
    rows: list[dict[str, Any]] = []
    for item in candidates:
        cand, new_code = item[0], item[1]
        source = item[2] if len(item) > 2 else ("kb-example" if new_code is not None else "")
        report.candidates += 1
        record = kb.get(cand.record_id)
        if record is None:
            report.rejected["unknown record"] += 1
            continue
        key = (record.id, normalise(cand.old_code))
        if key in seen:
            report.duplicates += 1
            continue
        if per_record[record.id] >= caps.get(record.library, per_record_cap):
            report.rejected["per-update cap reached"] += 1
            continue
        if source == "later-release":
            if new_code is None:
                if record.fix is None and teacher is None:
                    report.rejected["no successor in the later release"] += 1
                    continue
                source = ""
            elif similarity(cand.old_code, new_code) < min_similarity:
                report.rejected["later release rewrote the function"] += 1
                continue
        if new_code is None and record.fix is None and teacher is None:
            report.rejected["no mechanical fix and no teacher"] += 1
            continue  # nothing could write the new code: skip the checks
        verdict = checker.check(record, cand.old_code, new_code, source)
        if source == "later-release" and not verdict.ok and record.fix is not None:
            # the maintainers changed it otherwise (or not yet): the mechanical fix still applies,
            # to the statement that was mined when the pairing had widened it to its function
            if cand.statement is not None:
                prov = {k: v for k, v in cand.provenance.items() if k not in ("cut", "new_path")}
                cand = Candidate(cand.record_id, cand.statement, prov)
                key = (record.id, normalise(cand.old_code))
                if key in seen:
                    report.duplicates += 1
                    continue
            verdict = checker.check(record, cand.old_code, None, "")
        if not verdict.ok:
            report.rejected[verdict.reason] += 1
            continue
        seen.add(key)
        per_record[record.id] += 1
        if verdict.new_source == "later-release":
            verdict.checks["similarity"] = round(similarity(cand.old_code, verdict.new_code), 3)
        row = example_row(record, cand, verdict)
        row = mark_exact_fix(
            row, exact_fix_records(checker, record.id, cand.old_code, verdict.new_code)
        )
        row["_flagged"] = verdict.flagged_lines
        rows.append(row)
        report.kept += 1
        report.by_library[record.library] += 1
    report.seconds += time.monotonic() - started
    return rows


def run_key(row: dict[str, Any]) -> tuple[str, str, str]:
    """What a run depends on besides the releases: the record and the exact code."""
    return row["record"], row["old_code"], row["new_code"]


def passed_runs(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The passed step-4 results of an earlier build's rows, by :func:`run_key`."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        run = (row.get("checks") or {}).get("run") or {}
        if row.get("verification") == "executed" and run.get("ok"):
            out[run_key(row)] = run
    return out


def execute_rows(
    rows: list[dict[str, Any]],
    kb: KnowledgeBase,
    pool: VenvPool,
    releases: dict[str, list[str]],
    tools: BuildTools,
    *,
    per_library: int = 1000,
    library_limits: dict[str, int] | None = None,
    earlier: dict[tuple[str, str, str], dict[str, Any]] | None = None,
    timeout_s: float = 60.0,
    report: BuildReport | None = None,
    log: Any = None,
) -> None:
    """Step 4 for up to ``per_library`` rows of each library (``library_limits`` overrides it
    for some), in order; rows that pass become ``executed``; a failed run keeps the row
    ``static`` and records why.

    ``earlier`` (:func:`passed_runs` of a previous build) spares runs: a row with the same
    record and code whose run passed under the same two releases takes that result, marked
    ``"reused": true``, and does not count against the limits. Failed runs are never reused."""
    done: Counter = Counter()
    limits = dict(library_limits or {})
    for row in rows:
        lib = row["dependency"]
        record = kb.get(row["record"])
        if record is None or lib not in releases:
            continue
        before = (earlier or {}).get(run_key(row))
        if before is not None and run_versions(record, releases[lib]) == (
            before.get("old_version"),
            before.get("new_version"),
        ):
            row["checks"]["run"] = {**before, "reused": True}
            row["verification"] = "executed"
            if report is not None:
                report.reused_runs += 1
            continue
        if done[lib] >= limits.get(lib, per_library):
            continue
        done[lib] += 1
        result = execute(
            record,
            row["old_code"],
            row["new_code"],
            row.get("_flagged", []),
            pool,
            releases[lib],
            tools,
            timeout_s=timeout_s,
        )
        row["checks"]["run"] = result
        if result.get("ok"):
            row["verification"] = "executed"
        elif report is not None:
            report.run_failures[f"{lib}: {result.get('reason')}"] += 1
        if log is not None:
            log(f"{row['id']}: {'executed' if result.get('ok') else result.get('reason')}")


def finish(rows: list[dict[str, Any]], report: BuildReport) -> list[dict[str, Any]]:
    """Drop internal fields, count levels, order rows by library, record and id."""
    for row in rows:
        row.pop("_flagged", None)
        report.by_level[row["verification"]] += 1
    rows.sort(key=lambda r: (r["dependency"], r["record"], r["id"]))
    return rows


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
            n += 1
    return n


def default_kb() -> KnowledgeBase:
    return load_knowledge_base()
