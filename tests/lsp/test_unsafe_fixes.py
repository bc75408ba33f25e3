"""Unsafe fixes in the editor: a quick fix titled as unsafe (not preferred), left out of
source.fixAll unless the ``unsafeFixes`` setting is on."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from recode.server.config import load_config
from recode.server.lsp.settings import Settings, merge, with_project

from .support import apply_text_edits, edits_of, rng, running_server
from .test_actions import code_action_params, whole

FIX_KB = Path(__file__).parent.parent / "data" / "fix_kb"
CODE = (
    "import pandas as pd\n"
    "df = pd.DataFrame({'a': [1]})\n"
    "df = df.append(df)\n"
    "i = pd.Int64Index([1, 2])\n"
)
SAFE = CODE.replace("pd.Int64Index([1, 2])", "pd.Index([1, 2], dtype='int64')")
BOTH = SAFE.replace("df.append(df)", "pd.concat([df, df])")


@pytest.mark.asyncio
@pytest.mark.parametrize("unsafe, fixed", [(False, SAFE), (True, BOTH)])
async def test_unsafe_quick_fix_and_fix_all(tmp_path: Path, make_env, unsafe, fixed) -> None:
    env = make_env(pandas="2.0.0")
    src = tmp_path / "m.py"
    src.write_text(CODE)
    options = {"python": env.python, "knowledgeBase": [str(FIX_KB)], "unsafeFixes": unsafe}
    async with running_server(options=options, folders=[tmp_path]) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1, timeout=60)
        actions = await client.text_document_code_action_async(
            code_action_params(doc, whole(CODE), only=[types.CodeActionKind.QuickFix])
        )
        assert [(a.title, a.is_preferred) for a in actions] == [
            (
                "ReCode: rewrite the `pandas.DataFrame.append` call (unsafe: other as a Series "
                "or a dict: append added a row)",
                False,
            ),
            ("ReCode: rewrite the `pandas.Int64Index` call", True),
        ]
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                position=types.Position(2, 8),
            )
        )
        assert "An unsafe quick fix is available: other as a Series or a dict" in (
            hover.contents.value
        )
        assert apply_text_edits(CODE, edits_of(actions[0].edit, doc)) == CODE.replace(
            "df.append(df)", "pd.concat([df, df])"
        )
        (fix_all,) = await client.text_document_code_action_async(
            code_action_params(doc, rng(0, 0, 0), only=["source.fixAll"])
        )
        assert apply_text_edits(CODE, edits_of(fix_all.edit, doc)) == fixed


def test_unsafe_fixes_setting_is_checked_and_layered(tmp_path: Path) -> None:
    merged, problems = merge(Settings(), {"unsafeFixes": "yes"})
    assert merged.unsafe_fixes is False
    assert problems == ["setting recode.unsafeFixes: unsafeFixes must be true or false"]
    (tmp_path / "recode.toml").write_text("unsafe-fixes = true\n")
    project = with_project(Settings(), load_config(tmp_path / "recode.toml"))
    assert project.unsafe_fixes is True
    assert merge(project, {"unsafeFixes": False})[0].unsafe_fixes is False
