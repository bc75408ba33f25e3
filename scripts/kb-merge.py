"""A git merge driver for the knowledge base's JSONL files: a three-way merge record by record.

git's line merge sees neighbouring records as one hunk, and its ``union`` driver keeps both
sides of a hunk, so a record that one branch edited beside another branch's edit came out
twice. This merges by ``id``: a record changed on one side takes that side's version; changed
on both sides to the same line, that line; changed on both sides differently, a conflict (the
merge fails and the file keeps both versions between git's markers). Order: ours, with the
records new on theirs after the record that precedes them there.

Set up once per clone (.gitattributes names the driver; without it git merges lines):

    git config merge.kb-records.name "knowledge-base records, by id"
    git config merge.kb-records.driver "python3 scripts/kb-merge.py %O %A %B"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _records(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in Path(path).read_text("utf-8").splitlines():
        if line.strip():
            out[json.loads(line)["id"]] = line
    return out


def merge(base: dict[str, str], ours: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """The merged lines; a conflict keeps both versions between git's markers."""
    order = list(ours)
    new = list(theirs)
    for i, rid in enumerate(new):
        if rid not in ours:
            before = next((new[j] for j in range(i - 1, -1, -1) if new[j] in order), None)
            order.insert(order.index(before) + 1 if before else len(order), rid)
    lines: list[str] = []
    for rid in order:
        b, o, t = base.get(rid), ours.get(rid), theirs.get(rid)
        if o == t or t == b:
            pick = o
        elif o == b:
            pick = t
        else:
            lines += ["<<<<<<< ours", o or "", "=======", t or "", ">>>>>>> theirs"]
            continue
        if pick is not None:
            lines.append(pick)
    return lines


def main(argv: list[str]) -> int:
    base_path, ours_path, theirs_path = argv[1:4]
    try:
        base, ours, theirs = (_records(p) for p in (base_path, ours_path, theirs_path))
    except (ValueError, KeyError) as exc:  # not one JSON record a line: let a person merge
        print(f"kb-merge: {exc}", file=sys.stderr)
        return 1
    lines = merge(base, ours, theirs)
    Path(ours_path).write_text("".join(line + "\n" for line in lines), "utf-8")
    return 1 if "<<<<<<< ours" in lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
