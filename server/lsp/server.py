"""The language server: the transport (pygls, with rpc.py's frame reader and lifecycle) and the
wiring: it makes the :class:`~recode.server.lsp.client.Client`, the worker threads and the
:class:`~recode.server.lsp.session.Session`, and registers every handler of the table in
handlers/ as ``handle(session, client, params)``.

Threads: the asyncio event loop reads and writes the protocol and owns all mutable state, the
session (documents, folders and their contexts, settings, diagnostics' caches). Notifications
that change state (didOpen, didChange, didClose, didSave, didChangeConfiguration,
didChangeWorkspaceFolders, didChangeWatchedFiles) are plain functions run on the loop, in order,
and return at once. Requests that only read (hover, codeAction, textDocument/diagnostic) take an
immutable snapshot and await their computation in the analysis thread (whole-file analyses asked
for as such, in the exact thread). Environment reads, fix-all and the model endpoint check run
in the work threads, and model migrations in the model threads, so a slow one never delays
diagnostics. What runs in those threads gets snapshots and a context, never the session.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.language_server import lsp_method

from recode.server.lsp import notebooks, rpc
from recode.server.lsp.client import Client
from recode.server.lsp.session import Pools, Session

log = logging.getLogger(__name__)
NAME = "recode-lsp"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("recode-migrate")
    except Exception:
        return "0"


class RecodeProtocol(rpc.LifecycleProtocol):
    """pygls' protocol with LSP's lifecycle rules (rpc.py), minus its own copy of every open
    document.

    The server keeps documents as bytes with a syntax tree (documents.py); pygls' workspace
    would keep a second copy as text and re-split it on every change.

    It also lets a handler hear of ``$/cancelRequest``: pygls runs ``workspace/executeCommand``
    through a wrapper and cancels only the wrapper's future, so without this a cancelled
    command would go on and apply its edit after the client was told it was cancelled.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cancel_callbacks: dict[Any, list[Callable[[], object]]] = {}

    def on_cancel(self, msg_id: Any, callback: Callable[[], object]) -> Callable[[], None]:
        """Call ``callback`` if request ``msg_id`` is cancelled; returns an unsubscriber."""
        self._cancel_callbacks.setdefault(msg_id, []).append(callback)

        def forget() -> None:
            callbacks = self._cancel_callbacks.get(msg_id, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._cancel_callbacks.pop(msg_id, None)

        return forget

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        callbacks = self._cancel_callbacks.pop(msg_id, [])
        super()._handle_cancel_notification(msg_id)
        for callback in callbacks:
            callback()

    def notify_json(self, method: str, params: str) -> None:
        """Send a notification whose params are JSON text already (ASCII, as json.dumps
        writes it): what pygls' ``notify`` sends, without converting attrs objects."""
        self._write_json(
            method, f'{{"jsonrpc":"2.0","method":{json.dumps(method)},"params":{params}}}'
        )

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        """pygls' answer to a request, but a :class:`~rpc.JsonText` result is written as it
        is (pull diagnostics: hundreds of diagnostics would go through cattrs each time)."""
        if error is not None or not isinstance(result, rpc.JsonText):
            super()._send_response(msg_id, result, error)
            return
        self._result_types.pop(msg_id, None)
        self._write_json(
            "a response", f'{{"jsonrpc":"2.0","id":{json.dumps(msg_id)},"result":{result}}}'
        )

    def _write_json(self, what: str, message: str) -> None:
        if self.writer is None:
            log.error("cannot send %s: no transport", what)
            return
        body = message.encode()
        if self._include_headers:
            header = (
                f"Content-Length: {len(body)}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            )
            body = header.encode() + body
        try:
            written = self.writer.write(body)
            if inspect.isawaitable(written):
                asyncio.ensure_future(written)
        except BrokenPipeError:
            log.exception("sending %s: the client is gone", what)
            raise

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


class RecodeLanguageServer(LanguageServer):
    protocol: RecodeProtocol

    def __init__(self) -> None:
        super().__init__(
            NAME,
            _version(),
            protocol_cls=RecodeProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=notebooks.SYNC,
            max_workers=2,
        )
        self.client = Client(self)
        # pygls keeps the notebooks in the workspace it makes at initialize
        self.session = Session(self.client, Pools.start(), lambda: self.workspace)

    # -- transport --------------------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve LSP over stdio with rpc.py's frame reader (pygls' loses its place for good
        after one malformed frame)."""
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(self._serve(lambda: rpc.stdin_chunks(stdin or sys.stdin.buffer)))
        except BrokenPipeError:
            log.error("the client is gone (broken pipe); shutting down")
        finally:
            self.shutdown()

    def start_tcp(self, host: str, port: int) -> None:
        """Serve one client at a time over TCP, with the same frame reader."""

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.protocol.set_writer(writer)  # type: ignore[arg-type]
            await self._serve(lambda: lambda: reader.read(rpc.CHUNK))
            writer.close()
            self.shutdown()

        async def listen() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            async with self._server:
                await self._server.serve_forever()

        try:
            asyncio.run(listen())
        except asyncio.CancelledError:
            pass

    async def _serve(self, chunks: Callable[[], Callable[[], Awaitable[bytes]]]) -> None:
        """Read and dispatch frames until the stream ends or ``exit`` arrives."""
        self._stop_event = stop = threading.Event()
        self.protocol.on_exit = stop.set  # the reader checks it after each message
        await rpc.serve(self.protocol, chunks(), stop)

    @property
    def exit_code(self) -> int:
        """The process's exit code: 0 after shutdown (and exit), else 1."""
        code = self.protocol.exit_code
        if code is None:
            code = 0 if self.protocol._shutdown else 1
        return code


def _bound(handle: Callable[..., Any], session: Session, client: Client) -> Callable[..., Any]:
    """``handle(session, client, *args)`` as pygls calls a handler: ``run(*args)`` (a
    coroutine function stays one, so pygls awaits it; a command's arguments come as they
    were sent)."""
    if inspect.iscoroutinefunction(handle):

        async def run_async(*args: Any) -> Any:
            return await handle(session, client, *args)

        return run_async

    def run(*args: Any) -> Any:
        return handle(session, client, *args)

    return run


def create_server() -> RecodeLanguageServer:
    """The server with every handler of the table (handlers/) registered."""
    from recode.server.lsp import handlers

    server = RecodeLanguageServer()
    session, client = server.session, server.client
    for method, handle, options in handlers.HANDLERS:
        server.feature(method, options)(_bound(handle, session, client))
    for command, run in handlers.COMMANDS:
        server.command(command)(_bound(run, session, client))
    return server
