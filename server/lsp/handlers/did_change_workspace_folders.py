"""`workspace/didChangeWorkspaceFolders`: documents may now belong to other folders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session


def handle(session: Session, client: Client, params: types.DidChangeWorkspaceFoldersParams) -> None:
    for removed in params.event.removed:
        session.folders.pop(removed.uri, None)
    for added in params.event.added:
        session.add_folder(added.uri, added.name)
    session.folder_cache.clear()
    for folder in list(session.folders.values()):
        docs = session.documents_in(folder)
        if docs:
            session.diagnostics.refresh(docs)
