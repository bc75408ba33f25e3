"""The pre-commit hook (.pre-commit-hooks.yaml), run by the real ``pre-commit try-repo``.

try-repo clones this repository (HEAD, plus the uncommitted changes of tracked files) and pip
installs it into an environment of its own, as a user's ``pre-commit install`` would; the
first run takes about half a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]
OUTDATED = "import numpy as np\nx = np.float_(1)\n"
CLEAN = "import numpy as np\nx = np.float64(1)\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    if shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed (pip install -e '.[dev]')")
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the hook's own install
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    return env


def try_repo(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pre-commit", "try-repo", str(ROOT), "recode-migrate", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )


def test_the_hook_fails_on_outdated_code_and_passes_once_fixed(tmp_path, env):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text('[tool.recode]\ntargets = ["numpy==2.0.0"]\n')
    (repo / "clean.py").write_text(CLEAN)
    (repo / "old.py").write_text(OUTDATED)
    (repo / "notes.txt").write_text("x = np.float_(1)\n")  # not Python: not given to the hook
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": OUTDATED}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (repo / "nb.ipynb").write_text(json.dumps(notebook, indent=1) + "\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")

    done = try_repo(repo, env)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "recode-migrate" in out and "Failed" in out
    assert "old.py:2:5: error [numpy-2.0-float_]" in out
    assert "nb.ipynb:cell 1:2:5: error [numpy-2.0-float_]" in out
    assert "2 outdated calls (2 errors) in 3 files" in out  # not notes.txt

    (repo / "old.py").write_text(CLEAN)
    notebook["cells"][0]["source"] = CLEAN
    (repo / "nb.ipynb").write_text(json.dumps(notebook, indent=1) + "\n")
    git(repo, "add", ".")
    done = try_repo(repo, env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Passed" in out
