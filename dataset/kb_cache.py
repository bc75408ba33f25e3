"""A cache of parsed knowledge-base files, so that a start (the language server's first
diagnostics, each ``recode-migrate`` run) does not validate 2,000+ records again.

Measured (BENCHMARKS.md, language server): loading the shipped base parses and validates its
records in 110-145 ms; unpickling the same records takes 35-45 ms.

An entry can never be stale: its name is a hash of everything the parse reads, namely the
file's bytes (the very bytes then parsed, not a second read), its path (problems name it),
the libraries kept, the source of the parser (``knowledge.py``) and the versions of Python
and ``packaging`` (whose ``Version`` objects are stored). A file that changes gets a new
name; the entry of its old content is removed when the new one is written. An entry that
cannot be read back (truncated, from another pickle format, not what it should hold) is
ignored and replaced; a cache folder that cannot be written to is not used. Entries live
under the user cache folder (``$RECODE_CACHE_DIR``, else ``$XDG_CACHE_HOME/recode``, else
``~/.cache/recode``), in ``kb/``, where only the user writes.

:func:`cached_made` keeps other results there the same way, keyed by every input its caller
names (the language server's knowledge base and detector of a folder).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_PARSER = Path(__file__).with_name("knowledge.py")

#: A file changed this recently (or later than now) is keyed by its bytes, not its times: more
#: than a tick of the coarsest timestamps met (FAT's 2 s).
RECENT_NS = 10_000_000_000


def cache_dir() -> Path:
    """``$RECODE_KB_CACHE_DIR`` where set (the test suite points it at a temporary folder, so
    that its runs leave nothing in the user's cache), else ``kb/`` in the user cache folder."""
    own = os.environ.get("RECODE_KB_CACHE_DIR")
    if own:
        return Path(own)
    from recode.dataset.release_notes import default_cache_dir

    return default_cache_dir() / "kb"


@cache
def _code_key() -> bytes:
    """What the parsed records depend on besides the file (read once per process)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(_PARSER.read_bytes())
    h.update(f"{sys.version}|{version('packaging')}|{pickle.HIGHEST_PROTOCOL}".encode())
    return h.digest()


def file_key(path: Path) -> bytes:
    """What a :func:`cached_made` key holds of a file its ``make()`` reads: the file's size,
    modification and change times, inode and device, as git's index decides that a file is
    unchanged (Python's bytecode cache takes the size and modification time alone). Reading
    and hashing the bytes instead cost the language server ~8 ms per start (2.6 MB of
    knowledge base and 1.2 MB of recode's source; BENCHMARKS.md, language server).

    As safe as the bytes: a write sets both times, ``touch -d`` or ``cp -p`` can set the
    modification time back but not the change time, and a file replaced by a rename has
    another inode. Timestamps come from a coarse clock, so two writes of the same size in one
    tick would look alike: a file whose times are within :data:`RECENT_NS` of now (or in
    the future) is keyed by its bytes, and any later write gives it later times. A change
    made between taking the key and reading the file makes an entry whose key the next start
    does not find again; only a file changed and changed back within that moment, while
    keyed by its bytes, could meet an entry made from the other content, as when the key
    read all the bytes (the knowledge base's load reads them again)."""
    st = os.stat(path)
    if max(st.st_mtime_ns, st.st_ctime_ns) > time.time_ns() - RECENT_NS:
        return b"bytes " + hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
    return f"stat {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino} {st.st_dev}".encode()


def cached(
    path: Path,
    data: bytes,
    libraries: Iterable[str] | None,
    parse: Callable[[], _T],
    valid: Callable[[object], bool],
) -> _T:
    """``parse()``'s result for the file at ``path`` whose content is ``data``, from the
    cache when an entry for exactly these inputs exists and holds what ``valid`` accepts,
    else parsed and stored."""
    try:
        where = hashlib.blake2b(
            repr((str(path), sorted(libraries) if libraries is not None else None)).encode(),
            key=_code_key(),
            digest_size=12,
        ).hexdigest()
        content = hashlib.blake2b(data, digest_size=16).hexdigest()
        entry = cache_dir() / f"{where}-{content}.pickle"
    except (OSError, RuntimeError) as exc:  # no parser source, or no home folder: no cache
        log.debug("knowledge-base cache not used: %s", exc)
        return parse()
    return _read_or_make(entry, where, parse, valid)


def cached_made(
    group: str, inputs: Iterable[bytes], make: Callable[[], _T], valid: Callable[[object], bool]
) -> _T:
    """``make()``'s result, from the cache when an entry for exactly these ``inputs`` exists
    and holds what ``valid`` accepts, else made and stored. ``inputs`` must hold everything
    ``make()`` reads (the bytes of its files and code, its settings); an entry of another
    ``group`` is never removed, one of the same group with other inputs is replaced (the
    language server keys a folder's knowledge base and detector so: ``recode.server.lsp.
    workspaces``)."""
    try:
        where = hashlib.blake2b(group.encode(), key=_code_key(), digest_size=12).hexdigest()
        content = hashlib.blake2b(digest_size=16)
        for part in inputs:
            content.update(len(part).to_bytes(8, "little"))  # no two lists hash as one
            content.update(part)
        entry = cache_dir() / f"{where}-{content.hexdigest()}.pickle"
    except (OSError, RuntimeError) as exc:
        log.debug("knowledge-base cache not used: %s", exc)
        return make()
    return _read_or_make(entry, where, make, valid)


def _read_or_make(
    entry: Path, where: str, make: Callable[[], _T], valid: Callable[[object], bool]
) -> _T:
    try:
        with open(entry, "rb") as fh:
            found = pickle.load(fh)
        if valid(found):
            return found
        log.debug("ignoring the knowledge-base cache entry %s: not what it should hold", entry)
    except FileNotFoundError:
        pass
    except Exception as exc:  # a broken entry is ignored, and replaced below
        log.debug("ignoring the knowledge-base cache entry %s: %s", entry, exc)
    result = make()
    _store(entry, where, result)
    return result


def _store(entry: Path, where: str, result: object) -> None:
    """Write ``entry`` whole (a temporary file renamed over it) and drop the entries of the
    same file's earlier contents."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        except BaseException:
            os.unlink(tmp)
            raise
        for old in entry.parent.glob(f"{where}-*.pickle"):
            if old != entry:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError) as exc:
        log.debug("knowledge-base cache not written: %s", exc)
