"""The knowledge base of API updates: records kept as JSONL data, validated on load.

Each line of ``dataset/kb/<library>.jsonl`` is one :class:`ApiChange`. A line that is not valid
JSON, or a record that breaks the schema (see ``kb/README.md``), becomes a :class:`LoadProblem`
naming its file and line; every other record still loads.
"""

from __future__ import annotations

import ast
import builtins
import enum
import io
import json
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, assert_never

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from recode.dataset import kb_cache

#: Distribution name -> the top-level import name(s) its symbols start with.
IMPORT_NAMES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "torch": ("torch",),
    "matplotlib": ("matplotlib", "mpl_toolkits"),
    "scikit-learn": ("sklearn",),
    "scipy": ("scipy",),
    "scrapy": ("scrapy",),
    "seaborn": ("seaborn",),
    "jax": ("jax",),
}

_SYMBOL = re.compile(
    r"^(?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"(?:\((?P<param>[A-Za-z_][A-Za-z0-9_]*)\))?$"
)
_ALLOWED = {
    "id",
    "library",
    "symbol",
    "kind",
    "deprecated_in",
    "removed_in",
    "changed_in",
    "replacement",
    "fix",
    "note",
    "source",
    "examples",
    "unless_keyword",
    "unless_passed",
    "max_positional",
    "values",
    "unseen",
    "value_forms",
    "position",
    "hook",
    "key",
    "made_with",
    "api",
    "requirement",
}


class RecordKind(enum.StrEnum):
    """What a record says happened to its symbol. Everything that differs by kind is here:
    the version a record of the kind must give, how loud a finding is once the change is in
    (``breaks``), the words of its message, and whether importing the name fails.

    A ``StrEnum``, so a kind compares equal to its name in the records (``"removed"``).
    """

    REMOVED = "removed"
    RENAMED = "renamed"
    MOVED = "moved"
    SIGNATURE = "signature"  # a parameter removed, renamed or made keyword-only; a value refused
    DEPRECATED = "deprecated"  # still works, warns; ``removed_in`` may say when it goes
    BEHAVIOR = "behavior"  # still accepted; computes something else (a default, a meaning)

    @property
    def needs(self) -> tuple[str, ...]:
        """The version fields of which a record of this kind must give at least one."""
        if self is RecordKind.DEPRECATED:
            return ("deprecated_in",)
        if self in (RecordKind.SIGNATURE, RecordKind.BEHAVIOR):
            return ("changed_in", "removed_in")
        return ("removed_in",)

    @property
    def breaks(self) -> bool:
        """Code that uses the old API fails once the change is in (an error, not a warning)."""
        return self is not RecordKind.BEHAVIOR

    @property
    def verb(self) -> str:
        """What happened, as a message says it: "`numpy.float_` was removed in numpy 2.0.0"."""
        return {
            RecordKind.REMOVED: "was removed",
            RecordKind.RENAMED: "was renamed",
            RecordKind.MOVED: "was moved",
            RecordKind.SIGNATURE: "changed its signature",
            RecordKind.BEHAVIOR: "changed behaviour",
            RecordKind.DEPRECATED: "changed",
        }[self]

    @property
    def name_goes(self) -> bool:
        """The name itself stops resolving, so importing it is outdated too (``from numpy
        import float_``); a signature or behaviour change leaves the import working."""
        return self not in (RecordKind.SIGNATURE, RecordKind.BEHAVIOR)


#: The kinds' names, in the order the schema lists them.
KINDS = tuple(k.value for k in RecordKind)


class RecordError(ValueError):
    """A record that does not follow the schema."""


class SubscriptKey(enum.StrEnum):
    """The subscripts a ``__getitem__``/``__setitem__`` record matches (``key``)."""

    INT = "int"  # an integer literal, negative too: ``s[0]``, ``s[-1]``

    @property
    def describe(self) -> str:
        """The key in a message's words."""
        return {SubscriptKey.INT: "an integer key"}[self]


class Api(enum.StrEnum):
    """Whether a record's symbol is the library's public API or a private one (``api``)."""

    PUBLIC = "public"
    #: an underscore module or name: changed without deprecation and unnamed in the changelog,
    #: but relied on by extension libraries; the source is the upstream pull request or commit
    PRIVATE = "private"


#: The source a private-API record must cite: the pull request or commit that made the change.
_UPSTREAM_CHANGE = re.compile(
    r"https://github\.com/[\w.-]+/[\w.-]+/(?:pull/\d+|commit/[0-9a-f]{7,40})$"
)


class ValueForms(enum.StrEnum):
    """The other spellings of a ``values`` record's string literals (``value_forms``): the same
    change reaches every text the library parses to one of them."""

    #: pandas' frequency strings, as ``to_offset`` parses them: a multiple before the alias and
    #: an anchor after it (``'5H'``, ``'A-DEC'``, ``'2A-JUN'`` of the alias ``H`` or ``A``)
    OFFSET = "offset"

    def split(self, literal: str) -> tuple[str, str, str] | None:
        """A literal's text as (before, alias, after), if it is written in these forms."""
        m = _OFFSET_FORM.fullmatch(literal)
        if m is None:
            return None
        return m.group("multiple") or "", m.group("alias"), m.group("anchor") or ""


#: pandas' offset syntax (``pandas._libs.tslibs.offsets.opattern``), integral multiples only;
#: the anchors are its month and weekday suffixes
_OFFSET_FORM = re.compile(
    r"(?P<multiple>[+-]?\d+)?(?P<alias>[A-Za-z]+)"
    r"(?P<anchor>-(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|MON|TUE|WED|THU|FRI|SAT|SUN))?"
)


