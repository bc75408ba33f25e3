"""Decide from a file's bytes, before any parse, whether the detector could find anything in it.

Most files of a project hold no outdated call, and parsing them is most of a scan's cost. The
prefilter reads what the detector would read, over-approximately and from the text alone:

* the file's imports of tracked libraries (``import numpy as np``, ``from numpy import float_``,
  ``from numpy.linalg import *``), giving every name the detector could bind and what it is
  bound to;
* for each such name, the dotted chains after it (``np.float_``, ``np . core . records``) that
  spell a tracked path: a record's symbol, a function with a keyword record, or something that
  makes an object of evident class (``np.array(...)``, a class, a tuple factory);
* keyword records only inside the call they belong to (``np.array(x, copy=False)``), read by
  scanning the call's parentheses with strings and comments skipped; where a record narrows the
  values that break (``copy=False``), the value as well; where such a record also gives the
  parameter's position (``df.resample("M")``), one of its values anywhere in the call;
* on objects of evident class, which appear only where such a maker was spelled, an attribute
  that names a method record (``.newbyteorder``);
* an overriding ``def`` of a hook record, and, with ``name_only_methods``, any ``.method`` of a
  method record.

It must be sound: it may keep a file in which the detector then finds nothing, never drop one
in which it finds something. Every finding's text holds one of the spellings above, so where none
is present the file is dropped. Broken code is scanned too, and tree-sitter's error recovery
can bind names the grammar would not (it skips stray bytes, brackets and dots, and joins an
import across lines), so the patterns tolerate such junk and, wherever the text is ambiguous (an
import not written as the grammar has it near a tracked name, a call whose brackets do not pair,
an f-string inside a call), the file is kept. ``tests/test_prefilter.py`` checks all this against
the full detector over every corpus the repository has, and over byte mutations of them.
"""

from __future__ import annotations

import bisect
import keyword
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recode.dataset.knowledge import ApiChange
    from recode.server.index import TrackedIndex

# Bytes >= 0x80 count as identifier characters here (a non-ASCII identifier is one word), but
# Prefilter.why reads each of them, and every other byte that is no part of a Python token, as
# the marker \x01, which the patterns take for a space or a dot (see there).
_ID = rb"[\w\x80-\xff]"
_NAME = _ID + rb"+"
# Space the tokenizer allows between the parts of a dotted chain: whitespace (newlines inside
# brackets), backslash continuations and, inside brackets, comments. Possessive: no backtracking.
_WS = rb"(?:[\s\\\x01]|#[^\n]*+)*+"
_DOT = _WS + rb"\." + _WS
# Between the parts of a chain in a reference, more: on broken code tree-sitter skips a stray
# bracket or dot as an error and keeps the chain (``s.cat.(as_unordered``, ``jax.lax..tie_in``).
# A stray byte (the marker) may swallow the name characters after it (``np\xddx.float_``), and
# a stray slash on a continuation line is skipped too (``np.lib \\\n /  .pad``), and so is a
# stray name after a space before the next dot (``np.lib \\\n  Z  .copy``).
# (No lookbehind inside a possessive repeat: CPython before 3.11.5 fails to match such a pattern,
# ``(?:[\s]|(?<=\s)x)*+``, even where no lookbehind is needed; the stray name follows the spaces
# of the same alternative instead. tests/test_prefilter.py checks the patterns for it.)
_JUNK = (
    rb"(?:[\s\\]++(?:[\w\x80-\xff]++(?=[\s\\]*[.\x01]))?|[()\[\]{},:;/]"
    rb"|\x01[\w\x80-\xff]*+(?=[\s\\]*[.\x01])|#[^\n]*+)*+"
)
# after the dot, digits too (``jax.abstract_arrays.1ShapedArray``: ".1" is skipped as a number),
# and operators (``pd.tseries.frequencies.\<newline> ^ to_offset``: the ^ is skipped as an error)
_AFTER_DOT = rb"(?:[\s\\()\[\]{},:;.\x010-9^~%&*+\-/<>=|@]|#[^\n]*+)*+"
_LOOSE_DOT = _JUNK + rb"[.\x01]" + _AFTER_DOT
_DOTTED = _NAME + rb"(?:" + _DOT + _NAME + rb")*+"
# Literal first (``re`` scans for a leading literal fast); the boundary before it is checked
# by hand. An import statement as the grammar has it (the names after ``import``):
_IMPORT = re.compile(rb"import(?!" + _ID + rb")")
_IMPORT_WORD = re.compile(rb"(?<![A-Za-z_])import(?!\w)")
# keywords are no names (``from scipy import in`` is broken code)
_STRICT_NAME = rb"(?!(?:" + "|".join(keyword.kwlist).encode() + rb")\b)[A-Za-z_]\w*"
_STRICT_ITEM = (
    _STRICT_NAME
    + rb"(?:[ \t]*\.[ \t]*"
    + _STRICT_NAME
    + rb")*(?:[ \t]+as[ \t]+"
    + _STRICT_NAME
    + rb")?"
)
_GAP = rb"(?:\s|#[^\n]*)*"  # inside parentheses: newlines and comments too
_END = rb"[ \t]*(?:#[^\n]*)?(?:\r?\n|;|$)"
_CLEAN = re.compile(
    rb"[ \t]*(\*|"
    + _STRICT_ITEM
    + rb"(?:[ \t]*,[ \t]*"
    + _STRICT_ITEM
    + rb")*|\("
    + _GAP
    + _STRICT_ITEM
    + rb"(?:"
    + _GAP
    + rb","
    + _GAP
    + _STRICT_ITEM
    + rb")*"
    + _GAP
    + rb",?"
    + _GAP
    + rb"\))"
    + _END
)
_CLEAN_MODULE = re.compile(
    rb"[ \t]+(" + _STRICT_NAME + rb"(?:[ \t]*\.[ \t]*" + _STRICT_NAME + rb")*)[ \t]+"
)
_DOTTED_RE = re.compile(_DOTTED)
_MORE = re.compile(_LOOSE_DOT + rb"(" + _NAME + rb")")
# a call's parenthesis, after stray closers, stray bytes and a stray name after a space or a
# stray byte, which tree-sitter skips as errors (``np.histogram\xddd(``, ``pd.PeriodIndex
# from_fields(``)
_CALL = rb"(?:[\s\\\x01]++[\w\x80-\xff]*+|[)\]},:;.]|#[^\n]*+)*+\("
_OPEN = re.compile(_CALL)
_CLOSING = {40: 41, 91: 93, 123: 125}
_BRACKET_OR_QUOTE = re.compile(rb"[()\[\]{}#'\"]")
_ITEM = re.compile(
    rb"("
    + _DOTTED
    + rb"|\*)(?:"
    + _WS
    + rb"(?<!"
    + _ID
    + rb")as(?!"
    + _ID
    + rb")"
    + _WS
    + rb"("
    + _NAME
    + rb"))?"
)
_SPACE = re.compile(rb"[\s\\]+|#[^\n]*")
_BOUNDARY = re.compile(_ID)
_SPACED = bytes(
    1 if c >= 127 or (c < 32 and c not in b"\t\n\r\x0b\x0c") or c in b"!$?`" else c
    for c in range(256)
)


