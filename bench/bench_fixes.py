"""Benchmark: how much of the knowledge base has an exact fix, how many findings on real code it
fixes, and whether each fix is proven by execution (issue 14).

1. Records with a fix: the share of records whose ``fix`` is set, by library and in all, and the
   share of those that are unsafe.
2. Findings fixable on a real-code corpus at today's releases: every ``.py`` file under
   ``--corpus`` (default: bench_ruff.py's six-package corpus, ``bench/.cache/ruff/src``; fetch
   it with ``python bench/bench_ruff.py`` first) is scanned with each library at its newest
   release the knowledge base knows (the newest cached environment, else the newest version a
   record names). A finding is fixable when its record's fix can be made there (safe, and safe
   or unsafe). The reference, measured in the same run: the knowledge base of ``--baseline``
   (a git revision; default: where this branch left ``main``), with this code.
3. Proofs: every example of every record with a fix, where cached environments exist before
   and after the change, runs old under the release before and fixed under today's release
   (:mod:`recode.training.fix_proofs`); counted by outcome, with each failure listed.

Usage: ``python bench/bench_fixes.py [--corpus DIR] [--baseline REV] [--no-proofs]
[--only ID_GLOB ...] [--json OUT]``. Environments are never created here: only those in the
dataset builder's cache (``~/.cache/recode/venvs``) are used.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from packaging.version import Version

from recode.dataset.build import default_cache_dir
from recode.dataset.knowledge import KnowledgeBase, load_knowledge_base
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion
from recode.training.fix_proofs import Outcome, cached_releases, prove

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "bench" / ".cache" / "ruff" / "src"


def coverage(kb: KnowledgeBase) -> dict:
    by_library: dict[str, list[int]] = {}
    for r in kb.records:
        counts = by_library.setdefault(r.library, [0, 0, 0])
        counts[0] += 1
        counts[1] += r.fix is not None
        counts[2] += r.fix is not None and not r.fix.safe
    total = [sum(c[i] for c in by_library.values()) for i in range(3)]
    return {
        "records": total[0],
        "with_fix": total[1],
        "unsafe": total[2],
        "by_library": {
            lib: dict(zip(("records", "with_fix", "unsafe"), c, strict=True))
            for lib, c in sorted(by_library.items())
        },
    }


def today(kb: KnowledgeBase, pool_root: Path) -> dict[str, LibraryVersion]:
    """Each library at its newest cached release, else the newest version a record names."""
    versions: dict[str, Version] = {}
    for r in kb.records:
        v = r.effective_in or r.deprecated_in
        if v is not None and v > versions.get(r.library, Version("0")):
            versions[r.library] = v
    for lib in list(versions):
        cached = cached_releases(pool_root, lib)
        if cached:
            versions[lib] = max(cached[-1], versions[lib])
    return {lib: LibraryVersion(v, "target") for lib, v in versions.items()}


def corpus_findings(kb: KnowledgeBase, files: list[Path], versions) -> dict:
    detector = Detector(kb, versions)
    counts: Counter[str] = Counter()
    unfixed: Counter[str] = Counter()
    start = time.perf_counter()
    for path in files:
        try:
            source = path.read_bytes()
        except OSError:
            continue
        for f in detector.detect(source):
            if f.confidence != "high":
                continue
            counts["findings"] += 1
            if f.fixable:
                counts["fixable"] += 1
                counts["fixable_safe"] += f.applies(unsafe=False)
            else:
                unfixed[f.record.id] += 1
    return {
        "files": len(files),
        "findings": counts["findings"],
        "fixable": counts["fixable"],
        "fixable_safe": counts["fixable_safe"],
        "seconds": round(time.perf_counter() - start, 1),
        "top_unfixed": unfixed.most_common(15),
    }


def kb_at(revision: str, into: Path) -> Path:
    """The shipped knowledge base as it is at a git revision, written under ``into``."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, "dataset/kb/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in names:
        if name.endswith(".jsonl"):
            data = subprocess.run(
                ["git", "show", f"{revision}:{name}"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            (into / Path(name).name).write_bytes(data)
    return into


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument(
        "--baseline",
        help="git revision of the reference KB (default: the fork point of HEAD from main)",
    )
    p.add_argument("--no-proofs", action="store_true")
    p.add_argument("--only", nargs="+", metavar="GLOB", help="prove only these record ids")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if args.baseline is None:
        args.baseline = subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()[:12]
    pool_root = default_cache_dir() / "venvs"
    kb = load_knowledge_base()
    report: dict = {"coverage": coverage(kb)}
    with tempfile.TemporaryDirectory() as tmp:
        base_kb = load_knowledge_base([kb_at(args.baseline, Path(tmp))])
    report["baseline_coverage"] = coverage(base_kb)
    c, b = report["coverage"], report["baseline_coverage"]
    print(
        f"records with a fix: {c['with_fix']}/{c['records']} = {pct(c['with_fix'], c['records'])}"
        f" ({c['unsafe']} unsafe); {args.baseline}: {b['with_fix']}/{b['records']} = "
        f"{pct(b['with_fix'], b['records'])}"
    )
    files = sorted(args.corpus.rglob("*.py")) if args.corpus.is_dir() else []
    if files:
        versions = today(kb, pool_root)
        report["today"] = {lib: str(v.version) for lib, v in sorted(versions.items())}
        for name, which in (("corpus", kb), ("baseline_corpus", base_kb)):
            report[name] = r = corpus_findings(which, files, versions)
            print(
                f"{name}: {r['files']} files, {r['findings']} findings, fixable "
                f"{pct(r['fixable'], r['findings'])} "
                f"(safe only {pct(r['fixable_safe'], r['findings'])}) in {r['seconds']} s"
            )
        print("most frequent unfixed:", report["corpus"]["top_unfixed"])
    else:
        print(f"no corpus at {args.corpus}: skipped the findings measure", file=sys.stderr)
    if not args.no_proofs:
        proofs = [
            pr
            for r in kb.records
            if r.fix is not None
            and r.examples
            and (not args.only or any(fnmatch.fnmatchcase(r.id, g) for g in args.only))
            for pr in prove(r, kb, pool_root)
        ]
        outcomes = Counter(pr.outcome for pr in proofs)
        report["proofs"] = {o.value: outcomes[o] for o in Outcome}
        report["proof_failures"] = [
            {
                "record": pr.record,
                "example": pr.example,
                "outcome": pr.outcome.value,
                "before": pr.before,
                "after": pr.after,
                "detail": pr.detail[:500],
            }
            for pr in proofs
            if pr.outcome not in (Outcome.SAME, Outcome.DRIFT, Outcome.NO_RELEASE)
        ]
        tried = len(proofs) - outcomes[Outcome.NO_RELEASE]
        print(
            f"proofs: {outcomes[Outcome.SAME]}/{tried} examples show the same "
            f"({outcomes[Outcome.NO_RELEASE]} of {len(proofs)} have no cached release pair)"
        )
        for o in Outcome:
            print(f"  {o.value}: {outcomes[o]}")
        for f in report["proof_failures"]:
            print(
                f"  {f['record']}#{f['example']} {f['outcome']} ({f['before']} -> {f['after']}):"
                f" {f['detail'][:200]!r}"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
