"""Release notes cut into per-change entries: what was deprecated, removed or changed.

Input is the text of one release's notes (what :mod:`recode.dataset.release_notes` fetches and
caches, or a changelog file from an sdist). The layouts handled are the ones the nine libraries
and their ecosystem use:

* numpy / scipy / pandas reStructuredText release notes: section headings underlined (and for
  scipy overlined) such as "Deprecations", "Expired deprecations", "Compatibility notes",
  "Deprecated features", "Backwards incompatible changes", "Removal of prior version
  deprecations/changes"; each change a list item or a sub-heading with its paragraphs;
* towncrier output, reST or Markdown ("Deprecations and Removals", "Removals", ...);
* Keep a Changelog Markdown ("### Deprecated", "### Removed", "### Changed");
* Markdown change logs whose categories are top-level bullets (jax: ``* Deprecations &
  removals`` with the changes as nested bullets), and GitHub release bodies.

Each entry keeps its category (:data:`CATEGORIES`), the heading it sat under, its text and the
code names it mentions (``np.alen``, :meth:`DataFrame.append`, `scipy.stats.moment`,
``{func}`jax.numpy.sort```), so that API diffs and knowledge-base records can be joined with the
note that announced them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from recode.dataset.changelog import sections
from recode.dataset.knowledge import IMPORT_NAMES, canonical_name
from recode.dataset.release_notes import Lookup, ReleaseNotesFetcher, default_cache_dir

__all__ = [
    "CATEGORIES",
    "NoteEntry",
    "categorize",
    "entries_for_versions",
    "known_versions",
    "mentions",
    "qualify",
    "split_notes",
    "symbols_in",
]

#: Categories an entry can have; ``change`` is any other API change section ("Changed").
CATEGORIES = ("deprecation", "removal", "expired", "compatibility", "change")

_ALIASES = {
    "np": "numpy",
    "pd": "pandas",
    "plt": "matplotlib.pyplot",
    "sns": "seaborn",
    "jnp": "jax.numpy",
    "mpl": "matplotlib",
    "sp": "scipy",
    "tf": "tensorflow",
}


@dataclass(frozen=True)
class NoteEntry:
    library: str
    version: str
    category: str
    heading: str  # the section heading(s) it sat under, innermost last, joined by " / "
    text: str  # the entry as written (markup kept), without the list marker
    symbols: tuple[str, ...] = ()  # code names mentioned, as written (``np.`` -> ``numpy.``)
    source_url: str = ""
    line: int = 0  # 1-based line in the notes text where the entry starts
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["symbols"] = list(self.symbols)
        if not self.extra:
            data.pop("extra")
        return data


# -- categories ----------------------------------------------------------------------------------

_SKIP_HEADINGS = re.compile(
    r"(?i)\b(bug ?fix|bugs|fixed|features?|added|enhancement|improvement|performance|"
    r"documentation|contributors|authors|issues closed|pull requests|vendored|process|misc|"
    r"highlights|new functions|security|internal|build|testing|trivial)\b"
)


def categorize(heading: str) -> str | None:
    """The category a section heading announces, or None for sections of other news.

    >>> [categorize(h) for h in ("Expired deprecations", "Deprecated features",
    ...  "Removal of prior version deprecations/changes", "Backwards incompatible changes",
    ...  "Deprecations and Removals", "### Removed", "Bug Fixes", "Compatibility notes")]
    ['expired', 'deprecation', 'expired', 'compatibility', 'deprecation', 'removal', None, \
'compatibility']
    """
    h = re.sub(r"[#*`:]", " ", heading).strip().lower()
    h = re.sub(r"\s+", " ", h)
    if not h:
        return None
    if re.search(
        r"expired|removal of prior|prior version deprecation|enforced deprecation|"
        r"deprecations? (?:have been |were )?(?:removed|expired|enforced)",
        h,
    ):
        return "expired"
    if re.search(r"incompatib|compatibility|breaking|api changes|backward", h):
        return "compatibility"
    if re.search(r"deprecat", h):
        return "deprecation"  # "Deprecations and Removals": per entry, see _entry_category
    if re.search(r"\bremov|\bdropped\b", h):
        return "removal"
    if re.fullmatch(r"(?:other )?(?:api )?chang(?:ed|es)|behaviou?r changes?", h):
        return "change"
    return None


_REMOVED_WORDS = re.compile(
    r"(?i)\b(?:has been removed|have been removed|were removed|was removed|is removed|"
    r"are removed|removed|remove|no longer (?:available|exists?|supported)|drop|dropped)\b"
)


def _entry_category(section: str, heading: str, text: str) -> str:
    """An entry under a mixed heading ("Deprecations and Removals") is a removal when it says
    so; everything else keeps its section's category."""
    if section == "deprecation" and re.search(r"(?i)remov|drop", heading):
        first = re.split(r"\.(?:\s|$)", text)[0]
        if _REMOVED_WORDS.search(first) and not re.search(r"(?i)deprecat", first):
            return "removal"
    return section


