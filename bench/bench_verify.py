"""Benchmark: ``recode-dataset verify`` over every record of the nine libraries.

The full run checks each record against the real releases before and at its version
(:mod:`recode.dataset.verify`), in verify's cached venvs. It is a benchmark, not a test: it needs
dozens of installed releases (about 11 GB under ``~/.cache/recode``) and tens of minutes; CI runs
the cached subset (``pytest tests/dataset/test_dataset_verify.py -m slow``).

For each library it runs ``python -m recode.training.dataset_tools verify LIB --format json``
(``--no-install`` by default: only releases already cached are probed, a missing one makes its
records "cannot check" with the reason; ``--install`` installs them, which for torch means a
multi-GB CUDA build per release) and reports records checked, agree, disagree and cannot check,
the cannot-check reasons grouped, and each disagreement with what was observed.

Usage: ``python bench/bench_verify.py [--libraries numpy ...] [--install] [--python python3.8]
[--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "torch",
    "jax",
    "scrapy",
)

#: why a record cannot be checked, from what its first unchecked main claim observed (checked
#: in this order; the first that matches names the group)
REASONS: tuple[tuple[str, str], ...] = (
    ("no environment", "no release installed (not cached, or no wheel for the Python given)"),
    ("no release of", "no release of the library at that version on the index"),
    ("needs running code", "a change of behaviour or meaning: needs running code"),
    ("needs a call", "a warning that needs real arguments"),
    ("operator or protocol", "an operator or protocol method: needs running code"),
    ("not a class attribute", "an attribute only instances have"),
    ("default is", "a default resolved at run time (a sentinel in both signatures)"),
    ("does not tell", "a call that does not tell (**kwargs, or refused in both releases)"),
    ("not called", "a keyword hidden by an opaque signature, not called"),
    ("the signature takes *args", "a signature that takes *args"),
    ("opaque", "an opaque signature"),
    ("probe of", "the probe of a release failed"),
    ("not callable", "a module or constant that does not warn on access (nothing to call)"),
)


def reason(observed: str) -> str:
    for needle, label in REASONS:
        if needle in observed:
            return label
    if re.search(r"ModuleNotFoundError|ImportError", observed):
        return "an optional dependency is not installed in the release's venv"
    return "other: " + observed[:80]


def run_library(library: str, install: bool, pythons: list[str]) -> tuple[dict[str, Any], float]:
    cmd = [sys.executable, "-m", "recode.training.dataset_tools", "verify", library]
    cmd += ["--format", "json"] + ([] if install else ["--no-install"])
    for python in pythons:
        cmd += ["--python", python]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"bench_verify: verify {library} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout), took


def summarize(library: str, data: dict[str, Any]) -> tuple[Counter[str], list[str]]:
    reasons: Counter[str] = Counter()
    disagreements = []
    for r in data["records"]:
        if r["outcome"] == "cannot check":
            main = [c for c in r["checks"] if c["main"] and c["outcome"] == "cannot check"]
            first = main[0] if main else next(c for c in r["checks"] if c["outcome"] != "agree")
            reasons[reason(first["observed"])] += 1
        elif r["outcome"] == "disagree":
            bad = next(c for c in r["checks"] if c["outcome"] == "disagree")
            disagreements.append(f"{r['id']}: {bad['claim']}: {bad['observed'][:160]}")
    return reasons, disagreements


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--libraries", nargs="*", default=list(LIBRARIES))
    p.add_argument("--install", action="store_true", help="install releases not cached yet")
    p.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PYTHON",
        help="an older interpreter for releases without a wheel for this one",
    )
    p.add_argument("--json", type=Path, help="write every record's outcome here")
    args = p.parse_args(argv)
    rows = [
        "| library | records | agree | disagree | cannot check | seconds |",
        "|---|---|---|---|---|---|",
    ]
    totals: Counter[str] = Counter()
    all_reasons: Counter[str] = Counter()
    all_disagreements: list[str] = []
    out: dict[str, Any] = {}
    for library in args.libraries:
        data, took = run_library(library, args.install, args.python)
        out[library] = data
        c = data["counts"]
        n = sum(c.values())
        totals.update(c)
        totals["records"] += n
        totals["seconds"] += round(took)
        rows.append(
            f"| {library} | {n} | {c['agree']} | {c['disagree']} | {c['cannot check']} | "
            f"{took:.0f} |"
        )
        reasons, disagreements = summarize(library, data)
        all_reasons.update(reasons)
        all_disagreements += disagreements
        print(f"bench_verify: {library} done in {took:.0f} s", file=sys.stderr)
    rows.append(
        f"| all | {totals['records']} | {totals['agree']} | {totals['disagree']} | "
        f"{totals['cannot check']} | {totals['seconds']} |"
    )
    print("\n".join(rows))
    print("\nCannot check, by reason:\n")
    for label, n in all_reasons.most_common():
        print(f"- {label}: {n}")
    print(f"\nDisagreements ({len(all_disagreements)}):\n")
    for line in all_disagreements:
        print(f"- {line}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
