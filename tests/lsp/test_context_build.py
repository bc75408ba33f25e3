"""Building a folder's context. It reads only the knowledge-base records of the libraries its
environment has a version of (installed, pinned or a target): the detector checks no others,
and the load is on the way to the first diagnostics; a library installed later gets its
records. What it makes is frozen out of the garbage collector's full collections, and the
collector is left as it was found."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from lsprotocol import types

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.lsp import settings as settings_mod
from recode.server.lsp.workspaces import KnowledgeBases, build_context

from .support import KB, running_server

# a pandas use and a numpy use, each a finding once its library has a version at 2.0
USES = (
    "import numpy as np\n"
    "import pandas as pd\n"
    "total = np.product([1, 2])\n"
    "frame = pd.DataFrame({'a': [1]})\n"
    "frame.to_csv('out.csv', line_terminator='\\n')\n"
)


def _settings(python: str, **more: object) -> settings_mod.Settings:
    settings, problems = settings_mod.merge(
        settings_mod.defaults(), {"python": python, "knowledgeBase": [str(KB)], **more}
    )
    assert not problems, problems
    return settings


def test_only_the_libraries_with_a_version_are_read(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")  # no pandas
    kbs = KnowledgeBases()
    context = build_context(tmp_path, _settings(env.python), 1, kbs)
    assert context.kb is not None
    assert context.kb.libraries() == ["numpy"]
    assert set(context.versions) == {"numpy"}
    # a target makes a library count, installed or not
    targeted = build_context(tmp_path, _settings(env.python, targets=["pandas==2.2.2"]), 2, kbs)
    assert targeted.kb is not None and targeted.kb.libraries() == ["numpy", "pandas"]
    # the findings are those of a detector over the whole knowledge base
    whole = Detector(load_knowledge_base([KB]), context.versions)
    source = USES.encode()
    assert [f.record.id for f in context.detector.detect(source)] == [
        f.record.id for f in whole.detect(source)
    ]
    assert [f.record.id for f in context.detector.detect(source)] == ["numpy-2.0-product"]


@pytest.mark.asyncio
async def test_a_library_installed_later_gets_its_records(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(USES)
    async with running_server(
        options={"python": env.python, "pollSeconds": 0.2}, folders=[tmp_path]
    ) as client:
        doc = client.open(src)
        diags = await client.diagnostics_for(doc)
        assert [str(d.code) for d in diags] == ["numpy-2.0-product"]
        env.install("pandas", "2.2.2")
        await client.wait_for(
            lambda: client.published[-1].uri == doc and len(client.published[-1].diagnostics) == 2
        )
        diags = await client.diagnostics_for(doc)
        assert [(str(d.code), d.severity) for d in diags] == [
            ("numpy-2.0-product", types.DiagnosticSeverity.Error),
            ("pandas-2.0-to_csv-line_terminator", types.DiagnosticSeverity.Error),
        ]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_context_is_frozen_and_the_collector_left_as_found(
    tmp_path: Path, make_env, enabled: bool
) -> None:
    env = make_env(numpy="2.0.0")
    settings = _settings(env.python)
    gc.unfreeze()
    if not enabled:
        gc.disable()
    try:
        context = build_context(tmp_path, settings, 1, KnowledgeBases())
        assert gc.isenabled() is enabled
        # the detector's tables are in the permanent generation: no full collection walks them
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert context.detector.index.active  # (alive, and so among the frozen)
        gc.collect()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        gc.enable()
