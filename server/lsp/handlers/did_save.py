"""`textDocument/didSave` (with the text): catch up with it; diagnostics at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

OPTIONS = types.SaveOptions(include_text=True)


def handle(session: Session, client: Client, params: types.DidSaveTextDocumentParams) -> None:
    doc = session.documents.get(params.text_document.uri)
    if doc is None:
        return
    if params.text is not None and params.text.encode("utf-8", "surrogatepass") != doc.source:
        doc.apply([types.TextDocumentContentChangeWholeDocument(text=params.text)], doc.version)
    session.diagnostics.schedule(doc, 0)
