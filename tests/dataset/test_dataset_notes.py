"""Release notes of real layouts (stored under data/notes) split into change entries."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from recode.dataset.notes import (
    categorize,
    entries_for_versions,
    known_versions,
    mentions,
    select_versions,
    split_notes,
    symbols_in,
)
from recode.dataset.release_notes import ReleaseNotesFetcher, version_section

NOTES = Path(__file__).parent / "data" / "notes"


def load(name: str) -> str:
    return (NOTES / name).read_text("utf-8")


def by_category(entries, category):
    return [e for e in entries if e.category == category]


def test_numpy_rst_sections_and_subheadings():
    entries = split_notes(load("numpy-1.23.0-notes.rst"), "numpy", "1.23.0")
    assert len(by_category(entries, "deprecation")) == 5
    expired = by_category(entries, "expired")
    assert len(expired) == 6
    alen = next(e for e in expired if "alen" in e.symbols)
    assert alen.symbols[:2] == ("alen", "asscalar")
    assert mentions(alen, "numpy.alen") and mentions(alen, "numpy.asscalar")
    assert not mentions(alen, "numpy.asarray")
    # compatibility notes are sub-headings, each an entry with its paragraphs
    compat = by_category(entries, "compatibility")
    titles = [e.heading.rsplit(" / ", 1)[1] for e in compat]
    assert "``NPY_RELAXED_STRIDES_CHECKING`` has been removed" in titles
    loadtxt = next(e for e in compat if e.heading.endswith("has recieved several changes"))
    assert "numpy.loadtxt" in loadtxt.symbols and "max_rows" in loadtxt.text
    # new features and improvements are not changes of the old API
    assert not any("keepdims" in e.heading for e in entries)


def test_pandas_whatsnew_lists():
    entries = split_notes(load("pandas-2.0.0-whatsnew.rst"), "pandas", "2.0.0")
    deprecations = by_category(entries, "deprecation")
    assert len(deprecations) == 27
    append = next(e for e in entries if "Series.append" in e.symbols)
    assert append.category == "expired"
    assert mentions(append, "pandas.DataFrame.append")
    assert "concat" in append.symbols
    date_parser = next(e for e in deprecations if "date_parser" in e.symbols)
    assert mentions(date_parser, "pandas.read_csv(date_parser)")
    assert not mentions(date_parser, "pandas.read_csv(chunksize)")
    # reST comments and targets between sections are not entries
    assert not any(e.text.startswith("..") for e in entries)


def test_scipy_overlined_sections():
    entries = split_notes(load("scipy-1.11.0-notes.rst"), "scipy", "1.11.0")
    assert len(by_category(entries, "deprecation")) == 7
    assert len(by_category(entries, "expired")) == 11
    (compat,) = by_category(entries, "compatibility")
    assert "legacy" in compat.symbols and "scipy.special.comb" in compat.symbols
    moment = next(
        e for e in entries if "scipy.stats.moment" in e.symbols and e.category == "expired"
    )
    assert mentions(moment, "scipy.stats.moment(n)")
    tril = next(e for e in entries if "tril" in e.symbols)
    assert mentions(tril, "scipy.linalg.tril") and not mentions(tril, "scipy.signal.tril")
    # the introduction paragraph of "Expired Deprecations" is not an entry
    assert not any(e.text.startswith("There is an ongoing effort") for e in entries)
    assert not any("monte_carlo_test" in e.text for e in entries)


def test_towncrier_rst_mixed_section():
    entries = split_notes(load("pip-NEWS.rst"), "pip", "")
    texts = {e.text.split("\n")[0].split("(")[0].strip(): e.category for e in entries}
    assert texts["Drop support for EOL Python 3.7."] == "removal"
    assert texts["Remove support for legacy versions and dependency specifiers."] == "removal"
    legacy = next(e for e in entries if e.text.startswith("Remove support for legacy"))
    assert "must be uninstalled before upgrading them" in legacy.text  # its second paragraph
    deprecate = next(e for e in entries if e.text.startswith("Deprecate legacy version"))
    assert deprecate.category == "deprecation"
    assert deprecate.heading.startswith("23.2 (2023-07-15)")
    assert not any("truststore" in e.text or "caching" in e.text for e in entries)
    # one release's section only
    section = version_section(load("pip-NEWS.rst"), "23.3")
    only = split_notes(section, "pip", "23.3")
    assert [e.text[:30] for e in only] == ["Drop a fallback to using Secur"]


def test_keep_a_changelog_markdown():
    text = load("structlog-CHANGELOG.md")
    entries = split_notes(text, "structlog", "")
    assert {e.category for e in entries} <= {"deprecation", "removal", "change"}
    threadlocal = next(e for e in entries if "structlog.threadlocal" in e.symbols)
    assert threadlocal.category == "deprecation"
    assert "contextvars" in threadlocal.text  # the continuation paragraphs stay with the item
    assert "[22.1.0]" in threadlocal.heading
    removed = [e for e in by_category(entries, "removal") if "[22.1.0]" in e.heading]
    assert [e.text for e in removed] == [
        "Python 3.6 is not supported anymore.",
        "Pickling is now only possible with protocol version 3 and newer.",
    ]
    # the fenced console example inside "Added" is not a heading or an entry
    assert not any("Hello" in e.text for e in entries)


def test_version_section_skips_link_targets_of_keep_a_changelog_headings():
    # "## [Unreleased](.../compare/22.1.0...HEAD)" names 22.1.0 only in its link target
    text = load("structlog-CHANGELOG.md")
    section = version_section(text, "22.1.0")
    assert section.startswith("## [22.1.0](https://github.com/hynek/structlog/compare/")
    assert "Python 3.6 is not supported anymore." in section
    assert "structlog.threadlocal" in section
    assert "structlog.types" not in section  # that is the Unreleased section's
    assert "## [21.5.0]" not in section  # the next release ends it
    older = version_section(text, "21.5.0")
    assert older.startswith("## [21.5.0]") and "LogfmtRenderer" in older
    assert version_section(text, "21.4.0") is None  # only a link target names it


def test_markdown_category_bullets():
    entries = split_notes(load("jax-CHANGELOG.md"), "jax", "")
    kinds = [(e.category, e.symbols[:2]) for e in entries if e.category != "change"]
    assert kinds == [
        ("deprecation", ("jax.tree.map", "DeprecationWarning")),
        ("removal", ("kind", "jax.numpy.sort")),
        ("removal", ("get_compute_capability", "jax.experimental.pallas.gpu")),
        ("deprecation", ("newshape", "jax.numpy.reshape")),
    ]
    newshape = entries[3]
    assert mentions(newshape, "jax.numpy.reshape(newshape)")
    assert not any("Equinox" in e.text or "memory corruption" in e.text for e in entries)


@pytest.mark.parametrize(
    "heading, category",
    [
        ("Expired deprecations", "expired"),
        ("Removal of prior version deprecations/changes", "expired"),
        ("Deprecations and Removals", "deprecation"),
        ("### Removed", "removal"),
        ("Backwards incompatible changes", "compatibility"),
        ("Breaking Changes", "compatibility"),
        ("Features", None),
        ("Bug Fixes", None),
        ("New functions", None),
    ],
)
def test_categorize(heading, category):
    assert categorize(heading) == category


def test_symbols():
    assert symbols_in("use ``np.float64`` not ``np.float_``; :func:`~pandas.concat`") == (
        "numpy.float64",
        "numpy.float_",
        "pandas.concat",
    )
    assert symbols_in("(:issue:`123`) and ``x = 1`` and `see here <https://x>`_") == ()


def test_select_versions():
    vs = ["1.26.4", "2.0.0rc1", "2.0.0", "2.0.2", "2.1.0"]
    assert select_versions(vs, "1.26.4", "2.0.2") == ["2.0.0", "2.0.2"]
    assert select_versions(vs, None, "2.0.0", prereleases=True) == ["1.26.4", "2.0.0rc1", "2.0.0"]


def test_offline_from_the_release_notes_cache(tmp_path):
    """The fetch goes through release_notes' cache; offline, a cached version still splits and
    an uncached one is reported, not fetched."""
    cache = tmp_path / "cache"
    folder = cache / "release-notes" / "scipy"
    folder.mkdir(parents=True)
    notes = {
        "library": "scipy",
        "version": "1.11.0",
        "text": load("scipy-1.11.0-notes.rst"),
        "source_url": "https://docs.scipy.org/doc/scipy/release/1.11.0-notes.html",
        "origin": "changelog",
        "fetched_at": time.time(),
    }
    (folder / "1.11.0.json").write_text(json.dumps({"notes": notes, "checked_at": time.time()}))
    fetcher = ReleaseNotesFetcher(cache_dir=cache, offline=True)
    assert known_versions("scipy", offline=True, cache_dir=cache) == ["1.11.0"]
    entries, lookups = entries_for_versions("scipy", ["1.11.0", "1.12.0"], fetcher)
    assert len(entries) == 22 and entries[0].source_url.endswith("1.11.0-notes.html")
    assert lookups[0].cached and lookups[1].notes is None and lookups[1].offline
