"""``recode-train``: GRPO/DAPO training of a ReCode model, and export for ``recode-serve``.

    recode-train [CONFIG] [--preset NAME] [--algo grpo|dapo] [--output-dir DIR] [--resume]
                 [KEY=VALUE ...]
    recode-train export RUN_DIR OUT [--merge]

CONFIG is a TOML or YAML file of options; KEY=VALUE arguments override single options (see
``--help-config`` for every option, its type and default, and ``--print-config`` for the
resolved configuration without training). Presets: ``tiny`` (a ~1M-parameter model built
offline, CPU, minutes), ``tiny-trained`` (the same after a supervised warm-start, then DAPO: a
small model that really migrates the training examples), ``tiny-pipeline`` (a check of the
whole pipeline in seconds: a short warm-start and 4 DAPO steps on the rows given as ``data``;
what tests/model/test_trained_model.py serves) and ``paper-7b`` (the paper's
Qwen2.5-Coder-7B-Instruct recipe; GPU, vLLM rollouts). Multi-GPU: ``accelerate launch
--config_file training/accelerate/<fsdp|zero2|zero3>.yaml -m recode.training.cli ...``.

The run folder gets ``config.yaml``, ``data/{train,validation}.jsonl`` (the split by update),
``metrics.jsonl``, ``validation.jsonl``, the plots ``reward.png``, ``zero_variance.png`` and
``length.png``, ``checkpoint-N/`` folders, ``final/`` and ``summary.json``.

``export`` copies a fully fine-tuned model, or merges LoRA/DoRA weights into the base model
(``--merge``), or writes the base model with the adapter under ``adapters/recode`` (LoRA only:
vLLM does not serve DoRA adapters). The folder is what ``recode-serve OUT`` takes.

Exit status: 0 done, 2 usage or configuration error, 1 training or export failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from recode.training.config import (
    PRESETS,
    ConfigError,
    TrainConfig,
    describe_options,
    load_config,
)

__all__ = ["build_export_parser", "build_train_parser", "main"]


def build_train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="recode-train",
        description="Train a ReCode model with GRPO or DAPO (TRL), from a config file, a preset "
        "and KEY=VALUE overrides. `recode-train export RUN_DIR OUT [--merge]` exports a run.",
        epilog="Run `recode-train --help-config` for every option.",
    )
    p.add_argument(
        "items",
        nargs="*",
        metavar="CONFIG | KEY=VALUE",
        help="an optional TOML/YAML config file, then option overrides",
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="start from this preset (default: the file's `preset`, else tiny)",
    )
    p.add_argument("--algo", choices=["grpo", "dapo"], help="RL algorithm")
    p.add_argument("--output-dir", help="run folder")
    p.add_argument(
        "--resume", action="store_true", help="resume from the run folder's last checkpoint"
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration as YAML and exit",
    )
    p.add_argument("--help-config", action="store_true", help="list every option and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="less logging")
    return p


def build_export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="recode-train export",
        description="Export a run's final model into a folder recode-serve can serve.",
    )
    p.add_argument("run_dir", type=Path, help="the run folder (or its final/ folder)")
    p.add_argument("out", type=Path, help="the folder to write")
    p.add_argument(
        "--merge",
        action="store_true",
        help="merge LoRA/DoRA weights into the base "
        "model (else the adapter is kept apart; DoRA always needs --merge)",
    )
    return p


def _split_items(items: Sequence[str]) -> tuple[str | None, list[str]]:
    config_file = None
    overrides = []
    for item in items:
        if "=" in item:
            overrides.append(item)
        elif config_file is None and not overrides:
            config_file = item
        else:
            raise ConfigError(f"expected KEY=VALUE, got {item!r} (only one config file, first)")
    return config_file, overrides


def _export(argv: Sequence[str]) -> int:
    args = build_export_parser().parse_args(argv)
    from recode.training.export import export_run

    try:
        out = export_run(args.run_dir, args.out, merge=args.merge)
    except (FileNotFoundError, ValueError) as exc:
        print(f"recode-train export: {exc}", file=sys.stderr)
        return 1
    info = json.loads((out / "recode_export.json").read_text("utf-8"))
    command = f"recode-serve {out}"
    for name, rel in info.get("adapters", {}).items():
        command += f" --lora {name}={out / rel}"
    print(f"exported to {out}; serve it with: {command}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        return _export(argv[1:])
    parser = build_train_parser()
    args = parser.parse_intermixed_args(argv)  # options and KEY=VALUE items in any order
    if args.help_config:
        print(describe_options())
        return 0
    try:
        config_file, overrides = _split_items(args.items)
        if args.resume:
            overrides.append("resume=true")
        cfg = load_config(
            config_file,
            preset_name=args.preset,
            algo=args.algo,
            output_dir=args.output_dir,
            overrides=overrides,
        )
        resolved = cfg.resolved()
    except ConfigError as exc:
        print(f"recode-train: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(resolved.to_dict(), sort_keys=False), end="")
        return 0
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
    )
    return _train(cfg)


def _train(cfg: TrainConfig) -> int:
    from recode.training.data import DataError
    from recode.training.trainer import train

    try:
        result = train(cfg)
    except (ConfigError, DataError) as exc:
        print(f"recode-train: {exc}", file=sys.stderr)
        return 2
    summary = result.summary()
    print(
        json.dumps(
            {
                k: summary[k]
                for k in ("run_dir", "final_dir", "seconds", "validation_first", "validation_last")
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
