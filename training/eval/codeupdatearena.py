"""CodeUpdateArena (Liu et al., arXiv 2407.06249): tasks, prompt, and execution with and
without the API update.

Each task pairs a synthetic update of a library function (``update``: description, docstring,
new signature, ``imports`` that keep the original as ``old_<name>``, and the new
``implementation``) with a program-synthesis problem and unit tests. The benchmark's own harness
builds, for every unit test, one program::

    imports; new implementation; [statement installing the update]; solution; test; test()

and runs it twice: with the installing statement ("with the update") and without it. This module
does the same in :mod:`recode.training.sandbox`: one sandboxed interpreter per update runs the
imports once (torch costs seconds to import) and then forks one child per (solution, condition,
unit test), so unit tests stay isolated from one another as in the original, at a fraction of
the cost. A solution *passes* when all its tests pass with the update; it *update-passes*
(UPass) when it passes with the update and not without it (some test fails). Tests of one
(solution, condition) stop at the first failure: the later ones cannot change either verdict.

The statement that installs an update follows the benchmark's rule by update type:
``modify-function-name`` deletes the old name and sets the new one on the owner (module or
class), ``add-function`` sets the new name, every other type replaces the function under its
old name. As in the original harness, the "without" program still *defines* the new
implementation as a global; it only skips installing it.

The data is the held-out test of ReCode: nothing here may feed training or dataset/.
"""

from __future__ import annotations

import ast
import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recode.dataset.prompt import THINK_PREFILL, extract_answer
from recode.training.sandbox import SandboxLimits, SandboxResult, run_python

__all__ = [
    "ArenaTask",
    "ArenaUpdate",
    "SampleOutcome",
    "THINK_PREFILL",
    "build_messages",
    "default_data_path",
    "enforcement_code",
    "evaluate",
    "extract_solution",
    "load_arena",
    "new_function_name",
    "split_unit_tests",
    "test_program",
]

DATA_ENV = "RECODE_CODEUPDATEARENA"
_RELATIVE_DATA = Path("data") / "CodeUpdateArena" / "arena.jsonl"


