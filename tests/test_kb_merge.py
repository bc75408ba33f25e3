"""scripts/kb-merge.py: the knowledge base's merge driver, through a real git merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DRIVER = REPO / "scripts" / "kb-merge.py"


def rec(rid: str, note: str = "n") -> str:
    return json.dumps({"id": rid, "note": note})


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    for key, value in [
        ("user.email", "t@example.org"),
        ("user.name", "t"),
        ("merge.kb-records.driver", f"{sys.executable} {DRIVER} %O %A %B"),
    ]:
        git(tmp_path, "config", key, value)
    (tmp_path / ".gitattributes").write_text("*.jsonl merge=kb-records\n")
    (tmp_path / "kb.jsonl").write_text("".join(rec(i) + "\n" for i in "abcd"))
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    return tmp_path


def commit_on(repo: Path, branch: str, lines: list[str]) -> None:
    git(repo, "checkout", "-q", "-B", branch, "main")
    (repo / "kb.jsonl").write_text("".join(line + "\n" for line in lines))
    git(repo, "commit", "-qam", branch)


def test_neighbouring_edits_merge_without_duplicates(repo):
    # one branch edits b, the other c and appends e: git's line merge sees one hunk
    commit_on(repo, "one", [rec("a"), rec("b", "one"), rec("c"), rec("d")])
    commit_on(repo, "two", [rec("a"), rec("b"), rec("c", "two"), rec("e"), rec("d")])
    git(repo, "checkout", "-q", "one")
    done = git(repo, "merge", "-q", "--no-edit", "two")
    assert done.returncode == 0, done.stderr
    assert (repo / "kb.jsonl").read_text().splitlines() == [
        rec("a"),
        rec("b", "one"),
        rec("c", "two"),
        rec("e"),
        rec("d"),
    ]


def test_a_record_changed_on_both_sides_is_a_conflict(repo):
    commit_on(repo, "one", [rec("a"), rec("b", "one"), rec("c"), rec("d")])
    commit_on(repo, "two", [rec("a"), rec("b", "two"), rec("c")])  # and d deleted
    git(repo, "checkout", "-q", "one")
    done = git(repo, "merge", "-q", "--no-edit", "two")
    assert done.returncode != 0
    text = (repo / "kb.jsonl").read_text().splitlines()
    assert text == [
        rec("a"),
        "<<<<<<< ours",
        rec("b", "one"),
        "=======",
        rec("b", "two"),
        ">>>>>>> theirs",
        rec("c"),
    ]
