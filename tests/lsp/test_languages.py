"""Only Python documents are analysed: markdown, plain text and the like get no diagnostics,
code actions, hovers or migrations, whatever code they quote."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from recode.server.lsp.documents import is_python

from .support import SAMPLE, capabilities, running_server, uri

MARKDOWN = "# Notes\n\n```python\n" + SAMPLE + "```\n"


@pytest.mark.parametrize(
    ("name", "language_id", "expected"),
    [
        ("mod.py", "python", True),
        ("notes.md", "Python", True),  # the editor's language wins over the name
        ("mod.py", "markdown", False),
        ("mod.py", "plaintext", False),  # a .py file the user shows as plain text
        ("notes.md", "markdown", False),
        ("mod.py", "", True),  # no languageId: judged by the name
        ("stubs.pyi", "", True),
        ("notes.txt", "", False),
    ],
)
def test_is_python(name: str, language_id: str, expected: bool) -> None:
    assert is_python(f"file:///w/{name}", language_id) is expected


def _open(client, path: Path, text: str, language_id: str) -> str:
    doc = uri(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=doc, language_id=language_id, version=1, text=text
            )
        )
    )
    return doc


def _position(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


@pytest.mark.asyncio
async def test_other_languages_get_nothing(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    notes, plain, mod = tmp_path / "notes.md", tmp_path / "quoted.py", tmp_path / "mod.py"
    for path, text in ((notes, MARKDOWN), (plain, SAMPLE), (mod, SAMPLE)):
        path.write_text(text)
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        md = _open(client, notes, MARKDOWN, "markdown")
        txt = _open(client, plain, SAMPLE, "plaintext")
        py = _open(client, mod, SAMPLE, "python")
        # the Python document is analysed (its diagnostics come after any of the others')
        assert len(await client.diagnostics_for(py, version=1)) == 3
        assert [p.uri for p in client.published] == [py]
        for doc, line in ((md, 5), (txt, 2)):
            where = types.Range(start=_position(0, 0), end=_position(line + 3, 0))
            hover = await client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=doc),
                    position=_position(line, 12),
                )
            )
            assert hover is None
            actions = await client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=doc),
                    range=where,
                    context=types.CodeActionContext(diagnostics=[]),
                )
            )
            assert not actions
            with pytest.raises(JsonRpcException, match="not Python"):
                await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="recode.migrateFile", arguments=[doc])
                )
        # the same text reopened as Python is analysed
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=txt))
        )
        _open(client, plain, SAMPLE, "python")
        assert len(await client.diagnostics_for(txt, version=1)) == 3
        assert client.applied_edits == []


@pytest.mark.asyncio
async def test_other_languages_pull_no_diagnostics(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    notes = tmp_path / "notes.md"
    notes.write_text(MARKDOWN)
    caps = capabilities(**{"text_document.diagnostic": types.DiagnosticClientCapabilities()})
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=caps
    ) as client:
        md = _open(client, notes, MARKDOWN, "markdown")
        py = _open(client, tmp_path / "mod.py", SAMPLE, "python")
        for doc, count in ((md, 0), (py, 3)):
            report = await client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=doc))
            )
            assert len(report.items) == count
