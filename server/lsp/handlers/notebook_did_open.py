"""`notebookDocument/didOpen`: analyse the notebook (pygls keeps its cells)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer

from recode.server.lsp import notebooks


def handle(ls: RecodeLanguageServer, params: types.DidOpenNotebookDocumentParams) -> None:
    notebooks.schedule(ls, params.notebook_document.uri)