# -- structure -----------------------------------------------------------------------------------

_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)]|#\.)\s+(.*)$")
_CATEGORY_BULLET = re.compile(r"^(?:[-*+])\s+(.{3,60}?)\s*:?\s*$")


@dataclass
class _Heading:
    line: int  # index of the title line
    level: int
    title: str
    body_start: int  # first line after the heading (and its underline)
    start: int  # first line of the heading: its overline, if any, else ``line``


def _headings(text: str) -> list[_Heading]:
    """The headings of Markdown or reStructuredText notes, as :mod:`recode.dataset.changelog`
    reads them (a reST level is the nesting docutils gives the adornment styles)."""
    return [
        _Heading(s.title_line, s.level, s.heading, s.body_start, s.start) for s in sections(text)
    ]


def _category_bullets(lines: list[str], start: int, end: int) -> list[_Heading]:
    """Top-level bullets that name a category and hold nested bullets (jax's change log)."""
    found: list[_Heading] = []
    for i in range(start, end):
        m = _CATEGORY_BULLET.match(lines[i])
        if not m or categorize(m.group(1)) is None and not _SKIP_HEADINGS.search(m.group(1)):
            continue
        nxt = next((j for j in range(i + 1, end) if lines[j].strip()), None)
        if nxt is not None and re.match(r"^\s+(?:[-*+]|\d+[.)])\s+", lines[nxt]):
            found.append(_Heading(i, 99, m.group(1), i + 1, i))
    return found


_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s")


def _blocks(lines: list[str], start: int, end: int, base: int) -> Iterator[tuple[int, str]]:
    """(line index, text) of each change in lines[start:end]: list items at the outermost
    indent of the block (with their continuation lines), else paragraphs."""
    body = [(i, lines[i]) for i in range(start, end)]
    # drop reST comments/targets/directives and their indented bodies
    kept: list[tuple[int, str]] = []
    skipping = False
    for i, line in body:
        if _RST_DIRECTIVE.match(line) and not line.strip().startswith(".. code"):
            skipping = True
            continue
        if skipping and (not line.strip() or line.startswith((" ", "\t"))):
            if line.strip():
                continue
            skipping = False
            kept.append((i, line))
            continue
        skipping = False
        kept.append((i, line))
    indents = [len(m.group(1)) for _, line in kept if (m := _BULLET.match(line))]
    outer = min(indents) if indents else None
    current: list[str] = []
    first = start
    in_fence = False

    def flush() -> Iterator[tuple[int, str]]:
        text = "\n".join(current).strip("\n")
        if text.strip():
            yield first, _dedent(text)

    for i, line in kept:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        m = _BULLET.match(line) if not in_fence else None
        if outer is not None:
            if m and len(m.group(1)) == outer:
                yield from flush()
                current = [" " * (len(m.group(1)) + 2) + m.group(2)]
                first = i
            elif current and (not line.strip() or _indent(line) > outer or in_fence):
                current.append(line)
            elif current and line.strip():
                # text back at the outer indent ends the item (a paragraph between lists)
                yield from flush()
                current = []
            continue
        if not line.strip():
            yield from flush()
            current = []
            continue
        if not current:
            first = i
        current.append(line)
    yield from flush()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _dedent(text: str) -> str:
    lines = text.split("\n")
    nonblank = [ln for ln in lines if ln.strip()]
    cut = min((_indent(ln) for ln in nonblank), default=0)
    return "\n".join(ln[cut:] if len(ln) >= cut else ln.strip() for ln in lines).strip()