def _normal(dotted: bytes) -> str:
    """``numpy . core`` (as written) -> ``numpy.core``."""
    return _SPACE.sub(b"", dotted).decode("utf-8", "replace")


def _alternation(words: Iterable[bytes]) -> bytes:
    # Longest first: ``re`` takes the first alternative that matches.
    return b"|".join(sorted(set(words), key=lambda w: (-len(w), w)))


def _with_stray_closers(source: bytes, end: int) -> int:
    """Where the call's text ends: at the end of its line where the rest of the line closes
    more brackets than it opens (tree-sitter may skip a stray closer, ``f(a=)0, b=1)``, and go
    on), else at ``end``."""
    line_end = source.find(b"\n", end)
    if line_end < 0:
        line_end = len(source)
    depth = 0
    for c in source[end:line_end]:
        if c in b"([{":
            depth += 1
        elif c in b")]}":
            depth -= 1
            if depth < 0:
                return line_end
    return end


# The rest of a string after its opening quote(s), to its end (a backslash escapes any byte).
_STRING_REST = {
    q: re.compile(p, re.S)
    for q, p in {
        b'"': rb'(?:[^"\\\n]++|\\.)*+"',
        b"'": rb"(?:[^'\\\n]++|\\.)*+'",
        b'"""': rb'(?:[^"\\]++|\\.|"(?!""))*+"""',
        b"'''": rb"(?:[^'\\]++|\\.|'(?!''))*+'''",
    }.items()
}


def _call_region(source: bytes, open_paren: int) -> bytes:
    """The text of a call's argument list, from its ``(`` to the matching ``)``.

    Strings and comments are skipped. Where the end cannot be told for sure (an f-string, whose
    replacement fields may hold quotes of their own; an unterminated string; brackets that do
    not pair; no matching parenthesis) the rest of the file is returned: more text can only
    keep a file, never drop one.
    """
    return source[open_paren : _call_end(source, open_paren)]


def _call_end(source: bytes, open_paren: int) -> int:
    """Where :func:`_call_region` ends (the end of the file where unsure)."""
    n = len(source)
    stack: list[int] = []  # the closing brackets expected
    i = open_paren
    search = _BRACKET_OR_QUOTE.search
    while True:
        m = search(source, i)
        if m is None:
            return n
        i = m.start()
        c = source[i]
        if c in b"([{":
            stack.append(_CLOSING[c])
        elif c in b")]}":
            if stack.pop() != c:
                return n  # brackets that do not pair: broken code, unsure
            if not stack:
                return _with_stray_closers(source, i + 1)
        elif c == 35:  # "#"
            k = source.find(b"\n", i)
            if k < 0:
                return n
            i = k
        else:  # a quote
            j = i - 1
            while j >= 0 and source[j] in b"rRbBuUfF":
                j -= 1
            if b"f" in source[j + 1 : i].lower():
                return n  # f-string: its fields may hold quotes
            quote = (
                source[i : i + 3] if source[i : i + 3] in (b'"""', b"'''") else source[i : i + 1]
            )
            rest = _STRING_REST[quote].match(source, i + len(quote))
            if rest is None:
                return n  # unterminated string: the parse is unsure
            i = rest.end() - 1
        i += 1


