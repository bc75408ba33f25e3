"""Hover, code actions (quick fixes and fix-all) and the recode.migrateFile command."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled

from .support import (
    SAMPLE,
    apply_text_edits,
    capabilities,
    edits_of,
    rng,
    running_server,
    span,
    uri,
)

pytestmark = pytest.mark.asyncio

FIXED = SAMPLE.replace("np.product", "np.prod").replace("np.trapz", "np.trapezoid")
FROM_IMPORT = (
    "from numpy import product\n"
    "\n"
    "\n"
    "def a(v):\n"
    "    return product(v)\n"
    "\n"
    "\n"
    "def b(v):\n"
    "    return product(v) + 1\n"
)
PANDAS = (
    "import pandas as pd\n"
    "df = pd.DataFrame({'a': [1]})\n"
    "df.to_csv('out.csv', line_terminator='\\n')\n"
)


def whole(text: str) -> types.Range:
    lines = text.splitlines()
    return (
        rng(0, 0, 0)
        if not lines
        else types.Range(types.Position(0, 0), types.Position(len(lines), 0))
    )


def code_action_params(doc: str, where: types.Range, only: list[str] | None = None):
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=doc),
        range=where,
        context=types.CodeActionContext(diagnostics=[], only=only),
    )


async def test_hover_and_code_actions(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0", pandas="2.2.2")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    other = tmp_path / "frames.py"
    other.write_text(PANDAS)
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        doc = client.open(src)
        frames = client.open(other)
        await client.diagnostics_for(doc, version=1)

        # -- hover ---------------------------------------------------------------------------
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                position=types.Position(2, 12),
            )
        )
        assert hover is not None
        assert hover.range == span(SAMPLE, 2, "np.product")
        assert hover.contents.kind == types.MarkupKind.Markdown
        assert hover.contents.value == (
            "**ReCode** (error): `numpy.product` was removed in numpy 2.0.0 "
            "(this environment has numpy 2.0.0). Use numpy.prod.\n\n"
            "> np.product was deprecated in NumPy 1.25 and removed from the main namespace "
            "in 2.0; use np.prod instead.\n\n"
            "**Replacement:** numpy.prod\n\n"
            "A quick fix is available.\n\n"
            "Source: [numpy 2.0.0](https://numpy.org/devdocs/numpy_2_0_migration_guide.html)"
            " · `numpy-2.0-product`"
        )
        nothing = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                position=types.Position(0, 3),
            )
        )
        assert nothing is None

        # -- quick fixes: one per fixable finding, preferred, with the finding's exact edits --
        actions = await client.text_document_code_action_async(
            code_action_params(doc, whole(SAMPLE), only=[types.CodeActionKind.QuickFix])
        )
        assert [(a.title, a.kind, a.is_preferred) for a in actions] == [
            ("ReCode: replace `numpy.product` with `numpy.prod`", "quickfix", True),
            ("ReCode: replace `numpy.trapz` with `numpy.trapezoid`", "quickfix", True),
        ]
        assert edits_of(actions[0].edit, doc) == [
            types.TextEdit(range=span(SAMPLE, 2, "product"), new_text="prod")
        ]
        assert edits_of(actions[1].edit, doc) == [
            types.TextEdit(range=span(SAMPLE, 4, "trapz"), new_text="trapezoid")
        ]
        assert [d.code for d in actions[0].diagnostics] == ["numpy-2.0-product"]
        # neovim 0.7 has no documentChanges: the edit comes as `changes`
        assert actions[0].edit.changes is not None and actions[0].edit.document_changes is None

        # a range on one line only offers that line's fix; the unfixable finding has none
        on_line_3 = await client.text_document_code_action_async(
            code_action_params(doc, rng(3, 25, 25))
        )
        assert [a.kind for a in on_line_3] == ["source.fixAll.recode"]

        # keyword rename on a method of an object made by a constructor
        kw = await client.text_document_code_action_async(
            code_action_params(frames, whole(PANDAS), only=["quickfix"])
        )
        assert [a.title for a in kw] == [
            "ReCode: rename keyword `line_terminator` to `lineterminator`"
        ]
        assert edits_of(kw[0].edit, frames) == [
            types.TextEdit(range=span(PANDAS, 2, "line_terminator"), new_text="lineterminator")
        ]

        # -- fix-all: explicit (code actions on save) carries the edit ----------------------
        fix_all = await client.text_document_code_action_async(
            code_action_params(doc, rng(0, 0, 0), only=["source.fixAll"])
        )
        assert [(a.title, a.kind) for a in fix_all] == [
            ("ReCode: fix all outdated API uses in this file", "source.fixAll.recode")
        ]
        # one edit per fix, not one from the first fix to the last
        assert edits_of(fix_all[0].edit, doc) == [
            types.TextEdit(range=span(SAMPLE, 2, "product"), new_text="prod"),
            types.TextEdit(range=span(SAMPLE, 4, "trapz"), new_text="trapezoid"),
        ]

        # -- fix-all offered lazily: resolved on demand (neovim 0.7 resolves "edit") --------
        listed = await client.text_document_code_action_async(code_action_params(doc, rng(2, 9, 9)))
        lazy = [a for a in listed if a.kind == "source.fixAll.recode"]
        assert len(lazy) == 1 and lazy[0].edit is None and lazy[0].data is not None
        resolved = await client.code_action_resolve_async(lazy[0])
        assert apply_text_edits(SAMPLE, edits_of(resolved.edit, doc)) == FIXED

        # -- after a fast-path (one function) re-analysis, fixes still span the whole file --
        two = tmp_path / "two.py"
        two.write_text(FROM_IMPORT)
        two_uri = client.open(two)
        await client.diagnostics_for(two_uri, version=1)
        line = FROM_IMPORT.splitlines().index("    return product(v) + 1")
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=two_uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=rng(line, 0, 0), text="    w = product([v])\n"
                    )
                ],
            )
        )
        diags = await client.diagnostics_for(two_uri, version=2)
        edited = FROM_IMPORT.replace(
            "    return product(v) + 1", "    w = product([v])\n    return product(v) + 1"
        )
        assert [d.range for d in diags] == [
            span(edited, 0, "product"),
            span(edited, 4, "product"),
            span(edited, 8, "product"),
            span(edited, 9, "product"),
        ]
        stats = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.serverStats")
        )
        assert stats["analysis_ms"]["incremental"]["runs"] == 1  # that edit took the fast path
        fixes = await client.text_document_code_action_async(
            code_action_params(two_uri, span(edited, 4, "product"), only=["quickfix"])
        )
        # renaming the import renames every use in the file, in both functions
        assert apply_text_edits(edited, edits_of(fixes[0].edit, two_uri)) == edited.replace(
            "product", "prod"
        )

        # five quick keystrokes in a(), none waiting for the previous analysis: the server
        # re-analyses only a() (versions that arrive together are analysed once). Each
        # keystroke leaves code that parses ("v" -> "values"), so whether the reader hands
        # the server the five changes together or one by one, none needs the whole file.
        line_a = edited.splitlines().index("    return product(v)")
        for n, ch in enumerate("alues"):
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=two_uri, version=3 + n),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=rng(line_a, 20 + n, 20 + n), text=ch
                        )
                    ],
                )
            )
        diags = await client.diagnostics_for(two_uri, version=7)
        assert len(diags) == 4
        after = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.serverStats")
        )
        assert after["analysis_ms"]["incremental"]["runs"] > 1


async def test_code_actions_for_vscode_use_versioned_document_changes(
    tmp_path: Path, make_env
) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    # a client that cannot resolve a code action's edit
    caps = capabilities("visual-studio-code", **{"text_document.code_action.resolve_support": None})
    async with running_server(
        options={"python": env.python}, folders=[tmp_path], caps=caps
    ) as client:
        doc = client.open(src, version=7)
        await client.diagnostics_for(doc, version=7)
        actions = await client.text_document_code_action_async(
            code_action_params(doc, span(SAMPLE, 2, "np.product"))
        )
        quick = [a for a in actions if a.kind == "quickfix"]
        assert len(quick) == 1
        (change,) = quick[0].edit.document_changes
        assert change.text_document == types.OptionalVersionedTextDocumentIdentifier(
            uri=doc, version=7
        )
        assert list(change.edits) == [
            types.TextEdit(range=span(SAMPLE, 2, "product"), new_text="prod")
        ]
        # without codeAction/resolve, fix-all runs the command instead of computing the edit
        (fix_all,) = [a for a in actions if a.kind == "source.fixAll.recode"]
        assert fix_all.edit is None
        assert fix_all.command == types.Command(
            title="ReCode: fix all outdated API uses in this file",
            command="recode.migrateFile",
            arguments=(doc,),
        )


async def test_migrate_file_command_applies_edit_with_progress(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1)
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.migrateFile", arguments=[doc])
        )
        assert result == {
            "applied": True,
            "fixed": 2,
            "remaining": 1,
            "cancelled": False,
            "message": "2 fix(es) applied",
        }
        (request,) = client.applied_edits
        assert request.label == "ReCode: migrate mod.py"
        assert apply_text_edits(SAMPLE, edits_of(request.edit, doc)) == FIXED
        (reports,) = client.progress_reports.values()
        assert [r.kind for r in reports] == ["begin", "report", "report", "end"]
        assert reports[0].title == "ReCode: migrating mod.py"
        assert reports[0].cancellable is True
        assert reports[-1].message == "2 fix(es) applied"

        # a file that is not open is read from disk
        closed = tmp_path / "closed.py"
        closed.write_text("import numpy as np\nx = np.float_(1)\n")
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.migrateFile", arguments=[closed.as_uri()])
        )
        assert result["applied"] is True and result["fixed"] == 1
        assert apply_text_edits(
            closed.read_text(), edits_of(client.applied_edits[-1].edit, closed.as_uri())
        ) == ("import numpy as np\nx = np.float64(1)\n")

        # nothing to fix: no edit is sent
        clean = tmp_path / "clean.py"
        clean.write_text("import numpy as np\nx = np.prod([1])\n")
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.migrateFile", arguments=[clean.as_uri()])
        )
        assert result == {
            "applied": False,
            "fixed": 0,
            "remaining": 0,
            "cancelled": False,
            "message": "nothing to fix",
        }
        assert len(client.applied_edits) == 2


def heavy_module(functions: int) -> str:
    """Many functions, each with fixable outdated calls: fix-all takes a while."""
    body = [
        "import numpy as np\n",
        "import pandas as pd\n",
    ]
    for i in range(functions):
        body.append(
            f"def f{i}(values):\n"
            "    arr = np.asarray(values, dtype=np.float_)\n"
            "    frame = pd.DataFrame({'a': arr})\n"
            "    frame.to_csv('x.csv', line_terminator='\\n')\n"
            "    return np.product(arr) + np.trapz(arr)\n\n"
        )
    return "".join(body)


async def test_cancel_migrate_file_does_not_block_diagnostics(tmp_path: Path, make_env) -> None:
    env = make_env(numpy="2.0.0", pandas="2.2.2")
    big = tmp_path / "big.py"
    big.write_text(heavy_module(600))
    small = tmp_path / "small.py"
    small.write_text("import numpy as np\nnp.float_\n")
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        big_uri = client.open(big)
        await client.diagnostics_for(big_uri, version=1, timeout=60)
        request = asyncio.ensure_future(
            client.protocol.send_request_async(
                types.WORKSPACE_EXECUTE_COMMAND,
                types.ExecuteCommandParams(command="recode.migrateFile", arguments=[big_uri]),
                msg_id="migrate-big",
            )
        )
        await client.wait_for(lambda: client.progress_reports)  # the work has begun
        # diagnostics of another document flow while the fix-all runs
        small_uri = client.open(small)
        diags = await client.diagnostics_for(small_uri, version=1)
        assert [d.code for d in diags] == ["numpy-2.0-float_"]
        assert not request.done(), "the fix-all finished too soon for this test to mean much"
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="migrate-big"))
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(request, 30)
        (reports,) = client.progress_reports.values()
        await client.wait_for(lambda: reports[-1].kind == "end")
        assert reports[-1].message == "cancelled"
        await asyncio.sleep(0.5)
        assert client.applied_edits == []


FAR_APART = (
    "# -*- coding: utf-8 -*-\n"
    "from numpy import product\n"
    "import numpy as np\n"
    + "".join(f"def f{i}(v):\n    return v + {i}  # caf\u00e9 \U0001f600\n\n" for i in range(1500))
    + "x = product([1, 2])\n"
    + "".join(f"y{i} = {i}\n" for i in range(1500))
    + 'z = np.float_(1); label = "\U0001f600"; w = np.trapz([1.0])\n'
)


async def test_fix_all_sends_one_small_edit_per_fix(tmp_path: Path, make_env) -> None:
    """Fixes thousands of lines apart: fix-all and recode.migrateFile send exactly the fixes'
    own edits (sorted, none overlapping), never the text between them."""
    env = make_env(numpy="2.0.0")
    src = tmp_path / "far.py"
    src.write_text(FAR_APART, encoding="utf-8")
    lines = FAR_APART.splitlines()
    last = len(lines) - 1
    expected = [
        types.TextEdit(range=span(FAR_APART, 1, "product"), new_text="prod"),
        types.TextEdit(
            range=span(FAR_APART, lines.index("x = product([1, 2])"), "product"), new_text="prod"
        ),
        types.TextEdit(range=span(FAR_APART, last, "float_"), new_text="float64"),
        types.TextEdit(range=span(FAR_APART, last, "trapz"), new_text="trapezoid"),
    ]
    fixed = (
        FAR_APART.replace("product", "prod")
        .replace("np.float_", "np.float64")
        .replace("np.trapz", "np.trapezoid")
    )
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1, timeout=60)
        (action,) = await client.text_document_code_action_async(
            code_action_params(doc, rng(0, 0, 0), only=["source.fixAll"])
        )
        assert edits_of(action.edit, doc) == expected
        assert apply_text_edits(FAR_APART, expected) == fixed

        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.migrateFile", arguments=[doc])
        )
        assert result["applied"] is True and result["fixed"] == 4
        (request,) = client.applied_edits
        assert edits_of(request.edit, doc) == expected


LATIN_1 = (
    "# -*- coding: latin-1 -*-\n"
    "import numpy as np\n"
    'name = "caf\u00e9 \u00e0 \u00bd"; total = np.product([1, 2])\n'
)


async def test_migrate_file_reads_a_closed_file_in_its_declared_codec(
    tmp_path: Path, make_env
) -> None:
    """A closed latin-1 file: read as recode-migrate reads it; the edit's positions count in
    the decoded text (what an editor shows), not in the file's bytes."""
    env = make_env(numpy="2.0.0")
    closed = tmp_path / "legacy.py"
    closed.write_bytes(LATIN_1.encode("latin-1"))
    broken = tmp_path / "broken.py"
    broken.write_bytes(b"import numpy as np\nname = '\xe9'\nnp.product([1])\n")  # not UTF-8
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.migrateFile", arguments=[uri(closed)])
        )
        assert result["applied"] is True and result["fixed"] == 1
        (request,) = client.applied_edits
        assert edits_of(request.edit, uri(closed)) == [
            types.TextEdit(range=span(LATIN_1, 2, "product"), new_text="prod")
        ]
        assert closed.read_bytes() == LATIN_1.encode("latin-1")  # the editor writes, not us

        with pytest.raises(JsonRpcException, match="broken.py: not valid utf-8 at byte 27"):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="recode.migrateFile", arguments=[uri(broken)])
            )
        assert len(client.applied_edits) == 1


