"""recode-dataset notes / diff / stats end to end, without the network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from recode.dataset import cli as dataset_cli
from recode.training.dataset_tools import main

DATA = Path(__file__).parent / "data"


def test_notes_from_a_file(capsys):
    path = DATA / "notes" / "scipy-1.11.0-notes.rst"
    assert main(["notes", "scipy", "--file", str(path), "--json", "--category", "expired"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 11 and {x["category"] for x in lines} == {"expired"}
    assert lines[0]["symbols"] == ["n", "scipy.stats.moment"]


def test_notes_offline_without_cache_is_a_usage_error(tmp_path, capsys):
    code = main(["--cache-dir", str(tmp_path), "notes", "scipy", "--offline", "--to", "1.11"])
    assert code == 2
    assert "no versions" in capsys.readouterr().err


def test_diff_check_from_cached_wheels(tmp_path, capsys):
    pytest.importorskip("griffe")
    dists = tmp_path / "dists"
    dists.mkdir()
    for wheel in (DATA / "wheels").glob("*.whl"):
        shutil.copy(wheel, dists)  # already "downloaded": pip is not called
    out = tmp_path / "candidates.jsonl"
    code = main(
        [
            "--cache-dir",
            str(tmp_path),
            "diff",
            "packaging",
            "21.3",
            "22.0",
            "--check",
            "--no-notes",
            "--candidates",
            str(out),
        ]
    )
    assert code == 1  # the knowledge base has no packaging records: everything is missing
    printed = capsys.readouterr().out
    assert "packaging.version.LegacyVersion" in printed
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert any(
        r["symbol"] == "packaging.version.LegacyVersion" and r["kind"] == "removed" for r in records
    )


def test_stats_writes_the_datasheet(tmp_path, capsys):
    rows = [
        {
            "id": f"r{i}",
            "dependency": lib,
            "new_version": "==2.0.0",
            "update_info": "u",
            "old_code": "a",
            "new_code": "b",
            "record": f"{lib}-rec",
            "change_kind": "removed",
            "new_code_from": "fix",
            "verification": level,
            "checks": {},
            "provenance": {"origin": "mined"},
            "split": "train",
        }
        for i, (lib, level) in enumerate(
            [("numpy", "static"), ("numpy", "executed"), ("jax", "static")]
        )
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["stats", "--examples", str(tmp_path)]) == 0
    sheet = (tmp_path / "DATASHEET.md").read_text()
    assert "| numpy | 2 | 1 | 1 | 2 | 0 | 1 | 0 |" in sheet
    assert "| jax | 1 | 0 | 1 | 1 | 0 | 1 | 0 |" in sheet
    assert "numpy" in capsys.readouterr().out


def test_mark_re_marks_a_built_set_and_counts_in_the_datasheet(tmp_path, capsys):
    base = {
        "dependency": "numpy",
        "new_version": "==2.0.0",
        "update_info": "u",
        "record": "numpy-2.0-float_",
        "change_kind": "removed",
        "verification": "static",
        "checks": {},
        "provenance": {"origin": "mined"},
        "split": "train",
    }
    old = "import numpy as np\nx = np.float_(1)\n"
    rows = [
        {
            **base,
            "id": "exact",
            "old_code": old,
            "new_code_from": "kb-example",
            "new_code": "import numpy as np\nx = np.float64(1)  # the new name\n",
            "exact_fix": False,
            "exact_fix_records": [],
        },  # stale: today's fix writes it
        {
            **base,
            "id": "model",
            "old_code": old,
            "new_code_from": "later-release",
            "new_code": "import numpy as np\nx = float(1)\n",
        },
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "test.jsonl").write_text(json.dumps({**rows[1], "id": "t"}) + "\n")
    assert main(["mark", "--examples", str(tmp_path)]) == 0
    marked = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert [(r["id"], r["exact_fix"], r["exact_fix_records"]) for r in marked] == [
        ("exact", True, ["numpy-2.0-float_"]),
        ("model", False, []),
    ]
    for before, after in zip(rows, marked, strict=True):  # nothing else changes
        assert {k: v for k, v in after.items() if not k.startswith("exact_fix")} == {
            k: v for k, v in before.items() if not k.startswith("exact_fix")
        }
    assert json.loads((tmp_path / "test.jsonl").read_text())["exact_fix"] is False
    sheet = (tmp_path / "DATASHEET.md").read_text()
    assert "| numpy | 3 | 1 | 33% | 0 |" in sheet
    assert "recode-dataset mark --examples dataset/examples" in sheet
    assert capsys.readouterr().out.split("\n")[-2].split() == ["total", "3", "exact", "fix", "1"]
    # the dataset layer's own main has no fixes to mark with
    assert dataset_cli.main(["mark", "--examples", str(tmp_path)]) == 2
    assert "mark needs the detector and the fixes" in capsys.readouterr().err
    # a row without its code is refused, and no file is changed
    before = (tmp_path / "train.jsonl").read_bytes()
    (tmp_path / "test.jsonl").write_text(json.dumps({"id": "t", "record": "r"}) + "\n")
    assert main(["mark", "--examples", str(tmp_path)]) == 2
    assert "test.jsonl:1: no 'old_code' field" in capsys.readouterr().err
    assert (tmp_path / "train.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "DATASHEET.md",
        "test.jsonl",
        "train.jsonl",
    ]


def test_the_shipped_examples_all_carry_the_exact_fix_mark():
    folder = Path(__file__).parents[2] / "dataset" / "examples"
    rows = [
        json.loads(line)
        for f in sorted(folder.glob("*.jsonl"))
        for line in f.read_text("utf-8").splitlines()
    ]
    assert len(rows) > 1000
    for row in rows:
        assert isinstance(row.get("exact_fix"), bool), row["id"]
        assert isinstance(row.get("exact_fix_records"), list), row["id"]
        assert row["exact_fix"] == bool(row["exact_fix_records"]), row["id"]
    # examples written by the record's fix are exact by construction
    assert all(r["exact_fix"] for r in rows if r["new_code_from"] == "fix")
    assert 0 < sum(r["exact_fix"] for r in rows) < len(rows)
    exact = sum(r["exact_fix"] for r in rows)
    sheet = (folder / "DATASHEET.md").read_text("utf-8")
    assert f"| **total** | {len(rows)} | {exact} | {exact / len(rows):.0%} | 0 |" in sheet


def test_build_from_a_folder_with_a_library_cap(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("import numpy as np\n\n\ndef f(x):\n    return np.float_(x)\n")
    (src / "b.py").write_text("import numpy as np\n\n\ndef g(y):\n    return np.float_(y) + 1\n")
    out = tmp_path / "out"
    base = [
        "--cache-dir",
        str(tmp_path / "cache"),
        "build",
        "--no-kb-examples",
        "--libraries",
        "numpy",
        "--corpus-dir",
        str(src),
        "--out",
        str(out),
    ]
    assert main([*base, "--library-cap", "numpy=1"]) == 0
    built = json.loads((out / "BUILD.json").read_text())
    assert built["report"]["kept"] == 1
    assert built["report"]["rejected"] == {"per-update cap reached": 1}
    assert "--library-cap numpy=1" in built["command"]
    rows = [json.loads(x) for f in built["files"] for x in (out / f).read_text().splitlines()]
    assert [(r["dependency"], r["new_code_from"]) for r in rows] == [("numpy", "fix")]
    assert "np.float64(" in rows[0]["new_code"]
    assert main([*base, "--library-cap", "numpy=2"]) == 0
    assert json.loads((out / "BUILD.json").read_text())["report"]["kept"] == 2
    capsys.readouterr()
    assert main([*base, "--library-cap", "numpy"]) == 2
    assert "LIB=N" in capsys.readouterr().err
    # --kb: another knowledge base, here one without the np.float_ record
    kb = tmp_path / "kb"
    kb.mkdir()
    shipped = (Path(__file__).parents[2] / "dataset" / "kb" / "numpy.jsonl").read_text()
    (kb / "numpy.jsonl").write_text(
        "".join(line + "\n" for line in shipped.splitlines() if '"numpy.float_"' not in line)
    )
    assert main([*base, "--kb", str(kb)]) == 0
    assert json.loads((out / "BUILD.json").read_text())["report"]["kept"] == 0
    # the dataset layer's own main has no detector or sandbox to build with
    capsys.readouterr()
    assert dataset_cli.main(base) == 2
    assert "build needs the detector and the sandbox" in capsys.readouterr().err
