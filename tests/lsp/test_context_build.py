"""Building a folder's context. It reads only the knowledge-base records of the libraries its
environment has a version of (installed, pinned or a target): the detector checks no others,
and the load is on the way to the first diagnostics; a library installed later gets its
records. What it makes is frozen out of the garbage collector's full collections, and the
collector is left as it was found."""

from __future__ import annotations

import dataclasses
import gc
import shutil
from pathlib import Path

import pytest
from lsprotocol import types

from recode.dataset.knowledge import load_knowledge_base
from recode.server.config import ProjectConfig
from recode.server.detector import Detector
from recode.server.lsp import settings as settings_mod
from recode.server.lsp import workspaces
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


def _found(context: workspaces.Context) -> list[tuple[str, str]]:
    return [(f.record.id, f.message) for f in context.detector.detect(USES.encode())]


@pytest.fixture
def own_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the test knowledge base, and an empty cache of this test's own."""
    monkeypatch.setenv("RECODE_KB_CACHE_DIR", str(tmp_path / "cache"))
    return Path(shutil.copytree(KB, tmp_path / "kb"))


def _loads_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("the knowledge base was loaded and the detector built again")

    monkeypatch.setattr(KnowledgeBases, "get", fail)


def test_a_new_server_reads_the_knowledge_base_and_detector_from_the_cache(
    tmp_path: Path, make_env, own_kb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(numpy="2.0.0", pandas="2.2.2")
    settings = _settings(env.python, knowledgeBase=[str(own_kb)])
    first = build_context(tmp_path, settings, 1, KnowledgeBases())
    _loads_forbidden(monkeypatch)
    again = build_context(tmp_path, settings, 1, KnowledgeBases())  # as a new server would
    assert again.kb is not None and first.kb is not None
    assert again.kb.records == first.kb.records and again.versions == first.versions
    assert _found(again) == _found(first) and len(_found(first)) == 2


def test_an_edited_record_is_never_served_from_a_stale_detector(
    tmp_path: Path, make_env, own_kb: Path
) -> None:
    env = make_env(numpy="2.0.0")
    settings = _settings(env.python, knowledgeBase=[str(own_kb)])
    before = _found(build_context(tmp_path, settings, 1, KnowledgeBases()))
    assert [m for _, m in before] and "NUMPY.PROD" not in before[0][1]
    path = own_kb / "numpy.jsonl"
    path.write_text(path.read_text().replace('"numpy.prod"', '"NUMPY.PROD"', 1))
    after = _found(build_context(tmp_path, settings, 2, KnowledgeBases()))
    assert [i for i, _ in after] == ["numpy-2.0-product"] and "NUMPY.PROD" in after[0][1]
    (own_kb / "more.jsonl").write_text("")  # another file of the base: read, and in the key
    path.write_text("")
    assert _found(build_context(tmp_path, settings, 3, KnowledgeBases())) == []


def test_a_changed_library_set_or_selection_is_never_served_a_stale_detector(
    tmp_path: Path, make_env, own_kb: Path
) -> None:
    env = make_env(numpy="2.0.0", pandas="2.2.2")
    both = _settings(env.python, knowledgeBase=[str(own_kb)])
    numpy_only = _settings(env.python, knowledgeBase=[str(own_kb)], libraries=["numpy"])
    ids = ["numpy-2.0-product", "pandas-2.0-to_csv-line_terminator"]
    for _ in range(2):  # made, then read back: each set its own entry
        assert [i for i, _ in _found(build_context(tmp_path, both, 1, KnowledgeBases()))] == ids
        only = build_context(tmp_path, numpy_only, 2, KnowledgeBases())
        assert [i for i, _ in _found(only)] == ids[:1] and set(only.versions) == {"numpy"}
    project = ProjectConfig(path=tmp_path / "pyproject.toml", ignore=("numpy-2.0-product",))
    selected = dataclasses.replace(both, project=project)
    assert [i for i, _ in _found(build_context(tmp_path, selected, 3, KnowledgeBases()))] == ids[1:]
    older = make_env("older", numpy="1.24.0", pandas="2.2.2")  # before the deprecation
    moved = _settings(older.python, knowledgeBase=[str(own_kb)])
    found = [i for i, _ in _found(build_context(tmp_path, moved, 4, KnowledgeBases()))]
    assert found == ids[1:]


def test_an_edit_of_recode_s_code_makes_the_detector_again(
    tmp_path: Path, make_env, own_kb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(numpy="2.0.0")
    settings = _settings(env.python, knowledgeBase=[str(own_kb)])
    build_context(tmp_path, settings, 1, KnowledgeBases())
    loads: list[object] = []
    real = KnowledgeBases.get

    def counted(self: KnowledgeBases, *args: object) -> object:
        loads.append(args)
        return real(self, *args)

    monkeypatch.setattr(KnowledgeBases, "get", counted)
    build_context(tmp_path, settings, 2, KnowledgeBases())
    assert loads == []  # read back
    monkeypatch.setattr(workspaces, "_code_digest", lambda: b"the code, edited")
    again = build_context(tmp_path, settings, 3, KnowledgeBases())
    assert len(loads) == 1 and [i for i, _ in _found(again)] == ["numpy-2.0-product"]
