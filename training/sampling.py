"""DAPO's dynamic sampling, the bookkeeping part (Yu et al. 2025).

A group whose G rewards are all equal has zero advantage everywhere, so it only dilutes the
batch. :func:`fill_batch` takes a generation batch TRL generated and scored, drops the groups
without reward variance and asks for prompts drawn afresh from the training set
(:class:`PromptStream`) to take their place, for at most ``max_rounds`` extra rounds (the
released DAPO recipe's ``max_num_gen_batches``); a batch still short after that is topped up
with dropped groups, whose advantages are zero, so the tensors keep the shape TRL expects.

This module knows nothing of models or of TRL beyond the shape of its generation output, and is
unit-tested on its own; :class:`recode.training.trainer.ReCodeGRPOTrainer` plugs it into TRL's
``_generate_and_score_completions``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "FillStats",
    "PromptStream",
    "fill_batch",
    "groups_with_variance",
    "merge_outputs",
]


def groups_with_variance(rewards: torch.Tensor, group_size: int, tol: float = 1e-6) -> torch.Tensor:
    """One bool per group of ``group_size`` consecutive rewards: do they vary?

    NaN rewards (unscorable completions) are ignored; a group with fewer than two finite rewards
    does not vary.

    >>> groups_with_variance(torch.tensor([1., 1., 0., 2., float("nan"), 3.]), 2).tolist()
    [False, True, False]
    """
    grouped = rewards.detach().float().reshape(-1, group_size)
    finite = torch.isfinite(grouped)
    hi = torch.where(finite, grouped, torch.full_like(grouped, -math.inf)).max(dim=1).values
    lo = torch.where(finite, grouped, torch.full_like(grouped, math.inf)).min(dim=1).values
    return (finite.sum(dim=1) >= 2) & ((hi - lo) > tol)


def _rows(output: Mapping[str, Any], index: torch.Tensor, n_rows: int) -> dict[str, Any]:
    """The rows ``index`` of a TRL generation output (per-row tensors of first size n_rows)."""
    picked: dict[str, Any] = {}
    for key, value in output.items():
        if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == n_rows:
            picked[key] = value.index_select(0, index.to(value.device))
        elif isinstance(value, torch.Tensor) and value.ndim == 0:
            continue  # batch totals such as num_items_in_batch are recomputed after merging
        elif value is None:
            picked[key] = None
        else:
            raise ValueError(
                f"dynamic sampling cannot split the generation output {key!r} "
                f"({type(value).__name__}); multimodal inputs are not supported"
            )
    return picked


def _group_rows(groups: Sequence[int], group_size: int) -> torch.Tensor:
    return torch.tensor(
        [g * group_size + j for g in groups for j in range(group_size)], dtype=torch.long
    )


# Padding value and side of the per-token tensors of TRL's generation output.
_PAD_LEFT = {"prompt_ids", "prompt_mask"}
_PAD_VALUES = {
    "prompt_mask": 0,
    "completion_mask": 0,
    "tool_mask": 1,
    "importance_sampling_ratio": 1.0,
}


def merge_outputs(
    parts: Sequence[Mapping[str, Any]],
    pad_token_id: int,
    pad_to_multiple_of: int | None = None,
) -> dict[str, Any]:
    """Concatenate row subsets of TRL generation outputs whose sequence lengths differ.

    Prompt tensors are padded on the left, completion tensors on the right (as TRL pads them),
    token ids with ``pad_token_id``, masks with 0 (``tool_mask`` with 1), log-probabilities with
    0, to the longest part (rounded up to ``pad_to_multiple_of``).
    """
    if not parts:
        raise ValueError("nothing to merge")
    keys = list(parts[0])
    merged: dict[str, Any] = {}
    for key in keys:
        values = [p[key] for p in parts]
        if all(v is None for v in values):
            merged[key] = None
            continue
        if any(v is None for v in values):
            raise ValueError(f"{key!r} is present in some generation outputs only")
        if values[0].ndim == 1:
            merged[key] = torch.cat(values)
            continue
        width = max(v.shape[1] for v in values)
        if pad_to_multiple_of and width > 1 and width % pad_to_multiple_of:
            width += pad_to_multiple_of - width % pad_to_multiple_of
        if key.endswith("_ids"):
            fill: float = pad_token_id
        else:
            fill = _PAD_VALUES.get(key, 0)
        padded = []
        for v in values:
            missing = width - v.shape[1]
            if missing > 0:
                pad = v.new_full((v.shape[0], missing), fill)
                v = torch.cat([pad, v] if key in _PAD_LEFT else [v, pad], dim=1)
            padded.append(v)
        merged[key] = torch.cat(padded)
    return merged


@dataclass
class FillStats:
    """What dynamic sampling did for one generation batch (this process)."""

    needed_groups: int = 0
    sampled_groups: int = 0
    dropped_groups: int = 0  # groups without reward variance
    surplus_groups: int = 0  # varied groups beyond what the batch needed
    refill_rounds: int = 0
    topped_up_groups: int = 0  # dropped groups put back because the rounds ran out

    @property
    def zero_variance_share(self) -> float:
        return self.dropped_groups / self.sampled_groups if self.sampled_groups else 0.0


def fill_batch(
    first_batch: Sequence[Mapping[str, Any]],
    generate: Callable[[Sequence[Mapping[str, Any]]], tuple[Mapping[str, Any], torch.Tensor]],
    draw: Callable[[int], list[dict[str, Any]]],
    *,
    group_size: int,
    max_rounds: int,
    pad_token_id: int,
    pad_to_multiple_of: int | None = None,
    agree: Callable[[int], int] | None = None,
) -> tuple[dict[str, Any], FillStats]:
    """Dynamic sampling for one generation batch.

    ``generate(rows)`` generates and scores rows (G consecutive rows per prompt) and returns
    TRL's output dict and the rows' summed rewards; ``draw(n)`` returns ``n`` new prompts'
    rows (each repeated G times). Groups whose rewards do not vary are dropped and ``draw`` is
    asked for as many prompts as groups are missing, for at most ``max_rounds`` rounds; then
    the batch is topped up with dropped groups (their advantages set to 0). ``agree(missing)``
    turns this process's count of missing groups into the count every process uses (the
    maximum over processes; the identity on one process).
    """
    if len(first_batch) % group_size:
        raise ValueError(
            f"the generation batch ({len(first_batch)} rows) does not hold whole "
            f"groups of {group_size}"
        )
    agree = agree or (lambda missing: missing)
    need = len(first_batch) // group_size
    stats = FillStats(needed_groups=need)
    kept: list[dict[str, Any]] = []
    n_kept = 0
    spare: list[dict[str, Any]] = []  # zero-variance groups, most recent round last
    batch: Sequence[Mapping[str, Any]] = first_batch
    while True:
        output, rewards = generate(batch)
        if rewards.numel() != len(batch):
            raise ValueError(f"{rewards.numel()} rewards for {len(batch)} rows")
        varied = groups_with_variance(rewards, group_size).tolist()
        good = [g for g, v in enumerate(varied) if v]
        flat = [g for g, v in enumerate(varied) if not v]
        stats.sampled_groups += len(varied)
        stats.dropped_groups += len(flat)
        use = good[: need - n_kept]
        stats.surplus_groups += len(good) - len(use)
        if use:
            kept.append(_rows(output, _group_rows(use, group_size), len(batch)))
            n_kept += len(use)
        if flat:
            spare.append(_rows(output, _group_rows(flat, group_size), len(batch)))
        missing = agree(need - n_kept)
        if missing <= 0 or stats.refill_rounds >= max_rounds:
            break
        stats.refill_rounds += 1
        batch = draw(missing)
    short = need - n_kept
    while short > 0 and spare:
        part = spare.pop()
        groups = part["advantages"].shape[0] // group_size
        take = min(groups, short)
        part = _rows(part, torch.arange(take * group_size), groups * group_size)
        part["advantages"] = torch.zeros_like(part["advantages"])
        kept.append(part)
        stats.topped_up_groups += take
        short -= take
    if short > 0:  # pragma: no cover - the first round alone sampled `need` groups
        raise RuntimeError("dynamic sampling lost groups")
    return merge_outputs(kept, pad_token_id, pad_to_multiple_of), stats


class PromptStream:
    """Prompts for refills: the training set in a seeded random order, cycled."""

    def __init__(self, dataset: Any, group_size: int, seed: int) -> None:
        if len(dataset) == 0:
            raise ValueError("dynamic sampling needs a non-empty training set")
        self.dataset = dataset
        self.group_size = group_size
        self.rng = random.Random(seed)
        self.order: list[int] = []
        self.drawn = 0

    def draw(self, n_prompts: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for _ in range(n_prompts):
            if not self.order:
                self.order = list(range(len(self.dataset)))
                self.rng.shuffle(self.order)
            row = dict(self.dataset[self.order.pop()])
            rows.extend(dict(row) for _ in range(self.group_size))
            self.drawn += 1
        return rows
