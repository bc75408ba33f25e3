"""Push and pull diagnostics from a real server: exact ranges, messages, codes, severities."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from .support import SAMPLE, capabilities, rng, running_server, span

pytestmark = pytest.mark.asyncio

NUMPY_GUIDE = "https://numpy.org/devdocs/numpy_2_0_migration_guide.html"


def expected_2_0() -> list[types.Diagnostic]:
    have = "(this environment has numpy 2.0.0)"
    return [
        types.Diagnostic(
            range=span(SAMPLE, 2, "np.product"),
            message=f"`numpy.product` was removed in numpy 2.0.0 {have}. Use numpy.prod.",
            severity=types.DiagnosticSeverity.Error,
            code="numpy-2.0-product",
            code_description=types.CodeDescription(href=NUMPY_GUIDE),
            source="recode",
        ),
        # the emoji is one code point, two UTF-16 units and four UTF-8 bytes: the range
        # counts UTF-16 units, as LSP wants by default
        types.Diagnostic(
            range=span(SAMPLE, 3, "np.find_common_type"),
            message="`numpy.find_common_type` was removed in numpy 2.0.0 "
            f"{have}. Use numpy.result_type or numpy.promote_types.",
            severity=types.DiagnosticSeverity.Error,
            code="numpy-2.0-find_common_type",
            code_description=types.CodeDescription(href=NUMPY_GUIDE),
            source="recode",
        ),
        types.Diagnostic(
            range=span(SAMPLE, 4, "np.trapz"),
            message=f"`numpy.trapz` is deprecated since numpy 2.0.0 {have}. Use numpy.trapezoid.",
            severity=types.DiagnosticSeverity.Warning,
            code="numpy-2.0-trapz",
            code_description=types.CodeDescription(
                href="https://numpy.org/devdocs/release/2.0.0-notes.html"
            ),
            source="recode",
            tags=[types.DiagnosticTag.Deprecated],
        ),
    ]


def strip(diags: list[types.Diagnostic]) -> list[types.Diagnostic]:
    """The diagnostics without their ``data`` (the server's own bookkeeping)."""
    return [
        types.Diagnostic(
            range=d.range,
            message=d.message,
            severity=d.severity,
            code=d.code,
            code_description=d.code_description,
            source=d.source,
            tags=list(d.tags) if d.tags else None,
        )
        for d in diags
    ]


async def test_push_on_open_exact(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        doc = client.open(src)
        diags = await client.diagnostics_for(doc, version=1)
        assert strip(diags) == expected_2_0()


async def test_installed_version_decides_severity(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="1.26.4")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        diags = await client.diagnostics_for(client.open(src), version=1)
    assert [(d.code, d.severity, d.range.start.line) for d in diags] == [
        ("numpy-2.0-product", types.DiagnosticSeverity.Warning, 2),
        ("numpy-2.0-find_common_type", types.DiagnosticSeverity.Warning, 3),
    ]
    assert diags[0].message == (
        "`numpy.product` is deprecated since numpy 1.25.0 and goes in 2.0.0 "
        "(this environment has numpy 1.26.4). Use numpy.prod."
    )


async def test_incremental_changes_and_debounce(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    async with running_server(
        options={"python": env.python, "debounceMs": 50}, folders=[tmp_path]
    ) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1)
        # insert a line above everything, then (a second change in the same notification)
        # delete "np.product" by replacing it with "np.prod"
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=rng(0, 0, 0), text="# é\n"),
                    types.TextDocumentContentChangePartial(range=rng(3, 11, 18), text="prod"),
                ],
            )
        )
        # and an edit after the emoji: counted in UTF-16 units
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=3),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=rng(4, 13, 14), text="  ")
                ],
            )
        )
        diags = await client.diagnostics_for(doc, version=3)
        text = "# é\n" + SAMPLE.replace("np.product", "np.prod").replace("; ", ";  ")
        assert [(d.code, d.range) for d in diags] == [
            ("numpy-2.0-find_common_type", span(text, 4, "np.find_common_type")),
            ("numpy-2.0-trapz", span(text, 5, "np.trapz")),
        ]
        # the debounce: version 2 was superseded before its delay ran out, never published
        assert [p.version for p in client.published if p.uri == doc] == [1, 3]
        # a whole-document change
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=4),
                content_changes=[
                    types.TextDocumentContentChangeWholeDocument(
                        text="import numpy\nnumpy.float_\n"
                    )
                ],
            )
        )
        diags = await client.diagnostics_for(doc, version=4)
        assert [(d.code, d.range) for d in diags] == [("numpy-2.0-float_", rng(1, 0, 12))]
        # closing clears them
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=doc))
        )
        await client.wait_for(
            lambda: client.published[-1].uri == doc and not client.published[-1].diagnostics
        )