def default_data_path() -> Path:
    """Where arena.jsonl is: $RECODE_CODEUPDATEARENA, else shared/ inside or beside the repo."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    candidates = [repo / "shared" / _RELATIVE_DATA, repo.parent / "shared" / _RELATIVE_DATA]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[-1]


@dataclass(frozen=True)
class ArenaUpdate:
    update_id: str
    package: str
    function_path: str
    update_type: str
    description: str
    rationale: str
    docstring: str
    signature: str
    imports: str
    implementation: str


@dataclass(frozen=True)
class ArenaTask:
    task_id: str
    update: ArenaUpdate
    scenario: str
    problem: str
    solution_signature: str
    unit_tests: str
    imports: str
    ref_solution: str

    @property
    def tests(self) -> list[tuple[str, str]]:
        return split_unit_tests(self.unit_tests)


def _update_from(raw: Mapping[str, Any], update_id: str | None = None) -> ArenaUpdate:
    return ArenaUpdate(
        update_id=str(raw.get("update_id") or update_id or ""),
        package=str(raw.get("package") or str(raw["function_path"]).split(".")[0]),
        function_path=str(raw["function_path"]),
        update_type=str(raw["update_type"]),
        description=str(raw.get("description", "")),
        rationale=str(raw.get("rationale", "")),
        docstring=str(raw.get("docstring", "")),
        signature=str(raw.get("signature", "")),
        imports=str(raw.get("imports", "")),
        implementation=str(raw["implementation"]),
    )


def load_arena(path: str | os.PathLike[str] | None = None) -> list[ArenaTask]:
    """Read the benchmark. Accepts the grouped pre-release file (one update per line with
    ``prog_syn_examples``) and the ungrouped final one (one task per line)."""
    source = Path(path) if path is not None else default_data_path()
    tasks: list[ArenaTask] = []
    with source.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "prog_syn_examples" in row:
                update = _update_from(row["update"])
                examples = row["prog_syn_examples"]
            else:
                update = _update_from(row["update"], row.get("update_id"))
                examples = [row]
            for example in examples:
                task_id = example.get("prog_syn_id") or f"{update.update_id}:[line-{line_no}]"
                tasks.append(
                    ArenaTask(
                        task_id=str(task_id),
                        update=update,
                        scenario=str(example.get("scenario", "")),
                        problem=str(example.get("problem", "")),
                        solution_signature=str(example.get("solution_signature", "")),
                        unit_tests=_join_tests(example["unit_tests"]),
                        imports=str(
                            example.get("prog_syn_imports")
                            or example.get("imports")
                            or update.imports
                        ),
                        ref_solution=str(example.get("ref_solution", "")),
                    )
                )
    return tasks


def _join_tests(unit_tests: str | Sequence[str]) -> str:
    if isinstance(unit_tests, str):
        return unit_tests
    return "\n\n".join(unit_tests)


_PARSE_LOCK = threading.Lock()


def split_unit_tests(source: str) -> list[tuple[str, str]]:
    """The top-level test functions of a unit-test block, as (name, source) in order.

    Parsed rather than split on blank lines: test bodies hold blank lines of their own.
    Top-level statements that are not functions (shared imports) are prepended to every test.
    """
    # CPython 3.11's parser is not safe to call from several threads at once ("AST constructor
    # recursion depth mismatch"), nor is catch_warnings: the harness's worker threads take turns.
    with _PARSE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes in the data's test strings
        tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    shared: list[str] = []
    tests: list[tuple[str, str]] = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        text = "".join(lines[first - 1 : end])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            tests.append((node.name, text))
        else:
            shared.append(text)
    prefix = "".join(shared)
    return [(name, prefix + text) for name, text in tests]


def new_function_name(update: ArenaUpdate) -> str:
    """The name the updated function has after the update (from its new signature)."""
    old = update.function_path.split(".")[-1]
    if update.update_type not in ("modify-function-name", "add-function"):
        return old
    signature = update.signature.strip()
    if signature.startswith("def "):
        signature = signature[4:]
    name = signature.split("(", 1)[0].strip().split(".")[-1]
    return name or old


def enforcement_code(update: ArenaUpdate) -> str:
    """Statements that install the update into the library, run after its implementation."""
    parts = update.function_path.split(".")
    owner, old = parts[:-1], parts[-1]
    new = new_function_name(update)
    lines = [
        "import importlib as _arena_importlib",
        f"_arena_parts = {owner!r}",
        "_arena_owner, _arena_rest = None, []",
        "for _arena_i in range(len(_arena_parts), 0, -1):",
        "    try:",
        "        _arena_owner = _arena_importlib.import_module('.'.join(_arena_parts[:_arena_i]))",
        "    except ImportError:",
        "        continue",
        "    _arena_rest = _arena_parts[_arena_i:]",
        "    break",
        "for _arena_name in _arena_rest:",
        "    _arena_owner = getattr(_arena_owner, _arena_name)",
    ]
    if update.update_type == "modify-function-name":
        lines.append(f"delattr(_arena_owner, {old!r})")
        lines.append(f"setattr(_arena_owner, {new!r}, {new})")
    elif update.update_type == "add-function":
        lines.append(f"setattr(_arena_owner, {new!r}, {new})")
    else:
        lines.append(f"setattr(_arena_owner, {old!r}, {old})")
    return "\n".join(lines) + "\n"


# Sections of a test program, in order; the driver reports in which one a failure happened.
SECTIONS = ("imports", "update implementation", "update installation", "solution", "unit test")


def test_program(
    task: ArenaTask, solution: str, test_source: str, test_name: str, with_update: bool
) -> list[tuple[str, str]]:
    """The program for one unit test, as (section, code) pairs; the last calls the test."""
    sections = [
        ("imports", task.imports),
        ("update implementation", task.update.implementation),
    ]
    if with_update:
        sections.append(("update installation", enforcement_code(task.update)))
    sections += [
        ("solution", solution),
        ("unit test", f"{test_source.rstrip()}\n\n{test_name}()\n"),
    ]
    return sections


# --- prompt -------------------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You are a coding assistant that keeps code working when the libraries under it change. "
    "A library function has been updated; solve the programming problem using the updated "
    "API as described in the update information. First reason about the change, then give "
    "the final code."
)

_USER_TEMPLATE = (
    "{package} performed an API update to `{function_path}`, and the update content includes:\n"
    "<doc>\n"
    "{update_doc}\n"
    "</doc>\n"
    "Scenario: {scenario}\n"
    "\n"
    "Problem: {problem}\n"
    "\n"
    "Solution signature: {solution_signature}\n"
    "\n"
    "Show your reasoning in <think> </think> tags, then return the complete solution (imports "
    "and the function) in <answer> </answer> tags; the code inside <answer></answer> must be "
    "enclosed in a ```python ``` block."
)


def update_doc(update: ArenaUpdate) -> str:
    """The update note shown to the model: what changed, the new signature, its docstring."""
    parts = [
        update.description.strip(),
        f"New signature: {update.signature.strip()}",
        update.docstring.strip(),
    ]
    return "\n\n".join(p for p in parts if p)


def build_messages(task: ArenaTask) -> list[dict[str, str]]:
    """The chat prompt ``[system, user]`` for a task; the assistant turn is then prefilled
    with :data:`THINK_PREFILL` as in training (ReCode format: reasoning in ``<think>``, code in
    ``<answer>`` as a fenced python block)."""
    user = _USER_TEMPLATE.format(
        package=task.update.package,
        function_path=task.update.function_path,
        update_doc=update_doc(task.update),
        scenario=task.scenario.strip(),
        problem=task.problem.strip(),
        solution_signature=task.solution_signature.strip(),
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def extract_solution(completion: str, *, prefilled: bool = True) -> str | None:
    """The code of a completion (text generated after the prefill), or None without an answer."""
    text = (THINK_PREFILL + completion) if prefilled else completion
    return extract_answer(text)


# --- execution ----------------------------------------------------------------------------


@dataclass
class ConditionOutcome:
    """One solution under one condition (with or without the update)."""

    passed: bool
    tests_run: int
    tests_total: int
    failure: str | None = None  # "<test>: <result>" of the first failing test
    max_test_cpu_s: float = 0.0  # the most CPU one unit test used

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "tests_run": self.tests_run,
            "tests_total": self.tests_total,
            "failure": self.failure,
            "max_test_cpu_s": self.max_test_cpu_s,
        }


@dataclass
class SampleOutcome:
    with_update: ConditionOutcome
    without_update: ConditionOutcome
    extracted: bool = True

    @property
    def passed(self) -> bool:
        return self.with_update.passed

    @property
    def update_passed(self) -> bool:
        return self.with_update.passed and not self.without_update.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "update_passed": self.update_passed,
            "extracted": self.extracted,
            "with_update": self.with_update.to_dict(),
            "without_update": self.without_update.to_dict(),
        }


# Runs inside the sandbox (any Python 3.8+). Reads spec.json, writes results.jsonl.
_DRIVER = r"""
import json, os, select, signal, sys, time, traceback

