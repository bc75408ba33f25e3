"""`textDocument/didClose`: forget the document and take back its diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer


def handle(ls: RecodeLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    if ls.session.documents.close(params.text_document.uri) is not None:
        ls.diagnostics.clear(params.text_document.uri)
