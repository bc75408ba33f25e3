"""Throwaway environments, cached by what is in them.

An environment holds the resolved distributions of one set (``--no-deps``: pip already chose
them), at ``<cache>/upgrade/<hash of the set and the Python version>``; it is made under a
temporary name and renamed when complete, so an interrupted install leaves nothing that looks
ready. The project itself is not in the cached environment: each test run installs the copy
being migrated (editable) first, so the tests import the migrated code.

uv makes and fills the environment when it is on PATH (``uv venv``, ``uv pip install``), pip
otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from recode.dataset.release_notes import default_cache_dir
from recode.server.upgrade.runner import Runner

READY = ".recode-ready"


class VenvError(Exception):
    """An environment could not be made or the project not installed in it (pip's text)."""


def cache_root() -> Path:
    return default_cache_dir() / "upgrade"


def python_version(python: str, runner: Runner) -> str:
    done = runner([python, "-c", "import sys; print(sys.version)"], env=clean_env(), timeout=60)
    if done.returncode != 0:
        raise VenvError(f"cannot run {python}: {done.stderr.strip()}")
    return done.stdout.strip()


def key(pins: list[str], version: str) -> str:
    return hashlib.sha256("\n".join([version, *sorted(pins)]).encode()).hexdigest()[:16]


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure(
    python: str,
    pins: list[str],
    runner: Runner,
    *,
    version: str,
    cache: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Path:
    """The environment holding exactly ``pins`` (``name==version``), made when not cached."""
    folder = (cache or cache_root()) / key(pins, version)
    if (folder / READY).is_file():
        progress(f"environment cached at {folder}")
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with in_use(folder, progress):  # another run may be making the same one
        if (folder / READY).is_file():
            progress(f"environment cached at {folder}")
            return folder
        _make_ready(python, folder, pins, runner, progress)
    return folder


@contextlib.contextmanager
def in_use(venv: Path, progress: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold ``venv`` for this run alone: each test run installs its own copy of the project
    into the shared, cached environment, so two runs (two recode-upgrades of one project) must
    not interleave an install and a test run. An exclusive ``flock`` on a file beside the
    folder (not inside: a rebuilt environment replaces the folder), released when the block
    ends or the process dies."""
    lock = venv.with_name(f"{venv.name}.lock")
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another recode-upgrade using {venv}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_ready(
    python: str, folder: Path, pins: list[str], runner: Runner, progress: Callable[[str], None]
) -> None:
    work = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    progress(f"making an environment with {len(pins)} distributions at {folder}")
    try:
        _make(python, work, pins, runner)
        (work / READY).write_text("\n".join(sorted(pins)) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _make(python: str, folder: Path, pins: list[str], runner: Runner) -> None:
    uv = shutil.which("uv")
    if uv:
        steps = [
            [uv, "venv", "--seed", "--python", python, str(folder)],
            [uv, "pip", "install", "--python", str(venv_python(folder)), "--no-deps", *pins],
        ]
    else:
        steps = [
            [python, "-m", "venv", str(folder)],
            [str(venv_python(folder)), "-m", "pip", "install", "--quiet", "--no-deps", *pins],
        ]
    for argv in steps if pins else steps[:1]:
        done = runner(argv, env=clean_env(), timeout=1800)
        if done.returncode != 0 or done.timed_out:
            raise VenvError(f"{' '.join(argv[:4])} ... failed:\n{done.stderr.strip()[-3000:]}")


def install_project(
    venv: Path, project: Path, runner: Runner, install_cmd: str | None = None
) -> None:
    """Install the copy being tested into ``venv``: ``--install-cmd`` run in the copy with the
    environment active, else ``pip install --no-deps -e COPY`` when the copy is installable
    (a folder without packaging metadata is put on the path by the test run instead)."""
    from recode.server.upgrade.plan import installable

    if install_cmd:
        done = runner(install_cmd, cwd=project, env=activated(venv), timeout=1800, shell=True)
    elif installable(project):
        uv = shutil.which("uv")
        argv = (
            [uv, "pip", "install", "--python", str(venv_python(venv))]
            if uv
            else [str(venv_python(venv)), "-m", "pip", "install", "--quiet"]
        )
        done = runner(
            [*argv, "--no-deps", "-e", str(project)], cwd=project, env=clean_env(), timeout=1800
        )
    else:
        return
    if done.returncode != 0 or done.timed_out:
        raise VenvError(f"cannot install the project:\n{done.stderr.strip()[-3000:]}")


def clean_env() -> dict[str, str]:
    """This process's environment without what would make another Python see this one's
    packages (``PYTHONPATH``: pip would then take a requirement as installed and skip it)."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONUSERBASE"):
        env.pop(name, None)
    return env


def activated(venv: Path) -> dict[str, str]:
    """The environment variables of a shell with ``venv`` active."""
    env = clean_env()
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env
