"""`workspace/didChangeConfiguration`: take pushed settings; rebuild the folders' contexts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

from recode.server.lsp import settings as settings_mod


def handle(session: Session, client: Client, params: types.DidChangeConfigurationParams) -> None:
    client.forget_shown()  # new settings: a problem that comes back is shown again
    if not client.supports("workspace.configuration"):
        # the client pushes its settings: they apply to every folder
        session.base_settings, problems = settings_mod.merge(session.base_settings, params.settings)
        session.client_layers.append(params.settings)
        for problem in problems:
            client.show(f"ReCode: {problem} (ignored)")
    for folder in list(session.folders.values()):
        if folder.context is not None or folder.building is not None:
            session.rebuild(folder, "settings changed")
