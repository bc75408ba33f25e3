"""A failing test's error, mapped to the knowledge-base record that explains it.

The error lines of a traceback (pytest's ``E   `` lines and the failure's message) are matched
against :data:`PATTERNS`, a table of the errors that removed and changed APIs raise. A match
names a symbol (``numpy.float_``), a class member (``DataFrame.append``), a keyword parameter
(``hist(normed)``) or words of a message; the record whose symbol (or note, for messages) fits
is the cause. An error that fits no record but comes from a library of the upgrade, or a
test's own assertion that fails (a result that changed), is an unknown break, reported with a
candidate record for the knowledge base where a symbol is named; anything else (a collection
error or a failure with no library in it) is unrelated to the upgrade.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from recode.dataset.knowledge import IMPORT_NAMES, ApiChange, KnowledgeBase, canonical_name


class ErrorKind(enum.Enum):
    MODULE_ATTRIBUTE = "module attribute"  # AttributeError: module 'numpy' has no attribute 'x'
    OBJECT_ATTRIBUTE = "object attribute"  # AttributeError: 'DataFrame' object has no ...
    IMPORT_NAME = "import name"  # ImportError: cannot import name 'x' from 'm'
    MODULE = "module"  # ModuleNotFoundError: No module named 'm.sub'
    KEYWORD = "keyword"  # TypeError: f() got an unexpected keyword argument 'k'
    REQUIRED = "required keyword"  # TypeError: f() missing 1 required keyword-only argument: 'k'
    VALUE = "value"  # ValueError: Invalid frequency: M (a value a record lists is refused)
    MESSAGE = "message"  # a library's own words: "is no longer supported", "Invalid frequency"


@dataclass(frozen=True)
class Pattern:
    kind: ErrorKind
    regex: re.Pattern[str]
    candidate_kind: str  # the ``kind`` of a knowledge-base record for an unknown break
    module: str | None = None  # the module, where the message names it by its alias
    owner: str | None = None  # the class, where the message names the user's subclass
    symbol: str | None = None  # the record's symbol, where the message names no API
    #: what the ``name`` group would hold where the message implies it without naming it: the
    #: API (an object lacks ``__sklearn_tags__``: ``get_tags``), the refused value (``ignore``)
    name: str | None = None
    #: where the message alone names no API: the library's frame the traceback must show (its
    #: file and function), which says whose method raised (``KeyError: 0`` of a dict is not)
    frame: re.Pattern[str] | None = None

    def raised_in(self, text: str) -> bool:
        """Whether ``text`` (a traceback) shows :attr:`frame`, where one is asked for."""
        return self.frame is None or self.frame.search(text) is not None


#: The table. Named groups: ``module``, ``owner`` (a class), ``name``, ``callable``, ``text``.
PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        ErrorKind.MODULE_ATTRIBUTE,
        re.compile(r"AttributeError: module '(?P<module>[\w.]+)' has no attribute '(?P<name>\w+)'"),
        "removed",
    ),
    Pattern(  # NumPy 2's own message for the names it removed
        ErrorKind.MODULE_ATTRIBUTE,
        re.compile(r"AttributeError: `np\.(?P<name>\w+)` was removed in the NumPy"),
        "removed",
        module="numpy",
    ),
    Pattern(  # NumPy 2.4: an array with ndim > 0 converted to a scalar (float(a), out[i] = a)
        ErrorKind.MODULE_ATTRIBUTE,
        re.compile(
            r"TypeError: only 0-dimensional arrays can be converted to Python scalars"
            r"|ValueError: setting an array element with a sequence\.$"  # not a ragged list's
        ),
        "behavior",
        module="numpy.ndarray",
        name="__float__",
    ),
    Pattern(  # pandas 3: s[0] is a label, never a position, on an index without it
        ErrorKind.MODULE_ATTRIBUTE,
        re.compile(r"^KeyError: -?\d+$"),
        "behavior",
        module="pandas.Series",
        name="__getitem__",
        frame=re.compile(
            r"pandas/core/series\.py(?::\d+: in |\", line \d+, in )__getitem__$", re.M
        ),
    ),
    Pattern(  # scikit-learn 1.8+'s get_tags on an estimator not derived from BaseEstimator
        ErrorKind.MODULE_ATTRIBUTE,
        re.compile(r"AttributeError: (?:.*: )?'\w+' object has no attribute '__sklearn_tags__'"),
        "behavior",
        module="sklearn.utils",
        name="get_tags",
    ),
    Pattern(  # the owner dotted where the class is a builtin type's: 'numpy.ndarray' object
        ErrorKind.OBJECT_ATTRIBUTE,
        re.compile(r"AttributeError: '(?P<owner>[\w.]+)' object has no attribute '(?P<name>\w+)'"),
        "removed",
    ),
    Pattern(
        ErrorKind.OBJECT_ATTRIBUTE,
        re.compile(
            r"AttributeError: type object '(?P<owner>[\w.]+)' has no attribute '(?P<name>\w+)'"
        ),
        "removed",
    ),
    Pattern(
        ErrorKind.IMPORT_NAME,
        re.compile(r"ImportError: cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'"),
        "removed",
    ),
    Pattern(
        ErrorKind.MODULE,
        re.compile(r"ModuleNotFoundError: No module named '(?P<module>[\w.]+)'"),
        "moved",
    ),
    Pattern(
        ErrorKind.KEYWORD,
        re.compile(
            r"TypeError: (?P<callable>[\w.<>]+)\(\) got an unexpected keyword argument "
            r"'(?P<name>\w+)'"
        ),
        "signature",
    ),
    Pattern(  # a keyword the callable now requires (a record with it as ``unless_keyword``)
        ErrorKind.REQUIRED,
        re.compile(
            r"TypeError: (?P<callable>[\w.<>]+)\(\) missing \d+ required keyword-only arguments?: "
            r"'(?P<name>\w+)'"
        ),
        "signature",
    ),
    Pattern(  # pandas' options: pd.option_context("mode.use_inf_as_na", ...) after 3.0
        ErrorKind.MODULE_ATTRIBUTE,
        re.compile(r"OptionError: No such keys\(s\): '(?P<name>[\w.]+)'"),
        "removed",
        module="pandas.options",
    ),
    Pattern(  # a deprecation warning the test suite turns into an error
        ErrorKind.MODULE_ATTRIBUTE,
        re.compile(r"\b(?P<module>[a-z_]\w*)(?:\.\w+)*\.\w*Warning: (?P<name>\w+) is deprecated"),
        "deprecated",
    ),
    Pattern(  # scikit-learn 1.6+ on an estimator that still defines the old tags method
        ErrorKind.OBJECT_ATTRIBUTE,
        re.compile(
            r"TypeError: Estimator \w+ has defined either `(?P<name>_more_tags)` or `_get_tags`"
        ),
        "removed",
        owner="BaseEstimator",
    ),
    Pattern(  # pandas 3's removed offset and unit aliases: the value records name them
        ErrorKind.VALUE,
        re.compile(r"ValueError: Invalid frequency: (?P<name>[\w-]+)"),
        "signature",
        module="pandas",
    ),
    Pattern(  # NumPy 2's np.array(..., copy=False) where a copy is needed
        ErrorKind.MESSAGE,
        re.compile(r"(?P<text>ValueError: Unable to avoid copy while creating an array)"),
        "behavior",
        module="numpy",
        symbol="numpy.array(copy)",
    ),
    Pattern(  # pandas 3's to_numeric/to_datetime/to_timedelta(errors="ignore")
        ErrorKind.VALUE,
        re.compile(r"ValueError: invalid error value specified"),
        "signature",
        module="pandas",
        name="ignore",
    ),
    Pattern(
        ErrorKind.MESSAGE,
        re.compile(
            r"(?P<text>[\w.]+Error: .*(?:(?:is|are) no longer supported|Invalid frequency).*)"
        ),
        "behavior",
    ),
)

#: Where a library's own code raised: ``.../site-packages/pandas/core/frame.py``.
_SITE_FRAME = re.compile(r"(?:site|dist)-packages/(\w+)/")
_ERROR_LINE = re.compile(r"^E\s+(.*)$", re.M)
#: A traceback's closing line, as Python prints it (the output of a test command other than
#: pytest: unittest, a make target): ``AttributeError: ...`` at the start of a line.
_EXCEPTION_LINE = re.compile(
    r"^((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning): .*)$", re.M
)
#: The line pytest marks as failing (``>       pd.read_csv(...)``).
_FAILING_LINE = re.compile(r"^>\s+(.*)$", re.M)
#: The usual import aliases, for a failing line that calls ``pd.read_csv(...)``.
ALIASES = {
    "np": "numpy",
    "pd": "pandas",
    "plt": "matplotlib",
    "mpl": "matplotlib",
    "sns": "seaborn",
    "jnp": "jax",
    "sp": "scipy",
}


#: Errors of the test's surroundings, not of its code: a service not running, the network, a
#: file. (A module missing only at the target is the upgrade's: pandas 3 no longer installs
#: pytz.)
_ENVIRONMENT = re.compile(
    r"^(?:[\w.]+\.)?(?:ConnectionError|ConnectionRefusedError|ConnectionResetError|TimeoutError"
    r"|URLError|gaierror|PermissionError|FileNotFoundError|OSError)\b"
)


def is_environment(error: str) -> bool:
    """Whether an error line is the surroundings' (a service, the network, a missing file)."""
    return _ENVIRONMENT.search(error) is not None


