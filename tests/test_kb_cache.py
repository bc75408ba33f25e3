"""The cache of parsed knowledge-base files (dataset/kb_cache.py): it is used, it follows
every change of what the parse reads, and a broken or unwritable cache is ignored."""

from __future__ import annotations

import ast
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from recode.dataset import kb_cache, knowledge
from recode.dataset.knowledge import load_knowledge_base

RECORD = {
    "id": "numpy-2.0-float_",
    "library": "numpy",
    "symbol": "numpy.float_",
    "kind": "removed",
    "removed_in": "2.0.0",
    "note": "removed",
    "fix": {"kind": "rename", "to": "numpy.float64"},
    "source": {"url": "https://numpy.org/doc/stable/release/2.0.0-notes.html", "version": "2.0.0"},
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RECODE_KB_CACHE_DIR", raising=False)  # set for the whole suite
    return tmp_path / "cache" / "kb"


def write_kb(folder: Path, *records: dict) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "numpy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(knowledge, "_parse_file", fail)


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.pickle"))


def test_second_load_reads_the_cache(cache, tmp_path, monkeypatch):
    first = load_knowledge_base([write_kb(tmp_path / "kb", RECORD)])
    assert len(entries(cache)) == 1
    no_parsing(monkeypatch)
    again = load_knowledge_base([tmp_path / "kb" / "numpy.jsonl"])
    assert again.records == first.records and again.problems == first.problems


def test_shipped_base_is_the_same_from_the_cache(cache):
    fresh = load_knowledge_base()
    cached = load_knowledge_base()
    assert entries(cache)
    assert cached.records == fresh.records and cached.problems == fresh.problems


def test_a_changed_file_is_parsed_again_and_its_old_entry_removed(cache, tmp_path):
    path = write_kb(tmp_path / "kb", RECORD)
    assert [r.replacement for r in load_knowledge_base([path]).records] == [None]
    before = entries(cache)
    write_kb(tmp_path / "kb", {**RECORD, "replacement": "numpy.float64"})
    # the same size and time stamp would not fool it: the key is the content
    os.utime(path, ns=(before[0].stat().st_mtime_ns,) * 2)
    assert [r.replacement for r in load_knowledge_base([path]).records] == ["numpy.float64"]
    after = entries(cache)
    assert len(after) == 1 and after != before


def test_a_broken_record_s_problem_comes_back_from_the_cache(cache, tmp_path, monkeypatch):
    path = write_kb(tmp_path / "kb", RECORD, {**RECORD, "id": "x", "kind": "gone"})
    first = load_knowledge_base([path])
    no_parsing(monkeypatch)
    assert [str(p) for p in load_knowledge_base([path]).problems] == [
        str(p) for p in first.problems
    ]
    assert "kind must be one of" in str(first.problems[0])


def test_other_libraries_or_path_are_other_entries(cache, tmp_path):
    path = write_kb(tmp_path / "kb", RECORD)
    assert len(load_knowledge_base([path]).records) == 1
    assert load_knowledge_base([path], libraries=["pandas"]).records == []
    copy = tmp_path / "other"
    copy.mkdir()
    shutil.copy(path, copy / "numpy.jsonl")
    problems = load_knowledge_base([copy / "numpy.jsonl", path]).problems
    assert [p.path for p in problems] == [str(path)]  # the duplicate names its own file
    assert len(entries(cache)) == 3


def test_a_change_of_the_parser_is_a_new_entry(cache, tmp_path, monkeypatch):
    path = write_kb(tmp_path / "kb", RECORD)
    load_knowledge_base([path])
    parser = tmp_path / "knowledge.py"
    parser.write_bytes(kb_cache._PARSER.read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(kb_cache, "_PARSER", parser)
    kb_cache._code_key.cache_clear()
    try:
        load_knowledge_base([path])
    finally:
        kb_cache._code_key.cache_clear()
    assert len(entries(cache)) == 2


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05K"])
def test_a_broken_entry_is_ignored_and_replaced(cache, tmp_path, damage):
    path = write_kb(tmp_path / "kb", RECORD)
    expected = load_knowledge_base([path]).records
    (entry,) = entries(cache)
    entry.write_bytes(damage)
    assert load_knowledge_base([path]).records == expected
    assert entry.read_bytes() != damage


def test_an_entry_holding_something_else_is_ignored(cache, tmp_path):
    path = write_kb(tmp_path / "kb", RECORD)
    expected = load_knowledge_base([path]).records
    (entry,) = entries(cache)
    entry.write_bytes(__import__("pickle").dumps({"not": "records"}))
    assert load_knowledge_base([path]).records == expected


def test_an_unwritable_cache_is_not_used(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("RECODE_CACHE_DIR", str(blocker))
    path = write_kb(tmp_path / "kb", RECORD)
    assert [r.id for r in load_knowledge_base([path]).records] == [RECORD["id"]]
    assert [r.id for r in load_knowledge_base([path]).records] == [RECORD["id"]]


def test_an_undecodable_file_is_a_problem_and_the_others_load(cache, tmp_path):
    folder = tmp_path / "kb"
    write_kb(folder, RECORD)
    (folder / "pandas.jsonl").write_bytes(b'{"id": "\xff"}\n')
    kb = load_knowledge_base([folder])
    assert [r.id for r in kb.records] == [RECORD["id"]]
    assert [(p.path, p.line) for p in kb.problems] == [(str(folder / "pandas.jsonl"), 0)]
    assert "cannot read" in str(kb.problems[0])


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_lines_are_numbered_as_open_reads_them(cache, tmp_path, newline):
    # U+2028 inside a JSON string is not a line break for open(), nor for the loader
    line = json.dumps({**RECORD, "note": "removed\u2028for good"}, ensure_ascii=False)
    path = tmp_path / "numpy.jsonl"
    path.write_bytes(newline.join(["", line, "{broken"]).encode() + newline.encode())
    kb = load_knowledge_base([path])
    assert [r.origin for r in kb.records] == ["numpy.jsonl:2"]
    assert kb.records[0].note == "removed\u2028for good"
    assert [p.line for p in kb.problems] == [3]


def test_the_suite_keeps_its_cache_out_of_the_users(tmp_path, monkeypatch):
    monkeypatch.setenv("RECODE_KB_CACHE_DIR", str(tmp_path / "mine"))
    assert kb_cache.cache_dir() == tmp_path / "mine"


def test_the_parse_lives_where_the_key_reads_it():
    """An entry's key hashes knowledge.py's source as the parser's: the parse must not depend
    on other recode modules, or a change there would leave entries stale."""
    tree = ast.parse(kb_cache._PARSER.read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recode")
    } | {
        f"{node.module}.{a.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "recode.dataset"
        for a in node.names
    }
    imported |= {
        a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
        if a.name.startswith("recode")
    }
    assert imported <= {"recode.dataset", "recode.dataset.kb_cache"}, imported


def test_a_made_entry_is_read_back_only_for_the_same_inputs(cache):
    made: list[str] = []

    def make(value: str):
        def run() -> str:
            made.append(value)
            return value

        return run

    def valid(found: object) -> bool:
        return isinstance(found, str)

    assert kb_cache.cached_made("g", [b"a", b"bc"], make("first"), valid) == "first"
    assert kb_cache.cached_made("g", [b"a", b"bc"], make("again"), valid) == "first"
    assert kb_cache.cached_made("g", [b"ab", b"c"], make("split"), valid) == "split"  # not one
    assert kb_cache.cached_made("h", [b"a", b"bc"], make("other"), valid) == "other"
    assert made == ["first", "split", "other"]
    assert len(entries(cache)) == 2  # the group's earlier inputs replaced, the other group kept
    assert kb_cache.cached_made("g", [b"ab", b"c"], make("x"), lambda f: False) == "x"


OLD_NS = 1_600_000_000 * 10**9  # a modification time long past


def test_a_file_key_changes_with_every_edit_of_the_file(tmp_path, monkeypatch):
    """Keyed by its times (the file is not recent): each way to change a file changes its key,
    even one that keeps its size and sets its modification time back."""
    monkeypatch.setattr(kb_cache, "RECENT_NS", 0)  # no file counts as recent
    path = tmp_path / "numpy.jsonl"
    path.write_bytes(b"one")
    os.utime(path, ns=(OLD_NS, OLD_NS))
    first = kb_cache.file_key(path)
    assert first.startswith(b"stat ") and kb_cache.file_key(path) == first  # unchanged: same
    keys = {first}
    for edit in ("same size, time set back", "renamed over it", "touched"):
        time.sleep(0.05)  # past a tick of the kernel's coarse clock (what RECENT_NS covers)
        if edit == "renamed over it":
            other = tmp_path / "other"
            other.write_bytes(b"one")
            os.utime(other, ns=(OLD_NS, OLD_NS))
            os.replace(other, path)
        elif edit == "touched":
            os.utime(path, ns=(OLD_NS + 1, OLD_NS + 1))
        else:
            path.write_bytes(b"two")
            os.utime(path, ns=(OLD_NS, OLD_NS))
        key = kb_cache.file_key(path)
        assert key not in keys, edit
        keys.add(key)


def test_a_recently_changed_file_is_keyed_by_its_bytes(tmp_path):
    """Two writes of the same size in one tick of the clock can leave the same times: a file
    changed within RECENT_NS of now is keyed by what it holds."""
    path = tmp_path / "numpy.jsonl"
    path.write_bytes(b"one")
    first = kb_cache.file_key(path)
    assert first.startswith(b"bytes ")
    stat = path.stat()
    path.write_bytes(b"two")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same times as before
    assert kb_cache.file_key(path) != first
    path.write_bytes(b"one")
    assert kb_cache.file_key(path) == first


@pytest.mark.parametrize("recent", [True, False])
def test_an_edit_of_recode_s_source_is_a_new_code_key(tmp_path, monkeypatch, recent):
    import recode.dataset
    import recode.server
    from recode.server.lsp import workspaces

    if not recent:
        monkeypatch.setattr(kb_cache, "RECENT_NS", 0)
    for package in (recode.server, recode.dataset):
        root = tmp_path / package.__name__
        (root / "sub").mkdir(parents=True)
        (root / "sub" / "mod.py").write_text("x = 1\n")
        (root / "__init__.py").write_text("")
        monkeypatch.setattr(package, "__path__", [str(root)])
    digest = workspaces._code_digest.__wrapped__  # not the once-per-process answer
    first = digest()
    assert digest() == first
    time.sleep(0.05)
    source = tmp_path / "recode.dataset" / "sub" / "mod.py"
    source.write_text("x = 2\n")
    assert digest() != first
    source.write_text("x = 1\n")
    (tmp_path / "recode.server" / "sub" / "new.py").write_text("")
    assert digest() != first
