"""``template``: the call, or the reference alone, rewritten as the template says.

A template (dataset/kb/README.md, "Fixes") is the new code with placeholders: the receiver
``{self}``, an argument's value ``{0}`` / ``{kw:name}`` (optionally through a value map), the
arguments no other placeholder takes ``{rest}``, a module as the file spells it ``{mod:path}``.
It replaces the call (``target: call``) or the reference alone (``target: reference``).
"""

from __future__ import annotations

import ast
import enum
import functools
import io
import itertools
import re
import tokenize
from dataclasses import replace
from typing import TYPE_CHECKING

from tree_sitter import Node

from recode.dataset.knowledge import PLACEHOLDER, Fix, FixKind, Target, fill_rest, value_map
from recode.server.fixes.edits import Edit, overlaps
from recode.server.fixes.imports import (
    from_binding,
    module_of,
    remove_import_item,
    spell,
    split_path,
    submodule_import,
)
from recode.server.fixes.python_ast import PARSE_LOCK
from recode.server.fixes.site import (
    FixSite,
    NoFix,
    assigned,
    passed_fix,
    plain,
    tested_by,
    written,
)
from recode.server.parsing import text

if TYPE_CHECKING:
    from recode.server.detector import Analysis, Finding


def edits(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...] | None:
    fix = finding.fix
    record_fix = finding.record.fix
    if record_fix is not None and fix is record_fix.instance_test:
        binding = site.binding
        if binding is not None and binding.kind == "from" and site.reference.type == "identifier":
            try:  # as for a call below: every use and the import, where they can be made
                whole = FixSite(import_stmt=binding.stmt, import_name=binding.name_node)
                return _template_import(finding, analysis, whole)
            except NoFix:
                pass
        return _instance_test(fix, analysis, site)
    if site.value is not None or fix.target is Target.ASSIGNMENT:
        return _template(finding, analysis, site)
    if (site.reference if fix.target is Target.REFERENCE else site.call) is not None:
        binding, record = site.binding, finding.record
        if (
            binding is not None
            and binding.kind == "from"
            and site.reference.type == "identifier"
            and record.kind.name_goes
            and record.parameter is None
            and record.unless_keyword is None
            and record.max_positional is None
        ):
            # a use of ``from m import old``, where the name goes (the import is flagged too):
            # the same edits as the import's finding (every use and the import), where they can
            # be made
            try:
                whole = FixSite(import_stmt=binding.stmt, import_name=binding.name_node)
                return _template_import(finding, analysis, whole)
            except NoFix:
                pass
        return _template(finding, analysis, site)
    if site.import_stmt is not None:
        return _template_import(finding, analysis, site)
    if site.through:
        return _through_parameter(analysis, site)
    if site.reference is not None:
        raise NoFix(f"`{text(site.reference)}` is not called here; the fix rewrites calls")
    return None


#: A template that calls the class itself: ``{mod:sklearn.cluster.KMeans}(`` and the arguments.
_CLASS_CALL = re.compile(r"\{mod:[\w.]+\}\(")


def _through_parameter(analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    """A class passed uncalled as a ``pytest.mark.parametrize`` value, whose default changed:
    each call of the parameter that leaves the keyword out (``Est(max_iter=20)``) gets what
    the class's template writes with the parameter in the class's place
    (``Est(max_iter=20, categorical_features=None)``), where the template of every value of
    the parameter (``site.alike``) writes the same."""
    out: list[Edit] = []
    for call in site.through:
        callee = text(call.child_by_field_name("function"))
        renders: set[str] = set()
        for fix in site.alike:
            m = _CLASS_CALL.match(fix.template or "")
            if fix.kind is not FixKind.TEMPLATE or m is None or fix.then or fix.when_passed:
                raise NoFix("the fix does not call the class itself, so a parameter cannot")
            at_call = replace(fix, template=callee + fix.template[m.end() - 1 :])
            values, positional = _call_arguments(at_call, call)
            use = FixSite(call=call)
            rendered, extra = _render(at_call, analysis, use, call, values, positional)
            if extra:
                raise NoFix("the fix imports what a call of the parameter cannot use")
            renders.add(rendered)
        if len(renders) != 1:
            raise NoFix(
                f"the values of `{callee}` take different fixes at its call (line "
                f"{call.start_point[0] + 1})"
            )
        out.append(Edit(call.start_byte, call.end_byte, _in_place(renders.pop(), call)))
    return tuple(out)


#: Where any expression fits without parentheses: a template rendering an operator expression
#: (``-np.inf``) is parenthesised anywhere else (``np.NINF ** 2`` -> ``(-np.inf) ** 2``).
_LOOSE_PARENTS = frozenset(
    {
        "argument_list",
        "keyword_argument",
        "expression_statement",
        "assignment",
        "augmented_assignment",
        "return_statement",
        "parenthesized_expression",
        "list",
        "tuple",
        "set",
        "pair",
        "expression_list",
        "default_parameter",
        "typed_default_parameter",
        "if_statement",  # the condition, the one expression the statement holds
        "elif_clause",
        "while_statement",
        "assert_statement",
    }
)


_PRIMARY = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Dict, ast.Set)


