"""`textDocument/didClose`: forget the document and take back its diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session


def handle(session: Session, client: Client, params: types.DidCloseTextDocumentParams) -> None:
    if session.documents.close(params.text_document.uri) is not None:
        session.diagnostics.clear(params.text_document.uri)