def split_notes(
    text: str,
    library: str = "",
    version: str = "",
    source_url: str = "",
    *,
    categories: Iterable[str] = CATEGORIES,
) -> list[NoteEntry]:
    """Every change announced in ``text`` under a heading of one of ``categories``.

    Sub-headings inside a category section (numpy's notes give each change a sub-heading)
    are entries of their own, with their paragraphs; list items are entries; a paragraph that
    is not in a list is an entry when it names some code (an introduction like "The
    following previously deprecated features are affected:" is not).
    """
    wanted = set(categories)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    heads = _headings(text)
    entries: list[NoteEntry] = []
    # each heading's span ends at the next heading of the same or a higher level
    spans: list[tuple[_Heading, int]] = []
    for n, h in enumerate(heads):
        end = next((x.start for x in heads[n + 1 :] if x.level <= h.level), len(lines))
        spans.append((h, end))
    # sections whose own content (up to the next heading of any level) holds category bullets
    pseudo: list[tuple[_Heading, int]] = []
    bounds = [h.line for h in heads] + [len(lines)]
    for n, h in enumerate(heads):
        stop = bounds[n + 1] if n + 1 < len(bounds) else len(lines)
        bullets = _category_bullets(lines, h.body_start, stop)
        for k, b in enumerate(bullets):
            b_end = bullets[k + 1].line if k + 1 < len(bullets) else stop
            pseudo.append((b, b_end))
    if not heads:
        bullets = _category_bullets(lines, 0, len(lines))
        for k, b in enumerate(bullets):
            pseudo.append((b, bullets[k + 1].line if k + 1 < len(bullets) else len(lines)))

    def parents(h: _Heading) -> list[str]:
        chain = [x.title for x, end in spans if x.line < h.line < end and x.level < h.level]
        return chain

    covered: set[int] = set()
    for h, end in spans + pseudo:
        category = categorize(h.title)
        if category is None or h.line in covered:
            continue
        if h.level != 99 and any(categorize(t) for t in parents(h)):
            continue  # inside another category's section: an entry of that section
        if h.level == 99 and h.title.lower().startswith(("bug", "change")) and category != "change":
            continue
        # sub-headings inside the section become entries; text before the first one is split
        inner = [x for x in heads if h.line < x.line < end]
        first_sub = inner[0].start if inner else end
        chain = " / ".join(parents(h) + [h.title]) if h.level != 99 else h.title
        for idx, block in _blocks(lines, h.body_start, first_sub, 0):
            if h.level == 99:
                block = _dedent(block)
            is_item = bool(_BULLET.match(lines[idx]))
            syms = symbols_in(block, library)
            if not is_item and not syms:
                continue
            cat = _entry_category(category, h.title, block)
            if cat in wanted:
                entries.append(
                    NoteEntry(library, version, cat, chain, block, syms, source_url, idx + 1)
                )
        for sub in inner:
            if any(
                x.line < sub.line and x.level < sub.level and x.line > h.line
                for x in inner
                if x is not sub and x.line < sub.line and x.level < sub.level
            ):
                continue  # nested deeper: part of its parent sub-heading's entry
            covered.add(sub.line)
            sub_end = next(
                (x.start for x in inner if x.line > sub.line and x.level <= sub.level), end
            )
            # the nested headings' titles stay in the entry, their adornment lines do not
            adornments = {
                i
                for x in inner
                if sub.line < x.line < sub_end
                for i in range(x.start, x.body_start)
                if i != x.line
            }
            body = "\n".join(
                lines[i] for i in range(sub.body_start, sub_end) if i not in adornments
            )
            if not body.strip():
                continue  # an empty placeholder sub-section
            block = (sub.title + "\n\n" + _dedent(body)).strip()
            cat = _entry_category(category, h.title, block)
            if cat in wanted:
                entries.append(
                    NoteEntry(
                        library,
                        version,
                        cat,
                        chain + " / " + sub.title,
                        block,
                        symbols_in(block, library),
                        source_url,
                        sub.line + 1,
                    )
                )
    entries.sort(key=lambda e: e.line)
    return entries


