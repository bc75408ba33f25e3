"""A failing test's traceback as evidence of a finding the source alone does not show.

``def handles_of(legend): return legend.legendHandles`` holds no finding: nothing in the file
says that ``legend`` is a matplotlib Legend. When a test fails with ``AttributeError: 'Legend'
object has no attribute 'legendHandles'`` in that function, the traceback shows what the
source does not: its innermost frame is the project's file and line, the error names the class
and the member, and the cause (:mod:`recode.server.upgrade.causes`) is the record of that class's
member. That site is then handed to the detector as :class:`recode.server.detector.Evidence`
and fixed as any other finding (safe or unsafe, the parse check, only the edit's bytes).

Evidence is taken only where the class the error names is the record's class, or a subclass
of it by ``types.json``'s ``bases``, and the innermost frame is a file of the copy; the
detector then takes it only where the line is still the one the traceback shows and exactly
one attribute on it has that member's name.

Some errors name no class but prove one by where they are raised (:data:`_PROOFS`): pandas 3's
``KeyError: 0`` whose frame after the project's line is ``Series.__getitem__`` (the line's one
subscript ``s[i]``), NumPy 2.4's array-to-scalar errors raised on the project's line itself, no
frame after it (its one ``float(v)`` or element store ``a[k] = v``). The project's line is then
the innermost frame of the copy's files, not the innermost frame.

A record whose fix is a ``base`` fix explains an object of the project's own class that lacks
a member the library now reads (``'Duck' object has no attribute '__sklearn_tags__'``: Duck
does not derive from ``BaseEstimator``). The site is then the class statement: the one
definition of the class the error names in the files of the traceback's frames (not the
library's, where the error is raised); two or more of that name, or none there, are refused.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from recode.dataset.knowledge import ApiChange, FixKind, KnowledgeBase, SubscriptKey
from recode.server.detector import Detector, Evidence, Proven, evidence_site
from recode.server.parsing import parse
from recode.server.upgrade.causes import PATTERNS, Cause, ErrorKind
from recode.server.upgrade.testrun import TestRun

#: pytest's location line closing a traceback entry: ``pkg/mod.py:6: AttributeError`` (the
#: innermost entry of the long style), ``pkg/mod.py:6: in f`` (the short style), or nothing
#: after the colon (an outer entry of the long style).
_PYTEST_ENTRY = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+):(?: .*)?$", re.M)
#: Python's own (``--tb=native``, unittest): ``  File "pkg/mod.py", line 6, in f`` and the line.
_NATIVE_ENTRY = re.compile(
    r'^\s*File "(?P<path>[^"\n]+)", line (?P<line>\d+), in [^\n]*\n(?P<source>[^\n]*)$', re.M
)
_MARKED = re.compile(r"^>(.*)$")  # pytest's mark of the failing line of an entry
#: Between a chained exception's tracebacks (pytest and Python write the same words)
_CHAINED = re.compile(
    r"^(?:The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)$",
    re.M,
)
#: The project's class whose object lacks a member (``'Duck' object has no attribute 'm'``).
_OBJECT_LACKS = re.compile(r"'(?P<owner>\w+)' object has no attribute '\w+'")
#: An instance's member (``'Legend' object has no attribute ...``); not a class's (``type
#: object 'numpy.ndarray' ...``): a class the source names is the detector's to see.
_OWNER_PATTERNS = [
    p
    for p in PATTERNS
    if p.kind is ErrorKind.OBJECT_ATTRIBUTE and "' object has no attribute" in p.regex.pattern
]

#: Errors that name no class but prove one where they are raised: the error line, what it
#: proves of the project's line, the member of the record's class it proves was reached.
#: ``KeyError: 0`` out of ``Series.__getitem__`` (the frame after the line must be it, as the
#: cause's pattern says): the label is not in the index, so before pandas 3 the key was a
#: position (``.iloc``), unless the index held integers (then it raised before too). NumPy's
#: conversion errors raised on the line itself (no frame after it): an array converted to a
#: scalar by ``float(v)`` or stored into one element, ``a[k] = v``.
_PROOFS = (
    (re.compile(r"^KeyError: -?\d+$"), Proven.SUBSCRIPT, "__getitem__"),
    (
        re.compile(r"^TypeError: only 0-dimensional arrays can be converted to Python scalars"),
        Proven.CONVERSION,
        "__float__",
    ),
    (
        re.compile(r"^ValueError: setting an array element with a sequence\.$"),
        Proven.ELEMENT,
        "__float__",
    ),
)


@dataclass(frozen=True)
class Frame:
    """The innermost frame of a traceback: its file as shown, its line, the line's source."""

    path: str
    line: int
    source: str | None  # None: the traceback does not show it
    location: str = field(default="", compare=False)  # the entry's location line, as shown


