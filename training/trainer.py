"""GRPO and DAPO training of a ReCode model on TRL's ``GRPOTrainer``.

:func:`train` runs a whole configuration (:class:`~recode.training.config.TrainConfig`): base
model (a folder, a hub id, or the offline ``tiny`` model), data split by update, an optional
supervised warm-start, then RL with the ReCode rewards, validation every K steps, metrics and
plots, checkpoints, and the final model in ``<output_dir>/final``.
:func:`~recode.training.export.export_run` turns a run into a folder ``recode-serve`` can serve.

The two algorithms are settings of TRL 1.16's ``GRPOTrainer`` (see
:meth:`TrainConfig.resolved`): ``grpo`` is the paper's GRPO (``beta=0.001``, sequence-level
``loss_type="grpo"``, symmetric clipping 0.2); ``dapo`` is clip-higher (``epsilon=0.2``,
``epsilon_high=0.28``), token-level ``loss_type="dapo"``, no KL (``beta=0``), the soft overlong
punishment as an extra reward (``trl.rewards.get_soft_overlong_punishment``), and dynamic
sampling, which TRL lacks and :class:`ReCodeGRPOTrainer` adds.

Dynamic sampling (DAPO, Yu et al. 2025): a group whose G rewards are all equal has zero
advantage everywhere, so it only dilutes the batch. :class:`ReCodeGRPOTrainer` overrides
``_generate_and_score_completions``: after TRL generated and scored a generation batch, the
groups without reward variance are dropped and prompts drawn afresh from the training set
(:class:`~recode.training.sampling.PromptStream`) are generated and scored to take their
place, for at most ``dynamic_sampling_max_rounds`` extra rounds (the released DAPO recipe's
``max_num_gen_batches``); a batch still short after that is topped up with dropped groups, whose
advantages are zero, so the tensors keep the shape TRL expects. The bookkeeping lives in
:func:`~recode.training.sampling.fill_batch`, which knows nothing of models and is unit-tested
on its own. Each process fills its own groups (its local generation batch must hold whole
groups); the number of refill rounds and of prompts per round is agreed across processes, as
generation and reward gathering are collective operations there.

Where the parts live: :mod:`~recode.training.adapters` (configuration -> TRL, peft,
transformers), :mod:`~recode.training.sampling` (dynamic sampling's bookkeeping),
:mod:`~recode.training.callbacks` (metrics, validation, plots), :mod:`~recode.training.warmstart`
(the supervised warm start), :mod:`~recode.training.generation` (completions in process) and
:mod:`~recode.training.export` (a run as a servable folder). This module holds the TRL trainer
subclass and :func:`train`, which puts them together.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from trl import GRPOTrainer

from recode.training.adapters import (
    grpo_config,
    load_model,
    load_tokenizer,
    peft_config,
    prepare_base_model,
    reward_functions,
)
from recode.training.callbacks import RunCallback
from recode.training.config import ConfigError, TrainConfig, save_config
from recode.training.data import (
    Split,
    collect_rows,
    keep_exact_fixes,
    mark_exact_fixes,
    prompt_text,
    split_by_update,
    to_dataset,
    write_recode_jsonl,
)
from recode.training.export import RUN_INFO
from recode.training.generation import generate_completions
from recode.training.metrics import MetricsLogger, read_jsonl, score_validation
from recode.training.sampling import FillStats, PromptStream, fill_batch
from recode.training.warmstart import sft_warmstart

__all__ = ["ReCodeGRPOTrainer", "TrainResult", "train", "training_split"]

log = logging.getLogger("recode.train")


def training_split(cfg: TrainConfig) -> Split:
    """The rows a run trains and validates on: collected, split by update, and the training side
    left with ``cfg.exact_fix_keep_fraction`` of the rows an exact fix produces (the split
    does not depend on it)."""
    rows = collect_rows(cfg.data, use_kb=cfg.use_kb, kb_paths=cfg.kb_paths, libraries=cfg.libraries)
    split = split_by_update(
        rows, cfg.val_fraction, min_val_updates=cfg.val_min_updates, seed=cfg.split_seed
    )
    if cfg.exact_fix_keep_fraction >= 1.0:
        return split
    kb = None
    if cfg.kb_paths:
        from recode.dataset.knowledge import load_knowledge_base

        kb = load_knowledge_base([Path(p) for p in cfg.kb_paths])
    train = keep_exact_fixes(
        mark_exact_fixes(split.train, kb), cfg.exact_fix_keep_fraction, seed=cfg.split_seed
    )
    log.info(
        "training rows: %d of %d (exact-fix rows kept: %.0f%%)",
        len(train),
        len(split.train),
        100 * cfg.exact_fix_keep_fraction,
    )
    return Split(train, split.validation)


class ReCodeGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer with DAPO's dynamic sampling and greedy validation on held-out updates.

    Extra keyword arguments: ``dynamic_sampling`` (bool), ``dynamic_sampling_max_rounds``
    (int). ``dynamic_sampling_history`` keeps one :class:`FillStats` per generation batch.
    """

    def __init__(
        self,
        *args: Any,
        dynamic_sampling: bool = False,
        dynamic_sampling_max_rounds: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dynamic_sampling = dynamic_sampling
        self.dynamic_sampling_max_rounds = dynamic_sampling_max_rounds
        self.dynamic_sampling_history: list[FillStats] = []
        self._last_rewards_per_func: torch.Tensor | None = None
        self._prompt_stream: PromptStream | None = None
        if dynamic_sampling:
            local = self.args.per_device_train_batch_size * self.args.steps_per_generation
            if local % self.num_generations:
                raise ConfigError(
                    "dynamic sampling needs whole groups on each process: "
                    f"per_device_train_batch_size x steps_per_generation ({local}) must be a "
                    f"multiple of num_generations ({self.num_generations})"
                )
            if not hasattr(self.train_dataset, "__getitem__"):
                raise ConfigError("dynamic sampling needs a map-style training dataset")

    # -- dynamic sampling ---------------------------------------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[override]
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards
        return rewards

    def _generate_and_score_completions(self, inputs):  # type: ignore[override]
        if not (self.dynamic_sampling and self.model.training):
            return super()._generate_and_score_completions(inputs)
        if self._prompt_stream is None:
            seed = self.args.seed + 7919 * (self.accelerator.process_index + 1)
            self._prompt_stream = PromptStream(self.train_dataset, self.num_generations, seed)
        parent = super()

        def generate(batch: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], torch.Tensor]:
            output = parent._generate_and_score_completions(list(batch))
            per_func = self._last_rewards_per_func
            assert per_func is not None
            weights = self.reward_weights.to(per_func.device)
            total = (per_func * weights.unsqueeze(0)).nansum(dim=1)
            total[torch.isnan(per_func).all(dim=1)] = math.nan
            start = self.accelerator.process_index * len(batch)
            return output, total[start : start + len(batch)].cpu()

        def agree(missing: int) -> int:
            value = torch.tensor([missing], device=self.accelerator.device)
            return int(self.accelerator.gather(value).max().item())

        output, stats = fill_batch(
            inputs,
            generate,
            self._prompt_stream.draw,
            group_size=self.num_generations,
            max_rounds=self.dynamic_sampling_max_rounds,
            pad_token_id=self._tokenizer.pad_token_id,
            pad_to_multiple_of=self.pad_to_multiple_of,
            agree=agree,
        )
        loss_mask = output["completion_mask"]
        if output.get("tool_mask") is not None:
            loss_mask = loss_mask * output["tool_mask"]
        output["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
        self.dynamic_sampling_history.append(stats)
        counts = torch.tensor(
            [
                stats.sampled_groups,
                stats.dropped_groups,
                stats.topped_up_groups,
                stats.refill_rounds,
            ],
            dtype=torch.float32,
            device=self.accelerator.device,
        )
        total = self.accelerator.gather(counts).view(-1, 4)
        sampled, dropped, topped = total[:, :3].sum(dim=0).tolist()
        metrics = self._metrics["train"]
        metrics["dynamic_sampling/dropped_groups"].append(dropped)
        metrics["dynamic_sampling/topped_up_groups"].append(topped)
        metrics["dynamic_sampling/refill_rounds"].append(total[:, 3].max().item())
        metrics["dynamic_sampling/zero_variance_share"].append(dropped / max(sampled, 1.0))
        return output

    # -- validation ---------------------------------------------------------------------------

    def validate(
        self, rows: Sequence[Mapping[str, Any]], max_new_tokens: int, batch_size: int
    ) -> dict[str, Any]:
        """Greedy completions for ``rows`` (sharded over processes) scored against their new
        code (see :func:`~recode.training.metrics.score_validation`)."""
        from accelerate.utils import gather_object
        from trl.models import unwrap_model_for_generation

        n_proc, rank = self.accelerator.num_processes, self.accelerator.process_index
        per_proc = -(-len(rows) // n_proc) if rows else 0
        mine = [
            (i, rows[min(i, len(rows) - 1)]) for i in range(rank * per_proc, (rank + 1) * per_proc)
        ]
        prompts = [prompt_text(row, self.processing_class) for _, row in mine]
        with unwrap_model_for_generation(
            self.model_wrapped,
            self.accelerator,
            gather_deepspeed3_params=self.args.ds3_gather_for_generation,
        ) as unwrapped:
            texts = generate_completions(
                unwrapped,
                self._tokenizer,
                prompts,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
        pairs = gather_object(
            [(i, t) for (i, _), t in zip(mine, texts, strict=True) if i < len(rows)]
        )
        by_index = dict(pairs)
        ordered = [by_index[i] for i in range(len(rows))]
        return score_validation(ordered, [str(r["new_code"]) for r in rows])


@dataclass
class TrainResult:
    run_dir: Path
    final_dir: Path
    config: TrainConfig
    train_rows: int
    validation_rows: int
    seconds: float
    sft_losses: list[float] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    dynamic_sampling: list[FillStats] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ds = self.dynamic_sampling
        return {
            "run_dir": str(self.run_dir),
            "final_dir": str(self.final_dir),
            "preset": self.config.preset,
            "algo": self.config.algo,
            "max_steps": self.config.max_steps,
            "train_rows": self.train_rows,
            "validation_rows": self.validation_rows,
            "seconds": round(self.seconds, 1),
            "sft_first_loss": self.sft_losses[0] if self.sft_losses else None,
            "sft_last_loss": self.sft_losses[-1] if self.sft_losses else None,
            "validation_first": self.validations[0] if self.validations else None,
            "validation_last": self.validations[-1] if self.validations else None,
            "dynamic_sampling": {
                "batches": len(ds),
                "sampled_groups": sum(s.sampled_groups for s in ds),
                "dropped_groups": sum(s.dropped_groups for s in ds),
                "refill_rounds": sum(s.refill_rounds for s in ds),
                "topped_up_groups": sum(s.topped_up_groups for s in ds),
            }
            if ds
            else None,
        }


def _last_checkpoint(run_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(run_dir)) if run_dir.is_dir() else None


def train(cfg: TrainConfig) -> TrainResult:
    """Run a configuration end to end; see the module doc and ``recode-train --help``."""
    from transformers import set_seed

    started = time.perf_counter()
    cfg = cfg.resolved()
    if cfg.sft_warmup_steps and cfg.peft != "none":
        raise ConfigError("the supervised warm-start trains every weight: use it with peft=none")
    run_dir = Path(cfg.output_dir)
    checkpoint = _last_checkpoint(run_dir) if cfg.resume else None
    if cfg.resume and checkpoint is None:
        log.warning("resume: no checkpoint in %s, starting afresh", run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    set_seed(cfg.seed)
    save_config(cfg, run_dir / "config.yaml")

    base = prepare_base_model(cfg, run_dir)
    tokenizer = load_tokenizer(base)

    split = training_split(cfg)
    write_recode_jsonl(split.train, run_dir / "data" / "train.jsonl")
    write_recode_jsonl(split.validation, run_dir / "data" / "validation.jsonl")
    train_rows = split.train[: cfg.max_train_examples] if cfg.max_train_examples else split.train
    train_ds = to_dataset(train_rows, tokenizer, max_prompt_tokens=cfg.max_prompt_tokens)
    val_ds = to_dataset(split.validation, tokenizer, max_prompt_tokens=cfg.max_prompt_tokens)
    if len(train_ds) == 0:
        raise ConfigError("no training examples left (check data, libraries, max_prompt_tokens)")
    kept_train = [dict(r) for r in train_ds]
    val_rows = [dict(r) for r in val_ds]

    model_path = base
    sft_losses: list[float] = []
    warm_dir = run_dir / "warmstart"
    if cfg.sft_warmup_steps:
        if not (cfg.resume and (warm_dir / "config.json").is_file()):
            model = load_model(base, cfg)
            sft_log = run_dir / "sft.jsonl"
            sft_log.unlink(missing_ok=True)
            sft_losses = sft_warmstart(
                model,
                tokenizer,
                kept_train,
                steps=cfg.sft_warmup_steps,
                learning_rate=cfg.sft_learning_rate,
                batch_size=cfg.sft_batch_size,
                think_chars=cfg.sft_think_chars,
                seed=cfg.seed,
                log_path=sft_log,
            )
            model.save_pretrained(warm_dir)
            tokenizer.save_pretrained(warm_dir)
            del model
        model_path = str(warm_dir.resolve())
    model = load_model(model_path, cfg)

    logger = MetricsLogger(run_dir)
    if checkpoint is not None:
        step = int(Path(checkpoint).name.rsplit("-", 1)[-1])
        logger.truncate_after(step)
    else:
        for stale in (logger.metrics_path, logger.validation_path):
            stale.unlink(missing_ok=True)
    callback = RunCallback(cfg, logger, val_rows)
    trainer = ReCodeGRPOTrainer(
        model=model,
        reward_funcs=reward_functions(cfg),
        args=grpo_config(cfg, run_dir),
        train_dataset=train_ds,
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
        callbacks=[callback],
        dynamic_sampling=bool(cfg.dynamic_sampling),
        dynamic_sampling_max_rounds=cfg.dynamic_sampling_max_rounds,
    )
    callback.trainer = trainer
    trainer.train(resume_from_checkpoint=checkpoint)

    final = run_dir / "final"
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(final)
        info = {
            "base_model": model_path,
            "peft": cfg.peft,
            "algo": cfg.algo,
            "preset": cfg.preset,
            "steps": trainer.state.global_step,
        }
        (final / RUN_INFO).write_text(json.dumps(info, indent=2), "utf-8")
    result = TrainResult(
        run_dir=run_dir,
        final_dir=final,
        config=cfg,
        train_rows=len(train_ds),
        validation_rows=len(val_rows),
        seconds=time.perf_counter() - started,
        sft_losses=sft_losses,
        validations=read_jsonl(logger.validation_path),
        dynamic_sampling=list(trainer.dynamic_sampling_history),
    )
    if trainer.accelerator.is_main_process:
        summary = result.summary()
        summary["dynamic_sampling_batches"] = [asdict(s) for s in result.dynamic_sampling]
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), "utf-8")
    return result
