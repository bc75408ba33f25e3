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
one attribute on it has that member's name. A class of the project that the error names (by
a name without a module) may have inherited a private member from the record's class, through
bases in other files that ``types.json`` cannot know (imbalanced-learn's samplers and
``BaseEstimator._validate_data``): that is taken where the same test passed at the baseline,
so the member was there before the upgrade.

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

A callable's error (``validate_params() missing 1 required keyword-only argument:
'prefer_skip_nested_validation'``) raised on a line of the project that calls a name imported
from another module of the project (``from ..utils._param_validation import validate_params``)
proves that module's name to be the record's callable: it re-exports the library's (a
compatibility module that defines its own for old releases and imports the library's for new
ones). Each import of that name from that module, in every file of the copy, is then evidence
(:attr:`Proven.IMPORT`): the detector binds the name there to the record's callable, and
each call of it is a finding, fixed as any other.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from recode.dataset.knowledge import ApiChange, FixKind, KnowledgeBase, SubscriptKey
from recode.server.detector import Detector, Evidence, Proven, evidence_site
from recode.server.parsing import Node, parse, text
from recode.server.upgrade.causes import PATTERNS, Cause, ErrorKind
from recode.server.upgrade.testrun import Outcome, TestRun

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


#: Errors that name the function called (``f() missing 1 required keyword-only argument``).
_CALL_PATTERNS = [p for p in PATTERNS if p.kind in (ErrorKind.KEYWORD, ErrorKind.REQUIRED)]
#: What holds no module-level import: a function's or a class's body.
_NESTED = ("function_definition", "class_definition", "decorated_definition")


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


def inherited(owner: str, name: str) -> bool:
    """Whether an error on ``owner``'s member ``name`` may be a member the project's own class
    inherited from a library's class: a private member (``_validate_data``), the class named
    without a module (the project's)."""
    return name.startswith("_") and not name.startswith("__") and "." not in owner


def prove(
    test: str,
    text: str,
    cause: Cause,
    kb: KnowledgeBase,
    copy: Path,
    files: list[str],
    passed_before: bool = False,
) -> Proof | None:
    """The evidence one failure gives, a refusal, or None where its cause is no record's
    member named on an object or proven by its error (nothing to prove). ``passed_before``:
    the test passed at the baseline, so a private member its object lacks now
    (:func:`inherited`) was there before, inherited from the record's class by a class of the
    project, whose bases ``types.json`` does not know (imbalanced-learn's samplers and
    ``BaseEstimator._validate_data``)."""
    record = cause.record
    if record is None:
        return None
    if record.fix is not None and record.fix.kind is FixKind.BASE:
        return _prove_class(test, text, cause.error, record, copy, files)
    if owner_and_name(cause.error) is not None:
        return _attribute(test, text, cause, record, kb, copy, files, passed_before)
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
    passed_before: bool,
) -> Proof | None:
    """The evidence of an error naming the object's class and member: the innermost frame's
    line, where the class is the record's (or a subclass of it, or one of the project's that
    inherited a private member, ``passed_before``: see :func:`prove`)."""
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
    lost = passed_before and inherited(owner, name)
    if not lost and not class_matches(owner, record.path.rpartition(".")[0], kb):
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


def same_class(proof: Proof, copy: Path) -> list[Proof]:
    """The other reads of ``self.NAME`` in the methods of the class whose method the proven
    line is in (``self`` there is an object of that class too, or of a subclass): each a
    proof of its own, fixed in the same round (a class's first fixed read would otherwise
    reveal the next only in the next round). A nested class's reads are left: its ``self``
    is another object."""
    ev = proof.evidence
    if ev is None or proof.path is None or ev.proven is not Proven.ATTRIBUTE:
        return []
    if not re.search(rf"(?<![\w.])self\.{re.escape(ev.name)}\b", ev.text):
        return []
    source = (copy / proof.path).read_bytes()
    root = parse(source).root_node
    lines = source.decode("utf-8", "replace").splitlines()
    at = sum(len(line) + 1 for line in source.split(b"\n")[: ev.line - 1])
    node = root.descendant_for_byte_range(at, at)
    while node is not None and node.type != "class_definition":
        node = node.parent
    if node is None:
        return []
    found: list[Proof] = []
    stack = list(node.named_children)
    while stack:
        item = stack.pop()
        if item.type == "class_definition":
            continue  # a nested class: its self is another object
        if (
            item.type == "attribute"
            and text(item.child_by_field_name("object")) == "self"
            and text(item.child_by_field_name("attribute")) == ev.name
        ):
            line = item.start_point[0] + 1
            if line != ev.line and not any(p.line == line for p in found):
                other = Proof(proof.test, proof.record, proof.path, line)
                shown = lines[line - 1].strip()
                other.evidence = Evidence(line, ev.name, ev.record, shown, ev.origin)
                found.append(other)
        stack.extend(item.named_children)
    return sorted(found, key=lambda p: p.line or 0)


def called_name(error: str) -> str | None:
    """The function an error line names as called (``validate_params``), else None (a
    method's or a constructor's: ``KMeans.__init__``)."""
    for pattern in _CALL_PATTERNS:
        m = pattern.regex.search(error)
        if m is not None and "." not in m.group("callable"):
            return m.group("callable")
    return None


