"""One file through the pipeline: read, detect, fix, and (for --write) write back safely.

With a model engine (``--model-url``), findings left without a mechanical fix go to the model
after the mechanical fixes; its answers are applied only once validated
(:mod:`recode.server.model`). A file whose model step failed (server down, timeout, unusable
response) is not rewritten at all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recode.server import files, notebook
from recode.server.detector import Detector, Evidence
from recode.server.fixes import Edit, apply_edits, compose_edits, fix_source, parses
from recode.server.fixes.python_ast import keeps_compiling
from recode.server.report import SYNTAX_ERRORS, FileResult
from recode.server.suppression import Suppressor, add_ignores

if TYPE_CHECKING:
    from recode.server.model.engine import MigrationEngine


@dataclass
class MigratedFileResult(FileResult):
    """A file's result with what the model did (``--model-url``)."""

    model: list[dict[str, Any]] = field(default_factory=list)  # Migration.to_dict() + "summary"
    model_error: str | None = None  # the model step failed: the file was not rewritten
    model_fixed: int = 0  # findings fixed by accepted model answers


def process_file(
    path: Path,
    detector: Detector,
    mode: str,
    *,
    unversioned_roots: dict[str, str] | None = None,
    max_bytes: int = files.DEFAULT_MAX_BYTES,
    display: str | None = None,
    model: MigrationEngine | None = None,
    suppressor: Suppressor | None = None,
    unsafe_fixes: bool = False,
    evidence: Sequence[Evidence] = (),
) -> FileResult:
    """Scan one file; in ``diff`` mode compute the fixed text, in ``write`` mode write it, in
    ``add-ignore`` mode write an ignore comment for each finding.

    Findings that ``suppressor`` accepts (``# recode: ignore`` comments, per-file ignores) are
    counted, not reported, and never fixed.

    With ``model``, findings without a mechanical fix are given to the model engine too (in
    ``diff`` and ``write`` modes); the result is then a :class:`MigratedFileResult`.

    Unsafe fixes are made only with ``unsafe_fixes`` (``--unsafe-fixes``). ``evidence``: sites
    a test run proved to be a record's (:class:`recode.server.detector.Evidence`), found too.
    """
    if path.suffix == notebook.SUFFIX:  # its Python cells as one module; no model step
        return notebook.process_notebook(
            path,
            detector,
            mode,
            max_bytes=max_bytes,
            display=display,
            suppressor=suppressor,
            unversioned=lambda data: _unversioned(data, unversioned_roots or {}),
        )
    shown = display or str(path)
    try:
        source = files.read_source(path, max_bytes)
    except files.Unreadable as exc:
        return FileResult(shown, skipped=str(exc))
    data = source.utf8
    unversioned = _unversioned(data, unversioned_roots or {})
    result: FileResult = (
        MigratedFileResult(shown, unversioned=unversioned)
        if model is not None
        else FileResult(shown, unversioned=unversioned)
    )
    suppressor = suppressor or Suppressor()
    findings, result.suppressed = suppressor.split(data, detector.detect(data, evidence=evidence))
    # the source the findings are located in, with the file's own line ends (a lone CR is an
    # LF in ``data``, one byte for one: the offsets are the same), so fix edits end their
    # lines as --write writes them
    result.findings = findings
    result.unsafe_fixes = unsafe_fixes
    result.source = source.text.encode("utf-8") if "\r" in source.text else data
    if mode == "add-ignore":
        return _add_ignores(source, result, detector, suppressor)
    if any(f.fixable for f in findings) and not parses(source.raw, as_file=True):
        # as Python reads it, with its coding; in every mode: a check must not promise fixes
        result.unfixable = SYNTAX_ERRORS
    fixable = any(f.applies(unsafe_fixes) for f in findings)
    use_model = (
        model is not None
        and mode != "check"
        and any(not f.fixable and f.confidence == "high" for f in findings)
    )
    if mode == "check" or not (use_model or fixable):
        return result
    if result.unfixable or (not fixable and not parses(source.raw, as_file=True)):
        result.problem = "the file has syntax errors; it was scanned but is never rewritten"
        return result
    fixed = fix_source(data, detector, findings=findings, keep=suppressor.keep, unsafe=unsafe_fixes)
    if fixed.error:
        result.problem = fixed.error
    new_utf8, edits = fixed.source, fixed.edits
    fixed_count = len(fixed.fixed)
    if use_model:
        assert model is not None and isinstance(result, MigratedFileResult)
        outcome = model.migrate_source(new_utf8, detector)
        for m in outcome.migrations:
            result.model.append({**m.to_dict(), "summary": m.describe()})
        if outcome.error is not None:
            result.model_error = outcome.error
            result.problem = f"the model step failed: {outcome.error}"
            return result
        result.model_fixed = sum(len(m.findings) for m in outcome.accepted)
        fixed_count += result.model_fixed
        for m in outcome.accepted:
            if m.edit is not None:
                edits = compose_edits(data, edits, [m.edit])
        new_utf8 = outcome.source
    if new_utf8 == data:
        return result
    try:
        new_raw = _new_bytes(source, edits, new_utf8)
    except files.Refused as exc:
        result.problem = result.write_error = str(exc)
        return result
    if mode == "diff":
        result.diff = unified_diff(source.raw, new_raw, shown)
        result.fixed = fixed_count
        return result
    if (why := files.write_or_why(source, new_raw)) is not None:
        result.problem = result.write_error = why
        return result
    result.fixed = fixed_count
    result.findings = (
        fixed.remaining
        if new_utf8 == fixed.source
        else suppressor.keep(new_utf8, detector.detect(new_utf8))
    )
    result.source = new_utf8  # what the file holds now, and what the findings refer to
    return result


