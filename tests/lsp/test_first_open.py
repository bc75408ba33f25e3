"""The first diagnostics of a start: what can be kept from the previous start is, and what
changed in between still shows."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.workspace import Workspace

from recode.server import probe_cache
from recode.server.lsp.handlers import initialize, initialized
from recode.server.lsp.server import RecodeLanguageServer
from recode.server.lsp.session import Pools, Session

from .support import KB, SAMPLE, capabilities, running_server, uri, write_dist

pytestmark = pytest.mark.asyncio

ERROR, WARNING = types.DiagnosticSeverity.Error, types.DiagnosticSeverity.Warning


async def test_a_restart_sees_a_pth_file_edited_in_place(tmp_path: Path, make_env) -> None:
    """numpy lives in a folder a ``.pth`` file names; between two starts the file is made to
    name another folder (numpy 2.0.0 there) without its own folder's time changing: the second
    start must not take the first start's ``sys.path`` from the cache."""
    env = make_env()
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, version in ((old, "1.26.4"), (new, "2.0.0")):
        folder.mkdir()
        write_dist(folder, "numpy", version)
    pth = env.site / "libs.pth"
    pth.write_text(f"{old}\n")
    time.sleep(2 * probe_cache.SLACK_NS / 1e9)  # an environment at rest: its answer is kept
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    server_env = {**os.environ, "RECODE_PROBE_CACHE_DIR": str(tmp_path / "probes")}
    severities = []
    for _ in range(2):
        async with running_server(
            options={"python": env.python}, folders=[tmp_path], env=server_env
        ) as client:
            diags = await client.diagnostics_for(client.open(src))
            severities.append({d.severity for d in diags})
        assert list((tmp_path / "probes").glob("*.json")), "the first start keeps its answer"
        folder_time = env.site.stat().st_mtime_ns
        pth.write_text(f"{new}\n")
        os.utime(env.site, ns=(folder_time, folder_time))
    assert severities == [{WARNING}, {ERROR, WARNING}]


async def test_the_environment_is_read_from_initialize_on(tmp_path: Path, make_env) -> None:
    """In process: `initialize` starts reading the folder's environment, and the build at
    `initialized` takes that context (the same detector) rather than reading it again."""
    env = make_env(numpy="2.0.0")
    server = RecodeLanguageServer()
    server.protocol.set_writer(type("Sink", (), {"write": lambda self, data: None})())
    server.protocol.client_capabilities = types.ClientCapabilities()
    server.protocol._workspace = Workspace(uri(tmp_path))  # what pygls makes at initialize
    session = Session(server.client, Pools.start())
    try:
        initialize.handle(
            session,
            server.client,
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                initialization_options={"python": env.python, "knowledgeBase": [str(KB)]},
                workspace_folders=[types.WorkspaceFolder(uri=uri(tmp_path), name="p")],
            ),
        )
        (ahead,) = session.read_ahead_contexts.values()
        early = ahead.result(timeout=30)  # read before `initialized` came
        assert early is not None and early.interpreter == env.python
        assert str(early.versions["numpy"].version) == "2.0.0"
        await initialized.handle(session, server.client, types.InitializedParams())
        context = await session.context_for(session.folder_for(uri(tmp_path / "mod.py")))
        assert context.detector is early.detector
        assert context.generation == session.generation
        assert not session.read_ahead_contexts
    finally:
        session.watcher.stop()
        session.pools.shutdown()


async def test_the_folder_settings_of_the_client_win_over_the_read_ahead(
    tmp_path: Path, make_env
) -> None:
    """initializationOptions name one environment (numpy 1.26.4), the client's
    workspace/configuration another (numpy 2.0.0): the context read at `initialize` with the
    first must not serve."""
    old, new = make_env("old", numpy="1.26.4"), make_env("new", numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    async with running_server(
        options={"python": old.python},
        folders=[tmp_path],
        caps=capabilities(**{"workspace.configuration": True}),
        configuration={"": {"python": new.python}},
    ) as client:
        diags = await client.diagnostics_for(client.open(src))
    assert [(str(d.code), d.severity) for d in diags] == [
        ("numpy-2.0-product", ERROR),
        ("numpy-2.0-find_common_type", ERROR),
        ("numpy-2.0-trapz", WARNING),
    ]
