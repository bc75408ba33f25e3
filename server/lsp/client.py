"""The client: the one way from the server to the editor.

A handler gets the :class:`~recode.server.lsp.session.Session` (the state) and a
:class:`Client` (what it may send): notifications (diagnostics, messages, logs), requests to the
editor (``workspace/applyEdit``, ``workspace/configuration``, registrations), work-done
progress, and what the editor said it supports. The client writes through the transport
(server.py's pygls server); it holds no state of its own but the messages already shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from pygls.progress import Progress

    from recode.server.lsp.server import RecodeLanguageServer


class Client:
    def __init__(self, transport: RecodeLanguageServer) -> None:
        self._transport = transport
        self._shown: set[str] = set()  # messages shown (each once until settings change)

    # -- what the editor supports -----------------------------------------------------------

    def supports(self, dotted: str) -> bool:
        """Whether a (snake_case, dotted) client capability is present and true."""
        value: Any = self._transport.client_capabilities
        for part in dotted.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)

    def supports_resolve(self, prop: str) -> bool:
        """Whether the editor resolves this property of a code action lazily."""
        support = getattr(
            getattr(
                getattr(self._transport.client_capabilities, "text_document", None),
                "code_action",
                None,
            ),
            "resolve_support",
            None,
        )
        return support is not None and prop in (support.properties or [])

    @property
    def position_encoding(self) -> str:
        """The position encoding negotiated at ``initialize``."""
        encoding = self._transport.workspace.position_encoding
        return str(getattr(encoding, "value", encoding) or "utf-16")

    # -- messages ---------------------------------------------------------------------------

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """window/showMessage, once per distinct message (and always logged)."""
        self.log(message, kind)
        if message in self._shown:
            return
        self._shown.add(message)
        self._transport.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def show_always(self, message: str, kind: types.MessageType) -> None:
        """window/showMessage (and the log) even if the same message was shown before."""
        self.log(message, kind)
        self._transport.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def forget_shown(self) -> None:
        """New settings: a problem that comes back is shown again."""
        self._shown.clear()

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self._transport.window_log_message(types.LogMessageParams(type=kind, message=message))

    # -- diagnostics ------------------------------------------------------------------------

    def publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        self._transport.text_document_publish_diagnostics(params)

    def publish_wire(self, uri: str, wire: list[str], version: int | None) -> None:
        """publishDiagnostics of diagnostics written as JSON already (diagnostics.py keeps it
        with each result: pygls would rebuild every diagnostic through cattrs on each
        publish)."""
        self._transport.protocol.notify_json(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
            f'{{"uri":{json.dumps(uri)},"diagnostics":[{",".join(wire)}],'
            f'"version":{json.dumps(version)}}}',
        )

    def refresh_diagnostics(self) -> None:
        """Ask a pulling editor to pull again, where it supports being asked."""
        if self.supports("workspace.diagnostics.refresh_support"):
            self._transport.workspace_diagnostic_refresh(None)

    # -- requests to the editor -------------------------------------------------------------

    async def apply_edit(self, params: types.ApplyWorkspaceEditParams) -> Any:
        return await self._transport.workspace_apply_edit_async(params)

    async def configuration(self, params: types.ConfigurationParams) -> Any:
        return await self._transport.workspace_configuration_async(params)

    async def register(self, params: types.RegistrationParams) -> None:
        await self._transport.client_register_capability_async(params)

    async def unregister(self, params: types.UnregistrationParams) -> None:
        await self._transport.client_unregister_capability_async(params)

    # -- progress and cancellation ----------------------------------------------------------

    @property
    def progress(self) -> Progress:
        """Server-initiated work-done progress (pygls' tokens)."""
        return self._transport.work_done_progress

    def on_cancel(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call ``callback`` if the request being handled now gets ``$/cancelRequest``; call
        it at the start of the handler. Returns an unsubscriber."""
        msg_id = self._transport.protocol.msg_id
        if msg_id is None:
            return lambda: None
        return self._transport.protocol.on_cancel(msg_id, callback)
