"""The knowledge base: schema validation, error reporting, and the shipped records' coverage."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from recode.dataset.knowledge import KINDS, RecordError, load_knowledge_base, parse_record

GOOD = {
    "id": "numpy-2.0-float_",
    "library": "numpy",
    "symbol": "numpy.float_",
    "kind": "removed",
    "removed_in": "2.0.0",
    "note": "removed",
    "fix": {"kind": "rename", "to": "numpy.float64"},
    "source": {"url": "https://numpy.org/doc/stable/release/2.0.0-notes.html", "version": "2.0.0"},
}


def test_good_record_parses():
    r = parse_record(GOOD)
    assert (r.path, r.parameter, str(r.removed_in), r.fix.to) == (
        "numpy.float_",
        None,
        "2.0.0",
        "numpy.float64",
    )
    p = parse_record(
        {
            **GOOD,
            "symbol": "numpy.sum(keepdims)",
            "kind": "signature",
            "fix": {"kind": "keyword_drop"},
        }
    )
    assert (p.path, p.parameter) == ("numpy.sum", "keepdims")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "gone"}, "kind must be one of"),
        ({"removed_in": "two"}, "not a PEP 440 version"),
        ({"symbol": "pandas.concat"}, "does not start with numpy's import name"),
        ({"symbol": "numpy float"}, "is not a dotted path"),
        ({"source": {"url": "numpy.org"}}, "source url is not a URL"),
        ({"source": "https://numpy.org"}, "source must be"),
        ({"note": ""}, "note must be a non-empty string"),
        ({"kind": "deprecated", "removed_in": None}, "needs deprecated_in"),
        ({"removed_in": None}, "needs removed_in"),
        ({"deprecated_in": "2.1"}, "deprecated_in is later"),
        ({"fix": {"kind": "keyword_rename", "to": "x"}}, "needs a symbol of the form"),
        ({"fix": {"kind": "rename", "to": "not valid!"}}, "needs a valid 'to'"),
        ({"fix": {"kind": "magic"}}, "fix.kind must be one of"),
        ({"colour": "red"}, "unknown field"),
        ({"examples": [{"old": "x"}]}, "each example must be"),
    ],
)
def test_schema_violations(change, message):
    raw = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(RecordError, match=message):
        parse_record(raw)


def test_broken_lines_are_reported_and_the_rest_load(tmp_path):
    f = tmp_path / "numpy.jsonl"
    f.write_text(
        json.dumps(GOOD)
        + "\n\n[1, 2]\n{oops\n"
        + json.dumps({**GOOD, "id": "b"})
        + "\n"
        + json.dumps(GOOD)
        + "\n"
    )
    kb = load_knowledge_base([tmp_path])
    assert [r.id for r in kb.records] == ["numpy-2.0-float_", "b"]
    assert [str(p) for p in kb.problems] == [
        f"{f}:3: a record must be a JSON object",
        f"{f}:4: not valid JSON: Expecting property name enclosed in double quotes",
        f"{f}:6: duplicate id 'numpy-2.0-float_' (first in numpy.jsonl:1)",
    ]


def test_loading_some_libraries_only(tmp_path):
    """Other libraries' lines are skipped unread: their broken records go unreported, those
    of the libraries asked for are still reported, and the result is what restricting gives."""
    f = tmp_path / "mixed.jsonl"
    broken_pandas = {**GOOD, "id": "p", "library": "pandas", "kind": "nonsense"}
    broken_numpy = {**GOOD, "id": "n", "kind": "nonsense"}
    f.write_text("\n".join(json.dumps(r) for r in [GOOD, broken_pandas, broken_numpy]) + "\n")
    kb = load_knowledge_base([tmp_path], libraries=["NumPy"])
    assert [r.id for r in kb.records] == ["numpy-2.0-float_"]
    assert [p.line for p in kb.problems] == [3]
    everything = load_knowledge_base([tmp_path])
    assert [p.line for p in everything.problems] == [2, 3]
    shipped = load_knowledge_base(libraries=["numpy", "scipy"])
    assert shipped.records == load_knowledge_base().restricted(["numpy", "scipy"]).records


# -- the shipped knowledge base ----------------------------------------------------------------

PAPER_LIBRARIES = {
    "numpy",
    "pandas",
    "torch",
    "matplotlib",
    "scikit-learn",
    "scipy",
    "scrapy",
    "seaborn",
    "jax",
}


@pytest.fixture(scope="module")
def shipped():
    return load_knowledge_base()


def test_shipped_records_all_load(shipped):
    assert shipped.problems == []


def test_shipped_coverage(shipped):
    counts = Counter(r.library for r in shipped.records)
    assert len(shipped.records) >= 250
    assert set(counts) == PAPER_LIBRARIES
    assert {r.kind for r in shipped.records} <= set(KINDS)


def test_every_shipped_record_cites_its_source(shipped):
    for r in shipped.records:
        assert r.source_url.startswith("https://"), r.id
        assert len(r.note) >= 20, r.id