class Place(enum.Enum):
    """Where code stands in the code around it, for whether it needs parentheses there."""

    LOOSE = "where any expression fits"  # an argument, a list item, an assignment's value
    OPERAND = "an operand"  # of an operator, a comparison; a callee; a subscript's value
    OBJECT = "an attribute's object"  # ``{0}.item()``: ``1.item()`` does not parse


#: A decimal integer literal, which the tokenizer would read with a ``.`` after it as a float.
_DECIMAL_INT = re.compile(r"[0-9][0-9_]*")

#: The targets whose template's ``{self}`` is the reference's object, not the callee's.
_OF_REFERENCE = (Target.REFERENCE, Target.ASSIGNMENT)


def _template(
    finding: Finding, analysis: Analysis, site: FixSite, fix: Fix | None = None
) -> tuple[Edit, ...]:
    fix = fix or finding.fix
    values: dict[str, Node] = {}
    positional: dict[str, bool] = {}
    written_value = None
    if site.value is not None:  # the value itself, in its place: ``v`` -> ``v.item()``
        node = site.value
    elif fix.target is Target.ASSIGNMENT:
        node = site.reference
        if node is None or site.call is not None:
            raise NoFix(
                f"`{text(node or site.call)}` is not assigned here; the rewrite is of a write"
            )
        statement, written_value = _assignment(node)
    elif fix.target is Target.REFERENCE:
        node = site.reference
        if node is None:
            raise NoFix
        if assigned(node):
            raise NoFix(f"`{text(node)}` is assigned or deleted here; the rewrite is of a read")
    else:
        node = site.call
        values, positional = _call_arguments(fix, node)
    if fix.target in (Target.REFERENCE, Target.CALL) and "{self}" not in fix.template:
        _receiver_kept(
            node if fix.target is Target.REFERENCE else node.child_by_field_name("function")
        )
    if fix.target is Target.STATEMENT:
        replaced, after = _check_statement(node, analysis)
    then = _then_call(fix, node) if fix.then else None
    rendered, extra = _render(
        fix,
        analysis,
        site,
        node,
        values,
        positional,
        then=None if then is None else analysis.source[node.end_byte : then.end_byte].decode(),
        written_value=written_value,
    )
    if fix.target is Target.ASSIGNMENT:
        return (Edit(statement.start_byte, statement.end_byte, rendered), *extra)
    if fix.target is Target.STATEMENT:
        return (Edit(replaced.start_byte, replaced.end_byte, rendered), *after, *extra)
    node = then or node  # {then}: the call and the method call made on its result
    return (Edit(node.start_byte, node.end_byte, _in_place(rendered, node)), *extra)


