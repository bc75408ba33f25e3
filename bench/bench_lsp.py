"""Benchmark of recode-lsp: edit-to-diagnostics latency and memory with many open files.

1. Latency: a 5,000-line module is opened; then, 200 times, one indented line is edited (an
   incremental ``didChange`` typing a space at its end, then deleting it again) and the time
   receiving the ``publishDiagnostics`` of that version is measured on the client side (so it
   includes JSON-RPC both ways, the incremental re-parse and the detector). The debounce is set
   to 0 (initializationOption ``debounceMs``), so no waiting is counted. The server's own
   detector time per run is read back with the ``recode.serverStats`` command.
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
                              [--where any|body] [--stages] [--json]
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
from pygls.lsp.client import LanguageClient

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


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("bench-lsp", "1")
        self.arrivals: dict[tuple[str, int | None], float] = {}
        self.counts: dict[str, int] = {}
        self.event = asyncio.Event()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            self.arrivals[(params.uri, params.version)] = time.perf_counter()
            self.counts[params.uri] = len(params.diagnostics)
            self.event.set()

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(params: types.LogMessageParams) -> None:
            pass

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(params: types.ShowMessageParams) -> None:
            print(f"server says: {params.message}", file=sys.stderr)

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


def edits(lines: list[str], count: int, where: str) -> list[types.TextDocumentContentChangePartial]:
    """One-line edits spread over the file: at the end of every Nth indented line, alternately
    typing a space and deleting it again (every version changes the text)."""
    indent = "        " if where == "body" else "    "
    candidates = [n for n, line in enumerate(lines) if line.startswith(indent)]
    step = max(1, len(candidates) // count)
    out = []
    for k in range(count):
        if k % 2 == 0:
            row = candidates[(k * step) % len(candidates)]
            at = types.Position(row, len(lines[row]))
            out.append(types.TextDocumentContentChangePartial(range=types.Range(at, at), text=" "))
        else:
            row = candidates[((k - 1) * step) % len(candidates)]
            col = len(lines[row])
            out.append(
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(row, col), types.Position(row, col + 1)),
                    text="",
                )
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
    for k, change in enumerate(edits(text.splitlines(), args.edits, args.where)):
        t0 = time.process_time()
        doc.apply([change], k + 2)
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


async def start(folder: Path, python: str, kb: list[str]) -> tuple[Client, int]:
    client = Client()
    await client.start_io(sys.executable, "-m", "recode.server.lsp")
    pid = client._server.pid  # type: ignore[union-attr]
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=False)
            ),
            initialization_options={
                "python": python,
                "knowledgeBase": kb,
                "debounceMs": 0,
                "pollSeconds": 0,
            },
            workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)],
            root_uri=folder.as_uri(),
        )
    )
    client.initialized(types.InitializedParams())
    return client, pid


def did_open(client: Client, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    return uri


async def latency(args: argparse.Namespace, folder: Path, python: str, kb: list[str]) -> dict:
    text = module(args.lines, args.style)
    lines = text.splitlines()
    path = folder / "big.py"
    path.write_text(text)
    client, pid = await start(folder, python, kb)
    try:
        uri = did_open(client, path, text)
        t0 = time.perf_counter()
        await client.wait_published(uri, 1)
        first = time.perf_counter() - t0
        findings = client.counts[uri]
        samples: list[float] = []
        for k, change in enumerate(edits(lines, args.edits, args.where)):
            version = k + 2
            sent = time.perf_counter()
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[change],
                )
            )
            got = await client.wait_published(uri, version)
            samples.append((got - sent) * 1000)
        stats = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.serverStats")
        )
        return {
            "lines": len(lines),
            "bytes": len(text.encode()),
            "style": args.style,
            "edited_lines": args.where,
            "findings": findings,
            "first_diagnostics_ms": round(first * 1000, 1),
            "edits": len(samples),
            "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(percentile(samples, 0.95), 2),
            "max_ms": round(max(samples), 2),
            "mean_ms": round(statistics.fmean(samples), 2),
            "server_analysis_ms": stats.get("analysis_ms"),
            "server_change_to_publish_ms": stats.get("change_to_publish_ms"),
            "server_change_to_publish_cpu_ms": stats.get("change_to_publish_cpu_ms"),
            "server_pid_rss_mb": round(rss(pid) / 2**20, 1),
        }
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


async def memory(args: argparse.Namespace, folder: Path, python: str, kb: list[str]) -> dict:
    many = folder / "many"
    many.mkdir()
    client, pid = await start(folder, python, kb)
    try:
        # a first file builds the folder's environment: measure after that
        warm = did_open(client, many / "warm.py", module(50, "typical"))
        await client.wait_published(warm, 1)
        base = rss(pid)
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
        after = rss(pid)
        return {
            "files": args.files,
            "lines_each": args.file_lines,
            "source_mb": round(total_bytes / 2**20, 2),
            "rss_before_mb": round(base / 2**20, 1),
            "rss_after_mb": round(after / 2**20, 1),
            "per_file_kb": round((after - base) / args.files / 1024, 1),
        }
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-lsp-"))
    try:
        python = fake_env(tmp / "venv")
        kb = [str(ROOT / "dataset" / "kb"), str(TEST_KB)]
        project = tmp / "project"
        project.mkdir()
        result: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m_before": round(os.getloadavg()[0], 2),
        }
        if args.stages:
            result["stages"] = stages(args, project, python, kb)
            return result
        result["latency"] = await latency(args, project, python, kb)
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
        choices=("any", "body"),
        default="any",
        help="edit any indented line (class attributes too) or only lines in method bodies",
    )
    p.add_argument("--files", type=int, default=200, help="open files for the memory run (0: skip)")
    p.add_argument("--file-lines", type=int, default=300)
    p.add_argument(
        "--stages", action="store_true", help="CPU per step of each edit, in process, no server"
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
    lat = result["latency"]
    print(
        f"didChange -> publishDiagnostics, {lat['lines']}-line file ({lat['style']}, "
        f"{lat['findings']} findings), {lat['edits']} one-line edits ({lat['edited_lines']} "
        "indented lines), debounce 0:"
    )
    print(
        f"  p50 {lat['p50_ms']} ms   p95 {lat['p95_ms']} ms   max {lat['max_ms']} ms   "
        f"(first diagnostics after open: {lat['first_diagnostics_ms']} ms)"
    )
    print(f"  server-side analysis per run: {lat['server_analysis_ms']}")
    print(f"  server, didChange read -> publish written: {lat['server_change_to_publish_ms']}")
    print(f"  server CPU time in that interval: {lat['server_change_to_publish_cpu_ms']}")
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
