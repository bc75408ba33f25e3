"""DAPO's dynamic sampling: groups without reward variance are dropped and refilled.

The bookkeeping (:func:`fill_batch`) is tested with a fake generator that scripts which groups
vary; one test runs it inside the real trainer on the tiny model with a scripted reward and
counts the dropped groups.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import torch

from recode.training.sampling import (
    FillStats,
    PromptStream,
    fill_batch,
    groups_with_variance,
    merge_outputs,
)

G = 4
PAD = 0


def _rows(prompts: Sequence[str]) -> list[dict[str, str]]:
    return [{"prompt": p} for p in prompts for _ in range(G)]


class FakeTrainerStep:
    """Generates TRL-shaped outputs: prompt length and completion length vary per call; a
    prompt named ``flat*`` gets equal rewards, any other prompt varied rewards."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.rng = random.Random(0)

    def __call__(self, batch: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], torch.Tensor]:
        prompts = [row["prompt"] for row in batch[::G]]
        self.calls.append(prompts)
        n = len(batch)
        p_len = 3 + len(self.calls)  # different widths per round, to exercise padding
        c_len = 2 + 2 * len(self.calls)
        ids = torch.arange(n).unsqueeze(1) + 100  # row i's tokens are all 100 + i
        rewards = []
        for prompt in prompts:
            if prompt.startswith("flat"):
                rewards += [1.0] * G
            else:
                rewards += [float(j) for j in range(G)]
        rewards_t = torch.tensor(rewards)
        grouped = rewards_t.view(-1, G)
        advantages = (grouped - grouped.mean(1, keepdim=True)).view(-1)
        output = {
            "prompt_ids": ids.expand(n, p_len).clone(),
            "prompt_mask": torch.ones(n, p_len, dtype=torch.long),
            "completion_ids": ids.expand(n, c_len).clone(),
            "completion_mask": torch.ones(n, c_len, dtype=torch.long),
            "old_per_token_logps": torch.full((n, c_len), -0.5),
            "ref_per_token_logps": None,
            "advantages": advantages,
            "num_items_in_batch": torch.tensor(float(n * c_len)),
            "tag": torch.tensor([hash(p) % 1000 for p in prompts for _ in range(G)]),
        }
        return output, rewards_t


class Drawer:
    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.asked: list[int] = []

    def __call__(self, n: int) -> list[dict[str, str]]:
        self.asked.append(n)
        taken, self.names = self.names[:n], self.names[n:]
        return _rows(taken)


def _prompts_of(output: Mapping[str, Any]) -> list[int]:
    """Row ids (100 + row index of its round) of the merged completion tokens' first column."""
    return output["completion_ids"][:, 0].tolist()


def test_groups_with_variance():
    rewards = torch.tensor(
        [1, 1, 1, 1, 0, 0, 0, 1, 2, 2, math.nan, 2, math.nan, math.nan, math.nan, 3.0]
    )
    assert groups_with_variance(rewards, 4).tolist() == [False, True, False, False]
    assert groups_with_variance(torch.tensor([0.0, 1e-9]), 2).tolist() == [False]


def test_nothing_dropped_when_every_group_varies():
    step, drawer = FakeTrainerStep(), Drawer(["n1"])
    output, stats = fill_batch(
        _rows(["a", "b"]), step, drawer, group_size=G, max_rounds=3, pad_token_id=PAD
    )
    assert stats == FillStats(needed_groups=2, sampled_groups=2)
    assert drawer.asked == [] and len(step.calls) == 1
    assert output["advantages"].shape == (8,)


