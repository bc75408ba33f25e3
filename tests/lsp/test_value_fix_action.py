"""The language server's quick fix for a removed value rewrites the text inside its quotes
(``resample('M')`` -> ``resample('ME')``), by position and by keyword."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from recode.dataset.knowledge import default_kb_dir

from .support import edits_of, running_server, span

pytestmark = pytest.mark.asyncio

SOURCE = """\
import pandas as pd

idx = pd.date_range("2020-01-01", periods=40, freq="D")
df = pd.DataFrame({"a": range(40)}, index=idx)
hourly = pd.date_range("2020-01-01", periods=3, freq="2H")
monthly = df.resample('M').sum()
"""


async def test_quick_fix_rewrites_the_value_inside_its_quotes(tmp_path: Path, make_env) -> None:
    env = make_env(pandas="3.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SOURCE)
    options = {"python": env.python, "knowledgeBase": [str(default_kb_dir())]}
    async with running_server(options=options, folders=[tmp_path]) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1)
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=doc),
                range=types.Range(
                    types.Position(0, 0), types.Position(len(SOURCE.splitlines()), 0)
                ),
                context=types.CodeActionContext(diagnostics=[], only=["quickfix"]),
            )
        )
    titles = [a.title for a in actions]
    assert titles == [
        "ReCode: rewrite the `freq` value of `pandas.date_range`",
        "ReCode: rewrite the `rule` value of `pandas.DataFrame.resample` (unsafe: an object "
        "with a PeriodIndex, where 'M' is the period alias, still valid in pandas 3, and 'ME' "
        "raises ValueError)",
    ]
    assert edits_of(actions[0].edit, doc) == [
        types.TextEdit(range=span(SOURCE, 4, "2H"), new_text="2h")
    ]
    assert edits_of(actions[1].edit, doc) == [
        types.TextEdit(range=span(SOURCE, 5, "M"), new_text="ME")
    ]