@dataclass
class Proof:
    """One failure taken as evidence, or refused (``refused`` says why), for the report."""

    test: str
    record: str
    path: str | None = None
    line: int | None = None
    refused: str | None = None
    evidence: Evidence | None = None
    round: int = 0  # the migration round it was taken in
    fixed: bool = False  # its fix was made (the round rewrote its file)

    def to_dict(self) -> dict:
        return {
            "test": self.test,
            "record": self.record,
            "path": self.path,
            "line": self.line,
            "round": self.round,
            "fixed": self.fixed,
            "refused": self.refused,
            "origin": f"from the test run: {self.test}",
        }


def frames(text: str) -> list[Frame]:
    """The entries of the last traceback in ``text`` (pytest's styles or Python's own), the
    innermost last; a chained exception's tracebacks before it are left out."""
    last = max(_CHAINED.finditer(text), key=lambda m: m.end(), default=None)
    if last is not None:
        text = text[last.end() :]
    pytest = list(_PYTEST_ENTRY.finditer(text))
    native = list(_NATIVE_ENTRY.finditer(text))
    if native and (not pytest or native[-1].end() > pytest[-1].end()):
        return [
            Frame(m.group("path"), int(m.group("line")), m.group("source").strip(), m.group(0))
            for m in native
        ]
    return [_pytest_frame(text, m) for m in pytest]


def _pytest_frame(text: str, entry: re.Match[str]) -> Frame:
    """One entry of pytest's traceback: the line it marks (``>``) in the long style, else the
    line after its location (the short style)."""
    before = text[: entry.start()].splitlines()
    source = None
    for shown in reversed(before):
        if shown.startswith("_ _") or _PYTEST_ENTRY.match(shown):
            break  # the entry before
        marked = _MARKED.match(shown)
        if marked:
            source = marked.group(1).strip()
            break
    if source is None:  # the short style: the line follows the location
        after = text[entry.end() :].lstrip("\n").splitlines()[:1]
        if after and after[0].startswith("    ") and not after[0].startswith("E "):
            source = after[0].strip()
    return Frame(entry.group("path"), int(entry.group("line")), source, entry.group(0))


def innermost_frame(text: str) -> Frame | None:
    """The last entry of the last traceback in ``text`` (pytest's styles or Python's own)."""
    found = frames(text)
    return found[-1] if found else None


def owner_and_name(error: str) -> tuple[str, str] | None:
    """The class and the member an error line names (``'Legend' object has no attribute
    'legendHandles'``), else None."""
    for pattern in _OWNER_PATTERNS:
        m = pattern.regex.search(error)
        if m is not None and "owner" in m.groupdict() and m.group("owner"):
            return m.group("owner"), m.group("name")
    return None


def class_matches(owner: str, record_class: str, kb: KnowledgeBase) -> bool:
    """Whether the class an error names (by its own name, as Python gives it) is
    ``record_class`` or a subclass of it that ``types.json``'s ``bases`` names."""
    short = owner.rpartition(".")[2]
    if record_class.rpartition(".")[2] == short:
        return True
    return any(
        cls.rpartition(".")[2] == short and record_class in kb.types.ancestors(cls)
        for cls in kb.types.bases
    )


def project_file(shown: str, copy: Path, files: list[str]) -> str | None:
    """The file of the copy (relative, as in ``files``) a traceback's path names, else None
    (a library's file, or one outside the copy)."""
    if "site-packages/" in shown or "dist-packages/" in shown:
        return None
    path = Path(shown)
    if path.is_absolute():
        try:
            rel = str(path.resolve().relative_to(copy.resolve()))
        except ValueError:
            return None
        return rel if rel in files else None
    if shown in files:
        return shown
    # relative to a rootdir above the copy (a git worktree's top): the longest file it ends in
    ends = [rel for rel in files if shown.endswith("/" + rel)]
    return max(ends, key=len) if ends else None


