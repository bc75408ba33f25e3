"""Checking a model's answer before anything is applied or offered.

An answer is valid when all of these hold, checked in this order (the first that fails is the
reason given):

1. the completion has an ``<answer>`` block holding a fenced ````python`` block
   (:func:`recode.dataset.prompt.extract_answer`), and the code in it is not empty;
2. the code parses on its own, and the file still parses with it spliced in;
3. it is not the old code again (comments and blank lines aside);
4. the detector no longer flags, within the new code, the outdated API it was asked to migrate,
   and finds no other outdated API there that the old code did not already use;
5. every name the old code defined at its top level (functions, classes, assignments, imports,
   loop and ``with`` targets; ``_`` aside) is still defined, and functions keep their
   parameters: the same names in the same order and kinds (callers pass them by position or
   keyword); defaults may change;
6. every other top-level statement of the old code is still there, in the same order, changed
   at most (:func:`dropped_statement`): a whole-file answer that leaves out a module-level
   ``print(...)``, ``config["x"] = 1`` or ``if __name__ == "__main__":`` block is rejected,
   though it defines every name.

Parsing takes the lock of :mod:`recode.server.fixes.python_ast` (CPython 3.11's parser is not
safe to run in several threads at once, and the engine validates from worker threads).

Among several valid answers the one most similar to the old code wins
(:func:`recode.dataset.codesim.code_similarity`, the reward's normalisation and edit
similarity): the smallest edit that does the job.
"""

from __future__ import annotations

import ast
import textwrap
import warnings
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass

from recode.dataset.codesim import code_similarity, normalize_code
from recode.dataset.prompt import extract_answer
from recode.server.detector import Detector, Finding
from recode.server.fixes.python_ast import PARSE_LOCK
from recode.server.model.context import Context

__all__ = [
    "Candidate",
    "best_candidate",
    "defined_names",
    "dropped_statement",
    "validate_answer",
]

#: Two top-level statements at least this similar (:func:`code_similarity`) are one statement,
#: changed; below it, the old one counts as dropped unless it binds the same targets or calls
#: the same function.
SAME_STATEMENT_SIMILARITY = 0.5


@dataclass(frozen=True)
class Candidate:
    """One sample of the model, checked."""

    index: int  # which of the n samples
    completion: str  # the generated text (after the "<think>" prefill)
    code: str | None = None  # the answer's code, dedented, if there was one
    new_source: bytes | None = None  # the whole file with the code spliced in (valid only)
    reason: str | None = None  # why it is invalid; None when valid
    similarity: float | None = None  # to the old code, for valid answers

    @property
    def valid(self) -> bool:
        return self.reason is None


def validate_answer(
    completion: str,
    context: Context,
    detector: Detector,
    targets: Sequence[Finding],
    *,
    index: int = 0,
) -> Candidate:
    """Check one completion against the context it should replace (see the module doc).

    ``targets`` are the findings (inside the context) the model was asked to migrate.
    """

    def invalid(reason: str, code: str | None = None) -> Candidate:
        return Candidate(index, completion, code, None, reason)

    code = extract_answer(completion)
    if code is None:
        if "<answer>" not in completion:
            return invalid("no <answer> block")
        return invalid("the <answer> block holds no ```python code block")
    if not code.strip():
        return invalid("the answer's code block is empty", code)
    tree = _parse(code)
    if tree is None and code[:1] in (" ", "\t"):
        code = textwrap.dedent(code)
        tree = _parse(code)
    if tree is None:
        return invalid(f"the answer's code does not parse: {_syntax_error(code)}", code)
    if normalize_code(code) == normalize_code(context.code):
        return invalid("the answer leaves the code unchanged", code)
    new_source = context.splice(code)
    if _parse(new_source) is None:
        return invalid("the file does not parse with the answer put in place", code)

    problem = _still_outdated(context, code, new_source, detector, targets)
    if problem:
        return invalid(problem, code)
    old_tree = _parse(context.code)
    if old_tree is not None:
        first = context.first_line
        asked = {line - first + 1 for f in targets for line in range(f.start.line, f.end.line + 1)}
        problem = _lost_definitions(old_tree, tree) or dropped_statement(
            old_tree, tree, context.code, asked
        )
        if problem:
            return invalid(problem, code)
    return Candidate(index, completion, code, new_source, None, code_similarity(code, context.code))