class Applicability(enum.Enum):
    """A fix's safety, in ruff's words: a ``safe`` fix keeps the behaviour of every input;
    an ``unsafe`` one may change it in a corner case (the record names it), and is applied only
    when the user asks for unsafe fixes."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class Target(enum.Enum):
    """What a template fix replaces: the whole call, the reference alone (``np.NINF``), the
    expression statement that is the call, by a statement (``{self} = {self}.drop({rest})``),
    or the statement assigning the reference, the value ``{value}``
    (``cs.antialiased = v`` -> ``cs.set_antialiased(v)``)."""

    CALL = "call"
    REFERENCE = "reference"
    STATEMENT = "statement"
    ASSIGNMENT = "assignment"


class FixKind(enum.StrEnum):
    """How a record's ``fix`` rewrites the code. What differs by fix kind in the data is here:
    whether its symbol must name a parameter, how its fields are read (:meth:`parse`), and the
    words that offer it (:meth:`action`, :meth:`advice`). Its edits are the module of the same
    name in ``server/fixes/kinds/``.

    A ``StrEnum``, so a kind compares equal to its name in the records (``"rename"``).
    """

    RENAME = "rename"  # the name, its import and its uses (``to``, ``module``)
    KEYWORD_RENAME = "keyword_rename"  # a keyword argument's name (``to``)
    KEYWORD_DROP = "keyword_drop"  # a keyword argument removed
    TEMPLATE = "template"  # the call or reference rewritten (``template``, ``args``, ``target``)
    VALUE = "value"  # a string literal passed for the parameter (``map``)
    #: the statement whose whole value is the call, wrapped in ``try``/``except`` (``catch``),
    #: the call without the parameter's keyword in ``try``, ``fallback`` in its place in
    #: ``except`` (``fallback``, ``args``)
    STATEMENT = "statement"
    #: a class statement gains a base class (``to``): the class a test run proved lacks what
    #: the base provides (:class:`recode.server.detector.Evidence` of kind ``CLASS``)
    BASE = "base"
    #: a hook method that returned a dict literal becomes the hook ``to``, which sets each
    #: key's attribute (``map``) on what the base's ``to`` returns (``_more_tags``)
    HOOK = "hook"

    @property
    def on_parameter(self) -> bool | None:
        """Whether the record's symbol must name a parameter (``callable(param)``), must not,
        or (None) may."""
        if self in (FixKind.RENAME, FixKind.BASE, FixKind.HOOK):
            return False
        if self is FixKind.TEMPLATE:
            return None
        return True

    def parse(self, raw: dict, param: str | None) -> Fix:
        """The fix from its record's ``fix`` object, checked (safety fields aside)."""
        if self.on_parameter and param is None:
            raise RecordError(f"a {self} fix needs a symbol of the form callable(param)")
        if self.on_parameter is False and param is not None:
            raise RecordError(f"a {self} fix cannot apply to a parameter symbol")
        return _FIX_PARSERS[self](self, raw)

    def action(self, record: ApiChange, fix: Fix | None = None) -> str:
        """The quick fix's words (after "ReCode: "): "replace `numpy.float_` with `float`";
        ``fix``: the one made, where it is not the record's own (its ``through_class``)."""
        fix = fix or record.fix
        assert fix is not None
        if self is FixKind.RENAME:
            return f"replace `{record.path}` with `{(fix.to or '?').removeprefix('builtins.')}`"
        if self is FixKind.KEYWORD_RENAME:
            return f"rename keyword `{record.parameter}` to `{fix.to}`"
        if self is FixKind.KEYWORD_DROP:
            return f"remove keyword `{record.parameter}`"
        if self is FixKind.VALUE:
            return f"rewrite the `{record.parameter}` value of `{record.path}`"
        if self is FixKind.TEMPLATE:
            replacement = f" with {record.replacement}" if record.replacement else ""
            what = {Target.REFERENCE: "reference", Target.ASSIGNMENT: "assignment"}.get(
                fix.target, "call"
            )
            return f"rewrite the `{record.path}` {what}{replacement}"
        if self is FixKind.STATEMENT:
            return f"catch {fix.caught} around `{record.path}` without `{record.parameter}`"
        if self is FixKind.BASE:
            return f"derive the class from `{fix.to}`, which `{record.path}` needs"
        if self is FixKind.HOOK:
            return f"define `{fix.to}` in place of `{record.path}`"
        assert_never(self)

    def advice(self, record: ApiChange, fix: Fix | None = None) -> str:
        """What a report says the fix does: "Use `float`"; ``fix`` as for :meth:`action`."""
        fix = fix or record.fix
        assert fix is not None
        if self is FixKind.RENAME:
            return f"Use `{(fix.to or '').removeprefix('builtins.')}`"
        if self is FixKind.KEYWORD_RENAME:
            return f"Rename the keyword `{record.parameter}` to `{fix.to}`"
        if self is FixKind.KEYWORD_DROP:
            return f"Remove the keyword `{record.parameter}`"
        if self is FixKind.VALUE:
            value = f": {record.replacement}" if record.replacement else ""
            return f"Rewrite the `{record.parameter}` value{value}"
        if self is FixKind.TEMPLATE:
            what = {
                Target.REFERENCE: f"`{record.path}`",
                Target.ASSIGNMENT: f"the assignment of `{record.path}`",
            }.get(fix.target, "the call")
            replacement = f": {record.replacement}" if record.replacement else ""
            return f"Rewrite {what}{replacement}"
        if self is FixKind.STATEMENT:
            return (
                f"Call without `{record.parameter}` in `try`, and catch {fix.caught} "
                f"to use `{fix.fallback}` instead"
            )
        if self is FixKind.BASE:
            return f"Derive the class from `{fix.to}`"
        if self is FixKind.HOOK:
            return f"Define `{fix.to}`, setting what the method's dict said"
        assert_never(self)


#: The fix kinds' names, in the order the schema lists them.
FIX_KINDS = tuple(k.value for k in FixKind)


#: A template's placeholders: ``{self}``, ``{0}``, ``{kw:name}``, ``{mod:path}``, ``{rest}``;
#: an argument's may end in a value map, ``{kw:method|map:ffill=ffill,pad=ffill}``.
PLACEHOLDER = re.compile(
    r"\{(?P<token>self|rest|then|value|\d+|kw:[A-Za-z_]\w*|mod:[A-Za-z_][\w.]*)"
    r"(?:\|map:(?P<map>[^{}]*))?\}"
)


@dataclass(frozen=True)
class Fix:
    kind: FixKind
    to: str | None = None
    template: str | None = None
    args: tuple[str, ...] = ()  # template: the parameters a call may pass, positional ones first
    positional: int = 0  # template: how many of ``args`` may be passed by position
    target: Target = Target.CALL  # template: what it replaces
    module: str | None = None  # rename: a submodule that must be imported to reach ``to``
    #: rename of a module: the names that live on in ``to`` where not all do (empty: all do)
    names: frozenset[str] = frozenset()
    #: value: a string literal's old text -> its new text (``M`` -> ``ME``), quotes kept;
    #: hook: a key of the dict the method returned -> the attribute path it sets
    #: (``allow_nan`` -> ``input_tags.allow_nan``)
    literals: tuple[tuple[str, str], ...] = ()
    applicability: Applicability = Applicability.SAFE
    unsafe_because: str | None = None  # the corner case where an unsafe fix changes behaviour
    #: a method's record: the fix where the method is reached through its class
    #: (``np.ndarray.ptp``, called with the object first or passed as a function), which the
    #: fix above, written for an object's method (``{self}``), cannot rewrite
    through_class: Fix | None = None
    #: the fix where the call passes this keyword, in place of this one (``subok`` selects
    #: ``np.asanyarray`` where ``np.asarray`` is the fix), the first keyword passed wins
    when_passed: tuple[tuple[str, Fix], ...] = ()
    #: a reference template's fix where the reference is assigned (``cs.antialiased = v``): an
    #: assignment template (``{self}.set_antialiased({value})``)
    assigned: Fix | None = None
    #: a class's record: the template fix where the class is what ``isinstance(obj, ...)``
    #: tests, the object its one argument (``{0}``); alone or in a tuple of classes
    instance_test: Fix | None = None
    catch: tuple[str, ...] = ()  # statement: the exceptions caught
    #: template: the methods whose call on the call's result (``.mean()``) ``{then}`` writes
    then: frozenset[str] = frozenset()
    fallback: str | None = None  # statement: what stands for the call where they are raised
    #: template: the parameters whose argument it leaves out (``tie_in(x, y)`` -> ``y``), made
    #: only where evaluating the argument does nothing (a name, names' attributes, a literal)
    drops: frozenset[str] = frozenset()

    @property
    def safe(self) -> bool:
        return self.applicability is Applicability.SAFE

    @property
    def caught(self) -> str:
        """A statement fix's ``except`` clause's exceptions, as written there."""
        return self.catch[0] if len(self.catch) == 1 else f"({', '.join(self.catch)})"

    def literal(self, old: str) -> str | None:
        """A value fix's new text for a string literal's text ``old``, if it has one."""
        return dict(self.literals).get(old)


