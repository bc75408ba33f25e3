"""tree-sitter-python parsing shared by the detector, the fixer and the language server."""

from __future__ import annotations

import threading

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

LANGUAGE = Language(tree_sitter_python.language())
_local = threading.local()


def parser() -> Parser:
    """A parser for this thread (tree-sitter parsers must not be shared between threads)."""
    p = getattr(_local, "parser", None)
    if p is None:
        p = _local.parser = Parser(LANGUAGE)
    return p


def parse(source: bytes, old_tree: Tree | None = None) -> Tree:
    """Parse ``source``; with ``old_tree`` (already ``edit``-ed) the parse is incremental."""
    return parser().parse(source, old_tree) if old_tree is not None else parser().parse(source)


_queries: dict[str, Query] = {}


def captures(pattern: str, node: Node) -> dict[str, list[Node]]:
    """Run a (cached) query on ``node``; results are sorted in document order."""
    query = _queries.get(pattern)
    if query is None:
        query = _queries[pattern] = Query(LANGUAGE, pattern)
    found = QueryCursor(query).captures(node)
    return {name: sorted(nodes, key=lambda n: n.start_byte) for name, nodes in found.items()}


def text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


#: What holds a target of an assignment, a ``for``, ``with`` or ``del`` along with others
#: (``a, m.A = ...``, ``(x) = ...``, ``[a, *b] = ...``): the detector's name bindings and the
#: fixes' written references both look through them to the statement.
TARGET_GROUPS = frozenset(
    (
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "list_splat_pattern",
        "parenthesized_expression",
        "expression_list",
        "tuple",
        "list",
    )
)
