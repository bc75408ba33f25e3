"""griffe diffs: two real releases of a small package (wheels stored under data/wheels) and a
package built here in two versions to check renames, moves and keyword renames."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("griffe")

from recode.dataset.apidiff import (  # noqa: E402
    ApiChange,
    candidate_records,
    diff_packages,
    join_notes,
    missing_from_kb,
    unpack,
)
from recode.dataset.knowledge import KnowledgeBase, parse_record  # noqa: E402
from recode.dataset.notes import split_notes  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def packaging_changes(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    old = unpack(DATA / "wheels" / "packaging-21.3-py3-none-any.whl", cache)
    new = unpack(DATA / "wheels" / "packaging-22.0-py3-none-any.whl", cache)
    assert (old / "packaging" / "version.py").is_file()
    return diff_packages("packaging", old, new)


def test_real_release_removals(packaging_changes):
    by_symbol = {c.symbol: c for c in packaging_changes}
    legacy = by_symbol["packaging.version.LegacyVersion"]
    assert legacy.kind == "removed"
    assert legacy.location == "packaging/version.py:106"
    assert by_symbol["packaging.specifiers.LegacySpecifier"].kind == "removed"
    # a method that became a property: a kind change, not a removal
    assert by_symbol["packaging.specifiers.BaseSpecifier.prereleases"].kind == "kind_changed"
    # what stayed is not reported; private helpers are never reported
    assert "packaging.version.Version" not in by_symbol
    assert "packaging.version.parse" not in by_symbol
    assert not any("._" in c.symbol for c in packaging_changes)


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_pairs_renames_moves_and_keywords(tmp_path):
    old = write_package(
        tmp_path / "old",
        {
            "toy/__init__.py": "",
            "toy/core.py": """
            def clip_norm(x):
                return x

            def scale(x, factor=1.0):
                return x * factor

            def helper(x):
                return x

            def gone(x):
                return x
            """,
            "toy/tests/test_core.py": "def test_x():\n    pass\n",
        },
    )
    new = write_package(
        tmp_path / "new",
        {
            "toy/__init__.py": "",
            "toy/core.py": """
            def clip_norm_(x):
                return x

            def scale(x, multiplier=1.0):
                return x * multiplier
            """,
            "toy/utils.py": """
            def helper(x):
                return x
            """,
        },
    )
    changes = {c.symbol: c for c in diff_packages("toy", old, new)}
    assert changes["toy.core.clip_norm"].kind == "renamed"
    assert changes["toy.core.clip_norm"].replacement == "toy.core.clip_norm_"
    assert changes["toy.core.helper"].kind == "moved"
    assert changes["toy.core.helper"].replacement == "toy.utils.helper"
    assert (
        changes["toy.core.gone"].kind == "removed" and changes["toy.core.gone"].replacement is None
    )
    kw = changes["toy.core.scale(factor)"]
    assert kw.kind == "parameter_renamed" and kw.replacement == "multiplier"
    assert not any("tests" in s for s in changes)  # test modules are not API

    records = list(candidate_records(changes.values(), "toy", "2.0"))
    assert all(r["id"].endswith("-candidate") for r in records)
    by_symbol = {r["symbol"]: r for r in records}
    assert by_symbol["toy.core.clip_norm"]["fix"] == {"kind": "rename", "to": "toy.core.clip_norm_"}
    assert by_symbol["toy.core.scale(factor)"]["fix"] == {
        "kind": "keyword_rename",
        "to": "multiplier",
    }
    for r in records:  # once reviewed (the review notes dropped), each is a valid KB record
        review = r.pop("review")
        assert review["diff_kind"]
        parse_record(json.loads(json.dumps(r)))


def test_join_with_notes_and_check_against_kb():
    notes = (DATA / "notes" / "scipy-1.11.0-notes.rst").read_text("utf-8")
    entries = split_notes(notes, "scipy", "1.11.0", "https://docs.scipy.org/1.11.0-notes.html")
    changes = [
        ApiChange("parameter_removed", "scipy.stats._stats_py.moment(n)", "parameter removed"),
        ApiChange("removed", "scipy.linalg._special_matrices.tril", "public object removed"),
        ApiChange("removed", "scipy.linalg.something_else", "public object removed"),
    ]
    join_notes(changes, entries)
    assert "``n`` keyword has been removed" in changes[0].notes[0].text
    assert "``tril``" in changes[1].notes[0].text
    assert changes[2].notes == []
    record = next(candidate_records(changes[:1], "scipy", "1.11.0"))
    assert record["source"]["url"].endswith("1.11.0-notes.html")
    assert record["kind"] == "signature"

    kb = KnowledgeBase(
        [
            parse_record(
                {
                    "id": "scipy-1.13-tril",
                    "library": "scipy",
                    "symbol": "scipy.linalg.tril",
                    "kind": "removed",
                    "removed_in": "1.13.0",
                    "note": "tril was removed.",
                    "source": {"url": "https://docs.scipy.org/", "version": "1.13.0"},
                }
            )
        ],
        [],
    )
    missing = missing_from_kb(changes, kb, "scipy")
    assert [c.symbol for c in missing] == [
        "scipy.stats._stats_py.moment(n)",
        "scipy.linalg.something_else",
    ]


def test_cached_distribution_is_chosen_by_exact_version(tmp_path):
    from recode.dataset.apidiff import _find_dist

    for name in (
        "numpy-2.0.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy_financial-2.0.0-py3-none-any.whl",
        "numpy-2.0.0rc1.tar.gz",
        "numpy-2.0.0.tar.gz",
        "numpy-2.0.tar.gz.part",
    ):
        (tmp_path / name).write_bytes(b"")
    # "2.0" took numpy-2.0.1's wheel (a prefix of its file name): another release was diffed
    assert _find_dist(tmp_path, "numpy", "2.0") == tmp_path / "numpy-2.0.0.tar.gz"
    assert _find_dist(tmp_path, "NumPy", "2.0.1").name.startswith("numpy-2.0.1-cp312")
    assert _find_dist(tmp_path, "numpy-financial", "2") is not None
    assert _find_dist(tmp_path, "numpy", "2.0.2") is None