def best_candidate(candidates: Iterable[Candidate]) -> Candidate | None:
    """The valid candidate most similar to the old code (the first of equals), or None."""
    best: Candidate | None = None
    for c in candidates:
        if c.valid and (best is None or (c.similarity or 0.0) > (best.similarity or 0.0)):
            best = c
    return best


def _parse(code: str | bytes) -> ast.Module | None:
    try:
        with PARSE_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _syntax_error(code: str) -> str:
    try:
        with PARSE_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(code)
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno} of the answer)"
    except (ValueError, RecursionError, MemoryError) as exc:
        return str(exc) or type(exc).__name__
    return "unknown error"


def _still_outdated(
    context: Context,
    code: str,
    new_source: bytes,
    detector: Detector,
    targets: Sequence[Finding],
) -> str | None:
    start = context.start
    end = start + len(context.replacement_text(code).encode("utf-8"))
    old_ids = {
        f.record.id
        for f in detector.detect(context.source)
        if context.start <= f.start_byte and f.end_byte <= context.end
    }
    target_ids = {f.record.id for f in targets}
    for f in detector.detect(new_source):
        if not (start <= f.start_byte and f.end_byte <= end):
            continue
        line = f.start.line - context.first_line + 1
        if f.record.id in target_ids:
            return f"the answer still uses {f.record.symbol} (line {line} of the answer)"
        if f.record.id not in old_ids:
            return (
                f"the answer uses {f.record.symbol}, which is outdated too "
                f"[{f.record.id}] (line {line} of the answer)"
            )
    return None


def _lost_definitions(old_tree: ast.Module, new_tree: ast.Module) -> str | None:
    old_names = defined_names(old_tree)
    new_names = defined_names(new_tree)
    missing = sorted(set(old_names) - set(new_names) - {"_"})
    if missing:
        return "the answer no longer defines " + ", ".join(f"`{n}`" for n in missing)
    for name, params in old_names.items():
        new_params = new_names.get(name)
        if params is not None and new_params is not None and new_params != params:
            return (
                f"the answer changes the parameters of `{name}` "
                f"({', '.join(params)} -> {', '.join(new_params)})"
            )
    return None


def dropped_statement(
    old_tree: ast.Module,
    new_tree: ast.Module,
    old_code: str,
    asked_lines: Set[int] = frozenset(),
) -> str | None:
    """Why the new code lost a top-level statement of the old one, or None when it did not.

    Only statements that are not definitions count (``def``, ``class`` and imports are the
    names :func:`defined_names` checks; docstrings, ``...`` and ``pass`` may go). The old
    statements must appear among the new ones in the same order, each matched to one new
    statement: the same statement, or one of the same kind binding the same targets
    (``x = ...``, ``x += ...``, ``for x in ...``) or calling the same function, or any simple
    statement at least :data:`SAME_STATEMENT_SIMILARITY` similar to it (a migration may change
    the call, or turn an expression into an assignment). A statement on one of ``asked_lines``
    (1-based lines of the old code holding a call the model was asked to migrate) may become any
    statement: ``sns.distplot(x)`` -> ``sns.histplot(x, kde=True)`` calls another function and
    shares little text, but it must still be replaced by something. New statements may be added
    anywhere.

    >>> old = ast.parse("x = np.float_(1)\\nprint(x)\\nconfig['a'] = 1\\n")
    >>> dropped_statement(old, ast.parse("x = np.float64(1)\\nprint(x)\\nconfig['a'] = 1"), "")
    >>> print(dropped_statement(old, ast.parse("x = np.float64(1)\\nconfig['a'] = 1"),
    ...                         "x = np.float_(1)\\nprint(x)\\nconfig['a'] = 1\\n"))
    the answer drops the statement `print(x)` (line 2 of the old code)
    >>> dropped_statement(ast.parse("sns.distplot(v)\\n"), ast.parse("sns.histplot(v)\\n"), "",
    ...                   {1})
    """
    old = _statements(old_tree)
    new = _statements(new_tree)
    if not old:
        return None
    asked = [
        any(line in asked_lines for line in range(st.lineno, (st.end_lineno or st.lineno) + 1))
        for st in old
    ]

    def same(i: int, j: int) -> bool:
        return asked[i] or _same_statement(old[i], new[j])

    # longest common subsequence under `same`; old statements left out are dropped
    n, m = len(old), len(new)
    kept = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if same(i, j):
                kept[i][j] = kept[i + 1][j + 1] + 1
            else:
                kept[i][j] = max(kept[i + 1][j], kept[i][j + 1])
    if kept[0][0] == n:
        return None
    i = j = 0
    while i < n:
        if j < m and same(i, j) and kept[i][j] == kept[i + 1][j + 1] + 1:
            i, j = i + 1, j + 1
        elif j < m and kept[i][j + 1] >= kept[i + 1][j]:
            j += 1
        else:
            break
    lost = old[i]
    text = (ast.get_source_segment(old_code, lost) or ast.unparse(lost)).splitlines()[0]
    if len(text) > 60:
        text = text[:57] + "..."
    return f"the answer drops the statement `{text}` (line {lost.lineno} of the old code)"


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
_SIMPLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)


