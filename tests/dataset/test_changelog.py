"""Changelog sections of the nine libraries' own release notes and migration guides (excerpts
under tests/data/changelogs, see its README), as Markdown and reStructuredText read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from recode.dataset.changelog import Markup, detect_markup, sections, version_section
from recode.dataset.notes import split_notes
from recode.dataset.release_notes import excerpt
from recode.dataset.release_notes import version_section as release_notes_version_section

DATA = Path(__file__).parents[1] / "data" / "changelogs"


def load(name: str) -> str:
    return (DATA / name).read_text("utf-8")


# Every section of each excerpt: (level, visible title, version in the title), in order.
EXPECTED = {
    "numpy-2.0-migration-guide.rst": [  # "*" over- and underlined, "=", "-"
        (1, "NumPy 2.0 migration guide", "2.0"),
        (2, "Ruff plugin", None),
        (2, "Windows default integer", None),
        (2, "C-API Changes", None),
        (3, "Increased maximum number of dimensions", None),
        (3, "Complex types - Underlying type changes", None),
    ],
    "pandas-v2.0.0-whatsnew.rst": [  # "-", "~", "^"
        (1, "What's new in 2.0.0 (??)", "2.0.0"),
        (2, "Enhancements", None),
        (3, "Installing optional dependencies with pip extras", None),
        (3, ":class:`Index` can now hold numpy numeric dtypes", None),
        (3, "Copy-on-Write improvements", None),
        (3, "Other enhancements", None),
    ],
    "scipy-1.17.0-notes.rst": [  # "=" over- and underlined, "*" over- and underlined
        (1, "SciPy 1.17.0 Release Notes", "1.17.0"),
        (2, "Deprecated features and future changes", None),
        (2, "Expired deprecations", None),
        (2, "Backwards incompatible changes", None),
    ],
    "scikit-learn-v1.2.rst": [  # "=", "-", "."
        (1, "Version 1.2.0", "1.2.0"),
        (2, "Changed models", None),
        (2, "Changelog", None),
        (3, ":mod:`sklearn.calibration`", None),
        (3, ":mod:`sklearn.feature_selection`", None),
        (3, ":mod:`sklearn.gaussian_process`", None),
    ],
    "matplotlib-3.8.0-removals.rst": [  # "-", "~"
        (1, "Removals", None),
        (2, "cbook removals", None),
        (2, "Groupers from get_shared_x_axes / get_shared_y_axes are immutable", None),
        (2, "Deprecated modules removed", None),
        # its last paragraph line is followed by "``Figure.callbacks`` is removed" and an
        # underline, with no blank line: docutils (and so the rendered page) reads those two
        # lines as more paragraph text, not as a section
        (2, "text.get_rotation()", None),
        (2, "Passing too many positional arguments to tripcolor", None),
        (2, "The filled argument to Colorbar is removed", None),
        (2, "Backend-specific removals", None),
    ],
    "seaborn-v0.13.0.rst": [  # "-", "^", "~"
        (1, "v0.13.0 (September 2023)", "0.13.0"),
        (2, "Major enhancements to categorical plots", None),
        (3, "Support for numeric and datetime data", None),
        (3, "Changes to color defaults and specification", None),
    ],
    "torch-func-migrating.md": [  # "# using functorch" inside the fence is code
        (1, "Migrating from functorch to torch.func", None),
        (2, "NN module utilities", None),
        (3, "functorch.make_functional", None),
        (3, "functorch.combine_state_for_ensemble", None),
        (2, "functorch.compile", None),
    ],
    "jax-CHANGELOG.md": [
        (1, "Change log", None),
        (2, "jax 0.5.2 (Mar 4, 2025)", "0.5.2"),
        (2, "jax 0.5.1 (Feb 24, 2025)", "0.5.1"),
        (2, "jaxlib 0.4.32 (September 11, 2024)", "0.4.32"),
        (2, "jax 0.4.31 (July 29, 2024)", "0.4.31"),
        (2, "jaxlib 0.4.31 (July 29, 2024)", "0.4.31"),
    ],
    "scrapy-news.rst": [  # "=", "-", "~"
        (1, "Release notes", None),
        (2, "Scrapy 2.18.0 (2026-08-20)", "2.18.0"),
        (3, "Deprecation removals", None),
        (3, "Deprecations", None),
    ],
    "scrapy-asyncio.rst": [(1, "Using Scrapy without a Twisted reactor", None)],
    "scrapy-download-handlers.rst": [  # "-", "^"; simple-table borders are not adornments
        (1, "HTTP11DownloadHandler", None),
        (2, "Features and limitations", None),
        (1, "HttpxDownloadHandler", None),
    ],
}

# Lines each section's body holds (its last lines among them): code blocks, directives and
# everything up to the next heading stay in the section.
BODY_HOLDS = {
    "numpy-2.0-migration-guide.rst": {
        "NumPy 2.0 migration guide": [".. note::", "   please see :ref:`numpy-2-abi-handling`."],
        "Ruff plugin": [
            '    select = ["NPY201"]',
            "    $ ruff check path/to/code/ --select NPY201",
        ],
        "Windows default integer": [
            "Note that the NumPy random API is not affected by this change."
        ],
        "C-API Changes": ["Please let us know if you require additional workarounds here."],
        "Complex types - Underlying type changes": [
            ".. code-block::C",
            "   error: expected ‘)’ before ‘__extension__’",
            "  including ``complex.h``.",
        ],
    },
    "pandas-v2.0.0-whatsnew.rst": {
        "Installing optional dependencies with pip extras": [
            '  pip install "pandas[performance, aws]>=2.0.0"',
            "sql-other, html, xml, plot, output_formatting, clipboard, compression, test]`` (:issue:`39164`).",
        ],
        ":class:`Index` can now hold numpy numeric dtypes": [
            "    In [1]: pd.Index([1, 2, 3], dtype=np.int8)",
            "    pd.Index([1, 2, 3], dtype=np.float32)",
        ],
        "Copy-on-Write improvements": ['    with pd.option_context("mode.copy_on_write", True):'],
    },
    "scipy-1.17.0-notes.rst": {
        "Expired deprecations": ["  `scipy.spatial.distance`."],
        "Backwards incompatible changes": ["  np.atleast_1d(angles).shape[:-1])``."],
    },
    "scikit-learn-v1.2.rst": {
        "Version 1.2.0": [".. include:: changelog_legend.inc", "**In Development**"],
        "Changelog": ["    where 123456 is the *pull request* number, not the issue number."],
        ":mod:`sklearn.calibration`": ["  :pr:`22054` by :user:`Kevin Roice <kevroi>`."],
        ":mod:`sklearn.gaussian_process`": ["  by :user:`Loïc Estève <lesteve>`."],
    },
    "matplotlib-3.8.0-removals.rst": {
        "text.get_rotation()": [
            "``Figure.callbacks`` is removed",
            'canvas ``figure.canvas.mpl_connect("resize_event", func)`` instead.',
        ],
        "Passing too many positional arguments to tripcolor": [
            "... raises ``TypeError`` (extra arguments were previously ignored)."
        ],
    },
    "seaborn-v0.13.0.rst": {
        "Support for numeric and datetime data": ["|Feature|"],
        "Changes to color defaults and specification": ["|API| |Defaults|"],
    },
    "torch-func-migrating.md": {
        "functorch.make_functional": [
            "```python",
            "# using torch.func (as of PyTorch 2.0)",
            "jacobians = jacrev(functional_call, argnums=1)(model, params, (inputs,))",
            "parameters and everything is OK.",
        ],
        "functorch.compile": ["{func}`torch.compile` instead."],
    },
    "jax-CHANGELOG.md": {
        "jax 0.5.1 (Feb 24, 2025)": [
            "    ```python",
            "    # inp2.sharding is of type NamedSharding",
            "    while tracing.",
            "    JAX-level dead code elimination (DCE). See {jax-issue}`#25956` for more",
            "    details.",
        ],
        "jax 0.4.31 (July 29, 2024)": [
            "    instead use `jax.random.permutation` with `independent=True`."
        ],
    },
    "scrapy-news.rst": {
        "Deprecation removals": ["    (:gh:`5146`, :gh:`8023`)"],
        "Deprecations": ["    which is what it always mapped to, and warns accordingly."],
    },
    "scrapy-asyncio.rst": {
        "Using Scrapy without a Twisted reactor": [
            ".. versionadded:: 2.15.0",
            ".. warning::",
            "  that do not apply if the reactor is not used.",
        ],
    },
    "scrapy-download-handlers.rst": {
        "Features and limitations": [
            "=========================== ================================================",
            ".. versionchanged:: 2.18.0",
            "   the whole response impossible to download.",
            ".. _httpx-handler:",
        ],
        "HttpxDownloadHandler": [".. note:: Requires the :ref:`httpx <extras>` extra."],
    },
}


def test_every_excerpt_is_covered():
    assert sorted(EXPECTED) == sorted(p.name for p in DATA.iterdir() if p.name != "README.md")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_section_with_its_level_and_version(name):
    found = sections(load(name))
    assert [(s.level, s.title, s.version) for s in found] == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sections_hold_every_line_up_to_the_next_heading(name):
    text = load(name)
    lines = text.split("\n")
    found = sections(text)
    headings = [(s.start, s.level) for s in found]
    for s in found:
        # ends where the next heading of the same or a higher level starts, else at the end
        later = [start for start, level in headings if start > s.start and level <= s.level]
        assert s.end == (later[0] if later else len(lines))
        assert s.text == "\n".join(lines[s.start : s.end])
        assert s.body == "\n".join(lines[s.body_start : s.end])
        assert s.start <= s.title_line < s.body_start <= s.end
        assert lines[s.title_line].strip() == s.heading or lines[s.title_line].lstrip(
            "# "
        ).startswith(s.heading)
    # the top-level sections tile the text after the preamble: no line is dropped
    top = [s for s in found if s.level == 1]
    assert top[0].start == 0 or not "".join(lines[: top[0].start]).strip().startswith("#")
    for a, b in zip(top, top[1:], strict=False):
        assert a.end == b.start
    assert top[-1].end == len(lines)
    for title, held in BODY_HOLDS.get(name, {}).items():
        (section,) = [s for s in found if s.title == title]
        body_lines = section.body.split("\n")
        for line in held:
            assert line in body_lines, (title, line)


def test_markup_is_detected():
    assert detect_markup(load("jax-CHANGELOG.md")) is Markup.MARKDOWN
    assert detect_markup(load("torch-func-migrating.md")) is Markup.MARKDOWN
    for name in EXPECTED:
        if name.endswith(".rst"):
            assert detect_markup(load(name)) is Markup.RST, name


def test_version_section_of_the_real_changelogs():
    jax = load("jax-CHANGELOG.md")
    section = version_section(jax, "0.4.31")
    # the first heading naming 0.4.31 is jax's; jaxlib's own 0.4.31 section ends it
    assert section.startswith("## jax 0.4.31 (July 29, 2024)")
    assert section.endswith("instead use `jax.random.permutation` with `independent=True`.")
    assert "jaxlib" not in section
    fenced = version_section(jax, "0.5.1")
    assert "    # inp1.sharding is of type SingleDeviceSharding" in fenced
    assert fenced.endswith("    details.") and "jax 0.5.2" not in fenced
    assert version_section(jax, "0.4.32").startswith("## jaxlib 0.4.32")
    assert version_section(jax, "0.4.30") is None
    news = version_section(load("scrapy-news.rst"), "2.18")
    assert news.startswith("Scrapy 2.18.0 (2026-08-20)\n---")
    assert news.endswith("which is what it always mapped to, and warns accordingly.")
    sklearn = version_section(load("scikit-learn-v1.2.rst"), "v1.2.0")
    assert sklearn.startswith("Version 1.2.0\n=============")
    assert sklearn.endswith("by :user:`Loïc Estève <lesteve>`.")
    scipy = version_section(load("scipy-1.17.0-notes.rst"), "1.17.0")
    assert scipy.startswith("==========================\nSciPy 1.17.0 Release Notes")
    assert "Expired deprecations" in scipy
    # release_notes keeps its own name for the same function
    assert release_notes_version_section is version_section


def test_a_code_line_like_a_heading_does_not_end_the_section():
    """Regression: release_notes scanned lines for "#" headings and stopped the 2.0.0 section at
    the "# before" comment that opens the fence, so the entries after it never reached the
    model's prompt."""
    log = (
        "# Changelog\n\n"
        "## 2.0.0\n\n"
        "- `np.float_` is removed, use `np.float64`:\n\n"
        "```python\n"
        "# before\n"
        "x = np.float_(1)\n"
        "# after\n"
        "x = np.float64(1)\n"
        "```\n\n"
        "- `np.cast` is removed, use `np.asarray(arg, dtype=dtype)`.\n\n"
        "## 1.26.4\n\n"
        "- old\n"
    )
    section = release_notes_version_section(log, "2.0.0")
    assert section.endswith("- `np.cast` is removed, use `np.asarray(arg, dtype=dtype)`.")
    assert "## 1.26.4" not in section
    assert excerpt(section, ["np.cast"]) == section.split("\n")[-1]


