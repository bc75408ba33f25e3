"""Release notes: fetched from PyPI metadata links, GitHub releases or the PyPI description
(real-format documents from a local server), cached on disk, and offline from the cache only."""

from __future__ import annotations

import json

import pytest

from recode.dataset import release_notes as rn
from recode.dataset.release_notes import ReleaseNotesFetcher, excerpt, html_to_text, version_section
from tests.model import support
from tests.model.support import DATA, notes_server


@pytest.fixture
def server():
    with notes_server() as s:
        yield s


def fetcher(server, tmp_path, **kw) -> ReleaseNotesFetcher:
    return ReleaseNotesFetcher(
        pypi_url=server.pypi, github_api=server.github, cache_dir=tmp_path / "cache", **kw
    )


def test_github_releases_through_the_source_link(server, tmp_path):
    lookup = fetcher(server, tmp_path).get("torch", "1.12.0")
    notes = lookup.notes
    assert notes is not None and not lookup.cached and not lookup.offline
    assert notes.origin == "github-release"
    assert notes.source_url == "https://github.com/pytorch/pytorch/releases/tag/v1.12.0"
    assert "`torch.solve` has been removed" in notes.text
    assert "torch.lu" not in notes.text  # the 1.13 release is not mixed in
    assert "/api/repos/pytorch/pytorch/releases?per_page=100&page=1" in server.requests


def test_html_changelog_from_the_release_notes_link(server, tmp_path):
    lookup = fetcher(server, tmp_path).get("numpy", "==2.0.0")
    notes = lookup.notes
    assert notes is not None and notes.origin == "changelog"
    assert notes.source_url == server.base + "/doc/stable/release.html"
    assert notes.text.startswith("## NumPy 2.0.0 Release Notes")
    assert "np.cast has been removed" in notes.text
    assert "2.1.0" not in notes.text and "1.26.4" not in notes.text
    assert "documentation_options" not in notes.text and "Copyright" not in notes.text


def test_pypi_description_when_no_link_has_notes(server, tmp_path):
    notes = fetcher(server, tmp_path).get("pandas", "2.0.0").notes
    assert notes is not None and notes.origin == "pypi-description"
    assert "error_bad_lines" in notes.text and "1.5.3" not in notes.text


def test_cached_on_disk_and_read_back_without_network(server, tmp_path):
    first = fetcher(server, tmp_path).get("torch", "1.12.0")
    files = list((tmp_path / "cache" / "release-notes" / "torch").glob("*.json"))
    assert [f.name for f in files] == ["1.12.0.json"]
    assert json.loads(files[0].read_text())["notes"]["origin"] == "github-release"
    count = len(server.requests)
    again = fetcher(server, tmp_path).get("torch", "1.12.0")
    assert again.cached and again.notes == first.notes
    assert len(server.requests) == count  # no request the second time
    offline = fetcher(server, tmp_path, offline=True).get("torch", "1.12.0")
    assert offline.cached and offline.offline and offline.notes == first.notes


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "x"))
    assert rn.default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("RECODE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert rn.default_cache_dir() == tmp_path / "xdg" / "recode"


def test_offline_without_cache_says_so(server, tmp_path):
    lookup = fetcher(server, tmp_path, offline=True).get("torch", "1.12.0")
    assert lookup.notes is None and lookup.offline
    assert "offline" in lookup.message and "knowledge base's note only" in lookup.message
    assert server.requests == []


def test_unreachable_index_counts_as_offline(tmp_path):
    f = ReleaseNotesFetcher(pypi_url="http://127.0.0.1:9/pypi", cache_dir=tmp_path / "c", timeout=2)
    lookup = f.get("torch", "1.12.0")
    assert lookup.notes is None and lookup.offline and "offline" in lookup.message
    assert not (tmp_path / "c").exists()  # a failure to connect is not cached


def test_nothing_found_is_reported_and_cached(server, tmp_path):
    lookup = fetcher(server, tmp_path).get("torch", "9.9.9")
    assert lookup.notes is None and not lookup.offline
    assert "no release notes were found for torch 9.9.9" in lookup.message
    count = len(server.requests)
    again = fetcher(server, tmp_path).get("torch", "9.9.9")
    assert again.cached and again.notes is None and len(server.requests) == count


def test_version_section_variants():
    rst = "Changelog\n=========\n\n1.12 (2022)\n-----------\n\nRemoved\n~~~~~~~\n\n* gone\n\n1.11\n----\n\n* old\n"
    section = version_section(rst, "1.12.0")
    assert section.startswith("1.12 (2022)") and "* gone" in section and "old" not in section
    assert version_section("## 1.2.10\n- x\n## 1.2.1\n- y\n", "1.2.1") == "## 1.2.1\n- y"
    assert version_section("## v2.0.0\n- new\n", "2.0.0") == "## v2.0.0\n- new"
    assert version_section("## 2.0.0rc1\n- rc\n", "2.0.0") is None


def test_excerpt_keeps_the_paragraphs_about_the_symbol():
    text = html_to_text((DATA / "numpy_release.html").read_text())
    section = version_section(text, "2.0.0")
    cut = excerpt(section, ["numpy.cast", "np.cast"])
    assert cut.startswith("- np.cast has been removed.")
    assert "np.asarray(arg, dtype=dtype)" in cut and "np.source" not in cut
    assert excerpt(section, ["numpy.nothing"]) == ""
    assert len(excerpt("- " + "solve " * 1000, ["solve"], max_chars=100)) == 100


@pytest.mark.parametrize("charset", ["utf8mb4", "base64"])
def test_unknown_charset_is_read_as_utf8_and_logged(server, tmp_path, monkeypatch, caplog, charset):
    # MySQL's utf8mb4 is no Python codec and base64 no text codec: both raised LookupError
    page = ("numpy_release.html", f"text/html; charset={charset}")
    monkeypatch.setitem(support.ROUTES, "/doc/stable/release.html", page)
    with caplog.at_level("WARNING", logger="recode.dataset.release_notes"):
        notes = fetcher(server, tmp_path).get("numpy", "2.0.0").notes
    assert notes is not None and notes.origin == "changelog"
    assert "np.cast has been removed" in notes.text
    assert f"unknown charset '{charset}'" in caplog.text
