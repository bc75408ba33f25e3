"""``statement``: the statement whose value is the call, wrapped in ``try``/``except``.

pandas' advice where ``errors="ignore"`` went (the deprecation note in 2.2's whatsnew): call
without it and catch the exception, keeping the input. ``try`` holds the statement, the call
without the parameter's keyword; ``except`` (the record's ``catch``) the same statement with the
``fallback`` (a template over the call's arguments) in the call's place: ``x = s``, ``return s``,
or ``pass`` for an expression statement. The statement keeps its indentation, the comment after
it and its line end; the file's other bytes are untouched.

Where the call is nested in a simple statement (``return is_numeric(pd.to_numeric(s,
errors="ignore"))``), it is hoisted: ``try``/``except`` bind its value (or the fallback) to a
name the file never spells, on the lines before the statement, and the statement reads that
name. Only where the call surely runs once whenever the statement does: between the statement
and the call only call arguments, attribute objects, subscripts, operators (not ``and``/``or``),
tuples and lists. In a conditional expression, a lambda, a comprehension, an f-string, ``await``,
``yield`` or ``:=``, the call might not run or run many times, and the rewrite is left to a
person; so is a call nested in another statement (``if``, ``assert``...) or in an assignment's
target. (A ``try`` around the whole statement would catch the errors of the code around the
call too.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.dataset.knowledge import PLACEHOLDER, Fix
from recode.server.fixes.edits import Edit, apply_edits
from recode.server.fixes.imports import drop_item
from recode.server.fixes.kinds.template import _call_arguments
from recode.server.fixes.site import FixSite, NoFix, plain
from recode.server.parsing import text
from recode.server.scopes import fresh_name

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    passed = site.keyword or site.argument
    if passed is None:
        return None
    if site.argument is not None and any(
        a.type not in ("keyword_argument", "dictionary_splat", "comment")
        for a in _after(site.argument)
    ):
        # dropping it would move the arguments after it to its place
        raise NoFix(
            f"`{finding.record.parameter}` is passed by position before other positional "
            "arguments; pass them by name"
        )
    fix = finding.fix
    call = passed.parent.parent  # keyword_argument or argument < argument_list < call
    dropped = drop_item(passed)
    values, _ = _call_arguments(fix, call)
    whole = _whole_statement(call)
    if whole is None:
        return _hoisted(call, fix, analysis.source, values, dropped)
    stmt, before = whole
    source = analysis.source
    line = _Line.of(source, stmt)
    line_end = source.find(b"\n", stmt.end_byte)
    line_end = len(source) if line_end == -1 else line_end
    after = _utf8(source[stmt.end_byte : line_end].rstrip(b"\r"))
    if after.strip() and not after.lstrip().startswith("#"):
        raise NoFix("the statement shares its line with other code after it")

    fallback = _fallback(fix, values, plain)
    body = _without(source, stmt, dropped, line.step)
    instead = "pass" if before is None else before + fallback
    comment = after.rstrip() if after.strip() else ""
    indent, step, newline = line.indent, line.step, line.newline
    new = (
        f"try:{newline}{indent}{step}{body}{comment}{newline}"
        f"{indent}except {fix.caught}:{newline}{indent}{step}{instead}"
    )
    return (Edit(stmt.start_byte, stmt.end_byte + len(comment.encode("utf-8")), new),)


def _hoisted(
    call: Node, fix: Fix, source: bytes, values: dict[str, Node], dropped: Edit
) -> tuple[Edit, ...]:
    """The call's try/except on the lines before its statement, binding a fresh name that
    takes the call's place."""
    stmt = _hoisting_statement(call)
    line = _Line.of(source, stmt)
    fallback = _fallback(
        fix,
        values,
        _name_or_attribute,
        ": a hoisted call's input must be a name or an attribute of one",
    )
    function = call.child_by_field_name("function")
    if function.type == "attribute":
        function = function.child_by_field_name("attribute")
    name = fresh_name(source, "_" + text(function).removeprefix("to_"))
    value = _without(source, call, dropped, line.step)
    indent, step, newline = line.indent, line.step, line.newline
    new = (
        f"{indent}try:{newline}{indent}{step}{name} = {value}{newline}"
        f"{indent}except {fix.caught}:{newline}{indent}{step}{name} = {fallback}{newline}"
    )
    return (Edit(line.start, line.start, new), Edit(call.start_byte, call.end_byte, name))


@dataclass(frozen=True)
class _Line:
    """The line a statement begins: where, its indentation, the step of one more level, and
    its line end; :class:`NoFix` where the statement does not begin it."""

    start: int
    indent: str
    step: str
    newline: str

    @classmethod
    def of(cls, source: bytes, stmt: Node) -> _Line:
        start = source.rfind(b"\n", 0, stmt.start_byte) + 1
        indent = _utf8(source[start : stmt.start_byte])
        if indent.strip(" \t"):
            raise NoFix(
                "the statement shares its line with other code before it (a `;` or a header "
                "such as `if c:`), so the lines the fix writes would have no indentation of "
                "their own"
            )
        if source[:start].endswith((b"\\\n", b"\\\r\n")):
            raise NoFix("the statement continues the line before it (a `\\` at its end)")
        end = source.find(b"\n", stmt.end_byte)
        newline = (
            "\r\n" if _line_end(source, len(source) if end == -1 else end) == b"\r\n" else "\n"
        )
        return cls(start, indent, "\t" if "\t" in indent else "    ", newline)


