"""`textDocument/diagnostic` (pull): the cached or computed diagnostics of a file or cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer

from recode.server.lsp import notebooks
from recode.server.lsp.rpc import JsonText

OPTIONS = types.DiagnosticOptions(
    identifier="recode", inter_file_dependencies=False, workspace_diagnostics=False
)


async def handle(
    ls: RecodeLanguageServer, params: types.DocumentDiagnosticParams
) -> types.DocumentDiagnosticReport | JsonText:
    if notebooks.is_cell(ls, params.text_document.uri):
        return await notebooks.pull(ls, params.text_document.uri)
    return await ls.diagnostics.pull(params)
