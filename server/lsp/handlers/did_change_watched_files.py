"""`workspace/didChangeWatchedFiles`: packages or pins changed (environment_watch.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer


def handle(ls: RecodeLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
    ls.watcher.changed_files(params)