def _statements(tree: ast.Module) -> list[ast.stmt]:
    """Top-level statements other than definitions, docstrings, ``...`` and ``pass``."""
    return [
        node
        for node in tree.body
        if not isinstance(node, (*_DEFINITIONS, ast.Pass))
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]


def _anchor(node: ast.stmt) -> str | None:
    """What makes a statement the same one after a migration changed it, where that can be
    told without comparing the text: what it binds, or the function it calls (``x = ...``,
    ``x: T = ...`` and ``x += ...`` all bind ``x``)."""
    if isinstance(node, ast.Assign):
        return "=" + "|".join(ast.dump(t) for t in node.targets)
    if isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For | ast.AsyncFor):
        return "=" + ast.dump(node.target)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return "call " + ast.dump(node.value.func)
    if isinstance(node, ast.Delete):
        return "del " + "|".join(ast.dump(t) for t in node.targets)
    return None


def _same_statement(old: ast.stmt, new: ast.stmt) -> bool:
    simple = isinstance(old, _SIMPLE) and isinstance(new, _SIMPLE)
    if type(old) is not type(new) and not simple:
        return False
    if ast.dump(old) == ast.dump(new):
        return True
    anchor = _anchor(old)  # x = ... and x: T = ... bind the same x
    if anchor is not None and anchor == _anchor(new):
        return True
    similarity = code_similarity(ast.unparse(old), ast.unparse(new))
    return similarity >= SAME_STATEMENT_SIMILARITY


def defined_names(tree: ast.Module) -> dict[str, tuple[str, ...] | None]:
    """Names bound at the top level of ``tree`` (not inside functions or classes).

    Functions map to their parameters as written (``/``, ``*`` and ``**`` markers included,
    defaults and annotations left out), everything else to None.

    >>> names = defined_names(ast.parse(
    ...     "import a.b as c\\nfrom d import e\\nx, (y, _) = 1, (2, 3)\\n"
    ...     "def f(o, /, p, *q, r=1, **s): pass\\nfor i in []:\\n    class K: z = 1"))
    >>> names == {"c": None, "e": None, "x": None, "y": None, "_": None,
    ...           "f": ("o", "/", "p", "*q", "r", "**s"), "i": None, "K": None}
    True
    """
    names: dict[str, tuple[str, ...] | None] = {}

    def bind(target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            names.setdefault(target.id, None)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                bind(elt)
        elif isinstance(target, ast.Starred):
            bind(target.value)

    def visit(body: Iterable[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                a = node.args
                params = [p.arg for p in a.posonlyargs]
                if a.posonlyargs:
                    params.append("/")
                params.extend(p.arg for p in a.args)
                if a.vararg:
                    params.append("*" + a.vararg.arg)
                elif a.kwonlyargs:
                    params.append("*")
                params.extend(p.arg for p in a.kwonlyargs)
                if a.kwarg:
                    params.append("**" + a.kwarg.arg)
                names[node.name] = tuple(params)
            elif isinstance(node, ast.ClassDef):
                names.setdefault(node.name, None)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    bind(t)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                bind(node.target)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    if alias.name != "*":
                        names.setdefault(alias.asname or alias.name.split(".")[0], None)
            elif isinstance(node, ast.For | ast.AsyncFor):
                bind(node.target)
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars)
                visit(node.body)
            elif isinstance(node, ast.If | ast.While):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try | ast.TryStar):
                visit(node.body)
                for handler in node.handlers:
                    if handler.name:
                        names.setdefault(handler.name, None)
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    visit(case.body)

    visit(tree.body)
    return names
