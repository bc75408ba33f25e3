"""Find references to outdated library APIs in Python source.

The detector resolves what each name in a file refers to (``import x as y``, ``from x import
y as z``, function-level imports, star imports, attribute chains, objects whose class is evident
from a constructor or reader call) and matches the resolved symbols against the knowledge-base
records that apply to the library versions in use.

It works on tree-sitter's concrete syntax tree, so broken code is still scanned. Strings and
comments are never names; a name rebound in a function (a parameter, an assignment) is not the
import; code under ``try/except ImportError`` (or AttributeError), under a version check or a
``hasattr`` test is compatibility code and is not flagged.

Most files hold no outdated call: the byte prefilter (:mod:`recode.server.prefilter`) rejects a
file in which no finding is possible before any parse, and a parsed file only visits the uses of
its imported names that are followed by an attribute leading to a tracked path. A file given
without a tree is parsed only in part (:mod:`recode.server.sparse`): the statements holding its
imports, then those holding the uses it resolves.
"""

from __future__ import annotations

import ast
import bisect
import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import NamedTuple

from packaging.version import Version
from tree_sitter import Node, Tree

from recode.dataset.knowledge import (
    IMPORT_NAMES,
    PLACEHOLDER,
    ApiChange,
    Fix,
    FixKind,
    KnowledgeBase,
    KnownTypes,
    SubscriptKey,
    Target,
    TupleFactory,
    canonical_name,
    fill_rest,
)
from recode.server import fixes, sparse
from recode.server.guards import Library, guard
from recode.server.index import TrackedIndex
from recode.server.parsing import TARGET_GROUPS, captures, parse, text
from recode.server.prefilter import Prefilter
from recode.server.severity import LibraryVersion, message_for, severity_for

_IMPORTS = "[(import_statement) (import_from_statement)] @imp"


class _Uncovered(Exception):
    """A partial parse lacks what the analysis needs: the statements at ``positions``, and the
    whole top-level statements at ``whole``."""

    def __init__(self, positions: Iterable[int] = (), whole: Iterable[int] = ()) -> None:
        super().__init__()
        self.positions = list(positions)
        self.whole = list(whole)


_SCOPES = {"function_definition", "lambda"}
#: Decorators under which a method's first parameter is no instance.
_NOT_INSTANCE = {"staticmethod", "classmethod"}
_IMPORT_KEYWORD = re.compile(rb"import")
_ATTRIBUTE = rb"[A-Za-z_][A-Za-z0-9_]*"
# What may stand between the parts of a dotted chain besides spaces and tabs: line breaks
# (inside brackets), backslash continuations and comments. Possessive: no backtracking.
_GAP = rb"(?:[ \t\f\r\n]|\\(?:\r\n?|\n)|#[^\r\n]*+)*+"
# The attribute after a use of a name, if any: in group 1 where the dot and the attribute are on
# the name's line, in group 2 where a line break, a backslash continuation or a comment comes
# between (``(np\n .product(x))``, the pandas method chain). Which attributes lead on is
# checked by the caller: a pattern naming them would be one per (name, attribute set).
_AFTER_REFERENCE = re.compile(
    rb"(?:[ \t]*\.[ \t]*("
    + _ATTRIBUTE
    + rb")|"
    + _GAP
    + rb"\."
    + _GAP
    + rb"("
    + _ATTRIBUTE
    + rb"))?"
)


@dataclass(frozen=True)
class Position:
    line: int  # 0-based
    character: int  # 0-based, in code points


@dataclass
class Finding:
    record: ApiChange
    severity: str
    message: str
    start_byte: int
    end_byte: int
    start: Position
    end: Position
    confidence: str = "high"  # "low": a method matched by its name alone
    edits: tuple[fixes.Edit, ...] | None = None  # None: no exact mechanical fix
    fix_unavailable: str | None = None  # why the record's fix cannot be made here
    cell: int | None = None  # in a notebook: the cell (1-based); start and end are inside it
    #: the fix for this site: the record's, or its ``through_class`` fix where the method is
    #: reached through its class (``np.ndarray.ptp``); the record's until the fix is looked for
    fix: Fix | None = None
    #: where a finding the source alone does not show came from (:class:`Evidence`'s origin)
    origin: str | None = None

    def __post_init__(self) -> None:
        if self.fix is None:
            self.fix = self.record.fix

    @property
    def fixable(self) -> bool:
        return self.edits is not None

    def applies(self, unsafe: bool) -> bool:
        """Whether the fix is made: it exists, and is safe or unsafe fixes are asked for."""
        return self.edits is not None and (unsafe or self.fix is None or self.fix.safe)

    @property
    def library(self) -> str:
        return self.record.library

    @property
    def symbol(self) -> str:
        return self.record.symbol


class Proven(enum.Enum):
    """What a test run proved of a site, and so which node of its line is the finding."""

    #: ``obj.name`` read on an object of the record's class: the one attribute with that name
    ATTRIBUTE = "attribute"
    #: ``obj[key]`` read on an object of the record's class: the line's one subscript, its key
    #: a name or an integer literal (``s[i]``: the key the error gave)
    SUBSCRIPT = "subscript"
    #: ``float(v)``, ``int(v)``, ``complex(v)`` of an array ``v``: the line's one call
    CONVERSION = "conversion"
    #: ``a[k] = v``, an array ``v`` stored into one element: the line's one subscript assignment
    ELEMENT = "element"
    #: ``class Name``, the class an error names whose object lacked what the record's fix (a
    #: ``base`` fix) gives it: the class statement's name
    CLASS = "class"
    #: the import statement starting on the line binds ``name``, from a module of the project
    #: (``from ..utils._param_validation import validate_params``), to the record's callable:
    #: the project module re-exports the library's (the run called it and the library raised)
    IMPORT = "import"


@dataclass(frozen=True)
class Evidence:
    """A site whose object's class the source does not show but a test run proved: the
    failing frame's ``line`` (1-based) of a file, as the traceback showed it (``text``), looked
    up the member ``name`` of an object of ``record``'s class (``proven`` says how: an
    attribute, a subscript, a conversion), or, ``proven`` CLASS, defines the class ``name``
    whose object the record's error names, or, ``proven`` IMPORT, is an import whose bound name
    every use resolves as the record's callable, as an import of the library's would be.
    :meth:`Detector.detect` makes that one site a finding of ``record``, as if the class were
    evident (:func:`evidence_site` says where, or why not); ``origin`` says where the evidence
    came from, for the report."""

    line: int
    name: str
    record: ApiChange
    text: str
    origin: str
    proven: Proven = Proven.ATTRIBUTE


def evidence_site(source: bytes, root: Node, evidence: Evidence) -> Node | str:
    """The node of ``evidence`` in the tree: the one attribute on its line whose member is
    ``evidence.name``, the one subscript, the one conversion's or element store's value, the
    name of the class statement on the line that defines the class ``evidence.name`` (as
    ``evidence.proven`` says); else why there is none (the line changed since the test run, no
    such node is there, or more than one is: which one raised is not known)."""
    lines = source.splitlines()
    row = evidence.line - 1
    if not 0 <= row < len(lines) or lines[row].decode("utf-8", "replace").strip() != (
        evidence.text.strip()
    ):
        return "the line is not the one the test run showed (it changed since)"
    start = sum(len(line) for line in source.splitlines(keepends=True)[:row])
    if evidence.proven is Proven.CLASS:
        indent = len(lines[row]) - len(lines[row].lstrip())
        return _class_site(root, start + indent, evidence.name)
    if evidence.proven is Proven.ATTRIBUTE:
        return _attribute_site(root, lines[row], start, evidence.name)
    on_line = list(_nodes_on(root, start, start + len(lines[row])))
    if evidence.proven is Proven.SUBSCRIPT:
        subs = [n for n in on_line if n.type == "subscript"]
        if len(subs) != 1:
            return f"{len(subs)} subscripts on the line (which one raised?)"
        keys = [k for k in subs[0].children_by_field_name("subscript") if k.type != "comment"]
        if _subscript_method(subs[0]) != "__getitem__":
            return "the subscript is not read there"
        if len(keys) != 1 or not (keys[0].type == "identifier" or _int_literal(keys[0])):
            return "the subscript's key is not a name or an integer"
        return subs[0]
    calls = [n for n in on_line if n.type == "call"]
    if evidence.proven is Proven.CONVERSION:
        if len(calls) != 1 or text(calls[0].child_by_field_name("function")) not in (
            "float",
            "int",
            "complex",
        ):
            return "the line's one call is not float(), int() or complex() (which one raised?)"
        args = [a for a in calls[0].child_by_field_name("arguments").named_children]
        if len(args) != 1 or args[0].type in ("keyword_argument", "list_splat", "comment"):
            return "the conversion does not take one value"
        return args[0]
    stores = [
        n
        for n in on_line
        if n.type == "subscript"
        and n.parent is not None
        and n.parent.type == "assignment"
        and n.parent.child_by_field_name("left") == n
    ]
    if len(stores) != 1:
        return f"{len(stores)} element assignments on the line (which one raised?)"
    value = stores[0].parent.child_by_field_name("right")
    if value is None or value.type in ("assignment", "expression_list", "pattern_list"):
        return "the element assignment does not store one value"
    return value


def _attribute_site(root: Node, line: bytes, start: int, name: str) -> Node | str:
    """The one attribute ``.name`` on the line at byte ``start``, else why not."""
    found = []
    word = re.compile(rb"(?<![\w\x80-\xff])" + re.escape(name.encode()) + rb"\b")
    for m in word.finditer(line):
        node = root.descendant_for_byte_range(start + m.start(), start + m.end())
        attr = node.parent if node is not None and node.type == "identifier" else None
        if attr is not None and attr.type == "attribute":
            if attr.child_by_field_name("attribute") == node:
                found.append(attr)
    if not found:
        return f"no attribute .{name} on the line"
    if len(found) > 1:
        return f"{len(found)} attributes .{name} on the line (which one raised?)"
    return found[0]


