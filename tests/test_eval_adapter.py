"""recode-eval --model PATH --adapter PATH: a PEFT adapter (LoRA) on the in-process backend.

The adapter is built offline on the tiny model with non-zero LoRA weights (peft's default
initialisation makes a fresh LoRA a no-op, which could not show that it was applied)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recode.server.model import BackendError, TransformersBackend
from recode.training.eval import cli
from tests.test_eval_codeupdatearena import _arena_rows


@pytest.fixture(scope="module")
def base_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny model where a conftest offers one, else one built here."""
    try:
        return Path(request.getfixturevalue("tiny_model"))
    except pytest.FixtureLookupError:
        pytest.importorskip("transformers")
        from recode.training.tiny import build_tiny_model

        return build_tiny_model(tmp_path_factory.mktemp("adapter-base"))


@pytest.fixture(scope="module")
def adapter(base_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    peft = pytest.importorskip("peft")
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base_model)
    config = peft.LoraConfig(
        r=8,
        lora_alpha=64,
        target_modules=["q_proj", "v_proj"],
        task_type="CAUSAL_LM",
        init_lora_weights=False,
    )
    out = tmp_path_factory.mktemp("adapter")
    peft.get_peft_model(model, config).save_pretrained(out)
    return out


def _logits(backend: TransformersBackend) -> list[float]:
    import torch

    tokenizer, model = backend._load()
    enc = tokenizer("import numpy as np\nnp.", return_tensors="pt")
    with torch.no_grad():
        return model(**enc).logits[0, -1].tolist()


def test_adapter_is_applied_on_top_of_the_model(base_model: Path, adapter: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    plain = TransformersBackend(base_model)
    adapted = TransformersBackend(base_model, adapter=adapter)
    assert "adapter" in adapted.description and "adapter" not in plain.description
    base_logits = torch.tensor(_logits(plain))
    adapted_logits = torch.tensor(_logits(adapted))
    assert not torch.allclose(base_logits, adapted_logits, atol=1e-4)
    # The same as peft's own model with the adapter merged into the weights.
    import peft

    merged = peft.PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_model), str(adapter)
    ).merge_and_unload()
    tokenizer = adapted._load()[0]
    with torch.no_grad():
        expected = merged(**tokenizer("import numpy as np\nnp.", return_tensors="pt")).logits[0, -1]
    assert torch.allclose(adapted_logits, expected, atol=1e-4)


def test_an_adapter_that_does_not_load_is_a_backend_error(base_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    broken = tmp_path / "broken-adapter"
    broken.mkdir()
    (broken / "adapter_config.json").write_text("{not json")
    backend = TransformersBackend(base_model, adapter=broken)
    with pytest.raises(BackendError, match="adapter"):
        backend._load()


def _run(tmp_path: Path, out: Path, *args: str) -> int:
    arena = tmp_path / "arena.jsonl"
    arena.write_text("".join(json.dumps(row) + "\n" for row in _arena_rows()))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"tasks": {}}))
    return cli.main(
        [
            "--suite",
            "codeupdatearena",
            "--data",
            str(arena),
            "--broken-list",
            str(broken),
            "--out",
            str(out),
            "--max-tokens",
            "8",
            "--workers",
            "1",
            "--limit",
            "1",
            "--temperature",
            "0",
            *args,
        ]
    )


def test_recode_eval_with_an_adapter(
    base_model: Path, adapter: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _run(tmp_path, out, "--model", str(base_model), "--adapter", str(adapter)) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["model"] == f"{base_model.resolve()} + adapter {adapter.resolve()}"
    assert str(adapter) in report["generation"]["backend"]
    rows = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    assert rows and all(row["model"] == report["model"] for row in rows)
    # The base model's samples are another run: resuming the folder without the adapter fails.
    capsys.readouterr()
    assert _run(tmp_path, out, "--model", str(base_model)) == 2
    assert "use another --out" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model-url", "http://127.0.0.1:1/v1", "--model", "m"], "in-process --model PATH"),
        (["--oracle"], "in-process --model PATH"),
        (["--model", "BASE"], "not a PEFT adapter folder"),
    ],
)
def test_adapter_usage_errors(
    extra: list[str],
    message: str,
    base_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    not_adapter = tmp_path / "empty"
    not_adapter.mkdir()
    extra = [str(base_model) if arg == "BASE" else arg for arg in extra]
    assert _run(tmp_path, tmp_path / "out", *extra, "--adapter", str(not_adapter)) == 2
    assert message in capsys.readouterr().err