def test_a_code_comment_in_a_rst_code_block_does_not_end_the_section():
    """The same defect in reStructuredText: a code block indented by three spaces (Sphinx's
    usual indent) held a "# before" line that the scan read as a Markdown heading."""
    notes = (
        "2.0.0\n=====\n\n"
        "Expired deprecations\n--------------------\n\n"
        ".. code-block:: python\n\n"
        "   # before\n"
        "   np.float_(1)\n\n"
        ".. versionchanged:: 2.0\n"
        "   ``np.cast`` is removed.\n\n"
        "1.26.4\n======\n\n* old\n"
    )
    section = release_notes_version_section(notes, "2.0.0")
    assert section.endswith(".. versionchanged:: 2.0\n   ``np.cast`` is removed.")
    assert [s.title for s in sections(notes)] == ["2.0.0", "Expired deprecations", "1.26.4"]


def test_rst_include_directives_read_no_file(tmp_path, monkeypatch):
    """scikit-learn's notes start with ``.. include::``: parsing never opens the named file."""
    (tmp_path / "_contributors.rst").write_text("Injected\n========\n\ntext\n")
    (tmp_path / "changelog_legend.inc").write_text("Injected too\n============\n")
    monkeypatch.chdir(tmp_path)
    titles = [s.title for s in sections(load("scikit-learn-v1.2.rst"))]
    assert titles == [title for _, title, _ in EXPECTED["scikit-learn-v1.2.rst"]]


