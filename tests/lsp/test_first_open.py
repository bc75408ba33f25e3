"""The first diagnostics of a start: what can be kept from the previous start is, and what
changed in between still shows."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from lsprotocol import types

from recode.server import probe_cache

from .support import SAMPLE, running_server, write_dist

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
