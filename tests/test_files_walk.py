"""iter_python_files resolves each folder once: the yielded real paths must still be exactly what
``Path.resolve()`` gives, through links, loops, ``..`` and relative spellings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recode.server import files


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project full of links, with the working folder inside it (relative spellings)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.py").write_text("x = 1\n")
    root = tmp_path / "proj"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("a = 1\n")
    (root / "pkg" / "sub" / "b.py").write_text("b = 1\n")
    (root / "pkg" / "notes.txt").write_text("not python\n")
    (root / "pkg" / "alias.py").symlink_to("a.py")  # a second name for a.py, relative link
    (root / "pkg" / "far.py").symlink_to(outside / "far.py")  # a link out of the project
    (root / "pkg" / "loop.py").symlink_to("loop.py")  # a link loop
    (root / "pkg" / "dangling.py").symlink_to("missing.py")
    (root / "linked_pkg").symlink_to("pkg")  # a linked folder (not followed by the walk)
    (root / "real_dir").mkdir()
    (root / "real_dir" / "via_dir.py").symlink_to("../linked_pkg/sub/b.py")  # link via a link
    monkeypatch.chdir(root)
    return root


def _walk(*paths: str | Path) -> list[tuple[Path, Path]]:
    return list(files.iter_python_files([Path(p) for p in paths]))


def _check_resolved(walked: list[tuple[Path, Path]]) -> None:
    for path, resolved in walked:
        assert resolved == path.resolve(), path
        assert resolved.is_absolute() and os.path.realpath(path) == str(resolved)
    real = [r for _, r in walked]
    assert len(real) == len(set(real)), "a file reached twice is yielded once"


def test_walk_of_a_tree_with_links(tree: Path) -> None:
    walked = _walk(".")
    _check_resolved(walked)
    # alias.py is a.py again and real_dir/via_dir.py is sub/b.py again; loop.py and dangling.py
    # are no files; linked_pkg is a link to a folder (not followed), so its files are not walked
    # a second time.
    assert [str(p) for p, _ in walked] == ["pkg/a.py", "pkg/far.py", "pkg/sub/b.py"]
    assert walked[1][1] == (tree.parent / "outside" / "far.py").resolve()
    assert walked[2][1] == tree.resolve() / "pkg" / "sub" / "b.py"
    assert _walk("real_dir") == [(Path("real_dir/via_dir.py"), walked[2][1])]


def test_files_named_in_every_spelling(tree: Path) -> None:
    names = [
        "pkg/a.py",
        "pkg/alias.py",  # a.py again, through a link
        str(tree / "pkg" / "a.py"),  # a.py again, absolute
        "linked_pkg/sub/b.py",  # through a linked folder
        "pkg/../pkg/sub/b.py",  # b.py again, with ..
        "linked_pkg/../pkg/far.py",  # .. after a linked folder: steps up from its target
        "real_dir/../linked_pkg/../real_dir/via_dir.py",
        "pkg/notes.txt",  # named explicitly: yielded whatever its suffix
        "pkg/loop.py",  # a loop: not a file, nothing to walk
        "pkg/dangling.py",
    ]
    walked = _walk(*names)
    _check_resolved(walked)
    assert [str(p) for p, _ in walked] == [
        "pkg/a.py",
        "linked_pkg/sub/b.py",
        "linked_pkg/../pkg/far.py",
        "pkg/notes.txt",
    ]


def test_relative_spellings_from_a_subfolder(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree / "pkg" / "sub")
    walked = _walk("..", "../../linked_pkg/a.py", "b.py", "./b.py", "../sub/../sub")
    _check_resolved(walked)
    assert [str(p) for p, _ in walked] == ["../a.py", "../far.py", "../sub/b.py"]


def test_a_linked_folder_named_explicitly_is_walked(tree: Path) -> None:
    walked = _walk("linked_pkg")
    _check_resolved(walked)
    assert [str(p) for p, _ in walked] == [
        "linked_pkg/a.py",
        "linked_pkg/far.py",
        "linked_pkg/sub/b.py",
    ]
    assert walked[0][1] == tree.resolve() / "pkg" / "a.py"


def test_folder_resolved_through_a_link_in_its_middle(tmp_path: Path) -> None:
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "real" / "deep" / "m.py").write_text("")
    (tmp_path / "real" / "top.py").write_text("")
    (tmp_path / "hop").symlink_to(tmp_path / "real")
    (tmp_path / "down").symlink_to(Path("real") / "deep")
    walked = _walk(
        tmp_path / "hop" / "deep",
        tmp_path / "hop" / "deep" / ".." / "deep" / "m.py",
        tmp_path / "down" / ".." / "top.py",  # .. from the link's target, not lexically
        tmp_path / "down" / ".." / "deep",
    )
    _check_resolved(walked)
    real = tmp_path.resolve() / "real"
    assert walked == [
        (tmp_path / "hop" / "deep" / "m.py", real / "deep" / "m.py"),
        (tmp_path / "down" / ".." / "top.py", real / "top.py"),
    ]


def test_a_folder_link_loop_named_explicitly_yields_nothing(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    assert _walk(tmp_path / "loop") == []
    assert _walk(tmp_path / "loop" / "x.py") == []


def test_gitignore_still_honoured_below_the_cached_folders(tmp_path: Path) -> None:
    (tmp_path / "src" / "gen").mkdir(parents=True)
    (tmp_path / ".gitignore").write_text("gen/\n*_pb2.py\n")
    for rel in ("src/keep.py", "src/gen/drop.py", "src/x_pb2.py", "src/stub.pyi"):
        (tmp_path / rel).write_text("")
    walked = _walk(tmp_path)
    _check_resolved(walked)
    assert [p.relative_to(tmp_path).as_posix() for p, _ in walked] == [
        "src/keep.py",
        "src/stub.pyi",
    ]