def prove(
    test: str, text: str, cause: Cause, kb: KnowledgeBase, copy: Path, files: list[str]
) -> Proof | None:
    """The evidence one failure gives, a refusal, or None where its cause is no record's
    member named on an object or proven by its error (nothing to prove)."""
    record = cause.record
    if record is None:
        return None
    if record.fix is not None and record.fix.kind is FixKind.BASE:
        return _prove_class(test, text, cause.error, record, copy, files)
    if owner_and_name(cause.error) is not None:
        return _attribute(test, text, cause, record, kb, copy, files)
    member = record.path.rpartition(".")[2]
    proven = next((p for regex, p, m in _PROOFS if regex.search(cause.error) and m == member), None)
    if proven is None or (proven is Proven.SUBSCRIPT and record.key is not SubscriptKey.INT):
        return None
    proof = Proof(test, record.id)
    found = frames(text)
    ours = [i for i, f in enumerate(found) if project_file(f.path, copy, files) is not None]
    if not ours:
        proof.refused = "the error was raised outside the project's files"
        return proof
    frame, after = found[ours[-1]], found[ours[-1] + 1 :]
    proof.path, proof.line = project_file(frame.path, copy, files), frame.line
    if proven is Proven.SUBSCRIPT:
        raiser = next((p.frame for p in PATTERNS if p.frame and p.regex.search(cause.error)), None)
        if not after or raiser is None or not raiser.search(after[0].location):
            proof.refused = f"the line's call into the library is not {record.path}"
            return proof
    elif after:
        proof.refused = "the error was raised in a function the line calls, not on the line"
        return proof
    if frame.source is None:
        proof.refused = "the traceback does not show the line"
    else:
        origin = f"from the test run: {test}"
        proof.evidence = Evidence(frame.line, member, record, frame.source, origin, proven)
    return proof


def _attribute(
    test: str,
    text: str,
    cause: Cause,
    record: ApiChange,
    kb: KnowledgeBase,
    copy: Path,
    files: list[str],
) -> Proof | None:
    """The evidence of an error naming the object's class and member: the innermost frame's
    line, where the class is the record's (or a subclass of it)."""
    owner, name = owner_and_name(cause.error) or ("", "")
    if record.path.rpartition(".")[2] != name:
        return None
    proof = Proof(test, record.id)
    frame = innermost_frame(text)
    rel = project_file(frame.path, copy, files) if frame is not None else None
    if frame is None or rel is None:
        proof.refused = "the error was raised outside the project's files"
        return proof
    proof.path, proof.line = rel, frame.line
    if not class_matches(owner, record.path.rpartition(".")[0], kb):
        proof.refused = f"'{owner}' is not {record.path.rpartition('.')[0]} or a subclass of it"
    elif frame.source is None:
        proof.refused = "the traceback does not show the line"
    else:
        proof.evidence = Evidence(
            frame.line, name, record, frame.source, f"from the test run: {test}"
        )
    return proof


def _prove_class(
    test: str, text: str, error: str, record: ApiChange, copy: Path, files: list[str]
) -> Proof | None:
    """The class statement of the project's class the error names (a ``base`` fix's site)."""
    lacks = _OBJECT_LACKS.search(error)
    if lacks is None:
        return None
    owner = lacks.group("owner")
    proof = Proof(test, record.id)
    shown = [m.group("path") for m in _PYTEST_ENTRY.finditer(text)]
    shown += [m.group("path") for m in _NATIVE_ENTRY.finditer(text)]
    frames = dict.fromkeys(rel for p in shown if (rel := project_file(p, copy, files)))
    found = [(rel, line) for rel in frames for line in class_lines(copy / rel, owner)]
    if not found:
        proof.refused = f"no class {owner} is defined in the project's files of the traceback"
        return proof
    if len(found) > 1:
        places = ", ".join(f"{rel}:{line}" for rel, line in found)
        proof.refused = f"{len(found)} classes {owner} in the traceback's files ({places})"
        return proof
    proof.path, proof.line = found[0]
    lines = (copy / proof.path).read_text("utf-8", "replace").splitlines()
    proof.evidence = Evidence(
        proof.line,
        owner,
        record,
        lines[proof.line - 1],
        f"from the test run: {test}",
        Proven.CLASS,
    )
    return proof


