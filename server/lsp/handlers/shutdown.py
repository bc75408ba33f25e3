"""`shutdown`: stop watching the environment (rpc.py answers what follows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session


def handle(session: Session, client: Client, params: None) -> None:
    session.watcher.stop()