class FoundAt(NamedTuple):
    """A knowledge-base finding in the project's code at the target versions."""

    path: str  # relative to the project's root, as the test command's tracebacks give it
    line: int  # 1-based
    record: ApiChange


#: A local name read before a branch bound it: the check that chose the branch answered
#: otherwise at the target versions (``is_object_dtype`` on pandas 3's str columns).
_UNBOUND = re.compile(r"^UnboundLocalError: ")
#: pytest's location line closing a traceback entry (``pkg/mod.py:49: UnboundLocalError``).
_ENTRY_END = re.compile(r"^(?P<path>[^\s:]+\.py):(?P<line>\d+): \w+$", re.M)
_CARETS = re.compile(r"^\s*[\^~]+\s*$")  # Python 3.11's position markers under a line


class CauseKind(enum.Enum):
    KNOWN = "known"  # a knowledge-base record explains it
    UNKNOWN = "unknown break"  # a library of the upgrade raised it; no record fits
    UNRELATED = "unrelated"  # not the upgrade's doing (collection error, missing service, ...)


@dataclass
class Cause:
    kind: CauseKind
    error: str  # the error line
    library: str | None = None
    record: ApiChange | None = None
    candidate: dict[str, str] | None = None  # library, symbol, kind, version

    @property
    def label(self) -> str:
        """What reports group failures by."""
        if self.record is not None:
            return self.record.id
        if self.candidate is not None:
            return f"unknown: {self.candidate['symbol']}"
        return f"{self.kind.value}: {self.error}" if self.error else self.kind.value

    def to_dict(self) -> dict:
        return {
            "kind": self.kind.value,
            "error": self.error,
            "library": self.library,
            "record": self.record.id if self.record is not None else None,
            "replacement": self.record.replacement if self.record is not None else None,
            "candidate": self.candidate,
        }