def _assignment(reference: Node) -> tuple[Node, Node]:
    """The plain assignment ``x.attr = value`` a statement of its own whose one target is the
    reference, and its value; else :class:`NoFix`: an augmented assignment reads the
    attribute too, and several targets (``a = x.attr = v``, ``x.attr, b = v``), an annotation,
    or a reference deleted or bound by ``for``/``with`` want more than one call of a setter."""
    if not assigned(reference):
        raise NoFix(f"`{text(reference)}` is read here; the rewrite is of a write")
    parent = reference.parent
    if (
        parent is None
        or parent.type != "assignment"
        or parent.child_by_field_name("left") != reference
        or parent.child_by_field_name("type") is not None
        or parent.child_by_field_name("right") is None
        or parent.child_by_field_name("right").type in ("assignment", "yield")
        or parent.parent is None
        or parent.parent.type != "expression_statement"
        or parent.parent.named_child_count != 1
    ):
        raise NoFix(
            f"`{text(reference)}` is written here other than by a plain `{text(reference)} = "
            "value` statement; the rewrite takes that alone"
        )
    return parent, parent.child_by_field_name("right")


def _receiver_kept(reference: Node | None) -> None:
    """That a template not writing ``{self}`` loses no evaluation of the object the reference is
    read from: ``pd.Timedelta(g()).freq`` -> ``None`` would no longer call ``g``. A module
    (``np.NINF``), a name or another plain object may go; else :class:`NoFix`."""
    if reference is None or reference.type != "attribute":
        return
    obj = reference.child_by_field_name("object")
    if not plain(obj):
        raise NoFix(
            f"the rewrite leaves out `{text(obj)}`, which is evaluated here; bind it to a name "
            "first"
        )


def _then_call(fix: Fix, call: Node) -> Node:
    """The call of one of the fix's ``then`` methods made on the call's result at once
    (``df.groupby(level=0, axis=1).mean()``), which a template with ``{then}`` rewrites with
    the call; else :class:`NoFix`."""
    attribute = call.parent
    outer = attribute.parent if attribute is not None else None
    if (
        attribute is None
        or attribute.type != "attribute"
        or attribute.child_by_field_name("object").id != call.id
        or text(attribute.child_by_field_name("attribute")) not in fix.then
        or outer is None
        or outer.type != "call"
        or outer.child_by_field_name("function").id != attribute.id
    ):
        names = ", ".join(f"`{n}`" for n in sorted(fix.then)[:6])
        raise NoFix(
            "the rewrite takes the call with a method called on its result at once, one of "
            f"{names}{', ...' if len(fix.then) > 6 else ''}; here the result is used otherwise"
        )
    return outer


def _check_statement(call: Node, analysis: Analysis) -> tuple[Node, tuple[Edit, ...]]:
    """That a statement template may stand for the call, and what it replaces, with the line
    written after it: the call is a statement of its own, or the whole value assigned to a
    name (``rv = df.set_index("a", inplace=True)``: the name gets the ``None`` the call made
    for its effect returned, on a line of its own after the comment that ends the call's),
    and its object a name the scope binds, or attributes of one (what ``{self} = ...``
    assigns to rebinds what the call read), else :class:`NoFix`."""
    replaced: Node = call
    after: tuple[Edit, ...] = ()
    stmt = call.parent
    if (
        stmt is not None
        and stmt.type == "assignment"
        and stmt.child_by_field_name("right") == call
        and stmt.child_by_field_name("left").type == "identifier"
        and stmt.child_by_field_name("type") is None
        and stmt.parent is not None
        and stmt.parent.type == "expression_statement"
    ):
        from recode.server.fixes.kinds.statement import _Line  # it imports this module

        source = analysis.source
        line = _Line.of(source, stmt)
        end = source.find(b"\n", stmt.end_byte)
        end = len(source) if end == -1 else end - source[:end].endswith(b"\r")
        rest = source[stmt.end_byte : end].strip(b" \t")
        if rest and not rest.startswith(b"#"):
            raise NoFix("the statement shares its line with other code after it (a `;`)")
        name = text(stmt.child_by_field_name("left"))
        after = (Edit(end, end, f"{line.newline}{line.indent}{name} = None"),)
        replaced, stmt = stmt, stmt.parent
    if stmt is None or stmt.type != "expression_statement" or stmt.named_child_count != 1:
        raise NoFix("the call is not a statement of its own: its value is used")
    func = call.child_by_field_name("function")
    obj = func.child_by_field_name("object") if func.type == "attribute" else None
    chain = obj
    while chain is not None and chain.type == "attribute":
        chain = chain.child_by_field_name("object")
    if chain is None or chain.type != "identifier":
        raise NoFix("the rewrite assigns to the object, which must be a name or its attribute")
    scopes = analysis.facts.scopes
    if obj.type == "identifier" and (
        scopes is None or not scopes.binds_here(text(obj), call.start_byte)
    ):
        raise NoFix(
            f"`{text(obj)}` is not bound in the function (or class body) that calls it: "
            "assigning it there would make a new name"
        )
    return replaced, after


