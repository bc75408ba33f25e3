"""The names a Python file binds, scope by scope: what a fix must not take over.

A fix that introduces a name (a renamed import item, an added ``import numpy``, the module a
template spells) must not collide with a name of the user's: ``from numpy import prod`` in a
module that defines its own ``prod`` would send every call to the user's function. This module
reads the file with Python's own parser (:mod:`ast`, which knows every binding form: parameters,
targets, ``def``, ``class``, imports, ``global``, ``except ... as``, ``match`` captures, the
walrus) and answers, for a name and the places it would be used, whether anything else in the
file binds it there.

Scopes follow Python's rules, kept on the safe side where a use is near a scope's edge: a
function's scope is its body (its defaults and decorators are outside), a class body is seen only
by code directly in it, a comprehension's scope is the whole comprehension, ``nonlocal`` counts
as a binding where it is declared and ``global`` as one at module level.
"""

from __future__ import annotations

import ast
import enum
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field


class ScopeKind(enum.Enum):
    MODULE = "module"
    FUNCTION = "function"  # def, async def, lambda
    CLASS = "class"
    COMPREHENSION = "comprehension"


@dataclass(frozen=True)
class Bound:
    """One binding of a name: where, and for an import, the dotted path it binds."""

    line: int  # 1-based
    target: str | None = None  # ``numpy.prod`` for ``from numpy import prod``; None: not an import


@dataclass
class Scope:
    kind: ScopeKind
    start: int  # byte range of the code that sees its bindings
    end: int
    names: dict[str, list[Bound]] = field(default_factory=dict)
    inner: list[Scope] = field(default_factory=list)  # scopes nested directly or deeper

    def contains(self, offset: int) -> bool:
        return self.start <= offset < self.end


@dataclass(frozen=True)
class Star:
    line: int
    module: str | None  # None: a relative import


class Scopes:
    """Every scope of a file and what each binds."""

    def __init__(
        self,
        module: Scope,
        stars: list[Star],
        by_name: dict[str, list[Scope]],
        every: list[Scope] | None = None,
    ) -> None:
        self.module = module
        self.stars = stars
        self._by_name = by_name  # name -> the scopes that bind it
        self._every = every or [module]  # the module's scope and every scope inside it

    @classmethod
    def of(cls, source: bytes, tree: ast.Module) -> Scopes:
        """The scopes of ``tree``, Python's parse of ``source``."""
        walker = _Walker(_Offsets(source), len(source))
        walker.visit(tree)
        by_name: dict[str, list[Scope]] = {}
        for scope in walker.all:
            for name in scope.names:
                by_name.setdefault(name, []).append(scope)
        return cls(walker.all[0], walker.stars, by_name, walker.all)

    def conflict(self, name: str, targets: Collection[str], uses: Iterable[int]) -> str | None:
        """Why a new module-level binding of ``name`` to one of ``targets`` (dotted paths) would
        not be what ``name`` means at the byte offsets ``uses``; None where it would be. Imports
        of one of ``targets`` are no conflict."""
        owners = {t.rpartition(".")[0] for t in targets} - {""}
        for star in self.stars:
            if star.module not in owners:
                return (
                    f"the star import on line {star.line} may bind `{name}`, so it cannot be "
                    f"told whether `{name}` is free"
                )
        uses = list(uses)
        for scope in self._by_name.get(name, ()):
            other = next((b for b in scope.names[name] if b.target not in targets), None)
            if other is None:
                continue
            if scope.kind is ScopeKind.MODULE:
                return f"this module binds `{name}` on line {other.line}"
            if any(self._sees(scope, use) for use in uses):
                return f"`{name}` is bound on line {other.line}, where the fix would use it"
        return None

    def binds_here(self, name: str, offset: int) -> bool:
        """Whether an assignment to ``name`` at byte ``offset`` would rebind the name read
        there: at module level, or in a function that binds ``name`` itself (a parameter, an
        assignment, ``nonlocal``). In a class body, or a function that reads a global or an
        enclosing function's name, the assignment would bind a new one."""
        scope = min((s for s in self._every if s.contains(offset)), key=lambda s: s.end - s.start)
        if scope.kind is ScopeKind.MODULE:
            return True
        return scope.kind is ScopeKind.FUNCTION and name in scope.names

    @staticmethod
    def _sees(scope: Scope, use: int) -> bool:
        """Whether a use at byte ``use`` sees ``scope``'s bindings."""
        if not scope.contains(use):
            return False
        if scope.kind is not ScopeKind.CLASS:
            return True
        # a class body's names are not seen from the functions and comprehensions inside it
        return not any(s.contains(use) for s in scope.inner if s.kind is not ScopeKind.CLASS)


class _Offsets:
    """(line, UTF-8 column) as :mod:`ast` gives them -> byte offsets into the source."""

    def __init__(self, source: bytes) -> None:
        # Python ends a line at \r\n, \r or \n; a BOM is not part of the first line's columns
        self.starts = [0] + [m.end() for m in re.finditer(rb"\r\n|\r|\n", source)]
        if source.startswith(b"\xef\xbb\xbf"):
            self.starts[0] = 3

    def __call__(self, line: int, column: int) -> int:
        return self.starts[min(line, len(self.starts)) - 1] + column


