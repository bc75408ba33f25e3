"""``recode-train`` configuration: one typed dataclass, presets, TOML/YAML files, overrides.

Every option is a field of :class:`TrainConfig` with a type and a help text (the field's
``metadata["help"]``), as TRL's own config classes do; ``recode-train --help-config`` prints
them all. A configuration is resolved in this order, each layer overriding the one before:

1. the preset (``--preset``, else the file's ``preset`` key, else ``tiny``; see :data:`PRESETS`);
2. the config file, TOML (``.toml``) or YAML (``.yaml``/``.yml``), a flat table of options
   (a ``[recode]`` / ``recode:`` table is also accepted);
3. ``--algo`` and ``--output-dir``;
4. ``KEY=VALUE`` arguments, converted to the field's type: ``true/false/yes/no/1/0`` for
   booleans, ``none``/``null`` for optional fields, comma-separated items or a JSON list for
   lists.

Unknown keys and values of the wrong type are errors (:class:`ConfigError`) that name the key,
the expected type and, for a misspelt key, the closest known ones.

Several options default to ``None``, meaning "what the algorithm says" (see
:meth:`TrainConfig.resolved`): with ``algo="grpo"``, ``beta=0.001``, ``loss_type="grpo"``, no
clip-higher, no overlong shaping, no dynamic sampling; with ``algo="dapo"``, ``beta=0``,
``epsilon_high=0.28``, ``loss_type="dapo"`` (token-level), overlong shaping and dynamic
sampling. Any of them can still be set by hand.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from recode.training.reward import REWARDS

__all__ = [
    "PRESETS",
    "ConfigError",
    "TrainConfig",
    "apply_overrides",
    "describe_options",
    "load_config",
    "load_config_file",
    "preset",
    "save_config",
]

Algo = Literal["grpo", "dapo"]
Peft = Literal["none", "lora", "dora"]
#: The names of the registered rewards (recode.training.reward.REWARDS), checked like any Literal.
RewardName = Literal[tuple(REWARDS)]  # type: ignore[valid-type]

#: The model name that makes :mod:`recode.training.tiny` build a model offline.
TINY_MODEL = "tiny"


class ConfigError(ValueError):
    """A configuration that cannot be used: unknown key, wrong type, impossible combination."""


def _opt(default: Any, help: str, **kwargs: Any) -> Any:  # noqa: A002 - TRL's metadata key
    """A dataclass field with a help text (mutable defaults are copied per instance)."""
    if isinstance(default, list | dict):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata={"help": help})
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class TrainConfig:
    """Every option of a ``recode-train`` run (see the module doc for how it is resolved)."""

    # ---- run --------------------------------------------------------------------------------
    preset: str = _opt("tiny", "Name of the preset this configuration started from.")
    algo: Algo = _opt(
        "grpo",
        "RL algorithm: grpo (beta 0.001) or dapo (clip-higher 0.2/0.28, "
        "token-level loss, no KL, overlong shaping, dynamic sampling).",
    )
    output_dir: str = _opt("runs/recode", "Run folder: checkpoints, metrics, plots, final model.")
    seed: int = _opt(0, "Random seed (model init of the tiny model, sampling, data order).")
    resume: bool = _opt(False, "Resume from the last checkpoint in output_dir.")

    # ---- model ------------------------------------------------------------------------------
    model: str = _opt(
        TINY_MODEL,
        "Base model: a local folder, a hub id (must be in the local "
        "cache when offline), or 'tiny' to build a small Qwen2 offline.",
    )
    tiny_hidden_size: int = _opt(128, "Hidden size of the model built when model='tiny'.")
    tiny_num_layers: int = _opt(2, "Layers of the model built when model='tiny'.")
    torch_dtype: Literal["auto", "float32", "bfloat16", "float16"] = _opt(
        "auto",
        "Weights' dtype when loading the model ('auto': float32 on CPU, bfloat16 on a "
        "GPU that supports it).",
    )
    attn_implementation: str | None = _opt(
        None, "Attention kernel (e.g. sdpa, flash_attention_2); None: transformers' default."
    )
    gradient_checkpointing: bool = _opt(
        False, "Recompute activations in the backward pass (saves GPU memory on large models)."
    )
    peft: Peft = _opt("none", "Fine-tuning: none (full), lora or dora (through peft).")
    lora_r: int = _opt(64, "LoRA/DoRA rank.")
    lora_alpha: int = _opt(64, "LoRA/DoRA alpha (scaling = alpha / r).")
    lora_dropout: float = _opt(0.05, "Dropout on the LoRA/DoRA branch.")
    lora_target_modules: list[str] = _opt(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "Modules that get adapters ('all-linear' alone: every linear layer but the head).",
    )

    # ---- data -------------------------------------------------------------------------------
    data: list[str] = _opt(
        [],
        "ReCode-format JSONL files (dependency, new_version, update_info, "
        "old_code, new_code; optional update_id) to train on.",
    )
    use_kb: bool = _opt(
        True, "Also train on the knowledge base's examples (one update per record)."
    )
    kb_paths: list[str] = _opt([], "Knowledge-base files or folders (empty: the shipped one).")
    libraries: list[str] = _opt([], "Keep only these libraries (empty: all).")
    val_fraction: float = _opt(0.1, "Share of UPDATES (not rows) held out for validation.")
    val_min_updates: int = _opt(
        4, "At least this many updates are held out (when there are enough)."
    )
    split_seed: int = _opt(0, "Seed of the train/validation split by update.")
    max_prompt_tokens: int | None = _opt(
        None,
        "Drop examples whose rendered prompt is longer "
        "(TRL no longer truncates prompts); None: keep all.",
    )
    max_train_examples: int | None = _opt(None, "Use at most this many training rows.")
    exact_fix_keep_fraction: float = _opt(
        0.0,
        "Share of the training examples that an exact (mechanical) fix produces kept in "
        "the RL data: the dataset files' exact_fix mark; knowledge-base examples and unmarked "
        "rows are marked at load with today's fixes. 0 leaves them all out (a template already "
        "writes them: the model trains on what none expresses), 1 keeps them all (no marking), "
        "in between a sample drawn with split_seed. Validation keeps every row.",
    )

    # ---- reward -----------------------------------------------------------------------------
    rewards: list[RewardName] = _opt(
        ["format", "es_star"],
        f"Reward functions summed per completion (recode.training.reward): {', '.join(REWARDS)}.",
    )
    overlong_shaping: bool | None = _opt(
        None,
        "DAPO's soft overlong punishment as an extra reward (None: on for dapo, off for grpo).",
    )
    overlong_cache: int | None = _opt(
        None,
        "Length of the soft punishment zone in tokens (None: a quarter of max_completion_length).",
    )

    # ---- algorithm --------------------------------------------------------------------------
    num_generations: int = _opt(8, "Completions per prompt (the group size G).")
    max_completion_length: int = _opt(1024, "Most tokens generated per completion.")
    temperature: float = _opt(1.0, "Sampling temperature of the rollouts.")
    top_p: float = _opt(1.0, "Nucleus sampling of the rollouts.")
    beta: float | None = _opt(None, "KL coefficient (None: 0.001 for grpo, 0 for dapo).")
    epsilon: float = _opt(0.2, "Lower clipping bound of the ratio (PPO epsilon).")
    epsilon_high: float | None = _opt(
        None, "Upper clipping bound (None: 0.28 for dapo, = epsilon for grpo)."
    )
    loss_type: str | None = _opt(
        None,
        "TRL loss aggregation: grpo (per sequence), dapo "
        "(per token), bnpo, dr_grpo (None: the algorithm's).",
    )
    scale_rewards: Literal["group", "batch", "none"] = _opt(
        "group", "Divide advantages by the group's (or batch's) std."
    )
    num_iterations: int = _opt(1, "Optimisation passes over each generated batch (mu).")
    mask_truncated_completions: bool = _opt(
        False, "Leave completions cut at the length limit out of the loss."
    )
    dynamic_sampling: bool | None = _opt(
        None,
        "Drop groups whose rewards do not vary and "
        "refill the batch from new prompts (None: on for "
        "dapo).",
    )
    dynamic_sampling_max_rounds: int = _opt(
        10,
        "Extra generation rounds per batch at most; "
        "then the batch is topped up with dropped groups "
        "(zero advantage).",
    )

    # ---- optimisation -----------------------------------------------------------------------
    learning_rate: float = _opt(5e-5, "Peak learning rate.")
    lr_scheduler_type: str = _opt(
        "cosine",
        "Scheduler (transformers names: cosine, linear, constant, constant_with_warmup, ...).",
    )
    warmup_steps: int = _opt(150, "Linear warm-up steps.")
    max_steps: int = _opt(5000, "Optimizer steps of RL training.")
    per_device_train_batch_size: int = _opt(8, "Completions per device per micro-step.")
    gradient_accumulation_steps: int = _opt(1, "Micro-steps per optimizer step.")
    steps_per_generation: int | None = _opt(
        None, "Micro-steps served by one generation batch (None: gradient_accumulation_steps)."
    )
    weight_decay: float = _opt(0.0, "AdamW weight decay.")
    max_grad_norm: float = _opt(1.0, "Gradient clipping norm.")
    bf16: bool | None = _opt(None, "bfloat16 mixed precision (None: on when a GPU supports it).")
    use_cpu: bool | None = _opt(None, "Train on the CPU (None: when no GPU is present).")
    torch_threads: int | None = _opt(
        None,
        "torch.set_num_threads for the run (None: torch's "
        "default). A tiny model on a shared CPU runs fastest on 1.",
    )

    # ---- supervised warm-start --------------------------------------------------------------
    sft_warmup_steps: int = _opt(
        0,
        "Supervised steps on the examples' answers before RL "
        "(0: none). Teaches a model that never saw the format to "
        "emit it.",
    )
    sft_learning_rate: float = _opt(1e-3, "Learning rate of the warm-start (constant, AdamW).")
    sft_batch_size: int = _opt(8, "Examples per warm-start step.")
    sft_think_chars: int = _opt(
        80,
        "Characters of the update text put in the warm-start "
        "target's <think> (its first sentence, cut at this length).",
    )

    # ---- generation backend -----------------------------------------------------------------
    use_vllm: bool = _opt(False, "Generate rollouts with vLLM (GPU).")
    vllm_mode: Literal["colocate", "server"] = _opt(
        "colocate", "vLLM inside the training processes, or a separate `trl vllm-serve`."
    )
    vllm_server_host: str = _opt("127.0.0.1", "Host of `trl vllm-serve` (server mode).")
    vllm_server_port: int = _opt(8000, "Port of `trl vllm-serve` (server mode).")
    vllm_gpu_memory_utilization: float = _opt(
        0.3, "GPU memory share vLLM may take (colocate mode)."
    )
    vllm_tensor_parallel_size: int = _opt(1, "vLLM tensor parallelism (colocate mode).")

    # ---- logging, validation, checkpoints ---------------------------------------------------
    logging_steps: int = _opt(1, "Log training metrics every N steps.")
    eval_steps: int = _opt(
        50,
        "Validation (greedy, held-out updates: reward, ES*, pass rate) "
        "every N steps; 0: only before and after training.",
    )
    val_max_samples: int = _opt(64, "Validation examples scored each time (first N of the split).")
    val_batch_size: int = _opt(16, "Prompts per validation generate() call.")
    save_steps: int = _opt(500, "Checkpoint every N steps.")
    save_total_limit: int | None = _opt(2, "Keep at most N checkpoints.")
    plots: bool = _opt(
        True, "Draw PNG plots (reward, zero-variance share, length) in the run folder."
    )
    report_to: list[str] = _opt(
        [], "Extra trackers (tensorboard, wandb, ...); metrics JSONL is always written."
    )

    # -----------------------------------------------------------------------------------------

    def resolved(self) -> TrainConfig:
        """A copy with every algorithm-dependent ``None`` replaced by its value."""
        dapo = self.algo == "dapo"
        out = dataclasses.replace(self)
        if out.beta is None:
            out.beta = 0.0 if dapo else 0.001
        if out.epsilon_high is None:
            out.epsilon_high = 0.28 if dapo else out.epsilon
        if out.loss_type is None:
            out.loss_type = "dapo" if dapo else "grpo"
        if out.overlong_shaping is None:
            out.overlong_shaping = dapo
        if out.overlong_cache is None:
            out.overlong_cache = max(1, out.max_completion_length // 4)
        if out.dynamic_sampling is None:
            out.dynamic_sampling = dapo
        out.validate()
        return out

    def validate(self) -> None:
        """Raise :class:`ConfigError` on values that cannot work together."""
        problems = []
        if self.num_generations < 2:
            problems.append("num_generations must be at least 2 (advantages are group-relative)")
        if not 0.0 <= self.val_fraction < 1.0:
            problems.append("val_fraction must be in [0, 1)")
        if not 0.0 <= self.exact_fix_keep_fraction <= 1.0:
            problems.append("exact_fix_keep_fraction must be in [0, 1]")
        if not self.rewards:
            problems.append("rewards must name at least one reward function")
        if self.max_completion_length < 1:
            problems.append("max_completion_length must be positive")
        if self.overlong_cache is not None and not (
            0 <= self.overlong_cache <= self.max_completion_length
        ):
            problems.append("overlong_cache must lie in [0, max_completion_length]")
        if self.dynamic_sampling_max_rounds < 0:
            problems.append("dynamic_sampling_max_rounds must be >= 0")
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# Presets

#: Options each preset sets on top of the dataclass defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # CPU, minutes: a ~0.6M-parameter Qwen2 built offline, short completions, small groups.
    "tiny": {
        "model": TINY_MODEL,
        "torch_threads": 1,
        "peft": "none",
        "torch_dtype": "float32",
        "num_generations": 4,
        "per_device_train_batch_size": 8,
        "max_completion_length": 96,
        "max_prompt_tokens": 768,
        "learning_rate": 5e-5,
        "lr_scheduler_type": "constant_with_warmup",
        "warmup_steps": 0,
        "max_steps": 200,
        "dynamic_sampling_max_rounds": 2,
        "eval_steps": 25,
        "val_max_samples": 32,
        "save_steps": 100,
        "logging_steps": 1,
    },
    # The tiny model that really migrates (training examples, about half of them exactly): a
    # supervised warm-start on the training examples' answers (1,500 steps of 16), then 200
    # DAPO steps. `recode-train --preset tiny-trained --output-dir runs/tiny` then
    # `recode-train export runs/tiny OUT`; about half an hour of one CPU core (BENCHMARKS.md).
    "tiny-trained": {
        "model": TINY_MODEL,
        "torch_threads": 1,
        "peft": "none",
        "torch_dtype": "float32",
        "algo": "dapo",
        "sft_warmup_steps": 1500,
        "sft_learning_rate": 3e-3,
        "sft_batch_size": 16,
        "num_generations": 4,
        "per_device_train_batch_size": 16,
        "max_completion_length": 128,
        "max_prompt_tokens": 768,
        "learning_rate": 1e-4,
        "lr_scheduler_type": "constant_with_warmup",
        "warmup_steps": 0,
        "max_steps": 200,
        "temperature": 1.0,
        "dynamic_sampling_max_rounds": 2,
        "eval_steps": 25,
        "val_max_samples": 48,
        "save_steps": 100,
        "logging_steps": 1,
    },
    # A pipeline check in seconds, not a useful model: on a handful of rows given as `data`
    # (no knowledge base, nothing held out), a short warm-start that leaves the answers nearly
    # but not quite learnt, so the 4 DAPO steps after it still see groups whose rewards differ
    # and change the weights. The model then reproduces its training migrations
    # (tests/model/test_trained_model.py serves one with vLLM and applies its answer). About
    # 15 s of one CPU core on 3 rows.
    "tiny-pipeline": {
        "model": TINY_MODEL,
        "torch_threads": 1,
        "peft": "none",
        "torch_dtype": "float32",
        "algo": "dapo",
        "use_kb": False,
        "val_fraction": 0.0,
        "sft_warmup_steps": 50,
        "sft_learning_rate": 3e-3,
        "sft_batch_size": 4,
        "num_generations": 4,
        "per_device_train_batch_size": 4,
        "max_completion_length": 96,
        "max_prompt_tokens": 768,
        "learning_rate": 1e-4,
        "lr_scheduler_type": "constant_with_warmup",
        "warmup_steps": 0,
        "max_steps": 4,
        "temperature": 1.0,
        "dynamic_sampling_max_rounds": 2,
        "eval_steps": 0,
        "save_steps": 1000,
        "save_total_limit": 1,
        "plots": False,
        "logging_steps": 1,
    },
    # The paper (arXiv 2506.20495) and its released GRPO script: Qwen2.5-Coder-7B-Instruct,
    # DoRA r=64 alpha=64, lr 5e-5 cosine, 150 warm-up steps (the script's 3% of 5,000),
    # 5,000 steps, G=8, completions up to 1,024 tokens, prompts up to 2,048, beta 0.001 (GRPO).
    # The script ran 4 completions per device on 2 GPUs (one prompt per step); on one GPU, two
    # accumulation steps give the same 8 completions per optimizer step (set
    # gradient_accumulation_steps=1 on 2 GPUs). Rollouts through vLLM, colocated.
    "paper-7b": {
        "model": "Qwen/Qwen2.5-Coder-7B-Instruct",
        "peft": "dora",
        "lora_r": 64,
        "lora_alpha": 64,
        "lora_dropout": 0.01,
        "torch_dtype": "bfloat16",
        "attn_implementation": "sdpa",
        "gradient_checkpointing": True,
        "num_generations": 8,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 2,
        "max_completion_length": 1024,
        "max_prompt_tokens": 2048,
        "learning_rate": 5e-5,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 150,
        "max_steps": 5000,
        "dynamic_sampling_max_rounds": 10,
        "use_vllm": True,
        "vllm_mode": "colocate",
        "vllm_gpu_memory_utilization": 0.3,
        "bf16": True,
        "use_cpu": False,
        "eval_steps": 100,
        "val_max_samples": 128,
        "save_steps": 100,
        "save_total_limit": 3,
        "logging_steps": 10,
    },
}


def preset(name: str) -> TrainConfig:
    """The configuration of a preset (unresolved)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    cfg = TrainConfig()
    _apply(cfg, {"preset": name, **PRESETS[name]}, source=f"preset {name}")
    return cfg


