"""The seams of the server's state, in-process: handlers called as ``handle(session, client,
params)`` with a real Session and a real Client whose transport records what it writes, and
work in the worker threads that sees only the snapshot it was given."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.lsp import code_actions
from recode.server.lsp.client import Client
from recode.server.lsp.environment_watch import EnvironmentWatcher
from recode.server.lsp.handlers import did_change_configuration, did_open, hover
from recode.server.lsp.server import RecodeLanguageServer
from recode.server.lsp.session import Pools, Session
from recode.server.lsp.settings import Settings
from recode.server.lsp.workspaces import Context
from recode.server.severity import LibraryVersion

from .support import KB, SAMPLE

URI = "file:///work/sample.py"


def _context(generation: int, numpy: str) -> Context:
    kb = load_knowledge_base([KB])
    detector = Detector(kb, {"numpy": LibraryVersion(Version(numpy), "installed")})
    return Context(generation, Settings(), detector, None, {}, (), (), ())


NUMPY_2 = _context(1, "2.0.0")


def _wired() -> tuple[Session, Client, list[dict[str, Any]]]:
    """A session and its client, the client's messages recorded as the transport writes them,
    and the sample's folder given NUMPY_2 (no interpreter is asked). The session keeps its
    own (empty) notebook workspace: pygls makes the server's at ``initialize``."""
    server = RecodeLanguageServer()
    sent: list[dict[str, Any]] = []

    class Recorder:
        def write(self, data: bytes) -> None:
            sent.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    server.protocol.set_writer(Recorder())
    server.protocol.client_capabilities = types.ClientCapabilities()
    session = Session(server.client, Pools.start())
    session.folder_for(URI).context = NUMPY_2
    session.ready.set()
    return session, server.client, sent


def _open(session: Session, client: Client, text: str = SAMPLE) -> None:
    did_open.handle(
        session,
        client,
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=URI, language_id="python", version=1, text=text
            )
        ),
    )


async def _until(sent: list[dict[str, Any]], method: str) -> dict[str, Any]:
    for _ in range(500):
        for message in sent:
            if message.get("method") == method:
                return message
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {method} in {sent}")


@pytest.mark.asyncio
async def test_did_open_publishes_through_the_client() -> None:
    session, client, sent = _wired()
    _open(session, client)
    message = await _until(sent, "textDocument/publishDiagnostics")
    params = message["params"]
    assert (params["uri"], params["version"]) == (URI, 1)
    shown = [
        (d["range"]["start"]["line"], d["range"]["start"]["character"], d["code"])
        for d in params["diagnostics"]
    ]
    assert shown == [
        (2, 8, "numpy-2.0-product"),
        (3, 21, "numpy-2.0-find_common_type"),
        (4, 7, "numpy-2.0-trapz"),
    ]
    assert [m.get("method") for m in sent] == ["textDocument/publishDiagnostics"]
    session.pools.shutdown()


@pytest.mark.asyncio
async def test_hover_answers_from_the_session_and_sends_nothing() -> None:
    session, client, sent = _wired()
    session.push_enabled = False
    _open(session, client)
    params = types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        position=types.Position(line=4, character=12),
    )
    found = await hover.handle(session, client, params)
    assert found is not None
    assert found.range == types.Range(types.Position(4, 7), types.Position(4, 15))
    assert isinstance(found.contents, types.MarkupContent)
    assert found.contents.value.startswith("**ReCode** (")
    assert "`numpy-2.0-trapz`" in found.contents.value
    params.position = types.Position(line=1, character=0)
    assert await hover.handle(session, client, params) is None
    assert sent == []
    session.pools.shutdown()


@pytest.mark.asyncio
async def test_a_settings_problem_is_shown_once_until_the_settings_change() -> None:
    session, client, sent = _wired()
    session.folders.clear()  # no folder has a context: nothing is rebuilt
    bad = types.DidChangeConfigurationParams(settings={"recode": {"debounceMs": "soon"}})
    did_change_configuration.handle(session, client, bad)
    assert [m["method"] for m in sent] == ["window/logMessage", "window/showMessage"]
    message = sent[1]["params"]["message"]
    assert message.startswith("ReCode: setting recode.debounceMs: ")
    assert message.endswith(" (ignored)")
    assert session.base_settings.debounce_ms == Settings().debounce_ms
    assert session.client_layers[-1] == {"recode": {"debounceMs": "soon"}}
    sent.clear()
    client.show(message)  # the same problem again: logged, not shown
    assert [m["method"] for m in sent] == ["window/logMessage"]
    sent.clear()
    did_change_configuration.handle(session, client, bad)  # new settings: shown again
    assert [m["method"] for m in sent] == ["window/logMessage", "window/showMessage"]


