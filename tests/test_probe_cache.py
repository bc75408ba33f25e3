"""What an interpreter says of its paths is kept across processes (server/probe_cache.py), and
asked again whenever something it was read from changed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recode.server import environment as env
from recode.server import probe_cache


@pytest.fixture
def venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A real venv (no pip), older than the cache's timestamp slack, with its own cache."""
    monkeypatch.setenv("RECODE_PROBE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(probe_cache, "_memory", {})
    folder = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    time.sleep(2 * probe_cache.SLACK_NS / 1e9)
    return str(folder / "bin" / "python"), next(folder.glob("lib/python*/site-packages"))


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The interpreters actually started (the real ``_run`` still answers)."""
    started: list[str] = []
    real: Callable[[str], dict[str, Any]] = env._run

    def counting(interpreter: str) -> dict[str, Any]:
        started.append(interpreter)
        return real(interpreter)

    monkeypatch.setattr(env, "_run", counting)
    return started


def restart() -> None:
    """What a new process starts with: nothing in memory."""
    probe_cache._memory.clear()


def settle() -> None:
    time.sleep(2 * probe_cache.SLACK_NS / 1e9)


def test_a_restart_does_not_start_the_interpreter_again(venv, runs):
    python, site = venv
    first = env.interpreter_paths(python)
    assert str(site) in first
    assert env.interpreter_paths(python) == first
    restart()
    assert env.interpreter_paths(python) == first
    assert env.marker_environment(python) is not None
    assert runs == [python]


def test_a_pth_file_added_is_seen(venv, runs, tmp_path):
    python, site = venv
    env.interpreter_paths(python)
    extra = tmp_path / "extra"
    extra.mkdir()
    (site / "extra.pth").write_text(f"{extra}\n")
    settle()
    assert str(extra) in env.interpreter_paths(python)  # same process
    restart()
    assert str(extra) in env.interpreter_paths(python)  # and the next one
    assert len(runs) == 2


def test_a_pth_file_edited_in_place_is_seen(venv, runs, tmp_path):
    """Its folder's time does not change: the file's own does."""
    python, site = venv
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    pth = site / "extra.pth"
    pth.write_text(f"{one}\n")
    settle()
    assert str(one) in env.interpreter_paths(python)
    folder_time = site.stat().st_mtime_ns
    pth.write_text(f"{two}\n")
    os.utime(site, ns=(folder_time, folder_time))
    restart()
    paths = env.interpreter_paths(python)
    assert str(two) in paths and str(one) not in paths


def test_another_interpreter_at_the_same_path_is_asked(venv, runs, tmp_path):
    python, _ = venv
    env.interpreter_paths(python)
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    link = Path(python)
    link.unlink()
    link.symlink_to(other / "bin" / "python")
    restart()
    env.interpreter_paths(python)
    assert len(runs) == 2


def test_an_answer_read_while_the_environment_changed_is_not_kept(venv, monkeypatch, tmp_path):
    python, site = venv
    started: list[str] = []
    real = env._run

    def installing_meanwhile(interpreter: str) -> dict[str, Any]:
        started.append(interpreter)
        answer = real(interpreter)
        if len(started) == 1:
            (site / "late-1.0.dist-info").mkdir()  # pip finishing while the answer is read
        return answer

    monkeypatch.setattr(env, "_run", installing_meanwhile)
    env.interpreter_paths(python)
    assert not list((tmp_path / "cache").glob("*.json"))
    settle()
    restart()
    env.interpreter_paths(python)
    assert len(started) == 2
    restart()
    env.interpreter_paths(python)
    assert len(started) == 2  # kept this time


def test_a_broken_entry_is_asked_again_and_replaced(venv, runs, tmp_path):
    python, site = venv
    first = env.interpreter_paths(python)
    (entry,) = (tmp_path / "cache").glob("*.json")
    entry.write_text('{"stamps": [1, ')
    restart()
    assert env.interpreter_paths(python) == first
    restart()
    assert env.interpreter_paths(python) == first
    assert len(runs) == 2


def test_another_pythonpath_is_another_entry(venv, runs, monkeypatch, tmp_path):
    python, _ = venv
    env.interpreter_paths(python)
    extra = tmp_path / "extra"
    extra.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(extra))
    restart()
    assert str(extra) in env.interpreter_paths(python)
    assert len(runs) == 2


def test_an_unwritable_cache_folder_still_answers(venv, runs, monkeypatch, tmp_path):
    python, site = venv
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("RECODE_PROBE_CACHE_DIR", str(blocker / "cache"))
    assert str(site) in env.interpreter_paths(python)
    restart()
    assert str(site) in env.interpreter_paths(python)
    assert len(runs) == 2
