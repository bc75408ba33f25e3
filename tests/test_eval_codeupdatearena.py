"""CodeUpdateArena: loading, prompt, extraction, installing updates, the sandboxed harness.

Fast tests use a small synthetic benchmark over the standard library; the whole-set oracle run
is in test_eval_oracle.py.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from recode.training.eval import codeupdatearena as cua

FABS_UPDATE = {
    "description": "math.fabs gains `negate`: return the negated absolute value.",
    "rationale": "r",
    "docstring": "If negate is True the result is -|x|.",
    "signature": "math.fabs(x, negate=False)",
    "imports": "import math\nold_fabs = math.fabs\nsetattr(math, 'old_fabs', old_fabs)",
    "implementation": (
        "def fabs(x, negate=False):\n"
        "    value = old_fabs(x)\n"
        "    return -value if negate else value\n"
    ),
    "update_type": "add-argument",
    "function_path": "math.fabs",
    "package": "math",
    "update_id": "[math.fabs]:[add-argument]:[update-0]",
}
RENAME_UPDATE = {
    "description": "itertools.accumulate is renamed running_total.",
    "rationale": "r",
    "docstring": "Same behaviour, new name.",
    "signature": "itertools.running_total(iterable, func=None)",
    "imports": (
        "import itertools\nold_accumulate = itertools.accumulate\n"
        "setattr(itertools, 'old_accumulate', old_accumulate)"
    ),
    "implementation": (
        "def running_total(iterable, func=None):\n"
        "    if func is None:\n"
        "        return old_accumulate(iterable)\n"
        "    return old_accumulate(iterable, func)\n"
    ),
    "update_type": "modify-function-name",
    "function_path": "itertools.accumulate",
    "package": "itertools",
    "update_id": "[itertools.accumulate]:[modify-function-name]:[update-0]",
}
NEG_TESTS = (
    "def test_negative():\n    assert neg_abs(-3) == -3.0\n\n"
    "def test_zero():\n    value = neg_abs(0)\n\n    assert value == 0\n"
)


def _example(pid: str, solution: str, tests: str, signature: str = "def neg_abs(x):") -> dict:
    return {
        "scenario": "s",
        "problem": "p",
        "solution_signature": signature,
        "unit_tests": tests,
        "prog_syn_imports": "",
        "ref_solution": solution,
        "prog_syn_id": pid,
    }


def _arena_rows() -> list[dict]:
    fabs_examples = [
        _example(
            "fabs-good",
            "import math\n\ndef neg_abs(x):\n    return math.fabs(x, negate=True)\n",
            NEG_TESTS,
        ),
        _example(
            "fabs-no-update-needed", "def neg_abs(x):\n    return -abs(float(x))\n", NEG_TESTS
        ),
        _example(
            "fabs-wrong", "import math\n\ndef neg_abs(x):\n    return math.fabs(x)\n", NEG_TESTS
        ),
    ]
    for example in fabs_examples:
        example["prog_syn_imports"] = FABS_UPDATE["imports"]
    rename_example = _example(
        "rename-good",
        "import itertools\n\ndef totals(xs):\n    return list(itertools.running_total(xs))\n",
        "def test_totals():\n    assert totals([1, 2, 3]) == [1, 3, 6]\n\n"
        "def test_old_name_gone():\n    import itertools\n"
        "    assert not hasattr(itertools, 'accumulate')\n",
        signature="def totals(xs):",
    )
    rename_example["prog_syn_imports"] = RENAME_UPDATE["imports"]
    return [
        {"update": FABS_UPDATE, "prog_syn_examples": fabs_examples},
        {"update": RENAME_UPDATE, "prog_syn_examples": [rename_example]},
    ]


@pytest.fixture
def arena_file(tmp_path: Path) -> Path:
    path = tmp_path / "arena.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in _arena_rows()))
    return path


@pytest.fixture
def tasks(arena_file: Path) -> dict[str, cua.ArenaTask]:
    return {task.task_id: task for task in cua.load_arena(arena_file)}


def test_load_grouped_and_ungrouped(arena_file: Path, tmp_path: Path) -> None:
    grouped = cua.load_arena(arena_file)
    assert [t.task_id for t in grouped] == [
        "fabs-good",
        "fabs-no-update-needed",
        "fabs-wrong",
        "rename-good",
    ]
    assert grouped[0].update.update_type == "add-argument"
    ungrouped_path = tmp_path / "ungrouped.jsonl"
    row = dict(_arena_rows()[0]["prog_syn_examples"][0])
    row["update"] = FABS_UPDATE
    row["unit_tests"] = [
        "def test_a():\n    assert neg_abs(-1) == -1.0",
        "def test_b():\n    assert neg_abs(2) == -2.0",
    ]
    ungrouped_path.write_text(json.dumps(row) + "\n")
    (task,) = cua.load_arena(ungrouped_path)
    assert task.task_id == "fabs-good"
    assert [name for name, _ in task.tests] == ["test_a", "test_b"]


def test_split_unit_tests_keeps_blank_lines_and_shared_imports() -> None:
    source = "import math\n\n" + NEG_TESTS
    tests = cua.split_unit_tests(source)
    assert [name for name, _ in tests] == ["test_negative", "test_zero"]
    zero = tests[1][1]
    assert zero.startswith("import math\n")
    assert "value = neg_abs(0)\n\n    assert value == 0" in zero


def test_new_function_name() -> None:
    fabs = cua._update_from(FABS_UPDATE)
    rename = cua._update_from(RENAME_UPDATE)
    assert cua.new_function_name(fabs) == "fabs"
    assert cua.new_function_name(rename) == "running_total"
    added = cua._update_from(
        {**FABS_UPDATE, "update_type": "add-function", "signature": "def math.fabs_all(xs)"}
    )
    assert cua.new_function_name(added) == "fabs_all"


@pytest.fixture
def fake_library(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("arena_fake_lib")

    def area(side):
        return side * side

    class Shape:
        def scale(self, factor):
            return ("old", factor)

    module.area = area  # type: ignore[attr-defined]
    module.Shape = Shape  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "arena_fake_lib", module)
    return module


def _install(update: dict, implementation: str) -> dict:
    namespace: dict = {}
    exec(implementation, namespace)
    exec(cua.enforcement_code(cua._update_from(update)), namespace)
    return namespace


def test_installs_changed_function(fake_library: types.ModuleType) -> None:
    update = {**FABS_UPDATE, "function_path": "arena_fake_lib.area", "update_type": "add-argument"}
    _install(update, "def area(side, height=None):\n    return ('new', side, height)\n")
    assert fake_library.area(2, 3) == ("new", 2, 3)


def test_installs_method_on_a_class(fake_library: types.ModuleType) -> None:
    update = {
        **FABS_UPDATE,
        "function_path": "arena_fake_lib.Shape.scale",
        "update_type": "modify-output-semantics",
    }
    _install(update, "def scale(self, factor, twice=False):\n    return ('new', factor)\n")
    assert fake_library.Shape().scale(3) == ("new", 3)


def test_installs_renamed_and_added_function(fake_library: types.ModuleType) -> None:
    rename = {
        **RENAME_UPDATE,
        "function_path": "arena_fake_lib.area",
        "signature": "arena_fake_lib.square_area(side)",
    }
    _install(rename, "def square_area(side):\n    return side ** 2\n")
    assert not hasattr(fake_library, "area")
    assert fake_library.square_area(4) == 16
    added = {
        **FABS_UPDATE,
        "function_path": "arena_fake_lib.square_area",
        "update_type": "add-function",
        "signature": "arena_fake_lib.cube(side)",
    }
    _install(added, "def cube(side):\n    return side ** 3\n")
    assert fake_library.cube(2) == 8
    assert fake_library.square_area(3) == 9


def test_program_sections(tasks: dict[str, cua.ArenaTask]) -> None:
    task = tasks["fabs-good"]
    name, source = task.tests[0]
    with_update = cua.test_program(task, task.ref_solution, source, name, True)
    without = cua.test_program(task, task.ref_solution, source, name, False)
    assert [s for s, _ in with_update] == list(cua.SECTIONS)
    assert [s for s, _ in without] == [s for s in cua.SECTIONS if s != "update installation"]
    assert with_update[-1][1].rstrip().endswith("test_negative()")


def test_prompt_holds_update_problem_and_format(tasks: dict[str, cua.ArenaTask]) -> None:
    system, user = cua.build_messages(tasks["fabs-good"])
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    for piece in (
        "math performed an API update to `math.fabs`",
        "<doc>",
        "math.fabs gains `negate`",
        "New signature: math.fabs(x, negate=False)",
        "If negate is True",
        "Scenario: s",
        "Problem: p",
        "Solution signature: def neg_abs(x):",
        "<think>",
        "<answer>",
        "```python",
    ):
        assert piece in text, piece
    assert cua.THINK_PREFILL == "<think>"


def test_extract_solution_from_a_completion() -> None:
    completion = (
        "The update adds negate.</think>\n<answer>\n```python\nimport math\n\n"
        "def neg_abs(x):\n    return math.fabs(x, negate=True)\n```\n</answer>"
    )
    assert cua.extract_solution(completion) == (
        "import math\n\ndef neg_abs(x):\n    return math.fabs(x, negate=True)"
    )
    assert cua.extract_solution("no answer here") is None


def test_harness_with_and_without_the_update(tasks: dict[str, cua.ArenaTask]) -> None:
    chosen = list(tasks.values())
    runs: list[cua.GroupRun] = []
    outcomes = cua.evaluate(
        chosen, cua.oracle_solutions(chosen), workers=2, test_cpu_s=5, runs=runs
    )
    good = outcomes["fabs-good"][0]
    assert good.passed and good.update_passed
    assert good.with_update.tests_run == 2
    assert "TypeError" in (good.without_update.failure or "")
    assert good.without_update.failure.startswith("test_negative: error in solution")
    assert good.without_update.tests_run == 1  # stops at the first failure

    no_need = outcomes["fabs-no-update-needed"][0]
    assert no_need.passed and not no_need.update_passed

    wrong = outcomes["fabs-wrong"][0]
    assert not wrong.passed
    assert wrong.with_update.failure.startswith("test_negative: fail in unit test: AssertionError")

    rename = outcomes["rename-good"][0]
    assert rename.update_passed, rename.to_dict()
    assert "AttributeError" in (rename.without_update.failure or "")
    assert len(runs) == 2 and all(r.result.status == "ok" for r in runs)


def test_harness_limits_and_missing_code(tasks: dict[str, cua.ArenaTask]) -> None:
    task = tasks["fabs-good"]
    looping = "def neg_abs(x):\n    while True:\n        pass\n"
    crashing = "import os\n\ndef neg_abs(x):\n    os._exit(3)\n"
    outcomes = cua.evaluate(
        [task], {task.task_id: [looping, crashing, None]}, workers=1, test_cpu_s=1, test_wall_s=20
    )[task.task_id]
    assert [o.passed for o in outcomes] == [False] * 3
    assert "timeout: over 1 s of CPU time" in outcomes[0].with_update.failure
    assert "crash: exit status 3" in outcomes[1].with_update.failure
    assert outcomes[2].with_update.failure == "no code extracted"
    assert not outcomes[2].extracted
    sleeping = "import time\n\ndef neg_abs(x):\n    time.sleep(30)\n"
    (slept,) = cua.evaluate(
        [task], {task.task_id: [sleeping]}, workers=1, test_cpu_s=5, test_wall_s=1
    )[task.task_id]
    assert "timeout: over 1 s of wall-clock time" in slept.with_update.failure


def test_tests_do_not_leak_into_each_other(tmp_path: Path) -> None:
    # The first test breaks a module; the second must not see it (one process per test).
    row = _arena_rows()[0]
    example = dict(row["prog_syn_examples"][0])
    example["prog_syn_id"] = "isolation"
    example["unit_tests"] = (
        "def test_break():\n    import math\n    math.pi = 3\n    assert neg_abs(-1) == -1.0\n\n"
        "def test_intact():\n    import math\n    assert math.pi > 3.14\n"
        "    assert neg_abs(-2) == -2.0\n"
    )
    path = tmp_path / "iso.jsonl"
    path.write_text(json.dumps({"update": row["update"], "prog_syn_examples": [example]}) + "\n")
    (task,) = cua.load_arena(path)
    (outcome,) = cua.evaluate([task], cua.oracle_solutions([task]), workers=1)["isolation"]
    assert outcome.passed, outcome.to_dict()


def test_real_data_loads_when_present() -> None:
    path = cua.default_data_path()
    if not path.exists():
        pytest.skip(f"CodeUpdateArena data not at {path}")
    tasks = cua.load_arena(path)
    assert len(tasks) == 577
    assert len({t.update.update_id for t in tasks}) == 141
    assert sum(len(t.tests) for t in tasks) == 3611
    for task in tasks:
        assert cua.new_function_name(task.update) in task.update.implementation
