"""Where recode's time goes on the bench_ruff corpus, stage by stage, and whether the byte
prefilter is sound there.

For every file of the corpus that ``bench/bench_ruff.py`` unpacked, in one process, CPU time of:

- reading the file;
- the detector's byte prefilter (``recode.server.prefilter``), which decides before any parse
  whether a finding is possible;
- a tree-sitter parse and ``Detector.detect`` of each file the prefilter keeps.

Then, as a check, the full detector without the prefilter on every file: the prefilter must not
drop a file on which it reports something (exit 1 if it does). It prints how many files each
stage keeps, the CPU seconds of each, and why the kept files were kept.

Run after bench_ruff.py has fetched the corpus: ``python bench/bench_ruff_prefilter.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
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
    cpu = dict.fromkeys(("read", "prefilter", "parse", "detect"), 0.0)
    count = Counter(files=len(files))
    reasons: Counter[str] = Counter()
    sources: list[tuple[Path, bytes, bool]] = []
    findings = 0
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
        reasons[why.split(":")[0]] += 1
        t = clock()
        tree = parse(source)
        cpu["parse"] += clock() - t
        t = clock()
        found = detector.detect(source, tree, prefilter=False)
        cpu["detect"] += clock() - t
        count["with findings"] += bool(found)
        findings += len(found)
    print(
        f"numpy records {len(kb.records)}, active at {args.target}: {len(detector.active)} "
        f"names, {sum(len(v) for v in detector.params.values())} keywords"
    )
    print("files: " + ", ".join(f"{k} {v}" for k, v in count.items()) + f"; findings {findings}")
    print("CPU s: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print(f"total {sum(cpu.values()):.2f} s")
    print("kept because: " + "; ".join(f"{k} {v}" for k, v in reasons.most_common()))
    if args.no_check:
        return 0
    dropped_with_findings = [
        str(path.relative_to(args.corpus))
        for path, source, kept in sources
        if not kept and detector.detect(source, prefilter=False)
    ]
    print(f"files with findings the prefilter dropped: {len(dropped_with_findings)}")
    for rel in dropped_with_findings:
        print(f"  {rel}")
    return 1 if dropped_with_findings else 0


if __name__ == "__main__":
    sys.exit(main())