spec = json.load(open("spec.json"))
out = open("results.jsonl", "w")

def emit(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()

prelude_error = None
try:
    exec(compile(spec["prelude"], "<update imports>", "exec"), {"__name__": "__arena__"})
except BaseException as exc:
    prelude_error = "%s: %s" % (type(exc).__name__, exc)

def where(tb, starts):
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<test program>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None:
        return "library"
    name = "program"
    for section, start in starts:
        if line >= start:
            name = section
    return name

def child(sections, cpu_s, w):
    import resource
    limit = max(1, int(cpu_s + 0.999))
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
    except (ValueError, OSError):
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    starts, source, line = [], [], 1
    for section, code in sections:
        starts.append((section, line))
        code = code.rstrip("\n") + "\n\n"
        source.append(code)
        line += code.count("\n")
    program = "".join(source)
    try:
        exec(compile(program, "<test program>", "exec"), {"__name__": "__main__"})
        msg = "pass"
    except AssertionError as exc:
        msg = "fail in %s: AssertionError: %s" % (where(exc.__traceback__, starts), exc)
    except BaseException as exc:
        msg = "error in %s: %s: %s" % (where(exc.__traceback__, starts), type(exc).__name__, exc)
    msg = " ".join(msg.split())[:400]
    os.write(w, (msg + "\n").encode("utf-8", "replace"))
    os._exit(0)

def run_one(sections, cpu_s, wall_s):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            child(sections, cpu_s, w)
        finally:
            os._exit(1)
    os.close(w)
    deadline = time.monotonic() + wall_s
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([r], [], [], remaining)
        if not ready:
            break
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    got_verdict = b"\n" in data
    timed_out = not got_verdict and time.monotonic() >= deadline
    # A child with a verdict (or one that closed the pipe) exits at once; give it a moment.
    grace_end = time.monotonic() + (0.0 if timed_out else 1.0)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() >= grace_end:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            done, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.002)
    cpu = usage.ru_utime + usage.ru_stime
    return verdict(data, timed_out, status, cpu_s, wall_s), cpu

