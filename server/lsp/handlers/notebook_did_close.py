"""`notebookDocument/didClose`: take back its cells' diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer

from recode.server.lsp import notebooks


def handle(ls: RecodeLanguageServer, params: types.DidCloseNotebookDocumentParams) -> None:
    notebooks.closed(ls, params)
