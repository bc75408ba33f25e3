"""`textDocument/diagnostic` (pull): the cached or computed diagnostics of a file or cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

from recode.server.lsp import notebooks
from recode.server.lsp.rpc import JsonText

OPTIONS = types.DiagnosticOptions(
    identifier="recode", inter_file_dependencies=False, workspace_diagnostics=False
)


async def handle(
    session: Session, client: Client, params: types.DocumentDiagnosticParams
) -> types.DocumentDiagnosticReport | JsonText:
    if notebooks.is_cell(session, params.text_document.uri):
        return await notebooks.pull(session, params.text_document.uri)
    return await session.diagnostics.pull(params)