def value_map(raw: str) -> dict[str, str]:
    """A placeholder's ``map:`` items (``ffill=ffill,pad=ffill``) as a dict. Items are separated
    by the commas outside brackets and strings, so that a value may hold one
    (``list=[1, 2],pair=('a', 'b')``); a key ends at its first ``=``."""
    message = f"a value map must be key=value items separated by commas, on one line: {raw!r}"
    try:
        tokens = [] if "\n" in raw else list(tokenize.generate_tokens(io.StringIO(raw).readline))
    except (tokenize.TokenError, SyntaxError):
        raise RecordError(message) from None
    cuts, depth = [], 0
    for t in tokens:
        if t.type == tokenize.OP and t.string in "([{":
            depth += 1
        elif t.type == tokenize.OP and t.string in ")]}":
            depth -= 1
        elif t.type == tokenize.OP and t.string == "," and depth == 0:
            cuts.append(t.start[1])
    bounds = zip([-1, *cuts], [*cuts, len(raw)], strict=True)
    items = [raw[a + 1 : b].strip().partition("=") for a, b in bounds]
    if not tokens or not raw.strip() or any(not key.strip() or not eq for key, eq, _ in items):
        raise RecordError(message)
    return {key.strip(): value.strip() for key, _, value in items}


@dataclass(frozen=True)
class Example:
    old: str
    new: str


@dataclass(frozen=True)
class Dependency:
    """A distribution the library stopped installing (from the record's version on), which code
    importing one of ``imports`` must now declare itself: ``pytz`` for pandas 3.0."""

    requirement: str  # a PEP 508 requirement, written as the record gives it
    imports: tuple[str, ...]  # the top-level modules it provides

    @property
    def name(self) -> str:
        return canonical_name(Requirement(self.requirement).name)


@dataclass(frozen=True)
class ApiChange:
    id: str
    library: str
    symbol: str
    kind: RecordKind
    note: str
    source_url: str
    source_version: str
    deprecated_in: Version | None = None
    removed_in: Version | None = None
    changed_in: Version | None = None
    replacement: str | None = None
    fix: Fix | None = None
    examples: tuple[Example, ...] = ()
    unless_keyword: str | None = None  # a call passing this keyword is not affected
    #: callable(param): a call passing one of these keywords, with a value other than ``None``,
    #: is not affected (``np.unique(a, return_inverse=True, axis=0)``)
    unless_passed: tuple[str, ...] = ()
    max_positional: int | None = None  # only calls passing more positional arguments break
    values: tuple[str, ...] = ()  # callable(param): only these values (as written) are affected
    #: with ``values``: match instead an argument written as a name or an attribute
    #: (``copy=copy``), which may hold one of the values at run time
    unseen: bool = False
    value_forms: ValueForms | None = None  # with values: their other spellings ('5H' of 'H')
    position: int | None = None  # callable(param) with values: its index when passed by position
    hook: bool = False  # a method subclasses override: flag overriding definitions too
    key: SubscriptKey | None = None  # __getitem__/__setitem__: the subscripts matched
    #: with ``key``: only objects whose constructor call passed one of these keywords an
    #: argument of one of the classes ("str": a list or tuple of string literals)
    made_with: tuple[tuple[str, tuple[str, ...]], ...] = ()
    api: Api = Api.PUBLIC  # private: changed without deprecation, cited from its pull request
    #: a dependency the library no longer installs, which code importing it must declare
    requirement: Dependency | None = None
    origin: str = field(default="", compare=False)  # "file:line", for messages

    def matches_value(self, written: str) -> bool:
        """Whether an argument, as written, is one of the ``values`` (or one of their
        ``value_forms``: ``'5H'`` where ``'H'`` is listed)."""
        if written in self.values:
            return True
        return _PLAIN_STRING.fullmatch(written) is not None and bool(
            self._value_form(written[1:-1])
        )

    def new_value(self, literal: str, fix: Fix | None = None) -> str | None:
        """A value fix's new text for a string literal's text: the map's, else the map's new
        alias in the same form (``5H`` -> ``5h``, ``A-DEC`` -> ``YE-DEC``). ``fix``: the fix the
        finding makes, when not the record's own."""
        fix = fix or self.fix
        if fix is None:
            return None
        new = fix.literal(literal)
        form = self._value_form(literal)
        if new is not None or form is None:
            return new
        before, alias, after = form
        if (mapped := fix.literal(alias)) is not None:
            return before + mapped + after
        if (mapped := fix.literal(alias + after)) is not None:
            return before + mapped
        return None

    def _value_form(self, literal: str) -> tuple[str, str, str] | None:
        """A string literal's text in a form of an alias among ``values``, split."""
        if self.value_forms is None:
            return None
        form = self.value_forms.split(literal)
        if form is None:
            return None
        listed = (
            self.value_forms.split(v[1:-1]) for v in self.values if _PLAIN_STRING.fullmatch(v)
        )
        return form if form[1] in {f[1] for f in listed if f is not None} else None

    @property
    def path(self) -> str:
        """The dotted path of the symbol, without a parameter: ``pandas.read_csv``."""
        return _SYMBOL.match(self.symbol).group("path")  # type: ignore[union-attr]

    @property
    def parameter(self) -> str | None:
        """The keyword parameter a ``callable(param)`` symbol names, else None."""
        return _SYMBOL.match(self.symbol).group("param")  # type: ignore[union-attr]

    @property
    def effective_in(self) -> Version | None:
        """The version from which the old code breaks or behaves differently."""
        return self.removed_in or self.changed_in

    @property
    def display_version(self) -> str:
        v = self.effective_in or self.deprecated_in
        return str(v) if v else "?"


@dataclass(frozen=True)
class LoadProblem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class TupleFactory:
    """A call whose result unpacks into objects of known classes (``fig, ax = plt.subplots()``),
    unless it is called with positional arguments or one of ``unless_keywords``."""

    returns: tuple[str | None, ...]
    unless_keywords: tuple[str, ...] = ()


_V = TypeVar("_V")


