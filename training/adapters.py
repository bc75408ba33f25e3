"""What TRL, peft and transformers get from a :class:`~recode.training.config.TrainConfig`.

:func:`grpo_config` derives TRL's ``GRPOConfig`` from the configuration: every field whose name
``GRPOConfig`` also has is passed on (:data:`RENAMED` lists the names TRL spells otherwise,
:data:`RECODE_ONLY` the shared names recode handles itself), then the few values worked out here
(``bf16``, ``use_cpu``, ``report_to``, ``output_dir``) and the settings every run uses
(:data:`FIXED`). :func:`peft_config` is peft's ``LoraConfig``, :func:`reward_functions` the
registered rewards a configuration names, and :func:`prepare_base_model`, :func:`load_model`,
:func:`load_tokenizer` load what a run trains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from trl import GRPOConfig

from recode.training.config import TINY_MODEL, ConfigError, TrainConfig
from recode.training.reward import REWARDS

__all__ = [
    "FIXED",
    "RECODE_ONLY",
    "RENAMED",
    "grpo_config",
    "load_model",
    "load_tokenizer",
    "peft_config",
    "prepare_base_model",
    "reward_functions",
    "trl_names",
]

#: TrainConfig fields TRL names otherwise: transformers 5 renamed gradient_checkpointing,
#: keeping the old name as a deprecated alias (used where the new one is missing).
RENAMED = {"gradient_checkpointing": "activation_checkpointing"}

#: TrainConfig fields that GRPOConfig has too but recode handles itself: validation runs every
#: eval_steps in :class:`~recode.training.callbacks.RunCallback` (greedy, on held-out updates),
#: not in TRL's evaluation loop.
RECODE_ONLY = frozenset({"eval_steps"})

#: GRPOConfig settings every run uses.
FIXED: dict[str, Any] = {
    "save_strategy": "steps",
    "dataloader_num_workers": 0,
    "remove_unused_columns": False,
    "log_completions": False,
}


def reward_functions(cfg: TrainConfig) -> list[Callable[..., list[float]]]:
    """The reward callables of a resolved config (summed by TRL, each logged by name)."""
    funcs = []
    for name in cfg.rewards:
        if name not in REWARDS:
            raise ConfigError(f"unknown reward {name!r}; known: {', '.join(REWARDS)}")
        funcs.append(REWARDS[name])
    if cfg.overlong_shaping:
        from trl.rewards import get_soft_overlong_punishment

        funcs.append(
            get_soft_overlong_punishment(cfg.max_completion_length, int(cfg.overlong_cache or 0))
        )
    return funcs


def _has_cuda() -> bool:
    return torch.cuda.is_available()


def trl_names() -> dict[str, str]:
    """TrainConfig field -> the GRPOConfig field it fills, for every field TRL takes."""
    trl_fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    names = {}
    for f in dataclasses.fields(TrainConfig):
        name = RENAMED.get(f.name, f.name)
        if name not in trl_fields:
            name = f.name
        if name in trl_fields and f.name not in RECODE_ONLY:
            names[f.name] = name
    return names


def grpo_config(cfg: TrainConfig, output_dir: str | Path | None = None) -> GRPOConfig:
    """TRL's ``GRPOConfig`` for a configuration (resolved here if it was not)."""
    cfg = cfg.resolved()
    use_cpu = (not _has_cuda()) if cfg.use_cpu is None else cfg.use_cpu
    if cfg.bf16 is None:
        bf16 = (not use_cpu) and _has_cuda() and torch.cuda.is_bf16_supported()
    else:
        bf16 = cfg.bf16
    kwargs = {trl: getattr(cfg, ours) for ours, trl in trl_names().items()}
    kwargs.update(
        FIXED,
        output_dir=str(output_dir or cfg.output_dir),
        bf16=bf16,
        use_cpu=use_cpu,
        report_to=list(cfg.report_to) or "none",
    )
    return GRPOConfig(**kwargs)


def peft_config(cfg: TrainConfig) -> Any:
    """peft's ``LoraConfig`` (DoRA: ``use_dora=True``), or ``None`` for full fine-tuning."""
    if cfg.peft == "none":
        return None
    from peft import LoraConfig

    targets: Any = list(cfg.lora_target_modules)
    if targets == ["all-linear"]:
        targets = "all-linear"
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        use_dora=cfg.peft == "dora",
        task_type="CAUSAL_LM",
    )


def _dtype(cfg: TrainConfig) -> torch.dtype:
    if cfg.torch_dtype == "auto":
        gpu = _has_cuda() and cfg.use_cpu is not True
        return torch.bfloat16 if gpu and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, cfg.torch_dtype)


def prepare_base_model(cfg: TrainConfig, run_dir: Path) -> str:
    """The base model's folder or hub id; builds the tiny model into ``run_dir/base-model``."""
    if cfg.model != TINY_MODEL:
        return cfg.model
    from recode.training.tiny import TinyConfig, build_tiny_model

    target = run_dir / "base-model"
    if not (target / "config.json").is_file():
        build_tiny_model(
            target,
            TinyConfig(
                hidden_size=cfg.tiny_hidden_size,
                intermediate_size=2 * cfg.tiny_hidden_size,
                num_hidden_layers=cfg.tiny_num_layers,
                seed=cfg.seed,
            ),
        )
    return str(target.resolve())


def load_model(path: str, cfg: TrainConfig) -> Any:
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": _dtype(cfg)}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer
