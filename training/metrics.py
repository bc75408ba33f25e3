"""Run metrics: per-step JSONL, validation scores, and the PNG plots of a run folder.

Files in a run folder (``output_dir``):

``metrics.jsonl``
    one object per logged training step: ``step``, ``reward`` (mean summed reward of the
    step's sampled completions), ``reward_std``, ``rewards`` (each reward function's mean,
    e.g. ``format``, ``es_star``, ``overlong``), ``zero_variance_share`` (share of sampled
    groups whose G rewards are all equal: they carry no GRPO signal), ``completion_length``
    (mean tokens), ``completion_clipped_ratio`` (share cut at ``max_completion_length``),
    ``clip_ratio`` (share of tokens whose probability ratio was clipped), ``kl``, ``entropy``,
    ``loss``, ``learning_rate``, the dynamic-sampling counts (``ds_dropped_groups``,
    ``ds_refill_rounds``, ``ds_topped_up_groups``), and ``raw``: every number TRL logged.
``validation.jsonl``
    one object per validation: ``step``, ``n``, ``reward`` (format + ES*), ``es_star``,
    ``format_rate``, ``valid_rate`` (answer holds code that parses), ``pass_rate`` (the
    normalised answer equals the reference: exact migration, EM*), greedy decoding on the
    held-out updates.
``reward.png``, ``zero_variance.png``, ``length.png``
    the reward curve (training reward and its parts, validation reward and ES*), the
    zero-variance share, and completion length with the clipped share, after the ReCode
    paper's figures 2 (training reward) and 5 (response length). :func:`plot_run` redraws
    them from the JSONL files alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from recode.training.reward import em_star, es_star, format_reward

__all__ = [
    "METRICS_FILE",
    "VALIDATION_FILE",
    "MetricsLogger",
    "metrics_row",
    "plot_run",
    "read_jsonl",
    "score_validation",
]

METRICS_FILE = "metrics.jsonl"
VALIDATION_FILE = "validation.jsonl"

# Our name -> TRL 1.16's logged key.
_TRL_KEYS = {
    "reward": "reward",
    "reward_std": "reward_std",
    "zero_variance_share": "frac_reward_zero_std",
    "completion_length": "completions/mean_length",
    "completion_clipped_ratio": "completions/clipped_ratio",
    "clip_ratio": "clip_ratio/region_mean",
    "kl": "kl",
    "entropy": "entropy",
    "loss": "loss",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "step_time": "step_time",
    "ds_dropped_groups": "dynamic_sampling/dropped_groups",
    "ds_refill_rounds": "dynamic_sampling/refill_rounds",
    "ds_topped_up_groups": "dynamic_sampling/topped_up_groups",
    "ds_zero_variance_share": "dynamic_sampling/zero_variance_share",
}
# Reward function names as TRL logs them -> short names.
_PART_NAMES = {
    "format_reward": "format",
    "soft_overlong_punishment_reward": "overlong",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def metrics_row(step: int, logs: Mapping[str, Any]) -> dict[str, Any]:
    """One ``metrics.jsonl`` object from TRL's log dict at ``step``.

    >>> row = metrics_row(3, {"reward": -1.5, "rewards/format_reward/mean": 1.0,
    ...                       "rewards/es_star/mean": -2.5, "frac_reward_zero_std": 0.25})
    >>> row["step"], row["reward"], row["rewards"], row["zero_variance_share"]
    (3, -1.5, {'format': 1.0, 'es_star': -2.5}, 0.25)
    """
    row: dict[str, Any] = {"step": step}
    for name, key in _TRL_KEYS.items():
        value = _number(logs.get(key))
        if value is not None:
            row[name] = value
    # With dynamic sampling, TRL's zero-std share is averaged over refill rounds; the share
    # over every group sampled for the batch is the one that means "groups dropped".
    if "ds_zero_variance_share" in row:
        row["zero_variance_share"] = row["ds_zero_variance_share"]
    parts = {}
    for key, value in logs.items():
        if key.startswith("rewards/") and key.endswith("/mean") and _number(value) is not None:
            name = key[len("rewards/") : -len("/mean")]
            parts[_PART_NAMES.get(name, name)] = float(value)
    if parts:
        row["rewards"] = parts
    row["raw"] = {k: v for k, v in logs.items() if _number(v) is not None}
    return row


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Objects of a JSONL file; a missing file is empty, a torn last line is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _append(path: Path, row: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


def score_validation(
    completions: Sequence[str], references: Sequence[str]
) -> dict[str, float | int]:
    """Mean scores of completions (text after ``<think>``) against reference new code.

    >>> good = "rename</think>\\n<answer>\\n```python\\ny = 2\\n```\\n</answer>"
    >>> score_validation([good, "no idea"], ["y = 2", "y = 2"])["pass_rate"]
    0.5
    """
    n = len(completions)
    if n == 0:
        return {"n": 0}
    fmt = format_reward(list(completions))
    es = es_star(list(completions), list(references))
    em = em_star(list(completions), list(references))
    return {
        "n": n,
        "reward": sum(f + e for f, e in zip(fmt, es, strict=True)) / n,
        "es_star": sum(es) / n,
        "format_rate": sum(f > 0 for f in fmt) / n,
        "valid_rate": sum(e > -2.0 for e in es) / n,
        "pass_rate": sum(e > 0 for e in em) / n,
    }


class MetricsLogger:
    """Writes ``metrics.jsonl`` / ``validation.jsonl`` of a run folder (main process only)."""

    def __init__(self, run_dir: str | Path, *, enabled: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / METRICS_FILE

    @property
    def validation_path(self) -> Path:
        return self.run_dir / VALIDATION_FILE

    def log_step(self, step: int, logs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Record TRL's logs of a training step (logs without a reward, e.g. the final
        ``train_runtime`` summary, are skipped)."""
        if "reward" not in logs:
            return None
        row = metrics_row(step, logs)
        if self.enabled:
            _append(self.metrics_path, row)
        return row

    def log_validation(self, step: int, scores: Mapping[str, Any]) -> dict[str, Any]:
        row = {"step": step, **scores}
        if self.enabled:
            _append(self.validation_path, row)
        return row

    def truncate_after(self, step: int) -> None:
        """On resume: forget rows written after the checkpoint's step."""
        if not self.enabled:
            return
        for path in (self.metrics_path, self.validation_path):
            rows = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
            if path.is_file():
                path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