@dataclass(frozen=True)
class KnownTypes:
    """What the detector knows of the libraries' classes, from ``kb/types.json``: the classes
    whose methods records name, the calls whose result's class is evident (``factories``; a
    constructor is a factory of its own class), attributes of an evident object with their
    class (``df.style`` is a Styler), and :class:`TupleFactory` calls. It resolves
    ``df = pd.read_csv(...); df.append(...)``."""

    classes: frozenset[str] = frozenset()
    factories: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    tuple_factories: Mapping[str, TupleFactory] = field(default_factory=dict)
    #: class -> its nearest base classes among the classes named here, nearest first
    #: (``pandas.DatetimeIndex`` -> ``pandas.Index``): what a record on a base applies to
    bases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: class -> the members it defines itself, which records on its bases do not reach
    #: (``numpy.matrix`` keeps a ``ptp`` of its own where ``numpy.ndarray`` lost it), or a
    #: keyword of one (``copy(names)``: MultiIndex.copy still takes ``names``)
    overrides: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def merged(self, other: KnownTypes) -> KnownTypes:
        """Both sets of facts; ``other`` wins where both name the same call, attribute or
        class's bases."""
        return KnownTypes(
            self.classes | other.classes,
            {**self.factories, **other.factories},
            {**self.attributes, **other.attributes},
            {**self.tuple_factories, **other.tuple_factories},
            {**self.bases, **other.bases},
            {**self.overrides, **other.overrides},
        )

    def ancestors(self, cls: str) -> tuple[str, ...]:
        """The base classes of ``cls`` that :attr:`bases` names, transitively, nearest first
        (depth first, each once: Python's order for the single-inheritance chains recorded)."""
        found: list[str] = []
        todo = list(reversed(self.bases.get(cls, ())))
        while todo:
            base = todo.pop()
            if base not in found and base != cls:
                found.append(base)
                todo.extend(reversed(self.bases.get(base, ())))
        return tuple(found)

    def inherited(self, table: Mapping[str, _V]) -> dict[str, _V]:
        """``table`` (a dotted ``Class.member`` -> its value) with what each subclass inherits:
        a member a class has no entry for takes its nearest ancestor's (as an attribute lookup
        does), unless the class, or a base nearer than that ancestor, overrides it. A key may
        carry a keyword (``Class.member(keyword)``), overridden with its member or alone."""
        members: dict[str, dict[str, _V]] = {}
        for path, value in table.items():
            owner, _, member = path.rpartition(".")
            members.setdefault(owner, {})[member] = value
        out = dict(table)
        for cls in self.bases:
            own = set(self.overrides.get(cls, ()))
            for ancestor in self.ancestors(cls):
                for member, value in members.get(ancestor, {}).items():
                    if member not in own and member.partition("(")[0] not in own:
                        out.setdefault(f"{cls}.{member}", value)
                own |= self.overrides.get(ancestor, frozenset())
        return out


TYPES_FILE = "types.json"


@dataclass
class KnowledgeBase:
    """The records, what could not be loaded, and the facts about classes the detector uses
    (empty unless given: :func:`load_knowledge_base` reads them with the records)."""

    records: list[ApiChange]
    problems: list[LoadProblem]
    types: KnownTypes = field(default_factory=KnownTypes)

    def __post_init__(self) -> None:
        self.by_path: dict[str, list[ApiChange]] = {}
        for r in self.records:
            self.by_path.setdefault(r.path, []).append(r)

    def for_library(self, library: str) -> list[ApiChange]:
        name = canonical_name(library)
        return [r for r in self.records if r.library == name]

    def libraries(self) -> list[str]:
        return sorted({r.library for r in self.records})

    def get(self, record_id: str) -> ApiChange | None:
        return next((r for r in self.records if r.id == record_id), None)

    def restricted(self, libraries: Iterable[str]) -> KnowledgeBase:
        keep = {canonical_name(x) for x in libraries}
        return self.with_records([r for r in self.records if r.library in keep])

    def with_records(self, records: list[ApiChange]) -> KnowledgeBase:
        """The same knowledge base (problems, types) holding only ``records``."""
        return replace(self, records=records)


def _version(raw: object, name: str) -> Version | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise RecordError(f"{name} must be a version string, got {raw!r}")
    try:
        return Version(raw)
    except InvalidVersion:
        raise RecordError(f"{name} is not a PEP 440 version: {raw!r}") from None


def _text(raw: dict, name: str, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise RecordError(f"missing field {name!r}")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{name} must be a non-empty string")
    return value


def parse_record(raw: object, origin: str = "") -> ApiChange:
    """Validate one decoded JSON object and build the record, or raise :class:`RecordError`."""
    if not isinstance(raw, dict):
        raise RecordError("a record must be a JSON object")
    unknown = set(raw) - _ALLOWED
    if unknown:
        raise RecordError(f"unknown field(s): {', '.join(sorted(unknown))}")
    rid = _text(raw, "id")
    library = canonical_name(_text(raw, "library"))
    symbol = _text(raw, "symbol")
    match = _SYMBOL.match(symbol)
    if not match:
        raise RecordError(f"symbol {symbol!r} is not a dotted path or path(param)")
    roots = IMPORT_NAMES.get(library, (library.replace("-", "_"),))
    if match.group("path").split(".")[0] not in roots:
        raise RecordError(f"symbol {symbol!r} does not start with {library}'s import name")
    try:
        kind = RecordKind(_text(raw, "kind"))
    except ValueError:
        raise RecordError(f"kind must be one of {', '.join(KINDS)}, got {raw['kind']!r}") from None
    versions = {
        name: _version(raw.get(name), name)
        for name in ("deprecated_in", "removed_in", "changed_in")
    }
    deprecated_in, removed_in, changed_in = versions.values()
    if all(versions[name] is None for name in kind.needs):
        raise RecordError(f"a {kind} record needs {' or '.join(kind.needs)}")
    if deprecated_in and (removed_in or changed_in) and deprecated_in > (removed_in or changed_in):
        raise RecordError("deprecated_in is later than the removal/change")
    note = _text(raw, "note")
    source = raw.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("url"), str):
        raise RecordError('source must be {"url": ..., "version": ...}')
    if not source["url"].startswith(("https://", "http://")):
        raise RecordError(f"source url is not a URL: {source['url']!r}")
    source_version = source.get("version")
    if not isinstance(source_version, str):
        raise RecordError("source.version must be a string")
    fix = _parse_fix(raw.get("fix"), match.group("param"))
    examples = []
    for ex in raw.get("examples") or []:
        if (
            not isinstance(ex, dict)
            or not isinstance(ex.get("old"), str)
            or not isinstance(ex.get("new"), str)
        ):
            raise RecordError('each example must be {"old": str, "new": str}')
        examples.append(Example(ex["old"], ex["new"]))
    unless = _text(raw, "unless_keyword", required=False)
    if unless is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", unless):
        raise RecordError("unless_keyword must be a parameter name")
    unless_passed = raw.get("unless_passed", [])
    if (
        not isinstance(unless_passed, list)
        or not all(isinstance(k, str) and _NAME.fullmatch(k) for k in unless_passed)
        or unless_passed
        and match.group("param") is None
    ):
        raise RecordError("unless_passed must list keyword names, for a callable(param) record")
    max_positional = raw.get("max_positional")
    if max_positional is not None and (
        not isinstance(max_positional, int)
        or isinstance(max_positional, bool)
        or max_positional < 0
    ):
        raise RecordError("max_positional must be a non-negative integer")
    values = raw.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise RecordError("values must be a list of source texts")
    if values and match.group("param") is None:
        raise RecordError("values applies only to a callable(param) symbol")
    position = raw.get("position")
    if position is not None and (
        not isinstance(position, int) or isinstance(position, bool) or position < 0
    ):
        raise RecordError("position must be a non-negative integer")
    if position is not None and not values and not unless:
        raise RecordError("position applies only to a record with values or unless_keyword")
    unseen = raw.get("unseen", False)
    if not isinstance(unseen, bool):
        raise RecordError("unseen must be true or false")
    if unseen and (not values or position is not None):
        raise RecordError("unseen applies only to a record with values, matched by keyword")
    forms = raw.get("value_forms")
    if forms is not None:
        if not values:
            raise RecordError("value_forms applies only to a record with values")
        try:
            forms = ValueForms(forms)
        except ValueError:
            raise RecordError(
                f"value_forms must be one of {', '.join(ValueForms)}, got {forms!r}"
            ) from None
    if fix is not None and fix.kind is FixKind.VALUE:
        _check_value_fix(fix, values)
    hook = raw.get("hook", False)
    if not isinstance(hook, bool):
        raise RecordError("hook must be true or false")
    key, made_with = _subscript(raw, match.group("path"), match.group("param"))
    try:
        api = Api(raw.get("api", Api.PUBLIC))
    except ValueError:
        raise RecordError(f"api must be one of {', '.join(Api)}, got {raw['api']!r}") from None
    if api is Api.PRIVATE and not _UPSTREAM_CHANGE.match(source["url"]):
        raise RecordError(
            "a private-API record cites the upstream pull request or commit that made the change"
            " (https://github.com/OWNER/REPO/pull/N or .../commit/SHA)"
        )
    requirement = _dependency(raw.get("requirement"), kind)
    return ApiChange(
        id=rid,
        library=library,
        symbol=symbol,
        kind=kind,
        note=note,
        source_url=source["url"],
        source_version=source_version,
        deprecated_in=deprecated_in,
        removed_in=removed_in,
        changed_in=changed_in,
        replacement=_text(raw, "replacement", required=False),
        fix=fix,
        examples=tuple(examples),
        unless_keyword=unless,
        unless_passed=tuple(unless_passed),
        max_positional=max_positional,
        values=tuple(values),
        unseen=unseen,
        value_forms=forms,
        position=position,
        hook=hook,
        key=key,
        made_with=made_with,
        api=api,
        requirement=requirement,
        origin=origin,
    )


