"""recode-migrate's paths: missing ones found by the walk itself, display names by text."""

from __future__ import annotations

from pathlib import Path

import pytest

from recode.server import cli, files
from tests.conftest import TEST_KB


def test_the_walk_reports_paths_that_do_not_exist(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dir_link").symlink_to("pkg")
    given = [
        tmp_path / "gone.py",
        tmp_path / "pkg",
        tmp_path / "dangling",
        tmp_path / "pkg" / "a.py" / "x.py",  # under a file
        tmp_path / "loop",
        tmp_path / "dir_link",
    ]
    missing: list[Path] = []
    walked = list(files.iter_python_files(given, missing))
    assert missing == [given[0], given[2], given[3], given[4]]
    assert missing == [p for p in given if not p.exists()]  # what the CLI checked before
    assert [p for p, _ in walked] == [tmp_path / "pkg" / "a.py"]  # dir_link: the same file


@pytest.mark.parametrize("bad", ["gone.py", "dangling"])
def test_a_missing_path_is_a_usage_error(tmp_path: Path, capsys, bad: str) -> None:
    (tmp_path / "ok.py").write_text("import numpy as np\n")
    (tmp_path / "dangling").symlink_to("nowhere")
    code = cli.main([str(tmp_path / "ok.py"), str(tmp_path / bad), "--kb", str(TEST_KB)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == f"recode-migrate: no such file or folder: {tmp_path / bad}\n"


@pytest.mark.parametrize(
    "cwd, resolved, given",
    [
        ("/work/proj", "/work/proj/pkg/a.py", "pkg/a.py"),
        ("/work/proj", "/work/proj/a.py", "./a.py"),
        ("/work/proj", "/work/project/a.py", "../project/a.py"),  # a prefix of the name only
        ("/work/proj", "/work/a.py", "../a.py"),
        ("/work/proj", "/elsewhere/a.py", "/elsewhere/a.py"),
        ("/", "/a.py", "a.py"),
        ("/", "/work/proj/a.py", "work/proj/a.py"),
    ],
)
def test_display_is_relative_to_the_working_folder_as_pathlib_says(
    cwd: str, resolved: str, given: str
) -> None:
    cwd_path, resolved_path, given_path = Path(cwd), Path(resolved), Path(given)
    try:
        expected = str(resolved_path.relative_to(cwd_path))
    except ValueError:
        expected = str(given_path)
    prefix = cli._folder_prefix(cwd_path)
    assert cli._display(given_path, resolved_path, prefix) == expected
