"""Release notes of a library version: fetched once, cached on disk, cut to what matters.

Where the notes come from, in order:

1. the distribution's own links in its PyPI metadata (``GET {pypi}/{name}/{version}/json``,
   ``info.project_urls``): a link named like "Changelog", "Release notes", "Changes", "History",
   "What's new" or "News" is fetched (HTML, Markdown, reStructuredText or plain text) and the
   section headed by the version is taken; a GitHub link is read through the GitHub releases API;
2. GitHub releases of the repository any project link points at (``{github_api}/repos/OWNER/
   REPO/releases``), the release whose tag is the version;
3. the project description in the PyPI metadata, when it holds a section for the version.

Results, found or not, are cached as JSON under ``{cache}/release-notes/{name}/{version}.json``
(``$RECODE_CACHE_DIR``, else ``$XDG_CACHE_HOME/recode``, else ``~/.cache/recode``); a "nothing
found" entry is kept for a week, notes forever. Offline (``offline=True`` or no network), the
cache alone answers and :class:`Lookup` says so. The base URLs are settings (and the
``RECODE_PYPI_URL`` / ``RECODE_GITHUB_API_URL`` environment variables), so tests serve
real-format documents from a local server.

:func:`excerpt` keeps the paragraphs and list items of a section that mention a symbol, for a
prompt's update information.
"""

from __future__ import annotations

import codecs
import html.parser
import json
import logging
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from recode.dataset.changelog import version_section
from recode.dataset.knowledge import canonical_name

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_GITHUB_API",
    "DEFAULT_PYPI",
    "Lookup",
    "ReleaseNotes",
    "ReleaseNotesFetcher",
    "default_cache_dir",
    "excerpt",
    "html_to_text",
    "version_section",
]

DEFAULT_PYPI = "https://pypi.org/pypi"
DEFAULT_GITHUB_API = "https://api.github.com"
NEGATIVE_TTL = 7 * 24 * 3600.0
USER_AGENT = "recode-migrate (release notes; +https://arxiv.org/abs/2506.20495)"

_CHANGELOG_KEYS = (
    "changelog",
    "changes",
    "releasenotes",
    "release",
    "history",
    "whatsnew",
    "news",
)
_GITHUB = re.compile(r"^https?://(?:www\.)?github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?(?:[/#?].*)?$")


@dataclass(frozen=True)
class ReleaseNotes:
    library: str
    version: str
    text: str  # the notes of this version (plain text / Markdown)
    source_url: str  # where they were read (a page, or the release's web page)
    origin: str  # "changelog" | "github-release" | "pypi-description"
    fetched_at: float


@dataclass(frozen=True)
class Lookup:
    """What a look-up found and how: from the cache, fetched, or nothing (and why)."""

    library: str
    version: str
    notes: ReleaseNotes | None
    cached: bool = False
    offline: bool = False  # the network was off or failed: only the cache could answer
    message: str | None = None  # for the user: what went wrong or was skipped


