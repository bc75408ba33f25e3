"""The supervised warm start that runs before RL when ``sft_warmup_steps`` is set."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from recode.training.data import prompt_text, sft_target

__all__ = ["sft_warmstart"]


def sft_warmstart(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    steps: int,
    learning_rate: float,
    batch_size: int,
    think_chars: int = 80,
    seed: int = 0,
    log_path: Path | None = None,
) -> list[float]:
    """Supervised steps on ``prompt -> sft_target(row) + EOS`` (loss on the target only).

    A randomly initialised model never writes ``</think>`` or ``<answer>``, so every group
    scores the same -3 and GRPO has nothing to learn from; a short warm-start on the training
    examples' answers makes the format appear. Returns the loss of every step.
    """
    rng = random.Random(seed)
    torch.manual_seed(seed)
    encoded = []
    for row in rows:
        prompt_ids = tokenizer(prompt_text(row, tokenizer), add_special_tokens=False)["input_ids"]
        target = sft_target(row, think_chars) + (tokenizer.eos_token or "")
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
        encoded.append((prompt_ids, target_ids))
    if not encoded:
        raise ValueError("no training rows for the warm-start")
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=learning_rate
    )
    model.train()
    losses: list[float] = []
    order: list[int] = []
    pad = tokenizer.pad_token_id
    for step in range(1, steps + 1):
        batch = []
        for _ in range(min(batch_size, len(encoded))):
            if not order:
                order = list(range(len(encoded)))
                rng.shuffle(order)
            batch.append(encoded[order.pop()])
        width = max(len(p) + len(t) for p, t in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (p, t) in enumerate(batch):
            seq = p + t
            ids[i, : len(seq)] = torch.tensor(seq)
            labels[i, len(p) : len(seq)] = torch.tensor(t)
            mask[i, : len(seq)] = 1
        loss = model(
            input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)
        ).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.item()))
        if log_path is not None and (step % 10 == 0 or step == steps):
            with open(log_path, "a", encoding="utf-8") as out:
                out.write(
                    json.dumps({"step": step, "loss": sum(losses[-10:]) / len(losses[-10:])}) + "\n"
                )
    model.eval()
    return losses
