"""Hover on a flagged range: the finding, the release note, the replacement and the source.

A read-only handler: it reads the cached result of the document's current version (computing
it in the exact-analysis thread if needed) and never changes server state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from recode.server.detector import Finding

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.strip().splitlines())


def markdown(finding: Finding) -> str:
    """The hover text of one finding."""
    record = finding.record
    parts = [f"**ReCode** ({finding.severity}): {finding.message}", _quote(record.note)]
    if record.replacement:
        parts.append(f"**Replacement:** {record.replacement}")
    if finding.fixable and record.fix is not None and not record.fix.safe:
        parts.append(f"An unsafe quick fix is available: {record.fix.unsafe_because}.")
    elif finding.fixable:
        parts.append("A quick fix is available.")
    elif finding.fix_unavailable:
        parts.append(f"No quick fix: {finding.fix_unavailable}.")
    parts.append(
        f"Source: [{record.library} {record.source_version}]({record.source_url}) · `{record.id}`"
    )
    return "\n\n".join(parts)


async def hover(server: RecodeLanguageServer, params: types.HoverParams) -> types.Hover | None:
    doc = server.documents.get(params.text_document.uri)
    if doc is None:
        return None
    result = await server.diagnostics.result_for(doc, exact=True)
    snapshot = result.snapshot
    offset = snapshot.offset(params.position)
    hits = [f for f in result.findings if f.start_byte <= offset <= f.end_byte]
    if not hits:
        return None
    start = min(f.start_byte for f in hits)
    end = max(f.end_byte for f in hits)
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(markdown(f) for f in hits)
        ),
        range=snapshot.range(start, end),
    )
