"""One place per fix kind: its parsing and its words in :class:`FixKind` (dataset/knowledge.py),
its edits in one module of server/fixes/kinds/, named once in ``EDITS``."""

from __future__ import annotations

from pathlib import Path

import pytest

from recode.dataset.knowledge import FIX_KINDS, FixKind, RecordError, parse_record
from recode.server.fixes.kinds import EDITS

ROOT = Path(__file__).resolve().parents[1]

#: A record of each fix kind, its symbol fitting the kind.
RECORDS = {
    FixKind.RENAME: ("numpy.float_", {"kind": "rename", "to": "numpy.float64"}),
    FixKind.KEYWORD_RENAME: (
        "pandas.DataFrame.to_csv(line_terminator)",
        {"kind": "keyword_rename", "to": "lineterminator"},
    ),
    FixKind.KEYWORD_DROP: ("pandas.read_csv(squeeze)", {"kind": "keyword_drop"}),
    FixKind.TEMPLATE: (
        "numpy.in1d",
        {"kind": "template", "template": "{mod:numpy}.isin({0}, {1})", "args": ["a", "b"]},
    ),
    FixKind.VALUE: ("pandas.date_range(freq)", {"kind": "value", "map": {"M": "ME"}}),
    FixKind.STATEMENT: (
        "pandas.to_numeric(errors)",
        {"kind": "statement", "catch": ["ValueError"], "fallback": "{0}", "args": ["arg"]},
    ),
    FixKind.BASE: ("sklearn.utils.get_tags", {"kind": "base", "to": "sklearn.base.BaseEstimator"}),
    FixKind.HOOK: (
        "sklearn.base.BaseEstimator._more_tags",
        {"kind": "hook", "to": "__sklearn_tags__", "map": {"allow_nan": "input_tags.allow_nan"}},
    ),
}


def record(symbol: str, fix: dict):
    raw = {
        "id": "x",
        "library": symbol.split(".")[0],
        "symbol": symbol,
        "kind": "signature" if "(" in symbol else "removed",
        "removed_in": "2.0.0",
        "note": "n",
        "fix": fix,
        "source": {"url": "https://example.org", "version": "2.0.0"},
    }
    if fix["kind"] == "value":
        raw["values"] = ["'M'"]
    return parse_record(raw)


def test_every_fix_kind_has_its_edits_in_its_own_module():
    assert set(EDITS) == set(FixKind)
    for kind, edits in EDITS.items():
        assert edits.__module__ == f"recode.server.fixes.kinds.{kind.value}"


def test_the_schema_documents_every_fix_kind():
    readme = (ROOT / "dataset" / "kb" / "README.md").read_text("utf-8")
    assert FIX_KINDS == tuple(RECORDS)
    for kind in FixKind:
        assert f'{{"kind": "{kind}"' in readme


@pytest.mark.parametrize("kind", list(FixKind))
def test_a_fix_parses_as_its_kind(kind):
    fix = record(*RECORDS[kind]).fix
    assert fix.kind is kind


@pytest.mark.parametrize("kind", list(FixKind))
def test_a_fix_kind_checks_whether_its_symbol_names_a_parameter(kind):
    symbol, fix = RECORDS[kind]
    if kind.on_parameter is None:
        for other in ("numpy.in1d", "numpy.in1d(a)"):
            assert record(other, fix).fix.kind is kind
        return
    # the symbol with its parameter taken away, or one given to it
    wrong = symbol.split("(")[0] if kind.on_parameter else f"{symbol}(x)"
    expected = "needs a symbol of the form" if kind.on_parameter else "cannot apply to a parameter"
    with pytest.raises(RecordError, match=expected):
        record(wrong, fix)


def test_each_fix_kind_offers_itself_in_its_own_words():
    records = {kind: record(*RECORDS[kind]) for kind in FixKind}
    actions = {kind: kind.action(r) for kind, r in records.items()}
    advice = {kind: kind.advice(r) for kind, r in records.items()}
    assert len(set(actions.values())) == len(FixKind)
    assert len(set(advice.values())) == len(FixKind)
    for kind, r in records.items():
        changed = r.parameter or r.path  # the words name what the fix changes
        assert changed in actions[kind], kind
        assert (r.fix.to or r.parameter or "the call") in advice[kind], kind