def _literal_keys(subscript: Node) -> bool:
    """Whether every key of a subscript is a number or a plain string literal."""
    keys = subscript.children_by_field_name("subscript")
    return bool(keys) and all(
        k.type in ("integer", "string")
        or k.type == "unary_operator"
        and k.named_children[0].type == "integer"
        for k in keys
    )


def _render(
    fix: Fix,
    analysis: Analysis,
    site: FixSite,
    node: Node,
    values: dict[str, Node],
    positional: dict[str, bool],
    then: str | None = None,
    written_value: Node | None = None,
) -> tuple[str, list[Edit]]:
    """The template's code for ``node`` with these arguments, and the imports it needs;
    ``then``: the method call on its result (``.mean()``) as written, for ``{then}``;
    ``written_value``: the value an assignment template's ``{value}`` writes."""
    used: set[str] = set()
    extra: list[Edit] = []
    loaded: set[str] = set()  # the modules the imports in ``extra`` load
    rest_at: list[int] = []
    places = _places(fix.template)
    from_module = (
        None
        if site.value is not None
        else _imported_from(
            node if fix.target in _OF_REFERENCE else node.child_by_field_name("function"),
            analysis,
        )
    )  # None for a subscript

    reads: dict[str, list[Node]] = {}  # each argument the code evaluates, once per writing

    def fill(m: re.Match[str]) -> str:
        token = m.group("token")
        place = places.get(m.start(), Place.LOOSE)
        if token == "self":
            if site.value is not None:
                reads.setdefault("self", []).append(node)
                return _fit(text(node), place)
            if node.type == "subscript":  # ``s[0]``: s.__getitem__(0)
                reads.setdefault("self", []).append(node.child_by_field_name("value"))
                return _fit(text(node.child_by_field_name("value")), place)
            func = node if fix.target in _OF_REFERENCE else node.child_by_field_name("function")
            if func.type != "attribute":
                raise NoFix
            if site.through_import:
                # reached through an import, the object is the class (``np.ndarray.ptp``), not
                # an instance: the unbound method takes the instance as its first argument
                raise NoFix(
                    f"`{text(func)}` is the method reached through its class, not through an "
                    "object: the rewrite needs the object"
                )
            reads.setdefault("self", []).append(func.child_by_field_name("object"))
            return _fit(text(func.child_by_field_name("object")), place)  # ``1 .real``
        if token == "then":
            return then or ""
        if token == "value":
            reads.setdefault("value", []).append(written_value)
            value = text(written_value)
            return _fit(value, place)
        if token == "rest":
            rest_at.append(m.start())
            return "\0"  # filled in once every other placeholder has taken its argument
        if token.startswith("mod:"):
            path = token[4:]
            spelled, imports, loads = spell(
                path, analysis, node.start_byte, from_module, module_of(path)
            )
            extra.extend(imports)
            if loads is not None:
                loaded.add(loads)
            return spelled
        name = token[3:] if token.startswith("kw:") else fix.args[int(token)]
        if name not in values:
            raise NoFix(f"the call does not pass `{name}`")
        used.add(name)
        value = text(values[name])
        if m.group("map") is not None:
            return _mapped(name, values[name], m.group("map"))
        reads.setdefault(name, []).append(values[name])
        return _fit(value, place)  # {0}.item() or {0} + 1 of `a + b` parenthesised

    rendered = PLACEHOLDER.sub(fill, fix.template)
    for read in reads.values():
        if len(read) > 1 and not plain(read[0]):
            raise NoFix(
                f"`{text(read[0])}` would be evaluated {len(read)} times by the rewrite, which "
                "writes it as often; bind it to a name first"
            )
    if fix.module and not any(m == fix.module or m.startswith(fix.module + ".") for m in loaded):
        # a submodule the parent package's import does not load (scrapy.utils.request)
        extra.extend(submodule_import(fix.module, analysis, node.start_byte))
    for name in sorted(fix.drops & values.keys() - used):
        if not plain(values[name]):
            raise NoFix(
                f"the rewrite drops `{name}`, and `{text(values[name])}` may do something when "
                "evaluated (only a name, names' attributes or a literal is dropped): bind it to "
                "a name first"
            )
        used.add(name)
    if rest_at:
        rendered = _fill_rest(rendered, values, positional, used)
    elif used != set(values):
        dropped = ", ".join(f"`{k}`" for k in sorted(set(values) - used))
        raise NoFix(f"the replacement would drop the argument {dropped}")
    return rendered, extra