def class_lines(path: Path, name: str) -> list[int]:
    """The lines (1-based) of the ``class`` statements defining ``name`` in a file (none where
    it does not parse)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return []
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name]


def gather(
    run: TestRun, causes: dict[str, Cause], kb: KnowledgeBase, copy: Path, files: list[str]
) -> list[Proof]:
    """The evidence of a test run's failures (``causes``: each failing test's), one proof per
    site (the first test that shows it)."""
    proofs: list[Proof] = []
    seen: set[tuple[str | None, int | None, str]] = set()
    for test, result in run.failing().items():
        cause = causes.get(test)
        proof = prove(test, result.text, cause, kb, copy, files) if cause is not None else None
        if proof is None or (proof.path, proof.line, proof.record) in seen:
            continue
        seen.add((proof.path, proof.line, proof.record))
        proofs.append(proof)
    return proofs


def check(proofs: list[Proof], detector: Detector, copy: Path, unsafe: bool) -> None:
    """Before a round: refuse each proof whose site the detector would not take (the line
    changed, two attributes match) or whose fix will not be made, saying why."""
    for proof in proofs:
        if proof.evidence is None or proof.path is None:
            continue
        source = (copy / proof.path).read_bytes()
        site = evidence_site(source, parse(source).root_node, proof.evidence)
        if isinstance(site, str):
            proof.refused = site
            continue
        found = [
            f
            for f in detector.detect(source, evidence=[proof.evidence])
            if (f.start_byte, f.end_byte, f.record.id)
            == (site.start_byte, site.end_byte, proof.record)
        ]
        if not found:
            proof.refused = "the record does not apply at the target versions"
            continue
        if found[0].edits is None:
            proof.refused = f"no exact fix here ({found[0].fix_unavailable or 'none'})"
        elif not found[0].applies(unsafe):
            proof.refused = "an unsafe fix: made only with --unsafe-fixes"


def by_file(proofs: list[Proof]) -> dict[str, list[Evidence]]:
    """The evidence to hand the detector, by file of the copy (refused proofs left out)."""
    out: dict[str, list[Evidence]] = {}
    for proof in proofs:
        if proof.evidence is not None and proof.refused is None and proof.path is not None:
            out.setdefault(proof.path, []).append(proof.evidence)
    return out


def refute(
    proofs: list[Proof],
    changed: list[str],
    previous: TestRun,
    now: TestRun,
    copy: Path,
    files: list[str],
) -> list[Proof]:
    """After a round's test run (``now``; ``previous``: the run before the round): the proofs
    taken in the round (their file among ``changed``) that a test refutes, refused with its
    name: the test fails now on the proof's line and did not before (it passed, or failed
    further on). The line then sees other objects too (an array where the run proved a
    Series), which the fix does not hold for; its file is to be migrated again without it.
    ``files``: the copy's Python files."""
    wrong = []
    for proof in proofs:
        if proof.refused is not None or proof.evidence is None or proof.path not in changed:
            continue
        site = (proof.path, proof.line)
        for test, result in now.failing().items():
            before = previous.results.get(test)
            if _failing_line(result.text, copy, files) == site and (
                before is None
                or not before.outcome.bad
                or _failing_line(before.text, copy, files) != site
            ):
                proof.refused = f"its fix made {test} fail there (the line sees other objects too)"
                proof.fixed = False
                wrong.append(proof)
                break
    return wrong


def _failing_line(text: str, copy: Path, files: list[str]) -> tuple[str, int] | None:
    """The innermost frame of the copy's ``files`` in a traceback: its file and line."""
    for frame in reversed(frames(text)):
        rel = project_file(frame.path, copy, files)
        if rel is not None:
            return rel, frame.line
    return None


def settle(
    proofs: list[Proof], round_: int, changed: list[str], copy: Path, before: dict[str, bytes]
) -> None:
    """After round ``round_``: a proof taken is fixed where the round rewrote its file and
    fewer of its lines read as the traceback showed the line than before the round
    (``before``: the file's bytes then; the same text may stand on other lines too)."""
    for proof in proofs:
        proof.round = round_
        if proof.refused is not None or proof.evidence is None or proof.path not in changed:
            continue
        shown = proof.evidence.text
        was = before.get(proof.path)
        now = _lines_reading((copy / proof.path).read_bytes(), shown)
        proof.fixed = now == 0 if was is None else now < _lines_reading(was, shown)


def _lines_reading(data: bytes, shown: str) -> int:
    """How many lines of ``data`` read ``shown`` (as a traceback shows a line: stripped)."""
    return sum(
        line.strip() == shown.strip() for line in data.decode("utf-8", "replace").splitlines()
    )
