"""`textDocument/hover`: the findings under the cursor, with their release notes.

Read-only: it reads the cached result of the document's current version (computing it in the
exact-analysis thread if needed) and never changes the session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

from recode.server.lsp import hover, notebooks


async def handle(session: Session, client: Client, params: types.HoverParams) -> types.Hover | None:
    if notebooks.is_cell(session, params.text_document.uri):
        return await notebooks.hover_cell(session, params)
    doc = session.documents.get(params.text_document.uri)
    if doc is None:
        return None
    result = await session.diagnostics.result_for(doc, exact=True)
    snapshot = result.snapshot
    offset = snapshot.offset(params.position)
    hits = [f for f in result.findings if f.start_byte <= offset <= f.end_byte]
    if not hits:
        return None
    start = min(f.start_byte for f in hits)
    end = max(f.end_byte for f in hits)
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown,
            value="\n\n---\n\n".join(hover.markdown(f) for f in hits),
        ),
        range=snapshot.range(start, end),
    )
