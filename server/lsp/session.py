"""The server's state, owned by the event loop: open documents, workspace folders (each with
its settings and context, and the lifecycle of that context), the client's settings layers and
what the client negotiated, the diagnostics' caches and the environment watcher.

Only code running on the event loop's thread reads or changes a :class:`Session`: the
handlers of notifications and requests (handlers/) and the callbacks the session schedules
itself (context builds, debounced diagnostics). Work in the worker threads gets an immutable
:class:`~.documents.Snapshot` and the :class:`~.workspaces.Context` it needs (the context holds
the settings it was built with), never the session: the threads the session hands work to are
its :class:`Pools`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from recode.dataset.knowledge import KnowledgeBase
from recode.server import environment as env_mod
from recode.server.config import ConfigError, ProjectConfig, config_for_folder
from recode.server.detector import Detector
from recode.server.lsp import model_endpoint, notebooks
from recode.server.lsp import settings as settings_mod
from recode.server.lsp.diagnostics import DiagnosticsManager
from recode.server.lsp.documents import Document, DocumentStore, path_to_uri, uri_to_path
from recode.server.lsp.environment_watch import EnvironmentWatcher
from recode.server.lsp.settings import Settings
from recode.server.lsp.workspaces import Context, Folder, KnowledgeBases, build_context

if TYPE_CHECKING:
    from pygls.workspace import Workspace

    from recode.server.lsp.client import Client

log = logging.getLogger(__name__)
DEFAULT_FOLDER = "recode:no-folder"
RELOAD_DELAY = 0.3  # seconds: pip touches many files; rebuild once it is done


@dataclass(frozen=True)
class Pools:
    """The worker threads: what runs there gets snapshots and contexts, never the session."""

    # incremental analyses (the fast path of each keystroke) and first parses
    analysis: ThreadPoolExecutor
    # whole-file analyses asked for as such (the check after typing pauses, code actions,
    # hover) take up to a second on big files: their own thread, so the fast path of the
    # next keystroke never waits for one
    exact: ThreadPoolExecutor
    # environment reads (context builds), fix-all, notebooks, the model endpoint check
    work: ThreadPoolExecutor
    # model requests wait on HTTP for up to a minute: their own threads, so they never
    # hold up environment reads or fix-all
    model: ThreadPoolExecutor

    @classmethod
    def start(cls) -> Pools:
        return cls(
            ThreadPoolExecutor(1, thread_name_prefix="recode-analysis"),
            ThreadPoolExecutor(1, thread_name_prefix="recode-exact"),
            ThreadPoolExecutor(2, thread_name_prefix="recode-work"),
            ThreadPoolExecutor(2, thread_name_prefix="recode-model"),
        )

    def shutdown(self) -> None:
        for pool in (self.analysis, self.exact, self.work, self.model):
            pool.shutdown(wait=False, cancel_futures=True)


class Session:
    """All state of the server. ``client`` is what the session reports its own background
    work through (context builds, diagnostics published after a delay); handlers get the same
    client as an argument, so what a handler may send is in its signature.

    ``notebooks`` gives pygls' workspace, which keeps the open notebooks and their cells (pygls
    makes it at ``initialize``)."""

    def __init__(
        self, client: Client, pools: Pools, notebooks: Callable[[], Workspace] | None = None
    ) -> None:
        self.client = client
        self.pools = pools
        self._notebooks = notebooks
        self.documents = DocumentStore()
        self.folders: dict[str, Folder] = {}
        self.base_settings: Settings = settings_mod.defaults()
        self.client_layers: list[object] = []  # raw initializationOptions and pushed settings
        # problems of initializationOptions, shown once the client is initialized
        self.init_problems: list[str] = []
        self.kbs = KnowledgeBases()
        self.push_enabled = True  # publishDiagnostics (else the client pulls)
        self.ready = asyncio.Event()  # set on `initialized`: contexts may be built
        self.generation = 0  # of the latest context build
        self.reload_timers: dict[str, asyncio.TimerHandle] = {}  # folder URI -> due rebuild
        self.folder_cache: dict[str, str] = {}  # directory -> its implicit folder's URI
        self.notebook_runs: dict[str, int] = {}  # notebook URI -> its latest analysis
        # folder URI -> its context read at `initialize` (see read_ahead)
        self.read_ahead_contexts: dict[str, Future[Context | None]] = {}
        self.diagnostics = DiagnosticsManager(self)
        self.watcher = EnvironmentWatcher(client, self.environment_changed)

    @property
    def notebooks(self) -> Workspace:
        if self._notebooks is None:  # a session without a transport: a workspace of its own
            from pygls.workspace import Workspace

            own = Workspace(None)
            self._notebooks = lambda: own
        return self._notebooks()

    # -- folders ----------------------------------------------------------------------------

    def add_folder(self, uri: str, name: str | None = None) -> Folder:
        """A workspace folder the client named (initialize, didChangeWorkspaceFolders)."""
        path = uri_to_path(uri)
        if name is None:
            name = Path(path).name if path else uri
        folder = self.folders[uri] = Folder(uri, Path(path) if path else None, name)
        return folder

    def folder_for(self, uri: str) -> Folder:
        """The workspace folder of a document (the innermost), or an implicit one."""
        path = uri_to_path(uri)
        best: Folder | None = None
        for folder in self.folders.values():
            if folder.explicit and folder.contains(path):
                if best is None or len(str(best.path)) < len(str(folder.path)):
                    best = folder
        if best is not None:
            return best
        if path is None:
            key, where = DEFAULT_FOLDER, None
        else:
            parent = str(Path(path).parent)
            key = self.folder_cache.get(parent)
            if key is None:
                root = env_mod.find_root(Path(parent)) or Path(parent)
                key = self.folder_cache[parent] = path_to_uri(str(root))
            where = uri_to_path(key)
        folder = self.folders.get(key)
        if folder is None:
            folder = Folder(
                key,
                Path(where) if where else None,
                Path(where).name if where else "(no folder)",
                explicit=False,
            )
            self.folders[key] = folder
        return folder

    def settings_for(self, uri: str) -> Settings:
        folder = self.folder_for(uri)
        return folder.settings or self.base_settings

    def contexts(self) -> list[tuple[str, Context]]:
        """(folder URI, context) of every folder whose context is built."""
        return [(uri, f.context) for uri, f in list(self.folders.items()) if f.context is not None]

    def documents_in(self, folder: Folder) -> list[Document]:
        return [d for d in self.documents if self.folder_for(d.uri) is folder]

    # -- contexts (the environments of the folders) ----------------------------------------

    async def resolve_settings(self, folder: Folder) -> Settings:
        """Defaults < the project's configuration file < initializationOptions (and pushed
        settings) < workspace/configuration for this folder."""
        try:
            project = await asyncio.get_running_loop().run_in_executor(
                self.pools.work, config_for_folder, folder.path
            )
        except ConfigError as exc:
            self.client.show(f"ReCode: {exc}; the file is not used")
            project = None
        settings = _with_project(self.base_settings, self.client_layers, project)
        if self.client.supports("workspace.configuration"):
            scope = folder.uri if folder.uri != DEFAULT_FOLDER else None
            try:
                answer = await self.client.configuration(
                    types.ConfigurationParams(
                        items=[
                            types.ConfigurationItem(scope_uri=scope, section=settings_mod.SECTION)
                        ]
                    )
                )
            except Exception as exc:
                self.client.log(f"workspace/configuration failed: {exc}", types.MessageType.Warning)
                answer = None
            if answer:
                settings, problems = settings_mod.merge(settings, answer[0])
                for problem in problems:
                    self.client.show(f"ReCode: {problem} (ignored)")
        return settings

    async def context_for(self, folder: Folder) -> Context:
        """The folder's current context, building it the first time."""
        await self.ready.wait()
        if folder.context is not None:
            return folder.context
        if folder.building is None:
            self.start_build(folder)
        return await asyncio.shield(folder.building)  # type: ignore[arg-type]

    def read_ahead(self) -> None:
        """At `initialize`: start reading each folder's environment (interpreter, knowledge
        base, detector) with the settings known by then, so that it overlaps the rest of the
        client's handshake. The folder's first build takes that context where its settings
        (workspace/configuration may still change them) decide the same environment."""
        for folder in self.folders.values():
            self.read_ahead_contexts[folder.uri] = self.pools.work.submit(
                _read_ahead, folder.path, self.base_settings, list(self.client_layers), self.kbs
            )

    async def _read_ahead_for(self, folder: Folder, settings: Settings) -> Context | None:
        """The context read at `initialize` for this folder, where it fits ``settings``."""
        ahead = self.read_ahead_contexts.pop(folder.uri, None)
        if ahead is None:
            return None
        context = await asyncio.wrap_future(ahead)
        if context is None or context.settings.environment_key() != settings.environment_key():
            return None
        return context

    def start_build(self, folder: Folder) -> None:
        """Build the folder's first context; :meth:`context_for` waits for it."""
        folder.building = asyncio.ensure_future(self._build(folder, None))

    def rebuild(self, folder: Folder, reason: str) -> None:
        """Build the folder's context again; the current one serves until the new one is in."""
        task = asyncio.ensure_future(self._build(folder, reason))
        task.add_done_callback(_log_failure)

    async def _build(self, folder: Folder, reason: str | None) -> Context:
        self.generation += 1
        generation = folder.generation = self.generation
        try:
            settings = folder.settings = await self.resolve_settings(folder)
            ahead = await self._read_ahead_for(folder, settings) if reason is None else None
            if ahead is not None:
                context = replace(ahead, settings=settings, generation=generation)
            else:
                context = await asyncio.get_running_loop().run_in_executor(
                    self.pools.work, build_context, folder.path, settings, generation, self.kbs
                )
        except Exception as exc:
            log.exception("reading the environment failed")
            self.client.show(f"ReCode: cannot read the environment of {folder.name}: {exc}")
            settings = folder.settings or self.base_settings
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
                    self.client.log(f"ReCode: {problem}", types.MessageType.Warning)
                else:
                    self.client.show(f"ReCode ({folder.name}): {problem}")
            self.client.log(
                f"ReCode: {folder.name}: {context.interpreter or 'no interpreter'}; "
                f"{context.describe_versions()}" + (f" ({reason})" if reason else "")
            )
            if old is not None:
                self.diagnostics.refresh(self.documents_in(folder))
                notebooks.refresh(self, self.client, folder)
        self._check_model(folder, context.settings)
        task = asyncio.ensure_future(self.watcher.watch(tuple(self.contexts())))
        task.add_done_callback(_log_failure)

    def environment_changed(self, folder_uri: str, reason: str) -> None:
        """Schedule a rebuild of a folder's context, RELOAD_DELAY from the first report."""
        folder = self.folders.get(folder_uri)
        if folder is None or folder_uri in self.reload_timers:
            return  # a rebuild is already due; it reads whatever is there by then
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self.reload_timers.pop(folder_uri, None)
            self.rebuild(folder, reason)

        self.reload_timers[folder_uri] = loop.call_later(RELOAD_DELAY, fire)

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
                    self.pools.work,
                    model_endpoint.check,
                    url,
                    settings.model,
                    settings.model_check_seconds,
                )
            except Exception as exc:  # never a crash
                self.client.show(f"ReCode: cannot check the model endpoint {url}: {exc}")
                return
            folder.extra["model_status"] = status
            if status.ok:
                self.client.log(status.message)
            else:
                self.client.show(status.message)

        asyncio.ensure_future(run())


def _with_project(base: Settings, layers: list[object], project: ProjectConfig | None) -> Settings:
    """The client's settings (``base``: initializationOptions, then ``layers`` pushed since)
    over the project's configuration file, where there is one."""
    if project is None:
        return base
    settings = settings_mod.with_project(settings_mod.defaults(), project)
    for raw in layers:
        settings, _ = settings_mod.merge(settings, raw)  # problems shown when they came
    return settings


def _read_ahead(
    path: Path | None, base: Settings, layers: list[object], kbs: KnowledgeBases
) -> Context | None:
    """A folder's context with the settings known at `initialize` (in a worker thread); None
    where they cannot be read: the folder's build says why."""
    try:
        settings = _with_project(base, layers, config_for_folder(path))
        return build_context(path, settings, 0, kbs)
    except Exception:
        log.debug("reading the environment ahead failed", exc_info=True)
        return None


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
