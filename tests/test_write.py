"""recode-migrate --write and --diff never change a byte outside their edits, write through links,
keep mode, owner and group, and refuse (exit 2, file untouched) what they may not or cannot write.

Regression tests for issue 12 (items 1, 2 and the --diff half of 4) and issue 20 (items 2 and 3).
"""

from __future__ import annotations

import codecs
import errno
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from recode.server import cli, files
from recode.server.fixes import Edit, apply_edits, compose_edits
from tests.conftest import REPO, TEST_KB

OLD = "import numpy as np\n\nx = np.float_(1)\n"
NEW = "import numpy as np\n\nx = np.float64(1)\n"


def migrate(capsys, *args: object) -> tuple[int, str, str]:
    code = cli.main(
        [*map(str, args), "--kb", str(TEST_KB), "--target", "numpy==2.0.0", "--no-progress"]
    )
    out, err = capsys.readouterr()
    return code, out, err


# -- bytes outside the edits ---------------------------------------------------------------


def test_a_utf8_bom_is_written_once(capsys, tmp_path: Path) -> None:
    f = tmp_path / "bom.py"
    f.write_bytes(codecs.BOM_UTF8 + OLD.encode())
    code, _, _ = migrate(capsys, f, "--write")
    assert code == 0
    assert f.read_bytes() == codecs.BOM_UTF8 + NEW.encode()


def test_a_codec_that_does_not_round_trip_is_refused(capsys, tmp_path: Path) -> None:
    f = tmp_path / "escaped.py"
    data = ("# -*- coding: unicode_escape -*-\n" + OLD).encode()
    f.write_bytes(data)
    for mode in ("--write", "--diff"):
        code, out, err = migrate(capsys, f, mode)
        assert code == 2
        assert "not rewritten: its encoding (unicode-escape) does not give back" in out
        assert "1 file could not be" in err
        assert f.read_bytes() == data  # it used to become one comment line


def test_a_character_the_codec_cannot_hold_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "ascii.py"
    f.write_bytes(b"# coding: ascii\nx = 1\n")
    source = files.read_source(f)
    with pytest.raises(files.Refused, match=r"writes 'é', which the file's encoding \(ascii\)"):
        files.splice(source, [Edit(20, 21, "'é'")])
    assert files.splice(source, [Edit(20, 21, "2")]) == b"# coding: ascii\nx = 2\n"


@pytest.mark.parametrize(
    "declared, line",
    [
        ("cp1252", "s = 'Á'"),  # Á is C3 81 in UTF-8, and 0x81 is no cp1252 character
        ("latin-1", "café = 1"),  # the UTF-8 of the name read as latin-1 is no identifier
    ],
)
def test_a_declared_codec_does_not_stop_the_fixes(
    capsys, tmp_path: Path, declared: str, line: str
) -> None:
    f = tmp_path / "legacy.py"
    f.write_bytes(f"# coding: {declared}\n{line}\n{OLD}".encode(declared))
    code, out, _ = migrate(capsys, f, "--write")
    assert code == 0, out  # the fixes' parse check read the UTF-8 view with the declaration
    assert f.read_bytes() == f"# coding: {declared}\n{line}\n{NEW}".encode(declared)


@pytest.mark.parametrize(
    "newline, tail",
    [
        ("\r\n", "\r\n"),
        ("\r", "\r"),
        ("\r", ""),  # a CR file whose last line has no line end
        ("\n", ""),
    ],
)
def test_inserted_imports_end_their_lines_as_the_file_does(
    capsys, tmp_path: Path, newline: str, tail: str
) -> None:
    f = tmp_path / "moved.py"
    lines = ["import numpy as np", "", "y = np.lib.old_helper(1)", "z = np.float_(2)"]
    f.write_bytes((newline.join(lines) + tail).encode())
    code, _, _ = migrate(capsys, f, "--write")
    assert code == 0
    want = [
        "import numpy as np",
        "import numpy.lib.extra",
        "",
        "y = np.lib.extra.helper(1)",
        "z = np.float64(2)",
    ]
    assert f.read_bytes() == (newline.join(want) + tail).encode()


def test_mixed_line_ends_are_kept_line_by_line(capsys, tmp_path: Path) -> None:
    f = tmp_path / "mixed.py"
    f.write_bytes(b"import numpy as np\r\n\rx = np.lib.old_helper(1)\ny = np.float_(2)\r")
    code, _, _ = migrate(capsys, f, "--write")
    assert code == 0
    assert f.read_bytes() == (
        b"import numpy as np\r\nimport numpy.lib.extra\r\n\r"
        b"x = np.lib.extra.helper(1)\ny = np.float64(2)\r"
    )