def test_visible_text_of_a_heading_names_the_version():
    kac = (
        "## [Unreleased](https://github.com/o/r/compare/1.2.0...HEAD)\n\n- next\n\n"
        "## [1.2.0](https://github.com/o/r/compare/1.1.0...1.2.0) - 2024-01-02\n\n- this\n"
    )
    first, second = sections(kac)
    assert (first.title, first.version) == ("Unreleased", None)
    assert first.heading == "[Unreleased](https://github.com/o/r/compare/1.2.0...HEAD)"
    assert (second.title, second.version) == ("1.2.0 - 2024-01-02", "1.2.0")
    assert version_section(kac, "1.1.0") is None  # only a link target names it


def test_split_notes_on_the_real_removals_page():
    """notes.split_notes reads the same sections: matplotlib's removals page gives one entry per
    sub-section, and the run-on "``Figure.callbacks`` is removed" stays in the entry before it
    (the old line scan made it an entry of its own, unlike the rendered page)."""
    entries = split_notes(load("matplotlib-3.8.0-removals.rst"), "matplotlib", "3.8.0")
    subsections = [s for s in sections(load("matplotlib-3.8.0-removals.rst")) if s.level == 2]
    assert [e.line for e in entries] == [s.title_line + 1 for s in subsections]
    assert {e.category for e in entries} == {"removal"}
    rotation = next(e for e in entries if e.heading.endswith("``text.get_rotation()``"))
    assert "Figure.callbacks" in rotation.symbols
    assert "~~~~" not in rotation.text.split("\n")[0]


_LINES = st.sampled_from(
    [
        "",
        "## 2.0.0",
        "# before",
        "   # before",
        "```python",
        "```",
        "~~~",
        "1.2.0",
        "=====",
        "-----",
        "~~~~~",
        "*****",
        "Removed",
        "- item `x`",
        "  continued",
        ".. code-block:: python",
        ".. versionchanged:: 1.2",
        "   x = 1",
        "::",
        "[1.2.0](https://x/compare/1.1.0...1.2.0)",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_LINES, max_size=25), st.sampled_from(["1.2.0", "2.0.0", "1.2"]))
@example(["~~~"] * 4, "1.2.0")  # an underline right above the next title is not its overline
def test_any_text_splits_into_consistent_sections(lines, version):
    text = "\n".join(lines)
    found = sections(text)
    for s in found:
        assert 0 <= s.start <= s.title_line < s.body_start <= s.end <= len(lines)
        assert s.text == "\n".join(lines[s.start : s.end])
        assert all(
            later.start >= s.end or later.level > s.level
            for later in found
            if later.start > s.start
        )
    section = version_section(text, version)
    assert section is None or section in text