def test_dropped_groups_are_refilled_from_new_prompts():
    step = FakeTrainerStep()
    drawer = Drawer(["flat-r1", "c", "d", "e"])
    batch = _rows(["a", "flat1", "b", "flat2"])
    output, stats = fill_batch(batch, step, drawer, group_size=G, max_rounds=5, pad_token_id=PAD)
    # round 1 drops 2 groups; round 2 (2 new prompts: flat-r1, c) keeps 1; round 3 (d) keeps 1
    assert drawer.asked == [2, 1]
    assert step.calls == [["a", "flat1", "b", "flat2"], ["flat-r1", "c"], ["d"]]
    assert stats.dropped_groups == 3 and stats.sampled_groups == 7
    assert stats.refill_rounds == 2 and stats.topped_up_groups == 0
    assert stats.zero_variance_share == pytest.approx(3 / 7)
    # 4 groups of G rows; every group has varied advantages
    assert output["advantages"].shape == (16,)
    assert all(g.abs().sum() > 0 for g in output["advantages"].view(-1, G))


def test_merged_tensors_are_padded_like_trl_pads_them():
    step = FakeTrainerStep()
    output, _ = fill_batch(
        _rows(["a", "flat"]), step, Drawer(["b"]), group_size=G, max_rounds=2, pad_token_id=PAD
    )
    # round 1: prompt width 4, completion width 4; round 2: 5 and 6
    assert output["prompt_ids"].shape == (8, 5) and output["completion_ids"].shape == (8, 6)
    first, second = output["prompt_ids"][0], output["prompt_ids"][4]
    assert first.tolist() == [PAD, 100, 100, 100, 100]  # left-padded
    assert second.tolist() == [100] * 5
    assert output["prompt_mask"][0].tolist() == [0, 1, 1, 1, 1]
    assert output["completion_ids"][0].tolist() == [100] * 4 + [PAD] * 2  # right-padded
    assert output["completion_mask"][0].tolist() == [1] * 4 + [0] * 2
    assert output["old_per_token_logps"][0].tolist() == [-0.5] * 4 + [0.0] * 2
    assert output["ref_per_token_logps"] is None
    assert "num_items_in_batch" not in output  # recomputed by the trainer after merging


def test_top_up_with_zero_advantage_when_rounds_run_out():
    step = FakeTrainerStep()
    drawer = Drawer(["flat3", "flat4", "flat5"])
    output, stats = fill_batch(
        _rows(["a", "flat1", "flat2"]), step, drawer, group_size=G, max_rounds=2, pad_token_id=PAD
    )
    assert drawer.asked == [2, 2]  # the second draw finds one prompt left
    assert stats.refill_rounds == 2
    assert stats.topped_up_groups == 2
    assert output["advantages"].shape == (12,)
    kept, *topped = output["advantages"].view(-1, G)
    assert kept.abs().sum() > 0
    assert all(t.abs().sum() == 0 for t in topped)


def test_no_refill_rounds_means_plain_grpo_batch():
    step = FakeTrainerStep()
    output, stats = fill_batch(
        _rows(["flat1", "a"]), step, Drawer(["b"]), group_size=G, max_rounds=0, pad_token_id=PAD
    )
    assert stats.refill_rounds == 0 and stats.dropped_groups == 1 and stats.topped_up_groups == 1
    assert output["advantages"].shape == (8,)


def test_a_refill_draws_only_the_missing_prompts():
    step = FakeTrainerStep()
    drawer = Drawer(["b", "c", "d"])
    output, stats = fill_batch(
        _rows(["flat1", "a"]), step, drawer, group_size=G, max_rounds=3, pad_token_id=PAD
    )
    assert drawer.asked == [1]
    assert stats.refill_rounds == 1 and stats.surplus_groups == 0
    assert output["advantages"].shape == (8,)


def test_processes_agree_on_the_refill_size():
    step = FakeTrainerStep()
    drawer = Drawer(["b", "c", "d"])
    # another process still misses 3 groups: this one must draw 3 prompts as well
    output, stats = fill_batch(
        _rows(["a", "flat1"]),
        step,
        drawer,
        group_size=G,
        max_rounds=1,
        pad_token_id=PAD,
        agree=lambda missing: max(missing, 3),
    )
    assert drawer.asked == [3]
    assert stats.surplus_groups == 2
    assert output["advantages"].shape == (8,)


