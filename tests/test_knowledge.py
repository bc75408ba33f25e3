"""The knowledge base: schema validation, error reporting, and the shipped records' coverage."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from packaging.version import Version

from recode.dataset.knowledge import (
    KINDS,
    Api,
    KnowledgeBase,
    RecordError,
    RecordKind,
    load_knowledge_base,
    parse_record,
)
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion, message_for, severity_for
from tests.conftest import versions

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
        ({"api": "internal"}, "api must be one of public, private"),
        # a private API's change is cited from the pull request or commit that made it
        ({"api": "private"}, "cites the upstream pull request or commit"),
        (
            {
                "api": "private",
                "source": {"url": "https://github.com/numpy/numpy/issues/1", "version": "2"},
            },
            "cites the upstream pull request or commit",
        ),
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


# -- types.json: the class facts, loaded and checked with the records ----------------------------


def _widget_kb(folder, types=None):
    folder.mkdir()
    (folder / "numpy.jsonl").write_text(
        json.dumps(
            {
                "id": "t-widget-old",
                "library": "numpy",
                "symbol": "numpy.Widget.old",
                "kind": "removed",
                "removed_in": "2.0.0",
                "note": "gone",
                "source": {"url": "https://numpy.org/doc/", "version": "2.0.0"},
            }
        )
        + "\n"
    )
    if types is not None:
        (folder / "types.json").write_text(json.dumps(types))
    return folder


def test_shipped_types_come_with_the_knowledge_base(shipped):
    assert {"pandas.DataFrame", "numpy.ndarray"} <= shipped.types.classes
    assert shipped.types.factories["pandas.read_csv"] == "pandas.DataFrame"
    subplots = shipped.types.tuple_factories["matplotlib.pyplot.subplots"]
    assert subplots.returns == ("matplotlib.figure.Figure", "matplotlib.axes.Axes")
    assert "nrows" in subplots.unless_keywords
    # restricting to some libraries keeps them
    assert shipped.restricted(["numpy"]).types == shipped.types


def test_a_kb_folder_brings_its_own_types_and_the_detector_follows_them(tmp_path):
    from packaging.version import Version

    from recode.server.detector import Detector
    from recode.server.severity import LibraryVersion

    source = b"import numpy as np\nw = np.make_widget()\nw.old()\n"
    found = []
    for name, types in (
        ("shipped", None),
        ("own", {"factories": {"numpy.make_widget": "numpy.Widget"}}),
    ):
        kb = load_knowledge_base([_widget_kb(tmp_path / name, types)])
        assert kb.problems == []
        detector = Detector(kb, {"numpy": LibraryVersion(Version("2.0"), "target")})
        found.append([f.record.id for f in detector.detect(source)])
    # without a types.json the folder gets the shipped facts, which do not know make_widget
    assert found == [[], ["t-widget-old"]]


@pytest.mark.parametrize(
    "types, message",
    [
        ({"classes": "numpy.ndarray"}, "classes must be a list of dotted names"),
        ({"factories": {"numpy.zeros": 3}}, "factories must map dotted names to class names"),
        ({"tuple_factories": {"f": {"returns": "x"}}}, "tuple_factories['f'].returns"),
        ({"clases": []}, "unknown keys: clases"),
        ({"bases": {"numpy.B": "numpy.A"}}, "bases['numpy.B'] must be a list of dotted names"),
        ({"bases": {"numpy.A": ["numpy.B"], "numpy.B": ["numpy.A"]}}, "cannot be its own base"),
        ({"overrides": ["ptp"]}, "overrides must map class names to lists of names"),
        ([], "the top level must be an object"),
    ],
)
def test_a_broken_types_file_is_a_load_problem(tmp_path, types, message):
    kb = load_knowledge_base([_widget_kb(tmp_path / "kb", types)])
    assert [r.id for r in kb.records] == ["t-widget-old"]  # the records still load
    [problem] = kb.problems
    assert problem.path.endswith("types.json") and message in problem.message


def test_types_json_that_is_not_json_names_its_line(tmp_path):
    folder = _widget_kb(tmp_path / "kb")
    (folder / "types.json").write_text('{\n"classes": [,]\n}\n')
    [problem] = load_knowledge_base([folder]).problems
    assert problem.line == 2 and "not valid JSON" in problem.message


# -- record kinds: every kind's rules in one place (RecordKind), seen from each consumer ------

_VERSION_FIELD = {
    "deprecated": "deprecated_in",
    "signature": "changed_in",
    "behavior": "changed_in",
}


def _of_kind(kind: RecordKind, **extra) -> dict:
    raw = {k: v for k, v in GOOD.items() if k not in ("removed_in", "fix")}
    return {**raw, "kind": kind.value, _VERSION_FIELD.get(kind.value, "removed_in"): "2.0", **extra}


@pytest.mark.parametrize("kind", list(RecordKind))
def test_each_kind_parses_with_its_version_and_not_without(kind):
    assert parse_record(_of_kind(kind)).kind is kind
    bare = {k: v for k, v in _of_kind(kind).items() if not k.endswith("_in")}
    with pytest.raises(RecordError, match=f"a {kind.value} record needs {kind.needs[0]}"):
        parse_record(bare)


@pytest.mark.parametrize(
    "kind, severity, head",
    [
        (RecordKind.REMOVED, "error", "`numpy.float_` was removed in numpy 2.0"),
        (RecordKind.RENAMED, "error", "`numpy.float_` was renamed in numpy 2.0"),
        (RecordKind.MOVED, "error", "`numpy.float_` was moved in numpy 2.0"),
        (RecordKind.SIGNATURE, "error", "`numpy.float_` changed its signature in numpy 2.0"),
        (RecordKind.BEHAVIOR, "warning", "`numpy.float_` changed behaviour in numpy 2.0"),
        (RecordKind.DEPRECATED, "warning", "`numpy.float_` is deprecated since numpy 2.0"),
    ],
)
def test_each_kind_has_its_severity_and_words(kind, severity, head):
    record = parse_record(_of_kind(kind))
    assert severity_for(record, Version("2.1")) == severity
    assert severity_for(record, Version("1.26")) is None
    message = message_for(record, LibraryVersion(Version("2.1"), "installed"))
    assert message.startswith(head + " (this environment has numpy 2.1)."), message


@pytest.mark.parametrize(
    "url",
    ["https://github.com/numpy/numpy/pull/24357", "https://github.com/numpy/numpy/commit/0a1b2c3d"],
)
def test_a_private_api_record_says_so_in_its_message(url):
    record = parse_record({**GOOD, "api": "private", "source": {"url": url, "version": "2.0.0"}})
    assert record.api is Api.PRIVATE
    message = message_for(record, LibraryVersion(Version("2.1"), "installed"))
    assert message == (
        "`numpy.float_` was removed in numpy 2.0.0, a private API changed without deprecation"
        " (this environment has numpy 2.1)."
    )
    public = message_for(parse_record(GOOD), LibraryVersion(Version("2.1"), "installed"))
    assert "private" not in public and parse_record(GOOD).api is Api.PUBLIC


@pytest.mark.parametrize("kind", list(RecordKind))
def test_importing_the_name_is_flagged_only_where_the_name_goes(kind):
    kb = KnowledgeBase([parse_record(_of_kind(kind))], [])
    found = Detector(kb, versions(numpy="2.1")).detect(b"from numpy import float_\n")
    assert bool(found) is kind.name_goes
