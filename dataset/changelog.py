"""Changelogs cut into their sections, read as their own tools read them.

A changelog is Markdown or reStructuredText. Markdown is parsed with markdown-it-py (CommonMark):
its tokens give each heading with its source lines, and a ``#`` line inside a fenced code block
is code, not a heading. reStructuredText is parsed with docutils into a doctree: its sections
give the titles, their nesting and their lines, whatever adornment styles the file uses, and
directive or literal-block content (``.. code-block::``, ``::``) never opens a section.

* :func:`sections` -- every section: title, level, the version its title names, and its lines;
* :func:`version_section` -- the part of a changelog under the heading that names a version.

Both take the text as a string; nothing is read from disk (docutils' ``include`` and ``raw``
directives are off).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import NamedTuple

from packaging.version import InvalidVersion, Version

__all__ = ["Markup", "Section", "detect_markup", "sections", "title_versions", "version_section"]


class Markup(enum.Enum):
    MARKDOWN = "markdown"
    RST = "rst"


@dataclass(frozen=True)
class Section:
    """One heading and what it holds, up to the next heading of the same or a higher level.

    Line numbers are 0-based indexes into the text's lines (``\\r\\n`` and ``\\r`` read as
    ``\\n``); ``end`` is exclusive.
    """

    title: str  # the visible text: "1.2.0 - 2024-01-02" for "[1.2.0](https://...) - 2024-01-02"
    heading: str  # the title as written: "[1.2.0](https://...) - 2024-01-02", ":mod:`x` removed"
    level: int  # 1 for the outermost headings
    version: str | None  # the first version the title names, as written without a "v"
    start: int  # the heading's first line (a reST overline included)
    title_line: int  # the line that holds the title text
    body_start: int  # the first line after the heading (and its underline)
    end: int
    text: str  # lines[start:end]: the heading and the body
    body: str  # lines[body_start:end], ``.. versionchanged::`` and code blocks included


_VERSION = re.compile(
    r"(?<![\w.])[vV]?(\d+(?:\.\d+)+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?)(?![\w]|\.\d)"
)
# A Markdown heading or code fence at the very start of a line: reST has neither there ("#"
# adornments are runs of "#" with no text, code is indented under its directive, and "~~~" is
# a reST underline, so only backtick fences count).
_MARKDOWN_SIGNS = re.compile(r"^(?:#{1,6}[ \t]+\S|```)", re.M)


def title_versions(title: str) -> list[str]:
    """The versions a title names, as written (``v`` dropped), in order.

    >>> title_versions("NumPy 2.0.0 Release Notes"), title_versions("v1.12 (2022-06-28)")
    (['2.0.0'], ['1.12'])
    >>> title_versions("2.0.0rc1"), title_versions("Released 2024-01-02")
    (['2.0.0rc1'], [])
    """
    return [m.group(1) for m in _VERSION.finditer(title) if _parse(m.group(1)) is not None]


def _parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def detect_markup(text: str) -> Markup:
    """Markdown when a line starts with an ATX heading (``## 1.2``) or a backtick fence,
    else reStructuredText (whose underlined titles Markdown would read as setext headings
    only for ``=`` and ``-``)."""
    return Markup.MARKDOWN if _MARKDOWN_SIGNS.search(text) else Markup.RST


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def sections(text: str, markup: Markup | None = None) -> list[Section]:
    """Every section of ``text`` in document order, nested ones included.

    ``markup`` is detected (:func:`detect_markup`) when not given; text whose reST reading
    finds no section is read as Markdown too (a plain-text or setext-only changelog).

    >>> log = "# Changes\\n\\n## 2.0.0\\n\\n```python\\n# before\\nnp.float_\\n```\\n\\n- more\\n"
    >>> [(s.title, s.level, s.version, s.start, s.end) for s in sections(log)]
    [('Changes', 1, None, 0, 11), ('2.0.0', 2, '2.0.0', 2, 11)]
    """
    lines = _lines(text)
    markup = markup or detect_markup(text)
    heads = _rst_headings(lines) if markup is Markup.RST else []
    if not heads:
        heads = _markdown_headings(lines)
    out: list[Section] = []
    for n, head in enumerate(heads):
        end = next((h.start for h in heads[n + 1 :] if h.level <= head.level), len(lines))
        versions = title_versions(head.title)
        out.append(
            Section(
                title=head.title,
                heading=head.heading,
                level=head.level,
                version=versions[0] if versions else None,
                start=head.start,
                title_line=head.title_line,
                body_start=head.body_start,
                end=end,
                text="\n".join(lines[head.start : end]),
                body="\n".join(lines[head.body_start : end]),
            )
        )
    return out


class _Head(NamedTuple):
    """A heading as a parser reports it; :class:`Section` adds its end and its text."""

    title: str
    heading: str
    level: int
    start: int
    title_line: int
    body_start: int


def _markdown_headings(lines: list[str]) -> list[_Head]:
    # imported here: the language server imports this module and starts without markdown-it
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse("\n".join(lines))
    found: list[_Head] = []
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        inline = tokens[i + 1]
        shown = "".join(
            child.content
            for child in inline.children or ()
            if child.type in ("text", "code_inline", "softbreak", "html_inline")
        )
        first, after = token.map
        found.append(
            _Head(
                title=" ".join(shown.split()),
                heading=" ".join(inline.content.split()),
                level=int(token.tag[1]),
                start=first,
                title_line=first,
                body_start=after,
            )
        )
    return found


def _rst_headings(lines: list[str]) -> list[_Head]:
    # imported here: the language server imports this module and starts without docutils
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    settings = get_default_settings(Parser)
    settings.report_level = 5  # Sphinx roles and directives are unknown here: say nothing
    settings.halt_level = 5
    settings.file_insertion_enabled = False  # never read a file an ``include`` names
    settings.raw_enabled = False
    document = new_document("<changelog>", settings)
    Parser(inliner=_titles_only_inliner(lines)).parse("\n".join(lines), document)
    found: list[_Head] = []
    for section in document.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is None or title.parent is not section or title.line is None:
            continue
        underline = title.line - 1  # title.line: the underline's 1-based number
        title_line = underline - 1
        if not 0 <= title_line < len(lines):
            continue
        mark = lines[underline].strip()[:1]
        # an overline: the same adornment right above, unless that is the heading before's
        # underline ("Title\n~~~\nNext\n~~~" with no blank line)
        after_previous = found[-1].body_start if found else 0
        over = title_line - 1 >= after_previous and _adornment(lines[title_line - 1], mark)
        level = sum(1 for _ in _section_ancestors(section, nodes.section))
        found.append(
            _Head(
                title=" ".join(title.astext().split()),
                heading=lines[title_line].strip(),
                level=level,
                start=title_line - 1 if over else title_line,
                title_line=title_line,
                body_start=underline + 1,
            )
        )
    return found


def _titles_only_inliner(lines: list[str]):  # noqa: ANN202 - a docutils Inliner
    """docutils' inline parser, run only on the lines that an adornment line follows (every
    section title is one): the roles, links and emphasis of body text never make or move a
    section, and skipping them more than halves the parse (measured here: 4.0 s -> 1.7 s for
    scrapy's 400 kB docs/news.rst)."""
    from docutils import nodes
    from docutils.parsers.rst.states import Inliner

    titles = {
        line.strip()
        for line, below in zip(lines, lines[1:], strict=False)
        if line.strip() and _adornment(below)
    }
    # An instance attribute, not a subclass: Inliner.init_customizations builds its patterns
    # from vars(type(self)), which a subclass does not hold.
    inliner = Inliner()
    parse_inline = inliner.parse

    def parse(text, lineno, memo, parent):  # noqa: ANN001, ANN202 - Inliner.parse's own
        if text.strip() in titles:
            return parse_inline(text, lineno, memo, parent)
        return [nodes.Text(text)], []

    inliner.parse = parse
    return inliner


def _adornment(line: str, mark: str | None = None) -> bool:
    """A reST adornment line: one punctuation character repeated (``mark``, when given)."""
    stripped = line.strip()
    return (
        len(stripped) >= 2
        and not stripped[0].isalnum()
        and stripped == stripped[0] * len(stripped)
        and (mark is None or stripped[0] == mark)
    )


def _section_ancestors(node, section_type):  # noqa: ANN001, ANN202 - docutils nodes
    while node is not None:
        if isinstance(node, section_type):
            yield node
        node = node.parent


def version_section(text: str, version: str) -> str | None:
    """The part of a changelog under the heading that names ``version``, heading included.

    A heading names the version when its visible text holds a version equal to it
    (``1.12`` for ``1.12.0``, ``v2.0.0``; not ``2.0.0rc1``); link targets do not count, so
    Keep a Changelog's ``## [Unreleased](.../compare/1.12.0...HEAD)`` is not the 1.12.0
    section. The section ends at the next heading of the same or a higher level, or at any
    later heading that names another version.

    >>> log = "# Changes\\n\\n## 2.1.0\\n\\n- new\\n\\n## 2.0.0 (2024-06-16)\\n\\n### Removed\\n\\n"
    >>> log += "- `np.float_` is gone\\n\\n## 1.26.4\\n\\n- old\\n"
    >>> print(version_section(log, "2.0.0"))
    ## 2.0.0 (2024-06-16)
    <BLANKLINE>
    ### Removed
    <BLANKLINE>
    - `np.float_` is gone
    >>> version_section(log, "3.0") is None
    True
    >>> kac = "## [Unreleased](https://x.org/compare/1.2.0...HEAD)\\n\\n- next\\n\\n"
    >>> kac += "## [1.2.0](https://x.org/compare/1.1.0...1.2.0) - 2024-01-02\\n\\n- this\\n"
    >>> print(version_section(kac, "1.2.0"))
    ## [1.2.0](https://x.org/compare/1.1.0...1.2.0) - 2024-01-02
    <BLANKLINE>
    - this
    """
    wanted = _parse(version.strip().lstrip("=<>~!").strip().lstrip("vV"))
    if wanted is None:
        return None
    found = sections(text)
    for n, section in enumerate(found):
        named = [_parse(v) for v in title_versions(section.title)]
        if wanted not in named:
            continue
        end = section.end
        for later in found[n + 1 :]:
            if later.start >= end:
                break
            named = [_parse(v) for v in title_versions(later.title)]
            if named and wanted not in named:
                end = later.start  # a sub-heading of another release (flat changelogs)
                break
        lines = _lines(text)
        return "\n".join(lines[section.start : end]).strip() or None
    return None
