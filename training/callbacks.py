"""The run's TrainerCallback: metrics JSONL, validation every ``eval_steps``, plots."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from recode.training.config import TrainConfig
from recode.training.metrics import MetricsLogger, plot_run

if TYPE_CHECKING:
    from recode.training.trainer import ReCodeGRPOTrainer

__all__ = ["RunCallback"]

log = logging.getLogger("recode.train")


class RunCallback(TrainerCallback):
    """Metrics JSONL on every log, validation every ``eval_steps`` and at both ends, plots."""

    def __init__(
        self, cfg: TrainConfig, logger: MetricsLogger, val_rows: Sequence[Mapping[str, Any]]
    ) -> None:
        self.cfg = cfg
        self.logger = logger
        self.val_rows = list(val_rows)[: cfg.val_max_samples]
        self.trainer: ReCodeGRPOTrainer | None = None
        self.last_validated: int | None = None
        self.validations: list[dict[str, Any]] = []

    def _validate(self, state: Any) -> None:
        if self.trainer is None or not self.val_rows or self.last_validated == state.global_step:
            return
        started = time.perf_counter()
        scores = self.trainer.validate(
            self.val_rows, self.cfg.max_completion_length, self.cfg.val_batch_size
        )
        scores["seconds"] = round(time.perf_counter() - started, 2)
        self.last_validated = state.global_step
        if state.is_world_process_zero:
            self.validations.append(self.logger.log_validation(state.global_step, scores))
            log.info("validation at step %d: %s", state.global_step, scores)

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[override]
        if state.global_step == 0:
            self._validate(state)

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[override]
        k = self.cfg.eval_steps
        if k > 0 and state.global_step % k == 0:
            self._validate(state)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[override]
        if state.is_world_process_zero and logs:
            self.logger.log_step(state.global_step, logs)

    def on_train_end(self, args, state, control, **kwargs):  # type: ignore[override]
        self._validate(state)
        if state.is_world_process_zero and self.cfg.plots:
            plot_run(self.logger.run_dir, title=f"{self.cfg.preset} {self.cfg.algo}")
