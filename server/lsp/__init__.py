"""``recode-lsp``: the ReCode language server (pygls).

Diagnostics (pushed and pulled) for calls to library APIs that are removed, renamed or changed
in the versions installed in each workspace folder's environment; hover with the release note;
quick fixes and ``source.fixAll.recode``; the ``recode.migrateFile`` command. handlers/ holds
one module per LSP method and the table that registers them; session.py the state the event
loop owns (with the folders' contexts and their lifecycle); client.py the one way out to the
editor; feature modules what handlers share: documents, settings, workspaces, diagnostics
(with the incremental fast path in incremental.py), hover, code_actions, notebooks,
environment_watch, model_endpoint; rpc (the JSON-RPC frame reader and the lifecycle's errors);
server.py the transport and the wiring (session, client, threads, the handlers' registration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer

__all__ = ["create_server"]


def create_server() -> RecodeLanguageServer:
    """The configured server (imported lazily: pygls is only needed when it runs)."""
    from recode.server.lsp.server import create_server as create

    return create()