# ---------------------------------------------------------------------------------------------
# Files and overrides


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The options in a TOML or YAML file, as a flat dict (not yet checked)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        data = {} if data is None else data
    else:
        raise ConfigError(f"{path}: config files are .toml, .yaml or .yml")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table of options")
    if set(data) == {"recode"} and isinstance(data["recode"], dict):
        data = data["recode"]
    return data


def save_config(cfg: TrainConfig, path: str | Path) -> Path:
    """Write the configuration as YAML (which, unlike TOML, can say ``null``)."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), "utf-8")
    return path


def load_config(
    config_file: str | Path | None = None,
    *,
    preset_name: str | None = None,
    algo: str | None = None,
    output_dir: str | None = None,
    overrides: Sequence[str] = (),
) -> TrainConfig:
    """Resolve a configuration from its layers (see the module doc); not yet :meth:`resolved`."""
    file_values = load_config_file(config_file) if config_file is not None else {}
    name = preset_name or file_values.get("preset") or "tiny"
    if not isinstance(name, str):
        raise ConfigError("preset must be a string")
    cfg = preset(name)
    file_values = {k: v for k, v in file_values.items() if k != "preset"}
    _apply(cfg, file_values, source=str(config_file))
    if algo is not None:
        _apply(cfg, {"algo": algo}, source="--algo")
    if output_dir is not None:
        _apply(cfg, {"output_dir": str(output_dir)}, source="--output-dir")
    apply_overrides(cfg, overrides)
    cfg.validate()
    return cfg


def apply_overrides(cfg: TrainConfig, overrides: Iterable[str]) -> TrainConfig:
    """Apply ``KEY=VALUE`` strings, converting each value to the field's type."""
    values: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"an override is KEY=VALUE, got {item!r}")
        values[key] = _parse_text(key, raw.strip())
    _apply(cfg, values, source="command line")
    return cfg


