"""`workspace/didChangeWatchedFiles`: packages or pins changed (environment_watch.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session


def handle(session: Session, client: Client, params: types.DidChangeWatchedFilesParams) -> None:
    session.watcher.changed_files(params)
