"""recode-train end to end on the tiny preset, through the command line: config file -> data ->
GRPO/DAPO steps -> metrics and plots -> checkpoint and resume -> export -> load and generate."""

from __future__ import annotations

import json
from pathlib import Path

from recode.training.cli import main
from recode.training.data import read_recode_jsonl, update_key, write_recode_jsonl
from recode.training.metrics import read_jsonl

FAST = [
    "max_completion_length=12",
    "num_generations=4",
    "per_device_train_batch_size=8",
    "val_max_samples=3",
    "eval_steps=1",
    "save_steps=1",
    "torch_threads=1",
]


def _data(tmp_path: Path) -> Path:
    rows = []
    for u in range(8):
        for i in range(2):
            rows.append(
                {
                    "dependency": "numpy",
                    "new_version": "==2.0.0",
                    "update_info": f"numpy.old{u} was removed in 2.0; call numpy.new{u} instead.",
                    "old_code": f"import numpy as np\nv{i} = np.old{u}({i})\n",
                    "new_code": f"import numpy as np\nv{i} = np.new{u}({i})\n",
                    "update_id": f"numpy-2.0-old{u}",
                }
            )
    return write_recode_jsonl(rows, tmp_path / "recode.jsonl")


def _config(tmp_path: Path, **extra: object) -> Path:
    lines = [
        'preset = "tiny"',
        "use_kb = false",
        f'data = ["{_data(tmp_path)}"]',
        "val_fraction = 0.25",
        "val_min_updates = 1",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path = tmp_path / "run.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _generate(model_dir: Path, n_tokens: int = 6) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from recode.dataset.prompt import build_messages, render_prompt
    from recode.training.generation import generate_completions

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    prompt = render_prompt(tok, build_messages("numpy", "2.0", "old was removed", "x = old()"))
    text = generate_completions(model, tok, [prompt], max_new_tokens=n_tokens, do_sample=True)[0]
    assert isinstance(text, str) and text
    return text


def _check_run(run: Path, steps: int) -> None:
    metrics = read_jsonl(run / "metrics.jsonl")
    assert [m["step"] for m in metrics] == list(range(1, steps + 1))
    for m in metrics:
        assert {
            "reward",
            "zero_variance_share",
            "completion_length",
            "completion_clipped_ratio",
            "rewards",
        } <= set(m)
        assert {"format", "es_star"} <= set(m["rewards"])
        assert -5.0 <= m["reward"] <= 4.0
    validation = read_jsonl(run / "validation.jsonl")
    assert [v["step"] for v in validation] == list(range(0, steps + 1))
    assert all(v["n"] == 3 and -3.0 <= v["reward"] <= 3.0 for v in validation)
    for name in ("reward.png", "zero_variance.png", "length.png"):
        assert (run / name).stat().st_size > 5000
    train = read_recode_jsonl(run / "data" / "train.jsonl")
    val = read_recode_jsonl(run / "data" / "validation.jsonl")
    assert {update_key(r) for r in train}.isdisjoint(update_key(r) for r in val)
    assert len({update_key(r) for r in val}) == 2  # a quarter of 8 updates
    summary = json.loads((run / "summary.json").read_text())
    assert summary["validation_last"]["step"] == steps


def test_grpo_tiny_end_to_end_with_resume(tmp_path, capsys):
    run = tmp_path / "run"
    config = _config(tmp_path)
    assert (
        main([str(config), "--algo", "grpo", "--output-dir", str(run), "max_steps=2", *FAST]) == 0
    )
    _check_run(run, 2)
    assert (run / "base-model" / "config.json").is_file()  # the tiny model, built offline
    assert (run / "checkpoint-2").is_dir()
    saved = (run / "config.yaml").read_text()
    assert "algo: grpo" in saved and "beta: 0.001" in saved and "loss_type: grpo" in saved

    # resume from checkpoint-2 and go on to step 3
    assert (
        main(
            [
                str(config),
                "--algo",
                "grpo",
                "--output-dir",
                str(run),
                "--resume",
                "max_steps=3",
                *FAST,
            ]
        )
        == 0
    )
    _check_run(run, 3)
    state = json.loads((run / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3

    out = tmp_path / "export"
    capsys.readouterr()
    assert main(["export", str(run), str(out)]) == 0
    assert f"recode-serve {out}" in capsys.readouterr().out
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    _generate(out)


def test_dapo_tiny_lora_end_to_end(tmp_path, tiny_model, capsys):
    run = tmp_path / "run"
    config = _config(
        tmp_path,
        model=str(tiny_model),
        peft="lora",
        lora_r=4,
        lora_alpha=8,
        lora_target_modules=["all-linear"],
    )
    assert (
        main(
            [
                str(config),
                "--algo",
                "dapo",
                "--output-dir",
                str(run),
                "max_steps=2",
                "dynamic_sampling_max_rounds=1",
                *FAST,
            ]
        )
        == 0
    )
    _check_run(run, 2)
    saved = (run / "config.yaml").read_text()
    assert "epsilon_high: 0.28" in saved and "loss_type: dapo" in saved and "beta: 0.0" in saved
    metrics = read_jsonl(run / "metrics.jsonl")
    assert all("overlong" in m["rewards"] and "ds_dropped_groups" in m for m in metrics)
    summary = json.loads((run / "summary.json").read_text())
    ds = summary["dynamic_sampling"]
    assert ds["batches"] == 2 and ds["sampled_groups"] >= 4
    assert (run / "final" / "adapter_config.json").is_file()

    merged = tmp_path / "merged"
    assert main(["export", str(run), str(merged), "--merge"]) == 0
    assert json.loads((merged / "recode_export.json").read_text())["merged"] is True
    assert not (merged / "adapter_config.json").exists()
    _generate(merged)

    kept = tmp_path / "kept"
    capsys.readouterr()
    assert main(["export", str(run), str(kept)]) == 0
    assert f"--lora recode={kept / 'adapters' / 'recode'}" in capsys.readouterr().out
    assert (kept / "adapters" / "recode" / "adapter_config.json").is_file()
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(kept)
    assert PeftModel.from_pretrained(base, kept / "adapters" / "recode") is not None


def test_sft_warmstart_teaches_the_answer_format(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from recode.training.data import prompt_text
    from recode.training.generation import generate_completions
    from recode.training.reward import es_star, format_reward
    from recode.training.warmstart import sft_warmstart

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    rows = [
        {
            "dependency": "numpy",
            "new_version": "==2.0",
            "update_info": "a was removed.",
            "old_code": "x = a(1)",
            "new_code": "x = b(1)",
        }
    ]
    prompts = [prompt_text(r, tok) for r in rows]
    before = generate_completions(model, tok, prompts, max_new_tokens=24)
    assert format_reward(before) == [-1.0]
    losses = sft_warmstart(model, tok, rows, steps=40, learning_rate=3e-3, batch_size=1)
    assert losses[-1] < losses[0] / 4
    after = generate_completions(model, tok, prompts, max_new_tokens=24)
    assert format_reward(after) == [1.0]
    assert es_star(after, [rows[0]["new_code"]]) == [2.0]


def test_bad_command_lines_exit_2(tmp_path, capsys):
    assert main(["max_steps=x"]) == 2
    assert "expected an integer" in capsys.readouterr().err
    assert main(["a.toml", "b.toml"]) == 2
    assert main(["export", str(tmp_path / "nothing"), str(tmp_path / "out")]) == 1


def test_print_and_help_config(capsys):
    assert main(["--preset", "paper-7b", "--algo", "dapo", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "model: Qwen/Qwen2.5-Coder-7B-Instruct" in out and "epsilon_high: 0.28" in out
    assert main(["--help-config"]) == 0
    assert "dynamic_sampling_max_rounds (int" in capsys.readouterr().out


def test_arena_data_is_refused_before_training(tmp_path, capsys):
    arena_dir = tmp_path / "CodeUpdateArena"
    data = write_recode_jsonl(read_recode_jsonl(_data(tmp_path)), arena_dir / "x.jsonl")
    run = tmp_path / "run"
    assert main(["--output-dir", str(run), "use_kb=false", f"data={data}", "max_steps=1"]) == 2
    assert "CodeUpdateArena" in capsys.readouterr().err
    assert not (run / "metrics.jsonl").exists()
