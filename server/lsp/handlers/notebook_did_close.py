"""`notebookDocument/didClose`: take back its cells' diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

from recode.server.lsp import notebooks


def handle(session: Session, client: Client, params: types.DidCloseNotebookDocumentParams) -> None:
    notebooks.closed(session, client, params)
