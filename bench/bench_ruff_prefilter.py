"""Where recode's time goes on the bench_ruff corpus, stage by stage, and whether the byte
prefilter is sound there.

For every file of the corpus that ``bench/bench_ruff.py`` unpacked, in one process, CPU time of:

- reading the file;
- the detector's byte prefilter (``recode.server.prefilter``), which decides before any parse
  whether a finding is possible;
- the detector on each file the prefilter keeps, as the CLI runs it: the outline of the file
  and a parse of only the statements it reads (``recode.server.sparse``), then the analysis,
  and of that the fixes (``fixes.edits_for``: for some, Python's scopes of the file);
- whether Python parses each file with a fixable finding (``fixes.parses``, which
  ``recode-migrate`` asks before it promises a fix);
  and, for comparison, a parse of the whole file and the analysis of that tree.

Then, as checks, the findings of the two ways are compared on every kept file, and the full
detector runs without any shortcut on every file the prefilter drops: it must find nothing
there (exit 1 otherwise). It prints how many files each stage keeps, the CPU seconds of each,
how much of the kept files was parsed, and why the kept files were kept.

Run after bench_ruff.py has fetched the corpus: ``python bench/bench_ruff_prefilter.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from packaging.version import Version

import recode.server.detector as detector_module
from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import parses
from recode.server.parsing import parse
from recode.server.severity import LibraryVersion

CORPUS = Path(__file__).resolve().parent / ".cache" / "ruff" / "src"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--target", default="2.0.0", help="numpy version to check against")
    p.add_argument("--no-check", action="store_true", help="skip the unfiltered soundness pass")
    args = p.parse_args(argv)
    files = sorted(args.corpus.rglob("*.py"))
    if not files:
        print(f"no files under {args.corpus}: run bench/bench_ruff.py first", file=sys.stderr)
        return 2
    kb = load_knowledge_base(None).restricted(["numpy"])
    version = LibraryVersion(Version(args.target), "target")
    detector = Detector(kb, {"numpy": version})  # the CLI's default severity (hint)
    clock = time.process_time
    cpu = dict.fromkeys(
        ("read", "prefilter", "detect", "of which fixes", "verdict", "whole parse", "whole detect"),
        0.0,
    )
    count = Counter(files=len(files))
    reasons: Counter[str] = Counter()
    sources: list[tuple[Path, bytes, bool]] = []
    findings = 0
    parsed = Counter()
    real_parse_ranges = detector_module.sparse.parse_ranges

    def counting(source: bytes, ranges: list[tuple[int, int]]):
        parsed["partial parses"] += 1
        parsed["bytes parsed in part"] += sum(b - a for a, b in ranges)
        return real_parse_ranges(source, ranges)

    detector_module.sparse.parse_ranges = counting
    real_edits_for = detector_module.fixes.edits_for

    def timed_edits_for(*args, **kwargs):
        t = clock()
        try:
            return real_edits_for(*args, **kwargs)
        finally:
            cpu["of which fixes"] += clock() - t

    detector_module.fixes.edits_for = timed_edits_for
    differ: list[str] = []
    for path in files:
        t = clock()
        source = path.read_bytes()
        cpu["read"] += clock() - t
        t = clock()
        why = detector.prefilter.why(source)
        cpu["prefilter"] += clock() - t
        sources.append((path, source, why is not None))
        if why is None:
            continue
        count["kept"] += 1
        parsed["bytes kept"] += len(source)
        reasons[why.split(":")[0]] += 1
        t = clock()
        found = detector.detect_kept(source)
        cpu["detect"] += clock() - t
        if any(f.fixable for f in found):  # as recode-migrate asks, once per such file
            t = clock()
            parses(source, as_file=True)
            cpu["verdict"] += clock() - t
        fixes_then = cpu["of which fixes"]
        t = clock()
        tree = parse(source)
        cpu["whole parse"] += clock() - t
        t = clock()
        whole = detector.detect(source, tree, prefilter=False)
        cpu["whole detect"] += clock() - t
        cpu["of which fixes"] = fixes_then  # only the CLI's way is counted
        if [(f.record.id, f.start_byte, f.edits) for f in found] != [
            (f.record.id, f.start_byte, f.edits) for f in whole
        ]:
            differ.append(str(path.relative_to(args.corpus)))
        count["with findings"] += bool(found)
        findings += len(found)
    detector_module.sparse.parse_ranges = real_parse_ranges
    detector_module.fixes.edits_for = real_edits_for
    print(
        f"numpy records {len(kb.records)}, active at {args.target}: {len(detector.active)} "
        f"names, {sum(len(v) for v in detector.params.values())} keywords"
    )
    print("files: " + ", ".join(f"{k} {v}" for k, v in count.items()) + f"; findings {findings}")
    print("CPU s: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    shared = cpu["read"] + cpu["prefilter"] + cpu["verdict"]
    print(
        f"as the CLI runs (read, prefilter, detect, verdict): {shared + cpu['detect']:.2f} s; "
        f"with whole-file parses instead: "
        f"{shared + cpu['whole parse'] + cpu['whole detect']:.2f} s"
    )
    print(
        f"parsed in part: {parsed['partial parses']} parses, "
        f"{parsed['bytes parsed in part'] / 1e6:.2f} MB of the {parsed['bytes kept'] / 1e6:.2f} MB "
        f"of the kept files"
    )
    print(f"kept files whose findings differ between the two ways: {len(differ)}")
    for rel in differ:
        print(f"  {rel}")
    print("kept because: " + "; ".join(f"{k} {v}" for k, v in reasons.most_common()))
    if args.no_check:
        return 1 if differ else 0
    dropped_with_findings = [
        str(path.relative_to(args.corpus))
        for path, source, kept in sources
        if not kept and detector.detect(source, prefilter=False)
    ]
    print(f"files with findings the prefilter dropped: {len(dropped_with_findings)}")
    for rel in dropped_with_findings:
        print(f"  {rel}")
    return 1 if dropped_with_findings or differ else 0


if __name__ == "__main__":
    sys.exit(main())