async def test_save_republishes_with_text(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text("import numpy as np\n")
    async with running_server(
        options={"python": env.python, "debounceMs": 60_000}, folders=[tmp_path]
    ) as client:
        doc = client.open(src)
        assert await client.diagnostics_for(doc, version=1) == []
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=rng(1, 0, 0), text="np.float_\n")
                ],
            )
        )
        # the debounce is a minute: only the save publishes
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                text="import numpy as np\nnp.float_\n",
            )
        )
        diags = await client.diagnostics_for(doc, version=2, timeout=10)
        assert [(d.code, d.range) for d in diags] == [("numpy-2.0-float_", rng(1, 0, 9))]


async def test_pull_diagnostics(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    caps = capabilities(
        "visual-studio-code",
        **{"text_document.diagnostic": types.DiagnosticClientCapabilities()},
    )
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=caps
    ) as client:
        doc = client.open(src)
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=doc))
        )
        assert report.kind == "full"
        assert strip(report.items) == expected_2_0()
        again = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                previous_result_id=report.result_id,
            )
        )
        assert again.kind == "unchanged"
        assert again.result_id == report.result_id
        # a client that pulls is not also pushed to (VS Code would show everything twice)
        assert client.published == []


async def test_pull_after_edits_is_the_fast_result(tmp_path: Path, make_env) -> None:
    """A pull after each change answers that version from the incremental result (marked
    ``:fast``), moved and re-analysed as push would publish it; unchanged when asked again."""
    env = make_env(numpy="2.0.0")
    text = "import numpy as np\n\n\ndef f():\n    return np.product([1])\n\n\nx = np.trapz\n"
    src = tmp_path / "mod.py"
    src.write_text(text)
    caps = capabilities(
        "visual-studio-code",
        **{"text_document.diagnostic": types.DiagnosticClientCapabilities()},
    )
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=caps
    ) as client:
        doc = client.open(src)

        async def pull(previous: str | None = None) -> types.DocumentDiagnosticReport:
            return await client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(
                    text_document=types.TextDocumentIdentifier(uri=doc),
                    previous_result_id=previous,
                )
            )

        first = await pull()
        assert [(d.code, d.range) for d in first.items] == [
            ("numpy-2.0-product", rng(4, 11, 21)),
            ("numpy-2.0-trapz", rng(7, 4, 12)),
        ]
        # two lines typed into f: its finding is found again, the one after it moves down
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=rng(4, 0, 0), text="    y = np.float_\n\n"
                    )
                ],
            )
        )
        second = await pull()
        assert second.kind == "full" and second.result_id.endswith(":fast")
        assert [(d.code, d.range) for d in second.items] == [
            ("numpy-2.0-float_", rng(4, 8, 17)),
            ("numpy-2.0-product", rng(6, 11, 21)),
            ("numpy-2.0-trapz", rng(9, 4, 12)),
        ]
        assert [d.message for d in second.items[1:]] == [d.message for d in first.items]
        again = await pull(second.result_id)
        assert (again.kind, again.result_id) == ("unchanged", second.result_id)


