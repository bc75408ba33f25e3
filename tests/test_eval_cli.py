"""recode-eval's command line on a small synthetic CodeUpdateArena."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recode.training.eval import cli
from tests.test_eval_codeupdatearena import _arena_rows


@pytest.fixture
def arena_file(tmp_path: Path) -> Path:
    path = tmp_path / "arena.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in _arena_rows()))
    return path


def _broken_list(tmp_path: Path, ids: list[str]) -> Path:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"tasks": {i: "seen broken" for i in ids}}))
    return path


EXPECTED_BROKEN = ["fabs-no-update-needed", "fabs-wrong"]


def test_oracle_run_writes_results_and_agrees(
    arena_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    written = tmp_path / "written.json"
    status = cli.main(
        [
            "--suite",
            "codeupdatearena",
            "--oracle",
            "-k",
            "1,5",
            "--out",
            str(out),
            "--data",
            str(arena_file),
            "--workers",
            "2",
            "--broken-list",
            str(_broken_list(tmp_path, EXPECTED_BROKEN)),
            "--write-broken",
            str(written),
        ]
    )
    assert status == 0, capsys.readouterr().err
    report = json.loads((out / "results.json").read_text())
    assert report["suite"] == "codeupdatearena"
    assert report["model"].startswith("oracle")
    assert report["metrics"]["pass@1"] == 1.0 and report["metrics"]["upass@1"] == 1.0
    assert report["metrics"]["pass@5"] is None  # one sample per task
    assert report["scored_tasks"] == 2 and report["excluded_tasks"] == 2
    assert set(report["by_package"]) == {"math", "itertools"}
    assert report["oracle"] == {
        "broken": 2,
        "agrees": True,
        "newly_broken": [],
        "no_longer_broken": [],
    }
    rows = {row["task_id"]: row for row in report["tasks"]}
    assert rows["fabs-wrong"]["excluded"]
    assert rows["fabs-wrong"]["broken_reason"].startswith("fails with the update")
    assert "without the update too" in rows["fabs-no-update-needed"]["broken_reason"]
    assert rows["fabs-good"]["samples"][0]["with_update"]["passed"]
    assert report["environment"]["python"].count(".") == 2
    assert "network" in report["sandbox"]
    markdown = (out / "results.md").read_text()
    assert "| **all** | 2 | 100.0 | 100.0 |" in markdown
    assert "checked-in list agrees: True" in markdown
    seen = json.loads(written.read_text())
    assert sorted(seen["tasks"]) == EXPECTED_BROKEN
    assert seen["environment"] == report["environment"]


def test_oracle_disagreement_exits_1(arena_file: Path, tmp_path: Path) -> None:
    status = cli.main(
        [
            "--oracle",
            "--out",
            str(tmp_path / "o"),
            "--data",
            str(arena_file),
            "--broken-list",
            str(_broken_list(tmp_path, ["fabs-wrong", "rename-good"])),
        ]
    )
    assert status == 1
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert report["oracle"]["newly_broken"] == ["fabs-no-update-needed"]
    assert report["oracle"]["no_longer_broken"] == ["rename-good"]
    # Scored over the tasks the checked-in list does not exclude: one of them is broken.
    assert report["metrics"]["tasks"] == 2
    assert report["metrics"]["upass@1"] == 0.5


def test_scores_completions(arena_file: Path, tmp_path: Path) -> None:
    good = (
        "Use negate.</think>\n<answer>\n```python\nimport math\n\ndef neg_abs(x):\n"
        "    return math.fabs(x, negate=True)\n```\n</answer>"
    )
    old_api = "</think><answer>\n```python\ndef neg_abs(x):\n    return -abs(x)\n```\n</answer>"
    completions = tmp_path / "completions.jsonl"
    completions.write_text(
        json.dumps({"task_id": "fabs-good", "completions": [good, old_api, "no answer"]})
        + "\n"
        + json.dumps({"task_id": "unknown-task", "completions": [good]})
        + "\n"
    )
    out = tmp_path / "out"
    status = cli.main(
        [
            "--completions",
            str(completions),
            "--model",
            "toy",
            "-k",
            "1,2",
            "--out",
            str(out),
            "--data",
            str(arena_file),
            "--limit",
            "1",
            "--broken-list",
            str(_broken_list(tmp_path, [])),
        ]
    )
    assert status == 0
    report = json.loads((out / "results.json").read_text())
    assert report["model"] == "toy"
    (row,) = report["tasks"]
    assert (row["n"], row["passed"], row["update_passed"]) == (3, 2, 1)
    assert [s["extracted"] for s in row["samples"]] == [True, True, False]
    assert report["metrics"]["pass@1"] == pytest.approx(2 / 3)
    assert report["metrics"]["upass@1"] == pytest.approx(1 / 3)
    assert report["metrics"]["upass@2"] == pytest.approx(2 / 3)
    # plots of the metrics overall and per package / update type, as real PNG files
    pytest.importorskip("matplotlib")
    for name in ("metrics.png", "by_package.png", "by_update_type.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model-url", "http://127.0.0.1:1/v1", "--completions", "c.jsonl"], "only one of"),
        ([], "give --oracle, --completions FILE, --model-url"),
        (["--oracle", "-k", "x"], "comma-separated"),
        (["--oracle", "--data", "/nonexistent/arena.jsonl"], "not found"),
    ],
)
def test_usage_errors_exit_2(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--out", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_broken_list_sections(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(
        json.dumps(
            {
                "tasks": {"always": "r"},
                "unstable": {"flaky": "r"},
                "conditional": [
                    {"when": {"package": "numpy", "min_major": 2}, "tasks": {"np2": "r"}},
                    {"when": {"package": "scipy", "missing": True}, "tasks": {"noscipy": "r"}},
                ],
            }
        )
    )
    old = {"numpy": "1.26.4", "scipy": "1.17.1"}
    new = {"numpy": "2.4.6", "scipy": None}
    assert set(cli.load_broken(path, old)) == {"always", "flaky"}
    assert set(cli.load_broken(path, new)) == {"always", "flaky", "np2", "noscipy"}
    assert set(cli.load_broken(path)) == {"always", "flaky"}
    assert cli.load_unstable(path) == {"flaky"}
    assert cli.load_broken(tmp_path / "absent.json", old) == {}

    report = {
        "environment": new,
        "data": "/x/arena.jsonl",
        "config": {"test_cpu_s": 20.0, "memory_mb": 4096},
    }
    written = tmp_path / "written.json"
    cli.write_broken_list(
        written, {"always": "seen", "np2": "seen", "flaky": "seen", "fresh": "seen"}, report, path
    )
    document = json.loads(written.read_text())
    assert document["tasks"] == {"always": "seen", "fresh": "seen"}  # explained ones stay out
    assert document["unstable"] == {"flaky": "r"}
    assert len(document["conditional"]) == 2
    assert document["environment"] == new


def test_checked_in_broken_list_is_well_formed() -> None:
    document = json.loads(cli.BROKEN_LIST.read_text())
    assert document["suite"] == "codeupdatearena"
    every = list(document["tasks"]) + list(document["unstable"])
    for section in document["conditional"]:
        assert section["why"] and section["tasks"]
        assert set(section["when"]) <= {"package", "missing", "min_major"}
        every += list(section["tasks"])
    assert len(every) == len(set(every))
    assert all(task_id.startswith("[") and ":[prog_syn-" in task_id for task_id in every)
    assert all(reason for reason in document["tasks"].values())
