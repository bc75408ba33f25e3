"""The language server: the transport, the session, the folders' contexts and the
registration of every handler (the table in handlers/).

Threads: the asyncio event loop reads and writes the protocol and owns all mutable state, the
:class:`~recode.server.lsp.session.Session` (documents, folders, settings). Notifications that
change state (didOpen, didChange, didClose, didSave, didChangeConfiguration,
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.language_server import lsp_method

from recode.dataset.knowledge import KnowledgeBase
from recode.server.config import ConfigError, config_for_folder
from recode.server.detector import Detector
from recode.server.lsp import model_endpoint, notebooks, rpc
from recode.server.lsp import settings as settings_mod
from recode.server.lsp.diagnostics import DiagnosticsManager
from recode.server.lsp.environment_watch import EnvironmentWatcher
from recode.server.lsp.session import DEFAULT_FOLDER, Session
from recode.server.lsp.settings import Settings
from recode.server.lsp.workspaces import Context, Folder, build_context

log = logging.getLogger(__name__)
NAME = "recode-lsp"
RELOAD_DELAY = 0.3  # seconds: pip touches many files; rebuild once it is done


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
        self.session = Session()
        self.analysis_pool = ThreadPoolExecutor(1, thread_name_prefix="recode-analysis")
        # whole-file analyses asked for as such (the check after typing pauses, code actions,
        # hover) take up to a second on big files: their own thread, so the fast path of the
        # next keystroke never waits for one
        self.exact_pool = ThreadPoolExecutor(1, thread_name_prefix="recode-exact")
        self.work_pool = ThreadPoolExecutor(2, thread_name_prefix="recode-work")
        # model requests wait on HTTP for up to a minute: their own threads, so they never
        # hold up environment reads or fix-all
        self.model_pool = ThreadPoolExecutor(2, thread_name_prefix="recode-model")
        self.diagnostics = DiagnosticsManager(self)
        self.watcher = EnvironmentWatcher(self)

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

    # -- client capabilities ----------------------------------------------------------------

    def client_supports(self, dotted: str) -> bool:
        """Whether a (snake_case, dotted) client capability is present and true."""
        value: Any = self.client_capabilities
        for part in dotted.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)

    def client_supports_resolve(self, prop: str) -> bool:
        support = getattr(
            getattr(getattr(self.client_capabilities, "text_document", None), "code_action", None),
            "resolve_support",
            None,
        )
        return support is not None and prop in (support.properties or [])

    # -- messages ---------------------------------------------------------------------------

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """window/showMessage, once per distinct message (and always logged)."""
        self.log(message, kind)
        if message in self.session.shown:
            return
        self.session.shown.add(message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    # -- contexts (the environments of the session's folders) -----------------------------

    async def resolve_settings(self, folder: Folder) -> Settings:
        """Defaults < the project's configuration file < initializationOptions (and pushed
        settings) < workspace/configuration for this folder."""
        settings = self.session.base_settings
        try:
            project = await asyncio.get_running_loop().run_in_executor(
                self.work_pool, config_for_folder, folder.path
            )
        except ConfigError as exc:
            self.show(f"ReCode: {exc}; the file is not used")
            project = None
        if project is not None:
            settings = settings_mod.with_project(settings_mod.defaults(), project)
            for raw in self.session.client_layers:
                settings, _ = settings_mod.merge(settings, raw)  # problems shown when they came
        if self.client_supports("workspace.configuration"):
            scope = folder.uri if folder.uri != DEFAULT_FOLDER else None
            try:
                answer = await self.workspace_configuration_async(
                    types.ConfigurationParams(
                        items=[
                            types.ConfigurationItem(scope_uri=scope, section=settings_mod.SECTION)
                        ]
                    )
                )
            except Exception as exc:
                self.log(f"workspace/configuration failed: {exc}", types.MessageType.Warning)
                answer = None
            if answer:
                settings, problems = settings_mod.merge(settings, answer[0])
                for problem in problems:
                    self.show(f"ReCode: {problem} (ignored)")
        return settings

    async def context_for(self, folder: Folder) -> Context:
        """The folder's current context, building it the first time."""
        await self.session.ready.wait()
        if folder.context is not None:
            return folder.context
        if folder.building is None:
            folder.building = asyncio.ensure_future(self._build(folder, None))
        return await asyncio.shield(folder.building)  # type: ignore[arg-type]

    async def _build(self, folder: Folder, reason: str | None) -> Context:
        self.session.generation += 1
        generation = folder.generation = self.session.generation
        try:
            settings = folder.settings = await self.resolve_settings(folder)
            loop = asyncio.get_running_loop()
            context = await loop.run_in_executor(
                self.work_pool, build_context, folder.path, settings, generation, self.session.kbs
            )
        except Exception as exc:
            log.exception("reading the environment failed")
            self.show(f"ReCode: cannot read the environment of {folder.name}: {exc}")
            settings = folder.settings or self.session.base_settings
            context = Context(
                generation,
                settings,
                Detector(KnowledgeBase([], []), {}),
                None,
                {},
                (),
                (),
                (),
                (str(exc),),
            )
        finally:
            folder.building = None
        if folder.generation != generation and folder.context is not None:
            return folder.context  # a newer build started meanwhile; it will install itself
        self._install(folder, context, reason)
        return context

    def _install(self, folder: Folder, context: Context, reason: str | None) -> None:
        old = folder.context
        if (
            old is not None
            and old.versions == context.versions
            and old.settings.environment_key() == context.settings.environment_key()
            and old.interpreter == context.interpreter
        ):
            # nothing that matters changed: keep the generation so caches stay valid
            context = replace(context, generation=old.generation, detector=old.detector, kb=old.kb)
            folder.context = context
        else:
            folder.context = context
            for problem in context.problems:
                if problem.startswith("knowledge base:"):
                    self.log(f"ReCode: {problem}", types.MessageType.Warning)
                else:
                    self.show(f"ReCode ({folder.name}): {problem}")
            self.log(
                f"ReCode: {folder.name}: {context.interpreter or 'no interpreter'}; "
                f"{context.describe_versions()}" + (f" ({reason})" if reason else "")
            )
            if old is not None:
                self.diagnostics.refresh(self.session.documents_in(folder))
                notebooks.refresh(self, folder)
        self._check_model(folder, context.settings)
        task = asyncio.ensure_future(self.watcher.register())
        task.add_done_callback(_log_failure)

    def rebuild(self, folder: Folder, reason: str) -> None:
        task = asyncio.ensure_future(self._build(folder, reason))
        task.add_done_callback(_log_failure)

    def environment_changed(self, folder_uri: str, reason: str) -> None:
        """Schedule a rebuild of a folder's context, RELOAD_DELAY from the first report."""
        folder = self.session.folders.get(folder_uri)
        if folder is None or folder_uri in self.session.reload_timers:
            return  # a rebuild is already due; it reads whatever is there by then
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self.session.reload_timers.pop(folder_uri, None)
            self.rebuild(folder, reason)

        self.session.reload_timers[folder_uri] = loop.call_later(RELOAD_DELAY, fire)

    def _check_model(self, folder: Folder, settings: Settings) -> None:
        """Check the model endpoint when its URL or model name changed (in a worker thread)."""
        url = settings.model_url
        checked = f"{url} {settings.model}" if url else None
        if checked == folder.model_url_checked:
            return
        folder.model_url_checked = checked
        if not url:
            return

        async def run() -> None:
            loop = asyncio.get_running_loop()
            try:
                status = await loop.run_in_executor(
                    self.work_pool,
                    model_endpoint.check,
                    url,
                    settings.model,
                    settings.model_check_seconds,
                )
            except Exception as exc:  # never a crash
                self.show(f"ReCode: cannot check the model endpoint {url}: {exc}")
                return
            folder.extra["model_status"] = status
            if status.ok:
                self.log(status.message)
            else:
                self.show(status.message)

        asyncio.ensure_future(run())


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


def create_server() -> RecodeLanguageServer:
    """The server with every handler of the table (handlers/) registered."""
    # imported here: the command handlers import this module (pygls reads their annotations)
    from recode.server.lsp import handlers

    server = RecodeLanguageServer()
    for method, handle, options in handlers.HANDLERS:
        server.feature(method, options)(handle)
    for command, run in handlers.COMMANDS:
        server.command(command)(run)
    return server
