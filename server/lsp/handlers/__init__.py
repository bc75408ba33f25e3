"""The handlers of the LSP methods, one module per method, and the table that registers them.

A handler is ``handle(session, client, params)``: it runs on the event loop and reads or
changes the :class:`~recode.server.lsp.session.Session` (all state: documents, folders and
their contexts, settings, diagnostics' caches), and reaches the editor only through the
:class:`~recode.server.lsp.client.Client` (notifications, requests to the editor, messages,
progress, capabilities). Notifications return at once; requests that need an analysis take a
snapshot and await its computation in a worker thread, where only the snapshot and the
folder's :class:`~recode.server.lsp.workspaces.Context` go, never the session. A new method is
a module here and a row in :data:`HANDLERS`; a new command a row in
``execute_command.COMMANDS`` (``run(session, client, *arguments)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lsprotocol import types

from recode.server.lsp.handlers import (
    code_action,
    code_action_resolve,
    diagnostic,
    did_change,
    did_change_configuration,
    did_change_watched_files,
    did_change_workspace_folders,
    did_close,
    did_open,
    did_save,
    execute_command,
    hover,
    initialize,
    initialized,
    notebook_did_change,
    notebook_did_close,
    notebook_did_open,
    shutdown,
)


class Handler(NamedTuple):
    method: str
    handle: Callable[..., Any]
    options: Any = None  # the method's server capability options, if it has any


HANDLERS: list[Handler] = [
    # lifecycle
    Handler(types.INITIALIZE, initialize.handle),
    Handler(types.INITIALIZED, initialized.handle),
    Handler(types.SHUTDOWN, shutdown.handle),
    # notifications that change the session (run on the loop, in order)
    Handler(types.TEXT_DOCUMENT_DID_OPEN, did_open.handle),
    Handler(types.TEXT_DOCUMENT_DID_CHANGE, did_change.handle),
    Handler(types.TEXT_DOCUMENT_DID_SAVE, did_save.handle, did_save.OPTIONS),
    Handler(types.TEXT_DOCUMENT_DID_CLOSE, did_close.handle),
    Handler(types.NOTEBOOK_DOCUMENT_DID_OPEN, notebook_did_open.handle),
    Handler(types.NOTEBOOK_DOCUMENT_DID_CHANGE, notebook_did_change.handle),
    Handler(types.NOTEBOOK_DOCUMENT_DID_CLOSE, notebook_did_close.handle),
    Handler(types.WORKSPACE_DID_CHANGE_CONFIGURATION, did_change_configuration.handle),
    Handler(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS, did_change_workspace_folders.handle),
    Handler(types.WORKSPACE_DID_CHANGE_WATCHED_FILES, did_change_watched_files.handle),
    # read-only requests (snapshot + analysis thread)
    Handler(types.TEXT_DOCUMENT_DIAGNOSTIC, diagnostic.handle, diagnostic.OPTIONS),
    Handler(types.TEXT_DOCUMENT_HOVER, hover.handle),
    Handler(types.TEXT_DOCUMENT_CODE_ACTION, code_action.handle, code_action.OPTIONS),
    Handler(types.CODE_ACTION_RESOLVE, code_action_resolve.handle),
]

# workspace/executeCommand: pygls dispatches on the command's name
COMMANDS = execute_command.COMMANDS