def test_batches_must_hold_whole_groups():
    with pytest.raises(ValueError, match="whole groups"):
        fill_batch(
            _rows(["a"])[:3],
            FakeTrainerStep(),
            Drawer([]),
            group_size=G,
            max_rounds=1,
            pad_token_id=PAD,
        )


def test_merge_refuses_unsplittable_outputs():
    with pytest.raises(ValueError):
        merge_outputs([], PAD)
    parts = [{"x": torch.ones(2, 3)}, {"x": None}]
    with pytest.raises(ValueError, match="some generation outputs"):
        merge_outputs(parts, PAD)


def test_prompt_stream_cycles_through_the_data_in_a_seeded_order():
    data = [{"prompt": f"p{i}"} for i in range(5)]
    stream = PromptStream(data, group_size=2, seed=1)
    rows = stream.draw(7)
    assert len(rows) == 14 and rows[0] == rows[1]
    firsts = [r["prompt"] for r in rows[::2]]
    assert sorted(firsts[:5]) == [f"p{i}" for i in range(5)]  # a full pass before repeating
    assert PromptStream(data, 2, seed=1).draw(7) == rows


# ---- inside the real trainer -------------------------------------------------------------------


def test_trainer_drops_and_refills_groups(tiny_model, tmp_path):
    """A scripted reward varies only for half of the updates; the trainer must drop exactly the
    groups of the other half, draw new prompts for them, and train on varied groups only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from recode.training.adapters import grpo_config
    from recode.training.config import load_config
    from recode.training.data import to_dataset
    from recode.training.trainer import ReCodeGRPOTrainer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = [
        {
            "dependency": "numpy",
            "new_version": "==2.0",
            "update_info": f"change {i}",
            "old_code": f"a = {i}",
            "new_code": f"b = {i}",
            "update_id": f"u{i}",
        }
        for i in range(8)
    ]
    dataset = to_dataset(rows, tok)
    seen: list[tuple[str, bool]] = []
    rng = random.Random(0)

    def scripted_reward(completions, update_id, **kwargs):
        out = []
        for i in range(0, len(completions), G):
            flat = int(update_id[i][1:]) % 2 == 0
            seen.append((update_id[i], flat))
            out += [0.5] * G if flat else [rng.random() for _ in range(G)]
        return out

    cfg = load_config(
        preset_name="tiny",
        algo="dapo",
        output_dir=str(tmp_path),
        overrides=[
            "max_steps=2",
            "num_generations=4",
            "per_device_train_batch_size=8",
            "max_completion_length=4",
            "dynamic_sampling_max_rounds=6",
            "save_steps=100",
            "torch_threads=1",
        ],
    )
    trainer = ReCodeGRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        reward_funcs=[scripted_reward],
        args=grpo_config(cfg),
        train_dataset=dataset,
        processing_class=tok,
        dynamic_sampling=True,
        dynamic_sampling_max_rounds=6,
    )
    batches: list[dict[str, Any]] = []
    original = trainer._generate_and_score_completions

    def spy(inputs):
        out = original(inputs)
        batches.append(out)
        return out

    trainer._generate_and_score_completions = spy  # type: ignore[method-assign]
    trainer.train()

    history = trainer.dynamic_sampling_history
    assert len(history) == 2 == len(batches)
    flat_seen = sum(flat for _, flat in seen)
    assert sum(s.dropped_groups for s in history) == flat_seen > 0
    assert sum(s.sampled_groups for s in history) == len(seen)
    assert sum(s.refill_rounds for s in history) > 0
    for stats, out in zip(history, batches, strict=True):
        assert out["completion_ids"].shape[0] == 8
        assert stats.topped_up_groups == 0
        # every group trained on has varying rewards, hence non-zero advantages
        assert all(g.abs().sum() > 0 for g in out["advantages"].view(-1, G))
    logged = [h for h in trainer.state.log_history if "dynamic_sampling/dropped_groups" in h]
    assert sum(h["dynamic_sampling/dropped_groups"] for h in logged) == flat_seen
