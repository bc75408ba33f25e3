"""Rendering a migration run: text for people, JSON for scripts, SARIF for code-scanning UIs.

Positions in every format are those of the file as the run read it (as written, after
``--write``): 1-based lines ending at LF, CRLF or CR, columns counted in code points (a UTF-8
BOM is not one), end columns exclusive, as in SARIF's ``unicodeCodePoints`` column kind.
"""

from __future__ import annotations

import codecs
import json
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from urllib.parse import quote_from_bytes

from recode.dataset.knowledge import ApiChange, Applicability
from recode.dataset.knowledge import Fix as KbFix
from recode.server.detector import Finding
from recode.server.files import fit_newlines
from recode.server.severity import LibraryVersion

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "information": "note", "hint": "note"}
#: The base that relative SARIF artifact URIs are relative to: the working folder of the run.
SARIF_ROOT = "SRCROOT"
SYNTAX_ERRORS = "the file has syntax errors; its findings are fixed only once it parses"


@dataclass(frozen=True)
class Span:
    """A range of the file (see the module's docstring for the units)."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class TextEdit:
    """Replace ``span`` with ``content`` (an empty span inserts, empty content deletes)."""

    span: Span
    content: str


@dataclass(frozen=True)
class Fix:
    """A finding's mechanical fix as text edits of the file. Identical edits in the fixes of
    several findings (one import both need) are applied once."""

    message: str
    edits: tuple[TextEdit, ...]
    applicability: Applicability = Applicability.SAFE
    unsafe_because: str | None = None  # where an unsafe fix may change behaviour


@dataclass(frozen=True)
class Located:
    """A finding's span and its fix (None: no mechanical fix), in the file's own lines."""

    span: Span
    fix: Fix | None


class LineIndex:
    """Byte offsets of UTF-8 source to :class:`Span` positions."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        # where each line starts: after each CRLF, CR or LF (``bytes.splitlines`` ends lines
        # at exactly those), summed in C: a generator over the line ends of each file with a
        # finding was 2-3% of recode-migrate's CPU on the bench corpus
        self.starts = [0, *accumulate(map(len, source.splitlines(keepends=True)))]
        if source and source[-1] not in b"\r\n":
            self.starts.pop()  # the last line has no end
        self.bom = len(codecs.BOM_UTF8) if source.startswith(codecs.BOM_UTF8) else 0

    def position(self, byte: int) -> tuple[int, int]:
        line = bisect_right(self.starts, byte) - 1
        start = self.starts[line] or self.bom
        prefix = self.source[start:byte] if byte > start else b""
        column = len(prefix) if prefix.isascii() else len(prefix.decode("utf-8", "replace"))
        return line + 1, column + 1

    def span(self, start: int, end: int) -> Span:
        return Span(*self.position(start), *self.position(end))


def fix_message(record: ApiChange, fix: KbFix | None = None) -> str:
    """What the fix does; ``fix``: the one made, where it is not the record's own."""
    fix = fix or record.fix
    assert fix is not None
    return fix.kind.advice(record, fix)


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)  # what is outdated now (after --write)
    skipped: str | None = None  # why the file was not scanned
    fixed: int = 0  # findings fixed by --write / shown in --diff
    diff: str = ""
    problem: str | None = None  # scanned, but not rewritten (and why)
    unversioned: tuple[str, ...] = ()  # libraries imported here whose version is unknown
    suppressed: int = 0  # findings accepted by ignore comments or per-file ignores
    #: Why the findings' exact fixes cannot be applied to this file (it does not parse): they
    #: are reported without them, so nothing promises a fix that --write would not make.
    unfixable: str | None = None
    #: Whether unsafe fixes are made (--unsafe-fixes): findings with one count as fixable.
    unsafe_fixes: bool = False
    #: --write (or --diff) had changes for this file and could not make them (refused: no
    #: permission, a codec that cannot hold them exactly; changed on disk; an OS error): a
    #: runtime error of the run, whatever the reason.
    write_error: str | None = None
    #: The UTF-8 source the findings refer to, until :func:`locate` has turned their byte
    #: offsets into lines and columns (in the worker process: the text never crosses processes).
    source: bytes | None = field(default=None, repr=False)
    located: list[Located] = field(default_factory=list)  # one per finding, by locate()


