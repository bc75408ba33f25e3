"""The server's state, owned by the event loop: open documents, workspace folders (each with
its settings and context), the client's settings layers and what the client negotiated.

Only code running on the event loop's thread reads or changes a :class:`Session`: the
handlers of notifications and requests (handlers/), and the server's context lifecycle
(server.py). Work in the worker threads gets an immutable :class:`~.documents.Snapshot` and the
:class:`~.workspaces.Context` it needs, never the session.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from recode.server import environment as env_mod
from recode.server.lsp import settings as settings_mod
from recode.server.lsp.documents import Document, DocumentStore, path_to_uri, uri_to_path
from recode.server.lsp.settings import Settings
from recode.server.lsp.workspaces import Context, Folder, KnowledgeBases

DEFAULT_FOLDER = "recode:no-folder"


class Session:
    def __init__(self) -> None:
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
        self.shown: set[str] = set()  # messages shown (each once until settings change)
        self.folder_cache: dict[str, str] = {}  # directory -> its implicit folder's URI
        self.notebook_runs: dict[str, int] = {}  # notebook URI -> its latest analysis

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
        """(folder URI, context) of every folder whose context is built (any thread)."""
        return [(uri, f.context) for uri, f in list(self.folders.items()) if f.context is not None]

    def documents_in(self, folder: Folder) -> list[Document]:
        return [d for d in self.documents if self.folder_for(d.uri) is folder]
