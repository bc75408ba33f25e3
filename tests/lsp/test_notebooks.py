"""Jupyter notebooks over stdio: LSP 3.17 notebook sync, cells analysed as one module,
diagnostics per cell URI, hover, quick fixes and fix-all whose edits land in the right cells."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from .support import apply_text_edits, capabilities, edits_of, rng, running_server, span, uri

pytestmark = pytest.mark.asyncio

CELLS = [
    ("code", "%matplotlib inline\nimport numpy as np"),
    ("markdown", "np.trapz in prose"),
    ("code", "!echo é ☃\nx = np.product([1, 2])\n"),  # a non-ASCII magic before a finding
    ("code", "%%bash\necho np.trapz\n"),
    ("code", "np.mean?\narea = np.trapz([1.0, 2.0])"),
]


def notebook_caps() -> types.ClientCapabilities:
    return capabilities(
        notebook_document=types.NotebookDocumentClientCapabilities(
            synchronization=types.NotebookDocumentSyncClientCapabilities()
        )
    )


def open_notebook(client, path: Path, cells=CELLS) -> tuple[str, list[str]]:
    nb = uri(path)
    cell_uris = [f"vscode-notebook-cell:{path}#cell{i}" for i in range(len(cells))]
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=nb,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[
                    types.NotebookCell(
                        kind=types.NotebookCellKind.Code
                        if kind == "code"
                        else types.NotebookCellKind.Markup,
                        document=cell_uri,
                    )
                    for (kind, _), cell_uri in zip(cells, cell_uris, strict=True)
                ],
            ),
            # as VS Code does with the server's selector: the text of Python cells only
            cell_text_documents=[
                types.TextDocumentItem(uri=cell_uri, language_id="python", version=1, text=text)
                for (kind, text), cell_uri in zip(cells, cell_uris, strict=True)
                if kind == "code" and not text.startswith("%%bash")
            ],
        )
    )
    return nb, cell_uris


def code_action_params(doc: str, where: types.Range, only=None) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=doc),
        range=where,
        context=types.CodeActionContext(diagnostics=[], only=only),
    )


async def test_the_server_offers_notebook_sync(tmp_path: Path) -> None:
    async with running_server(folders=[tmp_path], caps=notebook_caps()) as client:
        sync = client.initialize_result.capabilities.notebook_document_sync
    assert sync is not None
    [selector] = sync.notebook_selector
    assert selector.notebook == "jupyter-notebook"
    assert [c.language for c in selector.cells] == ["python"]


async def test_cells_are_one_module_with_diagnostics_per_cell(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    path = tmp_path / "analysis.ipynb"
    # what a made-up document for the unsynced %%bash cell would read (its URI's path)
    path.write_text("import numpy as np\nnp.trapz([1])\n")
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=notebook_caps()
    ) as client:
        _, cells = open_notebook(client, path)
        # the import in cell 0 counts in cells 2 and 4; the magics do not break the parse
        third = await client.diagnostics_for(cells[2])
        fifth = await client.diagnostics_for(cells[4])
        first = await client.diagnostics_for(cells[0])
        assert [(d.code, d.range) for d in third] == [
            ("numpy-2.0-product", span(CELLS[2][1], 1, "np.product"))
        ]
        assert [(d.code, d.range) for d in fifth] == [
            ("numpy-2.0-trapz", span(CELLS[4][1], 1, "np.trapz"))
        ]
        assert first == []
        # neither the markdown cell nor the %%bash cell is analysed
        assert {p.uri for p in client.published} == {cells[0], cells[2], cells[4]}

        # -- a change in one cell: the module is analysed again -----------------------------
        client.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(
                    uri=uri(path), version=2
                ),
                change=types.NotebookDocumentChangeEvent(
                    cells=types.NotebookDocumentCellChanges(
                        text_content=[
                            types.NotebookDocumentCellContentChanges(
                                document=types.VersionedTextDocumentIdentifier(
                                    uri=cells[0], version=2
                                ),
                                changes=[
                                    types.TextDocumentContentChangePartial(
                                        range=rng(1, 16, 18), text="numpy"
                                    )
                                ],
                            )
                        ]
                    )
                ),
            )
        )
        # `import numpy as numpy`: np is no longer numpy, so cells 2 and 4 are clean now
        for cell in (cells[2], cells[4]):  # published again (same cell version)
            await client.wait_for(
                lambda c=cell: len([p for p in client.published if p.uri == c]) == 2
            )
            assert await client.diagnostics_for(cell) == []
        assert await client.diagnostics_for(cells[0], version=2) == []


async def test_hover_quick_fix_and_fix_all_in_cells(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    path = tmp_path / "analysis.ipynb"
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=notebook_caps()
    ) as client:
        _, cells = open_notebook(client, path)
        await client.diagnostics_for(cells[4])
        text = CELLS[4][1]

        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=cells[4]),
                position=types.Position(1, 12),
            )
        )
        assert hover is not None and hover.range == span(text, 1, "np.trapz")
        assert "`numpy.trapz` is deprecated" in hover.contents.value

        actions = await client.text_document_code_action_async(
            code_action_params(cells[4], rng(1, 0, 30), only=[types.CodeActionKind.QuickFix])
        )
        assert [a.title for a in actions] == [
            "ReCode: replace `numpy.trapz` with `numpy.trapezoid`"
        ]
        edit = actions[0].edit
        assert set(edit.changes) == {cells[4]}
        assert apply_text_edits(text, edits_of(edit, cells[4])) == (
            "np.mean?\narea = np.trapezoid([1.0, 2.0])"
        )

        fix_all = await client.text_document_code_action_async(
            code_action_params(cells[0], rng(0, 0, 0), only=["source.fixAll"])
        )
        assert [a.kind for a in fix_all] == ["source.fixAll.recode"]
        changes = fix_all[0].edit.changes
        assert set(changes) == {cells[2], cells[4]}
        assert apply_text_edits(CELLS[2][1], changes[cells[2]]) == (
            "!echo é ☃\nx = np.prod([1, 2])\n"
        )
        assert apply_text_edits(text, changes[cells[4]]) == (
            "np.mean?\narea = np.trapezoid([1.0, 2.0])"
        )


async def test_pulled_diagnostics_of_a_cell(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    caps = notebook_caps()
    caps.text_document.diagnostic = types.DiagnosticClientCapabilities()
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    path = tmp_path / "n.ipynb"
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=caps
    ) as client:
        _, cells = open_notebook(client, path)

        async def pull(cell: str) -> list[str]:
            report = await client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(cell))
            )
            return [d.code for d in report.items]

        assert await pull(cells[2]) == ["numpy-2.0-product"]
        refreshes = client.diagnostic_refresh_count
        # an edit of cell 0 changes cell 2's diagnostics: the client is asked to pull again
        client.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(
                    uri=uri(path), version=2
                ),
                change=types.NotebookDocumentChangeEvent(
                    cells=types.NotebookDocumentCellChanges(
                        text_content=[
                            types.NotebookDocumentCellContentChanges(
                                document=types.VersionedTextDocumentIdentifier(
                                    uri=cells[0], version=2
                                ),
                                changes=[
                                    types.TextDocumentContentChangePartial(
                                        range=rng(1, 0, 18), text=""
                                    )
                                ],
                            )
                        ]
                    )
                ),
            )
        )
        await client.wait_for(lambda: client.diagnostic_refresh_count > refreshes)
        assert await pull(cells[2]) == []
        assert client.published == []


async def test_a_removed_cell_loses_its_diagnostics(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    path = tmp_path / "n.ipynb"
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=notebook_caps()
    ) as client:
        _, cells = open_notebook(client, path)
        assert len(await client.diagnostics_for(cells[4])) == 1
        client.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(
                    uri=uri(path), version=2
                ),
                change=types.NotebookDocumentChangeEvent(
                    cells=types.NotebookDocumentCellChanges(
                        structure=types.NotebookDocumentCellChangeStructure(
                            array=types.NotebookCellArrayChange(start=4, delete_count=1),
                            did_close=[types.TextDocumentIdentifier(uri=cells[4])],
                        )
                    )
                ),
            )
        )
        await client.wait_for(lambda: len([p for p in client.published if p.uri == cells[4]]) == 2)
        assert await client.diagnostics_for(cells[4]) == []
        # the other cells are analysed again without it
        await client.wait_for(lambda: len([p for p in client.published if p.uri == cells[2]]) == 2)
        assert [d.code for d in await client.diagnostics_for(cells[2])] == ["numpy-2.0-product"]


async def test_installing_a_library_updates_the_cells(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="1.26.4")
    async with running_server(
        options={"python": env.python, "pollSeconds": 0.2}, folders=[tmp_path], caps=notebook_caps()
    ) as client:
        _, cells = open_notebook(client, tmp_path / "n.ipynb")
        assert await client.diagnostics_for(cells[4]) == []  # np.trapz is fine in 1.26
        env.install("numpy", "2.0.0")
        await client.wait_for(lambda: len([p for p in client.published if p.uri == cells[4]]) == 2)
        assert [d.code for d in await client.diagnostics_for(cells[4])] == ["numpy-2.0-trapz"]


async def test_migrate_file_on_a_cell_fixes_the_notebook(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=notebook_caps()
    ) as client:
        _, cells = open_notebook(client, tmp_path / "n.ipynb")
        await client.diagnostics_for(cells[4])
        outcome = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.migrateFile", arguments=[cells[4]])
        )
        assert outcome["applied"] is True and outcome["fixed"] == 2, outcome
        [applied] = client.applied_edits
        assert set(applied.edit.changes) == {cells[2], cells[4]}
        assert apply_text_edits(CELLS[4][1], applied.edit.changes[cells[4]]) == (
            "np.mean?\narea = np.trapezoid([1.0, 2.0])"
        )