def error_lines(message: str, text: str) -> list[str]:
    """The lines that state the error: pytest's ``E`` lines, last first (the exception that
    ended the test), then the failure's message. Output without ``E`` lines (another test
    command's) gives its tracebacks' exception lines instead."""
    lines = [m.group(1).strip() for m in _ERROR_LINE.finditer(text)]
    # pytest's explanation of an assertion (``+  where 2 = len(x)``) and diff lines state no error
    lines = [line for line in lines if not line.startswith(("+", "-", "?"))]
    if not lines:
        lines = [m.group(1).strip() for m in _EXCEPTION_LINE.finditer(text)]
    return [*reversed(lines), *message.splitlines()[:1]]


def classify(
    message: str,
    text: str,
    kb: KnowledgeBase,
    upgraded: dict[str, str],
    *,
    collection: bool = False,
    findings: Sequence[FoundAt] = (),
) -> Cause:
    """The cause of one failure; ``upgraded`` maps each library the upgrade moves to its new
    version (for candidate records). ``findings``: the knowledge base's findings in the
    project, for an error whose message names no API (a name a changed check left unbound)."""
    lines = error_lines(message, text)
    for line in lines:
        for pattern in PATTERNS:
            m = pattern.regex.search(line)
            if m and pattern.raised_in(text):
                return _cause(pattern, m, line, kb, upgraded, text)
    if lines and _UNBOUND.match(lines[0]):
        record = _found_in_last_entry(text, findings)
        if record is not None:
            return Cause(CauseKind.KNOWN, lines[0], record.library, record)
    library = _frame_library(text, upgraded)
    error = next((line for line in lines if line), message)
    if (library is not None or error.startswith("AssertionError")) and not collection:
        # a library's own error, or the test's assertion: a result that changed
        return Cause(CauseKind.UNKNOWN, error, library)
    return Cause(CauseKind.UNRELATED, error, library)


