"""``recode-train export``: a run's final model as a folder ``recode-serve`` serves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from recode.training.adapters import load_tokenizer

__all__ = ["EXPORT_INFO", "RUN_INFO", "export_run"]

#: What a run writes next to its final model (base model, peft kind, algorithm, steps).
RUN_INFO = "recode_run.json"
EXPORT_INFO = "recode_export.json"


def export_run(run_dir: str | Path, out: str | Path, *, merge: bool = False) -> Path:
    """Write a model folder that ``recode-serve`` serves.

    A fully fine-tuned run is copied. An adapter run is, with ``merge``, folded into its base
    model (``merge_and_unload``); without it, the base model is written to ``out`` and the
    adapter to ``out/adapters/recode`` (serve with ``recode-serve OUT --lora
    recode=OUT/adapters/recode``). vLLM cannot serve DoRA adapters, so a DoRA run must be merged.
    """
    run_dir, out = Path(run_dir), Path(out)
    final = run_dir / "final" if (run_dir / "final").is_dir() else run_dir
    if not final.is_dir():
        raise FileNotFoundError(f"{run_dir} holds no trained model (no final/ folder)")
    info_path = final / RUN_INFO
    info = json.loads(info_path.read_text("utf-8")) if info_path.is_file() else {}
    is_adapter = (final / "adapter_config.json").is_file()
    out.mkdir(parents=True, exist_ok=True)
    export: dict[str, Any] = {"run": str(run_dir.resolve()), "merged": False, "adapters": {}}
    if not is_adapter:
        if not (final / "config.json").is_file():
            raise FileNotFoundError(f"{final} holds neither a model nor an adapter")
        for item in final.iterdir():
            if item.is_file():
                shutil.copy2(item, out / item.name)
        export["base_model"] = info.get("base_model")
    else:
        adapter_cfg = json.loads((final / "adapter_config.json").read_text("utf-8"))
        base = info.get("base_model") or adapter_cfg.get("base_model_name_or_path")
        if not base:
            raise ValueError(f"{final}: cannot tell the adapter's base model")
        if adapter_cfg.get("use_dora") and not merge:
            raise ValueError("vLLM cannot serve DoRA adapters: export with --merge")
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if cuda_bf16 else None
        base_model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype or "auto")
        tokenizer = load_tokenizer(str(final))
        tokenizer.padding_side = "right"
        if merge:
            merged = PeftModel.from_pretrained(base_model, str(final)).merge_and_unload()
            merged.save_pretrained(out)
            export["merged"] = True
        else:
            base_model.save_pretrained(out)
            target = out / "adapters" / "recode"
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(
                final,
                target,
                ignore=shutil.ignore_patterns("tokenizer*", "special_tokens*", "chat_template*"),
            )
            export["adapters"] = {"recode": "adapters/recode"}
        tokenizer.save_pretrained(out)
        export["base_model"] = base
    (out / EXPORT_INFO).write_text(json.dumps(export, indent=2), "utf-8")
    return out