def default_cache_dir() -> Path:
    """``$RECODE_CACHE_DIR``, else ``$XDG_CACHE_HOME/recode``, else ``~/.cache/recode``."""
    explicit = os.environ.get("RECODE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "recode"


class _FetchError(Exception):
    def __init__(self, message: str, network: bool) -> None:
        super().__init__(message)
        self.network = network  # True: no connection at all (offline), False: HTTP error etc.


class ReleaseNotesFetcher:
    """Finds and caches release notes (see the module doc)."""

    def __init__(
        self,
        *,
        pypi_url: str | None = None,
        github_api: str | None = None,
        cache_dir: Path | None = None,
        timeout: float = 10.0,
        offline: bool = False,
        max_bytes: int = 5_000_000,
    ) -> None:
        self.pypi_url = (pypi_url or os.environ.get("RECODE_PYPI_URL") or DEFAULT_PYPI).rstrip("/")
        self.github_api = (
            github_api or os.environ.get("RECODE_GITHUB_API_URL") or DEFAULT_GITHUB_API
        ).rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.timeout = timeout
        self.offline = offline
        self.max_bytes = max_bytes

    # -- public --------------------------------------------------------------------------------

    def get(self, library: str, version: str) -> Lookup:
        """The notes of ``library`` ``version``: from the cache, else fetched (and cached)."""
        name = canonical_name(library)
        version = _clean_version(version)
        cached = self._read_cache(name, version)
        if cached is not None:
            notes, found_at = cached
            if notes is not None:
                return Lookup(name, version, notes, cached=True, offline=self.offline)
            if self.offline or time.time() - found_at < NEGATIVE_TTL:
                return Lookup(
                    name,
                    version,
                    None,
                    cached=True,
                    offline=self.offline,
                    message=f"no release notes were found for {name} {version} (cached result)",
                )
        if self.offline:
            return Lookup(
                name,
                version,
                None,
                offline=True,
                message=f"offline: no cached release notes for {name} {version}; "
                "using the knowledge base's note only",
            )
        try:
            notes, tried = self._fetch(name, version)
        except _FetchError as exc:
            if exc.network:
                return Lookup(
                    name,
                    version,
                    None,
                    offline=True,
                    message=f"offline ({exc}): no cached release notes for {name} {version}; "
                    "using the knowledge base's note only",
                )
            return Lookup(name, version, None, message=f"release notes of {name} {version}: {exc}")
        self._write_cache(name, version, notes)
        if notes is None:
            where = "; ".join(tried) if tried else "no changelog or repository link"
            return Lookup(
                name,
                version,
                None,
                message=f"no release notes were found for {name} {version} ({where})",
            )
        return Lookup(name, version, notes)

    # -- fetching ------------------------------------------------------------------------------

    def _fetch(self, name: str, version: str) -> tuple[ReleaseNotes | None, list[str]]:
        meta = self._pypi_metadata(name, version)
        info = meta.get("info") if isinstance(meta, dict) else None
        info = info if isinstance(info, dict) else {}
        urls = _project_urls(info)
        tried: list[str] = []
        changelogs = [u for key, u in urls if _is_changelog_key(key)]
        repos: list[tuple[str, str]] = []
        for _, u in urls:
            m = _GITHUB.match(u)
            if m and (m.group(1), m.group(2)) not in repos:
                repos.append((m.group(1), m.group(2)))
        for url in changelogs:
            m = _GITHUB.match(url)
            if m:
                continue  # read through the releases API below
            try:
                notes = self._from_page(name, version, url)
            except _FetchError as exc:
                tried.append(f"{url}: {exc}")
                continue
            if notes is not None:
                return notes, tried
            tried.append(f"{url}: no section for {version}")
        for owner, repo in repos:
            try:
                notes = self._from_github(name, version, owner, repo)
            except _FetchError as exc:
                tried.append(f"GitHub releases of {owner}/{repo}: {exc}")
                continue
            if notes is not None:
                return notes, tried
            tried.append(f"GitHub releases of {owner}/{repo}: no release {version}")
        description = info.get("description")
        if isinstance(description, str) and description.strip():
            section = version_section(description, version)
            if section:
                page = f"{self.pypi_url}/{name}/{version}/json"
                return ReleaseNotes(
                    name, version, section, page, "pypi-description", time.time()
                ), tried
            tried.append("PyPI description: no section for the version")
        return None, tried

    def _pypi_metadata(self, name: str, version: str) -> dict[str, Any]:
        url = f"{self.pypi_url}/{urllib.parse.quote(name)}/{urllib.parse.quote(version)}/json"
        try:
            data = json.loads(self._get(url, "application/json")[0])
        except _FetchError as exc:
            if exc.network:
                raise
            # the version may be unknown to the index; the project's metadata still has links
            try:
                data = json.loads(
                    self._get(
                        f"{self.pypi_url}/{urllib.parse.quote(name)}/json", "application/json"
                    )[0]
                )
            except _FetchError as again:
                if again.network:
                    raise
                raise _FetchError(f"PyPI has no metadata for {name}: {again}", False) from None
        except ValueError:
            raise _FetchError(f"PyPI metadata of {name} is not JSON", False) from None
        return data if isinstance(data, dict) else {}

    def _from_page(self, name: str, version: str, url: str) -> ReleaseNotes | None:
        body, content_type = self._get(url, "text/html, text/markdown, text/plain;q=0.9, */*")
        text = body.decode(_charset(content_type), "replace")
        if "html" in content_type or re.search(r"<(?:html|body|h[1-6])\b", text[:5000], re.I):
            text = html_to_text(text)
        section = version_section(text, version)
        if not section:
            return None
        return ReleaseNotes(name, version, section, url, "changelog", time.time())

    def _from_github(self, name: str, version: str, owner: str, repo: str) -> ReleaseNotes | None:
        base = f"{self.github_api}/repos/{owner}/{repo}/releases"
        for page in (1, 2, 3):
            body, _ = self._get(f"{base}?per_page=100&page={page}", "application/vnd.github+json")
            try:
                releases = json.loads(body)
            except ValueError:
                raise _FetchError("the GitHub API did not answer JSON", False) from None
            if not isinstance(releases, list) or not releases:
                return None
            for release in releases:
                if not isinstance(release, dict) or release.get("draft"):
                    continue
                tag = str(release.get("tag_name") or "")
                if _tag_version(tag, name) == _parse(version):
                    text = str(release.get("body") or "").strip()
                    if not text:
                        return None
                    title = str(release.get("name") or tag)
                    return ReleaseNotes(
                        name,
                        version,
                        f"# {title}\n\n{text}",
                        str(release.get("html_url") or f"{base}/tags/{tag}"),
                        "github-release",
                        time.time(),
                    )
            if len(releases) < 100:
                return None
        return None

    def _get(self, url: str, accept: str) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(self.max_bytes + 1)
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise _FetchError(f"HTTP {exc.code} from {url}", False) from None
        except urllib.error.URLError as exc:
            raise _FetchError(f"{url}: {exc.reason}", True) from None
        except (TimeoutError, OSError) as exc:
            raise _FetchError(f"{url}: {exc}", True) from None
        if len(body) > self.max_bytes:
            raise _FetchError(f"{url} is larger than {self.max_bytes} bytes", False)
        return body, content_type

    # -- cache ---------------------------------------------------------------------------------

    def _cache_file(self, name: str, version: str) -> Path:
        safe = re.sub(r"[^\w.+-]", "_", version)
        return self.cache_dir / "release-notes" / name / f"{safe}.json"

    def _read_cache(self, name: str, version: str) -> tuple[ReleaseNotes | None, float] | None:
        path = self._cache_file(name, version)
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        notes = data.get("notes")
        found_at = float(data.get("checked_at", 0.0))
        if notes is None:
            return None, found_at
        try:
            return ReleaseNotes(**notes), found_at
        except TypeError:
            return None

    def _write_cache(self, name: str, version: str, notes: ReleaseNotes | None) -> None:
        path = self._cache_file(name, version)
        record = {"notes": asdict(notes) if notes else None, "checked_at": time.time()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, indent=1)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a fetch next time


def _charset(content_type: str) -> str:
    """The codec of a ``Content-Type``'s charset; UTF-8 when none is given or Python does not
    know the one named (servers send MySQL's ``utf8mb4``): decoded with replacement, a page in
    another charset loses a few characters rather than the whole lookup."""
    m = re.search(r"charset=\"?([\w.:-]+)", content_type, re.I)
    if not m:
        return "utf-8"
    try:
        b" ".decode(m.group(1), "replace")  # LookupError: an unknown codec, or one like base64
        return codecs.lookup(m.group(1)).name
    except LookupError:
        log.warning("unknown charset %r in %r: read as UTF-8 instead", m.group(1), content_type)
        return "utf-8"


def _project_urls(info: dict[str, Any]) -> list[tuple[str, str]]:
    urls: list[tuple[str, str]] = []
    project_urls = info.get("project_urls")
    if isinstance(project_urls, dict):
        urls.extend((str(k), str(v)) for k, v in project_urls.items() if isinstance(v, str))
    for key in ("home_page", "download_url"):
        value = info.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            urls.append((key, value))
    return urls


def _is_changelog_key(key: str) -> bool:
    squashed = re.sub(r"[^a-z]", "", key.lower())
    return any(k in squashed for k in _CHANGELOG_KEYS)


def _clean_version(version: str) -> str:
    version = version.strip().lstrip("=<>~!").strip().lstrip("vV")
    return version


def _parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def _tag_version(tag: str, name: str) -> Version | None:
    """``v1.12.0``, ``1.12.0``, ``numpy-2.0.0``, ``release-1.2`` -> the version."""
    m = re.search(r"(\d+(?:\.\d+)*(?:(?:a|b|rc|\.post|\.dev)\d+)?)$", tag.strip())
    return _parse(m.group(1)) if m else None


# -- text ----------------------------------------------------------------------------------


def excerpt(text: str, terms: Iterable[str], max_chars: int = 1500) -> str:
    """The paragraphs and list items of ``text`` that mention any of ``terms``, in order,
    joined by blank lines and cut to ``max_chars``; ``""`` when none does.

    A term matches as a whole word (``solve`` is not found in ``solved``), case-sensitively.

    >>> notes = "## 1.12\\n\\n- `torch.solve` is removed; use torch.linalg.solve.\\n"
    >>> notes += "- Faster `torch.sort`.\\n\\nMisc fixes."
    >>> excerpt(notes, ["torch.solve"])
    '- `torch.solve` is removed; use torch.linalg.solve.'
    """
    patterns = [
        re.compile(r"(?<![\w])" + re.escape(t) + r"(?![\w])") for t in terms if t and t.strip()
    ]
    if not patterns:
        return ""
    chunks: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        starts_item = bool(re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", line))
        if not line.strip() or starts_item:
            if current:
                chunks.append("\n".join(current))
            current = [line] if line.strip() else []
        else:
            current.append(line)
    if current:
        chunks.append("\n".join(current))
    picked = [c.strip() for c in chunks if any(p.search(c) for p in patterns)]
    out = ""
    for chunk in picked:
        candidate = f"{out}\n\n{chunk}" if out else chunk
        if len(candidate) > max_chars:
            if not out:
                out = chunk[: max_chars - 3].rstrip() + "..."
            break
        out = candidate
    return out


class _TextExtractor(html.parser.HTMLParser):
    _SKIP = {"script", "style", "nav", "header", "footer", "noscript", "svg", "head"}
    _BLOCK = {
        "p",
        "div",
        "section",
        "article",
        "pre",
        "table",
        "tr",
        "ul",
        "ol",
        "dl",
        "dd",
        "dt",
        "blockquote",
        "br",
        "hr",
        "main",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self._BLOCK:
            if not (self.parts and self.parts[-1] == "\n- "):  # <li><p>: one item line
                self.parts.append("\n")
            if tag == "pre":
                self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCK:
            self.parts.append("\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
        self.parts.append(data)


def html_to_text(page: str) -> str:
    """Readable text of an HTML page: headings as Markdown ``#``, list items as ``- ``.

    >>> print(html_to_text("<h2>1.0<a href='#x'>¶</a></h2><ul><li>Removed <code>f</code>."
    ...                    "</li></ul><script>x()</script>"))
    ## 1.0¶
    <BLANKLINE>
    - Removed f.
    """
    parser = _TextExtractor()
    parser.feed(page)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        line = re.sub(r"^(#+ |- )\s+", r"\1", line.lstrip()) if line.strip() else ""
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()
