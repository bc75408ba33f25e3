"""recode.training.metrics: JSONL rows from TRL logs, validation scores, plots."""

from __future__ import annotations

import json

import pytest

from recode.training.metrics import (
    MetricsLogger,
    metrics_row,
    plot_run,
    read_jsonl,
    score_validation,
)

TRL_LOGS = {
    "loss": 0.12,
    "learning_rate": 5e-5,
    "reward": -0.75,
    "reward_std": 1.5,
    "rewards/format_reward/mean": 0.5,
    "rewards/es_star/mean": -1.25,
    "rewards/soft_overlong_punishment_reward/mean": -0.25,
    "rewards/es_star/std": 0.3,
    "frac_reward_zero_std": 0.5,
    "completions/mean_length": 42.0,
    "completions/clipped_ratio": 0.25,
    "clip_ratio/region_mean": 0.01,
    "entropy": 3.2,
    "epoch": 0.1,
    "note": "text is not a number",
}


def test_metrics_row_maps_trl_keys():
    row = metrics_row(7, TRL_LOGS)
    assert row["step"] == 7
    assert row["reward"] == -0.75 and row["reward_std"] == 1.5
    assert row["rewards"] == {"format": 0.5, "es_star": -1.25, "overlong": -0.25}
    assert row["zero_variance_share"] == 0.5
    assert row["completion_length"] == 42.0 and row["completion_clipped_ratio"] == 0.25
    assert row["clip_ratio"] == 0.01 and row["learning_rate"] == 5e-5
    assert "note" not in row["raw"] and row["raw"]["epoch"] == 0.1
    json.dumps(row)  # JSON-ready


def test_dynamic_sampling_share_replaces_trls_average():
    logs = {
        **TRL_LOGS,
        "dynamic_sampling/zero_variance_share": 0.8,
        "dynamic_sampling/dropped_groups": 4.0,
    }
    row = metrics_row(1, logs)
    assert row["zero_variance_share"] == 0.8 and row["ds_dropped_groups"] == 4.0


def test_score_validation():
    def answer(code: str) -> str:
        return f"why</think>\n<answer>\n```python\n{code}\n```\n</answer>"

    completions = [answer("y = 2"), answer("y = 3"), answer("y = ("), "rambling"]
    scores = score_validation(completions, ["y = 2"] * 4)
    assert scores["n"] == 4
    assert scores["pass_rate"] == 0.25
    assert scores["format_rate"] == 0.75
    assert scores["valid_rate"] == 0.5
    # ES*: 2.0 (exact), 3.5 * (1 - 1/5) - 1.5 = 1.3, -2 (syntax error), -2 (no answer)
    assert scores["es_star"] == pytest.approx((2.0 + 1.3 - 2.0 - 2.0) / 4)
    assert scores["reward"] == pytest.approx(scores["es_star"] + (1 + 1 + 1 - 1) / 4)
    assert score_validation([], []) == {"n": 0}


def test_logger_writes_and_truncates_on_resume(tmp_path):
    logger = MetricsLogger(tmp_path)
    for step in range(1, 6):
        logger.log_step(step, {**TRL_LOGS, "reward": float(step)})
    assert logger.log_step(6, {"train_runtime": 3.0}) is None  # the closing summary
    logger.log_validation(0, {"reward": -3.0})
    logger.log_validation(4, {"reward": -1.0})
    assert [r["step"] for r in read_jsonl(logger.metrics_path)] == [1, 2, 3, 4, 5]
    logger.truncate_after(3)
    assert [r["step"] for r in read_jsonl(logger.metrics_path)] == [1, 2, 3]
    assert [r["step"] for r in read_jsonl(logger.validation_path)] == [0]
    with open(logger.metrics_path, "a") as out:
        out.write('{"step": 9, "rew')  # a torn last line (a killed run) is skipped
    assert len(read_jsonl(logger.metrics_path)) == 3


def test_plots_are_drawn_from_the_files(tmp_path):
    assert plot_run(tmp_path) == []  # nothing logged yet
    logger = MetricsLogger(tmp_path)
    for step in range(1, 31):
        logger.log_step(
            step, {**TRL_LOGS, "reward": -3 + step / 10, "frac_reward_zero_std": 1 - step / 30}
        )
    logger.log_validation(0, {"reward": -3.0, "es_star": -2.0})
    logger.log_validation(30, {"reward": -1.0, "es_star": -1.5})
    files = plot_run(tmp_path, title="test")
    assert sorted(f.name for f in files) == ["length.png", "reward.png", "zero_variance.png"]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5000