def _in_place(rendered: str, node: Node, condition: bool = False) -> str:
    """``rendered`` as it can stand where ``node`` stood: an operator expression (``-np.inf``)
    parenthesised unless any expression fits there; an instance test (a ``condition``, whose
    own output is not looked for again) also as an operand of ``or``, or ``and`` in ``and``."""
    try:
        with PARSE_LOCK:  # see python_tree
            tree = ast.parse("(" + rendered + ")", mode="eval")
    except SyntaxError:
        raise NoFix("the rewrite would pass an argument twice") from None
    if condition and isinstance(tree.body, ast.BoolOp) and _binds_in(tree.body, node.parent):
        return rendered  # ``a or b`` or ``a and b`` as an operand of ``or``
    parent = node.parent
    if parent is not None and parent.type in _LOOSE_PARENTS:
        return rendered
    if parent is not None and parent.type == "attribute":
        at_object = parent.child_by_field_name("object").id == node.id
        return _fit(rendered, Place.OBJECT if at_object else Place.OPERAND)
    return _fit(rendered, Place.OPERAND)


def _binds_in(code: ast.BoolOp, parent: Node | None) -> bool:
    """Whether ``code`` may stand without parentheses as an operand of ``parent``, a boolean
    operator: one of the same kind, or ``or`` around ``and``."""
    if parent is None or parent.type != "boolean_operator":
        return False
    operator = text(parent.child_by_field_name("operator"))
    return operator == "or" or isinstance(code.op, ast.And)


