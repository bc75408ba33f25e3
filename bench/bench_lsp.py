"""Benchmark of recode-lsp: edit-to-diagnostics latency and memory with many open files.

1. Latency: a 5,000-line module is opened; then, 200 times, one line is edited (an incremental
   ``didChange`` typing a space at its end, then deleting it again; ``--where line``: a new
   top-level line typed, then deleted) and the time until the
   diagnostics of that version arrive is measured on the client side (so it includes JSON-RPC
   both ways, the incremental re-parse and the detector). ``--mode push`` waits for the
   ``publishDiagnostics`` of that version; ``--mode pull`` sends ``textDocument/diagnostic``
   right after the change and waits for its answer, as VS Code's client does (the client then
   says it pulls, so the server does not push). The debounce is set to 0 (initializationOption
   ``debounceMs``), so no waiting is counted. The server's own detector time per run is read
   back with the ``recode.serverStats`` command. ``--server ruff`` (or ``both``, in the same
   run) measures ``ruff server`` with NPY201 the same way. The client is a bare JSON-RPC reader
   (``json.loads`` of each frame), so the figures are the servers' and the pipes'.
2. Memory: 200 modules of 300 lines are opened; the server's resident memory (VmRSS) is read
   before and after, once every document has its diagnostics.

3. ``--stages``: the same edits without a server or JSON-RPC, in this process, timing the CPU
   of each step per edit: applying the change and re-parsing incrementally (tree-sitter), the
   analysis (the fast path of server/lsp/incremental.py) and writing the publishDiagnostics
   params as JSON.

The server checks against a throw-away venv whose site-packages claims numpy 2.0.0 and pandas
2.2.2, with the shipped knowledge base plus the small test base in tests/lsp/data/kb (which
holds numpy and pandas records whatever the shipped base holds today).

    python bench/bench_lsp.py [--edits 200] [--lines 5000] [--files 200] [--style typical|dense]
                              [--where any|body|top|line] [--mode push|pull]
                              [--server recode|ruff|both] [--stages] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

ROOT = Path(__file__).resolve().parents[1]
TEST_KB = ROOT / "tests" / "lsp" / "data" / "kb"


def module(lines: int, style: str = "typical", seed: int = 0) -> str:
    """A synthetic module in the style of a data-processing code base.

    ``typical``: classes with plain Python, numpy/pandas in one method out of three (about one
    library reference per 40 lines, a finding per 100 lines). ``dense``: every function uses
    numpy and pandas (a library reference every 2 lines, a finding every 10).
    """
    out = [
        '"""Synthetic module."""',
        "import json",
        "import numpy as np",
        "import pandas as pd",
        "",
    ]
    i = seed
    while len(out) < lines:
        if style == "dense":
            out += [
                f"def func_{i}(values, scale={i}):",
                f'    """Compute thing {i}."""',
                "    arr = np.asarray(values, dtype=np.float64)",
                "    total = np.sum(arr) * scale",
                f"    prod = np.product(arr) if {i} % 7 == 0 else np.prod(arr)",
                "    mean = arr.mean() + total / (len(arr) or 1)",
                "    frame = pd.DataFrame({'a': arr})",
                "    return frame, mean, prod",
                "",
                "",
            ]
        else:
            k = i % 10
            out += [f"class Worker{i}:", f"    limit = {i}", ""]
            out += ["    def __init__(self, items):", "        self.items = list(items)", ""]
            out += [
                "    def run(self, path):",
                "        result = []",
                "        for n, item in enumerate(self.items):",
                "            if n > self.limit:",
                "                break",
                "            key = f'{item}-{n}'",
                "            result.append(key.upper())",
            ]
            if k == 0:
                out += ["        total = np.product(np.asarray(result, dtype=object).shape)"]
            elif k == 3:
                out += [
                    "        frame = pd.DataFrame({'k': result})",
                    "        frame.to_csv(path, line_terminator='\\n')",
                    "        total = len(frame)",
                ]
            elif k == 6:
                out += ["        total = np.sum(np.arange(len(result)))"]
            else:
                out += ["        total = sum(len(r) for r in result)"]
            out += [
                "        with open(path + '.json', 'w') as fh:",
                "            json.dump({'total': int(total), 'items': result}, fh)",
                "        return result",
                "",
                "",
            ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def fake_env(folder: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = next(folder.glob("lib/python*/site-packages"))
    for name, version in (("numpy", "2.0.0"), ("pandas", "2.2.2")):
        dist = site / f"{name}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return str(folder / "bin" / "python")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all its threads, ended ones too) a process has used so far;
    in clock ticks (10 ms on Linux), read from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class RawClient:
    """A bare JSON-RPC client over stdio: it writes frames and reads them with ``json.loads``,
    nothing more (an editor's client does little else, and a Python client turning 500
    diagnostics into objects would add its own time to both servers' figures).

    Requests from the server (``client/registerCapability``, ``workspace/configuration``, ...)
    are answered with null. ``publishDiagnostics`` notifications are timed on arrival.
    """

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[tuple[float, Any]]] = {}
        self.arrivals: dict[tuple[str, int | None], float] = {}
        self.counts: dict[str, int] = {}
        self.event = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, command: list[str], cwd: Path, quiet: bool = False) -> RawClient:
        """``quiet``: drop the server's stderr (ruff logs every start-up step there)."""
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if quiet else None,
            limit=2**26,
        )
        return cls(proc)

    async def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        while True:
            length = 0
            while True:
                line = await stdout.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await stdout.readexactly(length)
            now = time.perf_counter()
            message = json.loads(body)
            if "method" in message:
                if "id" in message:  # a request from the server
                    self._write({"jsonrpc": "2.0", "id": message["id"], "result": None})
                elif message["method"] == "textDocument/publishDiagnostics":
                    params = message["params"]
                    self.arrivals[(params["uri"], params.get("version"))] = now
                    self.counts[params["uri"]] = len(params["diagnostics"])
                    self.event.set()
                elif message["method"] == "window/showMessage":
                    print(f"server says: {message['params']['message']}", file=sys.stderr)
            elif (future := self.waiting.pop(message.get("id"), None)) is not None:
                if "error" in message:
                    future.set_exception(RuntimeError(str(message["error"])))
                else:
                    future.set_result((now, message.get("result")))

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def send(self, method: str, params: Any) -> asyncio.Future[tuple[float, Any]]:
        """Send a request; the future gives (arrival time of the answer, its result)."""
        self.next_id += 1
        future: asyncio.Future[tuple[float, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        self._write({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return future

    async def request(self, method: str, params: Any, timeout: float = 120) -> Any:
        return (await asyncio.wait_for(self.send(method, params), timeout))[1]

    async def wait_published(self, uri: str, version: int, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while (uri, version) not in self.arrivals:
            self.event.clear()
            if (uri, version) in self.arrivals:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no diagnostics for {uri} version {version}")
            try:
                await asyncio.wait_for(self.event.wait(), left)
            except TimeoutError:
                pass
        return self.arrivals[(uri, version)]

    async def stop(self) -> None:
        try:
            await self.request("shutdown", None, timeout=30)
            self.notify("exit", None)
            await asyncio.wait_for(self.proc.wait(), 30)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
            self.reader.cancel()


def edits(lines: list[str], count: int, where: str, style: str) -> list[dict[str, Any]]:
    """One-line edits spread over the file (``contentChanges`` entries): at the end of every Nth
    line of the kind ``where`` names, alternately typing a space and deleting it again (every
    version changes the text).

    ``any``: lines indented by 4 (in ``typical`` class attributes and ``def`` lines too);
    ``body``: lines in function bodies; ``top``: top-level lines (``def``, ``import``).
    ``line``: a new top-level line typed before a ``def`` line (with an outdated call), then
    deleted again (an editor's "delete line").
    """
    if where == "line":
        defs = [n for n, line in enumerate(lines) if line.startswith(("def ", "class "))]
        step = max(1, len(defs) // count)
        typed = "limit = np.product([2, 3])\n"
        out = []
        for k in range(count):
            row = defs[((k - k % 2) * step) % len(defs)]
            start = {"line": row, "character": 0}
            end = start if k % 2 == 0 else {"line": row + 1, "character": 0}
            out.append({"range": {"start": start, "end": end}, "text": typed if k % 2 == 0 else ""})
        return out
    if where == "top":
        candidates = [n for n, line in enumerate(lines) if line[:1].isalpha()]
    else:
        indent = "        " if where == "body" and style == "typical" else "    "
        candidates = [n for n, line in enumerate(lines) if line.startswith(indent)]
    step = max(1, len(candidates) // count)
    out = []
    for k in range(count):
        row = candidates[((k - k % 2) * step) % len(candidates)]
        col = len(lines[row])
        if k % 2 == 0:
            at = {"line": row, "character": col}
            out.append({"range": {"start": at, "end": at}, "text": " "})
        else:
            out.append(
                {
                    "range": {
                        "start": {"line": row, "character": col},
                        "end": {"line": row, "character": col + 1},
                    },
                    "text": "",
                }
            )
    return out


def stages(args: argparse.Namespace, folder: Path, python: str, kb: list[str]) -> dict:
    """CPU per edit of each step, in this process: re-parse, analysis, JSON of the params."""
    from recode.server.lsp import settings as settings_mod
    from recode.server.lsp.diagnostics import compute
    from recode.server.lsp.documents import Document
    from recode.server.lsp.workspaces import KnowledgeBases, build_context

    settings, problems = settings_mod.merge(
        settings_mod.defaults(), {"python": python, "knowledgeBase": kb}
    )
    assert not problems, problems
    context = build_context(folder, settings, 1, KnowledgeBases())
    text = module(args.lines, args.style)
    doc = Document.open((folder / "big.py").as_uri(), text, 1, "utf-16")
    result = compute(doc.snapshot(), context)
    findings = len(result.findings)
    times: dict[str, list[float]] = {"reparse": [], "analysis": [], "json": []}
    fast = 0
    changes = edits(text.splitlines(), args.edits, args.where, args.style)
    for k, change in enumerate(changes):
        r = change["range"]
        partial = types.TextDocumentContentChangePartial(
            range=types.Range(
                types.Position(r["start"]["line"], r["start"]["character"]),
                types.Position(r["end"]["line"], r["end"]["character"]),
            ),
            text=change["text"],
        )
        t0 = time.process_time()
        doc.apply([partial], k + 2)
        snapshot = doc.snapshot()
        t1 = time.process_time()
        result = compute(snapshot, context, result)
        t2 = time.process_time()
        params = (
            f'{{"uri":{json.dumps(doc.uri)},"diagnostics":[{",".join(result.placed.wire)}],'
            f'"version":{k + 2}}}'
        )
        t3 = time.process_time()
        assert params.endswith(f"{k + 2}}}")
        fast += not result.exact
        for name, seconds in (("reparse", t1 - t0), ("analysis", t2 - t1), ("json", t3 - t2)):
            times[name].append(seconds * 1000)
    out: dict[str, Any] = {"style": args.style, "findings": findings, "fast_path": fast}
    for name, values in times.items():
        out[name] = {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "max_ms": round(max(values), 2),
        }
    return out


SERVERS = ("recode", "ruff")


def server_command(server: str) -> list[str]:
    if server == "ruff":
        ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
        if ruff is None:
            raise SystemExit("bench_lsp: no ruff next to this Python or on PATH")
        return [ruff, "server"]
    return [sys.executable, "-m", "recode.server.lsp"]


async def start(server: str, folder: Path, python: str, kb: list[str], pull: bool) -> RawClient:
    """A started and initialized server; ``pull``: the client says it pulls diagnostics."""
    client = await RawClient.start(server_command(server), folder, quiet=server == "ruff")
    text_document: dict[str, Any] = {"publishDiagnostics": {"versionSupport": True}}
    if pull:
        text_document["diagnostic"] = {"dynamicRegistration": False}
    options: dict[str, Any] = {}
    if server == "recode":
        options = {"python": python, "knowledgeBase": kb, "debounceMs": 0, "pollSeconds": 0}
    await client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "capabilities": {"textDocument": text_document, "window": {"workDoneProgress": False}},
            "initializationOptions": options,
            "workspaceFolders": [{"uri": folder.as_uri(), "name": folder.name}],
            "rootUri": folder.as_uri(),
        },
    )
    client.notify("initialized", {})
    return client


def did_open(client: RawClient, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    return uri


async def diagnostics(client: RawClient, uri: str, version: int, pull: bool) -> tuple[float, int]:
    """(arrival time, count) of the diagnostics of a version: pulled, or pushed."""
    if not pull:
        got = await client.wait_published(uri, version)
        return got, client.counts[uri]
    got, report = await asyncio.wait_for(
        client.send("textDocument/diagnostic", {"textDocument": {"uri": uri}}), 120
    )
    return got, len(report["items"])


async def latency(
    args: argparse.Namespace, server: str, folder: Path, python: str, kb: list[str]
) -> dict:
    """Open the big module, then edit it: from sending each didChange (and, pulling, the
    ``textDocument/diagnostic`` request right after it, as VS Code does) to the diagnostics of
    that version arriving."""
    text = module(args.lines, args.style)
    lines = text.splitlines()
    path = folder / "big.py"
    path.write_text(text)
    pull = args.mode == "pull"
    if args.restart:  # a start before, on the same folder and environment: caches filled
        client = await start(server, folder, python, kb, pull)
        try:
            await diagnostics(client, did_open(client, path, text), 1, pull)
        finally:
            await client.stop()
    client = await start(server, folder, python, kb, pull)
    try:
        cpu = cpu_seconds(client.proc.pid)
        sent = time.perf_counter()
        uri = did_open(client, path, text)
        got, findings = await diagnostics(client, uri, 1, pull)
        first = got - sent
        first_cpu = cpu_seconds(client.proc.pid) - cpu
        samples: list[float] = []
        counts: set[int] = set()
        for k, change in enumerate(edits(lines, args.edits, args.where, args.style)):
            version = k + 2
            sent = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [change],
                },
            )
            got, count = await diagnostics(client, uri, version, pull)
            samples.append((got - sent) * 1000)
            counts.add(count)
        out: dict[str, Any] = {
            "server": server,
            "mode": args.mode,
            "lines": len(lines),
            "bytes": len(text.encode()),
            "style": args.style,
            "edited_lines": args.where,
            "findings": findings,
            "findings_after_edits": sorted(counts),
            "first_diagnostics_ms": round(first * 1000, 1),
            # the server's CPU time meanwhile: what the wait would be on idle cores
            "first_diagnostics_cpu_ms": round(first_cpu * 1000),
            "restarted": args.restart,
            "edits": len(samples),
            "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(percentile(samples, 0.95), 2),
            "max_ms": round(max(samples), 2),
            "mean_ms": round(statistics.fmean(samples), 2),
            "server_pid_rss_mb": round(rss(client.proc.pid) / 2**20, 1),
        }
        if server == "recode":
            stats = await client.request(
                "workspace/executeCommand", {"command": "recode.serverStats"}
            )
            out["server_analysis_ms"] = stats.get("analysis_ms")
            out["server_change_to_publish_ms"] = stats.get("change_to_publish_ms")
            out["server_change_to_publish_cpu_ms"] = stats.get("change_to_publish_cpu_ms")
        return out
    finally:
        await client.stop()


async def memory(args: argparse.Namespace, folder: Path, python: str, kb: list[str]) -> dict:
    many = folder / "many"
    many.mkdir()
    client = await start("recode", folder, python, kb, pull=False)
    try:
        # a first file builds the folder's environment: measure after that
        warm = did_open(client, many / "warm.py", module(50, "typical"))
        await client.wait_published(warm, 1)
        base = rss(client.proc.pid)
        uris = []
        total_bytes = 0
        for n in range(args.files):
            text = module(args.file_lines, "typical", seed=n * 1000)
            total_bytes += len(text.encode())
            path = many / f"mod_{n:03d}.py"
            path.write_text(text)
            uris.append(did_open(client, path, text))
        for uri in uris:
            await client.wait_published(uri, 1)
        after = rss(client.proc.pid)
        return {
            "files": args.files,
            "lines_each": args.file_lines,
            "source_mb": round(total_bytes / 2**20, 2),
            "rss_before_mb": round(base / 2**20, 1),
            "rss_after_mb": round(after / 2**20, 1),
            "per_file_kb": round((after - base) / args.files / 1024, 1),
        }
    finally:
        await client.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-lsp-"))
    try:
        python = fake_env(tmp / "venv")
        kb = [str(ROOT / "dataset" / "kb"), str(TEST_KB)]
        project = tmp / "project"
        project.mkdir()
        # ruff server reads its rules from the folder's configuration
        (project / "ruff.toml").write_text('[lint]\nselect = ["NPY201"]\n')
        result: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m_before": round(os.getloadavg()[0], 2),
        }
        if args.stages:
            result["stages"] = stages(args, project, python, kb)
            return result
        servers = SERVERS if args.server == "both" else (args.server,)
        result["latency"] = [await latency(args, server, project, python, kb) for server in servers]
        if args.files:
            result["memory"] = await memory(args, project, python, kb)
        result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--edits", type=int, default=200)
    p.add_argument("--lines", type=int, default=5000)
    p.add_argument("--style", choices=("typical", "dense"), default="typical")
    p.add_argument(
        "--where",
        choices=("any", "body", "top", "line"),
        default="any",
        help="edit lines indented by 4 (class attributes and def lines too), only lines in "
        "function bodies, only top-level lines, or type a new top-level line and delete it",
    )
    p.add_argument(
        "--mode",
        choices=("push", "pull"),
        default="push",
        help="wait for publishDiagnostics, or pull (textDocument/diagnostic) after each change",
    )
    p.add_argument(
        "--server",
        choices=(*SERVERS, "both"),
        default="recode",
        help="recode-lsp, `ruff server` (NPY201), or both in this run",
    )
    p.add_argument("--files", type=int, default=200, help="open files for the memory run (0: skip)")
    p.add_argument("--file-lines", type=int, default=300)
    p.add_argument(
        "--stages", action="store_true", help="CPU per step of each edit, in process, no server"
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="start each server once (open, first diagnostics, stop) before the measured start:"
        " an editor reopening the project, with what the earlier start cached",
    )
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if "stages" in result:
        st = result["stages"]
        print(
            f"CPU per edit, in process ({st['style']}, {st['findings']} findings, "
            f"{st['fast_path']} of {args.edits} edits on the fast path):"
        )
        for name in ("reparse", "analysis", "json"):
            print(
                f"  {name:9s} p50 {st[name]['p50_ms']} ms   p95 {st[name]['p95_ms']} ms   "
                f"max {st[name]['max_ms']} ms"
            )
        return 0
    for lat in result["latency"]:
        how = "textDocument/diagnostic" if lat["mode"] == "pull" else "publishDiagnostics"
        print(
            f"{lat['server']}: didChange -> {how}, {lat['lines']}-line file ({lat['style']}, "
            f"{lat['findings']} findings), {lat['edits']} one-line edits ({lat['edited_lines']} "
            "lines):"
        )
        print(
            f"  p50 {lat['p50_ms']} ms   p95 {lat['p95_ms']} ms   max {lat['max_ms']} ms   "
            f"(first diagnostics after open: {lat['first_diagnostics_ms']} ms)"
        )
        if lat["server"] == "recode":
            print(f"  server-side analysis per run: {lat['server_analysis_ms']}")
            if lat["mode"] == "push":
                print(
                    "  server, didChange read -> publish written: "
                    f"{lat['server_change_to_publish_ms']}"
                )
                print(
                    f"  server CPU time in that interval: {lat['server_change_to_publish_cpu_ms']}"
                )
    if "memory" in result:
        mem = result["memory"]
        print(
            f"memory: {mem['files']} open files of {mem['lines_each']} lines "
            f"({mem['source_mb']} MB of source): RSS {mem['rss_before_mb']} MB -> "
            f"{mem['rss_after_mb']} MB ({mem['per_file_kb']} KB per file)"
        )
    print(
        f"load average {result['load_avg_1m_before']} -> {result['load_avg_1m_after']} "
        f"on {result['cpus']} CPUs, Python {result['python']}, {result['date']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