def locate(result: FileResult) -> FileResult:
    """Fill ``result.located`` from ``result.source``, then drop the source."""
    source, result.source = result.source, None
    if source is None or not result.findings:
        return result
    lines = LineIndex(source)
    # The findings of one from-imported name share one edits tuple (the whole rename: the
    # import and every use), so each distinct tuple is located once: per finding, a file's
    # check was quadratic in its uses.
    fixes: dict[int, Fix] = {}

    def fix_of(f: Finding) -> Fix | None:
        if f.edits is None:
            return None
        fix = fixes.get(id(f.edits))
        if fix is None:
            fix = fixes[id(f.edits)] = Fix(
                fix_message(f.record, f.fix),
                tuple(
                    # the text as --write writes it: its line ends those of the file there
                    TextEdit(lines.span(e.start, e.end), fit_newlines(e.text, source, e.start))
                    for e in sorted(set(f.edits))
                ),
                f.fix.applicability,
                f.fix.unsafe_because,
            )
        return fix

    result.located = [
        Located(lines.span(f.start_byte, f.end_byte), fix_of(f)) for f in result.findings
    ]
    return result


def _located(result: FileResult) -> list[Located]:
    """``result.located``, or (never located) the detector's own positions without fixes."""
    if len(result.located) == len(result.findings):
        return result.located
    return [
        Located(
            Span(f.start.line + 1, f.start.character + 1, f.end.line + 1, f.end.character + 1),
            None,
        )
        for f in result.findings
    ]


@dataclass
class Run:
    results: list[FileResult]
    versions: dict[str, LibraryVersion]
    mode: str  # check | diff | write | add-ignore

    @property
    def findings(self) -> list[tuple[str, Finding]]:
        return [(r.path, f) for r in self.results for f in r.findings]

    def located(self) -> list[tuple[FileResult, Finding, Located]]:
        return [
            (r, f, loc)
            for r in self.results
            for f, loc in zip(r.findings, _located(r), strict=True)
        ]

    def errors(self) -> list[str]:
        """Why the run failed (exit status 2), apart from a model's failure; empty if it did its
        work. A run that scanned nothing fails; so does one that could not write a file."""
        errors = []
        refused = [r for r in self.results if r.write_error]
        if refused:
            n = len(refused)
            errors.append(
                f"{n} file{'s' if n != 1 else ''} could not be written: "
                + "; ".join(f"{r.path}: {r.write_error}" for r in refused)
            )
        if self.results and all(r.skipped for r in self.results):
            shown = [f"{r.path}: {r.skipped}" for r in self.results[:3]]
            if len(self.results) > 3:
                shown.append(f"and {len(self.results) - 3} more")
            errors.append("nothing was scanned: " + "; ".join(shown))
        return errors

    def summary(self) -> dict:
        counts = {"error": 0, "warning": 0, "information": 0, "hint": 0}
        for _, f in self.findings:
            counts[f.severity] += 1
        unversioned = sorted({lib for r in self.results for lib in r.unversioned})
        return {
            "files_scanned": sum(1 for r in self.results if r.skipped is None),
            "files_skipped": [
                {"path": r.path, "reason": r.skipped} for r in self.results if r.skipped
            ],
            "files_not_rewritten": [
                {"path": r.path, "reason": r.problem} for r in self.results if r.problem
            ],
            "files_not_fixable": [
                {"path": r.path, "reason": r.unfixable} for r in self.results if r.unfixable
            ],
            "findings": len(self.findings),
            "by_severity": counts,
            "fixable": sum(1 for r, f, _ in self.located() if _fixable(r, f)),
            "unsafe_fixes_hidden": sum(1 for r, f, _ in self.located() if _hidden(r, f)),
            "fixed": sum(r.fixed for r in self.results),  # --add-ignore: findings commented
            "suppressed": sum(r.suppressed for r in self.results),
            "mode": self.mode,
            "environment": {
                lib: {"version": str(v.version), "origin": v.origin}
                for lib, v in sorted(self.versions.items())
            },
            "libraries_without_version": unversioned,
        }


def _fixable(result: FileResult, f: Finding) -> bool:
    """Whether --write would apply the finding's fix (not in a file that does not parse, not
    an unsafe fix without --unsafe-fixes)."""
    return f.applies(result.unsafe_fixes) and result.unfixable is None