@pytest.mark.parametrize(
    "source, pos, newline",
    [
        ("a\r\nb\r\n", 3, "\r\n"),  # at a line start: the line before
        ("a\rb\n", 2, "\r"),
        ("a\nb\r\n", 3, "\r\n"),  # inside a line: its own end
        ("a\nbc", 3, "\n"),  # the last line has none: the line before
        ("abc", 1, "\n"),
        ("a\r\n", 0, "\r\n"),
    ],
)
def test_newline_at(source: str, pos: int, newline: str) -> None:
    assert files.newline_at(source, pos) == newline
    assert files.newline_at(source.encode(), pos) == newline.encode()


def test_fit_newlines_leaves_crlf_alone() -> None:
    text = "import a\nx = '''\r\n'''\n"
    assert files.fit_newlines(text, "a\rb\r", 2) == "import a\rx = '''\r\n'''\r"
    assert files.fit_newlines("a\nb", b"x\r\ny", 3) == "a\r\nb"
    assert files.fit_newlines("a\nb", b"x\ny\r\n", 2) == "a\nb"
    assert files.fit_newlines("ab", "x\r", 2) == "ab"


def test_compose_edits_of_two_rounds() -> None:
    source = b"abcdefghij"
    first = [Edit(1, 2, "BB"), Edit(5, 5, "+"), Edit(8, 10, "")]
    middle = apply_edits(source, first)
    assert middle == b"aBBcde+fgh"
    then = [Edit(2, 4, "x"), Edit(6, 6, "<"), Edit(10, 10, "!")]  # into, beside, at the end
    final = apply_edits(middle, then)
    composed = compose_edits(source, first, then)
    assert apply_edits(source, composed) == final
    assert composed == [Edit(1, 3, "Bx"), Edit(5, 5, "<+"), Edit(8, 10, "!")]
    assert compose_edits(source, [], first) == first
    assert compose_edits(source, first, []) == first


# -- encodings as Python reads them (issue 20.3) --------------------------------------------


@pytest.mark.parametrize(
    "data, encoding",
    [
        (b"#!/usr/bin/env python\n# coding: latin-1\ns = '\xe9'\n", "iso8859-1"),
        (b"#!/usr/bin/env python\r# coding: latin-1\rs = '\xe9'\r", "iso8859-1"),  # CR lines
        (b"\n# coding: cp1252\ns = '\x80'\n", "cp1252"),  # below a blank line
        (codecs.BOM_UTF8 + b"# coding: utf-8\ns = 1\n", "utf-8-sig"),
    ],
)
def test_a_declaration_counts_where_python_honours_it(
    tmp_path: Path, data: bytes, encoding: str
) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(data)
    source = files.read_source(f)
    assert source.encoding == encoding
    compile(data, str(f), "exec")  # Python agrees