class Prefilter:
    """Whether a file can hold a finding of ``detector``; see the module docstring."""

    def __init__(self, index: TrackedIndex, name_only_methods: bool = False) -> None:
        """``index``: what the detector tracks; ``name_only_methods``: the detector's option
        of the same name (any ``.method`` of a method record counts)."""
        d = index
        self.name_only_methods = name_only_methods
        self.active = frozenset(d.active)
        # keyword records: path -> keyword -> the values that break (None: any value)
        self.params: dict[str, dict[bytes, tuple[bytes, ...] | None]] = {}
        # a subclass inherits its base's very list of entries: read each list once
        read: dict[int, tuple[tuple[bytes, ...] | None, tuple[bytes, ...]]] = {}
        spelled: dict[int, tuple[bytes, ...]] = {}
        for path, by_name in d.params.items():
            slot = self.params.setdefault(path, {})
            for name, entries in by_name.items():
                known = read.get(id(entries))
                if known is None:
                    known = read[id(entries)] = _breaking_values(entries, spelled)
                values, at = known
                slot[name.encode()] = values
                if at:
                    slot[_POSITIONAL] = _merge(slot.get(_POSITIONAL, ()), at)
        # What makes an object of evident class: classes, factories, tuple factories, and the
        # attribute paths that are remapped (df.style).
        self.makers = d.makers
        self.interesting = d.tracked
        self.prefixes = d.prefixes
        self.roots = d.roots
        self._root = (
            re.compile(_alternation(re.escape(r.encode()) for r in self.roots))
            if self.roots
            else None
        )
        # the first name after ``target.`` on the way to something interesting
        self._firsts: dict[str, set[bytes]] = {}
        for path in self.interesting:
            parts = path.split(".")
            for i in range(1, len(parts)):
                self._firsts.setdefault(".".join(parts[:i]), set()).add(parts[i].encode())
        self._depth = max((p.count(".") + 1 for p in self.interesting), default=1)
        # Classes objects can be of; what follows such an object (x.method, x.method(kw=...)).
        owners = (
            set(d.classes)
            | set(d.factories.values())
            | set(d.attributes.values())
            | {c for spec in d.tuple_factories.values() for c in spec.returns if c}
        )

        def typed(path: str) -> bool:
            parts = path.split(".")
            return any(".".join(parts[:i]) in owners for i in range(1, len(parts)))

        # What each maker can make, and the method names (and method keyword records) under
        # each class: a file is scanned for those of the classes its makers can make.
        self._makes: dict[str, set[str]] = {c: {c} for c in d.classes}
        for path, cls in [*d.factories.items(), *d.attributes.items()]:
            self._makes.setdefault(path, set()).add(cls)
        for path, spec in d.tuple_factories.items():
            self._makes.setdefault(path, set()).update(c for c in spec.returns if c)
        self._leaves_under: dict[str, set[str]] = {}
        for path in [
            *(p for p in self.active if typed(p)),
            *(k for k, v in d.attributes.items() if v in self.prefixes),
        ]:
            for owner in _proper_prefixes(path):
                self._leaves_under.setdefault(owner, set()).add(path.rpartition(".")[2])
        self._calls_under: dict[str, dict[bytes, dict[bytes, tuple[bytes, ...] | None]]] = {}
        for path, kws in self.params.items():
            if typed(path):
                for owner in _proper_prefixes(path):
                    slot = self._calls_under.setdefault(owner, {}).setdefault(
                        path.rpartition(".")[2].encode(), {}
                    )
                    for kw, values in kws.items():
                        slot[kw] = _merge(slot.get(kw, ()), values)
        self._subscripted = d.subscripted  # classes with a record on a subscript (``s[0]``)
        # the makers under each class (``pandas.DataFrame.groupby`` under pandas.DataFrame)
        self._makers_under: dict[str, list[str]] = {}
        for path in self._makes:
            for owner in _proper_prefixes(path):
                self._makers_under.setdefault(owner, []).append(path)
        self._closure: dict[str, frozenset[str]] = {}
        self._typed_by_made: dict[frozenset[str], tuple] = {}
        self._typed_by_classes: dict[frozenset[str], tuple] = {}
        hooks = {p.rpartition(".")[2] for p, e in d.active.items() if any(r.hook for r, _ in e)}
        self._hook = (
            re.compile(
                rb"def"
                + _WS
                + rb"(?:"
                + _alternation(re.escape(h.encode()) for h in hooks)
                + rb")(?!"
                + _ID
                + rb")"
            )
            if hooks
            else None
        )
        self._method = _leaf_pattern(set(d.methods_by_name), rb"(?!" + _ID + rb")")
        self._heads: dict[bytes, re.Pattern[bytes]] = {}
        # (source, as the patterns read it, its import bindings or None) of the last file read
        self._last: tuple[bytes, bytes, set[tuple[str, str]]] | None = None
        self._words: dict[bytes, re.Pattern[bytes]] = {}

    # -- the decision -----------------------------------------------------------------------

    def __call__(self, source: bytes) -> bool:
        return self.why(source) is not None

    def why(self, source: bytes) -> str | None:
        """Why the file is kept (a short reason, for tests and profiling), or None: dropped."""
        # Read every byte that is no part of a Python token as a marker, \x01, that the patterns
        # take for a space or a dot: tree-sitter skips such a byte as an error, and may put a
        # missing token in its place (``import pandas\x1cas pd`` binds pd, ``pd.Timestamp\xcd
        # fromordinal`` is an attribute). Splitting a name there (``ñp`` read as ``p``) or
        # joining what the byte stood between only keeps more. Whether an import is written as
        # the grammar has it is read from the original bytes.
        original = source
        # (the tracked names are ASCII words, which the reading below leaves as they are)
        if self._root is None or not self._root.search(original):
            return None
        source = source.translate(_SPACED)
        if self.name_only_methods and self._method is not None:
            if any(_after_dot(source, m.start()) for m in self._method.finditer(source)):
                return "a method name (name-only methods are on)"
        if self._hook is not None and self._hook.search(source):
            return "a hook's def"
        bindings, reason = self._bindings(source, original)
        # kept for the detector, which reads the same file next (the object itself is the key)
        self._last = (original, source, bindings)
        if reason is not None:
            return reason
        by_alias: dict[bytes, list[str]] = {}
        for name, target in bindings:
            if target in self.prefixes:
                by_alias.setdefault(name.encode(), []).append(target)
        made: set[str] = set()  # the makers spelled: what objects of evident class come from
        for alias, targets in by_alias.items():
            for target in targets:
                if target in self.makers:
                    made.add(target)
                if target in self.active and self._word(alias).search(source):
                    return f"a name bound by a star import: {alias.decode()}"
                if target in self.params:
                    for m in self._head(alias, rb"()" + _CALL).finditer(source):
                        if _head_at(source, m.start()) and _keyword_in(
                            source, m.end() - 1, self.params[target]
                        ):
                            return f"a keyword record in a call of {alias.decode()}"
            firsts: set[bytes] = set()
            for target in targets:
                firsts |= self._firsts.get(target, set())
            if not firsts:
                continue
            # the name after the alias in a lookahead: a match ends at the alias, so the next
            # search starts right after it (a loose dot may span to a later use of the alias)
            for m in self._head(alias, rb"(?=" + _LOOSE_DOT + rb"(" + _NAME + rb"))").finditer(
                source
            ):
                if m.group(1) not in firsts or not _head_at(source, m.start()):
                    continue
                names, ends = self._chain(source, m.group(1).decode("utf-8", "replace"), m.end(1))
                for what, path, i in self._along(source, targets, names, ends):
                    if what == "maker":
                        made.add(path)
                    elif what == "name":
                        return f"a tracked name: {alias.decode()}.{'.'.join(names[: i + 1])}"
                    else:
                        return f"a keyword record in a call of {path}"
        if made:
            return self._typed_use(source, *self._typed_for(frozenset(made)))
        return None

    def _typed_for(self, made: frozenset[str]) -> tuple:
        """The method patterns for objects the makers in ``made`` can make, and the objects
        those can make in turn (``df.groupby(...)``); once per set of makers."""
        found = self._typed_by_made.get(made)
        if found is not None:
            return found
        classes = frozenset(
            k for path in made for c in self._makes.get(path, ()) for k in self._classes_from(c)
        )
        found = self._typed_by_classes.get(classes)
        if found is None:
            leaves = {leaf for c in classes for leaf in self._leaves_under.get(c, ())}
            calls: dict[bytes, dict[bytes, tuple[bytes, ...] | None]] = {}
            for c in classes:
                for leaf, kws in self._calls_under.get(c, {}).items():
                    slot = calls.setdefault(leaf, {})
                    for kw, values in kws.items():
                        slot[kw] = _merge(slot.get(kw, ()), values)
            found = self._typed_by_classes[classes] = (
                _leaf_patterns(leaves, rb"(?!" + _ID + rb")"),
                _leaf_pattern({k.decode() for k in calls}, _CALL),
                calls,
                bool(classes & self._subscripted),
            )
        self._typed_by_made[made] = found
        return found

    def _classes_from(self, cls: str) -> frozenset[str]:
        """``cls`` and the classes its objects can make, and those in turn (the makers under
        each); once per class. (Computed per set of makers, by rounds over every maker, this
        was a fifth of the prefilter's time on the bench corpus.)"""
        found = self._closure.get(cls)
        if found is None:
            seen = {cls}
            todo = [cls]
            while todo:
                for maker in self._makers_under.get(todo.pop(), ()):
                    for made in self._makes[maker] - seen:
                        seen.add(made)
                        todo.append(made)
            found = self._closure[cls] = frozenset(seen)
        return found

    def _typed_use(
        self,
        source: bytes,
        typed: list[tuple[bytes | None, re.Pattern[bytes]]],
        typed_call: re.Pattern[bytes] | None,
        typed_calls: dict[bytes, dict[bytes, tuple[bytes, ...] | None]],
        subscripted: bool = False,
    ) -> str | None:
        """A use an object of evident class may make (``.newbyteorder``, ``.astype(copy=..)``,
        and where one of the classes has a subscript record, ``[0]``), with the patterns of
        :meth:`_typed_for`."""
        if subscripted and _INT_SUBSCRIPT.search(source):
            return "an integer subscript of an object of evident class"
        for literal, pattern in typed:
            if literal is not None and literal not in source:
                continue
            for m in pattern.finditer(source):
                if _after_dot(source, m.start()):
                    return f"a method of an object of evident class: .{m.group(1).decode()}"
        if typed_call is not None:
            for m in typed_call.finditer(source):
                keywords = typed_calls[m.group(1)]
                if _after_dot(source, m.start()) and _keyword_in(source, m.end() - 1, keywords):
                    return f"a keyword record in a method call .{m.group(1).decode()}"
        return None

    # -- single uses, for the detector --------------------------------------------------------

    def spaced(self, source: bytes) -> bytes:
        """``source`` as the patterns read it (see :meth:`why`); byte offsets are unchanged."""
        last = self._last
        if last is not None and last[0] is source:
            return last[1]
        return source.translate(_SPACED)

    def import_bindings(self, spaced: bytes, original: bytes) -> set[tuple[str, str]]:
        """(name, path) for every name the file's imports of tracked libraries may bind, read
        as the grammar has them (broken ones left out)."""
        last = self._last
        if last is not None and last[0] is original:
            return last[2]
        return self._bindings(spaced, original)[0]

    def makers_matter(self, spaced: bytes) -> bool:
        """Whether an object of evident class made in this file can lead to a finding: a method
        record's name after a dot, or a hook's ``def`` (a class deriving from a tracked one)."""
        if self._hook is not None and self._hook.search(spaced):
            return True
        return self._typed_use(spaced, *self._typed_for(frozenset(self.makers))) is not None

    def _chain(self, source: bytes, first: str, end: int) -> tuple[list[str], list[int]]:
        """The names of a dotted chain read on from ``first`` (ending at byte ``end``), as
        loosely as tree-sitter may read it, and where each ends; as deep as a tracked path."""
        names = [first]
        ends = [end]
        while len(names) < self._depth:
            more = _MORE.match(source, ends[-1])
            if more is None:
                break
            names.append(more.group(1).decode("utf-8", "replace"))
            ends.append(more.end())
        return names, ends

    def chain_leads(
        self,
        spaced: bytes,
        targets: Iterable[str],
        first: str,
        end: int,
        makers_matter: Callable[[], bool],
    ) -> bool:
        """Whether a use of a name bound to one of ``targets``, followed by ``.first`` (ending
        at byte ``end``), can lead to a finding, read from the text as :meth:`why` reads it:
        the dotted chain spells a tracked path, a function with a keyword record called with
        that keyword, or (where ``makers_matter``) something that makes an object of evident
        class. The detector skips the other uses without looking them up in the tree."""
        names, ends = self._chain(spaced, first, end)
        for what, _, _ in self._along(spaced, targets, names, ends):
            if what != "maker" or makers_matter():
                return True
        return False

    def _along(
        self, source: bytes, targets: Iterable[str], names: list[str], ends: list[int]
    ) -> Iterator[tuple[str, str, int]]:
        """What the paths a dotted chain spells from each of ``targets`` can lead to, as
        (what, path, index of its last name): "name", a tracked name; "maker", something that
        makes an object of evident class; "keyword", a function with a keyword record called
        with that keyword (a value that breaks, where the record lists them)."""
        for target in targets:
            path = target
            for i, name in enumerate(names):
                path = f"{path}.{name}"
                if path not in self.prefixes:
                    break
                if path in self.active:
                    yield "name", path, i
                if path in self.makers:
                    yield "maker", path, i
                keywords = self.params.get(path)
                if keywords is not None:
                    call = _OPEN.match(source, ends[i])
                    if call is not None and _keyword_in(source, call.end() - 1, keywords):
                        yield "keyword", path, i

    def _head(self, alias: bytes, after: bytes) -> re.Pattern[bytes]:
        """``alias`` followed by ``after`` (literal first: fast to scan for)."""
        key = alias + b"\0" + after
        pattern = self._heads.get(key)
        if pattern is None:
            pattern = self._heads[key] = re.compile(re.escape(alias) + after)
        return pattern

    def _word(self, alias: bytes) -> re.Pattern[bytes]:
        pattern = self._words.get(alias)
        if pattern is None:
            pattern = self._words[alias] = re.compile(
                rb"(?<![\w\x80-\xff])" + re.escape(alias) + rb"(?!" + _ID + rb")"
            )
        return pattern

    def _bindings(self, source: bytes, original: bytes) -> tuple[set[tuple[str, str]], str | None]:
        """(name, path) for every name an import of a tracked library may bind, and the first
        reason to keep the file outright (an import of a tracked module or name, broken code in
        an import near a tracked name) if any.

        An import written as the grammar has it is read as such. Any other text after an
        ``import`` keyword may be broken code, from which tree-sitter recovers an import in ways
        that cannot be foreseen from the text (``from scipy import mis\xa5`` followed by
        ``ecg = misc.electrocardiogram()`` two lines below binds ``misc.electrocardiogram``):
        where such text is near a tracked library's name, the file is kept.
        """
        found: set[tuple[str, str]] = set()
        reason: str | None = None
        # Where a tracked library's name is spelled: an import that spells none near it (in
        # the 200 bytes before, where its ``from`` may be, its items, the four lines after)
        # can neither bind a tracked name nor be broken code near one.
        # A from-import's module is spelled after the last ``import`` word before it.
        root = self._root
        if root is None:
            return found, reason
        word_end = 0  # the end of the last ``import`` word, as _from_before tells words
        named = -1  # where a tracked name is spelled next (at or after lo, which only grows)
        for m in _IMPORT.finditer(source):
            at = m.start()
            since = word_end
            if _IMPORT_WORD.match(source, at):
                word_end = m.end()
            if at and _IDENT[source[at - 1]] and not 48 <= source[at - 1] <= 57:
                continue  # the end of a longer name (after a digit: ``3import`` is 3, import)
            lo = max(at - 200, since)
            if named < lo:
                found_at = root.search(source, lo)
                if found_at is None:
                    break  # no tracked name spelled from here on: no import can matter
                named = found_at.start()
            clean = None
            if named >= at:  # none where a from-import's module is: among its items or after
                clean = _CLEAN.match(original, m.end())  # a stray byte makes it unclean
                limit = _after_lines(source, m.end(), clean.end() if clean else m.end())
                if named >= limit:
                    continue
            else:
                clean = _CLEAN.match(original, m.end())
            module_text = _from_before(source, at, since)
            strict = _CLEAN_MODULE.fullmatch(module_text) if module_text is not None else None
            if module_text is not None:
                modules = [_normal(strict.group(1))] if strict else _dotted_prefixes(module_text)
                tracked = [mod for mod in modules if mod.split(".")[0] in self.roots]
                if tracked and not (clean and strict):
                    reason = reason or f"broken code in an import from {tracked[0]}"
                    continue
                for module in tracked:
                    hit = self._import_hit(module)
                    if hit:
                        reason = reason or f"an import of {hit}"
                    assert clean is not None
                    reason = reason or self._from_names(module, clean.group(1), found)
            if strict:
                continue  # a from-import as the grammar has it, and nothing else
            if clean is None:
                end = _after_lines(source, m.end(), m.end())
                if root.search(source, m.end(), end):
                    reason = reason or "broken code in an import near a tracked name"
                continue
            for item in _ITEM.finditer(clean.group(1)):
                path = _normal(item.group(1))
                top = path.split(".")[0]
                if top not in self.roots:
                    continue
                hit = self._import_hit(path)
                if hit:
                    reason = reason or f"an import of {hit}"
                alias = item.group(2)
                found.add((_normal(alias), path) if alias else (top, top))
        return found, reason

    def _from_names(self, module: str, region: bytes, found: set[tuple[str, str]]) -> str | None:
        """Add what ``from module import <region>`` binds; a reason to keep, if any."""
        reason = None
        for item in _ITEM.finditer(region):
            name, alias = item.group(1), item.group(2)
            if name == b"*":
                prefix = module + "."
                for path in self.active | set(self.params):
                    if path.startswith(prefix) and "." not in path[len(prefix) :]:
                        found.add((path[len(prefix) :], path))
                continue
            target = f"{module}.{_normal(name)}"
            if target in self.active:
                reason = reason or f"an import of {target}"
            found.add((_normal(alias or name), target))
        return reason

    def _import_hit(self, path: str) -> str | None:
        parts = path.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in self.active:
                return candidate
        return None


