"""Benchmark: the cost of ``recode-migrate --write`` against ``--check`` on the same file.

The files are generated numpy and pandas code of 1k, 2k, 4k and 8k lines: functions each holding
several outdated calls that have mechanical fixes, through from-imports (``from numpy import
float_, product, cumproduct, trapz, in1d, zeros``: each import item is renamed with all its uses
in the file; ``in1d(x, m)`` and ``zeros(3).ptp()`` become templates spelled ``numpy.isin``,
``numpy.ptp``, for which ``import numpy`` is added), and one finding without a fix
(``df.append(x, ignore_index=True)``); and the same calls through ``import numpy as np``
(``np.float_``, ``np.zeros(3).ptp()`` -> ``np.ptp(...)``, ``np.msort`` -> ``np.sort(..., axis=0)``).

Both modes run as users run them, the CLI in a subprocess on a fresh copy of the file, with the
shipped knowledge base against ``--target numpy==2.4 --target pandas==2.0``. Each size is timed
``--runs`` times per mode, alternating, after one warm-up run of each; the figure is the ratio of
the medians of wall time, measured in the same run.

Usage: ``python bench/bench_write.py [--runs 3] [--sizes 1000,2000,4000,8000]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "recode.server.cli"]
TARGETS = ["--target", "numpy==2.4", "--target", "pandas==2.0", "--no-progress"]

HEAD = '''"""Generated for bench_write.py."""
import pandas as pd
from numpy import cumproduct, float_, in1d, product, trapz, zeros

'''

BLOCK = '''
def step_{i}(a, b, other):
    """Block {i}."""
    x = float_(a) + product(b)
    m = zeros(3).ptp() + cumproduct(a)
    area = trapz(b) + trapz([a, a])
    df = pd.DataFrame({{"a": [a]}})
    kept = df.append(other, ignore_index=True)
    return in1d(x, m), area, df, kept

'''


ALIAS_HEAD = '''"""Generated for bench_write.py."""
import numpy as np
import pandas as pd

'''

ALIAS_BLOCK = '''
def step_{i}(a, b, other):
    """Block {i}."""
    x = np.float_(a) + np.product(b)
    m = np.zeros(3).ptp() + np.cumproduct(a)
    area = np.trapz(b) + np.msort([a, a])
    df = pd.DataFrame({{"a": [a]}})
    kept = df.append(other, ignore_index=True)
    return np.in1d(x, m), area, df, kept

'''

#: style -> (head, block)
STYLES = {"from": (HEAD, BLOCK), "alias": (ALIAS_HEAD, ALIAS_BLOCK)}


def generate(lines: int, style: str = "from") -> str:
    head, template = STYLES[style]
    parts = [head]
    count = head.count("\n")
    i = 0
    while count < lines:
        block = template.format(i=i)
        parts.append(block)
        count += block.count("\n")
        i += 1
    return "".join(parts)


def timed(mode: str, source: Path, work: Path) -> float:
    target = work / source.name
    shutil.copyfile(source, target)
    start = time.perf_counter()
    done = subprocess.run([*CLI, mode, *TARGETS, str(target)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: findings remain
        sys.exit(f"recode-migrate {mode} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1000,2000,4000,8000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| style | lines | findings fixed | --check s | --write s | --write / --check |")
    print("|-------|------:|---------------:|----------:|----------:|------------------:|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for style, lines in [(style, lines) for style in STYLES for lines in sizes]:
            source = work / f"gen_{style}_{lines}.py"
            source.write_text(generate(lines, style))
            (work / "run").mkdir(exist_ok=True)
            fixed = _fixed_count(source, work / "run")
            times: dict[str, list[float]] = {"--check": [], "--write": []}
            for mode in times:
                timed(mode, source, work / "run")  # warm-up
            for _ in range(args.runs):
                for mode in times:
                    times[mode].append(timed(mode, source, work / "run"))
            check = statistics.median(times["--check"])
            write = statistics.median(times["--write"])
            print(
                f"| {style} | {lines} | {fixed} | {check:.2f} | {write:.2f} | "
                f"{write / check:.2f}x |",
                flush=True,
            )
    return 0


def _fixed_count(source: Path, work: Path) -> int:
    import json

    target = work / source.name
    shutil.copyfile(source, target)
    done = subprocess.run(
        [*CLI, "--write", "--format", "json", *TARGETS, str(target)],
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)["summary"]["fixed"]


if __name__ == "__main__":
    raise SystemExit(main())