def _dependency(raw: object, kind: RecordKind) -> Dependency | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"name", "imports"}:
        raise RecordError('requirement must be {"name": "pytz", "imports": ["pytz"]}')
    if kind is not RecordKind.BEHAVIOR:
        raise RecordError("requirement applies only to a behavior record")
    text, imports = raw["name"], raw["imports"]
    try:
        req = Requirement(text) if isinstance(text, str) else None
    except InvalidRequirement as exc:
        raise RecordError(f"requirement.name {text!r}: {exc}") from None
    if req is None or req.url or req.marker or req.extras:
        raise RecordError(f"requirement.name {text!r}: a name, with a version range at most")
    if (
        not isinstance(imports, list)
        or not imports
        or not all(isinstance(m, str) and m.isidentifier() for m in imports)
    ):
        raise RecordError("requirement.imports must list top-level module names")
    return Dependency(text, tuple(imports))


_SUBSCRIPT_METHODS = ("__getitem__", "__setitem__")


def _subscript(
    raw: Mapping[str, Any], path: str, param: str | None
) -> tuple[SubscriptKey | None, tuple[tuple[str, tuple[str, ...]], ...]]:
    """A subscript record's ``key`` and ``made_with`` (see kb/README.md), checked."""
    key, made_with = raw.get("key"), raw.get("made_with")
    if key is None:
        if made_with is not None:
            raise RecordError("made_with applies only to a record with key")
        return None, ()
    try:
        kind = SubscriptKey(key)
    except ValueError:
        keys = ", ".join(k.value for k in SubscriptKey)
        raise RecordError(f"key must be one of {keys}, got {key!r}") from None
    if param is not None or path.rpartition(".")[2] not in _SUBSCRIPT_METHODS:
        raise RecordError("key applies only to a Class.__getitem__ or Class.__setitem__ symbol")
    if made_with is None:
        return kind, ()
    if (
        not isinstance(made_with, dict)
        or not made_with
        or not all(
            re.fullmatch(r"[A-Za-z_]\w*", kw)
            and isinstance(classes, list)
            and classes
            and all(isinstance(c, str) and c for c in classes)
            for kw, classes in made_with.items()
        )
    ):
        raise RecordError("made_with must map keyword names to non-empty lists of classes")
    return kind, tuple((kw, tuple(classes)) for kw, classes in made_with.items())


def _check_value_fix(fix: Fix, values: list[str]) -> None:
    """A value fix maps the texts of the string literals among the record's ``values``."""
    if not values:
        raise RecordError("a value fix needs the record's values")
    literals = {v[1:-1] for v in values if _PLAIN_STRING.fullmatch(v)}
    stray = [old for old, _ in fix.literals if old not in literals]
    if stray:
        raise RecordError(
            f"fix.map names {', '.join(map(repr, stray))}, which values does not list as a string"
        )


#: A plain one-line string literal without escapes, as ``values`` lists them (``'M'``, ``"M"``).
_PLAIN_STRING = re.compile(r"'[^'\\\n]*'|\"[^\"\\\n]*\"")


_FIX_FIELDS = {
    "kind",
    "map",
    "to",
    "module",
    "names",
    "template",
    "args",
    "target",
    "applicability",
    "unsafe_because",
    "through_class",
    "when_passed",
    "instance_test",
    "assigned",
    "catch",
    "fallback",
    "then",
    "drops",
}


