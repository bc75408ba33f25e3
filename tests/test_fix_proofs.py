"""Fixes proven by execution, the cached subset (bench/bench_fixes.py runs them all): the old
example under a release before the change and the fixed code under today's release show the
same, and a wrong fix is caught. Skipped where the dataset builder's environments are not cached.
"""

from __future__ import annotations

import json
import sys

import pytest

from recode.dataset.build import default_cache_dir
from recode.dataset.knowledge import (
    KnowledgeBase,
    default_kb_dir,
    load_knowledge_base,
    parse_record,
)
from recode.training.fix_proofs import Outcome, cached_releases, prove, releases_around, shown

POOL = default_cache_dir() / "venvs"
KB = load_knowledge_base()
#: One record per kind of rewrite: a reference to an expression, a class call to another with a
#: keyword, an attribute to a method, a method rename with a mapped value, a keyword added, an
#: old default passed, positional arguments passed by name, a default value dropped, a
#: subscript to ``.iloc``.
SUBSET = (
    "numpy-2.0-NINF",
    "pandas-2.0-Int64Index",
    "scipy-1.14-sparse-csr_matrix-A",
    "pandas-3.0-DataFrame-fillna-method",
    "scipy-1.11-stats-mode-keepdims",
    "pandas-3.0-Series-getitem-positional",
    "scikit-learn-1.5-LinearSVC-dual",
    "pandas-3.0-DataFrame-sum-positional",
    "pandas-3.0-DataFrame-groupby-axis",
)


def _needs_releases(record) -> None:
    before, after = releases_around(record, cached_releases(POOL, record.library))
    if before is None or after is None:
        pytest.skip(f"no cached {record.library} environments around {record.effective_in}")


@pytest.mark.parametrize("record_id", SUBSET)
def test_fix_shows_what_the_old_code_showed(record_id):
    record = KB.get(record_id)
    assert record is not None and record.fix is not None and record.examples
    _needs_releases(record)
    proofs = prove(record, KB, POOL)
    assert [(p.outcome, p.detail) for p in proofs] == [(Outcome.SAME, "")] * len(proofs)


def test_a_wrong_fix_is_caught():
    wrong = parse_record(
        {
            **{k: v for k, v in _raw("numpy-2.0-NINF").items() if k != "fix"},
            "fix": {"kind": "template", "template": "{mod:numpy}.inf", "target": "reference"},
        }
    )
    _needs_releases(wrong)
    (proof,) = prove(wrong, KnowledgeBase([wrong], []), POOL)
    assert proof.outcome is Outcome.DIFFERENT
    assert "lo = float:-inf" in proof.detail and "lo = float:inf" in proof.detail


def test_a_label_for_a_position_is_caught():
    """``s.loc[0]`` for ``s[0]`` on a DatetimeIndex: the fixed code fails under pandas 3."""
    raw = _raw("pandas-3.0-Series-getitem-positional")
    (example,) = raw["examples"]
    wrong = parse_record(
        {
            **raw,
            "fix": {"kind": "template", "template": "{self}.loc[{0}]", "args": ["key"]},
            "examples": [{**example, "new": example["new"].replace(".iloc[", ".loc[")}],
        }
    )
    _needs_releases(wrong)
    (proof,) = prove(wrong, KnowledgeBase([wrong], []), POOL)
    assert (proof.outcome, proof.detail) == (Outcome.NEW_FAILS, "KeyError 0")


def _raw(record_id: str) -> dict:
    for path in sorted(default_kb_dir().glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and json.loads(line)["id"] == record_id:
                return json.loads(line)
    raise LookupError(record_id)


@pytest.mark.parametrize(
    "one, other",
    [
        # a release's own spellings of the same values
        ("import numpy as np\ns = np.str_('x')\n", "s = 'x'\n"),
        (
            "import numpy as np\nd = np.array(['2020-01-01'], dtype='datetime64[ns]')\n",
            "import numpy as np\nd = np.array(['2020-01-01'], dtype='datetime64[us]')\n",
        ),
        (
            "import pandas as pd\ni = pd.Index([1, 2], dtype='int64', name='i')\n",
            "import pandas as pd\ni = pd.Index([1, 2], name='other')\n",
        ),
    ],
)
def test_what_a_program_shows_is_release_independent(one, other):
    assert shown(one, sys.executable) == shown(other, sys.executable)


def test_what_a_program_shows_tells_values_apart():
    ok, first = shown("import numpy as np\nx = -np.inf\nprint('hi')\n", sys.executable)
    assert ok and first.startswith("hi\n") and "x = float:-inf" in first
    assert shown("x = 1.0\n", sys.executable) != shown("x = 1\n", sys.executable)
    assert shown("raise KeyError('k')\n", sys.executable) == (False, "KeyError 'k'")