class _Walker(ast.NodeVisitor):
    def __init__(self, offsets: _Offsets, size: int) -> None:
        self.offsets = offsets
        self.all = [Scope(ScopeKind.MODULE, 0, size + 1)]
        self.stack = [self.all[0]]
        self.globals: list[set[str]] = [set()]
        self.stars: list[Star] = []

    # -- binding -------------------------------------------------------------------------------

    def bind(self, name: str, node: ast.AST, target: str | None = None) -> None:
        line = getattr(node, "lineno", 0)
        scope = self.all[0] if name in self.globals[-1] else self.stack[-1]
        scope.names.setdefault(name, []).append(Bound(line, target))

    def enter(self, kind: ScopeKind, start: ast.AST, end: ast.AST) -> Scope:
        scope = Scope(
            kind,
            self.offsets(start.lineno, start.col_offset),
            self.offsets(end.end_lineno or end.lineno, end.end_col_offset or 0),
        )
        for outer in self.stack[1:]:
            outer.inner.append(scope)
        self.all.append(scope)
        self.stack.append(scope)
        self.globals.append(set())
        return scope

    def leave(self) -> None:
        self.stack.pop()
        self.globals.pop()

    # -- scopes --------------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.bind(node.name, node)
        for d in node.decorator_list:
            self.visit(d)
        self._signature(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.enter(ScopeKind.FUNCTION, _first(node.body[0]), node)
        self._parameters(node.args)
        for stmt in node.body:
            self.visit(stmt)
        self.leave()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._signature(node.args)
        self.enter(ScopeKind.FUNCTION, node.body, node)
        self._parameters(node.args)
        self.visit(node.body)
        self.leave()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bind(node.name, node)
        for child in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(child)
        self.enter(ScopeKind.CLASS, _first(node.body[0]), node)
        for stmt in node.body:
            self.visit(stmt)
        self.leave()

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        self.enter(ScopeKind.COMPREHENSION, node, node)
        self.generic_visit(node)
        self.leave()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    def _signature(self, args: ast.arguments) -> None:
        """Defaults and annotations: evaluated where the function is defined."""
        for d in [*args.defaults, *args.kw_defaults]:
            if d is not None:
                self.visit(d)
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None and a.annotation is not None:
                self.visit(a.annotation)

    def _parameters(self, args: ast.arguments) -> None:
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                self.bind(a.arg, a)

    # -- bindings ------------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bind(node.id, node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        # the walrus binds in the nearest scope that is not a comprehension
        depth = len(self.stack) - 1
        while self.stack[depth].kind is ScopeKind.COMPREHENSION:
            depth -= 1
        target = self.stack[depth]
        name = node.target.id
        scope = self.all[0] if name in self.globals[depth] else target
        scope.names.setdefault(name, []).append(Bound(node.lineno))
        self.visit(node.value)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bind(alias.asname, node, alias.name)
            else:
                top = alias.name.split(".")[0]
                self.bind(top, node, top)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module if not node.level else None
        for alias in node.names:
            if alias.name == "*":
                self.stars.append(Star(node.lineno, module))
                continue
            target = f"{module}.{alias.name}" if module else None
            self.bind(alias.asname or alias.name, node, target)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self.globals[-1].add(name)
            self.all[0].names.setdefault(name, []).append(Bound(node.lineno))

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        for name in node.names:
            self.bind(name, node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name, node)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bind(node.name, node)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node.name, node)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bind(node.rest, node)
        self.generic_visit(node)


def _first(stmt: ast.stmt) -> ast.AST:
    """Where a statement's text begins: at its first decorator, if it has any."""
    decorators = getattr(stmt, "decorator_list", None)
    return decorators[0] if decorators else stmt


def mentions(source: bytes, name: str) -> bool:
    """Whether ``name`` occurs in the text other than as an attribute: every binding of it
    does, so a file that never mentions it binds it nowhere (a cheap test before a parse)."""
    word = re.escape(name.encode())  # the literal first: ``re`` scans for it (18x faster)
    return re.search(word + rb"(?<![\w.]" + word + rb")\b", source) is not None


def star_import(source: bytes) -> bool:
    """Whether the text may hold a star import."""
    # the literal first (``\bimport`` made ``re`` try every byte of the file)
    return re.search(rb"import(?<!\wimport)[ \t\\\n(]*\*", source) is not None


def fresh_name(source: bytes, base: str) -> str:
    """``base``, else ``base_2``, ``base_3``...: the first name the text never spells, not even
    as an attribute (a name bound in a class body is one), so that nothing in the file binds or
    reads it; in the text as Python reads its identifiers (NFKC: ``ｘ`` is ``x``)."""
    if not source.isascii():
        source = unicodedata.normalize("NFKC", source.decode("utf-8", "replace")).encode()
    name, n = base, 1
    while re.search(rb"(?<!\w)" + re.escape(name.encode()) + rb"(?!\w)", source):
        n += 1
        name = f"{base}_{n}"
    return name