def test_a_declaration_on_line_two_below_code_does_not_count(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    data = b"x = 1\n# coding: latin-1\ns = '\xe9'\n"
    f.write_bytes(data)
    with pytest.raises(files.Unreadable, match="not valid utf-8 at byte"):
        files.read_source(f)
    with pytest.raises(SyntaxError):
        compile(data, str(f), "exec")


def test_a_bom_with_another_declaration_is_unreadable(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    data = codecs.BOM_UTF8 + b"# coding: latin-1\nx = 1\n"
    f.write_bytes(data)
    with pytest.raises(files.Unreadable, match="byte-order mark but declares another coding"):
        files.read_source(f)
    with pytest.raises(SyntaxError):
        compile(data, str(f), "exec")


def test_the_detector_sees_no_bom_and_lf_for_a_lone_cr(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(codecs.BOM_UTF8 + b"a = 1\rb = 2\r\nc = 3")
    assert files.read_source(f).utf8 == b"a = 1\nb = 2\r\nc = 3"


# -- --diff (issue 12.4, issue 20.2) -------------------------------------------------------


def test_a_diff_of_a_last_line_without_newline_applies(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    f = repo / "a.py"
    f.write_bytes(OLD.rstrip("\n").encode())
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    code, out, _ = migrate(capsys, "a.py", "--diff")
    assert code == 1
    patch = out[: out.index("1 outdated call")]
    assert "-x = np.float_(1)\n\\ No newline at end of file\n+x = np.float64(1)\n\\ No" in patch
    (tmp_path / "p.diff").write_text(patch)
    subprocess.run(["git", "apply", str(tmp_path / "p.diff")], cwd=repo, check=True)
    assert f.read_bytes() == NEW.rstrip("\n").encode()


def test_the_cli_prints_a_diff_in_each_file_s_own_bytes(tmp_path: Path) -> None:
    """Through stdout: a latin-1, a BOM, a CR-only and a cp1252 file, in one patch that git and
    patch(1) apply to give what --write writes."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    originals = {
        "latin.py": ("# coding: latin-1\ns = 'é'; " + OLD).encode("latin-1"),
        "bom.py": codecs.BOM_UTF8 + ("s = 'é'\n" + OLD).encode(),
        "cr.py": OLD.replace("\n", "\r").encode(),
        "win.py": ("# coding: cp1252\r\ns = '€'\r\n" + OLD.replace("\n", "\r\n")).encode("cp1252"),
    }
    for name, data in originals.items():
        (repo / "pkg" / name).write_bytes(data)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    command = [sys.executable, "-m", "recode.server.cli", "pkg", "--kb", str(TEST_KB)]
    command += ["--target", "numpy==2.0.0", "--no-progress"]
    diff = subprocess.run([*command, "--diff"], cwd=repo, capture_output=True, timeout=120)
    assert diff.returncode == 1, diff.stderr
    assert b"'\xe9'" in diff.stdout and b"'\x80'" in diff.stdout  # latin-1, cp1252 bytes
    for check in (["git", "apply", "--check"], ["patch", "-p1", "--dry-run", "--quiet"]):
        done = subprocess.run(check, input=diff.stdout, cwd=repo, capture_output=True)
        assert done.returncode == 0, (check, done.stderr)
    subprocess.run(["git", "apply"], input=diff.stdout, cwd=repo, check=True)
    applied = {name: (repo / "pkg" / name).read_bytes() for name in originals}
    for name, data in originals.items():
        (repo / "pkg" / name).write_bytes(data)
    write = subprocess.run([*command, "--write"], cwd=repo, capture_output=True, timeout=120)
    assert write.returncode == 0, write.stderr
    written = {name: (repo / "pkg" / name).read_bytes() for name in originals}
    assert applied == written
    assert written["cr.py"] == NEW.replace("\n", "\r").encode()
    assert written["latin.py"] == ("# coding: latin-1\ns = 'é'; " + NEW).encode("latin-1")


# -- links and permissions (issue 12.2) ----------------------------------------------------


def test_a_symlink_is_written_through(capsys, tmp_path: Path) -> None:
    target = tmp_path / "real" / "a.py"
    target.parent.mkdir()
    target.write_text(OLD)
    link = tmp_path / "link.py"
    link.symlink_to(os.path.relpath(target, tmp_path))
    code, _, _ = migrate(capsys, link, "--write")
    assert code == 0
    assert link.is_symlink() and os.readlink(link) == "real/a.py"
    assert target.read_text() == NEW
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.py"]  # no temporary left


def test_a_hard_linked_file_keeps_its_inode(capsys, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(OLD)
    other = tmp_path / "elsewhere.txt"  # not a .py: only a.py is scanned
    os.link(f, other)
    inode = f.stat().st_ino
    code, _, _ = migrate(capsys, tmp_path, "--write")
    assert code == 0
    assert f.stat().st_ino == inode and f.stat().st_nlink == 2
    assert other.read_text() == NEW


def test_a_hard_linked_file_is_not_written_over_a_change(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(OLD)
    os.link(f, tmp_path / "b.py")
    source = files.read_source(f)
    f.write_text("x = 2  # the user's edit\n")  # the same inode: both names see it
    with pytest.raises(files.ChangedOnDisk):
        files.write_atomic(source, NEW.encode())
    assert (tmp_path / "b.py").read_text() == "x = 2  # the user's edit\n"


def test_a_failed_write_in_place_puts_the_old_bytes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "a.py"
    f.write_text(OLD)
    os.link(f, tmp_path / "b.py")
    source = files.read_source(f)
    new = b"y = 1\n" * 500
    real_pwrite = os.pwrite

    def disk_full(fd: int, data: bytes, offset: int) -> int:
        if data == new:
            real_pwrite(fd, data[:200], offset)  # a part is written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", disk_full)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(source, new)
    assert f.read_text() == OLD


def test_mode_is_kept(capsys, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(OLD)
    os.chmod(f, 0o2751)
    code, _, _ = migrate(capsys, f, "--write")
    assert code == 0 and f.read_text() == NEW
    assert oct(f.stat().st_mode & 0o7777) == "0o2751"


def test_a_read_only_file_is_refused_even_for_root(capsys, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(OLD)
    os.chmod(f, 0o444)
    code, out, err = migrate(capsys, f, "--write")
    assert code == 2
    assert "not rewritten: the file is read-only (mode 0444)" in out
    assert "1 file could not be written" in err
    assert f.read_text() == OLD and f.stat().st_mode & 0o777 == 0o444


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to give a file another owner")
def test_root_keeps_owner_and_group(capsys, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(OLD)
    os.chown(f, 65534, 65534)
    code, _, _ = migrate(capsys, f, "--write")
    assert code == 0 and f.read_text() == NEW
    assert (f.stat().st_uid, f.stat().st_gid) == (65534, 65534)


@pytest.fixture
def nobody() -> Iterator[tuple[pwd.struct_passwd, Path]]:
    """An unprivileged user and a folder they may write in: the tests run as root here, and
    root may write any file, so the refusals are seen from a process that dropped to it."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to make files of other owners and drop to an unprivileged user")
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' to drop to")
    folder = Path(tempfile.mkdtemp(prefix="recode-nobody-"))  # not under root's 0700 pytest dir
    os.chmod(folder, 0o755)
    os.chown(folder, user.pw_uid, user.pw_gid)
    yield user, folder
    shutil.rmtree(folder)


def _as(user: pwd.struct_passwd, *args: object) -> subprocess.CompletedProcess[str]:
    """recode-migrate run as ``user``: by setpriv where installed, else by a setuid before exec."""
    command = [sys.executable, "-m", "recode.server.cli", *map(str, args)]
    command += ["--kb", str(TEST_KB), "--target", "numpy==2.0.0", "--no-progress"]
    env = {**os.environ, "HOME": "/nonexistent"}
    setpriv = shutil.which("setpriv")
    if setpriv:
        ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
        command = [setpriv, *ids, *command]
        drop = None
    else:

        def drop() -> None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    try:
        return subprocess.run(
            command, preexec_fn=drop, env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
    except PermissionError as exc:
        pytest.skip(f"the interpreter cannot be run as {user.pw_name}: {exc}")


def test_as_a_user_files_they_may_not_write_are_refused(nobody) -> None:
    user, folder = nobody
    cases = {
        "root_owned.py": (0, 0, 0o644, "you may not write this file (permission denied)"),
        "read_only.py": (user.pw_uid, user.pw_gid, 0o444, "the file is read-only (mode 0444)"),
        "group_writable.py": (
            0,
            user.pw_gid,
            0o664,
            "the file belongs to another user: the rewritten file would be yours",
        ),
        "root_group.py": (
            user.pw_uid,
            0,
            0o644,
            "the file's group (0) is not one of yours: the rewritten file could not keep it",
        ),
    }
    for name, (uid, gid, mode, _) in cases.items():
        f = folder / name
        f.write_text(OLD)
        os.chown(f, uid, gid)
        os.chmod(f, mode)
    mine = folder / "mine.py"
    mine.write_text(OLD)
    os.chown(mine, user.pw_uid, user.pw_gid)
    os.chmod(mine, 0o640)
    done = _as(user, folder, "--write")
    assert done.returncode == 2, done.stderr
    assert "4 files could not be written" in done.stderr
    for name, (uid, gid, mode, reason) in cases.items():
        f = folder / name
        assert f"{name}: not rewritten: {reason}" in done.stdout
        st = f.stat()
        assert (f.read_text(), st.st_uid, st.st_gid, st.st_mode & 0o777) == (OLD, uid, gid, mode)
    assert mine.read_text() == NEW
    st = mine.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (user.pw_uid, user.pw_gid, 0o640)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*cases, "mine.py"])


def test_as_a_user_a_folder_they_may_not_write_is_refused(nobody) -> None:
    user, folder = nobody
    locked = folder / "locked"
    locked.mkdir()
    f = locked / "a.py"
    f.write_text(OLD)
    os.chown(f, user.pw_uid, user.pw_gid)  # theirs, in root's folder: no temporary file there
    done = _as(user, f, "--write")
    assert done.returncode == 2, done.stderr
    assert f"not rewritten: you may not create files in {locked}" in done.stdout
    assert f.read_text() == OLD
