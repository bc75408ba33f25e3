"""read_source: one open, fstat and read per file, with the reasons for skipping a file unchanged."""

from __future__ import annotations

import codecs
import errno
import os
from pathlib import Path

import pytest

from recode.server import files


def _unreadable(path: Path, **kw: int) -> str:
    with pytest.raises(files.Unreadable) as info:
        files.read_source(path, **kw)
    return str(info.value)


def test_utf8_source_is_returned_as_read(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    raw = "s = 'café'\nimport numpy as np\n".encode()
    f.write_bytes(raw)
    src = files.read_source(f)
    assert (src.path, src.raw, src.text, src.encoding) == (f, raw, raw.decode(), "utf-8")
    assert src.utf8 is src.raw


@pytest.mark.parametrize(
    "head, encoding",
    [
        (b"# -*- coding: latin-1 -*-\n", "iso8859-1"),
        (b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\n", "cp1252"),
    ],
)
def test_coding_declaration_in_the_first_two_lines(tmp_path: Path, head: bytes, encoding: str):
    f = tmp_path / "legacy.py"
    body = "s = 'caf\xe9'\n"
    f.write_bytes(head + body.encode(encoding))
    src = files.read_source(f)
    assert src.encoding == codecs.lookup(encoding).name
    assert src.text.endswith(body)
    assert src.utf8 == src.text.encode("utf-8")


def test_a_declaration_on_the_third_line_does_not_count(tmp_path: Path) -> None:
    f = tmp_path / "late.py"
    data = b"\n\n# coding: latin-1\ns = 'caf\xe9'\n"
    f.write_bytes(data)
    assert _unreadable(f) == (
        f"skipped: not valid utf-8 at byte {data.index(0xE9)} and no coding declaration says "
        "otherwise"
    )


def test_a_declaration_on_a_file_of_one_line_without_newline(tmp_path: Path) -> None:
    f = tmp_path / "one.py"
    f.write_bytes(b"# coding: latin-1 \xe9")
    assert files.read_source(f).text == "# coding: latin-1 \xe9"
    f.write_bytes(b"# coding: klingon")
    assert _unreadable(f) == "skipped: unknown coding declaration 'klingon'"


def test_bad_bytes_under_a_declaration_name_the_declaration(tmp_path: Path) -> None:
    f = tmp_path / "ascii.py"
    data = b"# coding: ascii\nx = '\xff'\n"
    f.write_bytes(data)
    assert _unreadable(f) == (
        f"skipped: not valid ascii (its coding declaration) at byte {data.index(0xFF)}"
    )


def test_bom(tmp_path: Path) -> None:
    f = tmp_path / "bom.py"
    f.write_bytes(codecs.BOM_UTF8 + b"x = 1\n")
    src = files.read_source(f)
    assert (src.encoding, src.text) == ("utf-8-sig", "x = 1\n")


def test_nul_bytes_only_in_the_first_8_kib_make_a_file_binary(tmp_path: Path) -> None:
    f = tmp_path / "blob.py"
    f.write_bytes(b"x = 1\n" * 1000 + b"\0")  # NUL at byte 6000
    assert _unreadable(f) == "skipped: binary file (contains NUL bytes)"
    f.write_bytes(b"#" * 8192 + b"\0\n")  # first NUL at byte 8192: not looked at
    assert files.read_source(f).text == "#" * 8192 + "\0\n"


def test_size_limit(tmp_path: Path) -> None:
    f = tmp_path / "big.py"
    f.write_bytes(b"x = 1\n" * 20)
    assert _unreadable(f, max_bytes=119) == "skipped: 120 bytes is over the 119-byte limit"
    assert len(files.read_source(f, max_bytes=120).raw) == 120


def test_missing_files_and_folders_cannot_be_read(tmp_path: Path) -> None:
    assert _unreadable(tmp_path / "gone.py") == "cannot read: No such file or directory"
    assert _unreadable(tmp_path) == "cannot read: Is a directory"


def test_a_file_that_cannot_be_opened_but_is_too_large_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big, small = tmp_path / "big.py", tmp_path / "small.py"
    big.write_bytes(b"#" * 200)
    small.write_bytes(b"#")
    real_open = os.open

    def refuse(path, *args, **kwargs):  # as for chmod 000, which root would not feel
        if Path(path).parent == tmp_path:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    assert _unreadable(big, max_bytes=100) == "skipped: 200 bytes is over the 100-byte limit"
    assert _unreadable(small, max_bytes=100) == "cannot read: Permission denied"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_file_whose_size_says_zero_is_read_to_its_end() -> None:
    proc = Path("/proc/self/status")
    assert proc.stat().st_size == 0
    src = files.read_source(proc)
    assert src.text.startswith("Name:") and f"Pid:\t{os.getpid()}\n" in src.text


def test_a_file_longer_than_its_stat_said_is_read_to_its_end(tmp_path: Path) -> None:
    f = tmp_path / "grew.py"
    data = os.urandom(300_000)
    f.write_bytes(data)
    fd = os.open(f, os.O_RDONLY)
    try:
        assert files._read_all(fd, 10) == data  # as if it grew after the fstat
    finally:
        os.close(fd)
    fd = os.open(f, os.O_RDONLY)
    try:
        assert files._read_all(fd, len(data)) == data
    finally:
        os.close(fd)


def test_no_descriptor_is_left_open(tmp_path: Path) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs Linux /proc")
    good, bad, big = tmp_path / "g.py", tmp_path / "b.py", tmp_path / "h.py"
    good.write_text("x = 1\n")
    bad.write_bytes(b"\0")
    big.write_bytes(b"#" * 50)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        files.read_source(good)
        for f in (bad, big, tmp_path):
            with pytest.raises(files.Unreadable):
                files.read_source(f, max_bytes=10)
    assert len(os.listdir("/proc/self/fd")) == before
