"""What an interpreter said about itself (its ``sys.path`` and marker environment), kept on
disk so that a restart of the language server (or another ``recode-migrate --python`` run)
does not start that interpreter again: asking it is a process of its own, 50-180 ms of the
language server's first diagnostics (BENCHMARKS.md, language server).

An answer is used only while nothing it depends on has changed. Its entry's name is a hash of
the interpreter's path, the working folder, the ``PYTHON*`` environment variables and this
machine's kernel (``platform_release`` is one of the markers); inside, the entry holds the
modification times (ns, -1 where missing) of what the answer was read from: the interpreter
(the link and what it points to), the venv's ``pyvenv.cfg``, every folder on the answer's
``sys.path`` (a ``.pth`` file added or removed, a package installed or removed changes its
folder's time), the user site folder (created later, it joins ``sys.path``), and each
``.pth``, ``sitecustomize.py`` and ``usercustomize.py`` in the site folders (edited in place,
they change ``sys.path`` without touching their folder). Any difference: the interpreter is
asked again. An answer read while one of these was being changed (a time newer than the start
of the asking, less the filesystem's timestamp slack) is not stored. An entry that cannot be
read back is ignored and replaced; a cache folder that cannot be written to is not used.

Entries live in ``interpreters/`` of the user cache folder (``$RECODE_CACHE_DIR``, else
``$XDG_CACHE_HOME/recode``, else ``~/.cache/recode``), or in ``$RECODE_PROBE_CACHE_DIR`` where
set (the test suite's own folder).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Stamps = list[tuple[str, int]]

#: Kernel timestamps are taken from a coarse clock (a tick behind ``time.time_ns()`` at most):
#: a file changed just after the asking started may carry a time up to this much earlier.
SLACK_NS = 50_000_000
_SITE_FILES = ("sitecustomize.py", "usercustomize.py")


def cache_dir() -> Path:
    own = os.environ.get("RECODE_PROBE_CACHE_DIR")
    if own:
        return Path(own)
    from recode.dataset.release_notes import default_cache_dir

    return default_cache_dir() / "interpreters"


def _entry(interpreter: str, question: str) -> Path:
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON"))
    key = repr((os.path.abspath(interpreter), os.getcwd(), env, platform.uname(), question))
    return cache_dir() / f"{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}.json"


def _mtime(path: str, *, follow: bool = True) -> int:
    try:
        return os.stat(path, follow_symlinks=follow).st_mtime_ns
    except OSError:
        return -1


def stamps(interpreter: str, answer: dict[str, Any]) -> Stamps:
    """The modification times the answer depends on (see the module's docstring)."""
    exe = Path(interpreter)
    files = [str(exe.parent / "pyvenv.cfg"), str(exe.parent.parent / "pyvenv.cfg")]
    paths = [str(p) for p in answer.get("path", []) if isinstance(p, str) and p]
    user_site = answer.get("user_site")
    site_dirs = [p for p in paths if p.endswith(("site-packages", "dist-packages"))]
    if isinstance(user_site, str):
        paths.append(user_site)
        site_dirs.append(user_site)
    out: Stamps = [(f"link:{interpreter}", _mtime(interpreter, follow=False))]
    out.extend((p, _mtime(p)) for p in [interpreter, *files, *paths])
    for folder in dict.fromkeys(site_dirs):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        out.extend(
            (os.path.join(folder, n), _mtime(os.path.join(folder, n)))
            for n in names
            if n.endswith(".pth") or n in _SITE_FILES
        )
    return out


def _newest(found: Iterable[tuple[str, int]]) -> int:
    return max((t for _, t in found), default=-1)


#: answers already read in this process, with their stamps (checked again on each use)
_memory: dict[tuple[str, str], tuple[Stamps, dict[str, Any]]] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_lock = threading.Lock()


def asked(interpreter: str, question: str, ask: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``ask()``'s answer, from this process's memory or the disk while its stamps still hold,
    else asked and stored. One thread asks at a time (the language server may ask for the same
    interpreter from two threads: the first answer serves both)."""
    key = (interpreter, question)
    with _locks_lock:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        known = _memory.get(key)
        if known is not None and known[0] == stamps(interpreter, known[1]):
            return known[1]
        started_ns = time.time_ns()
        answer, found = _from_disk(interpreter, question, ask, started_ns)
        if found is not None:
            _memory[key] = (found, answer)
        return answer


def _from_disk(
    interpreter: str, question: str, ask: Callable[[], dict[str, Any]], started_ns: int
) -> tuple[dict[str, Any], Stamps | None]:
    """The answer and, where it can be kept, its stamps."""
    try:
        entry = _entry(interpreter, question)
    except (OSError, RuntimeError) as exc:  # no working folder, no home folder: no cache
        log.debug("interpreter cache not used: %s", exc)
        answer = ask()
        found = stamps(interpreter, answer)
        return answer, found if _newest(found) < started_ns - SLACK_NS else None
    try:
        stored = json.loads(entry.read_text(encoding="utf-8"))
        answer = stored["answer"]
        found = stamps(interpreter, answer)
        if [tuple(s) for s in stored["stamps"]] == found:
            return answer, found
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.debug("interpreter cache entry %s ignored: %s", entry, exc)
    answer = ask()
    found = stamps(interpreter, answer)
    if _newest(found) >= started_ns - SLACK_NS:
        return answer, None  # something changed while it was asked: asked again next time
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=entry.parent, suffix=".tmp", delete=False
        ) as fh:
            json.dump({"stamps": found, "answer": answer}, fh)
        os.replace(fh.name, entry)
    except OSError as exc:
        log.debug("interpreter cache not written: %s", exc)
    return answer, found
