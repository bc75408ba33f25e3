"""Hover text of a finding: the finding, the release note, the replacement and the source
(the handler is handlers/hover.py; notebook cells: notebooks.py)."""

from __future__ import annotations

from recode.server.detector import Finding


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.strip().splitlines())


def markdown(finding: Finding) -> str:
    """The hover text of one finding."""
    record = finding.record
    parts = [f"**ReCode** ({finding.severity}): {finding.message}", _quote(record.note)]
    if record.replacement:
        parts.append(f"**Replacement:** {record.replacement}")
    if finding.fixable and finding.fix is not None and not finding.fix.safe:
        parts.append(f"An unsafe quick fix is available: {finding.fix.unsafe_because}.")
    elif finding.fixable:
        parts.append("A quick fix is available.")
    elif finding.fix_unavailable:
        parts.append(f"No quick fix: {finding.fix_unavailable}.")
    parts.append(
        f"Source: [{record.library} {record.source_version}]({record.source_url}) · `{record.id}`"
    )
    return "\n\n".join(parts)
