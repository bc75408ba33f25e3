"""`shutdown`: stop watching the environment (rpc.py answers what follows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer


def handle(ls: RecodeLanguageServer, params: None) -> None:
    ls.watcher.stop()
