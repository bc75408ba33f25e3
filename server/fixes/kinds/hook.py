"""``hook``: a hook method that returned a dict literal becomes the hook that takes its place,
setting each key's attribute on what the base's hook returns::

    def _more_tags(self):               def __sklearn_tags__(self):
        return {"allow_nan": True}  ->      tags = super().__sklearn_tags__()
                                            tags.input_tags.allow_nan = True
                                            return tags

Made where the method is defined in a class body (a ``hook`` record's site), takes ``self``
alone, is not decorated, and its body (a docstring aside, which is kept) is ``return`` of a dict
literal whose keys are plain strings the fix maps, each value on one line; the values are
written as they stand, evaluated when the hook is called as before. Anything else (a key the
fix does not map, ``**`` in the dict, a comment in the method, more statements) is left to a
person, with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.server.fixes.edits import Edit
from recode.server.fixes.site import FixSite, NoFix
from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding

#: The local name the new method binds to the base's result.
LOCAL = "tags"


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    func, fix = site.definition, finding.fix
    if func is None or fix is None or fix.to is None:
        return None
    if func.parent is not None and func.parent.type == "decorated_definition":
        raise NoFix("the method is decorated")
    params = func.child_by_field_name("parameters")
    own = [p for p in params.named_children] if params is not None else []
    if len(own) != 1 or own[0].type != "identifier":
        raise NoFix("the method takes arguments besides self")
    body = func.child_by_field_name("body")
    statements = list(body.named_children) if body is not None else []
    if any(_has_comment(s) for s in statements) or any(c.type == "comment" for c in func.children):
        raise NoFix("a comment in the method: where it goes is for a person to decide")
    docstring = None
    if statements and _is_docstring(statements[0]):
        docstring = statements.pop(0)
    returned = statements[0].named_children if len(statements) == 1 else []
    if len(statements) != 1 or statements[0].type != "return_statement" or len(returned) != 1:
        raise NoFix("the method does more than return a dict literal")
    if returned[0].type != "dictionary":
        raise NoFix("the method returns something other than a dict literal")
    sets = [_setting(item, finding) for item in returned[0].named_children]
    indent = _indent(analysis.source, func, body)
    lines = [f"def {fix.to}({text(own[0])}):"]
    if docstring is not None:
        lines.append(indent + text(docstring))
    lines.append(f"{indent}{LOCAL} = super().{fix.to}()")
    lines += [f"{indent}{LOCAL}.{path} = {value}" for path, value in sets]
    lines.append(f"{indent}return {LOCAL}")
    return (Edit(func.start_byte, func.end_byte, "\n".join(lines)),)


def _indent(source: bytes, func: Node, body: Node | None) -> str:
    """The body's indentation as the file writes it; one level (four spaces) below the
    ``def`` where the body shares its line."""
    def_line = source[source.rfind(b"\n", 0, func.start_byte) + 1 : func.start_byte]
    if body is None or body.start_point[0] == func.start_point[0]:
        return def_line.decode("utf-8", "replace") + "    "
    start = source.rfind(b"\n", 0, body.start_byte) + 1
    return source[start : body.start_byte].decode("utf-8", "replace")


def _setting(item: Node, finding: Finding) -> tuple[str, str]:
    """One ``key: value`` pair of the dict as (attribute path, value as written)."""
    if item.type != "pair":
        raise NoFix(f"the dict holds `{text(item)}`, not a key and its value")
    key, value = item.child_by_field_name("key"), item.child_by_field_name("value")
    parts = key.named_children if key is not None else []
    if (
        key is None
        or key.type != "string"
        or len(parts) != 3
        or parts[1].type != "string_content"
        or any(c in text(parts[0]).lower() for c in "fb")
    ):
        raise NoFix(f"the key `{text(key) if key else '?'}` is not a plain string literal")
    path = finding.fix.literal(text(parts[1])) if finding.fix is not None else None
    if path is None:
        raise NoFix(f"the key {text(key)} has no exact new attribute: a person must choose one")
    if value is None or value.start_point[0] != value.end_point[0]:
        raise NoFix(f"the value of {text(key)} spans lines")
    if any(text(n) == LOCAL for n in _identifiers(value)):
        raise NoFix(f"the value of {text(key)} reads a name `{LOCAL}`, which the method binds")
    return path, text(value)


def _is_docstring(statement: Node) -> bool:
    only = statement.named_children
    return statement.type == "expression_statement" and len(only) == 1 and only[0].type == "string"


def _has_comment(node: Node) -> bool:
    return node.type == "comment" or any(_has_comment(c) for c in node.children)


def _identifiers(node: Node) -> list[Node]:
    found = [node] if node.type == "identifier" else []
    for child in node.children:
        found += _identifiers(child)
    return found