def module_imports(root: Node) -> list[Node]:
    """The module-level ``from ... import`` statements (under ``if`` and ``try`` too)."""
    found: list[Node] = []
    stack = list(reversed(root.named_children))
    while stack:
        node = stack.pop()
        if node.type == "import_from_statement":
            found.append(node)
        elif node.type not in _NESTED:
            stack.extend(reversed(node.named_children))
    return found


def module_file(module: str, importer: str, files: set[str]) -> str | None:
    """The file of the copy a ``from MODULE import`` in file ``importer`` reads (a relative
    module, or an absolute one of the project's packages), else None (a library's)."""
    rest = module.lstrip(".")
    if rest != module:
        base = Path(importer).parent
        for _ in range(len(module) - len(rest) - 1):
            base = base.parent
        stem = "/".join([*base.parts, *rest.split(".")]) if rest else base.as_posix()
        stems = [stem]
    else:
        stems = [module.replace(".", "/"), "src/" + module.replace(".", "/")]
    for stem in stems:
        for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
            if candidate in files:
                return candidate
    return None


def _imports_of(name: str, rel: str, source: bytes, files: set[str]) -> list[tuple[Node, str, str]]:
    """Each import in file ``rel`` of ``name`` from a module of the copy: (the statement,
    the name it binds, the module's file)."""
    found = []
    for stmt in module_imports(parse(source).root_node):
        module = text(stmt.child_by_field_name("module_name"))
        for item in stmt.children_by_field_name("name"):
            dotted = item.child_by_field_name("name") if item.type == "aliased_import" else item
            if text(dotted) != name:
                continue
            where = module_file(module, rel, files)
            if where is not None and where != rel:
                local = item.child_by_field_name("alias") if item.type == "aliased_import" else None
                found.append((stmt, text(local) if local is not None else name, where))
    return found


def prove_import(test: str, text_: str, cause: Cause, copy: Path, files: list[str]) -> list[Proof]:
    """The imports a callable's error proves to bind the record's callable (see the module's
    docstring): one proof per file of the copy importing the name from the same module."""
    record = cause.record
    name = called_name(cause.error)
    if record is None or name is None or record.path.rpartition(".")[2] != name:
        return []
    frame = innermost_frame(text_)
    rel = project_file(frame.path, copy, files) if frame is not None else None
    if frame is None or rel is None or frame.source is None:
        return []
    every = set(files)
    imported = _imports_of(name, rel, (copy / rel).read_bytes(), every)
    called = [
        where
        for _, local, where in imported
        if re.search(rf"(?<![\w.]){re.escape(local)}\s*\(", frame.source)
    ]
    if len(set(called)) != 1:
        return []  # not called on the line, or from two modules: which one raised?
    proofs = []
    for path in files:
        source = (copy / path).read_bytes()
        if name.encode() not in source:
            continue
        for stmt, _, where in _imports_of(name, path, source, every):
            if where == called[0]:
                line = stmt.start_point[0] + 1
                first = text(stmt).splitlines()[0]
                proof = Proof(test, record.id, path, line)
                origin = f"from the test run: {test} ({name} of {where})"
                proof.evidence = Evidence(line, name, record, first, origin, Proven.IMPORT)
                proofs.append(proof)
    return proofs


def gather(
    run: TestRun,
    causes: dict[str, Cause],
    kb: KnowledgeBase,
    copy: Path,
    files: list[str],
    baseline: TestRun | None = None,
) -> list[Proof]:
    """The evidence of a test run's failures (``causes``: each failing test's), one proof per
    site (the first test that shows it). ``baseline``: the run at the old versions."""
    proofs: list[Proof] = []
    seen: set[tuple[str | None, int | None, str]] = set()
    for test, result in run.failing().items():
        cause = causes.get(test)
        if cause is None:
            continue
        before = baseline.results.get(test) if baseline is not None else None
        passed = before is not None and before.outcome is Outcome.PASSED
        proof = prove(test, result.text, cause, kb, copy, files, passed)
        found = [proof, *same_class(proof, copy)] if proof is not None else []
        if proof is None and not any(p.record == getattr(cause.record, "id", None) for p in proofs):
            found = prove_import(test, result.text, cause, copy, files)
        for proof in found:
            if (proof.path, proof.line, proof.record) in seen:
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
        if proof.evidence.proven is Proven.IMPORT:
            _check_import(proof, source, detector, unsafe)
            continue
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


def _check_import(proof: Proof, source: bytes, detector: Detector, unsafe: bool) -> None:
    """:func:`check` of an import's proof: the findings it adds (the calls of the name)."""
    assert proof.evidence is not None
    before = {(f.start_byte, f.record.id) for f in detector.detect(source)}
    found = [
        f
        for f in detector.detect(source, evidence=[proof.evidence])
        if f.record.id == proof.record and (f.start_byte, f.record.id) not in before
    ]
    if not found:
        proof.refused = "no call of the name here is the record's at the target versions"
    elif all(f.edits is None for f in found):
        proof.refused = f"no exact fix here ({found[0].fix_unavailable or 'none'})"
    elif not any(f.applies(unsafe) for f in found):
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
        if proof.evidence.proven is Proven.IMPORT:  # the import stays; its calls changed
            proof.fixed = True
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
