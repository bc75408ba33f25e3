"""`workspace/didChangeWorkspaceFolders`: documents may now belong to other folders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer


def handle(ls: RecodeLanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
    session = ls.session
    for removed in params.event.removed:
        session.folders.pop(removed.uri, None)
    for added in params.event.added:
        session.add_folder(added.uri, added.name)
    session.folder_cache.clear()
    for folder in list(session.folders.values()):
        docs = session.documents_in(folder)
        if docs:
            ls.diagnostics.refresh(docs)