def _hidden(result: FileResult, f: Finding) -> bool:
    """Whether the finding has an unsafe fix that --unsafe-fixes would make."""
    return f.fixable and result.unfixable is None and not _fixable(result, f)


def _cell(f: Finding) -> str:
    """``cell N:`` before a notebook finding's line and column (1-based; every cell counts)."""
    return f"cell {f.cell}:" if f.cell is not None else ""


def _span_dict(span: Span) -> dict[str, int]:
    return {
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def finding_dict(result: FileResult, f: Finding, loc: Located) -> dict:
    fixable = _fixable(result, f)
    return {
        "path": result.path,
        **({"cell": f.cell} if f.cell is not None else {}),  # a notebook's, 1-based
        **_span_dict(loc.span),
        "record": f.record.id,
        "library": f.library,
        "symbol": f.symbol,
        "kind": f.record.kind,
        "severity": f.severity,
        "message": f.message,
        "fixable": fixable,
        "unfixable_reason": result.unfixable if f.fixable and not fixable else None,
        "fix_unavailable": f.fix_unavailable,
        "fix": (
            {
                "applicability": loc.fix.applicability.value,
                "unsafe_because": loc.fix.unsafe_because,
                "message": loc.fix.message,
                "edits": [{**_span_dict(e.span), "content": e.content} for e in loc.fix.edits],
            }
            if (fixable or _hidden(result, f)) and loc.fix is not None
            else None
        ),
        "confidence": f.confidence,
        "replacement": f.record.replacement,
        "source": f.record.source_url,
    }


def render_json(run: Run) -> str:
    return json.dumps(
        {
            "findings": [finding_dict(r, f, loc) for r, f, loc in run.located()],
            "summary": run.summary(),
        },
        indent=2,
    )


def render_text(run: Run) -> str:
    lines: list[str] = []
    for r in run.results:
        if r.diff:
            lines.append(r.diff.rstrip("\n"))
    for r, f, loc in run.located():
        mark = ""
        if run.mode == "check" and _fixable(r, f):
            mark = " [fixable]" if f.fix.safe else " [unsafe fix]"
        elif _hidden(r, f):
            mark = f" [unsafe fix, made with --unsafe-fixes: {f.fix.unsafe_because}]"
        if f.fix_unavailable:
            mark = f" [not fixed: {f.fix_unavailable}]"
        lines.append(
            f"{r.path}:{_cell(f)}{loc.span.line}:{loc.span.column}: {f.severity} "
            f"[{f.record.id}] {f.message}{mark}"
        )
    s = run.summary()
    for item in s["files_skipped"]:
        lines.append(f"{item['path']}: {item['reason']}")
    for item in s["files_not_rewritten"]:
        lines.append(f"{item['path']}: not rewritten: {item['reason']}")
    if run.mode == "check":
        for item in s["files_not_fixable"]:
            lines.append(f"{item['path']}: not fixable: {item['reason']}")
    for lib in s["libraries_without_version"]:
        lines.append(
            f"note: {lib} is imported but neither installed for the interpreter nor pinned by the "
            f"project; its changes were not checked (pass --target {lib}==VERSION to check one)"
        )
    by = s["by_severity"]
    parts = [f"{by[k]} {k}{'s' if by[k] != 1 else ''}" for k in ("error", "warning") if by[k]]
    head = f"{s['findings']} outdated call{'s' if s['findings'] != 1 else ''}"
    if parts:
        head += f" ({', '.join(parts)})"
    head += f" in {s['files_scanned']} file{'s' if s['files_scanned'] != 1 else ''}"
    if run.mode == "write":
        head += f"; {s['fixed']} fixed"
    elif run.mode == "diff":
        head += f"; the diff fixes {s['fixed']}"
    elif run.mode == "add-ignore":
        head += f"; {s['fixed']} given an ignore comment"
    elif s["fixable"]:
        head += f"; {s['fixable']} fixable with --write"
    if s["unsafe_fixes_hidden"]:
        n = s["unsafe_fixes_hidden"]
        if s["fixable"] or run.mode != "check":
            head += f"; {n} more with --unsafe-fixes"
        else:
            head += f"; {n} fixable with --write --unsafe-fixes"
    if s["suppressed"]:
        head += f"; {s['suppressed']} suppressed"
    if s["files_skipped"]:
        head += f"; {len(s['files_skipped'])} skipped"
    env = ", ".join(f"{lib} {v['version']} ({v['origin']})" for lib, v in s["environment"].items())
    lines.append(head + ".")
    if env:
        lines.append(f"checked against: {env}")
    return "\n".join(lines)


# -- SARIF 2.1.0 -------------------------------------------------------------------------------


def _uri_path(path: str) -> str:
    """A file-system path as the path of a URI: percent-encoded (spaces, ``#``, ``%``,
    non-ASCII as UTF-8, bytes that are no UTF-8 as they are), ``/`` kept."""
    return quote_from_bytes(os.fsencode(path), safe="/")


def artifact_location(path: str, base: Path) -> dict[str, str]:
    """A file as SARIF names it: relative to ``SRCROOT`` (``base``, the working folder) when it
    lies inside, else an absolute ``file://`` URI."""
    root = os.path.join(str(base), "")
    full = os.path.normpath(os.path.join(root, path))
    if full.startswith(root):
        return {"uri": _uri_path(full[len(root) :]), "uriBaseId": SARIF_ROOT}
    return {"uri": "file://" + _uri_path(full)}


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.line,
        "startColumn": span.column,
        "endLine": span.end_line,
        "endColumn": span.end_column,
    }