def verdict(data, timed_out, status, cpu_s, wall_s):
    text = data.decode("utf-8", "replace").strip()
    if text:
        return text
    if timed_out:
        return "timeout: over %.0f s of wall-clock time" % wall_s
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return "timeout: over %.0f s of CPU time" % cpu_s
        return "crash: killed by signal %d" % sig
    return "crash: exit status %d without a verdict" % os.WEXITSTATUS(status)

for job in spec["jobs"]:
    for condition in ("with", "without"):
        record = {"job": job["job"], "condition": condition, "tests_run": 0,
                  "tests_total": len(job["tests"]), "failure": None, "max_test_cpu_s": 0.0}
        if prelude_error is not None:
            record["failure"] = "error in update imports: " + prelude_error
            emit(record)
            continue
        for name, sections in job["tests"]:
            chosen = [s for s in sections if condition == "with" or s[0] != "update installation"]
            result, cpu = run_one(chosen, spec["test_cpu_s"], spec["test_wall_s"])
            record["tests_run"] += 1
            record["max_test_cpu_s"] = round(max(record["max_test_cpu_s"], cpu), 3)
            if result != "pass":
                record["failure"] = "%s: %s" % (name, result)
                break
        emit(record)
"""


@dataclass
class _Job:
    key: tuple[str, int]
    task: ArenaTask
    solution: str


@dataclass
class GroupRun:
    """What the sandbox said for one update's group of jobs (for debugging broken tasks)."""

    update_id: str
    result: SandboxResult
    outcomes: dict[tuple[str, int], SampleOutcome] = field(default_factory=dict)


