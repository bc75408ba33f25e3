"""The project's configuration file and ``# recode: ignore`` comments in a real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from recode.server.lsp.diagnostics import compute, same_diagnostics
from recode.server.lsp.documents import Document

from .support import SAMPLE, running_server
from .test_incremental import CONTEXT

# SAMPLE's find_common_type line, accepted by a glob
SUPPRESSED = SAMPLE.replace(
    "np.find_common_type([], [])\n", "np.find_common_type([], [])  # recode: ignore[numpy-2.0-f*]\n"
)


def codes(diags: list[types.Diagnostic]) -> list[str]:
    return [str(d.code) for d in diags]


@pytest.mark.asyncio
async def test_config_file_comments_and_per_file_ignores(tmp_path: Path, make_env) -> None:
    make_env("tools/env", numpy="2.0.0")  # named by a path relative to the config file
    (tmp_path / "pyproject.toml").write_text(
        "[tool.recode]\n"
        'python = "tools/env"\n'
        'ignore = ["numpy-2.0-trapz"]\n'
        '[tool.recode.per-file-ignores]\n"legacy/*.py" = ["numpy"]\n'
    )
    (tmp_path / "legacy").mkdir()
    src, legacy = tmp_path / "mod.py", tmp_path / "legacy" / "old.py"
    async with running_server(folders=[tmp_path]) as client:
        doc = client.open(src, SUPPRESSED)
        diags = await client.diagnostics_for(doc, version=1)
        assert codes(diags) == ["numpy-2.0-product"]
        assert "this environment has numpy 2.0.0" in diags[0].message  # the config's python

        # removing the comment brings its finding back
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=SAMPLE)],
            )
        )
        diags = await client.diagnostics_for(doc, version=2)
        assert codes(diags) == ["numpy-2.0-product", "numpy-2.0-find_common_type"]

        # a file under legacy/ accepts every numpy finding
        other = client.open(legacy, SAMPLE)
        assert await client.diagnostics_for(other, version=1) == []

        # fix-all leaves the suppressed finding alone
        fix = client.open(
            tmp_path / "fix.py",
            "import numpy as np\na = np.product([1])  # recode: ignore\nb = np.product([2])\n",
        )
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=fix),
                range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                context=types.CodeActionContext(
                    diagnostics=[], only=[types.CodeActionKind.SourceFixAll]
                ),
            )
        )
        assert actions
        action = actions[0]
        if isinstance(action, types.CodeAction) and action.edit is None:
            action = await client.code_action_resolve_async(action)
        assert isinstance(action, types.CodeAction) and action.edit is not None
        edits = [e for edits in action.edit.changes.values() for e in edits]
        assert edits and all(e.range.start.line == e.range.end.line == 2 for e in edits)


@pytest.mark.asyncio
async def test_client_settings_win_over_the_file(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    (tmp_path / "recode.toml").write_text('min-severity = "error"\npython = "/nowhere/python"\n')
    src = tmp_path / "mod.py"
    async with running_server(
        options={"python": env.python, "minSeverity": "warning"}, folders=[tmp_path]
    ) as client:
        diags = await client.diagnostics_for(client.open(src, SAMPLE), version=1)
        assert "numpy-2.0-trapz" in codes(diags)  # a warning: the client's minSeverity won
        assert "this environment has numpy 2.0.0" in diags[0].message


@pytest.mark.asyncio
async def test_a_bad_config_file_is_reported_and_not_used(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    (tmp_path / ".recode.toml").write_text('ignore = "numpy"\n')
    src = tmp_path / "mod.py"
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        diags = await client.diagnostics_for(client.open(src, SAMPLE), version=1)
        assert len(diags) == 3
        shown = [m.message for m in client.messages if ".recode.toml" in m.message]
        assert shown and "ignore must be a list of strings" in shown[0]


@pytest.mark.asyncio
async def test_typing_an_ignore_comment_inside_a_function(tmp_path: Path, make_env) -> None:
    """Over stdio; the next test checks that the incremental path (such an edit inside one
    function takes it) reads the comment too."""
    env = make_env(numpy="2.0.0")
    text = (
        "import numpy as np\n\n\ndef f():\n    return np.product([1])\n\n\n"
        "def g():\n    return np.product([2])\n"
    )
    src = tmp_path / "mod.py"
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        doc = client.open(src, text)
        diags = await client.diagnostics_for(doc, version=1)
        assert [d.range.start.line for d in diags] == [4, 8]
        end = types.Position(4, len("    return np.product([1])"))
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(end, end), text="  # recode: ignore"
                    )
                ],
            )
        )
        diags = await client.diagnostics_for(doc, version=2)
        assert [d.range.start.line for d in diags] == [8]


def test_the_incremental_path_reads_ignore_comments() -> None:
    text = "import numpy as np\n\n\ndef f():\n    x = np.product([1])\n    return x\n"
    doc = Document.open("file:///m.py", text, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    assert [d.range.start.line for d in base.diagnostics] == [4]
    end = types.Position(4, len("    x = np.product([1])"))
    change = types.TextDocumentContentChangePartial(
        range=types.Range(end, end), text="  # recode: ignore[numpy-2.0-*]"
    )
    doc.apply([change], 2)
    fast = compute(doc.snapshot(), CONTEXT, base)
    assert not fast.exact
    assert not fast.diagnostics
    assert same_diagnostics(fast, compute(doc.snapshot(), CONTEXT))