def _sarif_fix(fix: Fix, location: dict[str, str]) -> dict:
    replacements = []
    for e in fix.edits:
        replacement: dict = {"deletedRegion": _region(e.span)}
        if e.content:
            replacement["insertedContent"] = {"text": e.content}
        replacements.append(replacement)
    properties: dict = {"applicability": fix.applicability.value}
    if fix.unsafe_because:
        properties["unsafeBecause"] = fix.unsafe_because
    return {
        "description": {"text": fix.message},
        "artifactChanges": [{"artifactLocation": location, "replacements": replacements}],
        "properties": properties,
    }


def _notifications(run: Run, base: Path) -> list[dict]:
    """What the run could not do, file by file: skipped files and files not rewritten."""
    notes = []
    for r in run.results:
        for level, text in (
            ("warning", r.skipped),
            ("error" if r.write_error else "warning", r.problem and f"not rewritten: {r.problem}"),
        ):
            if text:
                notes.append(
                    {
                        "level": level,
                        "message": {"text": text},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": artifact_location(r.path, base)
                                }
                            }
                        ],
                    }
                )
    return notes


def render_sarif(run: Run, base: Path, exit_code: int) -> str:
    """The run as SARIF 2.1.0; ``base`` is the working folder (relative URIs start there),
    ``exit_code`` the run's exit status."""
    base = base.resolve()
    rules: dict[str, dict] = {}
    results = []
    for r, f, loc in run.located():
        rec = f.record
        if rec.id not in rules:
            rules[rec.id] = {
                "id": rec.id,
                "name": rec.symbol,
                "shortDescription": {"text": f"{rec.symbol}: {rec.kind} ({rec.library})"},
                "fullDescription": {"text": rec.note},
                "helpUri": rec.source_url,
                "properties": {"library": rec.library, "kind": rec.kind},
            }
        location = artifact_location(r.path, base)
        fixable = _fixable(r, f)
        result: dict = {
            "ruleId": rec.id,
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {"physicalLocation": {"artifactLocation": location, "region": _region(loc.span)}}
            ],
            "properties": {
                "fixable": fixable,
                "fix_unavailable": f.fix_unavailable,
                "confidence": f.confidence,
                **({"cell": f.cell} if f.cell is not None else {}),
            },
        }
        if (fixable or _hidden(r, f)) and loc.fix is not None:
            result["fixes"] = [_sarif_fix(loc.fix, location)]
        elif f.fixable:
            result["properties"]["unfixableReason"] = r.unfixable
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ReCode",
                        "informationUri": "https://arxiv.org/abs/2506.20495",
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": exit_code != 2,
                        "exitCode": exit_code,
                        "toolExecutionNotifications": _notifications(run, base),
                    }
                ],
                "originalUriBaseIds": {SARIF_ROOT: {"uri": "file://" + _uri_path(str(base) + "/")}},
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {"suppressed": sum(r.suppressed for r in run.results)},
            }
        ],
    }
    return json.dumps(doc, indent=2)
