"""The language server diagnoses a removed value passed by position (``df.resample('M')``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from recode.dataset.knowledge import default_kb_dir

from .support import running_server, span

pytestmark = pytest.mark.asyncio

SOURCE = """\
import pandas as pd
import matplotlib.pyplot as plt

df = pd.DataFrame({"a": [1, 2, 3]}, index=pd.date_range("2020-01-01", periods=3, freq="D"))
monthly = df.resample('M').sum()
plt.style.use('seaborn-whitegrid')
"""


async def test_a_removed_value_by_position_is_an_error(tmp_path: Path, make_env) -> None:
    env = make_env(pandas="3.0.0", matplotlib="3.8.0")
    src = tmp_path / "mod.py"
    src.write_text(SOURCE)
    options = {"python": env.python, "knowledgeBase": [str(default_kb_dir())]}
    async with running_server(options=options, folders=[tmp_path]) as client:
        diags = await client.diagnostics_for(client.open(src), version=1)
    assert [(d.code, d.severity, d.range) for d in diags] == [
        (
            "pandas-3.0-DataFrame-resample-rule-M",
            types.DiagnosticSeverity.Error,
            span(SOURCE, 4, "'M'"),
        ),
        (
            "matplotlib-3.8-pyplot-style-use-seaborn",
            types.DiagnosticSeverity.Error,
            span(SOURCE, 5, "'seaborn-whitegrid'"),
        ),
    ]
    assert diags[0].message.startswith(
        "`pandas.DataFrame.resample` no longer accepts `rule='M'` since pandas 3.0.0"
    )
