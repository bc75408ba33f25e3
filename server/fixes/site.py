"""Where a finding sits in the tree (what its fix reads), and why a fix cannot be made there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.server.parsing import TARGET_GROUPS, text

if TYPE_CHECKING:
    from recode.dataset.knowledge import Fix
    from recode.server.detector import Binding


@dataclass
class FixSite:
    """Where a finding sits in the tree: what the fix needs to rewrite it."""

    reference: Node | None = None  # the name or attribute chain that resolves to the symbol
    binding: Binding | None = None  # the import the chain starts from (None for typed objects)
    name: Node | None = None  # the first identifier of the chain
    call: Node | None = None  # the call whose callee is the reference, or a subscript (s[0])
    keyword: Node | None = None  # the keyword_argument of a parameter finding
    argument: Node | None = None  # ... or the argument passed by position (a value record)
    import_stmt: Node | None = None  # an import statement that names the symbol
    import_name: Node | None = None  # ... and the dotted name in it
    #: the value a conversion record's template takes as ``{self}`` in its place, where a test
    #: run proved it an array converted to a scalar (``float(v)``, ``a[k] = v``: ``v``)
    value: Node | None = None
    class_def: Node | None = None  # a class statement a test run proved (a base fix's site)
    definition: Node | None = None  # a hook record's method definition (a hook fix's site)
    #: a class passed uncalled as a ``pytest.mark.parametrize`` value: the calls of the
    #: parameter that leave the changed default out, the parameter's values (``reference``
    #: among them), and the fixes of their records (the same keyword), which must agree
    through: tuple[Node, ...] = ()
    peers: tuple[Node, ...] = ()
    alike: tuple[Fix, ...] = ()

    @property
    def through_import(self) -> bool:
        """Whether the reference starts from an import, not from an object: a method reached so
        is reached through its class (``np.ndarray.ptp``), the object its first argument."""
        return self.binding is not None and self.binding.kind in ("import", "from", "star")


class NoFix(Exception):
    """A fix the record has cannot be made exactly here; ``reason`` says why, for the user."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


def passed_fix(fix: Fix, call: Node) -> Fix:
    """The fix for a call: the ``when_passed`` fix of the first of its keys that the call
    passes, a keyword (``Int64Index(a, dtype=d)``) or a keyword with its value (``axis=1``: the
    value as written, or the text of a plain string literal, as a value map reads it), else
    ``fix``. An argument passed by position counts as passed where the template's ``args``
    (``fix``'s, else the keyed fix's) say which parameter takes it (``Int64Index(a, d)``)."""
    args = call.child_by_field_name("arguments")
    given = [a for a in (args.named_children if args is not None else ()) if a.type != "comment"]
    passed = {
        text(a.child_by_field_name("name")): a.child_by_field_name("value")
        for a in given
        if a.type == "keyword_argument"
    }
    positional: list[Node] = []
    for a in given:
        if a.type in ("keyword_argument", "dictionary_splat"):
            break
        if a.type in ("list_splat", "parenthesized_list_splat"):
            break  # which parameter takes what follows is unknowable
        positional.append(a)
    for key, keyed in fix.when_passed:
        name, _, value = key.partition("=")
        names = fix.args[: fix.positional] if fix.args else keyed.args[: keyed.positional]
        node = passed.get(name)
        if node is None and name in names and names.index(name) < len(positional):
            node = positional[names.index(name)]
        if node is not None and (not value or value in written(node)):
            return keyed
    return fix


def written(value: Node) -> tuple[str, ...]:
    """How a value map or a ``when_passed`` key may name an argument: as written, and for a
    plain string literal (``"ffill"``, ``'ffill'``) also its text (``ffill``)."""
    forms = (text(value),)
    if value.type == "string" and len(value.named_children) == 3:  # start, content, end only
        start, content, _ = value.named_children
        if text(start) in ('"', "'") and content.type == "string_content":
            forms += (text(content),)
    return forms


def assigned(node: Node) -> bool:
    """Whether the reference is written rather than read: a target of an assignment, an
    augmented assignment (which reads and writes), a ``for``, a ``with ... as`` or a ``del``.
    A reference template turns a read into an expression (``m.A`` -> ``m.toarray()``), which
    cannot stand there: ``cs.antialiased = False`` would become code that does not parse, and
    every other fix of the file would be refused with it."""
    child, parent = node, node.parent
    while parent is not None and parent.type in TARGET_GROUPS:
        child, parent = parent, parent.parent
    if parent is None:
        return False
    if parent.type in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        left = parent.child_by_field_name("left")
        return left is not None and left.id == child.id
    return parent.type in ("delete_statement", "as_pattern_target")


def tested_by(reference: Node) -> Node | None:
    """The ``isinstance(obj, ...)`` call whose class, or one of whose tuple of classes, is
    ``reference``; None elsewhere."""
    parent = reference.parent
    if parent is not None and parent.type == "tuple":
        parent = parent.parent
    if parent is None or parent.type != "argument_list":
        return None
    args = [a for a in parent.named_children if a.type != "comment"]
    call = parent.parent
    if (
        len(args) != 2
        or call is None
        or call.type != "call"
        or call.child_by_field_name("function").type != "identifier"
        or call.child_by_field_name("function").text != b"isinstance"
    ):
        return None
    classes = args[1]
    if classes.id == reference.id or (
        classes.type == "tuple"
        and reference.parent is not None
        and reference.parent.id == classes.id
    ):
        return call
    return None


#: tree-sitter's literals, whose evaluation does nothing but make the value
_LITERALS = frozenset(("integer", "float", "true", "false", "none", "ellipsis"))


def plain(node: Node) -> bool:
    """Whether evaluating the expression does nothing but make its value, cheaply, so that a
    fix may write it more than once, or leave it out: a name, a chain of attributes (a
    property's getter is taken to have no effect) and of subscripts by such keys
    (``mi.levels[0]``, ``x[k]``), a literal (a number, negated too, a string without
    interpolation, ``True``, ``None``, ``...``), and tuples, lists and parentheses of those (a
    list written again is a new equal list, which no other code held). Anything else (a call,
    an operator, a comprehension) may cost or do something each time. A subscript or an
    attribute may still raise; leaving one out is taken as leaving out a name that might be
    unbound."""
    while node.type in ("attribute", "subscript"):
        if node.type == "subscript":
            if not all(plain(k) for k in node.children_by_field_name("subscript")):
                return False
            node = node.child_by_field_name("value")
        else:
            node = node.child_by_field_name("object")
    if node.type == "unary_operator":
        if text(node.child_by_field_name("operator")) not in ("-", "+"):
            return False
        return node.child_by_field_name("argument").type in ("integer", "float")
    if node.type == "string":
        return not any(c.type == "interpolation" for c in node.named_children)
    if node.type in ("concatenated_string", "tuple", "list", "parenthesized_expression"):
        return all(plain(c) for c in node.named_children if c.type != "comment")
    return node.type == "identifier" or node.type in _LITERALS