_IDENT = [chr(c).isalnum() or c == 95 for c in range(128)] + [True] * 128
_FROM_WORD = re.compile(rb"(?<![A-Za-z_])from(?!\w)")
_SKIPPED_BEFORE_FROM = b" \t\f\\,;:()[]{}"


def _after_lines(source: bytes, start: int, at_least: int) -> int:
    """The end of the fourth line break after ``start``, or ``at_least`` if that is later."""
    end = start
    for _ in range(4):
        k = source.find(b"\n", end + 1)
        end = len(source) if k < 0 else k
    return max(end, at_least)


def _proper_prefixes(path: str) -> list[str]:
    """``a``, ``a.b`` for ``a.b.c``."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _dotted_prefixes(text: bytes) -> list[str]:
    """Every dotted name in broken text and every prefix of it: tree-sitter may end a name
    early and skip the rest as an error (``import torch.nn . as nn`` binds nn to torch.nn)."""
    out: set[str] = set()
    for d in _DOTTED_RE.findall(text):
        parts = _normal(d).split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(out)


def _from_before(source: bytes, at: int, since: int = 0) -> bytes | None:
    """The text between an ``import`` keyword at ``at`` and the ``from`` it may belong to: the
    first ``from`` in the 200 bytes before with no other ``import`` in between (a later ``from``
    may be part of a broken name: ``numpy.core.from\xa5umeric``) that is on the same line or
    starts a line (tree-sitter joins ``from numpy`` and an ``import`` on a later line; a "from" in
    the prose of a docstring above an import is no statement). ``since``: where the last
    ``import`` word before ends (a ``from`` before it is never the one)."""
    start = max(0, at - 200, since)
    if source.find(b"from", start, at) < 0:
        return None
    window = source[start:at]
    for f in _FROM_WORD.finditer(window):
        between = window[f.end() :]
        if _IMPORT_WORD.search(between):
            continue
        if b"\n" in between:
            here = start + f.start()
            # stray punctuation before it is skipped by tree-sitter as an error (``,from``)
            if source[source.rfind(b"\n", 0, here) + 1 : here].strip(_SKIPPED_BEFORE_FROM):
                continue
        return between
    return None


# ``[0]``, ``[ -1]``: what a subscript record's integer key (``key: int``) starts with
_INT_SUBSCRIPT = re.compile(rb"\[" + _WS + rb"(?:-" + _WS + rb")?[0-9]")


def _leaf_patterns(
    names: Iterable[str], after: bytes
) -> list[tuple[bytes | None, re.Pattern[bytes]]]:
    """As :func:`_leaf_pattern`; a few names each with a pattern of its own, which ``re`` scans
    for faster than for an alternation of them, with the name itself: ``name in source``
    (``bytes.find``) rules most files out faster still. None for an alternation."""
    names = sorted(set(names))
    if len(names) > 8:
        one = _leaf_pattern(names, after)
        return [(None, one)] if one is not None else []
    return [(n.encode(), p) for n in names if (p := _leaf_pattern([n], after)) is not None]


def _leaf_pattern(names: Iterable[str], after: bytes) -> re.Pattern[bytes] | None:
    """Any of ``names`` (group 1), then ``after``; the caller checks with :func:`_after_dot`
    that it follows a dot (which also rules out the end of a longer name). Literal first, so
    ``re`` scans for it fast (a pattern starting at the dot was tried at every dot)."""
    words = [re.escape(n.encode()) for n in names]
    if not words:
        return None
    return re.compile(rb"(" + _alternation(words) + rb")" + after)


# what may stand between a dot and the name after it, read backwards from the name: spaces,
# continuations, stray brackets and digits (tree-sitter skips them on broken code), the marker
_BEFORE_NAME = frozenset(b" \t\r\n\f\x0b\\()[]{},:;\x010123456789")


def _after_dot(source: bytes, start: int) -> bool:
    """Whether the name at ``start`` may be an attribute: a dot (or a stray byte) before it,
    with only what :data:`_BEFORE_NAME` holds in between. Where a newline is crossed, a comment
    may end the line before it (``x.  # note`` / ``tostring``): then it is taken to be one."""
    i = start - 1
    newline = False
    while i >= 0:
        c = source[i]
        if c == 46 or c == 1:  # "." or the marker
            return True
        if c not in _BEFORE_NAME:
            break
        newline = newline or c == 10
        i -= 1
    if newline and i >= 0:
        line = source[source.rfind(b"\n", 0, i) + 1 : i + 1]
        return b"#" in line
    return False


def _head_at(source: bytes, start: int) -> bool:
    """Whether a name starting at ``start`` is a whole name (not the end of ``xnp``). After a
    dot it counts too: tree-sitter skips a stray dot (``x = .np.float_``) as an error."""
    if start == 0:
        return True
    c = source[start - 1]
    return not (c == 95 or c >= 128 or 65 <= c <= 90 or 97 <= c <= 122)


# The key, among a call's keyword names, of the values that break when passed by position.
_POSITIONAL = b""


def _breaking_values(
    entries: Sequence[tuple[ApiChange, str]], spelled: dict[int, tuple[bytes, ...]]
) -> tuple[tuple[bytes, ...] | None, tuple[bytes, ...]]:
    """The values that break of one keyword's records (None: any value), and the texts a value
    passed by position holds (:func:`_spellings`), as the patterns read them; ``spelled``: those
    texts of each record read so far (by ``id``: a record is in the lists of every subclass)."""
    values: tuple[bytes, ...] | None = ()
    for record, _ in entries:
        if not record.values or record.unseen or record.value_forms is not None:
            values = None  # unseen: any name may hold them; forms: '5H' of 'H'
            break
        values = (values or ()) + tuple(v.encode() for v in record.values)
    at: dict[bytes, None] = {}
    for r, _ in entries:
        if r.position is not None:
            texts = spelled.get(id(r))
            if texts is None:
                texts = spelled[id(r)] = tuple(v.encode().translate(_SPACED) for v in _spellings(r))
            at.update(dict.fromkeys(texts))
    return values, tuple(at)


def _spellings(record: ApiChange) -> Iterator[str]:
    """Texts one of which a value of ``record`` passed by position holds: its ``values``, and
    with ``value_forms`` the end of each alias (``H'`` of ``'5H'``, ``A-`` of ``'A-DEC'``)."""
    yield from record.values
    if record.value_forms is not None:
        for v in record.values:
            form = record.value_forms.split(v[1:-1])
            if form is not None:
                yield from (form[1] + "'", form[1] + '"', form[1] + "-")


def _merge(a: tuple[bytes, ...] | None, b: tuple[bytes, ...] | None) -> tuple[bytes, ...] | None:
    """Values that break for either of two records of one keyword (None: any value)."""
    if a is None or b is None:
        return None
    return a + b


# A name before "=" even after a dot: tree-sitter skips a stray dot (``f(.n_iter=100)``).
_KEYWORD_ARGUMENT = re.compile(
    rb"(?<![A-Za-z_\x80-\xff])([A-Za-z_][\w\x80-\xff]*)" + _WS + rb"=(?!=)"
)
_VALUE_START = re.compile(_WS)
_KEYWORD_PATTERNS: dict[frozenset[bytes], re.Pattern[bytes]] = {}


def _keyword_pattern(names: frozenset[bytes]) -> re.Pattern[bytes]:
    """:data:`_KEYWORD_ARGUMENT` for ``names`` only: a region that runs to the end of the file
    (an f-string in the call) holds many keyword arguments, and most are of no interest. The
    name is a whole name (``acopy=`` is not ``copy=``), but after a digit it counts, as there
    (``1copy=``: tree-sitter reads the 1 as a number); that it also counts in ``a1copy=`` or in a
    comment between another name and its ``=`` only keeps more."""
    pattern = _KEYWORD_PATTERNS.get(names)
    if pattern is None:
        pattern = _KEYWORD_PATTERNS[names] = re.compile(
            rb"(?<![A-Za-z_\x80-\xff])("
            + _alternation(re.escape(n) for n in names)
            + rb")(?![\w\x80-\xff])"
            + _WS
            + rb"=(?!=)"
        )
    return pattern


def _keyword_in(
    source: bytes, open_paren: int, keywords: dict[bytes, tuple[bytes, ...] | None]
) -> bool:
    """Whether the call opening at ``open_paren`` passes one of ``keywords`` (with a value that
    breaks, where the record lists them), or, under ``_POSITIONAL``, one of those values by
    position."""
    at = keywords.get(_POSITIONAL)
    if at is not None:
        if _value_in(source, open_paren, at):
            return True
        keywords = {k: v for k, v in keywords.items() if k != _POSITIONAL}
        if not keywords:
            return False
    if _last_keyword(source, keywords) <= open_paren:
        return False  # none of the keywords is spelled after the call opens
    end = _call_end(source, open_paren)
    if end == len(source) and end - open_paren > 4096:
        return _keyword_to_the_end(source, open_paren, keywords)
    return _keyword_in_region(source[open_paren:end], keywords)


def _keyword_in_region(region: bytes, keywords: dict[bytes, tuple[bytes, ...] | None]) -> bool:
    if b"\x01" in region:
        # a stray byte: tree-sitter may skip it and what follows up to an "=" (``alpha\xe9W=1``
        # is read as alpha=1), so any of the keywords as a word will do
        return any(
            re.search(rb"(?<![A-Za-z_\x80-\xff])" + re.escape(k) + rb"(?![\w\x80-\xff])", region)
            for k in keywords
        )
    return any(
        _breaks(region, m, keywords) for m in _keyword_pattern(frozenset(keywords)).finditer(region)
    )


def _breaks(
    text: bytes, m: re.Match[bytes], keywords: dict[bytes, tuple[bytes, ...] | None]
) -> bool:
    """Whether the keyword argument ``m`` found in ``text`` has a value that breaks."""
    values = keywords[m.group(1)]
    if values is None:
        return True
    at = _VALUE_START.match(text, m.end()).end()
    starts = (at, at + 1) if text[at : at + 1] in (b"'", b'"') else (at,)
    # a quote whose string never closes (``include='object)``): tree-sitter may skip it and read
    # the bare name after it, which a record can list too (``object``)
    return any(
        text.startswith(v, i) and not _BOUNDARY.match(text, i + len(v))
        for v in values
        for i in starts
    )


_VALUE_PATTERNS: dict[tuple[bytes, ...], re.Pattern[bytes]] = {}


def _value_in(source: bytes, open_paren: int, values: tuple[bytes, ...]) -> bool:
    """Whether one of ``values`` is spelled inside the call opening at ``open_paren``: where a
    value passed by position breaks, any spelling of it in the call keeps the file (its place
    among the arguments is the detector's to read)."""
    end = _call_end(source, open_paren)
    if end - open_paren <= 4096:
        return any(source.find(v, open_paren, end) >= 0 for v in values)
    # a call that runs far (to the end of the file where its brackets do not pair): where the
    # values are spelled, found once per file, so that many such calls cost one scan
    memo = _MEMO.of(source)
    starts = memo.values.get(values)
    if starts is None:
        pattern = _VALUE_PATTERNS.get(values)
        if pattern is None:
            pattern = _VALUE_PATTERNS[values] = re.compile(
                _alternation(re.escape(v) for v in values)
            )
        # every start, those of values overlapping another too
        starts = memo.values[values] = []
        m = pattern.search(source)
        while m is not None:
            starts.append(m.start())
            m = pattern.search(source, m.start() + 1)
    i = bisect.bisect_left(starts, open_paren)
    return i < len(starts) and starts[i] < end


class _FileMemo(threading.local):
    """What the keyword checks found in the file they read last, per thread (the language
    server analyses in several): where the last of a keyword set is spelled, and the keyword
    arguments of a set in the whole file, (starts, ends, breaks), for calls whose region runs
    to the end of the file."""

    source: bytes | None = None
    last: dict[frozenset[bytes], int]
    to_the_end: dict[frozenset[bytes], tuple[list[int], list[int], list[bool]]]
    values: dict[tuple[bytes, ...], list[int]]  # where each set of positional values is spelled

    def of(self, source: bytes) -> _FileMemo:
        if self.source is not source:
            self.source, self.last, self.to_the_end, self.values = source, {}, {}, {}
        return self


_MEMO = _FileMemo()


def _last_keyword(source: bytes, keywords: dict[bytes, tuple[bytes, ...] | None]) -> int:
    """Where the last of ``keywords`` is spelled in ``source`` (-1: nowhere); once per file."""
    memo = _MEMO.of(source)
    key = frozenset(keywords)
    last = memo.last.get(key)
    if last is None:
        last = memo.last[key] = max((source.rfind(k) for k in keywords), default=-1)
    return last


def _keyword_to_the_end(
    source: bytes, open_paren: int, keywords: dict[bytes, tuple[bytes, ...] | None]
) -> bool:
    """:func:`_keyword_in` for a region that runs from ``open_paren`` to the end of the file,
    from the keyword arguments of the whole file, found once per file (a file with an f-string
    early in it has many such calls). Where a keyword argument found that way straddles
    ``open_paren``, the region is read as such."""
    memo = _MEMO.of(source)
    key = frozenset(keywords)
    found = memo.to_the_end.get(key)
    if found is None:
        starts: list[int] = []
        ends: list[int] = []
        breaks: list[bool] = []
        for m in _keyword_pattern(key).finditer(source):
            starts.append(m.start())
            ends.append(m.end())
            breaks.append(_breaks(source, m, keywords))
        found = memo.to_the_end[key] = (starts, ends, breaks)
    starts, ends, breaks = found
    i = bisect.bisect_left(starts, open_paren)
    if (i and ends[i - 1] > open_paren) or source.rfind(b"\x01") >= open_paren:
        return _keyword_in_region(source[open_paren:], keywords)
    return any(breaks[i:])
