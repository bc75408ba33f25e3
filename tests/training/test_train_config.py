"""recode.training.config: presets, files, KEY=VALUE overrides, algorithm defaults, TRL config."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from recode.training.config import (
    PRESETS,
    ConfigError,
    TrainConfig,
    apply_overrides,
    describe_options,
    load_config,
    load_config_file,
    preset,
    save_config,
)


def test_every_option_is_typed_and_documented():
    hints = typing.get_type_hints(TrainConfig)
    text = describe_options()
    for f in dataclasses.fields(TrainConfig):
        assert f.name in hints
        assert len(f.metadata.get("help", "")) > 10, f.name
        assert f"{f.name} (" in text


def test_overrides_convert_to_the_field_types():
    cfg = load_config(
        overrides=[
            "max_steps=7",
            "learning_rate=3e-4",
            "use_kb=no",
            "libraries=numpy, pandas",
            'rewards=["format", "em_star"]',
            "beta=none",
            "epsilon_high=0.3",
            "peft=dora",
            "max-prompt-tokens=512",
        ]
    )
    assert cfg.max_steps == 7 and isinstance(cfg.max_steps, int)
    assert cfg.learning_rate == pytest.approx(3e-4)
    assert cfg.use_kb is False
    assert cfg.libraries == ["numpy", "pandas"]
    assert cfg.rewards == ["format", "em_star"]
    assert cfg.beta is None and cfg.epsilon_high == pytest.approx(0.3)
    assert cfg.peft == "dora"
    assert cfg.max_prompt_tokens == 512


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("max_step=3", "did you mean max_steps"),
        ("max_steps=three", "expected an integer"),
        ("use_kb=maybe", "expected true or false"),
        ("peft=qlora", "must be one of none, lora, dora"),
        ("rewards=format,bleu", "must be one of"),
        ("algo=ppo", "must be one of grpo, dapo"),
        ("learning_rate=fast", "expected a number"),
        ("max_steps", "KEY=VALUE"),
        ("num_generations=1", "at least 2"),
        ("max_steps=none", "expected an integer, got .none."),
    ],
)
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_layers_apply_in_order(tmp_path):
    file = tmp_path / "run.toml"
    file.write_text('preset = "paper-7b"\nmax_steps = 100\nalgo = "grpo"\nlora_r = 16\n')
    cfg = load_config(file, algo="dapo", output_dir="out", overrides=["max_steps=5"])
    assert cfg.preset == "paper-7b"
    assert cfg.model == "Qwen/Qwen2.5-Coder-7B-Instruct"  # from the preset
    assert cfg.lora_r == 16  # file over preset
    assert cfg.algo == "dapo"  # --algo over file
    assert cfg.output_dir == "out"
    assert cfg.max_steps == 5  # KEY=VALUE over everything
    # --preset wins over the file's preset key
    assert load_config(file, preset_name="tiny").model == "tiny"


def test_yaml_files_and_a_recode_table(tmp_path):
    yml = tmp_path / "run.yaml"
    yml.write_text("recode:\n  max_steps: 3\n  libraries: [numpy]\n  beta: null\n")
    cfg = load_config(yml)
    assert (cfg.max_steps, cfg.libraries, cfg.beta) == (3, ["numpy"], None)
    toml = tmp_path / "run.toml"
    toml.write_text("[recode]\nmax_steps = 4\n")
    assert load_config(toml).max_steps == 4


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", "max_steps = [", "not valid TOML"),
        ("bad.yaml", "a: [", "not valid YAML"),
        ("list.yaml", "- 1\n- 2\n", "table of options"),
        ("run.json", "{}", ".toml, .yaml or .yml"),
        ("typo.toml", "max_stpes = 3\n", "unknown option 'max_stpes'"),
        ("types.toml", 'max_steps = "3"\n', "must be an integer"),
        ("bool.yaml", "use_kb: 1\n", "must be true or false"),
    ],
)
def test_bad_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file("/nonexistent/run.toml")


def test_algorithm_defaults():
    grpo = preset("tiny").resolved()
    assert (grpo.beta, grpo.epsilon, grpo.epsilon_high, grpo.loss_type) == (0.001, 0.2, 0.2, "grpo")
    assert grpo.dynamic_sampling is False and grpo.overlong_shaping is False
    dapo = apply_overrides(preset("tiny"), ["algo=dapo"]).resolved()
    assert (dapo.beta, dapo.epsilon, dapo.epsilon_high, dapo.loss_type) == (0.0, 0.2, 0.28, "dapo")
    assert dapo.dynamic_sampling is True and dapo.overlong_shaping is True
    assert dapo.overlong_cache == dapo.max_completion_length // 4
    # explicit values survive resolution
    custom = apply_overrides(
        preset("tiny"), ["algo=dapo", "beta=0.01", "dynamic_sampling=false"]
    ).resolved()
    assert custom.beta == 0.01 and custom.dynamic_sampling is False


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset_name="huge")


def test_save_and_reload_round_trip(tmp_path):
    cfg = load_config(preset_name="paper-7b", overrides=["beta=none", "max_steps=12"])
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(path)
    assert again == cfg


def test_paper_preset_is_the_published_recipe():
    cfg = preset("paper-7b").resolved()
    assert cfg.model == "Qwen/Qwen2.5-Coder-7B-Instruct"
    assert (cfg.peft, cfg.lora_r, cfg.lora_alpha) == ("dora", 64, 64)
    assert (cfg.learning_rate, cfg.lr_scheduler_type, cfg.warmup_steps) == (5e-5, "cosine", 150)
    assert (cfg.max_steps, cfg.num_generations, cfg.max_completion_length) == (5000, 8, 1024)
    assert cfg.use_vllm and cfg.vllm_mode == "colocate"
    assert cfg.beta == 0.001  # GRPO


@pytest.mark.parametrize("algo", ["grpo", "dapo"])
def test_paper_preset_builds_a_valid_trl_config(algo, monkeypatch):
    import transformers.training_args
    from peft import LoraConfig
    from trl import GRPOConfig

    from recode.training.adapters import grpo_config, peft_config, reward_functions

    # The preset is for a GPU with bf16; pretend this machine has one, as TrainingArguments
    # checks for it when built.
    monkeypatch.setattr(transformers.training_args, "is_torch_bf16_gpu_available", lambda: True)
    cfg = load_config(preset_name="paper-7b", algo=algo, output_dir="/tmp/unused-recode-run")
    args = grpo_config(cfg)
    assert isinstance(args, GRPOConfig)
    assert args.num_generations == 8 and args.max_completion_length == 1024
    assert args.learning_rate == 5e-5 and args.max_steps == 5000 and args.warmup_steps == 150
    assert getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type) == "cosine"
    assert args.use_vllm and args.vllm_mode == "colocate"
    assert args.bf16 and not args.use_cpu and args.gradient_checkpointing
    # 4 completions x 2 accumulation steps = one group of 8 per optimizer step on one GPU
    assert args.generation_batch_size % args.num_generations == 0
    if algo == "grpo":
        assert (args.beta, args.loss_type, args.epsilon_high) == (0.001, "grpo", 0.2)
    else:
        assert (args.beta, args.loss_type, args.epsilon, args.epsilon_high) == (
            0.0,
            "dapo",
            0.2,
            0.28,
        )
    lora = peft_config(cfg)
    assert isinstance(lora, LoraConfig)
    assert lora.use_dora and lora.r == 64 and lora.lora_alpha == 64
    names = [getattr(f, "__name__", "") for f in reward_functions(cfg.resolved())]
    assert names[:2] == ["format_reward", "es_star"]
    assert ("soft_overlong_punishment_reward" in names) == (algo == "dapo")


def test_presets_all_load():
    for name in PRESETS:
        cfg = preset(name).resolved()
        assert cfg.preset == name


def test_every_option_trl_knows_reaches_grpo_config():
    """GRPOConfig is derived from TrainConfig: every field whose name (after RENAMED) GRPOConfig
    has arrives with its value, bar RECODE_ONLY and the four worked out in grpo_config."""
    from trl import GRPOConfig

    from recode.training.adapters import RECODE_ONLY, RENAMED, grpo_config, trl_names

    trl_fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    ours = {f.name for f in dataclasses.fields(TrainConfig)}
    names = trl_names()
    expected = {n for n in ours if RENAMED.get(n, n) in trl_fields or n in trl_fields}
    assert set(names) == expected - RECODE_ONLY
    cfg = load_config(
        overrides=[
            "use_cpu=true",
            "bf16=false",
            "seed=11",
            "top_p=0.9",
            "max_grad_norm=0.5",
            "vllm_server_port=8123",
        ]
    )
    args = grpo_config(cfg, "/tmp/unused-recode-run")
    resolved = cfg.resolved()
    computed = {"output_dir", "bf16", "use_cpu", "report_to"}
    for field_name, trl_name in names.items():
        if field_name in computed:
            continue
        have = getattr(args, trl_name)
        have = getattr(have, "value", have)  # transformers turns some strings into enums
        if field_name == "steps_per_generation" and resolved.steps_per_generation is None:
            continue  # TRL fills it in from gradient_accumulation_steps
        assert have == getattr(resolved, field_name), field_name
    assert args.seed == 11 and args.top_p == 0.9 and args.vllm_server_port == 8123
    assert args.eval_steps != cfg.eval_steps  # validation is recode's own (RunCallback)
    assert args.save_strategy.value == "steps" and args.remove_unused_columns is False
