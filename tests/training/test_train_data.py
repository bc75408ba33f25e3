"""recode.training.data: ReCode JSONL, knowledge-base rows, split by update, arena refusal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recode.dataset.knowledge import load_knowledge_base
from recode.dataset.prompt import THINK_PREFILL, extract_answer
from recode.training import data as data_module
from recode.training.config import ConfigError
from recode.training.data import (
    ArenaDataError,
    DataError,
    arena_reason,
    collect_rows,
    is_arena_path,
    kb_rows,
    keep_exact_fixes,
    mark_exact_fixes,
    read_recode_jsonl,
    sft_target,
    split_by_update,
    to_dataset,
    update_key,
    write_recode_jsonl,
)
from recode.training.reward import es_star, format_reward

ARENA = Path(__file__).resolve().parents[3] / "shared" / "data" / "CodeUpdateArena" / "arena.jsonl"


def _row(update: str, i: int = 0, **extra: str) -> dict[str, str]:
    return {
        "dependency": "numpy",
        "new_version": "==2.0.0",
        "update_info": f"update {update}: the old name was removed.",
        "old_code": f"x{i} = np.old_{update}()",
        "new_code": f"x{i} = np.new_{update}()",
        **extra,
    }


def _kb_file(tmp_path: Path) -> Path:
    records = [
        {
            "id": f"numpy-2.0-r{i}",
            "library": "numpy",
            "symbol": f"numpy.old{i}",
            "kind": "removed",
            "removed_in": "2.0.0",
            "note": f"numpy.old{i} was removed; use numpy.new{i}.",
            "source": {"url": "https://numpy.org/doc/2.0/release.html", "version": "2.0.0"},
            "examples": [
                {"old": f"np.old{i}(x{j})", "new": f"np.new{i}(x{j})"} for j in range(i + 1)
            ],
        }
        for i in range(3)
    ]
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_kb_rows_use_the_record_note_and_id(tmp_path):
    kb = load_knowledge_base([_kb_file(tmp_path)])
    assert not kb.problems
    rows = kb_rows(kb)
    with_examples = [r for r in kb.records if r.examples]
    assert len(rows) == sum(len(r.examples) for r in with_examples) > 0
    record = with_examples[0]
    row = next(r for r in rows if r["update_id"] == record.id)
    assert row["update_info"] == record.note
    assert row["dependency"] == record.library
    assert row["old_code"] == record.examples[0].old and row["new_code"] == record.examples[0].new
    assert row["new_version"].lstrip("=") == record.display_version


def test_jsonl_round_trip_and_errors(tmp_path):
    rows = [_row("a", 0), _row("a", 1, update_id="numpy-a"), _row("b")]
    path = write_recode_jsonl(rows, tmp_path / "d.jsonl")
    back = read_recode_jsonl(path)
    assert [r["new_code"] for r in back] == [r["new_code"] for r in rows]
    assert back[1]["update_id"] == "numpy-a"
    assert back[0]["update_id"] == update_key(rows[0]) == update_key(rows[1] | {"update_id": ""})
    assert back[0]["source"].endswith("d.jsonl:1")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({k: v for k, v in _row("c").items() if k != "new_code"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: .*new_code"):
        read_recode_jsonl(bad)
    bad.write_text("{not json\n")
    with pytest.raises(DataError, match="not valid JSON"):
        read_recode_jsonl(bad)


def test_split_keeps_updates_whole():
    rows = [_row(f"u{u}", i) for u in range(20) for i in range(u % 4 + 1)]
    split = split_by_update(rows, 0.25, seed=3)
    assert not split.train_updates & split.validation_updates
    assert len(split.validation_updates) == 5
    assert len(split.train) + len(split.validation) == len(rows)
    # same split whatever the row order, different with another seed
    again = split_by_update(list(reversed(rows)), 0.25, seed=3)
    assert again.validation_updates == split.validation_updates
    assert split_by_update(rows, 0.25, seed=4).validation_updates != split.validation_updates


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=30),
    fraction=st.floats(min_value=0.0, max_value=0.9),
    minimum=st.integers(min_value=0, max_value=5),
    seed=st.integers(min_value=0, max_value=10),
)
def test_split_properties(sizes, fraction, minimum, seed):
    rows = [_row(f"u{u}", i) for u, n in enumerate(sizes) for i in range(n)]
    split = split_by_update(rows, fraction, min_val_updates=minimum, seed=seed)
    assert not split.train_updates & split.validation_updates
    assert sorted(
        r["old_code"] + r["update_info"] for r in split.train + split.validation
    ) == sorted(r["old_code"] + r["update_info"] for r in rows)
    if len(sizes) >= 2:
        assert split.train, "at least one update is always left for training"
    if fraction == 0:
        assert not split.validation


def test_collect_rows_filters_and_deduplicates(tmp_path):
    extra = write_recode_jsonl(
        [_row("a"), _row("a"), _row("b", dependency="pandas")], tmp_path / "x.jsonl"
    )
    rows = collect_rows([extra], use_kb=False)
    assert len(rows) == 2
    assert [r["dependency"] for r in collect_rows([extra], use_kb=False, libraries=["Pandas"])] == [
        "pandas"
    ]
    with_kb = collect_rows([extra], kb_paths=[_kb_file(tmp_path)])
    assert len(with_kb) == len(rows) + 6


# ---- CodeUpdateArena refusal -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "data/CodeUpdateArena/train.jsonl",
        "x/code-update-arena/a.jsonl",
        "arena.jsonl",
        "d/arena-ungrouped.jsonl",
        "d/CODEUPDATEARENA/x.jsonl",
    ],
)
def test_arena_paths_are_refused(tmp_path, path):
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    write_recode_jsonl([_row("a")], target)  # harmless content: refused for its path alone
    assert is_arena_path(target)
    with pytest.raises(ArenaDataError, match="held-out"):
        read_recode_jsonl(target)
    with pytest.raises(ArenaDataError):
        collect_rows([target], use_kb=False)


def test_other_paths_are_accepted(tmp_path):
    target = write_recode_jsonl([_row("a")], tmp_path / "recode" / "train.jsonl")
    assert not is_arena_path(target)
    assert len(read_recode_jsonl(target)) == 1


@pytest.mark.skipif(not ARENA.is_file(), reason="CodeUpdateArena data not present")
def test_a_link_to_the_arena_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(data_module.ARENA_ENV, str(ARENA))
    link = tmp_path / "innocent.jsonl"
    os.symlink(ARENA, link)
    assert is_arena_path(link)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(ARENA.read_bytes()[:200_000].rsplit(b"\n", 1)[0] + b"\n")
    with pytest.raises(ArenaDataError, match=r"copy.jsonl:1: .*CodeUpdateArena fields"):
        read_recode_jsonl(copy)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"prog_syn_id": "x"}, "fields: prog_syn_id"),
        ({"update": {"update_type": "add-argument"}}, "update.update_type"),
        ({"update_id": "[numpy.sum]:[add-argument]:[update-1]"}, "update id"),
        ({"old_code": "old_sin = math.sin\nsetattr(math, 'old_sin', old_sin)"}, "setattr"),
    ],
)
def test_arena_rows_are_refused_by_content(tmp_path, extra, reason):
    row = {**_row("a"), **extra}
    assert reason in (arena_reason(row) or "")
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(_row("ok")) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ArenaDataError, match=r"mixed.jsonl:2"):
        read_recode_jsonl(path)


@pytest.mark.skipif(not ARENA.is_file(), reason="CodeUpdateArena data not present")
def test_arena_text_converted_to_recode_format_is_refused(monkeypatch):
    monkeypatch.setenv(data_module.ARENA_ENV, str(ARENA))
    data_module._arena_fingerprints.cache_clear()
    try:
        raw = json.loads(ARENA.read_text("utf-8").splitlines()[5])
        update, task = raw["update"], raw["prog_syn_examples"][0]
        converted = {
            "dependency": update["package"],
            "new_version": "==9.9",
            "update_info": "Release notes. " + update["docstring"],
            "old_code": "pass",
            "new_code": "y = 1",
        }
        assert "quotes a CodeUpdateArena update" in arena_reason(converted)
        solution = {**_row("a"), "new_code": "\n" + task["ref_solution"] + "\n\n"}
        assert arena_reason(solution) == "new_code is CodeUpdateArena code"
        assert arena_reason(_row("a")) is None
    finally:
        data_module._arena_fingerprints.cache_clear()


def test_the_shipped_knowledge_base_passes_the_arena_check():
    rows = collect_rows()
    assert rows and all(arena_reason(r) is None for r in rows)


# ---- datasets ---------------------------------------------------------------------------------


def test_to_dataset_renders_the_shared_prompt(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = [_row("a"), _row("b", 1, update_info="long " * 400)]
    ds = to_dataset(rows, tok)
    assert len(ds) == 2
    prompt = ds[0]["prompt"]
    assert prompt.startswith("<|im_start|>system\n")
    assert prompt.endswith("<|im_start|>assistant\n" + THINK_PREFILL)
    assert "x0 = np.old_a()" in prompt and "np.new_a" not in prompt
    assert ds[0]["new_code"] == rows[0]["new_code"]
    assert ds[0]["update_id"] == update_key(rows[0])
    short = to_dataset(rows, tok, max_prompt_tokens=300)
    assert [r["update_id"] for r in short] == [update_key(rows[0])]


def test_sft_target_is_a_perfect_answer():
    row = _row("a")
    target = sft_target(row)
    assert format_reward([target]) == [1.0]
    assert es_star([target], [row["new_code"]]) == [2.0]
    assert extract_answer(target) == row["new_code"]
    assert len(sft_target({**row, "update_info": "word " * 100}, think_chars=20)) < 120


# ---- exact fixes: left out of the RL data ----------------------------------------------------

OLD_FLOAT = "import numpy as np\nx = np.float_(1)\n"
FIXED_FLOAT = "import numpy as np\nx = np.float64(1)\n"


def _exact_kb(tmp_path: Path) -> Path:
    record = {
        "id": "numpy-2.0-float_",
        "library": "numpy",
        "symbol": "numpy.float_",
        "kind": "removed",
        "removed_in": "2.0.0",
        "replacement": "numpy.float64",
        "fix": {"kind": "rename", "to": "numpy.float64"},
        "note": "np.float_ was removed.",
        "source": {"url": "https://numpy.org/doc/2.0/release.html", "version": "2.0.0"},
        "examples": [
            {"old": OLD_FLOAT, "new": FIXED_FLOAT},
            {"old": OLD_FLOAT, "new": "import numpy as np\nx = float(1)\n"},
        ],
    }
    path = tmp_path / "kb" / "numpy.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps(record) + "\n")
    return path


def test_jsonl_keeps_the_exact_fix_mark_and_refuses_a_bad_one(tmp_path):
    path = write_recode_jsonl([_row("a", exact_fix=True), _row("b")], tmp_path / "d.jsonl")
    back = read_recode_jsonl(path)
    assert back[0]["exact_fix"] is True and "exact_fix" not in back[1]
    path.write_text(json.dumps(_row("a") | {"exact_fix": "yes"}) + "\n")
    with pytest.raises(DataError, match="d.jsonl:1: exact_fix must be true or false"):
        read_recode_jsonl(path)


def test_mark_exact_fixes_marks_unmarked_rows_with_todays_fixes(tmp_path):
    kb = load_knowledge_base([_exact_kb(tmp_path)])
    assert not kb.problems
    rows = kb_rows(kb) + [_row("a", exact_fix=True)]
    marked = mark_exact_fixes(rows, kb)
    assert [r["exact_fix"] for r in marked] == [True, False, True]  # the file's mark is kept
    assert "exact_fix" not in rows[0]  # the rows given are left alone


def test_keep_exact_fixes_leaves_them_out_or_keeps_a_seeded_share():
    rows = [_row(str(i), i, exact_fix=i % 3 != 0) for i in range(30)]
    exact = [r for r in rows if r["exact_fix"]]
    assert keep_exact_fixes(rows, 0.0) == [r for r in rows if not r["exact_fix"]]
    assert keep_exact_fixes(rows, 1.0) == rows
    half = keep_exact_fixes(rows, 0.5, seed=3)
    assert sum(r["exact_fix"] for r in half) == len(exact) // 2
    assert [r for r in half if not r["exact_fix"]] == [r for r in rows if not r["exact_fix"]]
    assert half == keep_exact_fixes(rows, 0.5, seed=3) != keep_exact_fixes(rows, 0.5, seed=4)
    assert [rows.index(r) for r in half] == sorted(rows.index(r) for r in half)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        keep_exact_fixes(rows, 1.5)


def test_the_trainer_sees_no_exact_fix_rows_by_default(tmp_path):
    from recode.training.config import load_config
    from recode.training.trainer import training_split

    files = [
        {
            "dependency": "numpy",
            "new_version": "==2.0.0",
            "update_info": f"u{u}",
            "old_code": OLD_FLOAT.replace("(1)", f"({u})"),
            "new_code": new.replace("(1)", f"({u})"),
            "update_id": f"up{u}",
        }
        for u in range(6)
        for new in (FIXED_FLOAT, "import numpy as np\nx = float(1)\n")
    ]
    data = write_recode_jsonl(files, tmp_path / "d.jsonl")  # unmarked: marked at load
    kb = _exact_kb(tmp_path)
    base = [f"data={data}", f"kb_paths={kb}", "val_fraction=0.34", "val_min_updates=1"]
    default = training_split(load_config(overrides=base))
    assert default.train and not any(r["exact_fix"] for r in default.train)
    # the knowledge base's own example that its fix writes is left out too
    assert FIXED_FLOAT not in [r["new_code"] for r in default.train]
    every = training_split(load_config(overrides=[*base, "exact_fix_keep_fraction=1"]))
    assert FIXED_FLOAT in [r["new_code"] for r in every.train]
    assert len(every.train) == len(default.train) + sum(
        "float64" in r["new_code"] for r in every.train
    )
    assert every.validation == default.validation  # the split and validation stay as they are
    assert any("float64" in r["new_code"] for r in default.validation)
    with pytest.raises(ConfigError, match=r"exact_fix_keep_fraction must be in \[0, 1\]"):
        load_config(overrides=[*base, "exact_fix_keep_fraction=2"])
