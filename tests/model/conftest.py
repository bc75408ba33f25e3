"""Fixtures of the model tests. The tiny model, its LoRA and the shared vLLM server
(``vllm_server``) live in tests/conftest.py; here: a model trained by ``recode-train`` and a
second vLLM server for it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_KB, Served, serve_model

#: The function tests/model/test_trained_model.py migrates, as the engine cuts it out of its
#: file (the finding's enclosing function), and the answer the model is trained to give.
CONVERT_OLD = 'def convert(a):\n    return np.cast["f8"](a)\n'
CONVERT_NEW = 'def convert(a):\n    return np.asarray(a, dtype="f8")\n'
#: More migrations of the same record for the warm-start, so the model must read the old code
#: to tell which answer to give.
OTHER_MIGRATIONS = [
    ('y = np.cast["i4"](x)\n', 'y = np.asarray(x, dtype="i4")\n'),
    (
        "def to_float(v):\n    return np.cast[np.float32](v)\n",
        "def to_float(v):\n    return np.asarray(v, dtype=np.float32)\n",
    ),
]


def training_rows() -> list[dict[str, str]]:
    """ReCode rows for the np-cast record of the test knowledge base, with its note as the
    update text: the prompt the engine builds offline (no release notes) for the same code."""
    (record,) = [
        json.loads(line)
        for line in TEST_KB.read_text("utf-8").splitlines()
        if line.strip() and json.loads(line)["id"] == "np-cast"
    ]
    return [
        {
            "dependency": "numpy",
            "new_version": "==2.0.0",
            "update_info": record["note"],
            "old_code": old,
            "new_code": new,
            "update_id": record["id"],
        }
        for old, new in [(CONVERT_OLD, CONVERT_NEW), *OTHER_MIGRATIONS]
    ]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd[2:4])} failed ({done.returncode}):\n{done.stderr[-4000:]}")


@pytest.fixture(scope="session")
def trained_run(tiny_model, tmp_path_factory) -> Path:
    """A run of ``recode-train --preset tiny-pipeline`` from the shared tiny model on the rows of
    :func:`training_rows`: a supervised warm-start, then 4 DAPO steps. In a process of its own
    (the run sets torch's thread count)."""
    root = tmp_path_factory.mktemp("trained")
    data = root / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in training_rows()), "utf-8")
    run_dir = root / "run"
    _run(
        [
            sys.executable,
            "-m",
            "recode.training.cli",
            "--preset",
            "tiny-pipeline",
            "--output-dir",
            str(run_dir),
            "-q",
            f"model={tiny_model}",
            f"data={data}",
        ]
    )
    return run_dir


@pytest.fixture(scope="session")
def trained_model(trained_run) -> Path:
    """The trained run exported for ``recode-serve`` (``recode-train export``)."""
    out = trained_run.parent / "export"
    _run([sys.executable, "-m", "recode.training.cli", "export", str(trained_run), str(out)])
    return out


@pytest.fixture(scope="module")
def trained_vllm_server(trained_model, tmp_path_factory) -> Iterator[Served]:
    """A second vLLM server, for the trained model (vLLM serves one base model, and the
    warm-start trains every weight, so the trained model cannot be a LoRA of the shared one).
    Module-scoped: stopped once test_trained_model.py is done."""
    with serve_model(trained_model, tmp_path_factory.mktemp("trained-vllm")) as served:
        yield served