def _run_group(
    update: ArenaUpdate,
    jobs: list[_Job],
    *,
    test_cpu_s: float,
    test_wall_s: float,
    memory_mb: int | None,
    python: str | None,
) -> GroupRun:
    spec_jobs = []
    total_tests = 0
    for index, job in enumerate(jobs):
        tests = job.task.tests
        total_tests += len(tests)
        spec_jobs.append(
            {
                "job": index,
                "tests": [
                    [name, test_program(job.task, job.solution, source, name, True)]
                    for name, source in tests
                ],
            }
        )
    spec = {
        "prelude": update.imports,
        "jobs": spec_jobs,
        "test_cpu_s": test_cpu_s,
        "test_wall_s": test_wall_s,
    }
    budget = 60.0 + 2 * total_tests * (test_wall_s + 1.5)
    result = run_python(
        _DRIVER,
        # allow_fork: the driver forks one child per unit test (exec stays refused).
        SandboxLimits(
            time_s=budget, cpu_s=budget, memory_mb=memory_mb, max_procs=128, allow_fork=True
        ),
        files={"spec.json": json.dumps(spec)},
        python=python,
        read_back=["results.jsonl"],
    )
    records: dict[tuple[int, str], dict[str, Any]] = {}
    for line in result.files.get("results.jsonl", "").splitlines():
        try:
            record = json.loads(line)
            records[(int(record["job"]), str(record["condition"]))] = record
        except (ValueError, KeyError, TypeError):
            continue
    run = GroupRun(update.update_id, result)
    for index, job in enumerate(jobs):
        conditions = []
        for condition in ("with", "without"):
            record = records.get((index, condition))
            total = len(job.task.tests)
            if record is None:
                reason = f"harness: no verdict (sandbox {result.status}"
                tail = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
                reason += f": {tail[0][:200]})" if tail else ")"
                conditions.append(ConditionOutcome(False, 0, total, reason))
            else:
                failure = record.get("failure")
                conditions.append(
                    ConditionOutcome(
                        failure is None,
                        int(record["tests_run"]),
                        total,
                        failure,
                        float(record.get("max_test_cpu_s", 0.0)),
                    )
                )
        run.outcomes[job.key] = SampleOutcome(conditions[0], conditions[1])
    return run


def evaluate(
    tasks: Sequence[ArenaTask],
    solutions: Mapping[str, Sequence[str | None]],
    *,
    workers: int | None = None,
    test_cpu_s: float = 20.0,
    test_wall_s: float | None = None,
    memory_mb: int | None = 4096,
    python: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    runs: list[GroupRun] | None = None,
) -> dict[str, list[SampleOutcome]]:
    """Run every solution of every task with and without its update.

    solutions maps a task id to its candidate programs; None stands for a completion whose code
    could not be extracted (it fails both conditions without running). Returns, per task id,
    one outcome per candidate in order.

    Each unit test may use test_cpu_s of CPU time (the verdict that decides, being nearly
    independent of how busy the machine is) and test_wall_s of wall-clock time (default
    3 * test_cpu_s + 5, for programs that sleep or wait). memory_mb bounds each process's
    address space. runs, when given, receives each update group's sandbox run.
    """
    wall = test_wall_s if test_wall_s is not None else 3 * test_cpu_s + 5
    by_update: dict[str, list[_Job]] = {}
    updates: dict[str, ArenaUpdate] = {}
    results: dict[str, list[SampleOutcome | None]] = {}
    for task in tasks:
        candidates = list(solutions.get(task.task_id, []))
        results[task.task_id] = [None] * len(candidates)
        for index, code in enumerate(candidates):
            if code is None:
                total = len(task.tests)
                missing = ConditionOutcome(False, 0, total, "no code extracted")
                results[task.task_id][index] = SampleOutcome(missing, missing, extracted=False)
                continue
            updates[task.update.update_id] = task.update
            by_update.setdefault(task.update.update_id, []).append(
                _Job((task.task_id, index), task, code)
            )
    # Heavy imports first so that the slowest groups do not start last.
    order = sorted(by_update, key=lambda u: (updates[u].package != "torch", -len(by_update[u])))
    done = 0
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [
            pool.submit(
                _run_group,
                updates[u],
                by_update[u],
                test_cpu_s=test_cpu_s,
                test_wall_s=wall,
                memory_mb=memory_mb,
                python=python,
            )
            for u in order
        ]
        for future in futures:
            run = future.result()
            if runs is not None:
                runs.append(run)
            for (task_id, index), outcome in run.outcomes.items():
                results[task_id][index] = outcome
            done += 1
            if progress is not None:
                progress(done, len(futures))
    return {task_id: [o for o in outs if o is not None] for task_id, outs in results.items()}


def oracle_solutions(tasks: Iterable[ArenaTask]) -> dict[str, list[str | None]]:
    """Each task's reference solution as its single candidate."""
    return {task.task_id: [task.ref_solution] for task in tasks}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started