def _cause(
    pattern: Pattern,
    m: re.Match[str],
    line: str,
    kb: KnowledgeBase,
    upgraded: dict[str, str],
    text: str,
) -> Cause:
    groups = m.groupdict()
    module = groups.get("module") or pattern.module
    name, owner = groups.get("name") or pattern.name, groups.get("owner") or pattern.owner
    record: ApiChange | None = None
    symbol = ""
    if pattern.kind in (ErrorKind.MODULE_ATTRIBUTE, ErrorKind.IMPORT_NAME):
        symbol = f"{module}.{name}"
        record = _by_path(kb, symbol) or _by_tail(kb, name or "", _library_of(module))
    elif pattern.kind is ErrorKind.MODULE:
        symbol = module or ""
        if "." not in symbol:  # a package not installed: the upgrade's if a library dropped it
            record = _by_dependency(kb, symbol)
            if record is not None:
                return Cause(CauseKind.KNOWN, line, record.library, record)
            return Cause(CauseKind.UNRELATED, line, _library_of(symbol))
        record = _by_path(kb, symbol) or _by_prefix(kb, symbol)
    elif pattern.kind is ErrorKind.OBJECT_ATTRIBUTE:
        symbol = f"{owner}.{name}"
        record = _by_tail(kb, symbol, None) or _inherited(kb, name or "", upgraded)
    elif pattern.kind is ErrorKind.KEYWORD:
        func = (groups.get("callable") or "").split(".")
        if len(func) > 1 and func[-1] == "__init__":  # a constructor's keyword is its class's
            func = func[:-1]
        symbol = f"{'.'.join(func)}({name})"
        record = _by_keyword(kb, func, name or "")
    elif pattern.kind is ErrorKind.REQUIRED:
        func = (groups.get("callable") or "").split(".")
        if len(func) > 1 and func[-1] == "__init__":
            func = func[:-1]
        symbol = f"{'.'.join(func)}({name})"
        record = _by_required(kb, func, name or "")
    elif pattern.kind is ErrorKind.VALUE:
        symbol = f"{module}: value {name!r}"
        record = _by_value(kb, name or "", _library_of(module), text)
    else:
        words = groups.get("text") or line
        if pattern.symbol is not None:
            record = next((r for r in kb.records if r.symbol == pattern.symbol), None)
        else:
            record = _by_words(kb, words, _frame_library(text, upgraded))
        symbol = words.split(": ", 1)[-1].split(". ")[0]  # "Invalid frequency: H"
    if record is not None:
        return Cause(CauseKind.KNOWN, line, record.library, record)
    library = (
        _library_of(module)
        or (_library_of(owner) if owner and "." in owner else None)  # 'numpy.ndarray'
        or _frame_library(text, upgraded)
        or _owner_library(kb, owner)
        or _caller_library(text, name if pattern.kind is ErrorKind.OBJECT_ATTRIBUTE else None)
        or _caller_library(text, (groups.get("callable") or "").split(".")[-1] or None)
    )
    if library is None or (upgraded and library not in upgraded):
        return Cause(CauseKind.UNRELATED, line, library)
    candidate = {
        "library": library,
        "symbol": symbol,
        "kind": pattern.candidate_kind,
        "version": upgraded.get(library, "?"),
    }
    return Cause(CauseKind.UNKNOWN, line, library, candidate=candidate)


def _library_of(module: str | None) -> str | None:
    if not module:
        return None
    root = module.split(".")[0]
    for lib, roots in IMPORT_NAMES.items():
        if root in roots:
            return lib
    return canonical_name(root) if root else None


def _frame_library(text: str, upgraded: dict[str, str]) -> str | None:
    """The upgraded library whose own code raised (the innermost such frame)."""
    for root in reversed(_SITE_FRAME.findall(text)):
        lib = _library_of(root)
        if lib is not None and (not upgraded or lib in upgraded):
            return lib
    return None


def _caller_library(text: str, name: str | None) -> str | None:
    """The library of ``alias.[...]name`` on the failing line (``pd.read_csv(`` -> pandas)."""
    if not name:
        return None
    pattern = re.compile(rf"\b(\w+)\.(?:\w+\.)*{re.escape(name)}\b")
    for line in _FAILING_LINE.findall(text):
        for alias in pattern.findall(line):
            if alias in ALIASES:
                return ALIASES[alias]
            if (lib := _library_of(alias)) is not None and any(
                alias in roots for roots in IMPORT_NAMES.values()
            ):
                return lib
    return None


def _owner_library(kb: KnowledgeBase, owner: str | None) -> str | None:
    if not owner:
        return None
    for r in kb.records:
        if f".{owner}." in f".{r.path}.":
            return r.library
    return None


