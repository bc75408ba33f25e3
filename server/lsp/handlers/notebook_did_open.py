"""`notebookDocument/didOpen`: analyse the notebook (pygls keeps its cells)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

from recode.server.lsp import notebooks


def handle(session: Session, client: Client, params: types.DidOpenNotebookDocumentParams) -> None:
    notebooks.schedule(session, client, params.notebook_document.uri)
