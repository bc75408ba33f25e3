"""`textDocument/didSave` (with the text): catch up with it; diagnostics at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer

OPTIONS = types.SaveOptions(include_text=True)


def handle(ls: RecodeLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    doc = ls.session.documents.get(params.text_document.uri)
    if doc is None:
        return
    if params.text is not None and params.text.encode("utf-8", "surrogatepass") != doc.source:
        doc.apply([types.TextDocumentContentChangeWholeDocument(text=params.text)], doc.version)
    ls.diagnostics.schedule(doc, 0)