def _add_ignores(
    source: files.SourceFile, result: FileResult, detector: Detector, suppressor: Suppressor
) -> FileResult:
    """``--add-ignore``: comment every finding, and check the comments took before writing."""
    data = source.utf8
    if not result.findings:
        return result
    if not parses(data):
        result.problem = "the file has syntax errors; it was scanned but is never rewritten"
        return result
    new_utf8 = add_ignores(data, result.findings)
    left, suppressed = suppressor.split(new_utf8, detector.detect(new_utf8))
    if left or not parses(new_utf8):
        result.problem = "the ignore comments would not cover every finding; not rewritten"
        return result
    try:
        new_raw = _new_bytes(source, _line_edits(data, new_utf8), new_utf8)
    except files.Refused as exc:
        result.problem = result.write_error = str(exc)
        return result
    if (why := files.write_or_why(source, new_raw)) is not None:
        result.problem = result.write_error = why
        return result
    result.fixed = len(result.findings)
    result.findings, result.suppressed = [], suppressed
    return result


def _line_edits(old: bytes, new: bytes) -> list[Edit]:
    """The edits turning ``old`` into ``new`` where both have the same lines and only some
    lines' text differs (what :func:`add_ignores` does): one edit per changed line, so the
    comments go into the file's own bytes as the fixes do (:func:`_new_bytes`)."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    if len(old_lines) != len(new_lines):
        raise files.Refused("internal error: the ignore comments changed the number of lines")
    edits: list[Edit] = []
    pos = 0
    for before, after in zip(old_lines, new_lines, strict=True):
        if before != after:
            edits.append(Edit(pos, pos + len(before), after.decode("utf-8")))
        pos += len(before)
    return edits


def _new_bytes(source: files.SourceFile, edits: list[Edit], new_utf8: bytes) -> bytes:
    """The file's bytes with the edits in place, checked as Python will read them."""
    if apply_edits(source.utf8, edits) != new_utf8:  # a guard: the edits are the whole change
        raise files.Refused("internal error: the fixes' edits do not give the fixed text")
    new_raw = files.splice(source, edits)
    if not parses(new_raw, as_file=True):  # the bytes written, as Python will read them
        raise files.Refused("the fixed file would not parse as written; it is left as it is")
    if not keeps_compiling(source.raw, new_raw, as_file=True):  # the model's change too
        raise files.Refused(
            "the fixed file would not compile as written (such as a keyword argument given"
            " twice); it is left as it is"
        )
    return new_raw


def unified_diff(old: bytes, new: bytes, path: str) -> str:
    r"""A patch from ``old`` to ``new`` that ``git apply`` and ``patch -p1`` take.

    Made from the bytes, split at LF as those tools split (a CR stays in its line), in the
    file's own encoding: the text returned holds them decoded as UTF-8 with ``surrogateescape``,
    which the CLI writes back as the same bytes. A last line without a newline is followed by
    ``\ No newline at end of file``, as diff(1) writes it (difflib does not).
    """
    lines = difflib.diff_bytes(
        difflib.unified_diff,
        _lf_lines(old),
        _lf_lines(new),
        f"a/{path}".encode(errors="surrogateescape"),
        f"b/{path}".encode(errors="surrogateescape"),
    )
    out: list[bytes] = []
    for line in lines:
        out.append(line)
        if not line.endswith(b"\n"):
            out.append(b"\n\\ No newline at end of file\n")
    return b"".join(out).decode("utf-8", "surrogateescape")


def _lf_lines(data: bytes) -> list[bytes]:
    """Lines as diff tools see them: ending at LF only (``bytes.splitlines`` also ends one at a
    CR, and a CR-only file would become lines that no patch tool finds in it)."""
    lines = data.split(b"\n")
    last = lines.pop()
    return [line + b"\n" for line in lines] + ([last] if last else [])


def _unversioned(data: bytes, roots: dict[str, str]) -> tuple[str, ...]:
    """Libraries (of those whose version is unknown) that this file imports."""
    if not roots:
        return ()
    pattern = re.compile(
        rb"^[ \t]*(?:from|import)[ \t]+("
        + b"|".join(re.escape(r.encode()) for r in roots)
        + rb")\b",
        re.M,
    )
    return tuple(sorted({roots[m.group(1).decode()] for m in pattern.finditer(data)}))