def _parse_fix(raw: object, param: str | None, nested: bool = False) -> Fix | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("kind") not in FIX_KINDS:
        raise RecordError(f"fix.kind must be one of {', '.join(FIX_KINDS)}")
    outer = {"through_class", "when_passed", "instance_test", "assigned"}
    unknown = set(raw) - (_FIX_FIELDS - outer if nested else _FIX_FIELDS)
    if unknown:
        raise RecordError(f"unknown fix field(s): {', '.join(sorted(unknown))}")
    for key in ("then", "drops"):
        if key in raw and raw["kind"] != FixKind.TEMPLATE.value:
            raise RecordError(f"fix.{key} belongs to a template fix")
    fix = FixKind(raw["kind"]).parse(raw, param)
    safety = raw.get("applicability", "safe")
    try:
        applicability = Applicability(safety)
    except ValueError:
        raise RecordError(f"fix.applicability must be safe or unsafe, got {safety!r}") from None
    because = raw.get("unsafe_because")
    if applicability is Applicability.UNSAFE and (
        not isinstance(because, str) or not because.strip()
    ):
        raise RecordError("an unsafe fix needs unsafe_because: the case where behaviour differs")
    if applicability is Applicability.SAFE and because is not None:
        raise RecordError("unsafe_because belongs to an unsafe fix")
    through_class = None
    if "through_class" in raw:
        through_class = _parse_fix(raw["through_class"], param, nested=True)
        if through_class is None:
            raise RecordError("fix.through_class must be a fix")
    instance_test = None
    if "instance_test" in raw:
        instance_test = _parse_fix(raw["instance_test"], param, nested=True)
        if (
            instance_test is None
            or instance_test.kind is not FixKind.TEMPLATE
            or instance_test.target is not Target.CALL
            or len(instance_test.args) != 1
            or instance_test.positional != 1
            or "{rest}" in (instance_test.template or "")
        ):
            raise RecordError(
                "fix.instance_test must be a template of the object alone: args [name], {0}"
            )
    assigned = None
    if "assigned" in raw:
        assigned = _parse_fix(raw["assigned"], param, nested=True)
        if assigned is None or assigned.target is not Target.ASSIGNMENT:
            raise RecordError('fix.assigned must be a template fix with "target": "assignment"')
        if fix.target is not Target.REFERENCE:
            raise RecordError("fix.assigned belongs to a reference template")
    when_passed = raw.get("when_passed", {})
    if not isinstance(when_passed, dict) or not all(_PASSED.fullmatch(k) for k in when_passed):
        raise RecordError(
            "fix.when_passed must map keyword names to fixes (a key may give the value too: "
            "name=value, as written or a string's text)"
        )
    return replace(
        fix,
        applicability=applicability,
        unsafe_because=because,
        through_class=through_class,
        instance_test=instance_test,
        assigned=assigned,
        when_passed=tuple(
            (k, _parse_fix(v, param, nested=True) or _no_fix(k)) for k, v in when_passed.items()
        ),
    )


def _no_fix(keyword: str) -> Fix:
    raise RecordError(f"fix.when_passed.{keyword} must be a fix")


def _parse_rename(kind: FixKind, raw: dict) -> Fix:
    """A rename or keyword_rename fix: the new name in ``to``; a rename may name the submodule
    that must be imported to reach it (``module``)."""
    to = raw.get("to")
    pattern = r"[A-Za-z_][A-Za-z0-9_]*" if kind is FixKind.KEYWORD_RENAME else r"[\w.]+"
    if not isinstance(to, str) or not re.fullmatch(pattern, to):
        raise RecordError(f"a {kind} fix needs a valid 'to'")
    module = raw.get("module")
    if module is not None and (
        kind is not FixKind.RENAME
        or not isinstance(module, str)
        or not re.fullmatch(r"[\w.]+", module)
        or not to.startswith(module + ".")
    ):
        raise RecordError("fix.module must be a module path that 'to' starts with")
    names = raw.get("names", [])
    if (
        not isinstance(names, list)
        or (names and kind is not FixKind.RENAME)
        or not all(isinstance(n, str) and _NAME.fullmatch(n) for n in names)
        or "names" in raw
        and not names
    ):
        raise RecordError("fix.names must be a non-empty list of the names a renamed module keeps")
    return Fix(kind, to=to, module=module, names=frozenset(names))


def _parse_keyword_drop(kind: FixKind, raw: dict) -> Fix:
    if "map" in raw:
        raise RecordError("fix.map belongs to a value fix")
    return Fix(kind)


#: What a value fix may write inside a literal's quotes: no quote, backslash or line break, so
#: that it means the same between any quotes the user chose.
_LITERAL_TEXT = re.compile(r"[^'\"\\\r\n]+")


def _parse_value(kind: FixKind, raw: dict) -> Fix:
    """A value fix: ``{"kind": "value", "map": {"M": "ME"}}`` rewrites a string literal passed
    for the parameter, its quotes and prefix kept."""
    table = raw.get("map")
    if (
        not isinstance(table, dict)
        or not table
        or not all(
            isinstance(k, str)
            and isinstance(v, str)
            and _LITERAL_TEXT.fullmatch(k)
            and _LITERAL_TEXT.fullmatch(v)
            for k, v in table.items()
        )
    ):
        raise RecordError(
            "a value fix needs 'map': an object of literal texts (no quotes, backslashes or "
            "line breaks) to their new texts"
        )
    return Fix(kind, literals=tuple(table.items()))


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A ``when_passed`` key: a keyword, or a keyword with the value it is passed (``axis=1``).
_PASSED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(=[^\s{}]+)?")


def _parse_template(kind: FixKind, raw: dict) -> Fix:
    """A template fix, checked as far as it can be without a call: its placeholders name
    parameters it has, and it renders a Python expression."""
    template = raw.get("template")
    args = raw.get("args", [])
    if (
        not isinstance(template, str)
        or not isinstance(args, list)
        or not all(isinstance(a, str) for a in args)
    ):
        raise RecordError("a template fix needs 'template' (str) and 'args' (list of names)")
    try:
        target = Target(raw.get("target", "call"))
    except ValueError:
        raise RecordError("fix.target must be call, reference, statement or assignment") from None
    positional = args.index("*") if "*" in args else len(args)
    names = [a for a in args if a != "*"]
    if args.count("*") > 1 or not all(_NAME.fullmatch(a) for a in names):
        raise RecordError("fix.args must be parameter names, with at most one '*'")
    if len(set(names)) != len(names):
        raise RecordError("fix.args names a parameter twice")
    if target in (Target.REFERENCE, Target.ASSIGNMENT) and names:
        raise RecordError(f"a template for {target.value} has no arguments")
    if (target is Target.ASSIGNMENT) != any(
        m.group("token") == "value" for m in PLACEHOLDER.finditer(template)
    ):
        raise RecordError("{value}, the value assigned, stands in an assignment's template alone")
    rests = 0
    for m in PLACEHOLDER.finditer(template):
        token = m.group("token")
        if m.group("map") is not None:
            if token in ("self", "rest") or token.startswith("mod:"):
                raise RecordError(f"only an argument's value can be mapped: {m.group(0)!r}")
            value_map(m.group("map"))
        if token == "rest":
            rests += 1
        if token == "then" and (m.group("map") is not None or target is not Target.CALL):
            raise RecordError("{then} is not mapped, and stands only in a call's template")
        if token == "value" and m.group("map") is not None:
            raise RecordError("{value} is not mapped")
        if target in (Target.REFERENCE, Target.ASSIGNMENT) and (
            token == "rest" or token.isdigit() or token.startswith("kw:")
        ):
            raise RecordError(f"a template for a reference has no arguments: {m.group(0)!r}")
        if token.isdigit() and int(token) >= positional:
            raise RecordError(f"{m.group(0)} is not one of the positional parameters in args")
        if token.startswith("kw:") and token[3:] not in names:
            raise RecordError(f"{m.group(0)} names a parameter that args does not list")
    if rests > 1:
        raise RecordError("a template has at most one {rest}")
    then = raw.get("then", [])
    if (
        not isinstance(then, list)
        or not all(isinstance(t, str) and _NAME.fullmatch(t) for t in then)
        or bool(then) != ("{then}" in template)
        or template.count("{then}") > 1
    ):
        raise RecordError(
            "fix.then lists the method names whose call on the result {then} writes, once"
        )
    drops = raw.get("drops", [])
    written = {
        names[int(t)] if t.isdigit() else t[3:]
        for t in (m.group("token") for m in PLACEHOLDER.finditer(template))
        if t.isdigit() or t.startswith("kw:")
    }
    if (
        not isinstance(drops, list)
        or not all(isinstance(d, str) and d in names and d not in written for d in drops)
        or len(set(drops)) != len(drops)
    ):
        raise RecordError(
            "fix.drops lists parameters of args, once each, that no placeholder writes"
        )
    leftover = PLACEHOLDER.sub("", template)
    if "{" in leftover or "}" in leftover:
        raise RecordError(f"a template has a brace that is not a placeholder: {template!r}")
    for rest in ([], ["x"]):  # both without and with arguments left for {rest}
        _check_expression(template, rest, statement=target is Target.STATEMENT)
    module = raw.get("module")
    if module is not None and (
        not isinstance(module, str)
        or not re.fullmatch(r"[\w.]+", module)
        or "{mod:" + module + "." not in template
    ):
        raise RecordError(
            "fix.module must be a module path a {mod:...} of the template starts with"
        )
    return Fix(
        kind,
        template=template,
        args=tuple(names),
        positional=positional,
        target=target,
        module=module,
        then=frozenset(then),
        drops=frozenset(drops),
    )