_FIELDS = {f.name: f for f in fields(TrainConfig)}


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _unknown(key: str, source: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(_FIELDS), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return ConfigError(
        f"{source}: unknown option {key!r}{hint} (recode-train --help-config lists them)"
    )


def _parse_text(key: str, raw: str) -> Any:
    """Turn the text of a command-line value into a value for ``key``'s type."""
    if key not in _FIELDS:
        raise _unknown(key, "command line")
    hint = _hints()[key]
    if _optional(hint) and raw.lower() in ("none", "null", ""):
        return None
    base = _strip_optional(hint)
    origin = typing.get_origin(base)
    if origin is list:
        if raw.startswith("["):
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{key}: not a JSON list: {raw!r} ({exc.msg})") from exc
        return [part.strip() for part in raw.split(",") if part.strip()]
    if base is bool:
        lowered = raw.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {raw!r}")
    if base is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {raw!r}") from None
    if base is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {raw!r}") from None
    return raw  # str and Literal: checked by _apply


def _apply(cfg: TrainConfig, values: Mapping[str, Any], source: str) -> None:
    hints = _hints()
    for key, value in values.items():
        if key not in _FIELDS:
            raise _unknown(key, source)
        setattr(cfg, key, _check(key, value, hints[key], source))


def _optional(hint: Any) -> bool:
    return _is_union(hint) and type(None) in typing.get_args(hint)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _strip_optional(hint: Any) -> Any:
    if _is_union(hint):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _check(key: str, value: Any, hint: Any, source: str) -> Any:
    """``value`` checked (and numerically widened) against the field's type."""
    if value is None:
        if _optional(hint):
            return None
        raise ConfigError(f"{source}: {key} cannot be empty (expected {_type_name(hint)})")
    base = _strip_optional(hint)
    origin = typing.get_origin(base)
    if origin is Literal:
        choices = typing.get_args(base)
        if value not in choices:
            raise ConfigError(
                f"{source}: {key} must be one of {', '.join(map(str, choices))}, got {value!r}"
            )
        return value
    if origin is list:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {key} must be a list, got {value!r}")
        (item,) = typing.get_args(base)
        return [_check(f"{key}[{i}]", v, item, source) for i, v in enumerate(value)]
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key} must be an integer, got {value!r}")
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{source}: {key}: unsupported type {_type_name(hint)}")  # pragma: no cover


def _type_name(hint: Any) -> str:
    if _optional(hint):
        return f"{_type_name(_strip_optional(hint))} or none"
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + "|".join(map(str, typing.get_args(hint)))
    if origin is list:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def describe_options() -> str:
    """Every option with its type, default and help (for ``--help-config``)."""
    hints = _hints()
    default = TrainConfig()
    lines = []
    for f in fields(TrainConfig):
        value = getattr(default, f.name)
        lines.append(f"{f.name} ({_type_name(hints[f.name])}, default {value!r})")
        lines.append(f"    {f.metadata.get('help', '')}")
    return "\n".join(lines)