SHADOWED = (
    "from numpy import product\n\n\ndef prod(xs):\n    return 'mine'\n\n\ntotal = product([1, 2])\n"
)
STARRED = "from os.path import *\nfrom numpy import product\n\ntotal = product([1, 2])\n"


async def test_quick_fix_never_binds_a_users_name(tmp_path: Path, make_env) -> None:
    """The quick fix for a from-import whose new name the module defines imports it under a
    free alias; where a star import makes the name unknowable, there is none, and the
    diagnostic says why."""
    env = make_env(numpy="2.0.0")
    shadowed, starred = tmp_path / "shadowed.py", tmp_path / "starred.py"
    shadowed.write_text(SHADOWED)
    starred.write_text(STARRED)
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        doc = client.open(shadowed)
        await client.diagnostics_for(doc, version=1)
        actions = await client.text_document_code_action_async(
            code_action_params(doc, span(SHADOWED, 7, "product"), only=["quickfix"])
        )
        assert len(actions) == 1
        fixed = apply_text_edits(SHADOWED, edits_of(actions[0].edit, doc))
        assert fixed == SHADOWED.replace(
            "from numpy import product", "from numpy import prod as numpy_prod"
        ).replace("total = product(", "total = numpy_prod(")

        other = client.open(starred)
        diags = await client.diagnostics_for(other, version=1)
        assert diags and all("no quick fix: the star import on line 1" in d.message for d in diags)
        assert all(d.data["fixable"] is False and d.data["fixUnavailable"] for d in diags)
        none = await client.text_document_code_action_async(
            code_action_params(other, whole(STARRED), only=["quickfix"])
        )
        assert not none