def _parse_statement(kind: FixKind, raw: dict) -> Fix:
    """A statement fix: the exceptions to catch (builtin names), and the fallback, a template
    over the call's arguments (``{0}``, ``{kw:name}``) that stands for the call in ``except``."""
    catch = raw.get("catch")
    if (
        not isinstance(catch, list)
        or not catch
        or not all(isinstance(c, str) and c in _BUILTIN_EXCEPTIONS for c in catch)
    ):
        raise RecordError("a statement fix needs 'catch', a list of builtin exception names")
    fallback = raw.get("fallback")
    if not isinstance(fallback, str) or any(
        m.group("token") in ("self", "rest") or m.group("token").startswith("mod:")
        for m in PLACEHOLDER.finditer(fallback)
    ):
        raise RecordError("a statement fix needs 'fallback', a template of the call's arguments")
    checked = _parse_template(FixKind.TEMPLATE, {"template": fallback, "args": raw.get("args", [])})
    return replace(checked, kind=kind, template=None, catch=tuple(catch), fallback=fallback)


def _parse_base(kind: FixKind, raw: dict) -> Fix:
    """A base fix: the class to derive from, by its full path (``sklearn.base.BaseEstimator``)."""
    to = raw.get("to")
    if not isinstance(to, str) or not re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", to):
        raise RecordError("a base fix needs 'to', the full path of the class to derive from")
    return Fix(kind, to=to)


def _parse_hook(kind: FixKind, raw: dict) -> Fix:
    """A hook fix: the new method's name (``to``) and each dict key's attribute path (``map``)."""
    to, table = raw.get("to"), raw.get("map")
    if not isinstance(to, str) or not _NAME.fullmatch(to):
        raise RecordError("a hook fix needs 'to', the name of the method that takes its place")
    path = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
    if (
        not isinstance(table, dict)
        or not table
        or not all(
            isinstance(k, str)
            and _LITERAL_TEXT.fullmatch(k)
            and isinstance(v, str)
            and path.fullmatch(v)
            for k, v in table.items()
        )
    ):
        raise RecordError("a hook fix needs 'map': the dict's keys to the attribute paths they set")
    return Fix(kind, to=to, literals=tuple(table.items()))


#: The exceptions a statement fix may catch: builtins, so that the fix needs no import.
_BUILTIN_EXCEPTIONS = frozenset(
    n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)
)


#: How each fix kind's fields are read (:meth:`FixKind.parse`).
_FIX_PARSERS: dict[FixKind, Callable[[FixKind, dict], Fix]] = {
    FixKind.RENAME: _parse_rename,
    FixKind.KEYWORD_RENAME: _parse_rename,
    FixKind.KEYWORD_DROP: _parse_keyword_drop,
    FixKind.TEMPLATE: _parse_template,
    FixKind.VALUE: _parse_value,
    FixKind.STATEMENT: _parse_statement,
    FixKind.BASE: _parse_base,
    FixKind.HOOK: _parse_hook,
}


def _check_expression(template: str, rest: list[str], statement: bool = False) -> None:
    """That the template renders a Python expression, or for a ``statement`` target one simple
    statement on one line."""
    marker = "\0"
    filled = PLACEHOLDER.sub(
        lambda m: {"rest": marker, "then": ".x()"}.get(m.group("token"), "x"), template
    )
    code = fill_rest(filled, marker, rest)
    try:
        if not statement:
            ast.parse("(" + code + ")", mode="eval")
        elif "\n" in code or len(ast.parse(code).body) != 1:
            raise SyntaxError
    except SyntaxError:
        what = "one simple statement" if statement else "a Python expression"
        raise RecordError(f"the template is not {what}: {template!r}") from None


def fill_rest(rendered: str, marker: str, parts: list[str]) -> str:
    """Put ``parts`` (arguments as written) where ``marker`` (``{rest}``) is, separated by
    ``, ``, with a ``, `` before them where the template has an argument before the
    placeholder and after them where one follows; with no parts, the placeholder goes, and
    with it a ``, `` that would otherwise meet another or a bracket."""
    at = rendered.find(marker)
    if at < 0:
        return rendered
    before, after = rendered[:at], rendered[at + len(marker) :]
    if not parts:  # one separator goes where two would meet, or one would meet a bracket
        if before.endswith(", ") and (after.startswith(", ") or after.lstrip()[:1] in (")", "]")):
            return before[:-2] + after
        if after.startswith(", ") and before.rstrip()[-1:] in ("(", "["):
            return before + after[2:]
        return before + after
    joined = ", ".join(parts)
    if before.rstrip() and not before.rstrip().endswith(("(", "[", ",")):
        joined = ", " + joined
    if after.lstrip() and not after.lstrip().startswith((")", "]", ",")):
        joined += ", "
    return before + joined + after


def iter_jsonl(data: bytes) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSONL file's bytes, numbered, read as ``open()`` reads text
    (UTF-8, universal newlines)."""
    with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, line


_LIBRARY_FIELD = re.compile(r'"library"\s*:\s*"([^"\\]*)"')


def load_file(
    path: Path, libraries: set[str] | None = None
) -> tuple[list[ApiChange], list[LoadProblem]]:
    """The records of one JSONL file; with ``libraries`` (canonical names), a line whose
    ``"library"`` field names another library is skipped unread (not checked either).
    Parsed once per content: later loads read the result from :mod:`kb_cache`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [LoadProblem(str(path), 0, f"cannot read: {exc}")]
    return kb_cache.cached(
        path, data, libraries, lambda: _parse_file(path, data, libraries), _is_parsed_file
    )


def _is_parsed_file(found: object) -> bool:
    """Whether a cache entry holds what :func:`_parse_file` returns."""
    return (
        isinstance(found, tuple)
        and len(found) == 2
        and isinstance(found[0], list)
        and isinstance(found[1], list)
        and all(isinstance(r, ApiChange) for r in found[0])
        and all(isinstance(p, LoadProblem) for p in found[1])
    )