def _found_in_last_entry(text: str, findings: Sequence[FoundAt]) -> ApiChange | None:
    """The record of a finding among the lines pytest shows of the traceback's last entry (the
    function that raised, from its first line to the failing one)."""
    ends = list(_ENTRY_END.finditer(text))
    if not ends or not findings:
        return None
    path, last = ends[-1].group("path"), int(ends[-1].group("line"))
    shown = text[: ends[-1].start()].splitlines()
    failing = max((i for i, line in enumerate(shown) if line.startswith(">")), default=None)
    if failing is None:
        return None
    first = last
    for line in reversed(shown[:failing]):
        if not line.strip() and not line.startswith("    ") or line.startswith("_ _"):
            break  # the blank line before the entry's source (after its arguments' values)
        if not _CARETS.match(line):
            first -= 1
    for found in findings:
        same_file = found.path == path or path.endswith("/" + found.path)
        if same_file and first <= found.line <= last:
            return found.record
    return None


def _by_dependency(kb: KnowledgeBase, module: str) -> ApiChange | None:
    """The record of a library that no longer installs ``module`` (its ``requirement``)."""
    return next(
        (r for r in kb.records if r.requirement is not None and module in r.requirement.imports),
        None,
    )


def _by_path(kb: KnowledgeBase, path: str) -> ApiChange | None:
    records = [r for r in kb.by_path.get(path, []) if r.parameter is None]
    return records[0] if records else None


def _by_value(kb: KnowledgeBase, value: str, library: str | None, text: str) -> ApiChange | None:
    """A record of ``library`` that lists ``value`` (as a string literal) among the values it
    refuses; of those, one whose callable a failing line of the traceback calls (``date_range(``),
    else one the traceback calls anywhere (a library's docstring names others), else the first."""
    literals = {repr(value), f'"{value}"'}
    found = [
        r
        for r in kb.records
        if (library is None or r.library == library) and literals & set(r.values)
    ]
    failing = "\n".join(_FAILING_LINE.findall(text))  # the calls, before a docstring's words

    def named(where: str) -> list[ApiChange]:
        return [
            r for r in found if re.search(rf"\b{re.escape(r.path.rsplit('.', 1)[-1])}\(", where)
        ]

    return (named(failing) or named(text) or found or [None])[0]


def _by_prefix(kb: KnowledgeBase, module: str) -> ApiChange | None:
    return next((r for r in kb.records if r.path.startswith(module + ".")), None)


def _by_tail(kb: KnowledgeBase, tail: str, library: str | None) -> ApiChange | None:
    """A record of a symbol ending in ``tail`` (``DataFrame.append``), of ``library`` if given."""
    for r in kb.records:
        if r.parameter is None and (library is None or r.library == library):
            if r.path == tail or r.path.endswith("." + tail):
                return r
    return None


def _inherited(kb: KnowledgeBase, name: str, upgraded: dict[str, str]) -> ApiChange | None:
    """A record of an upgraded library's private member ``name`` (``_validate_data``): what a
    user's subclass, whose own name the message gives, inherited from a library's class. Public
    names are left out: ``'Foo' object has no attribute 'append'`` is no DataFrame's."""
    if not name.startswith("_") or name.startswith("__"):
        return None
    return next(
        (
            r
            for r in kb.records
            if r.parameter is None and r.path.endswith("." + name) and r.library in upgraded
        ),
        None,
    )


def _by_keyword(kb: KnowledgeBase, func: list[str], name: str) -> ApiChange | None:
    tail = ".".join(func)
    for r in kb.records:
        if r.parameter == name and (r.path == tail or r.path.endswith("." + tail)):
            return r
    if len(func) > 1:  # Axes.hist: the record may name the function alone
        return _by_keyword(kb, func[-1:], name)
    return None


def _by_required(kb: KnowledgeBase, func: list[str], name: str) -> ApiChange | None:
    """The record of a callable whose calls without keyword ``name`` are affected (its
    ``unless_keyword``): ``validate_params(...)`` without ``prefer_skip_nested_validation``."""
    tail = ".".join(func)
    for r in kb.records:
        if r.parameter is None and r.unless_keyword == name:
            if r.path == tail or r.path.endswith("." + tail):
                return r
    return None


_WORD = re.compile(r"'([^']+)'|\"([^\"]+)\"|([A-Za-z_][\w.]{2,})")


def _by_words(kb: KnowledgeBase, text: str, library: str | None) -> ApiChange | None:
    """The record of ``library`` whose note quotes the error's quoted words (or most words)."""
    quoted = [a or b for a, b, _ in _WORD.findall(text) if a or b]
    if not quoted:
        return None
    for r in kb.records:
        if library is not None and r.library != library:
            continue
        if all(q in r.note or q in r.symbol for q in quoted):
            return r
    return None