def _utf8(data: bytes) -> str:
    """Text the fix copies into the lines it writes; bytes that are not UTF-8 (broken input the
    detector still reads) are not rewritten."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoFix("the statement's line is not valid UTF-8") from None


def _after(argument: Node) -> list[Node]:
    """The arguments that follow ``argument`` in its call."""
    siblings = argument.parent.named_children
    return siblings[next(i for i, a in enumerate(siblings) if a.id == argument.id) + 1 :]


def _without(source: bytes, node: Node, dropped: Edit, step: str) -> str:
    """``node``'s text without the dropped keyword, its continuation lines one level deeper."""
    start = node.start_byte
    body = _utf8(
        apply_edits(
            source[start : node.end_byte], [Edit(dropped.start - start, dropped.end - start, "")]
        )
    )
    if not _holds_multiline_string(node):  # else the string's lines would change
        body = re.sub(r"\n(?=[^\r\n])", "\n" + step, body)
    return body


def _fallback(
    fix: Fix, values: dict[str, Node], allowed: Callable[[Node], bool], why: str = ""
) -> str:
    """The ``fallback`` template filled with the call's arguments, each one that ``allowed``
    (evaluated a second time in ``except``, it must do nothing else); else :class:`NoFix`."""

    def argument(m: re.Match[str]) -> str:
        token = m.group("token")
        name = token[3:] if token.startswith("kw:") else fix.args[int(token)]
        if name not in values:
            raise NoFix(f"the call does not pass `{name}`")
        if not allowed(values[name]):
            raise NoFix(f"the fallback would evaluate `{text(values[name])}` a second time{why}")
        return text(values[name])

    return PLACEHOLDER.sub(argument, fix.fallback or "")


#: What encloses a nested call where it might not run, or run many times, in the reason it is
#: left to a person.
_ENCLOSING = {
    "lambda": "a lambda",
    "list_comprehension": "a comprehension",
    "set_comprehension": "a comprehension",
    "dictionary_comprehension": "a comprehension",
    "generator_expression": "a comprehension",
    "conditional_expression": "a conditional expression",
    "boolean_operator": "`and`/`or`",
    "await": "`await`",
    "yield": "`yield`",
    "named_expression": "an assignment expression (`:=`)",
    "interpolation": "an f-string",
}

#: What a call may be nested in and still be hoisted: it runs, once, whenever the statement
#: does. (tree-sitter's node types; a call's arguments, a keyword's value, are handled apart.)
_THROUGH = frozenset(
    {
        "attribute",  # only as its object: the attribute's name is no expression
        "subscript",
        "unary_operator",
        "not_operator",
        "binary_operator",
        "tuple",
        "list",
        "expression_list",
        "parenthesized_expression",
    }
)


def _whole_statement(call: Node) -> tuple[Node, str | None] | None:
    """The statement whose whole value the call is, and what stands before the call in it
    (None for an expression statement); None where the call is nested in an expression."""
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
    return None


def _hoisting_statement(call: Node) -> Node:
    """The simple statement (return, assignment, expression) the nested call is hoisted
    before; :class:`NoFix` where the path from it to the call goes through anything that may
    skip or repeat the call (:data:`_ENCLOSING`) or that the fix does not know to run it."""
    node = call
    while True:
        parent = node.parent
        if parent is None:
            raise NoFix(_left("is outside any statement"))
        kind = parent.type
        if kind in ("expression_statement", "return_statement"):
            return parent
        if kind in ("assignment", "augmented_assignment"):
            right = parent.child_by_field_name("right")
            if right is None or right.id != node.id:
                raise NoFix(_left("is in an assignment's target or annotation"))
        elif kind == "keyword_argument":
            if parent.child_by_field_name("value").id != node.id:
                raise NoFix(_left("is in an expression"))
        elif kind == "argument_list":
            if parent.parent is None or parent.parent.type != "call":
                raise NoFix(_left(f"is in the arguments of a {_words(parent.parent)}"))
        elif kind == "call":
            if parent.child_by_field_name("function").id == node.id:
                raise NoFix(_left("is itself called"))
        elif kind == "attribute":
            if parent.child_by_field_name("object").id != node.id:
                raise NoFix(_left("is in an expression"))
        elif kind in _ENCLOSING:
            raise NoFix(
                f"the call is inside {_ENCLOSING[kind]}, where it might not run or run many "
                "times: it cannot be hoisted into try/except before the statement, so this "
                "one is left to you"
            )
        elif kind not in _THROUGH:
            what = "statement" if kind.endswith(("statement", "clause")) else "expression"
            raise NoFix(_left(f"is in {_article(kind)} {_words(parent)} {what}"))
        node = parent


def _left(where: str) -> str:
    return (
        f"the call {where}: only a call that is a return, an assignment or an expression "
        "statement, or is nested in one through arguments, attributes, subscripts, operators, "
        "tuples and lists, can be caught with try/except, so this one is left to you"
    )


def _words(node: Node | None) -> str:
    kind = "statement" if node is None else node.type
    for suffix in ("_statement", "_clause", "_expression", "_operator"):
        kind = kind.removesuffix(suffix)
    return kind.replace("_", " ")


def _article(kind: str) -> str:
    return "an" if kind[:1] in "aeiou" else "a"


def _name_or_attribute(node: Node) -> bool:
    while node.type == "attribute":
        node = node.child_by_field_name("object")
    return node.type == "identifier"


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