def _parse_file(
    path: Path, data: bytes, libraries: set[str] | None
) -> tuple[list[ApiChange], list[LoadProblem]]:
    records: list[ApiChange] = []
    problems: list[LoadProblem] = []
    try:
        lines = list(iter_jsonl(data))
    except UnicodeDecodeError as exc:
        return [], [LoadProblem(str(path), 0, f"cannot read: {exc}")]
    for number, line in lines:
        if libraries is not None:
            named = _LIBRARY_FIELD.search(line)
            if named is not None and canonical_name(named.group(1)) not in libraries:
                continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(LoadProblem(str(path), number, f"not valid JSON: {exc.msg}"))
            continue
        try:
            records.append(parse_record(raw, origin=f"{path.name}:{number}"))
        except RecordError as exc:
            rid = raw.get("id") if isinstance(raw, dict) else None
            prefix = f"record {rid!r}: " if rid else ""
            problems.append(LoadProblem(str(path), number, prefix + str(exc)))
    return records, problems


def _names(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise RecordError(f"{where} must be a list of dotted names")
    return tuple(raw)


def _name_map(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v for v in raw.values()):
        raise RecordError(f"{where} must map dotted names to class names")
    return dict(raw)


def parse_types(raw: object) -> KnownTypes:
    """A ``types.json`` document as :class:`KnownTypes`; :class:`RecordError` names the
    first key that breaks its shape (see ``kb/README.md``)."""
    if not isinstance(raw, dict):
        raise RecordError("the top level must be an object")
    unknown = set(raw) - {
        "_comment",
        "classes",
        "factories",
        "attributes",
        "tuple_factories",
        "bases",
        "overrides",
    }
    if unknown:
        raise RecordError(f"unknown keys: {', '.join(sorted(unknown))}")
    tuples: dict[str, TupleFactory] = {}
    tuple_raw = raw.get("tuple_factories", {})
    if not isinstance(tuple_raw, dict):
        raise RecordError("tuple_factories must be an object")
    for call, spec in tuple_raw.items():
        where = f"tuple_factories[{call!r}]"
        if not isinstance(spec, dict) or set(spec) - {"returns", "unless_keywords"}:
            raise RecordError(f"{where} holds returns and unless_keywords only")
        returns = spec.get("returns")
        if not isinstance(returns, list) or not all(
            x is None or (isinstance(x, str) and x) for x in returns
        ):
            raise RecordError(f"{where}.returns must list class names (null: unknown)")
        tuples[call] = TupleFactory(
            tuple(returns), _names(spec.get("unless_keywords", []), f"{where}.unless_keywords")
        )
    bases = {
        cls: _names(listed, f"bases[{cls!r}]")
        for cls, listed in _object(raw.get("bases", {}), "bases").items()
    }
    found = KnownTypes(
        classes=frozenset(_names(raw.get("classes", []), "classes")),
        factories=_name_map(raw.get("factories", {}), "factories"),
        attributes=_name_map(raw.get("attributes", {}), "attributes"),
        tuple_factories=tuples,
        bases=bases,
        overrides={
            cls: frozenset(_names(listed, f"overrides[{cls!r}]"))
            for cls, listed in _object(raw.get("overrides", {}), "overrides").items()
        },
    )
    for cls in bases:
        if _cyclic(bases, cls):
            raise RecordError(f"bases[{cls!r}]: a class cannot be its own base")
    return found


def _object(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RecordError(f"{where} must map class names to lists of names")
    return raw


def _cyclic(bases: Mapping[str, tuple[str, ...]], cls: str) -> bool:
    """Whether ``cls`` is reached again by following ``bases`` from it."""
    seen: set[str] = set()
    todo = list(bases.get(cls, ()))
    while todo:
        base = todo.pop()
        if base == cls:
            return True
        if base not in seen:
            seen.add(base)
            todo.extend(bases.get(base, ()))
    return False


def load_types(path: Path) -> tuple[KnownTypes, list[LoadProblem]]:
    """The facts of one ``types.json``; a file that cannot be read or parsed is a problem,
    and then no facts."""
    try:
        raw: Any = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return KnownTypes(), [LoadProblem(str(path), 0, f"cannot read: {exc}")]
    except json.JSONDecodeError as exc:
        return KnownTypes(), [LoadProblem(str(path), exc.lineno, f"not valid JSON: {exc.msg}")]
    try:
        return parse_types(raw), []
    except RecordError as exc:
        return KnownTypes(), [LoadProblem(str(path), 0, str(exc))]


def default_kb_dir() -> Path:
    return Path(__file__).resolve().parent / "kb"


_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """A distribution's name as PEP 503 compares them (``Scikit_Learn`` -> ``scikit-learn``);
    packaging.utils.canonicalize_name, without importing its wheel-tag machinery."""
    return _SEPARATORS.sub("-", name).lower()


def knowledge_base_files(paths: Iterable[Path] | None = None) -> tuple[list[Path], list[Path]]:
    """The JSONL files and the class-fact files :func:`load_knowledge_base` reads for
    ``paths``, in its order (a cache keyed by what a load reads lists them here)."""
    files: list[Path] = []
    type_files: list[Path] = []
    for p in paths if paths is not None else [default_kb_dir()]:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(p.glob("*.jsonl")))
            if (p / TYPES_FILE).is_file():
                type_files.append(p / TYPES_FILE)
        elif p.suffix == ".json":
            type_files.append(p)
        else:
            files.append(p)
    return files, type_files or [default_kb_dir() / TYPES_FILE]


def load_knowledge_base(
    paths: Iterable[Path] | None = None, libraries: Iterable[str] | None = None
) -> KnowledgeBase:
    """Load every ``*.jsonl`` under the given files/folders (default: the shipped base), and
    the class facts of every ``types.json`` among them (a folder's own, or a ``.json`` file
    given by name), validated like the records. Where the given paths hold none (a lone JSONL
    file), the shipped ``types.json`` applies: it describes the libraries, not the records.

    With ``libraries``, only their records: the others are skipped before they are parsed (a
    broken record of another library is then not reported)."""
    keep = {canonical_name(x) for x in libraries} if libraries is not None else None
    files, type_files = knowledge_base_files(paths)
    records: list[ApiChange] = []
    problems: list[LoadProblem] = []
    types = KnownTypes()
    for path in type_files:
        found, trouble = load_types(path)
        types = types.merged(found)
        problems.extend(trouble)
    seen: dict[str, str] = {}
    for f in files:
        recs, probs = load_file(f, keep)
        problems.extend(probs)
        for r in recs:
            if r.id in seen:
                line = int(r.origin.rsplit(":", 1)[1])
                problems.append(
                    LoadProblem(str(f), line, f"duplicate id {r.id!r} (first in {seen[r.id]})")
                )
                continue
            seen[r.id] = r.origin
            records.append(r)
    kb = KnowledgeBase(records, problems, types)
    return kb.restricted(keep) if keep is not None else kb
