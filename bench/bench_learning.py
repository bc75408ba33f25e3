"""Learning check: does GRPO/DAPO raise the mean reward on held-out updates of the tiny model?

The ``tiny-trained`` preset of ``recode-train``: a ~0.6M-parameter Qwen2 built offline, a
supervised warm-start on the training examples' answers (a random model never writes the
``<think>``/``<answer>`` format, so every group would score the same and RL would have nothing
to learn from), then a few hundred RL steps on the CPU. The split is by update: the held-out
updates are never seen, neither by the warm-start nor by RL.

Measured on the held-out updates (``val_max_samples`` of them):

* greedy decoding, every ``eval_steps`` steps (``validation.jsonl`` of the run): mean reward
  (format + ES*), ES*, format rate, valid-code rate, exact-migration rate;
* sampled decoding (temperature 1, ``--samples`` per prompt, the policy RL actually optimises),
  for the random model, after the warm-start (before RL) and after RL.

It prints the numbers as Markdown for BENCHMARKS.md (training-reward and zero-variance curve in
windows of ``--window`` steps, the validation curve, before/after) and writes them, with the
run's plots (``reward.png``, ``zero_variance.png``, ``length.png``), under ``--out``.

Run: ``python bench/bench_learning.py [--algo dapo|grpo] [KEY=VALUE ...]`` (repository root, dev
venv). The trained model is ``<out>/<algo>/final``; ``recode-train export`` makes it servable.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from recode.training.config import load_config
from recode.training.data import prompt_text, read_recode_jsonl, to_dataset
from recode.training.metrics import read_jsonl, score_validation


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sampled_scores(
    model_dir: Path, rows: list[dict[str, Any]], samples: int, max_new_tokens: int, seed: int
) -> dict[str, Any]:
    """Mean scores of ``samples`` sampled completions per held-out row."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from recode.training.generation import generate_completions

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    torch.manual_seed(seed)
    prompts = [prompt_text(r, tok) for r in rows for _ in range(samples)]
    refs = [r["new_code"] for r in rows for _ in range(samples)]
    texts = generate_completions(
        model,
        tok,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=32,
        do_sample=True,
        temperature=1.0,
    )
    return score_validation(texts, refs)


