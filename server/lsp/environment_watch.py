"""Re-read a folder's environment when its installed packages change, without a restart.

Two ways, both used where available:

- a daemon thread polls the modification times of each context's site-packages folders and
  pin files (``pollSeconds``, default 2 s; a handful of ``stat`` calls, so it costs nothing):
  ``pip install numpy==2.0`` in a terminal adds and removes ``*.dist-info`` folders, which
  changes the folder's time;
- where the client supports dynamic registration of ``workspace/didChangeWatchedFiles``, the
  server asks it to watch ``*.dist-info`` in those folders and the pin files, and rebuilds
  the matching folders when told of a change.

A change only schedules a rebuild (debounced: pip touches many files); the rebuild itself runs
in a worker thread, and the diagnostics of the folder's open documents are refreshed after it.

The watcher never reads the session: the session hands it the folders' contexts each time one
is installed (:meth:`EnvironmentWatcher.watch`), and the polling thread reads that tuple.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types

from recode.server.lsp.documents import path_to_uri, uri_to_path
from recode.server.lsp.workspaces import fingerprint

if TYPE_CHECKING:
    import asyncio

    from recode.server.lsp.client import Client
    from recode.server.lsp.workspaces import Context

log = logging.getLogger(__name__)
REGISTRATION_ID = "recode-environment-watch"


class EnvironmentWatcher:
    """``changed(folder URI, reason)`` is called on the event loop for each folder whose
    watched files changed."""

    def __init__(self, client: Client, changed: Callable[[str, str], None]) -> None:
        self.client = client
        self._changed = changed
        self._watched: tuple[tuple[str, Context], ...] = ()  # (folder URI, its context)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._interval = 2.0
        self._registered: tuple[str, ...] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reported: dict[str, tuple[tuple[str, int], ...]] = {}

    # -- polling ----------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self._loop = loop
        self._interval = interval
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="recode-env-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception:  # never let the watcher die
                log.exception("polling the environment failed")

    def poll(self) -> list[str]:
        """Folders (URIs) whose watched files changed; a rebuild is scheduled for each."""
        changed = []
        for uri, context in self._watched:
            now = fingerprint(context.watched)
            if now != context.fingerprint and self._reported.get(uri) != now:
                self._reported[uri] = now  # report each new state once
                changed.append(uri)
        if changed and self._loop is not None:
            for uri in changed:
                self._loop.call_soon_threadsafe(self._changed, uri, "installed packages changed")
        return changed

    # -- client-side watching ---------------------------------------------------------------

    async def watch(self, contexts: tuple[tuple[str, Context], ...]) -> None:
        """Watch these folders' contexts (folder URI, context) from now on: poll them, and
        (re-)register client file watchers for their site-packages and pins."""
        self._watched = contexts
        if not self.client.supports("workspace.did_change_watched_files.dynamic_registration"):
            return
        dirs = sorted({d for _, c in contexts for d in c.site_dirs})
        pins = sorted({p for _, c in contexts for p in c.pin_files})
        key = tuple(dirs + pins)
        if key == self._registered:
            return
        relative = self.client.supports(
            "workspace.did_change_watched_files.relative_pattern_support"
        )
        watchers: list[types.FileSystemWatcher] = []
        for d in dirs:
            pattern: types.GlobPattern = (
                types.RelativePattern(base_uri=path_to_uri(d), pattern="*.dist-info/METADATA")
                if relative
                else f"{d.rstrip(os.sep)}/*.dist-info/METADATA"
            )
            watchers.append(types.FileSystemWatcher(glob_pattern=pattern))
        for p in pins:
            watchers.append(types.FileSystemWatcher(glob_pattern=p))
        try:
            if self._registered is not None:
                await self.client.unregister(
                    types.UnregistrationParams(
                        unregisterations=[
                            types.Unregistration(
                                id=REGISTRATION_ID,
                                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            )
                        ]
                    )
                )
            await self.client.register(
                types.RegistrationParams(
                    registrations=[
                        types.Registration(
                            id=REGISTRATION_ID,
                            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                watchers=watchers
                            ),
                        )
                    ]
                )
            )
            self._registered = key
        except Exception as exc:  # a client that refuses: polling still works
            log.warning("could not register file watchers: %s", exc)

    def changed_files(self, params: types.DidChangeWatchedFilesParams) -> list[str]:
        """Folders (URIs) affected by the reported file events; a rebuild is scheduled."""
        paths = [p for p in (uri_to_path(c.uri) for c in params.changes) if p]
        affected = []
        for uri, context in self._watched:
            for p in paths:
                if p in context.pin_files or any(
                    p.startswith(d.rstrip(os.sep) + os.sep) for d in context.site_dirs
                ):
                    affected.append(uri)
                    break
        for uri in affected:
            self._changed(uri, "installed packages changed")
        return affected