# -- symbols -------------------------------------------------------------------------------------

_CODE = re.compile(
    r"(?::(?:meth|func|class|attr|mod|obj|data|exc|ref):|\{(?:meth|func|class|attr|mod|obj|data)\})"
    r"`~?([^`<>]+?)(?:\s*<([^`>]+)>)?`"  # roles: :meth:`x`, {func}`x`, :ref:`text <target>`
    r"|``([^`]+?)``"  # reST literal
    r"|(?<![`:}])`([^`\s][^`]*?)`(?!`|_)"  # Markdown code / reST default role
)
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*$")


def symbols_in(text: str, library: str = "") -> tuple[str, ...]:
    """Dotted names a note marks as code, in order, without repeats; ``np.``/``pd.``/``jnp.``
    prefixes spelled out. ``f()`` counts as ``f``; ``x=1`` or prose does not count.

    >>> symbols_in("Removed :meth:`DataFrame.append`, use ``pd.concat()`` (:issue:`35407`)")
    ('DataFrame.append', 'pandas.concat')
    >>> symbols_in("The ``kind`` argument to {func}`jax.numpy.sort` is now removed.")
    ('kind', 'jax.numpy.sort')
    """
    out: list[str] = []
    for m in _CODE.finditer(text):
        if m.group(0).startswith((":issue:", ":ref:", ":pep:", ":doc:", ":user:")):
            continue
        raw = next(g for g in (m.group(1), m.group(3), m.group(4)) if g is not None)
        name = raw.strip().lstrip("~.").strip()
        name = re.sub(r"\(.*\)$", "", name).strip()
        if not _DOTTED.match(name) or len(name) > 120:
            continue
        head, _, rest = name.partition(".")
        if head in _ALIASES and rest:
            name = f"{_ALIASES[head]}.{rest}"
        if name not in out:
            out.append(name)
    return tuple(out)


def qualify(symbol: str, library: str) -> str:
    """A note's name as a fully qualified path of ``library``: ``DataFrame.append`` in pandas'
    notes is ``pandas.DataFrame.append``; names already under an import root stay.

    >>> qualify("DataFrame.append", "pandas"), qualify("numpy.alen", "numpy")
    ('pandas.DataFrame.append', 'numpy.alen')
    >>> qualify("stats.moment", "scipy"), qualify("sklearn.svm.SVC", "scikit-learn")
    ('scipy.stats.moment', 'sklearn.svm.SVC')
    """
    roots = IMPORT_NAMES.get(canonical_name(library), (library.replace("-", "_"),))
    if symbol.split(".")[0] in roots:
        return symbol
    return f"{roots[0]}.{symbol}" if roots and roots[0] else symbol


