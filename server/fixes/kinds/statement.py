"""``statement``: the statement whose whole value is the call, wrapped in ``try``/``except``.

pandas' advice where ``errors="ignore"`` went (the deprecation note in 2.2's whatsnew): call
without it and catch the exception, keeping the input. ``try`` holds the statement, the call
without the parameter's keyword; ``except`` (the record's ``catch``) the same statement with the
``fallback`` (a template over the call's arguments) in the call's place: ``x = s``, ``return s``,
or ``pass`` for an expression statement. The statement keeps its indentation, the comment after
it and its line end; the file's other bytes are untouched.

Only where the call is a statement's whole value (``x = call``, ``return call``, ``call``):
nested in an expression, a lambda or a comprehension, the ``except`` would catch the
exceptions of the code around the call too, and the rewrite is left to a person.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.dataset.knowledge import PLACEHOLDER
from recode.server.fixes.edits import Edit, apply_edits
from recode.server.fixes.imports import drop_item
from recode.server.fixes.kinds.template import _call_arguments
from recode.server.fixes.site import FixSite, NoFix
from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    if site.keyword is None:
        if site.argument is not None:
            raise NoFix(f"`{finding.record.parameter}` is passed by position; pass it by name")
        return None
    fix = finding.fix
    call = site.keyword.parent.parent  # keyword_argument < argument_list < call
    stmt, before = _statement(call)
    source = analysis.source
    line = source.rfind(b"\n", 0, stmt.start_byte) + 1
    indent = source[line : stmt.start_byte].decode("utf-8")
    if indent.strip(" \t"):
        raise NoFix("the statement shares its line with other code before it")
    line_end = source.find(b"\n", stmt.end_byte)
    line_end = len(source) if line_end == -1 else line_end
    after = source[stmt.end_byte : line_end].rstrip(b"\r").decode("utf-8")
    if after.strip() and not after.lstrip().startswith("#"):
        raise NoFix("the statement shares its line with other code after it")
    newline = "\r\n" if _line_end(source, line_end) == b"\r\n" else "\n"
    step = "\t" if "\t" in indent else "    "

    values, _ = _call_arguments(fix, call)
    fallback = PLACEHOLDER.sub(lambda m: _argument(m, fix.args, values), fix.fallback or "")
    dropped = drop_item(site.keyword)
    start = stmt.start_byte
    body = apply_edits(
        source[start : stmt.end_byte], [Edit(dropped.start - start, dropped.end - start, "")]
    ).decode("utf-8")
    if not _holds_multiline_string(stmt):  # else the string's lines would change
        body = re.sub(r"\n(?=[^\r\n])", "\n" + step, body)
    instead = "pass" if before is None else before + fallback
    comment = after.rstrip() if after.strip() else ""
    new = (
        f"try:{newline}{indent}{step}{body}{comment}{newline}"
        f"{indent}except {fix.caught}:{newline}{indent}{step}{instead}"
    )
    return (Edit(start, stmt.end_byte + len(comment.encode("utf-8")), new),)


#: What encloses a nested call, in the reason it is left to a person.
_ENCLOSING = {
    "lambda": "a lambda",
    "list_comprehension": "a comprehension",
    "set_comprehension": "a comprehension",
    "dictionary_comprehension": "a comprehension",
    "generator_expression": "a comprehension",
}


def _statement(call: Node) -> tuple[Node, str | None]:
    """The statement whose whole value the call is, and what stands before the call in it
    (None for an expression statement); :class:`NoFix` where the call is nested."""
    parent = call.parent
    if parent is not None and parent.type == "expression_statement":
        return parent, None
    if parent is not None and parent.type == "return_statement":
        return parent, "return "
    if (
        parent is not None
        and parent.type == "assignment"
        and parent.child_by_field_name("type") is None
        and parent.child_by_field_name("right") is not None
        and parent.child_by_field_name("right").id == call.id
        and parent.child_by_field_name("left").type in ("identifier", "attribute", "subscript")
        and parent.parent is not None
        and parent.parent.type == "expression_statement"
    ):
        return parent.parent, f"{text(parent.child_by_field_name('left'))} = "
    if parent is not None and parent.type == "assignment":
        raise NoFix(
            "the call is assigned to more than one name, attribute or subscript (or with an "
            "annotation): the try/except rewrite is left to you"
        )
    where = "an expression"
    node = parent
    while node is not None and not node.type.endswith(("statement", "definition", "module")):
        where = _ENCLOSING.get(node.type, where)
        node = node.parent
    raise NoFix(
        f"the call is inside {where}: only a statement that is the call (`x = call`, "
        "`return call`, `call`) can be wrapped in try/except without catching the errors of "
        "the code around it, so this one is left to you"
    )


def _argument(m: re.Match[str], args: tuple[str, ...], values: dict[str, Node]) -> str:
    """A fallback placeholder's argument, which ``except`` evaluates a second time: only a name,
    an attribute or subscript of one, or a literal (a list or tuple of those too), whose second
    evaluation does nothing else."""
    token = m.group("token")
    name = token[3:] if token.startswith("kw:") else args[int(token)]
    if name not in values:
        raise NoFix(f"the call does not pass `{name}`")
    value = values[name]
    if not _plain(value):
        raise NoFix(f"the fallback would evaluate `{text(value)}` a second time")
    return text(value)


_LITERALS = frozenset({"integer", "float", "true", "false", "none"})


def _plain(node: Node) -> bool:
    if node.type in ("identifier", *_LITERALS):
        return True
    if node.type == "string":
        return not any(c.type == "interpolation" for c in node.named_children)
    if node.type in ("list", "tuple", "parenthesized_expression"):  # a new equal object again
        return all(map(_plain, node.named_children))
    if node.type == "attribute":
        return _plain(node.child_by_field_name("object"))
    if node.type == "subscript":
        keys = node.children_by_field_name("subscript")
        return _plain(node.child_by_field_name("value")) and all(map(_plain, keys))
    return False


def _holds_multiline_string(node: Node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "string" and n.start_point[0] != n.end_point[0]:
            return True
        stack.extend(n.children)
    return False


def _line_end(source: bytes, newline_at: int) -> bytes:
    """The line end at ``newline_at`` (the file's first where the statement ends the file)."""
    if newline_at >= len(source):
        newline_at = source.find(b"\n")
        if newline_at == -1:
            return b"\n"
    return b"\r\n" if newline_at > 0 and source[newline_at - 1 : newline_at] == b"\r" else b"\n"
