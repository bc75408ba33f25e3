"""Benchmark: how many of the tests that an upgrade breaks in real, published projects pass
again after ``recode-upgrade``, and after ruff's NumPy 2 fixes (the anchor).

Each project is an old release's sdist from PyPI (``pip download --no-deps --no-binary NAME``),
unpacked into ``bench/.cache/upgrade/`` (gitignored). Per project:

1. ``recode-upgrade DIR --to ... --from ... --format json``: the tests at the project's own-era
   versions (``--from``, the baseline), at today's (``--to``), and after the migration;
2. a copy with ``ruff check --select NPY201 --fix --unsafe-fixes`` applied, run by
   ``recode-upgrade`` again without a baseline: its tests at today's versions before recode's
   own migration are what ruff's fixes give.

Broken tests: passed at the baseline, failed at the target. Reported: broken, passing again
after recode-upgrade, and after ruff; the unknown breaks found. Environments are cached
(``~/.cache/recode/upgrade``), so a second run costs the test runs only.

With ``--unsafe-fixes``, a third run of ``recode-upgrade --unsafe-fixes`` (with the baseline) gives
another column: the tests passing again when the unsafe fixes are made too (the JSON keeps each
run's findings from the test runs: ``from_tests``, and ``from_tests_unsafe`` of this one).

Usage: ``python bench/bench_upgrade.py [--only NAME] [--unsafe-fixes] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from recode.dataset.knowledge import KnowledgeBase, load_knowledge_base

CACHE = Path(__file__).parent / ".cache" / "upgrade"
NOW = {
    "numpy": "2.4.6",
    "pandas": "3.1.1",
    "scipy": "1.17.1",
    "scikit-learn": "1.9.1",
    "matplotlib": "3.11.2",
}


@dataclass
class Project:
    name: str
    version: str
    own_era: dict[str, str]  # the baseline (--from)
    test: str
    extra: list[str] = field(default_factory=list)  # --with

    def to(self) -> list[str]:
        return [f"{lib}=={NOW[lib]}" for lib in self.own_era]


PROJECTS = [
    Project(
        "empyrical",
        "0.5.5",
        {"numpy": "1.26.4", "pandas": "1.5.3", "scipy": "1.11.4"},
        "pytest -q empyrical/tests",
        ["parameterized", "six"],
    ),
    Project(
        "PeakUtils",
        "1.3.3",
        {"numpy": "1.26.4", "scipy": "1.11.4"},
        "pytest -q tests",
        ["pandas==2.2.3"],
    ),
    Project(
        "numdifftools",
        "0.9.39",
        {"numpy": "1.24.4", "scipy": "1.10.1"},
        # addopts: --pep8 of a dead plugin; the modules that use removed APIs (the whole suite
        # ran past 600 s at the baseline on this shared machine)
        "pytest -q -o addopts= src/numdifftools/tests/test_extrapolation.py"
        " src/numdifftools/tests/test_fornberg.py src/numdifftools/tests/test_limits.py"
        " src/numdifftools/tests/test_example_functions.py",
    ),
    Project("quantities", "0.13.0", {"numpy": "1.26.4"}, "pytest -q quantities/tests"),
    Project(
        "seaborn",
        "0.12.2",
        {"numpy": "1.26.4", "pandas": "1.5.3", "scipy": "1.11.4", "matplotlib": "3.7.5"},
        # the modules that run in a minute here (the whole suite: over ten)
        "pytest -q tests/test_statistics.py tests/test_utils.py tests/test_palettes.py"
        " tests/test_rcmod.py tests/test_miscplot.py tests/test_algorithms.py"
        " tests/test_matrix.py tests/test_relational.py",
    ),
    Project(
        "mizani",
        "0.9.2",
        {"numpy": "1.26.4", "pandas": "2.0.3", "scipy": "1.11.4", "matplotlib": "3.7.5"},
        "pytest -q -o addopts= mizani/tests",  # addopts: --cov of a plugin not installed
    ),
    Project(
        "matplotlib-scalebar",
        "0.8.1",
        {"numpy": "1.26.4", "matplotlib": "3.7.5"},
        "pytest -q matplotlib_scalebar",
    ),
    Project(
        "MAPIE",
        "0.6.5",
        {"numpy": "1.26.4", "scipy": "1.11.4", "scikit-learn": "1.3.2", "pandas": "2.0.3"},
        # the modules without the long fits of the estimators' grids
        "pytest -q mapie/tests/test_metrics.py mapie/tests/test_utils.py"
        " mapie/tests/test_conformity_scores.py mapie/tests/test_subsample.py"
        " mapie/tests/test_aggregations_functions.py mapie/tests/test_calibration.py"
        " mapie/tests/test_multi_label_classification.py",
        ["typing_extensions"],  # the tests import it (and pandas), the package does not
    ),
    Project(
        "imbalanced-learn",
        "0.10.1",
        {"numpy": "1.26.4", "scipy": "1.11.4", "scikit-learn": "1.2.2"},
        "pytest -q imblearn/over_sampling imblearn/under_sampling imblearn/metrics",
    ),
    Project(
        "feature_engine",
        "1.6.2",
        {
            "numpy": "1.26.4",
            "pandas": "2.0.3",
            "scipy": "1.11.4",
            "scikit-learn": "1.3.2",
        },
        # the datetime, time-series, encoding and imputation modules (the whole suite ran
        # past 600 s at the baseline on this shared machine)
        "pytest -q tests/test_datetime tests/test_time_series tests/test_encoding"
        " tests/test_imputation",
    ),
]


def fetch(p: Project) -> Path:
    """The sdist, unpacked (once) under CACHE/NAME-VERSION/."""
    folder = CACHE / f"{p.name}-{p.version}"
    if folder.is_dir():
        return folder
    downloads = CACHE / "sdists"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = _sdist(downloads, p)
    if sdist is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            + ["--no-binary", p.name, f"{p.name}=={p.version}", "-d", str(downloads)],
            check=True,
        )
        sdist = _sdist(downloads, p)
    assert sdist is not None, f"pip downloaded no sdist of {p.name}=={p.version}"
    unpacked = CACHE / "unpack"
    shutil.rmtree(unpacked, ignore_errors=True)
    if sdist.suffix == ".zip":
        zipfile.ZipFile(sdist).extractall(unpacked)
    else:
        tarfile.open(sdist).extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    top.rename(folder)
    unpacked.rmdir()
    return folder


def _sdist(downloads: Path, p: Project) -> Path | None:
    """The sdist of ``p`` already downloaded (its file name spells the project's name with
    ``-`` or ``_``, in any case)."""
    stem = f"{p.name}-{p.version}".lower().replace("_", "-")
    return next(
        (f for f in downloads.iterdir() if f.name.lower().replace("_", "-").startswith(stem)),
        None,
    )


def upgrade(folder: Path, p: Project, baseline: bool, unsafe: bool = False) -> dict:
    argv = [sys.executable, "-m", "recode.server.upgrade.cli", str(folder), "--format", "json"]
    argv += ["--unsafe-fixes" if unsafe else "--no-unsafe-fixes"]
    argv += ["--test", p.test, "--test-timeout", "600"]
    for spec in p.to():
        argv += ["--to", spec]
    for lib, version in p.own_era.items() if baseline else ():
        argv += ["--from", f"{lib}=={version}"]
    for req in p.extra:
        argv += ["--with", req]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode == 2:
        raise RuntimeError(f"recode-upgrade failed on {folder.name}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def ruff_copy(folder: Path) -> Path:
    copy = folder.with_name(folder.name + "-ruff")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    subprocess.run(
        ["ruff", "check", "--isolated", "--select", "NPY201", "--fix", "--unsafe-fixes"]
        + ["--exit-zero", "--no-cache", "--quiet", str(copy)],
        check=True,
        capture_output=True,
    )
    return copy


def measure(p: Project, unsafe: bool = False) -> dict:
    folder = fetch(p)
    doc = upgrade(folder, p, baseline=True)
    broken = [r["id"] for r in doc["results"] if r["broken_by_upgrade"]]
    recode_ok = [r["id"] for r in doc["results"] if r["id"] in broken and r["migrated"] == "passed"]
    unsafe_ok, unsafe_doc = None, None
    if unsafe:
        # with the baseline too: the test-run evidence reads it (a private member a class of
        # the project lost is proven only by a test that passed there)
        unsafe_doc = upgrade(folder, p, baseline=True, unsafe=True)
        unsafe_ok = [
            r["id"]
            for r in unsafe_doc["results"]
            if r["id"] in broken and r["migrated"] == "passed"
        ]
    ruff_doc = upgrade(ruff_copy(folder), p, baseline=False)
    # what the migration broke: passing at the target versions, failing after it
    newly = [r["id"] for r in doc["results"] if r["verdict"] == "newly failing"]
    newly_unsafe = (
        None
        if unsafe_doc is None
        else [r["id"] for r in unsafe_doc["results"] if r["verdict"] == "newly failing"]
    )
    ruff_ok = [
        r["id"] for r in ruff_doc["results"] if r["id"] in broken and r["target"] == "passed"
    ]
    return {
        "project": f"{p.name}=={p.version}",
        "own_era": p.own_era,
        "to": p.to(),
        "tests": len(doc["results"]),
        "baseline": doc["runs"]["baseline"]["counts"],
        "broken": len(broken),
        "recode_upgrade": len(recode_ok),
        "recode_upgrade_unsafe": None if unsafe_ok is None else len(unsafe_ok),
        "ruff": len(ruff_ok),
        "newly_failing": newly,
        "newly_failing_unsafe": newly_unsafe,
        "still_broken": sorted(set(broken) - set(recode_ok)),
        # the blockers: each cause of broken tests, its error, its record and whether the record
        # has an exact fix
        "causes": [
            {
                "label": g["label"],
                "error": g["cause"]["error"][:200],
                "record": g["cause"]["record"],
                "fix": _has_fix(g["cause"]["record"]),
                "tests": {k: len(v) for k, v in g["tests"].items()},
                "broken": len([t for v in g["tests"].values() for t in v if t in broken]),
                # a failing test's cause at the target versions, where it fails now for another
                "before": {k: len(v) for k, v in g.get("before", {}).items()},
            }
            for g in doc["causes"]
        ],
        "unknown_breaks": doc["unknown_breaks"],
        "from_tests": doc.get("from_tests", []),  # findings the tracebacks proved
        # the --unsafe-fixes run's own: an unsafe fix refused above is made there
        "from_tests_unsafe": None if unsafe_doc is None else unsafe_doc.get("from_tests", []),
    }


def _has_fix(record_id: str | None) -> bool | None:
    """Whether the knowledge-base record has an exact fix (None: no record)."""
    if record_id is None:
        return None
    return any(r.fix is not None for r in _kb().records if r.id == record_id)


@functools.cache
def _kb() -> KnowledgeBase:
    return load_knowledge_base()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="one project by name")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="also run recode-upgrade --unsafe-fixes (another column)",
    )
    args = ap.parse_args()
    rows = []
    for p in PROJECTS:
        if args.only and p.name != args.only:
            continue
        print(f"{p.name}=={p.version} ...", file=sys.stderr, flush=True)
        try:
            rows.append(measure(p, args.unsafe_fixes))
        except (RuntimeError, subprocess.CalledProcessError, json.JSONDecodeError) as exc:
            rows.append({"project": f"{p.name}=={p.version}", "error": str(exc)[-2000:]})
    unsafe = " with --unsafe-fixes |" if args.unsafe_fixes else ""
    print(
        f"| project | tests | broken by the upgrade | pass after recode-upgrade |{unsafe}"
        " after ruff |"
    )
    print("|---|---|---|---|---|" + ("---|" if unsafe else ""))
    total = {"broken": 0, "recode_upgrade": 0, "recode_upgrade_unsafe": 0, "ruff": 0}
    for r in rows:
        if "error" in r:
            print(f"| {r['project']} | error: {r['error'].splitlines()[-1][:80]} | | | |")
            continue
        for key in total:
            total[key] += r[key] or 0
        cells = [r["project"], r["tests"], r["broken"], r["recode_upgrade"]]
        cells += [r["recode_upgrade_unsafe"]] if unsafe else []
        print("| " + " | ".join(str(c) for c in [*cells, r["ruff"]]) + " |")
    sums = [total["broken"], total["recode_upgrade"]]
    sums += [total["recode_upgrade_unsafe"]] if unsafe else []
    print("| total | | " + " | ".join(str(c) for c in [*sums, total["ruff"]]) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