# ---------------------------------------------------------------------------------------------
# Plots


def _series(rows: Iterable[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of ``key``, the last value winning for a repeated step (resumed runs)."""
    by_step: dict[int, float] = {}
    for row in rows:
        value = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        number = _number(value)
        if number is not None and isinstance(row.get("step"), int):
            by_step[row["step"]] = number
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def _smooth(values: Sequence[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_run(run_dir: str | Path, title: str | None = None) -> list[Path]:
    """Draw ``reward.png``, ``zero_variance.png`` and ``length.png`` from the run's JSONL.

    Returns the files written (none when there is nothing to draw yet).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    train = read_jsonl(run_dir / METRICS_FILE)
    val = read_jsonl(run_dir / VALIDATION_FILE)
    title = title or run_dir.name
    written: list[Path] = []
    if not train and not val:
        return written
    window = max(1, len(train) // 25)

    fig, ax = plt.subplots(figsize=(7, 4))
    steps, reward = _series(train, "reward")
    if steps:
        ax.plot(steps, reward, color="tab:blue", alpha=0.25, linewidth=0.8)
        ax.plot(
            steps,
            _smooth(reward, window),
            color="tab:blue",
            label=f"training reward (mean of {window})",
        )
    parts = sorted({p for r in train for p in (r.get("rewards") or {})})
    for part, color in zip(
        parts, ("tab:orange", "tab:green", "tab:purple", "tab:brown"), strict=False
    ):
        s, v = _series(train, f"rewards.{part}")
        if s:
            ax.plot(
                s, _smooth(v, window), color=color, linestyle="--", linewidth=1, label=f"  {part}"
            )
    for key, marker, color in (("reward", "o", "black"), ("es_star", "s", "tab:red")):
        s, v = _series(val, key)
        if s:
            ax.plot(s, v, marker=marker, color=color, label=f"validation {key} (greedy)")
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.set_title(f"{title}: reward")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    written.append(_save(fig, run_dir / "reward.png"))

    steps, share = _series(train, "zero_variance_share")
    if steps:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(steps, share, color="tab:gray", alpha=0.3, linewidth=0.8)
        ax.plot(
            steps,
            _smooth(share, window),
            color="tab:gray",
            label="groups with zero reward variance",
        )
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_ylabel("share of groups")
        ax.set_title(f"{title}: zero-variance groups")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        written.append(_save(fig, run_dir / "zero_variance.png"))

    steps, length = _series(train, "completion_length")
    if steps:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(steps, _smooth(length, window), color="tab:green", label="mean completion tokens")
        ax.set_xlabel("step")
        ax.set_ylabel("tokens")
        ax.grid(alpha=0.3)
        s, clipped = _series(train, "completion_clipped_ratio")
        if s:
            twin = ax.twinx()
            twin.plot(
                s,
                _smooth(clipped, window),
                color="tab:red",
                linestyle=":",
                label="share cut at max length",
            )
            twin.set_ylim(-0.02, 1.02)
            twin.set_ylabel("share cut")
            twin.legend(fontsize=7, loc="upper right")
        ax.legend(fontsize=7, loc="upper left")
        ax.set_title(f"{title}: completion length")
        written.append(_save(fig, run_dir / "length.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