def mentions(entry: NoteEntry, path: str) -> bool:
    """Whether ``entry`` names ``path`` (a fully qualified symbol): by one of its code names,
    qualified or as the tail (``DataFrame.append`` names ``pandas.DataFrame.append``; a bare
    ``append`` does not), or, for a parameter ``f(param)``, by the parameter and the callable.
    """
    base, _, param = path.partition("(")
    param = param.rstrip(")")
    leaf2 = ".".join(base.split(".")[-2:])
    names = {qualify(s, entry.library) for s in entry.symbols} | set(entry.symbols)
    hit = base in names or (leaf2.count(".") == 1 and leaf2 in entry.symbols)
    if not hit:
        leaf = base.rsplit(".", 1)[-1]
        # "``tri``, ``triu`` & ``tril`` of `scipy.linalg`": a bare leaf and its module named
        module = base.rsplit(".", 1)[0]
        hit = leaf in entry.symbols and any(
            qualify(s, entry.library) == module for s in entry.symbols
        )
    if hit and param:
        word = re.compile(rf"\b{re.escape(param)}\b")
        return param in entry.symbols or word.search(entry.text) is not None
    return hit


# -- fetching through the release-notes cache ----------------------------------------------------


def known_versions(
    library: str,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    python: str | None = None,
    wheels_only: bool = False,
) -> list[str]:
    """Released versions of ``library``, oldest first: from ``pip index versions`` (the
    package index's ordinary client), or offline from the versions in the release-notes cache.
    ``wheels_only``: only those with a wheel for this interpreter, and none from the cache.
    """
    name = canonical_name(library)
    found: set[str] = set()
    if not offline:
        try:
            out = subprocess.run(
                [
                    python or sys.executable,
                    "-m",
                    "pip",
                    "index",
                    "versions",
                    name,
                    *(["--only-binary=:all:"] if wheels_only else []),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        m = re.search(r"Available versions:\s*(.+)", out)
        if m:
            found.update(v.strip() for v in m.group(1).split(","))
    cache = (cache_dir or default_cache_dir()) / "release-notes" / name
    if cache.is_dir() and not wheels_only:
        found.update(p.stem for p in cache.glob("*.json") if not p.name.startswith("."))
    return sorted((v for v in found if _version(v) is not None), key=lambda v: _version(v))


def _version(v: str) -> Version | None:
    try:
        return Version(v)
    except InvalidVersion:
        return None


def entries_for_versions(
    library: str,
    versions: Iterable[str],
    fetcher: ReleaseNotesFetcher,
    *,
    categories: Iterable[str] = CATEGORIES,
) -> tuple[list[NoteEntry], list[Lookup]]:
    """Entries of each version's notes (fetched once and cached by ``fetcher``), and the
    look-ups, so callers can say which versions had no notes."""
    entries: list[NoteEntry] = []
    lookups: list[Lookup] = []
    for v in versions:
        lookup = fetcher.get(library, v)
        lookups.append(lookup)
        if lookup.notes is None:
            continue
        entries.extend(
            split_notes(
                lookup.notes.text,
                canonical_name(library),
                v,
                lookup.notes.source_url,
                categories=categories,
            )
        )
    return entries, lookups


def select_versions(
    versions: list[str], since: str | None, until: str | None, *, prereleases: bool = False
) -> list[str]:
    """The versions in (since, until]: a release's notes describe what changed since the
    previous one, so ``--from 1.26 --to 2.0`` reads 2.0.0's notes (and 2.0's patch releases
    up to ``until``)."""
    lo = _version(since) if since else None
    hi = _version(until) if until else None
    out = []
    for v in versions:
        pv = _version(v)
        if pv is None or (pv.is_prerelease and not prereleases):
            continue
        if lo is not None and pv <= lo:
            continue
        if hi is not None and pv > hi:
            continue
        out.append(v)
    return out


def dump_jsonl(entries: Iterable[NoteEntry], fh) -> int:  # noqa: ANN001 - any text stream
    n = 0
    for e in entries:
        fh.write(json.dumps(e.to_dict(), ensure_ascii=False) + "\n")
        n += 1
    return n
