"""Compatibility code: references that only run where the old API still exists.

A reference is guarded, and not flagged, when it sits

* in the body or an ``except`` handler of a ``try`` that catches ``ImportError``,
  ``ModuleNotFoundError`` or ``AttributeError`` and whose body concerns the same library (the
  ``else``/``finally`` clauses run after success, so they are not guarded);
* in a branch of a version test of the same library (``if np.__version__ < "2"``,
  ``if NUMPY_LT_2_0``, ``if hasattr(np, "float_")``, ``x if NP2 else y``). Where every condition
  of the ``if`` is a simple test this module can evaluate against the version in use, only the
  branches that do not run are guarded: the branch that runs is checked like any other code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version
from tree_sitter import Node

from recode.server.parsing import text

GUARD_EXCEPTIONS = {"ImportError", "ModuleNotFoundError", "AttributeError"}

#: Short names a project uses for a library in its version flags (``NUMPY_LT_2_0``, ``np_version``).
FLAG_TOKENS: dict[str, tuple[str, ...]] = {
    "numpy": ("np", "numpy"),
    "pandas": ("pd", "pandas"),
    "scipy": ("sp", "scipy"),
    "matplotlib": ("mpl", "matplotlib"),
    "scikit-learn": ("sk", "sklearn"),
    "torch": ("torch", "pt", "pytorch"),
    "jax": ("jax",),
    "seaborn": ("sns", "seaborn"),
    "scrapy": ("scrapy",),
}

_VERSION_WORD = re.compile(r"Version|(?<![A-Za-z])version|VERSION|__version__")
_FLAG = re.compile(
    r"(?i)(?:^|_)(?P<op>lt|le|lte|gt|ge|gte|under|below|above)_?v?"
    r"(?P<v>\d+(?:[_p]\d+){1,2}|\d)(?![\dA-Za-z])"
)
_OPS = {
    "lt": "<",
    "under": "<",
    "below": "<",
    "le": "<=",
    "lte": "<=",
    "gt": ">",
    "above": ">",
    "ge": ">=",
    "gte": ">=",
}
_COMPARISON = re.compile(r"^(?P<lhs>[\w.()\s]+?)\s*(?P<op><=|>=|<|>|==|!=)\s*(?P<rhs>.+)$", re.S)
_LITERAL = re.compile(
    r"""^\w*(?:\.\w+)*\(?\s*(?:['"](?P<s>\d+(?:\.\d+)*)['"]|\((?P<t>[\d,\s]+)\))\s*\)?$"""
)


@dataclass(frozen=True)
class Library:
    """How one library is written in this file, and the version the code runs against."""

    names: frozenset[str]  # identifiers bound to it here (np, numpy) or its import root
    tokens: tuple[str, ...]  # short names in version flags
    version: Version | None

    @classmethod
    def of(cls, library: str, names: set[str], version: Version | None) -> Library:
        return cls(frozenset(names), FLAG_TOKENS.get(library, (library,)), version)


def guard(node: Node, lib: Library) -> Node | None:
    """The try/if/conditional expression that makes ``node`` compatibility code, or None."""
    child, p = node, node.parent
    while p is not None:
        t = p.type
        if t == "try_statement" and _guarding_try(p, child, lib):
            return p
        if t in ("if_statement", "conditional_expression") and _skipped_branch(
            p, child, lib, _attribute_after(node)
        ):
            return p
        child, p = p, p.parent
    return None


def _guarding_try(stmt: Node, child: Node, lib: Library) -> bool:
    body = stmt.child_by_field_name("body")
    if child.type != "except_clause" and (body is None or child.id != body.id):
        return False  # else/finally run after the body succeeded
    if not any(c.type == "except_clause" and _catches(c) for c in stmt.children):
        return False
    return body is not None and _mentions(text(body), lib)


def _catches(clause: Node) -> bool:
    caught = " ".join(text(n) for n in clause.named_children if n.type not in ("block", "comment"))
    names = {c.rpartition(".")[2] for c in re.findall(r"[A-Za-z_][\w.]*", caught)}
    return bool(names & GUARD_EXCEPTIONS)


def _mentions(source: str, lib: Library) -> bool:
    return any(re.search(rf"(?<![\w.]){re.escape(n)}\b", source) for n in lib.names)


def _branches(p: Node) -> list[tuple[Node | None, Node]]:
    """(condition, branch) pairs in order; the final else has condition None."""
    if p.type == "conditional_expression":
        parts = [c for c in p.named_children if c.type != "comment"]
        if len(parts) != 3:
            return []
        return [(parts[1], parts[0]), (None, parts[2])]
    out: list[tuple[Node | None, Node]] = []
    out.append((p.child_by_field_name("condition"), p.child_by_field_name("consequence")))
    for c in p.children:
        if c.type == "elif_clause":
            out.append((c.child_by_field_name("condition"), c))
        elif c.type == "else_clause":
            out.append((None, c))
    return out


def _attribute_after(node: Node) -> str | None:
    """``float_`` for the ``np`` of ``np.float_``."""
    parent = node.parent
    if parent is not None and parent.type == "attribute":
        obj = parent.child_by_field_name("object")
        if obj is not None and obj.id == node.id:
            return text(parent.child_by_field_name("attribute"))
    return None


def _skipped_branch(p: Node, child: Node, lib: Library, attribute: str | None) -> bool:
    branches = _branches(p)
    conditions = [c for c, _ in branches if c is not None]
    if not any(_is_version_test(text(c), lib, attribute) for c in conditions):
        return False
    if any(c.id == child.id for c in conditions):
        return False  # the test itself (np.__version__) is not compatibility code
    running = None
    for cond, branch in branches:
        value = True if cond is None else evaluate(text(cond), lib)
        if value is None:
            return True  # cannot tell which branch runs: all of them are compatibility code
        if value:
            running = branch
            break
    mine = next((b for _, b in branches if b is not None and _contains(b, child)), None)
    return mine is None or running is None or mine.id != running.id


def _contains(outer: Node, inner: Node) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _is_version_test(condition: str, lib: Library, attribute: str | None) -> bool:
    """A test of the library's version, or ``hasattr(np, "x")`` guarding a use of ``np.x``."""
    if _VERSION_WORD.search(condition) or _FLAG.search(condition):
        return True
    if attribute is None or "hasattr" not in condition:
        return False
    quoted = "['\"]" + re.escape(attribute) + "['\"]"
    return any(
        re.search(r"\bhasattr\s*\(\s*" + re.escape(n) + r"\s*,\s*" + quoted, condition)
        for n in lib.names
    )


def evaluate(condition: str, lib: Library) -> bool | None:
    """The value of a simple version test under ``lib.version``, or None if it is not simple.

    >>> lib = Library.of("numpy", {"np"}, Version("2.1"))
    >>> evaluate("NUMPY_LT_2_0", lib), evaluate("not NUMPY_LT_2_0", lib)
    (False, True)
    >>> evaluate("np.__version__ < '2'", lib)
    False
    >>> evaluate("Version(np.__version__) >= Version('1.20')", lib)
    True
    >>> evaluate("_np_version_under1p17", lib), evaluate("PY_LT_3_8", lib)
    (False, None)
    """
    if lib.version is None:
        return None
    cond = condition.strip()
    while cond.startswith("(") and cond.endswith(")"):
        cond = cond[1:-1].strip()
    negate = False
    if cond.startswith("not "):
        negate, cond = True, cond[4:].strip()
    value = _evaluate_flag(cond, lib)
    if value is None:
        value = _evaluate_comparison(cond, lib)
    if value is None:
        return None
    return not value if negate else value


def _evaluate_flag(cond: str, lib: Library) -> bool | None:
    if not re.fullmatch(r"[A-Za-z_][\w.]*", cond):
        return None
    name = cond.rpartition(".")[2]
    parts = [x for x in re.split(r"_|(?<=[a-z])(?=\d)", name.lower()) if x]
    if not any(tok in parts for tok in lib.tokens):
        return None
    m = _FLAG.search(name)
    if m is None:
        return None
    version = _flag_version(m.group("v"))
    return None if version is None else _compare(lib.version, _OPS[m.group("op").lower()], version)


def _flag_version(raw: str) -> Version | None:
    try:
        return Version(re.sub(r"[_p]", ".", raw))
    except InvalidVersion:
        return None


def _evaluate_comparison(cond: str, lib: Library) -> bool | None:
    m = _COMPARISON.match(cond)
    if m is None:
        return None
    lhs = m.group("lhs").strip()
    if not _names_version(lhs, lib):
        return None
    lit = _LITERAL.match(m.group("rhs").strip())
    if lit is None:
        return None
    raw = lit.group("s") or ".".join(x.strip() for x in lit.group("t").split(",") if x.strip())
    try:
        other = Version(raw)
    except InvalidVersion:
        return None
    return _compare(lib.version, m.group("op"), other)


def _names_version(lhs: str, lib: Library) -> bool:
    inner = re.sub(r"^\w+(?:\.\w+)*\(\s*(.*?)\s*\)$", r"\1", lhs)
    if any(inner == f"{n}.__version__" for n in lib.names):
        return True
    parts = [x for x in re.split(r"[_.]", inner.lower()) if x]
    return "version" in parts and any(tok in parts for tok in lib.tokens)


def _compare(have: Version, op: str, other: Version) -> bool:
    # compare release numbers only: "2" means 2.0.0, a pre-release of 2.0 counts as 2.0
    a, b = have.release, other.release
    width = max(len(a), len(b))
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]
