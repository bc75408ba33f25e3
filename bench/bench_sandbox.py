"""Benchmark: what the seccomp filter costs a sandboxed run (issue 20 item 8).

Each program runs ``--runs`` times under ``SandboxLimits()`` (the filter, the default) and under
``SandboxLimits(seccomp=False, require_isolation=False)`` (everything else the same: namespaces,
private root, uid switch, audit hook), alternating, after one warm-up run of each. The figure is
the ratio of the medians of wall time per run (``SandboxResult.duration_s``), measured in the
same run. Two programs: ``pass`` (the per-run cost: building the filter and loading it) and a
loop of 200,000 ``os.getppid()`` calls (the per-syscall cost: every call goes through the
filter's compares).

Usage: ``python bench/bench_sandbox.py [--runs 20]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from recode.training.sandbox import SandboxLimits, detect_support, run_python

PROGRAMS = {
    "trivial (pass)": "pass\n",
    "200k getppid": "import os\nfor _ in range(200_000):\n    os.getppid()\n",
}


def _time(code: str, limits: SandboxLimits) -> float:
    result = run_python(code, limits)
    if not result.ok:
        raise SystemExit(f"run failed: {result.status}: {result.stderr[-500:]}")
    return result.duration_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    support = detect_support(sys.executable)
    print(f"root={support.root} private_root={support.private_root} python={sys.executable}")
    with_filter = SandboxLimits()
    without = SandboxLimits(seccomp=False, require_isolation=False)
    print("| program | runs | without filter ms | with filter ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, code in PROGRAMS.items():
        _time(code, with_filter)
        _time(code, without)
        on, off = [], []
        for _ in range(args.runs):
            off.append(_time(code, without))
            on.append(_time(code, with_filter))
        m_on, m_off = statistics.median(on), statistics.median(off)
        print(
            f"| {name} | {args.runs} | {m_off * 1000:.1f} | {m_on * 1000:.1f} | "
            f"{m_on / m_off:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
