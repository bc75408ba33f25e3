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

A record whose fix is a ``base`` fix explains an object of the project's own class that lacks
a member the library now reads (``'Duck' object has no attribute '__sklearn_tags__'``: Duck
does not derive from ``BaseEstimator``). The site is then the class statement: the one
definition of the class the error names in the files of the traceback's frames (not the
library's, where the error is raised); two or more of that name, or none there, are refused.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from recode.dataset.knowledge import ApiChange, FixKind, KnowledgeBase
from recode.server.detector import Detector, Evidence, EvidenceKind, evidence_site
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
#: The project's class whose object lacks a member (``'Duck' object has no attribute 'm'``).
_OBJECT_LACKS = re.compile(r"'(?P<owner>\w+)' object has no attribute '\w+'")
#: An instance's member (``'Legend' object has no attribute ...``); not a class's (``type
#: object 'numpy.ndarray' ...``): a class the source names is the detector's to see.
_OWNER_PATTERNS = [
    p
    for p in PATTERNS
    if p.kind is ErrorKind.OBJECT_ATTRIBUTE and "' object has no attribute" in p.regex.pattern
]


@dataclass(frozen=True)
class Frame:
    """The innermost frame of a traceback: its file as shown, its line, the line's source."""

    path: str
    line: int
    source: str | None  # None: the traceback does not show it


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


def innermost_frame(text: str) -> Frame | None:
    """The last entry of the last traceback in ``text`` (pytest's styles or Python's own)."""
    last_pytest = next(reversed(list(_PYTEST_ENTRY.finditer(text))), None)
    last_native = next(reversed(list(_NATIVE_ENTRY.finditer(text))), None)
    if last_native is not None and (last_pytest is None or last_native.end() > last_pytest.end()):
        source = last_native.group("source")
        return Frame(last_native.group("path"), int(last_native.group("line")), source.strip())
    if last_pytest is None:
        return None
    before = text[: last_pytest.start()].splitlines()
    source = None
    for shown in reversed(before):
        if shown.startswith("_ _") or _PYTEST_ENTRY.match(shown):
            break  # the entry before
        marked = _MARKED.match(shown)
        if marked:
            source = marked.group(1).strip()
            break
    if source is None:  # the short style: the line follows the location
        after = text[last_pytest.end() :].lstrip("\n").splitlines()[:1]
        if after and after[0].startswith("    ") and not after[0].startswith("E "):
            source = after[0].strip()
    return Frame(last_pytest.group("path"), int(last_pytest.group("line")), source)


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
    member named on an object (nothing to prove)."""
    record = cause.record
    if record is not None and record.fix is not None and record.fix.kind is FixKind.BASE:
        return _prove_class(test, text, cause.error, record, copy, files)
    named = owner_and_name(cause.error)
    if record is None or named is None:
        return None
    owner, name = named
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
        EvidenceKind.CLASS,
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


def settle(proofs: list[Proof], round_: int, changed: list[str], copy: Path) -> None:
    """After round ``round_``: a proof taken is fixed where the round rewrote its file and the
    line the traceback showed is no longer in it."""
    for proof in proofs:
        proof.round = round_
        if proof.refused is not None or proof.evidence is None or proof.path not in changed:
            continue
        lines = (copy / proof.path).read_text("utf-8", "replace").splitlines()
        proof.fixed = proof.evidence.text.strip() not in {line.strip() for line in lines}
