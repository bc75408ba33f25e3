"""One file through the pipeline: read, detect, fix, and (for --write) write back safely.

With a model engine (``--model-url``), findings left without a mechanical fix go to the model
after the mechanical fixes; its answers are applied only once validated
(:mod:`recode.server.model`). A file whose model step failed (server down, timeout, unusable
response) is not rewritten at all.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recode.server import files, notebook
from recode.server.detector import Detector
from recode.server.fixes import fix_source, parses
from recode.server.report import FileResult
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
) -> FileResult:
    """Scan one file; in ``diff`` mode compute the fixed text, in ``write`` mode write it, in
    ``add-ignore`` mode write an ignore comment for each finding.

    Findings that ``suppressor`` accepts (``# recode: ignore`` comments, per-file ignores) are
    counted, not reported, and never fixed.

    With ``model``, findings without a mechanical fix are given to the model engine too (in
    ``diff`` and ``write`` modes); the result is then a :class:`MigratedFileResult`.
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
    findings, result.suppressed = suppressor.split(data, detector.detect(data))
    result.findings = findings
    if mode == "add-ignore":
        return _add_ignores(source, result, detector, suppressor)
    use_model = (
        model is not None
        and mode != "check"
        and any(not f.fixable and f.confidence == "high" for f in findings)
    )
    if mode == "check" or not (use_model or any(f.fixable for f in findings)):
        return result
    if not parses(data):
        result.problem = "the file has syntax errors; it was scanned but is never rewritten"
        return result
    fixed = fix_source(data, detector, keep=suppressor.keep)
    if fixed.error:
        result.problem = fixed.error
    new_utf8 = fixed.source
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
        new_utf8 = outcome.source
    if new_utf8 == data:
        return result
    new_raw = files.encode_like(source, new_utf8)
    if mode == "diff":
        result.diff = "".join(
            difflib.unified_diff(
                source.text.splitlines(keepends=True),
                new_raw.decode(source.encoding).splitlines(keepends=True),
                fromfile=f"a/{shown}",
                tofile=f"b/{shown}",
            )
        )
        result.fixed = fixed_count
        return result
    try:
        files.write_atomic(source, new_raw)
    except files.ChangedOnDisk as exc:
        result.problem = str(exc)
        return result
    except OSError as exc:
        result.problem = f"cannot write: {exc}"
        return result
    result.fixed = fixed_count
    result.findings = (
        fixed.remaining
        if new_utf8 == fixed.source
        else suppressor.keep(new_utf8, detector.detect(new_utf8))
    )
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
        files.write_atomic(source, files.encode_like(source, new_utf8))
    except files.ChangedOnDisk as exc:
        result.problem = str(exc)
        return result
    except OSError as exc:
        result.problem = f"cannot write: {exc}"
        return result
    result.fixed = len(result.findings)
    result.findings, result.suppressed = [], suppressed
    return result


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