def windows(rows: list[dict[str, Any]], key: str, size: int) -> list[tuple[int, int, float]]:
    """(first step, last step, mean) of ``key`` over consecutive windows of ``size`` steps."""
    out = []
    values = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
    for start in range(0, len(values), size):
        chunk = values[start : start + size]
        if chunk:
            out.append((chunk[0][0], chunk[-1][0], statistics.fmean(v for _, v in chunk)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--algos",
        default="dapo,grpo",
        help="comma-separated: the first run does "
        "the warm-start, the others start from its warm-started model",
    )
    p.add_argument("--out", type=Path, default=Path("bench/results/learning"))
    p.add_argument(
        "--samples",
        type=int,
        default=4,
        help="sampled completions per held-out prompt for the before/after comparison",
    )
    p.add_argument("--window", type=int, default=25, help="steps per row of the curve table")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="recode-train options on top of the tiny-trained preset",
    )
    args = p.parse_args(argv)
    command = "python bench/bench_learning.py " + " ".join(sys.argv[1:] if argv is None else argv)

    from transformers import AutoTokenizer

    from recode.training.trainer import train

    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    first = args.out / algos[0]
    reports = []
    for algo in algos:
        run_dir = args.out / algo
        overrides = list(args.overrides)
        if algo != algos[0]:  # the same warm-started model as the first run
            overrides += [f"model={(first / 'warmstart').resolve()}", "sft_warmup_steps=0"]
        cfg = load_config(
            preset_name="tiny-trained", algo=algo, output_dir=str(run_dir), overrides=overrides
        )
        wall0, cpu0 = time.perf_counter(), _cpu_seconds()
        result = train(cfg)
        wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
        resolved = result.config

        # the held-out rows validation used: prompts within max_prompt_tokens, the first N
        tok = AutoTokenizer.from_pretrained(first / "base-model")
        held_out = [
            dict(r)
            for r in to_dataset(
                read_recode_jsonl(run_dir / "data" / "validation.jsonl"),
                tok,
                max_prompt_tokens=resolved.max_prompt_tokens,
            )
        ][: resolved.val_max_samples]
        sampled = {"samples_per_prompt": args.samples}
        if algo == algos[0]:
            sampled["random_model"] = sampled_scores(
                first / "base-model", held_out, args.samples, resolved.max_completion_length, seed=1
            )
        sampled["before_rl"] = sampled_scores(
            first / "warmstart", held_out, args.samples, resolved.max_completion_length, seed=1
        )
        sampled["after_rl"] = sampled_scores(
            result.final_dir, held_out, args.samples, resolved.max_completion_length, seed=1
        )
        metrics = read_jsonl(run_dir / "metrics.jsonl")
        sft = read_jsonl(run_dir / "sft.jsonl")
        summary = json.loads((run_dir / "summary.json").read_text("utf-8"))
        report = {
            "date": date.today().isoformat(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "command": command,
            "algo": algo,
            "rl_steps": resolved.max_steps,
            "sft_steps": resolved.sft_warmup_steps,
            "train_rows": result.train_rows,
            "held_out_rows": len(held_out),
            "wall_seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1),
            "sft_loss_first_last": [sft[0]["loss"], sft[-1]["loss"]] if sft else None,
            "sampled": sampled,
            "validation_greedy": read_jsonl(run_dir / "validation.jsonl"),
            "train_windows": {
                key: windows(metrics, key, args.window)
                for key in ("reward", "zero_variance_share", "completion_length")
            },
            "dynamic_sampling": summary.get("dynamic_sampling"),
        }
        (run_dir / "learning.json").write_text(json.dumps(report, indent=2), "utf-8")
        reports.append(report)
        print(markdown(report), flush=True)
    return 0


def _fmt(scores: dict[str, Any]) -> str:
    return (
        f"{scores['reward']:+.3f} | {scores['es_star']:+.3f} | {scores['format_rate']:.2f} | "
        f"{scores['valid_rate']:.2f} | {scores['pass_rate']:.2f}"
    )


def markdown(report: dict[str, Any]) -> str:
    sampled = report["sampled"]
    warm = (
        f"{report['sft_steps']} warm-start steps"
        if report["sft_steps"]
        else "the first run's warm-started model"
    )
    lines = [
        f"{report['algo'].upper()}, {report['rl_steps']} RL steps after {warm}; "
        f"{report['train_rows']} training rows, {report['held_out_rows']} held-out rows; "
        f"{report['wall_seconds']:.0f} s wall, {report['cpu_seconds']:.0f} s CPU "
        f"(`{report['command']}`, {report['date']}).",
        "",
        f"Held-out, sampled ({sampled['samples_per_prompt']} per prompt, temperature 1):",
        "",
        "| model | reward | ES* | format | valid code | exact |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    if "random_model" in sampled:
        lines.append(f"| random init | {_fmt(sampled['random_model'])} |")
    lines += [
        f"| after warm-start (before RL) | {_fmt(sampled['before_rl'])} |",
        f"| after RL | {_fmt(sampled['after_rl'])} |",
        "",
        "Held-out, greedy, during RL (`validation.jsonl`):",
        "",
        "| step | reward | ES* | format | valid code | exact |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for v in report["validation_greedy"]:
        lines.append(f"| {v['step']} | {_fmt(v)} |")
    lines += [
        "",
        "Training (sampled groups), mean per window:",
        "",
        "| steps | reward | zero-variance share | completion tokens |",
        "|---|---:|---:|---:|",
    ]
    curves = report["train_windows"]
    for (a, b, r), (_, _, z), (_, _, n) in zip(
        curves["reward"], curves["zero_variance_share"], curves["completion_length"], strict=False
    ):
        lines.append(f"| {a}-{b} | {r:+.3f} | {z:.2f} | {n:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