def _instance_test(fix: Fix, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    """``isinstance(obj, Old)`` -> the fix's test of ``obj``; ``isinstance(obj, (Old, B))`` ->
    ``isinstance(obj, B) or`` the test (the other classes kept, in their order). The test reads
    the object more than once: only a name, or a chain of attributes of one and subscripts by
    literal keys (``mi.levels[0]``), is taken."""
    call = tested_by(site.reference)
    if call is None:
        raise NoFix
    args = [a for a in call.child_by_field_name("arguments").named_children if a.type != "comment"]
    obj, classes = args
    chain = obj
    while chain.type == "attribute" or chain.type == "subscript" and _literal_keys(chain):
        chain = chain.child_by_field_name("object" if chain.type == "attribute" else "value")
    if chain.type != "identifier":
        raise NoFix(
            f"`{text(obj)}` would be evaluated more than once by the test that replaces "
            "`isinstance`; bind it to a name first"
        )
    test, extra = _render(fix, analysis, site, call, {fix.args[0]: obj}, {fix.args[0]: True})
    if classes.type == "tuple":
        others = [
            c for c in classes.named_children if c.type != "comment" and c.id != site.reference.id
        ]
        if others:
            kept = text(others[0]) if len(others) == 1 else f"({', '.join(map(text, others))})"
            with PARSE_LOCK:
                loose = isinstance(
                    ast.parse(f"({test})", mode="eval").body, (*_PRIMARY, ast.BoolOp, ast.Compare)
                )
            test = f"isinstance({text(obj)}, {kept}) or {test if loose else f'({test})'}"
    return (Edit(call.start_byte, call.end_byte, _in_place(test, call, condition=True)), *extra)


def _template_import(finding: Finding, analysis: Analysis, site: FixSite) -> tuple[Edit, ...]:
    """``from m import old``, where a template rewrites ``old``: every use of the name through
    the template, and the import item dropped (the new code imports what it needs), all at once,
    so that no use is left without its import. A use the template cannot rewrite (``old``
    passed as a function where the template rewrites calls) keeps the import, with the reason."""
    stmt, name = site.import_stmt, site.import_name
    if stmt.type != "import_from_statement" or name is None:
        raise NoFix
    binding = from_binding(analysis, name)
    quoted = rb"""['"]""" + re.escape(binding.name.encode()) + rb"""['"]"""
    if b"__all__" in analysis.source and re.search(quoted, analysis.source):
        raise NoFix(
            f"`{binding.name}` is named in a string (`__all__`?): other modules may import it "
            "from here, so its import stays"
        )
    test = finding.record.fix.instance_test
    main = finding.record.fix if finding.fix is test else finding.fix  # the fix of calls
    call_target = main.target is not Target.REFERENCE
    edits: set[Edit] = set()
    for ref in binding.references:
        call = ref.parent
        if test is not None and tested_by(ref) is not None:
            if not test.safe and finding.fix.safe:
                raise NoFix(
                    f"`{binding.name}` is tested with `isinstance` (line "
                    f"{ref.start_point[0] + 1}), whose fix is unsafe ({test.unsafe_because}): "
                    "with unsafe fixes each use is rewritten, then the import goes"
                )
            edits.update(_instance_test(test, analysis, FixSite(reference=ref, binding=binding)))
            continue
        if call_target and (
            call is None
            or call.type != "call"
            or call.child_by_field_name("function") is None
            or call.child_by_field_name("function").id != ref.id
        ):
            raise NoFix(
                f"`{binding.name}` is used other than in a call (line {ref.start_point[0] + 1}), "
                "which the fix cannot rewrite, so its import stays"
            )
        use = FixSite(reference=ref, binding=binding, name=ref, call=call if call_target else None)
        fix = passed_fix(main, call) if call_target else main  # ``Int64Index(a, dtype=d)``
        if not fix.safe and finding.fix.safe:
            raise NoFix(
                f"`{binding.name}` is called with `{_chosen(main, fix)}` (line "
                f"{ref.start_point[0] + 1}), whose fix is unsafe ({fix.unsafe_because}): with "
                "unsafe fixes each use is rewritten, then the import goes"
            )
        edits.update(_template(finding, analysis, use, fix))
    item = name.parent if name.parent.type == "aliased_import" else name
    module = text(stmt.child_by_field_name("module_name"))
    added = next((e for e in sorted(edits) if _adds_from(e, module)), None)
    if added is not None:
        # the new code imports a name of the same module (``plot_confusion_matrix`` ->
        # ``ConfusionMatrixDisplay``): it takes the old name's place in the statement
        edits.discard(added)
        edits.add(Edit(item.start_byte, item.end_byte, _adds_from(added, module)))
    else:
        edits.add(remove_import_item(stmt, item, analysis.source))
    ordered = sorted(edits)
    if any(overlaps(a, b) for a, b in itertools.pairwise(ordered)):
        raise NoFix("one use of the name holds another; the fix rewrites them one at a time")
    return tuple(ordered)


def _chosen(fix: Fix, passed: Fix) -> str:
    """The keyword for which ``fix`` chose its ``when_passed`` fix ``passed``."""
    return next(k for k, f in fix.when_passed if f is passed)


@functools.cache
def _places(template: str) -> dict[int, Place]:
    """Where the template's ``{self}`` and argument placeholders stand other than where any
    expression fits (as an operand of an operator, an attribute, a call, a subscript, a
    comparison...), by their offsets: what is written there is parenthesised unless it fits
    (``{0} + {self}`` of ``a if c else b``). Read from the template's tree, each placeholder
    standing as a name of its own."""
    names: dict[str, int] = {}

    def name(m: re.Match[str]) -> str:
        token = m.group("token")
        if token == "rest":
            return "\0"
        if token == "then":
            return ".x()"
        if token.startswith("mod:"):
            return "x"
        names[f"_recode_{len(names)}"] = m.start()
        return f"_recode_{len(names) - 1}"

    code = fill_rest(PLACEHOLDER.sub(name, template), "\0", [])
    with PARSE_LOCK:  # see python_tree
        try:
            tree: ast.AST = ast.parse("(" + code + ")", mode="eval")
        except SyntaxError:  # a statement template (``{self} = {self}.drop({rest})``)
            tree = ast.parse(code)
    places: dict[int, Place] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            if isinstance(child, ast.Name) and child.id in names and not _loose(parent, child):
                at_object = isinstance(parent, ast.Attribute) and child is parent.value
                places[names[child.id]] = Place.OBJECT if at_object else Place.OPERAND
    return places


def _loose(parent: ast.AST, child: ast.expr) -> bool:
    """Whether any expression fits where ``child`` stands in ``parent`` without parentheses."""
    if isinstance(parent, ast.Call):
        return child is not parent.func
    if isinstance(parent, ast.Subscript):
        return child is parent.slice
    if isinstance(parent, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return child is parent.value  # ``{self}[{0}] = {1}``: a target stays tight
    return isinstance(
        parent, (ast.Expression, ast.Expr, ast.keyword, ast.List, ast.Tuple, ast.Set, ast.Dict)
    )


def _adds_from(edit: Edit, module: str) -> str | None:
    """The name an inserted ``from module import name`` brings in, if ``edit`` is one."""
    m = _FROM_IMPORT.fullmatch(edit.text) if edit.start == edit.end else None
    return m.group(2) if m is not None and m.group(1) == module else None


_FROM_IMPORT = re.compile(r"\s*from ([\w.]+) import (\w+)\n")


def _fit(code: str, place: Place) -> str:
    """``code`` as it can stand at ``place``: parenthesised unless it fits there as written."""
    return code if _fits(code, place) else f"({code})"


def _fits(code: str, place: Place) -> bool:
    """Whether ``code`` may stand at ``place`` without parentheses: any expression where any
    fits; a primary (a name, an attribute, a call...) anywhere; a literal of one token
    (``2.0``, ``'a'``, ``b'a'``, ``1j``, ``0x1``, ``True``, ``None``, ``...``) as an operand,
    and as an attribute's object unless it is a decimal integer, which would read as a float
    (``1.real`` does not parse; ``(1).real`` does). A negative number is an operator expression
    (``-1 ** 2`` is ``-(1 ** 2)``); concatenated strings (``'a' 'b'``) are two tokens, which
    may stand on two lines."""
    if place is Place.LOOSE:
        return True
    try:
        with PARSE_LOCK:
            body = ast.parse(f"({code})", mode="eval").body
    except SyntaxError:
        return False
    if isinstance(body, _PRIMARY):
        return True
    if not isinstance(body, ast.Constant):
        return False
    # the tokenizer, not a pattern, tells one literal from several (strings hold anything)
    skipped = (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)
    try:
        tokens = [
            t.string
            for t in tokenize.generate_tokens(io.StringIO(code).readline)
            if t.type not in skipped
        ]
    except (tokenize.TokenError, SyntaxError):
        return False
    return len(tokens) == 1 and (place is Place.OPERAND or not _DECIMAL_INT.fullmatch(tokens[0]))


def _imported_from(name: Node | None, analysis: Analysis) -> str | None:
    """The module a name was imported from (``from sklearn.metrics import x``), if it was."""
    if name is None or name.type != "identifier":
        return None
    for b in analysis.bindings:
        if b.kind == "from" and b.name == text(name) and any(r.id == name.id for r in b.references):
            return split_path(b.target)[0]
    return None


def _call_arguments(fix: Fix, call: Node) -> tuple[dict[str, Node], dict[str, bool]]:
    """The call's arguments by parameter name, and whether each was passed by position; a
    subscript's key is its one positional argument (``s[0]`` is ``s.__getitem__(0)``)."""
    if call.type == "subscript":
        given = call.children_by_field_name("subscript")
    else:
        args = call.child_by_field_name("arguments")
        if args is None or args.type != "argument_list":
            raise NoFix
        given = args.named_children
    values: dict[str, Node] = {}
    positional: dict[str, bool] = {}
    position = 0
    for arg in given:
        if arg.type == "comment":
            continue
        if arg.type in ("list_splat", "dictionary_splat", "parenthesized_list_splat"):
            raise NoFix("the call unpacks its arguments (`*` or `**`)")
        if arg.type == "keyword_argument":
            key = text(arg.child_by_field_name("name"))
            value = arg.child_by_field_name("value")
        else:
            if position >= fix.positional:
                raise NoFix("the call passes more arguments by position than the rewrite takes")
            key, value = fix.args[position], arg
            position += 1
        if key not in fix.args or key in values:
            raise NoFix(f"the replacement has no place for the argument `{key}`")
        values[key] = value
        positional[key] = arg.type != "keyword_argument"
    return values, positional


def _mapped(name: str, value: Node, items: str) -> str:
    """A value through a template's value map: a key matches the value as written, or the
    text of a plain string literal (``"ffill"`` and ``'ffill'`` both match ``ffill``)."""
    table = value_map(items)
    for form in written(value):
        if form in table:
            return table[form]
    raise NoFix(f"the rewrite has no mapping for `{name}={text(value)}`")


def _fill_rest(
    rendered: str, values: dict[str, Node], positional: dict[str, bool], used: set[str]
) -> str:
    """Put the arguments no placeholder took where ``{rest}`` was, in the call's order: a
    positional one stays positional while no argument before it was taken, else it is passed
    by name. With nothing left, the ``, `` beside the placeholder goes too. Where each is
    written as the call wrote it (by position, or by name) and they stand together over more
    than one line, their text is kept as it is, line breaks and comments between them too."""
    parts: list[str] = []
    rest: list[Node] = []
    taken_before = False
    as_written = True
    for name, value in values.items():  # the call's order
        if name in used:
            taken_before = True
            continue
        if positional[name] and not taken_before:
            parts.append(text(value))
        else:
            parts.append(f"{name}={text(value)}")
            as_written = as_written and not positional[name]
        rest.append(value)
    kept = _written_together(rest) if as_written else None
    if kept is None:
        return fill_rest(rendered, "\0", parts)
    lead, span, trail = kept
    at = rendered.find("\0")
    lead = lead if rendered[:at].endswith(("(", "[")) else ""
    trail = trail if rendered[at + 1 :].startswith((")", "]")) else ""
    return fill_rest(rendered, "\0", [lead + span + trail])


def _written_together(values: list[Node]) -> tuple[str, str, str] | None:
    """The call's text from the first of these arguments to the last, where they follow each
    other in its argument list (only comments between them) over more than one line; with what
    opens their line (a line break and the indentation, where the first begins its line) and
    what follows the last up to the closing bracket (``,``, a comment, the line break and the
    bracket's indentation), where it is the call's last argument."""
    if not values:
        return None
    args = [v.parent if v.parent.type == "keyword_argument" else v for v in values]
    arguments = args[0].parent
    if arguments is None or arguments.type != "argument_list" or args[0].id == args[-1].id:
        return None
    listed = [a for a in arguments.named_children if a.type != "comment"]
    order = [a.id for a in listed]
    at = order.index(args[0].id)
    if order[at : at + len(args)] != [a.id for a in args]:
        return None
    whole = (arguments.text or b"").decode("utf-8", "replace")
    if len(whole.encode()) != arguments.end_byte - arguments.start_byte:
        return None  # offsets are of bytes: only where the text decodes as it is

    def cut(start: int, end: int) -> str:
        return whole[start - arguments.start_byte : end - arguments.start_byte]

    span = cut(args[0].start_byte, args[-1].end_byte)
    if "\n" not in span:
        return None
    opening = cut(arguments.start_byte, args[0].start_byte)
    line = opening[opening.rfind("\n") + 1 :]
    lead = "\n" + line if "\n" in opening and not line.strip() else ""
    closing = cut(args[-1].end_byte, arguments.end_byte - 1)
    trail = closing if args[-1].id == order[-1] and "\n" in closing else ""
    return lead, span, trail