async def test_lone_cr_ends_a_line(tmp_path: Path, make_env) -> None:
    """LSP ends lines at \\r\\n, \\n and a lone \\r: a finding after a lone \\r is on the
    line the editor shows, and an edit there lands where the editor made it (both were a line
    too high, at a column counted across the \\r, when only \\n ended lines)."""
    env = make_env(numpy="2.0.0")
    text = "import numpy as np\r\n# from an old Mac:\rstill the comment\nx = np.product([1])\n"
    src = tmp_path / "mod.py"
    src.write_bytes(text.encode())
    async with running_server(
        options={"python": env.python, "debounceMs": 0}, folders=[tmp_path]
    ) as client:
        doc = client.open(src, text)
        diags = await client.diagnostics_for(doc, version=1)
        assert [(d.code, d.range) for d in diags] == [("numpy-2.0-product", rng(3, 4, 14))]
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=rng(3, 4, 14), text="np.prod")
                ],
            )
        )
        assert await client.diagnostics_for(doc, version=2) == []
        # one more line, ended by a lone \r, typed before the finding's line
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=3),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=rng(3, 0, 0), text="y = np.trapz\r"
                    )
                ],
            )
        )
        diags = await client.diagnostics_for(doc, version=3)
        assert [(d.code, d.range) for d in diags] == [("numpy-2.0-trapz", rng(3, 4, 12))]


CHAINS = (
    "import numpy as np\n"
    "import pandas as pd\n"
    "\n"
    "total = (np\n"
    "         .product([1, 2, 3]))\n"
    "frame = pd.DataFrame({'a': [1]})\n"
    "(frame  # one method a line\n"
    "    .to_csv('x.csv',\n"
    "            line_terminator='\\n'))\n"
    "\n"
    "\n"
    "def area(sp):\n"
    "    kw = dict(np=sp)  # a keyword, not a new np\n"
    "    return np.trapz([1.0, 2.0])\n"
)


async def test_chains_across_lines(tmp_path: Path, make_env) -> None:
    """Attribute chains split across lines are diagnosed where they are, as one typed later in
    a function (the incremental path), and their quick fix edits only the attribute."""
    env = make_env(numpy="2.0.0", pandas="2.2.2")
    src = tmp_path / "mod.py"
    src.write_text(CHAINS)
    async with running_server(
        options={"python": env.python, "debounceMs": 0}, folders=[tmp_path]
    ) as client:
        doc = client.open(src)
        diags = await client.diagnostics_for(doc, version=1)
        chain = types.Range(types.Position(3, 9), types.Position(4, 17))
        assert [(d.code, d.range) for d in diags] == [
            ("numpy-2.0-product", chain),
            ("pandas-2.0-to_csv-line_terminator", span(CHAINS, 8, "line_terminator='\\n'")),
            ("numpy-2.0-trapz", span(CHAINS, 13, "np.trapz")),
        ]
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                range=chain,
                context=types.CodeActionContext(diagnostics=[], only=["quickfix"]),
            )
        )
        assert [list(a.edit.changes[doc]) for a in actions if a.edit and a.edit.changes] == [
            [types.TextEdit(range=span(CHAINS, 4, "product"), new_text="prod")]
        ]
        # split the call in area() across lines, then type another outdated chain below it
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=rng(13, 13, 13), text="\\\n    ")
                ],
            )
        )
        diags = await client.diagnostics_for(doc, version=2)
        assert [(d.code, d.range) for d in diags][2:] == [
            ("numpy-2.0-trapz", types.Range(types.Position(13, 11), types.Position(14, 10))),
        ]
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=3),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=rng(12, 45, 45), text="\n    x = (np.\n         float_(1))"
                    )
                ],
            )
        )
        diags = await client.diagnostics_for(doc, version=3)
        assert [(d.code, d.range) for d in diags][2:] == [
            ("numpy-2.0-float_", types.Range(types.Position(13, 9), types.Position(14, 15))),
            ("numpy-2.0-trapz", types.Range(types.Position(15, 11), types.Position(16, 10))),
        ]