def _nodes_on(root: Node, start: int, end: int) -> Iterable[Node]:
    """The named nodes that begin between bytes ``start`` and ``end`` (a line), outermost
    first."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_byte <= start or node.start_byte >= end:
            continue
        if node.is_named and node.start_byte >= start:
            yield node
        stack.extend(reversed(node.children))


def _class_site(root: Node, at: int, name: str) -> Node | str:
    """The name of the class statement ``class name`` whose keyword is at byte ``at``."""
    keyword = root.descendant_for_byte_range(at, at + len("class"))
    cls = keyword.parent if keyword is not None and keyword.type == "class" else None
    found = None
    if cls is not None and cls.type == "class_definition":
        found = cls.child_by_field_name("name")
    if found is None or text(found) != name:
        return f"no class {name} is defined on the line"
    return found


@dataclass
class Binding:
    """A local name bound to a qualified path."""

    name: str
    target: str
    scope: tuple[int, int]  # byte range where the binding holds
    kind: str  # "import" (import x / import x as y), "from" (from m import x), "typed"
    name_node: Node | None = None  # for "from": the imported name's node
    stmt: Node | None = None
    alias: str | None = None
    references: list[Node] = field(default_factory=list)


@dataclass
class Analysis:
    """Everything the fixer needs to know about one parsed file."""

    source: bytes
    tree: Tree
    bindings: list[Binding]
    #: the ``rename`` fix of each path active here; for a from-import's module, a module whose
    #: names (``fix.names``, else all) live on in another (``scipy.ndimage.filters``)
    module_renames: Mapping[str, Fix] = field(default_factory=dict)

    @cached_property
    def facts(self) -> fixes.FileFacts:
        """What the fixer reads of the whole file, read once for all its findings."""
        return fixes.FileFacts(self)

    def module_binders(self, name: str) -> tuple[str, ...]:
        """The text of each module-level statement that binds ``name`` in the module's scope,
        in order: what decides which binding reaches a use (:meth:`_Run._reached_by_own`),
        comparable across edits (the language server's fast path keeps its findings only
        where these stay the same)."""
        found: list[str] = []
        key = name.encode()
        for m in re.finditer(
            rb"(?<![\w.\x80-\xff])" + re.escape(key) + rb"(?![\w\x80-\xff])", self.source
        ):
            node = self.tree.root_node.descendant_for_byte_range(m.start(), m.end())
            if (
                node is None
                or node.type != "identifier"
                or node.text != key
                or not _binds(node)
                or _binding_scope(node) is not None
                or _in_own_scope(node, None)
            ):
                continue
            while node.parent is not None and node.parent.parent is not None:
                node = node.parent
            if not found or found[-1] != text(node):
                found.append(text(node))
        return tuple(found)

    def module_alias(self, module: str) -> str | None:
        """A module-level name the file already uses for ``module`` (``np`` for numpy)."""
        for b in self.bindings:
            if b.kind == "import" and b.target == module and b.scope[0] == 0:
                return b.name
        return None


class Detector:
    """Detects outdated API use for one environment (library -> version in use)."""

    #: Smaller files are parsed whole: the outline of a file costs about half its parse.
    sparse_min_bytes = 4096

    def __init__(
        self,
        kb: KnowledgeBase,
        versions: Mapping[str, LibraryVersion],
        *,
        min_severity: str = "hint",
        name_only_methods: bool = False,
    ) -> None:
        from recode.server.severity import severity_rank

        self.versions = dict(versions)
        self.name_only_methods = name_only_methods
        self.active: dict[str, list[tuple[ApiChange, str]]] = {}
        self.params: dict[str, dict[str, list[tuple[ApiChange, str]]]] = {}
        limit = severity_rank(min_severity)
        for record in kb.records:
            have = self.versions.get(record.library)
            if have is None:
                continue
            sev = severity_for(record, have.version)
            if sev is None or severity_rank(sev) > limit:
                continue
            parameter = record.parameter  # (``path`` and ``parameter`` each match a pattern)
            if parameter:
                self.params.setdefault(record.path, {}).setdefault(parameter, []).append(
                    (record, sev)
                )
            else:
                self.active.setdefault(record.path, []).append((record, sev))
        self.module_renames: dict[str, Fix] = {
            path: record.fix
            for path, entries in self.active.items()
            for record, _ in entries
            if record.fix is not None and record.fix.kind is FixKind.RENAME and record.fix.to
        }
        self.classes: set[str] = set(kb.types.classes)
        self.factories: dict[str, str] = dict(kb.types.factories)
        self.attributes: dict[str, str] = dict(kb.types.attributes)
        self.tuple_factories: dict[str, TupleFactory] = dict(kb.types.tuple_factories)
        self._inherit(kb.types)
        for path in list(self.active) + list(self.params):
            parent, _, _ = path.rpartition(".")
            if parent and parent.rpartition(".")[2][:1].isupper():
                self.classes.add(parent)
        roots = {path.split(".")[0] for path in list(self.active) + list(self.params)}
        self.roots = roots
        self._root_name = re.compile(
            b"|".join(re.escape(r.encode()) for r in sorted(roots, key=len, reverse=True))
            or rb"(?!)"
        )
        self.root_library = {root: lib for lib, names in IMPORT_NAMES.items() for root in names}
        for r in kb.records:
            root = r.path.partition(".")[0]
            if root in roots:
                self.root_library[root] = r.library
        # one index of what is tracked, which the prefilter reads too
        self.index = TrackedIndex(
            self.active,
            self.params,
            self.classes,
            self.factories,
            self.attributes,
            self.tuple_factories,
        )
        self._methods_by_name = self.index.methods_by_name
        # What can lead to a finding: the dotted prefixes of every tracked path.
        self._ends = self.index.tracked
        self._prefixes = self.index.prefixes
        self._next: dict[str, set[str]] = {}
        self._next_of_set: dict[frozenset[str], frozenset[bytes]] = {}
        self._binding_patterns: dict[bytes, _BindingPatterns] = {}
        self._reference_patterns: dict[bytes, re.Pattern[bytes]] = {}
        self.prefilter = Prefilter(self.index, name_only_methods)

    def _inherit(self, types: KnownTypes) -> None:
        """What an object of a subclass inherits (``types.json``'s ``bases``): a record on a
        base class's method, keyword or attribute applies to a subclass's object where the
        subclass has no record of its own on that method (keyword) and does not override it
        (``overrides``), as attribute lookup goes (``pandas.Index.get_loc(method)`` on a
        DatetimeIndex, not ``numpy.ndarray.ptp`` on a matrix), and so do factories and typed
        attributes. The tables get an entry per subclass, so that the prefilter, which reads
        them, keeps every file this can flag."""
        self.classes |= set(types.bases) | {b for listed in types.bases.values() for b in listed}
        self.active = types.inherited(self.active)
        # one entry per keyword (``path(keyword)``: no keyword holds a dot), each inherited apart
        flat = types.inherited(
            {
                f"{path}({kw})": entries
                for path, by in self.params.items()
                for kw, entries in by.items()
            }
        )
        self.params = {}
        for key, entries in flat.items():
            path, _, kw = key[:-1].partition("(")
            self.params.setdefault(path, {})[kw] = entries
        self.factories = types.inherited(self.factories)
        self.attributes = types.inherited(self.attributes)

    def reference_pattern(self, name: bytes) -> re.Pattern[bytes]:
        """Uses of an imported name: the name as a literal, so that ``re`` scans for it fast,
        ending at a word boundary; the byte before it is checked by the caller, the attribute
        after it read by ``_AFTER_REFERENCE``. (One pattern holding both cost 0.57 ms to compile
        per name, this one 0.03 ms: compiling was a seventh of the detector's time on the
        bench corpus, whose files import some 900 distinct names.)"""
        pattern = self._reference_patterns.get(name)
        if pattern is None:
            if len(self._reference_patterns) > 4096:
                self._reference_patterns.clear()  # a long-lived server sees many files
            pattern = self._reference_patterns[name] = re.compile(re.escape(name) + rb"\b")
        return pattern

    def binding_patterns(self, name: bytes) -> _BindingPatterns:
        """Where ``name`` may be bound (:meth:`_Run._rebinds`): the name as a whole word, not
        followed by an attribute, a subscript or a call (a use); for text that holds ``def`` or
        ``class``, also where a call follows (``def np(``), and for text that holds ``import``,
        where an attribute or a call follows (``import np.linalg``), with the ``(`` or ``.`` in
        group 1. The byte before is checked by the caller."""
        patterns = self._binding_patterns.get(name)
        if patterns is None:
            if len(self._binding_patterns) > 4096:
                self._binding_patterns.clear()
            word = re.escape(name) + rb"(?![\w\x80-\xff])"
            patterns = self._binding_patterns[name] = _BindingPatterns(
                re.compile(word + rb"(?![ \t]*[.\[(])"),
                re.compile(word + rb"(?![ \t]*[.\[])(?:[ \t]*(\())?"),
                re.compile(word + rb"(?![ \t]*\[)(?:[ \t]*([.(]))?"),
            )
        return patterns

    def next_names(self, target: str) -> set[str]:
        """The names that can follow ``target.`` on the way to a tracked path."""
        names = self._next.get(target)
        if names is None:
            prefix = target + "."
            names = self._next[target] = {
                p[len(prefix) :].split(".")[0] for p in self._prefixes if p.startswith(prefix)
            }
        return names

    def text_uses(
        self, source: bytes, kinds: Mapping[str, set[tuple[str, str]]], text: _Text | None
    ) -> list[tuple[int, bytes]]:
        """The uses of the names in ``kinds`` (name -> its (target, kind) pairs) that can lead
        to a finding, as (byte offset, name), in document order, decided from the text: most
        uses of a module lead nowhere (``np.zeros``). With ``text``, also skip those whose
        dotted chain spells nothing tracked (:meth:`_Text.leads`)."""
        uses: list[tuple[int, bytes]] = []
        for name, pairs in kinds.items():
            key = name.encode()
            if not key:  # a name tree-sitter made up in broken code (``= pd.DataFrame()``)
                continue
            # a removed module bound by an import: every use
            every = any(k != "typed" and t in self.active for t, k in pairs)
            # a use not followed by an attribute
            free = every or any(self.leads_somewhere(t, None, k) for t, k in pairs)
            targets = frozenset(t for t, _ in pairs)
            leads = self._next_bytes(targets)
            if not free and not leads:
                continue
            pattern = self.reference_pattern(key)
            at = 0
            while (m := pattern.search(source, at)) is not None:
                start = m.start()
                m = _AFTER_REFERENCE.match(source, m.end())
                at = m.end()  # what the attribute's gap holds is not searched (a comment)
                if start and _WORD_OR_DOT[source[start - 1]]:
                    continue  # the end of a longer name, or an attribute
                if not every:
                    group = m.lastindex  # 2: across a line break (see _AFTER_REFERENCE)
                    if group is None or group == 2 and free:
                        # bare; or across a line break, where the text alone cannot tell one
                        # chain from two statements (outside brackets): bare too, perhaps
                        if not free:
                            continue
                    else:
                        attr = m.group(group)
                        if attr not in leads:
                            continue  # with this attribute it leads nowhere
                        if text is not None and not text.leads(targets, attr, m.end(group)):
                            continue  # the chain after it spells nothing that can be found
                uses.append((start, key))
        uses.sort()
        return uses

    def _next_bytes(self, targets: frozenset[str]) -> frozenset[bytes]:
        """:meth:`next_names` of any of ``targets``, encoded; once per set of targets."""
        found = self._next_of_set.get(targets)
        if found is None:
            found = self._next_of_set[targets] = frozenset(
                a.encode() for t in targets for a in self.next_names(t)
            )
        return found

    def leads_somewhere(self, target: str, attribute: str | None, kind: str) -> bool:
        """Whether a name bound to ``target``, followed by ``.attribute``, can be a finding."""
        if kind != "typed" and target in self.active:
            return True  # the name itself (a removed module bound by an import)
        if attribute is not None:
            return f"{target}.{attribute}" in self._prefixes
        if kind == "typed":
            return target in self.index.subscripted  # ``s[0]``
        return target in self._ends

    # -- public API -------------------------------------------------------------------------

    def detect(
        self,
        source: bytes,
        tree: Tree | None = None,
        *,
        prefilter: bool = True,
        evidence: Iterable[Evidence] = (),
    ) -> list[Finding]:
        """Findings in document order. Without ``tree`` (and with the prefilter), only the
        statements the analysis needs are parsed (:mod:`recode.server.sparse`) and uses whose
        text leads nowhere are not looked up; the findings are the same. ``evidence``: sites
        a test run proved to be a record's, found too (the whole file is then parsed)."""
        evidence = tuple(evidence)
        if evidence:
            return _Run(self, source, tree or parse(source), evidence=evidence).findings()
        if prefilter and tree is None:
            return self.detect_kept(source) if self.prefilter(source) else []
        findings, _ = self.analyse(source, tree, prefilter=prefilter)
        return findings

    def detect_kept(self, source: bytes) -> list[Finding]:
        """:meth:`detect` of a file the prefilter kept: a partial parse where it will do."""
        found = self._detect_sparse(source)
        if found is not None:
            return found
        return _Run(self, source, parse(source)).findings()

    def analyse(
        self, source: bytes, tree: Tree | None = None, *, prefilter: bool = True
    ) -> tuple[list[Finding], Analysis | None]:
        """Findings in document order, and the analysis the fixer uses (None if skipped).

        The analysis reads the whole tree and looks up every use of an imported name (its
        bindings are complete: the language server compares a statement's module-level
        bindings across edits, objects of evident class included). ``prefilter=False`` parses
        and analyses even a file the byte prefilter (:mod:`recode.server.prefilter`) shows
        cannot hold a finding: with it, :meth:`detect` takes no shortcut at all, and tests
        check the shortcuts against that.
        """
        if prefilter and not self.prefilter(source):
            return [], None
        if tree is None:
            tree = parse(source)
        run = _Run(self, source, tree, shortcuts=False)
        return run.findings(), Analysis(source, tree, run.bindings)

    def _detect_sparse(self, source: bytes) -> list[Finding] | None:
        """Findings from a parse of only the statements the analysis reads, or None where the
        whole file is to be parsed (it is small, its outline is unsure, the part parsed has
        syntax errors, or the uses to resolve keep spreading)."""
        if len(source) < self.sparse_min_bytes or self.name_only_methods:
            return None
        outline = sparse.outline(source)
        if outline is None:
            return None
        top, nested = self._import_keywords(source, outline)
        # Guess the uses to resolve from the imports as the text spells them, so that one
        # partial parse will mostly do; where the guess falls short, another round adds more.
        text = _Text(self.prefilter, source)
        bound = text.import_bindings()
        positions = [start for start, _ in self.text_uses(source, bound, text)]
        positions += nested
        whole: list[int] = []
        for _ in range(4):
            ranges = outline.ranges(positions, whole, top)
            if outline.covers(ranges):
                return None
            tree = sparse.parse_ranges(source, ranges)
            if tree.root_node.has_error:
                return None
            try:
                partial = (outline, ranges, sorted(top + nested))
                return _Run(self, source, tree, partial, text=text).findings()
            except _Uncovered as more:
                positions.extend(more.positions)
                whole.extend(more.whole)
        return None

    def _import_keywords(
        self, source: bytes, outline: sparse.Outline
    ) -> tuple[list[int], list[int]]:
        """The import keywords a partial parse must hold: those of top-level statements (the
        fixer reads them all, and where the next import goes), and those of nested ones whose
        logical line names a tracked library (only those can bind a name the detector follows
        or be an outdated import)."""
        top: list[int] = []
        nested: list[int] = []
        for at in outline.keywords(b"import"):
            start, end = outline.logical_line(at)
            unit = outline.unit_at(at)
            if unit is not None and unit.start < start and not sparse.defines(source, unit):
                # an indented line of a top-level statement other than a class or function
                # (``from m\n import x``, broken code tree-sitter joins into one import; or a
                # block's body): its unit, not its line, is what gets parsed
                start = unit.start
            if source[start] not in b" \t":
                top.append(at)
            elif self._root_name.search(source, start, end):
                nested.append(at)
        return top, nested

    def applies_to(self, library: str) -> bool:
        return library in self.versions


class _Text:
    """A file's text as the prefilter reads it (made when first needed), to tell from the
    text whether a use can lead to a finding."""

    def __init__(self, prefilter: Prefilter, source: bytes) -> None:
        self._prefilter = prefilter
        self._source = source
        self._spaced: bytes | None = None
        self._makers_matter: bool | None = None
        self._leads: dict[tuple[int, frozenset[str]], bool] = {}

    @property
    def spaced(self) -> bytes:
        if self._spaced is None:
            self._spaced = self._prefilter.spaced(self._source)
        return self._spaced

    def makers_matter(self) -> bool:
        """Whether an object of evident class can lead anywhere here (found out the first time
        a use spells a maker)."""
        if self._makers_matter is None:
            self._makers_matter = self._prefilter.makers_matter(self.spaced)
        return self._makers_matter

    def leads(self, targets: frozenset[str], attr: bytes, end: int) -> bool:
        """:meth:`recode.server.prefilter.Prefilter.chain_leads` for ``NAME.attr`` ending at
        byte ``end``, NAME bound to one of ``targets``."""
        key = (end, targets)
        found = self._leads.get(key)
        if found is None:  # the guess of the uses and the analysis ask the same
            found = self._leads[key] = self._prefilter.chain_leads(
                self.spaced, targets, attr.decode(), end, self.makers_matter
            )
        return found

    def import_bindings(self) -> dict[str, set[tuple[str, str]]]:
        """What the file's imports bind, read from the text as the prefilter reads them (name
        -> its (target, kind) pairs)."""
        kinds: dict[str, set[tuple[str, str]]] = {}
        for name, target in self._prefilter.import_bindings(self.spaced, self._source):
            kinds.setdefault(name, set()).add((target, "import"))
        return kinds


class _BindingPatterns(NamedTuple):
    """See :meth:`Detector.binding_patterns`."""

    plain: re.Pattern[bytes]
    definitions: re.Pattern[bytes]
    imports: re.Pattern[bytes]


class _Run:
    """One detection pass over one file."""

    def __init__(
        self,
        detector: Detector,
        source: bytes,
        tree: Tree,
        partial: tuple[sparse.Outline, list[tuple[int, int]], list[int]] | None = None,
        *,
        shortcuts: bool = True,
        text: _Text | None = None,
        evidence: tuple[Evidence, ...] = (),
    ) -> None:
        self.d = detector
        self._evidence = evidence
        self.source = source
        self.tree = tree
        # for a tree of part of the file: its outline and the byte ranges parsed (sorted)
        # and the import keywords it must read
        self._outline, self._parsed, self._import_at = partial or (None, None, [])
        self._parsed_starts = [r[0] for r in self._parsed] if self._parsed is not None else []
        self._shortcuts = shortcuts  # skip uses whose text leads nowhere
        self._text = text or _Text(detector.prefilter, source)
        self.root = tree.root_node
        self.bindings: list[Binding] = []
        self._found: dict[tuple[int, int, str], Finding] = {}
        self._rebinds_cache: dict[tuple[int, bytes], bool] = {}
        self._own_cache: dict[tuple[int, bytes], list[Node]] = {}  # see _own_bindings
        # (record id, value) -> the message of its findings: the same for each (see _add)
        self._messages: dict[tuple[str, str | None], str] = {}
        # places a name may be bound that a partial tree lacks (see _rebinds)
        self._unparsed: list[int] = []
        self._module = (0, len(source) + 1)  # the scope of module-level bindings
        self._fix_context: dict[int, fixes.FixSite] = {}
        # (start, end) of each call whose result's class is evident -> that class
        self._made: dict[tuple[int, int], str] = {}
        self._libs: dict[tuple[str, str | None], Library] = {}

    # -- bindings ---------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        for stmt in self._imports():
            self._bind_import(stmt)
        self._drop_ambiguous_fallbacks()
        if self.bindings:
            self._resolve_names([b for b in self.bindings])
        # Objects of evident class (df = pd.read_csv(...)), then objects made from those
        # (g = df.groupby(...)): a few rounds, each resolving the names the last one bound.
        done: set[int] = set()
        for _ in range(4):
            typed = [b for b in self.bindings if b.kind == "typed" and id(b) not in done]
            if not typed:
                break
            done.update(id(b) for b in typed)
            self._resolve_names(typed)
        if self.d.name_only_methods and self.bindings:
            self._name_only_methods()
        for evidence in self._evidence:
            if evidence.proven is not Proven.IMPORT:  # an import's binds as it is read
                self._proven(evidence)
        analysis = Analysis(self.source, self.tree, self.bindings, self.d.module_renames)
        result = sorted(self._found.values(), key=lambda f: (f.start_byte, f.end_byte))
        self._alike(result)
        for f in result:
            if f.edits is None and f.confidence == "high":
                site = self._fix_context.get(id(f))
                f.fix = fixes.fix_for(f.record, site)
                f.edits, f.fix_unavailable = fixes.edits_for(f, analysis, site)
        fixes.drop_emptied_imports(result, analysis)
        return result

    def _alike(self, found: list[Finding]) -> None:
        """A parametrize value's fix at the calls of its parameter (:meth:`_parameter_calls`)
        is made only where every value of the parameter is a class flagged for the same
        keyword with a fix: their fixes are the site's ``alike``, each of which must write the
        same calls; else the calls are dropped from the site."""
        by_node: dict[tuple[int, int], list[Finding]] = {}
        for f in found:
            by_node.setdefault((f.start_byte, f.end_byte), []).append(f)
        for f in found:
            site = self._fix_context.get(id(f))
            if site is None or not site.through:
                continue
            alike: list[Fix] = []
            for peer in site.peers:
                same = [
                    g.record.fix
                    for g in by_node.get((peer.start_byte, peer.end_byte), [])
                    if g.record.unless_keyword == f.record.unless_keyword
                    and g.record.fix is not None
                    and self._fix_context.get(id(g)) is not None
                    and self._fix_context[id(g)].through == site.through
                ]
                if not same:
                    site.through = ()
                    break
                alike.append(same[0])
            site.alike = tuple(alike)

    def _imports(self) -> list[Node]:
        """The import statements, in document order.

        Found from the text: every import statement holds the keyword ``import`` as a token of
        its own, so the nodes at the keyword's occurrences are all of them (a tree query walks the
        whole tree, which costs more than the rest of the analysis of a typical file). A tree
        with syntax errors may hold a statement whose keyword tree-sitter made up, so there the
        query is used.
        """
        if self.root.has_error:
            return captures(_IMPORTS, self.root).get("imp", [])
        found: list[Node] = []
        if self._outline is not None:
            at = self._import_at
            missing = [start for start in at if not self._covered(start)]
            if missing:
                raise _Uncovered(missing)
        else:
            at = [m.start() for m in _IMPORT_KEYWORD.finditer(self.source)]
        for start in at:
            node = self.root.descendant_for_byte_range(start, start + 6)
            if node is None or node.type != "import" or node.start_byte != start:
                continue  # part of a name, a string, a comment
            stmt = node.parent
            if stmt is not None and stmt.type in ("import_statement", "import_from_statement"):
                found.append(stmt)
        return found

    def _lib(self, path: str, name: str | None = None) -> Library:
        """The library a dotted path belongs to, as written in this file (for guards)."""
        root = path.split(".")[0]
        key = (root, name)
        lib = self._libs.get(key)
        if lib is None:
            library = self.d.root_library.get(root, root)
            have = self.d.versions.get(library)
            names = {root} | {
                b.name
                for b in self.bindings
                if b.kind == "import" and b.target.split(".")[0] == root
            }
            if name:
                names.add(name)
            lib = Library.of(library, names, have.version if have else None)
            self._libs[key] = lib
        return lib

    def _covered(self, pos: int, end: int | None = None) -> bool:
        """Whether the tree covers byte ``pos`` (or all of ``[pos, end)``)."""
        if self._parsed is None:
            return True
        i = bisect.bisect_right(self._parsed_starts, pos) - 1
        return i >= 0 and (pos if end is None else end - 1) < self._parsed[i][1]

    def _scope_of(self, node: Node) -> tuple[int, int]:
        p = node.parent
        while p is not None:
            if p.type in _SCOPES:
                return (p.start_byte, p.end_byte)
            p = p.parent
        return self._module

    def _bind_import(self, stmt: Node) -> None:
        scope = self._scope_of(stmt)
        if stmt.type == "import_statement":
            first = stmt.child_by_field_name("name")
            if first is not None and first.type == "aliased_import":
                first = first.child_by_field_name("name")
            root = _dotted(first).split(".")[0]
        else:
            root = _dotted(stmt.child_by_field_name("module_name")).split(".")[0]
        guarded = guard(stmt, self._lib(root))
        if stmt.type == "import_statement":
            for item in stmt.children_by_field_name("name"):
                if item.type == "aliased_import":
                    dotted = item.child_by_field_name("name")
                    alias = text(item.child_by_field_name("alias"))
                    path = _dotted(dotted)
                    self._import_site(dotted, path, stmt, guarded)
                    if path.split(".")[0] in self.d.roots:
                        self.bindings.append(
                            Binding(alias, path, scope, "import", dotted, stmt, alias)
                        )
                else:
                    path = _dotted(item)
                    self._import_site(item, path, stmt, guarded)
                    top = path.split(".")[0]
                    if top in self.d.roots:
                        self.bindings.append(Binding(top, top, scope, "import", item, stmt))
            return
        module_node = stmt.child_by_field_name("module_name")
        module = _dotted(module_node)
        if module.startswith(".") or module.split(".")[0] not in self.d.roots:
            self._bind_proven_import(stmt, scope)
            return
        if any(c.type == "wildcard_import" for c in stmt.children):
            prefix = module + "."
            for path in list(self.d.active) + list(self.d.params):
                if path.startswith(prefix) and "." not in path[len(prefix) :]:
                    self.bindings.append(
                        Binding(path[len(prefix) :], path, scope, "star", None, stmt)
                    )
            return
        self._import_site(module_node, module, stmt, guarded)
        for item in stmt.children_by_field_name("name"):
            if item.type == "aliased_import":
                dotted = item.child_by_field_name("name")
                alias = text(item.child_by_field_name("alias"))
            else:
                dotted, alias = item, None
            path = f"{module}.{_dotted(dotted)}"
            self._import_site(dotted, path, stmt, guarded, exact=True)
            self.bindings.append(
                Binding(alias or text(dotted), path, scope, "from", dotted, stmt, alias)
            )

    def _bind_proven_import(self, stmt: Node, scope: tuple[int, int]) -> None:
        """``from ..utils._param_validation import validate_params``: a name a module of the
        project re-exports, bound to the library's callable where a test run proved it
        (:attr:`Proven.IMPORT`) and the statement is still the one the run showed."""
        line = stmt.start_point[0] + 1
        first = text(stmt).splitlines()[0].strip()
        proven = {
            e.name: e
            for e in self._evidence
            if e.proven is Proven.IMPORT and e.line == line and e.text.strip() == first
        }
        if not proven:
            return
        for item in stmt.children_by_field_name("name"):
            if item.type == "aliased_import":
                dotted = item.child_by_field_name("name")
                alias = text(item.child_by_field_name("alias"))
            else:
                dotted, alias = item, None
            evidence = proven.get(text(dotted))
            if evidence is not None:
                self.bindings.append(
                    Binding(
                        alias or text(dotted),
                        evidence.record.path,
                        scope,
                        "from",
                        dotted,
                        stmt,
                        alias,
                    )
                )

    def _drop_ambiguous_fallbacks(self) -> None:
        """``try: from m import new / except ImportError: from m import old as new``.

        A name imported both in a try body and in an import-error handler is compatibility
        code: whichever import succeeds is right, so neither binding is used to resolve names.
        """
        by_name: dict[tuple[str, tuple[int, int]], list[Binding]] = {}
        for b in self.bindings:
            if b.stmt is not None and guard(b.stmt, self._lib(b.target)):
                by_name.setdefault((b.name, b.scope), []).append(b)
        for group in by_name.values():
            tries = {
                guard(b.stmt, self._lib(b.target)).id for b in group
            }  # Node.id: wrappers are transient
            if len(group) > 1 and len(tries) < len(group):
                for b in group:
                    self.bindings.remove(b)

    # -- resolution -------------------------------------------------------------------------

    def _resolve_names(self, bindings: list[Binding]) -> None:
        # name -> scope -> its bindings in source order; name -> the distinct (target, kind)
        scoped: dict[str, dict[tuple[int, int], list[Binding]]] = {}
        kinds: dict[str, set[tuple[str, str]]] = {}
        for b in sorted(bindings, key=lambda b: b.stmt.start_byte if b.stmt else 0):
            scoped.setdefault(b.name, {}).setdefault(b.scope, []).append(b)
            kinds.setdefault(b.name, set()).add((b.target, b.kind))
        uses = self.d.text_uses(self.source, kinds, self._text if self._shortcuts else None)
        missing = [start for start, _ in uses if not self._covered(start)]
        if missing:
            raise _Uncovered(missing)
        for start, key in uses:
            name = key.decode()
            end = start + len(key)
            node = self.root.descendant_for_byte_range(start, end)
            if (
                node is None
                or node.type != "identifier"
                or node.start_byte != start
                or node.end_byte != end
            ):
                continue
            if not _is_load(node):
                continue
            binding = self._binding_for(node, scoped[name])
            if binding is None:
                continue
            binding.references.append(node)
            if guard(node, self._lib(binding.target, binding.name)):
                continue
            self._follow(node, binding)
        if self._unparsed:
            raise _Uncovered(self._unparsed)

    def _binding_for(
        self, node: Node, by_scope: dict[tuple[int, int], list[Binding]]
    ) -> Binding | None:
        """The binding a name refers to: its innermost scope's, unless a function between
        rebinds it (:meth:`_rebinds`); for objects of evident class, the last assignment before
        the use. Where no enclosing scope binds the name, nothing is asked of the functions
        between (a name of evident class in one function, used in another, is most uses)."""
        inner: list[Node] = []  # the functions between the use and the scope of its binding
        scope = node.parent
        while True:
            while scope is not None and scope.type not in _SCOPES:
                scope = scope.parent
            key = (scope.start_byte, scope.end_byte) if scope is not None else self._module
            found = by_scope.get(key)
            if found:
                for func in inner:
                    if self._rebinds(func, node.text):
                        return None
                pos = node.start_byte
                before = [b for b in found if b.kind != "typed" or b.name_node.start_byte < pos]
                if not before:
                    return None
                binding = before[-1]
                if binding.kind != "typed" and self._reached_by_own(node, binding, scope, inner):
                    return None
                return binding
            if scope is None:
                return None
            inner.append(scope)
            scope = scope.parent

    def _reached_by_own(
        self, node: Node, binding: Binding, scope: Node | None, inner: list[Node]
    ) -> bool:
        """Whether a binding of the project's (``class X``, ``def X``, an assignment, a ``for``
        or ``with`` target, an import of another module, ``del``) made after the library's
        import in the same scope may reach the use ``node``: then the use may be of the
        project's object, and neither a finding nor an edit is the library's. It reaches a use
        directly in the scope that it precedes, unless it is in another branch of an ``if`` or
        ``match`` than the use; a use in a nested function, run later, it reaches wherever it
        is. In a branch of its own it may or may not reach the use, and the use counts as
        compatibility code, as :meth:`_drop_ambiguous_fallbacks` counts two imports (the rule
        a reader takes: ``else: class X`` is the project's stand-in for the library's ``X``);
        except ``X = None`` there, which leaves the library's object the only one a use can
        mean (``except ImportError: np = None``)."""
        pos = node.start_byte
        for site in self._own_bindings(binding, scope):
            if not inner and site.start_byte >= pos:
                break
            common = site.parent
            while common is not None and not (common.start_byte <= pos < common.end_byte):
                common = common.parent
            if common is not None and common.type == "block" and common.parent is not None:
                common = common.parent if common.parent.type in _EXCLUSIVE else common
            if not inner and common is not None and common.type in _EXCLUSIVE:
                continue  # one branch binds, another uses
            branch = site.parent
            while branch is not None and branch != common and branch.type not in _CONDITIONAL:
                branch = branch.parent
            if branch is None or branch == common or not _binds_none(site):
                return True
        return False

    def _own_bindings(self, binding: Binding, scope: Node | None) -> list[Node]:
        """The identifiers after ``binding``'s statement that bind its name in its scope
        (``scope``, None for the module) other than the library's imports, in source order.
        A class body's, a comprehension's and a nested function's are their own scopes'."""
        assert binding.stmt is not None
        key = (binding.stmt.id, binding.name.encode())
        sites = self._own_cache.get(key)
        if sites is not None:
            return sites
        sites = []
        name = key[1]
        size = len(name)
        source = self.source
        end = len(source) if scope is None else scope.end_byte
        if scope is not None and self._outline is not None:
            end = self._outline.function_end(scope.start_byte) or end
        pattern = self.d.binding_patterns(name).imports
        for site in self._binding_sites(pattern, binding.stmt.end_byte, end, size):
            if _binding_scope(site) != scope or _in_own_scope(site, scope):
                continue
            stmt = site.parent
            while stmt is not None and stmt.type not in (
                "import_statement",
                "import_from_statement",
            ):
                stmt = stmt.parent if stmt.type in _IMPORT_PARTS else None
            if stmt is not None and self._library_import(stmt):
                continue
            sites.append(site)
        self._own_cache[key] = sites
        return sites

    def _library_import(self, stmt: Node) -> bool:
        """Whether an import statement imports from one of the tracked libraries."""
        if stmt.type == "import_from_statement":
            module = _dotted(stmt.child_by_field_name("module_name"))
            return not module.startswith(".") and module.split(".")[0] in self.d.roots
        first = stmt.child_by_field_name("name")
        if first is not None and first.type == "aliased_import":
            first = first.child_by_field_name("name")
        return _dotted(first).split(".")[0] in self.d.roots

    def _rebinds(self, func: Node, name: bytes) -> bool:
        """Whether a function binds ``name`` itself, as Python does (:func:`_binds`): a
        parameter, an assignment or augmented assignment, a ``for``, ``with`` or ``except``
        target, a walrus, ``del``, an import, a ``def`` or ``class``, ``global`` or
        ``nonlocal``, a capture pattern; not a keyword argument, an annotation or a
        comparison. A binding in a nested function or lambda is that one's; one in a class body
        or a comprehension within counts (a use there may be of it).

        The places the name is spelled are found from the function's text (cheaper than a
        tree query per function); those followed by an attribute, a subscript or a call are
        uses and not looked up. In a tree of part of the file, a place outside the part parsed
        is noted (:attr:`_unparsed`) for the caller to have it parsed."""
        key = (func.id, name)
        cached = self._rebinds_cache.get(key)
        if cached is not None:
            return cached
        source = self.source
        end = func.end_byte
        if self._outline is not None:  # a partial tree may end it early
            end = self._outline.function_end(func.start_byte) or end
        size = len(name)
        cached = False
        patterns = self.d.binding_patterns(name)
        start = func.start_byte
        if source.find(b"import", start, end) >= 0:
            pattern = patterns.imports
        # the function's own ``def`` (or ``lambda``) is at its start: another is nested
        elif source.find(b"def", start + 1, end) >= 0 or source.find(b"class", start, end) >= 0:
            pattern = patterns.definitions
        else:
            pattern = patterns.plain
        for node in self._binding_sites(pattern, start, end, size):
            if _binding_scope(node) == func:
                cached = True
                break
        self._rebinds_cache[key] = cached
        return cached

    def _binding_sites(
        self, pattern: re.Pattern[bytes], start: int, end: int, size: int
    ) -> Iterator[Node]:
        """The identifiers that ``pattern`` (a name's binding pattern, of ``size`` bytes) finds
        between bytes ``start`` and ``end`` and that bind the name (an assignment's target, a
        ``def``, an import...); a place outside a partial tree's parsed part is noted in
        :attr:`_unparsed` for the caller to have it parsed."""
        source = self.source
        for m in pattern.finditer(source, start, end):
            at = m.start()
            if at and (_WORD_OR_DOT[source[at - 1]] or source[at - 1] >= 128):
                continue  # the end of a longer name, or an attribute
            if m.lastindex is not None and not (
                _DEF_OR_CLASS.search(source, max(0, at - 64), at)
                if m.group(1) == b"("
                else _imported_at(source, at)
            ):
                continue  # an attribute or a call of it: a use
            if not self._covered(at):
                if self._outline is not None and not self._outline.may_bind_at(at, at + size):
                    continue  # in a comment, or in a string with no walrus after the name
                self._unparsed.append(at)
                continue
            node = self.root.descendant_for_byte_range(at, at + size)
            if (
                node is not None
                and node.type == "identifier"
                and node.start_byte == at
                and node.end_byte == at + size
                and _binds(node)
            ):
                yield node

    def _follow(self, node: Node, binding: Binding) -> None:
        """Walk the attribute chain that starts at a resolved name."""
        path = binding.target
        chain_node = node
        best: tuple[str, Node] | None = (path, node) if path in self.d.active else None
        if binding.kind == "typed":
            best = None
        while True:
            parent = chain_node.parent
            if parent is None or parent.type != "attribute":
                break
            if parent.child_by_field_name("object") != chain_node:
                break
            path = f"{path}.{text(parent.child_by_field_name('attribute'))}"
            path = self.d.attributes.get(path, path)
            chain_node = parent
            if path in self.d.active:
                best = (path, chain_node)
        if binding.kind == "typed" and chain_node is node:
            self._check_subscript(node, binding)
            return
        if best is not None:
            self._report(best[0], best[1], binding, node)
        self._after_chain(path, chain_node, binding)

    def _after_chain(self, path: str, chain_node: Node, binding: Binding | None) -> None:
        parent = chain_node.parent
        if (
            parent is not None
            and parent.type == "argument_list"
            and parent.parent is not None
            and parent.parent.type == "class_definition"
            and path in self.d.classes
        ):
            self._check_overrides(path, parent.parent)
            return
        if (
            parent is None
            or parent.type != "call"
            or parent.child_by_field_name("function") != chain_node
        ):
            return
        call = parent
        # A method reached through its class (``pd.DataFrame.resample(df, "M")``) takes the
        # object first; one reached through an object or a call's result does not.
        unbound = (
            binding is not None
            and binding.kind != "typed"
            and path.rpartition(".")[0] in self.d.classes
        )
        self._check_keywords(path, call, unbound)
        cls = path if path in self.d.classes else self.d.factories.get(path)
        up = call.parent
        if cls is None:
            self._bind_tuple(path, call, up)
            return
        self._made[(call.start_byte, call.end_byte)] = cls
        if up is not None and up.type == "assignment" and up.child_by_field_name("right") == call:
            left = up.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                self.bindings.append(
                    Binding(text(left), cls, self._scope_of(up), "typed", left, up)
                )
        elif up is not None and up.type == "attribute" and up.child_by_field_name("object") == call:
            method_path = f"{cls}.{text(up.child_by_field_name('attribute'))}"
            if method_path in self.d.active:
                self._report(method_path, up, None, None)
            self._after_chain(method_path, up, None)

    def _bind_tuple(self, path: str, call: Node, up: Node | None) -> None:
        """``fig, ax = plt.subplots()``: a call whose result unpacks into objects of known class."""
        spec = self.d.tuple_factories.get(path)
        if (
            spec is None
            or up is None
            or up.type != "assignment"
            or up.child_by_field_name("right") != call
        ):
            return
        if _positional_count(call) or _keywords(call) & set(spec.unless_keywords):
            return  # e.g. subplots(2, 2): the second item is an array of Axes
        left = up.child_by_field_name("left")
        if left is None or left.type not in ("pattern_list", "tuple_pattern"):
            return
        targets = [n for n in left.named_children if n.type != "comment"]
        if len(targets) != len(spec.returns):
            return
        for node, cls in zip(targets, spec.returns, strict=True):
            if node.type == "identifier" and cls:
                self.bindings.append(
                    Binding(text(node), cls, self._scope_of(up), "typed", node, up)
                )

    def _check_overrides(self, base: str, class_node: Node) -> None:
        """``class S(scrapy.Spider): def make_requests_from_url(...)``: a hook that is gone."""
        if self._outline is not None:
            unit = self._outline.unit_at(class_node.start_byte)
            if unit is None or not self._covered(unit.start, unit.end):
                raise _Uncovered(whole=[class_node.start_byte])  # every method must be read
        body = class_node.child_by_field_name("body")
        for item in body.named_children if body is not None else []:
            func = item
            if item.type == "decorated_definition":
                func = item.child_by_field_name("definition")
            if func is None or func.type != "function_definition":
                continue
            name = func.child_by_field_name("name")
            method = f"{base}.{text(name)}"
            for record, sev in self.d.active.get(method, []):
                if record.hook:
                    self._add(record, sev, name, fixes.FixSite(definition=func))
        self._bind_self(base, class_node)

    def _bind_self(self, base: str, class_node: Node) -> None:
        """``class S(BaseEstimator): def fit(self, X): self._validate_data(X)``: in the methods
        of a class whose one base is a library's class, ``self`` is an object of that class, as
        a reader takes it. Not where the class has another base (the member may be that one's),
        defines a member its base has a record on (``self.m`` is then its own), or in a static
        or class method; a subclass elsewhere that overrides the member is not seen."""
        superclasses = class_node.child_by_field_name("superclasses")
        body = class_node.child_by_field_name("body")
        if superclasses is None or body is None:
            return
        bases = [
            a for a in superclasses.named_children if a.type not in ("keyword_argument", "comment")
        ]
        if len(bases) != 1:
            return
        own: set[str] = set()
        methods: list[Node] = []
        for item in body.named_children:
            node, decorators = item, set()
            if item.type == "decorated_definition":
                node = item.child_by_field_name("definition")
                decorators = {
                    text(d).lstrip("@").strip()
                    for d in item.named_children
                    if d.type == "decorator"
                }
            if node is None:
                continue
            if node.type in ("function_definition", "class_definition"):
                own.add(text(node.child_by_field_name("name")))
                if node.type == "function_definition" and not decorators & _NOT_INSTANCE:
                    methods.append(node)
            elif node.type == "expression_statement":
                for assign in node.named_children:
                    left = (
                        assign.child_by_field_name("left") if assign.type == "assignment" else None
                    )
                    if left is not None and left.type == "identifier":
                        own.add(text(left))
        if any(
            f"{base}.{name}" in self.d.active or f"{base}.{name}" in self.d.params for name in own
        ):
            return
        for func in methods:
            params = func.child_by_field_name("parameters")
            first = next((p for p in params.named_children if p.type != "comment"), None)
            if first is not None and first.type == "identifier" and text(first) == "self":
                scope = (func.start_byte, func.end_byte)
                self.bindings.append(Binding("self", base, scope, "typed", first, func))

    def _check_subscript(self, node: Node, binding: Binding) -> None:
        """``s[0]`` on an object of evident class: a record on the class's ``__getitem__`` (or,
        as an assignment's target, ``__setitem__``) with a ``key`` the subscript matches, and
        where the record asks (``made_with``), made by a call that says which index it has."""
        sub = node.parent
        if sub is None or sub.type != "subscript" or sub.child_by_field_name("value") != node:
            return
        method = _subscript_method(sub)
        keys = [k for k in sub.children_by_field_name("subscript") if k.type != "comment"]
        if method is None or len(keys) != 1 or not _int_literal(keys[0]):
            return
        records = [
            (record, sev)
            for record, sev in self.d.active.get(f"{binding.target}.{method}", [])
            if record.key is SubscriptKey.INT and self._made_with(binding, record.made_with)
        ]
        if records and binding.stmt is not None:
            if self._rebound_between(binding.name, binding.stmt.end_byte, sub.start_byte):
                return  # ``s = [1, 2]`` after the constructor: s is no Series there
        for record, sev in records:
            self._add(record, sev, sub, fixes.FixSite(call=sub, binding=binding))

    def _rebound_between(self, name: str, start: int, end: int) -> bool:
        """Whether ``name`` may be bound again between bytes ``start`` and ``end`` (in any
        scope: the text between is read, as :meth:`_rebinds` reads a function's)."""
        size = len(name)
        for m in self.d.binding_patterns(name.encode()).plain.finditer(self.source, start, end):
            at = m.start()
            if at and (_WORD_OR_DOT[self.source[at - 1]] or self.source[at - 1] >= 128):
                continue  # the end of a longer name, or an attribute
            if not self._covered(at):
                raise _Uncovered([at])
            node = self.root.descendant_for_byte_range(at, at + size)
            if node is not None and node.type == "identifier" and _binds(node):
                return True
        return False

    def _made_with(
        self, binding: Binding, made_with: tuple[tuple[str, tuple[str, ...]], ...]
    ) -> bool:
        """Whether the object was made by a call passing one of ``made_with``'s keywords an
        argument of one of its classes (``index=pd.date_range(...)``, ``index=idx`` with ``idx``
        of evident class, ``index=["a", "b"]``: ``"str"``), and nothing in the file assigns the
        name's ``.index`` or resets it (``s.index = ...``, ``s.reset_index(...)``)."""
        if not made_with:
            return True
        stmt = binding.stmt
        call = stmt.child_by_field_name("right") if stmt is not None else None
        args = call.child_by_field_name("arguments") if call is not None else None
        if call is None or call.type != "call" or args is None:
            return False
        wanted = dict(made_with)
        name = re.escape(binding.name.encode())
        if re.search(
            rb"(?<![\w.])" + name + rb"\s*\.\s*(?:index\s*=(?!=)|reset_index\b)", self.source
        ):
            return False
        for arg in args.named_children:
            if arg.type != "keyword_argument":
                continue
            classes = wanted.get(text(arg.child_by_field_name("name")), ())
            if self._class_of(arg.child_by_field_name("value")) in classes:
                return True
        return False

    def _class_of(self, value: Node | None) -> str | None:
        """The evident class of an argument: a call's of evident class, a name's bound to one
        before it, ``"str"`` for a list or tuple of string literals."""
        if value is None:
            return None
        if value.type in ("list", "tuple"):
            items = [n for n in value.named_children if n.type != "comment"]
            if items and all(n.type in ("string", "concatenated_string") for n in items):
                return "str"
            return None
        if value.type == "call":
            return self._made.get((value.start_byte, value.end_byte))
        if value.type == "identifier":
            found = [
                b
                for b in self.bindings
                if b.kind == "typed"
                and b.name == text(value)
                and b.scope[0] <= value.start_byte < b.scope[1]
                and b.name_node is not None
                and b.name_node.start_byte < value.start_byte
            ]
            return max(found, key=lambda b: b.name_node.start_byte).target if found else None
        return None

    def _check_keywords(self, path: str, call: Node, unbound: bool = False) -> None:
        params = self.d.params.get(path)
        args = call.child_by_field_name("arguments")
        if not params or args is None or args.type != "argument_list":
            return
        positional: list[Node | None] = []  # None: a ``*args`` splat, of unknown length
        for arg in args.named_children:
            if arg.type in ("comment", "dictionary_splat"):
                continue
            if arg.type == "list_splat":
                positional.append(None)
                continue
            if arg.type != "keyword_argument":
                positional.append(arg)
                continue
            name = text(arg.child_by_field_name("name"))
            value = arg.child_by_field_name("value")
            for record, sev in params.get(name, []):
                if record.unseen:
                    if value.type not in ("identifier", "attribute"):
                        continue  # a literal or an expression: the record of values has it
                elif record.values and not record.matches_value(text(value)):
                    continue  # a value whose meaning did not change
                if _written_by_own_fix(record, call) or _passes_any(call, record.unless_passed):
                    continue
                self._add(record, sev, arg, fixes.FixSite(call=call, keyword=arg))
        if unbound:
            # Through its class a method takes the object first, but a classmethod or a
            # staticmethod does not: which one it is the records do not say, so no position.
            return
        for entries in params.values():
            for record, sev in entries:
                if record.position is None:
                    continue
                # Where a splat comes at or before the position, which argument lands there is
                # unknowable from the source: not flagged.
                if record.position >= len(positional) or None in positional[: record.position + 1]:
                    continue
                arg = positional[record.position]
                if (
                    arg is not None
                    and record.matches_value(text(arg))
                    and not _passes_any(call, record.unless_passed)
                ):
                    self._add(record, sev, arg, fixes.FixSite(call=call, argument=arg))

    def _report(self, path: str, node: Node, binding: Binding | None, name: Node | None) -> None:
        call = node.parent if node.parent is not None and node.parent.type == "call" else None
        if call is not None and call.child_by_field_name("function") != node:
            call = None
        for record, sev in self.d.active.get(path, []):
            if record.key is not None:
                continue  # matched on subscripts only (_check_subscript)
            if (
                record.unless_keyword
                and call is not None
                and record.unless_keyword in _keywords(call)
            ):
                continue  # the call sets the changed default explicitly
            if (
                record.unless_keyword
                and record.position is not None
                and call is not None
                and _positional_count(call) > record.position
            ):
                continue  # ... by position (np.linalg.lstsq(a, b, rcond))
            if record.unless_keyword and call is None and not self._reaches_default(node, record):
                continue  # passed uncalled where no call that leaves the default out is in sight
            if record.max_positional is not None and (
                call is None or _positional_count(call) <= record.max_positional
            ):
                continue  # only calls passing too many arguments by position break
            if call is not None and _written_by_own_fix(record, call):
                continue  # a behaviour the fix keeps the call for, written as the fix writes it
            site = fixes.FixSite(reference=node, binding=binding, name=name, call=call)
            if record.unless_keyword and call is None:
                reached = self._parameter_calls(node, record)
                if reached is not None:  # a parametrize value: the calls it reaches
                    site.through, site.peers = reached
            self._add(record, sev, node, site)

    def _reaches_default(self, ref: Node, record: ApiChange) -> bool:
        """Whether an uncalled reference to a callable whose default changed (``unless_keyword``)
        may reach a call that leaves the default out. Not where it is compared (``Est is KMeans``)
        or tested against (``isinstance(m, LinearSVC)``): no call at all; nor where it is one of
        ``pytest.mark.parametrize``'s values and every use of the parameter in the function it
        decorates is a call passing the keyword (scikit-learn's tests: ``Estimator(n_init=1)``).
        Anywhere else (``Klass = KMeans``, a subclass, a helper it is passed to) the call is out of
        sight, so it may."""
        parent = ref.parent
        if parent is None:
            return True
        if parent.type == "comparison_operator":
            return False
        holder = parent.parent if parent.type == "tuple" else parent
        if holder is not None and holder.type == "argument_list":
            called = holder.parent
            tested = [a for a in holder.named_children if a.type != "comment"]
            if (
                called is not None
                and text(called.child_by_field_name("function")) in ("isinstance", "issubclass")
                and len(tested) == 2
                and tested[1] in (ref, parent)
            ):
                return False
        parametrized = _parametrized(ref)
        if parametrized is None:
            return True
        name, function, _ = parametrized
        if self._outline is not None:
            unit = self._outline.unit_at(function.start_byte)
            if unit is None or not self._covered(unit.start, unit.end):
                raise _Uncovered(whole=[function.start_byte])  # every use must be read
        body = function.child_by_field_name("body")
        calls = 0
        for use in captures("((identifier) @name)", body).get("name", []) if body else []:
            if text(use) != name:
                continue
            if use.parent is not None and use.parent.type == "comparison_operator":
                continue
            site = use.parent
            if (
                site is None
                or site.type != "call"
                or site.child_by_field_name("function") != use
                or record.unless_keyword not in _keywords(site)
            ):
                return True  # left out, or the class goes on out of sight
            calls += 1
        return calls == 0

    def _parameter_calls(
        self, ref: Node, record: ApiChange
    ) -> tuple[tuple[Node, ...], tuple[Node, ...]] | None:
        """Where ``ref``, a class whose default changed (``unless_keyword``), is one of
        ``pytest.mark.parametrize``'s values and every use of the parameter in the function it
        decorates is a call (or a comparison): the calls that leave the keyword out, which a
        fix may complete, and the parameter's other values, which must take the same fix."""
        parametrized = _parametrized(ref)
        if parametrized is None or parametrized[2] is None:
            return None
        name, function, values = parametrized
        body = function.child_by_field_name("body")
        calls: list[Node] = []
        for use in captures("((identifier) @name)", body).get("name", []) if body else []:
            if text(use) != name or use.parent is None:
                continue
            if use.parent.type == "comparison_operator":
                continue
            site = use.parent
            if site.type != "call" or site.child_by_field_name("function") != use:
                return None  # the class goes on out of sight
            if record.unless_keyword not in _keywords(site):
                calls.append(site)
        if not calls:
            return None
        return tuple(calls), tuple(values)

    def _import_site(
        self,
        node: Node,
        path: str,
        stmt: Node,
        guarded: Node | None,
        exact: bool = False,
    ) -> None:
        """Flag an import of an outdated module or name (``from numpy import float_``)."""
        if guarded is not None:
            return
        parts = path.split(".")
        for i in range(len(parts), len(parts) - 1 if exact else 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in self.d.active:
                for record, sev in self.d.active[candidate]:
                    if not record.kind.name_goes or (
                        record.unless_keyword or record.max_positional is not None
                    ):
                        # Importing the name still works; only some calls of it are outdated
                        # (a keyword left out, too many positional arguments): those are checked.
                        continue
                    site = fixes.FixSite(
                        import_stmt=stmt, import_name=node if i == len(parts) else None
                    )
                    self._add(record, sev, node, site)
                return

    def _name_only_methods(self) -> None:
        """Low confidence: ``x.append(...)`` where x's class is not evident (off by default)."""
        libs = {b.target.split(".")[0] for b in self.bindings}
        for leaf, paths in self.d._methods_by_name.items():
            paths = [p for p in paths if p.split(".")[0] in libs]
            if not paths:
                continue
            after_dot = rb"\." + _GAP + rb"(" + re.escape(leaf.encode()) + rb")\b"
            for m in re.finditer(after_dot, self.source):
                node = self.root.descendant_for_byte_range(m.start(1), m.end(1))
                if node is None or node.type != "identifier" or node.parent is None:
                    continue
                attr = node.parent
                if attr.type != "attribute" or attr.child_by_field_name("attribute") != node:
                    continue
                if guard(attr, self._lib(paths[0])) or any(
                    k[0] <= attr.start_byte and attr.end_byte <= k[1] for k in self._found
                ):
                    continue
                for path in paths:
                    for record, sev in self.d.active[path]:
                        if record.key is not None:
                            continue  # matched on subscripts only
                        f = self._add(record, sev, attr, None)
                        if f is not None:
                            f.confidence = "low"
                            f.message += (
                                " (matched by method name only; the object's class is not evident)"
                            )

    def _proven(self, evidence: Evidence) -> None:
        """The site of ``evidence``, a finding of its record where the record applies at these
        versions (a site found otherwise keeps its finding)."""
        node = evidence_site(self.source, self.root, evidence)
        if isinstance(node, str):
            return
        for record, sev in self.d.active.get(evidence.record.path, []):
            if record.id != evidence.record.id:
                continue
            if evidence.proven is Proven.CLASS:
                f = self._add(record, sev, node, fixes.FixSite(class_def=node.parent))
                if f is not None:
                    f.origin = evidence.origin
                continue
            if evidence.proven is Proven.SUBSCRIPT:
                site = fixes.FixSite(call=node)  # ``s[i]``, as _check_subscript gives it
            elif evidence.proven is not Proven.ATTRIBUTE:
                site = fixes.FixSite(value=node)  # the array converted
            else:
                call = node.parent
                if call is not None and (
                    call.type != "call" or call.child_by_field_name("function") != node
                ):
                    call = None
                site = fixes.FixSite(reference=node, call=call)
            f = self._add(record, sev, node, site)
            if f is not None:
                f.origin = evidence.origin

    # -- findings ---------------------------------------------------------------------------

    def _position(self, byte: int, point: tuple[int, int]) -> Position:
        """A node's (row, byte column) from tree-sitter as a line and a code-point column."""
        line, column = point
        if column == 0:
            return Position(line, 0)
        prefix = self.source[byte - column : byte]
        if prefix.isascii():
            return Position(line, column)
        return Position(line, len(prefix.decode("utf-8", "replace")))

    def _add(
        self, record: ApiChange, sev: str, node: Node, site: fixes.FixSite | None
    ) -> Finding | None:
        key = (node.start_byte, node.end_byte, record.id)
        if key in self._found:
            return None
        have = self.d.versions[record.library]
        value = None
        if record.values and site is not None:
            if site.keyword is not None:
                value = text(site.keyword.child_by_field_name("value"))
            elif site.argument is not None:
                value = text(site.argument)
        elif record.key is not None and site is not None and site.call is not None:
            value = text(site.call)  # the subscript as written
        message = self._messages.get((record.id, value))
        if message is None:
            message = self._messages[record.id, value] = message_for(record, have, value)
        f = Finding(
            record=record,
            severity=sev,
            message=message,
            start_byte=node.start_byte,
            end_byte=node.end_byte,
            start=self._position(node.start_byte, node.start_point),
            end=self._position(node.end_byte, node.end_point),
        )
        self._found[key] = f
        if site is not None:
            self._fix_context[id(f)] = site
        return f


_WORD_OR_DOT = [chr(c).isalnum() and c < 128 or c in (46, 95) for c in range(256)]


# ``def`` or ``class`` and spaces, ending where it is searched to (the name defined follows)
_DEF_OR_CLASS = re.compile(rb"(?<![\w\x80-\xff])(?:def|class)[ \t]+\Z")
# ``import`` and the items before one more, ending where it is searched to: ``import a, np.b``
_IMPORT_ITEMS = re.compile(
    rb"(?<![\w\x80-\xff.])import(?:[ \t]|\\\r?\n)+"
    rb"(?:[\w.]+(?:(?:[ \t]|\\\r?\n)+as(?:[ \t]|\\\r?\n)+\w+)?(?:[ \t]|\\\r?\n)*,"
    rb"(?:[ \t]|\\\r?\n)*)*\Z"
)


def _imported_at(source: bytes, at: int) -> bool:
    """Whether the dotted name at ``at`` is an item of an ``import`` statement (``import
    np.linalg`` binds ``np``), from the start of its logical line."""
    start = source.rfind(b"\n", 0, at) + 1
    while start and sparse.continued(source, start - 1):
        start = source.rfind(b"\n", 0, start - 1) + 1
    return _IMPORT_ITEMS.search(source, start, at) is not None


_BOUND_HERE = frozenset(
    {
        "as_pattern_target",  # with ... as NAME, except ... as NAME
        "delete_statement",
        "global_statement",
        "nonlocal_statement",
        "parameters",
        "lambda_parameters",
        "typed_parameter",  # its name; the annotation is under a "type" node
        "dictionary_splat_pattern",  # **NAME
        "splat_pattern",  # case [*NAME]
    }
)


def _binds(node: Node) -> bool:
    """Whether an identifier is bound where it stands (Python's name binding operations)."""
    child, parent = node, node.parent
    while parent is not None and parent.type in TARGET_GROUPS:
        child, parent = parent, parent.parent
    if parent is None:
        return False
    t = parent.type
    if t in _BOUND_HERE:
        return True
    if t in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        return parent.child_by_field_name("left") == child
    if t == "named_expression":
        return parent.child_by_field_name("name") == child
    if t in ("default_parameter", "typed_default_parameter", "function_definition"):
        return parent.child_by_field_name("name") == child
    if t == "class_definition":
        return parent.child_by_field_name("name") == child
    if t == "aliased_import":
        return parent.child_by_field_name("alias") == child
    if t == "as_pattern":  # case PATTERN as NAME
        return parent.named_children[-1] == child
    if t == "dotted_name" and child == node and parent.named_children[0] == node:
        up = parent.parent
        if up is None:
            return False
        if up.type == "import_statement":
            return True  # import np.linalg binds np
        if up.type == "import_from_statement":
            return up.child_by_field_name("module_name") != parent
        if up.type in ("case_pattern", "keyword_pattern"):
            return parent.named_child_count == 1  # a capture pattern (np.X is a value)
    return False


# Statements of which one branch runs: a binding in one reaches no use in another.
_EXCLUSIVE = frozenset({"if_statement", "match_statement"})
# What makes a statement in it run or not (or more than once): a binding in it may or may not
# reach what follows.
_CONDITIONAL = frozenset(
    {
        "if_statement",
        "try_statement",
        "for_statement",
        "while_statement",
        "match_statement",
        "with_statement",
        "conditional_expression",
        "boolean_operator",
    }
)
# What lies between an imported name and its import statement.
_IMPORT_PARTS = frozenset({"dotted_name", "aliased_import"})


def _in_own_scope(node: Node, scope: Node | None) -> bool:
    """Whether a binding identifier below ``scope`` binds in a class body or a comprehension
    between (their names are their own, not the scope's)."""
    child, parent = node, node.parent
    while parent is not None and parent != scope:
        if parent.type == "class_definition" and parent.child_by_field_name("body") == child:
            return True
        if parent.type == "for_in_clause" and parent.child_by_field_name("left") == child:
            return True
        child, parent = parent, parent.parent
    return False


def _binds_none(node: Node) -> bool:
    """``X = None``: the name bound to no object (a library's absence)."""
    parent = node.parent
    if parent is None or parent.type != "assignment":
        return False
    right = parent.child_by_field_name("right")
    return right is not None and right.type == "none"


def _binding_scope(node: Node) -> Node | None:
    """The function or lambda a binding identifier (:func:`_binds`) binds its name in, or None
    for the module: the nearest one whose body or parameters hold it (a function's name, its
    default values and annotations are its parent scope's, and so is a walrus in a parameter
    default)."""
    walrus = node.parent is not None and node.parent.type == "named_expression"
    child, parent = node, node.parent
    while parent is not None:
        if parent.type in _SCOPES:
            if parent.child_by_field_name("body") == child:
                return parent
            if not walrus and parent.child_by_field_name("parameters") == child:
                return parent
        child, parent = parent, parent.parent
    return None


_PLAIN_DOTTED = re.compile(r"[\w.]+")


def _dotted(node: Node | None) -> str:
    """A dotted name as Python reads it: ``numpy.linalg`` however spaced or continued across
    lines (``import numpy \\`` / ``.linalg``); other nodes (a relative import), and broken
    names, as written."""
    spelled = text(node)
    if (
        node is not None
        and node.type == "dotted_name"
        and not _PLAIN_DOTTED.fullmatch(spelled)
        and not node.has_error
    ):
        return ".".join(text(part) for part in node.named_children if part.type == "identifier")
    return spelled


@cache
def _own_fix_pattern(template: str) -> re.Pattern[str]:
    """What a call template writes, as a regular expression over source text: a module as any
    dotted name, each argument placeholder as any text (the same text where it comes again),
    spaces as any white space."""
    out, seen, last = [], set(), 0
    for m in PLACEHOLDER.finditer(template):
        out.append(r"\s*".join(re.escape(part) for part in template[last : m.start()].split()))
        if m.start() > last and template[m.start() - 1].isspace():
            out.append(r"\s*")
        token = m.group("token")
        if token.startswith("mod:"):
            out.append(r"[A-Za-z_][\w.]*")
        else:  # {rest} may be empty (``Axes3D(fig)`` of ``{0}{rest}``)
            group = "p" + re.sub(r"\W", "_", token)
            any_text = ".*?" if token == "rest" else ".+?"
            out.append(f"(?P={group})" if group in seen else f"(?P<{group}>{any_text})")
            seen.add(group)
        last = m.end()
        if last < len(template) and template[last].isspace():
            out.append(r"\s*")
    out.append(r"\s*".join(re.escape(part) for part in template[last:].split()))
    return re.compile("".join(out), re.S)


@cache
def _wraps_own_call(template: str, leaf: str) -> bool:
    """Whether a template keeps a call of ``leaf`` inside new code (``is_object_dtype(x) or
    ...``, ``{0}.add_axes(Axes3D({0}{rest}))``), rather than being a call of it itself
    (``{self}.to_csv({0}{rest})``)."""
    try:
        tree = ast.parse(_as_code(template), mode="eval").body
    except SyntaxError:
        return False
    if _calls(tree, leaf):
        return False
    return any(_calls(n, leaf) for n in ast.walk(tree))


def _as_code(template: str) -> str:
    """A template as code to read its shape: each argument placeholder a name, ``{rest}``
    nothing, a ``{mod:...}`` path its last name (``Axes3D`` of
    ``{mod:mpl_toolkits.mplot3d.Axes3D}``)."""

    def name(m: re.Match[str]) -> str:
        token = m.group("token")
        if token == "rest":
            return "\0"
        return token.rsplit(".", 1)[-1].removeprefix("mod:") if token.startswith("mod:") else "_"

    return fill_rest(PLACEHOLDER.sub(name, template), "\0", [])


def _calls(code: ast.expr, leaf: str) -> bool:
    """Whether ``code`` is a call of a callable named ``leaf`` (``f(x)``, ``m.f(x)``)."""
    return (
        isinstance(code, ast.Call)
        and (getattr(code.func, "attr", None) or getattr(code.func, "id", None)) == leaf
    )


@cache
def _wraps_own_arguments(template: str, leaf: str) -> bool:
    """Whether a template is a call of ``leaf`` with an argument wrapped in a call of its own
    (``np.unique(np.ravel({0}){rest})``): the call it writes still passes what is flagged."""
    try:
        tree = ast.parse(_as_code(template), mode="eval").body
    except SyntaxError:
        return False
    return _calls(tree, leaf) and any(isinstance(a, ast.Call) for a in tree.args)


def _written_by_own_fix(record: ApiChange, call: Node) -> bool:
    """Whether ``call`` stands in code its record's template fix writes, the call kept inside
    (``is_object_dtype(s) or is_string_dtype(s)``), or is that code (``np.unique(np.ravel(a),
    return_inverse=True)``): the fix was made, and flagging the call again would make the fix
    again around it. Only for a template naming the record's own callable."""
    fix = record.fix
    if fix is None or fix.template is None or fix.target is not Target.CALL:
        return False
    leaf = record.path.rsplit(".", 1)[-1]
    if _wraps_own_arguments(fix.template, leaf):
        return _own_fix_pattern(fix.template).fullmatch(_joined_chains(call)) is not None
    if not _wraps_own_call(fix.template, record.path.rsplit(".", 1)[-1]):
        return False
    pattern = _own_fix_pattern(fix.template)
    node: Node | None = call.parent
    for _ in range(2):  # an operator around the call, parentheses around that
        if node is None or node.type.endswith("statement"):
            return False
        if pattern.fullmatch(_joined_chains(node)):
            return True
        node = node.parent
    return False


def _joined_chains(node: Node) -> str:
    """``node``'s code with its comments and backslash continuations gone and no space around a
    dot, so that a dotted name split across lines (``pd``, a backslash, ``.api.types`` on the
    next line; ``np.  # note``, then ``ravel(a)``) reads as it does on one line."""
    code = node.text or b""
    for c in reversed(captures("(comment) @c", node).get("c", [])):
        code = code[: c.start_byte - node.start_byte] + code[c.end_byte - node.start_byte :]
    return re.sub(r"\s*\.\s*", ".", re.sub(r"\\\r?\n", " ", code.decode("utf-8", "replace")))


def _passes_any(call: Node, keywords: tuple[str, ...]) -> bool:
    """Whether the call passes one of ``keywords`` with a value other than ``None``."""
    if not keywords:
        return False
    args = call.child_by_field_name("arguments")
    return args is not None and any(
        a.type == "keyword_argument"
        and text(a.child_by_field_name("name")) in keywords
        and text(a.child_by_field_name("value")) != "None"
        for a in args.named_children
    )


def _positional_count(call: Node) -> int:
    """Arguments passed by position; a ``*args`` splat counts as none (its length is unknown)."""
    args = call.child_by_field_name("arguments")
    if args is None or args.type != "argument_list":
        return 0
    return sum(
        1
        for a in args.named_children
        if a.type not in ("keyword_argument", "list_splat", "dictionary_splat", "comment")
    )


def _parametrized(ref: Node) -> tuple[str, Node, list[Node] | None] | None:
    """The parameter's name, the function and the parameter's values (``ref`` among them), where
    ``ref`` is one of the values of the ``pytest.mark.parametrize`` decorating it: ``("Est", [A,
    B])`` or ``("Est, x", [(A, 1)])``; the values are None where a row's item for the parameter
    is not sure (:func:`_item`)."""
    row = ref.parent
    if row is None or row.type not in ("list", "tuple"):
        return None
    values, index = row, None
    if row.parent is not None and row.parent.type in ("list", "tuple"):
        values = row.parent
        index = [c for c in row.named_children if c.type != "comment"].index(ref)
    args = values.parent
    decorator = args.parent.parent if args is not None and args.parent is not None else None
    if (
        args is None
        or args.type != "argument_list"
        or decorator is None
        or decorator.type != "decorator"
        or decorator.parent is None
        or not text(args.parent.child_by_field_name("function")).endswith("parametrize")
    ):
        return None
    function = decorator.parent.child_by_field_name("definition")
    given = [a for a in args.named_children if a.type not in ("keyword_argument", "comment")]
    if function is None or function.type != "function_definition" or given[1:2] != [values]:
        return None
    try:
        names = ast.literal_eval(text(given[0]))
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        return None
    if index is None:
        return (names[0], function, _items(values)) if len(names) == 1 else None
    if len(names) <= 1 or index >= len(names):
        return None
    column = [_item(row, index, len(names)) for row in _items(values)]
    return names[index], function, None if None in column else column


def _items(node: Node) -> list[Node]:
    return [c for c in node.named_children if c.type != "comment"]


def _item(row: Node, index: int, width: int) -> Node | None:
    """The ``index``-th item of a parametrize row of ``width`` items, where it is sure: a tuple
    of that many items, or one whose unpacked items (``*make_data()``) all come after it."""
    if row.type != "tuple":
        return None
    items = _items(row)
    splats = [i for i, c in enumerate(items) if c.type == "list_splat"]
    if (len(items) == width and not splats) or (splats and index < splats[0]):
        return items[index]
    return None


def _keywords(call: Node) -> set[str]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return set()
    return {
        text(a.child_by_field_name("name"))
        for a in args.named_children
        if a.type == "keyword_argument"
    }


def _subscript_method(sub: Node) -> str | None:
    """The method a subscript calls: ``__setitem__`` as an assignment's target (augmented
    too), ``__getitem__`` where it is read, None elsewhere (``del s[0]``, a loop target)."""
    parent = sub.parent
    if parent is None:
        return None
    if parent.type in ("assignment", "augmented_assignment"):
        if parent.child_by_field_name("left") == sub:
            return "__setitem__"
        return "__getitem__"
    if parent.type in ("delete_statement", "pattern_list", "tuple_pattern", "list_pattern"):
        return None
    if (
        parent.type in ("for_statement", "for_in_clause")
        and parent.child_by_field_name("left") == sub
    ):
        return None
    return "__getitem__"


def _int_literal(node: Node) -> bool:
    """``0``, ``-1``: an integer literal, negated or not."""
    if node.type == "unary_operator":
        op = node.child_by_field_name("operator")
        node = node.child_by_field_name("argument")
        if op is None or text(op) != "-" or node is None:
            return False
    return node.type == "integer"


def _is_load(node: Node) -> bool:
    """Whether an identifier is a use of a name (not an attribute, keyword, or definition)."""
    parent = node.parent
    if parent is None:
        return False
    t = parent.type
    if t == "attribute":
        return parent.child_by_field_name("object") == node
    if t == "keyword_argument":
        return parent.child_by_field_name("name") != node
    if t in ("function_definition", "class_definition"):
        return parent.child_by_field_name("name") != node
    if t in (
        "parameters",
        "lambda_parameters",
        "default_parameter",
        "typed_parameter",
        "typed_default_parameter",
        "dotted_name",
        "aliased_import",
        "import_from_statement",
        "import_statement",
        "global_statement",
        "nonlocal_statement",
        "keyword_pattern",
    ):
        if t in ("default_parameter", "typed_default_parameter"):
            return parent.child_by_field_name("name") != node
        return False
    if t == "assignment" and parent.child_by_field_name("left") == node:
        return False
    # a target (``for X in``, ``a, X = ``, ``with ... as X``, ``del X``) binds, it reads nothing;
    # an augmented assignment's target does both
    return t == "augmented_assignment" or not _binds(node)


def libraries_in(records: Iterable[ApiChange]) -> set[str]:
    return {r.library for r in records}


def import_names(library: str) -> tuple[str, ...]:
    return IMPORT_NAMES.get(library, (library.replace("-", "_"),))


def parse_target(spec: str) -> tuple[str, LibraryVersion]:
    """``"numpy==2.0"`` -> ("numpy", LibraryVersion(2.0, "target"))."""

    name, sep, version = spec.partition("==")
    if not sep or not name.strip() or not version.strip():
        raise ValueError(f"a target is LIBRARY==VERSION, got {spec!r}")
    return canonical_name(name.strip()), LibraryVersion(Version(version.strip()), "target")
