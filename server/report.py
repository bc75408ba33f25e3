"""Rendering a migration run: text for people, JSON for scripts, SARIF for code-scanning UIs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from recode.server.detector import Finding
from recode.server.severity import LibraryVersion

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "information": "note", "hint": "note"}


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


@dataclass
class Run:
    results: list[FileResult]
    versions: dict[str, LibraryVersion]
    mode: str  # check | diff | write | add-ignore

    @property
    def findings(self) -> list[tuple[str, Finding]]:
        return [(r.path, f) for r in self.results for f in r.findings]

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
            "findings": len(self.findings),
            "by_severity": counts,
            "fixable": sum(1 for _, f in self.findings if f.fixable),
            "fixed": sum(r.fixed for r in self.results),  # --add-ignore: findings commented
            "suppressed": sum(r.suppressed for r in self.results),
            "mode": self.mode,
            "environment": {
                lib: {"version": str(v.version), "origin": v.origin}
                for lib, v in sorted(self.versions.items())
            },
            "libraries_without_version": unversioned,
        }


def location(path: str, f: Finding) -> str:
    """``path:line:column``, or ``path:cell N:line:column`` in a notebook (1-based)."""
    cell = f"cell {f.cell}:" if f.cell is not None else ""
    return f"{path}:{cell}{f.start.line + 1}:{f.start.character + 1}"


def finding_dict(path: str, f: Finding) -> dict:
    return {
        "path": path,
        **({"cell": f.cell} if f.cell is not None else {}),
        "line": f.start.line + 1,
        "column": f.start.character + 1,
        "end_line": f.end.line + 1,
        "end_column": f.end.character + 1,
        "record": f.record.id,
        "library": f.library,
        "symbol": f.symbol,
        "kind": f.record.kind,
        "severity": f.severity,
        "message": f.message,
        "fixable": f.fixable,
        "confidence": f.confidence,
        "replacement": f.record.replacement,
        "source": f.record.source_url,
    }


def render_json(run: Run) -> str:
    return json.dumps(
        {"findings": [finding_dict(p, f) for p, f in run.findings], "summary": run.summary()},
        indent=2,
    )


def render_text(run: Run) -> str:
    lines: list[str] = []
    for r in run.results:
        if r.diff:
            lines.append(r.diff.rstrip("\n"))
    for path, f in run.findings:
        mark = " [fixable]" if f.fixable and run.mode == "check" else ""
        lines.append(f"{location(path, f)}: {f.severity} [{f.record.id}] {f.message}{mark}")
    s = run.summary()
    for item in s["files_skipped"]:
        lines.append(f"{item['path']}: {item['reason']}")
    for item in s["files_not_rewritten"]:
        lines.append(f"{item['path']}: not rewritten: {item['reason']}")
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
    if s["suppressed"]:
        head += f"; {s['suppressed']} suppressed"
    if s["files_skipped"]:
        head += f"; {len(s['files_skipped'])} skipped"
    env = ", ".join(f"{lib} {v['version']} ({v['origin']})" for lib, v in s["environment"].items())
    lines.append(head + ".")
    if env:
        lines.append(f"checked against: {env}")
    return "\n".join(lines)


def render_sarif(run: Run, base: Path | None = None) -> str:
    rules: dict[str, dict] = {}
    results = []
    for path, f in run.findings:
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
        uri = Path(path)
        if base is not None:
            try:
                uri = uri.resolve().relative_to(base.resolve())
            except ValueError:
                pass
        results.append(
            {
                "ruleId": rec.id,
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri.as_posix()},
                            "region": {
                                "startLine": f.start.line + 1,
                                "startColumn": f.start.character + 1,
                                "endLine": f.end.line + 1,
                                "endColumn": f.end.character + 1,
                            },
                        }
                    }
                ],
                "properties": {
                    "fixable": f.fixable,
                    "confidence": f.confidence,
                    **({"cell": f.cell} if f.cell is not None else {}),
                },
            }
        )
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
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {"suppressed": sum(r.suppressed for r in run.results)},
            }
        ],
    }
    return json.dumps(doc, indent=2)
