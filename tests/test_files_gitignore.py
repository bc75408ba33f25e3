"""The walk ignores what git ignores: compared with ``git ls-files -co --exclude-standard`` in real
temporary repositories (every ignore file from the repository root down, git's precedence,
``.git/info/exclude`` and the global excludes file), and files named on the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recode.server import cli, files
from tests.conftest import TEST_KB

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

FIXABLE = "import numpy as np\nx = np.float_(1)\n"


@pytest.fixture(autouse=True)
def own_git_config(tmp_path_factory, monkeypatch):
    """No user or system git configuration: HOME and XDG_CONFIG_HOME of the test's own."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_GLOBAL", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    return home


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def make_repo(root: Path, tree: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    for rel, text in tree.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def git_sees(root: Path, start: str = ".") -> list[str]:
    out = git(root, "ls-files", "-co", "--exclude-standard", "--", start)
    return sorted(p for p in out.splitlines() if p.endswith((".py", ".pyi")))


def recode_sees(root: Path, start: str = ".", *, force_exclude: bool = False) -> list[str]:
    walked = files.iter_python_files([root / start], force_exclude=force_exclude)
    return sorted(p.relative_to(root).as_posix() for p, _ in walked)


PB2_TREE = {
    ".gitignore": "*_pb2.py\n",
    "sub/.gitignore": "!keep_pb2.py\n",
    "sub/drop_pb2.py": FIXABLE,
    "sub/keep_pb2.py": FIXABLE,
    "sub/code.py": FIXABLE,
}


def test_ignore_files_above_the_start_and_negations_below(tmp_path):
    root = make_repo(tmp_path / "repo", PB2_TREE)
    # sub/drop_pb2.py was scanned (the root .gitignore was not read from sub/) and
    # sub/keep_pb2.py skipped (the deeper !keep_pb2.py did not override it)
    assert recode_sees(root, "sub") == git_sees(root, "sub") == ["sub/code.py", "sub/keep_pb2.py"]
    assert recode_sees(root) == git_sees(root)


def test_info_exclude_and_the_global_excludes_file(tmp_path, own_git_config):
    root = make_repo(tmp_path / "repo", {"a/local_x.py": "", "a/x_gen.py": "", "a/y.py": ""})
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("local_*.py\n")
    default = own_git_config / ".config" / "git" / "ignore"
    default.parent.mkdir(parents=True)
    default.write_text("*_gen.py\n")
    assert recode_sees(root, "a") == git_sees(root, "a") == ["a/y.py"]
    # core.excludesFile replaces the default location; info/exclude still counts
    (own_git_config / "mine").write_text("y.py\n")
    git(root, "config", "core.excludesFile", "~/mine")
    assert recode_sees(root, "a") == git_sees(root, "a") == ["a/x_gen.py"]


def test_info_exclude_of_a_linked_worktree_is_the_main_one(tmp_path):
    main = make_repo(tmp_path / "main", {"keep.py": ""})
    (main / ".git" / "info").mkdir(exist_ok=True)
    (main / ".git" / "info" / "exclude").write_text("scratch_*.py\n")
    git(main, "add", "keep.py")
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    git(main, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "other")
    wt = tmp_path / "wt"
    (wt / "pkg").mkdir()
    (wt / "pkg" / "scratch_1.py").write_text("")
    (wt / "pkg" / "real.py").write_text("")
    assert recode_sees(wt, "pkg") == git_sees(wt, "pkg") == ["pkg/real.py"]


def test_a_named_ignored_folder_is_walked_unless_force_exclude(tmp_path):
    root = make_repo(
        tmp_path / "repo", {".gitignore": "gen/\n*_pb2.py\n", "gen/a.py": "", "gen/b_pb2.py": ""}
    )
    assert git_sees(root, "gen") == []
    # named: walked, and the other patterns still apply inside it
    assert recode_sees(root, "gen") == ["gen/a.py"]
    assert recode_sees(root, "gen", force_exclude=True) == []


def run_cli(capsys, *args: object) -> tuple[int, dict]:
    argv = [*map(str, args), "--kb", str(TEST_KB), "--no-progress", "--format", "json"]
    code = cli.main([*argv, "--target", "numpy==2.0.0", "--libraries", "numpy"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_write_leaves_ignored_files_alone(tmp_path, capsys, monkeypatch):
    root = make_repo(tmp_path / "repo", PB2_TREE)
    monkeypatch.chdir(root)
    code, report = run_cli(capsys, "sub/", "--write")
    assert (root / "sub" / "drop_pb2.py").read_text() == FIXABLE  # was rewritten
    assert (root / "sub" / "keep_pb2.py").read_text() != FIXABLE  # was skipped
    assert (root / "sub" / "code.py").read_text() != FIXABLE
    assert report["summary"]["files_scanned"] == 2


def test_cli_a_named_file_is_checked_even_when_ignored_unless_force_exclude(
    tmp_path, capsys, monkeypatch
):
    root = make_repo(tmp_path / "repo", PB2_TREE)
    monkeypatch.chdir(root)
    code, report = run_cli(capsys, "sub/drop_pb2.py", "sub/code.py")
    assert sorted(Path(f["path"]).name for f in report["findings"]) == ["code.py", "drop_pb2.py"]
    code, report = run_cli(capsys, "sub/drop_pb2.py", "sub/code.py", "--force-exclude")
    assert [Path(f["path"]).name for f in report["findings"]] == ["code.py"]
    assert recode_sees(root, "sub/keep_pb2.py", force_exclude=True) == ["sub/keep_pb2.py"]


# -- generated ignore files and trees against git ----------------------------------------------

FOLDERS = ["", "a/", "b/", "a/gen/", "gen/", "a/b/"]
NAMES = ["x.py", "y_pb2.py", "keep_pb2.py", "z.py", "gen.py", "t.pyi"]
PATTERNS = [
    "*_pb2.py",
    "keep_pb2.py",
    "x.py",
    "gen",
    "gen/",
    "a/x.py",
    "*.py",
    "a/",
    "b",
    "/z.py",
    "**/gen",
    "a/**",
    "z*",
    "[xy]*.py",
    "?.py",
    "gen/*",
    "/a/gen/",
    "*.pyi",
    "b/*.py",
    "**/x.py",
    "*",
    "**/",
    "a/**/x.py",
    "# comment",
    "",  # with "!": a line git skips and pathspec cannot read
]
pattern = st.builds(
    lambda neg, p: ("!" if neg else "") + p, st.booleans(), st.sampled_from(PATTERNS)
)
ignore_file = st.lists(pattern, max_size=5)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tree=st.sets(
        st.tuples(st.sampled_from(FOLDERS), st.sampled_from(NAMES)), min_size=1, max_size=12
    ),
    ignores=st.dictionaries(st.sampled_from(FOLDERS), ignore_file, max_size=4),
    exclude=ignore_file,
    start=st.sampled_from(["", "a/", "a/gen/"]),
)
def test_walk_agrees_with_git(tree, ignores, exclude, start):
    with tempfile.TemporaryDirectory() as tmp:
        root = make_repo(Path(tmp) / "repo", {folder + name: "" for folder, name in tree})
        for folder, lines in ignores.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / ".gitignore").write_text("".join(line + "\n" for line in lines))
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "exclude").write_text("".join(line + "\n" for line in exclude))
        if not (root / (start or ".")).is_dir():
            return
        expected = git_sees(root, start or ".")
        assert recode_sees(root, start or ".", force_exclude=True) == expected
        named_ignored = (
            subprocess.run(["git", "check-ignore", "-q", start], cwd=root, check=False).returncode
            == 0
            if start
            else False
        )
        if not named_ignored:
            assert recode_sees(root, start or ".") == expected


def test_outside_a_repository_the_folders_own_gitignore_counts(tmp_path):
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / ".gitignore").write_text("*_pb2.py\n")
    for rel in ("proj/a_pb2.py", "proj/sub/b_pb2.py", "proj/sub/c.py"):
        (tmp_path / rel).write_text("")
    assert recode_sees(tmp_path, "proj") == ["proj/sub/c.py"]
    assert recode_sees(tmp_path, "proj/a_pb2.py") == ["proj/a_pb2.py"]
    assert recode_sees(tmp_path, "proj/a_pb2.py", force_exclude=True) == []