@pytest.mark.asyncio
async def test_fix_all_sees_only_its_snapshot() -> None:
    """A change made while fix-all runs in its thread reaches neither its edits nor the
    document's cache."""
    session, client, _ = _wired()
    session.push_enabled = False
    _open(session, client)
    doc = session.documents.get(URI)
    assert doc is not None
    gate = threading.Event()
    session.pools.work.submit(gate.wait, 30)  # fix-all queues behind this
    session.pools.work.submit(gate.wait, 30)
    try:
        work = asyncio.ensure_future(code_actions.fix_all(session, doc))
        await asyncio.sleep(0.05)
        doc.apply([types.TextDocumentContentChangeWholeDocument(text="import numpy\n")], 2)
        session.folder_for(URI).context = _context(2, "1.20.0")
    finally:
        gate.set()
    done = await work
    assert (done.snapshot.version, done.generation) == (1, 1)
    assert done.snapshot.source == SAMPLE.encode()
    assert [(e.range.start.line, e.new_text) for e in done.edits] == [(2, "prod"), (4, "trapezoid")]
    assert doc.state.fix_all is None
    assert doc.source == b"import numpy\n"
    session.pools.shutdown()


@pytest.mark.asyncio
async def test_diagnostics_keep_the_context_they_started_with() -> None:
    session, client, _ = _wired()
    session.push_enabled = False
    _open(session, client)
    doc = session.documents.get(URI)
    assert doc is not None
    gate = threading.Event()
    session.pools.exact.submit(gate.wait, 30)
    try:
        first = asyncio.ensure_future(session.diagnostics.result_for(doc, exact=True))
        await asyncio.sleep(0.05)
        session.folder_for(URI).context = _context(2, "1.20.0")  # numpy 1.20: nothing found
    finally:
        gate.set()
    result = await first
    assert (result.context.generation, len(result.findings)) == (1, 3)
    again = await session.diagnostics.result_for(doc, exact=True)
    assert (again.context.generation, again.findings) == (2, ())
    session.pools.shutdown()


@pytest.mark.asyncio
async def test_the_watcher_polls_the_contexts_it_was_handed(tmp_path: Path) -> None:
    _, client, _ = _wired()
    site = tmp_path / "site-packages"
    site.mkdir()
    context = replace(NUMPY_2, site_dirs=(str(site),))
    context = replace(context, fingerprint=_fingerprint(context))
    changed: list[tuple[str, str]] = []
    watcher = EnvironmentWatcher(client, lambda uri, why: changed.append((uri, why)))
    watcher.start(asyncio.get_running_loop(), 0)  # no thread: polled here
    await watcher.watch((("file:///work", context),))
    assert watcher.poll() == []
    (site / "numpy-2.1.0.dist-info").mkdir()
    assert watcher.poll() == ["file:///work"]
    await asyncio.sleep(0)
    assert changed == [("file:///work", "installed packages changed")]
    assert watcher.poll() == []  # each new state reported once


def _fingerprint(context: Context) -> tuple[tuple[str, int], ...]:
    from recode.server.lsp.workspaces import fingerprint

    return fingerprint(context.watched)


@pytest.mark.asyncio
async def test_a_document_opened_by_a_pulling_client_is_analysed_before_the_pull() -> None:
    """Where the client pulls, opening a document starts its analysis; the pull that follows
    takes that result (nothing is pushed, nothing computed twice)."""
    session, client, sent = _wired()
    session.push_enabled = False
    _open(session, client)
    doc = session.documents.get(URI)
    assert doc is not None
    for _ in range(500):
        if doc.state.result is not None:
            break
        await asyncio.sleep(0.01)
    assert doc.state.result is not None and doc.state.result.snapshot.version == 1
    report = await session.diagnostics.pull(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    assert [d["code"] for d in json.loads(report)["items"]] == [
        "numpy-2.0-product",
        "numpy-2.0-find_common_type",
        "numpy-2.0-trapz",
    ]
    assert len(session.diagnostics.timings) == 1
    assert sent == []
    session.pools.shutdown()
