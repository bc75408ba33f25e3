"""`initialize`: the client's settings, position encoding, diagnostics model and folders; the
folders' environments start being read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

from recode.server.lsp import settings as settings_mod


def _initialization_options(raw: object) -> object:
    return raw if isinstance(raw, dict) else {}


def handle(session: Session, client: Client, params: types.InitializeParams) -> None:
    options = _initialization_options(params.initialization_options)
    session.base_settings, problems = settings_mod.merge(settings_mod.defaults(), options)
    session.client_layers = [options]
    session.init_problems = problems
    session.documents.encoding = client.position_encoding
    pulls = client.supports("text_document.diagnostic")
    forced = session.base_settings.push_diagnostics
    session.push_enabled = forced if forced is not None else not pulls
    for folder in params.workspace_folders or []:
        session.add_folder(folder.uri, folder.name)
    if not params.workspace_folders and params.root_uri:
        session.add_folder(params.root_uri)
    # the folders' environments are read while the client finishes its handshake
    session.read_ahead()
