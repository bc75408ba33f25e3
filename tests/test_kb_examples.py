"""Every example in the shipped knowledge base is checked against the detector and the fixer.

For each record: the detector flags its example's old code (at the version the change took
effect) and not the new code; where the record has a mechanical fix, fixing the old code gives
exactly the new code.
"""

from __future__ import annotations

import pytest

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import fix_source, parses
from recode.server.severity import LibraryVersion

KB = load_knowledge_base()
CASES = [(r, i, ex) for r in KB.records for i, ex in enumerate(r.examples)]


def detector_for(record) -> Detector:
    version = record.effective_in or record.deprecated_in
    return Detector(KB, {record.library: LibraryVersion(version, "installed")})


def test_most_records_have_examples():
    with_examples = sum(1 for r in KB.records if r.examples)
    assert with_examples >= 0.8 * len(KB.records)


@pytest.mark.parametrize("record, index, example", CASES, ids=[f"{r.id}#{i}" for r, i, _ in CASES])
def test_example(record, index, example):
    old, new = example.old.encode(), example.new.encode()
    assert parses(old), "old code does not parse"
    assert parses(new), "new code does not parse"
    d = detector_for(record)
    assert record.id in {f.record.id for f in d.detect(old)}, "old code is not flagged"
    assert record.id not in {f.record.id for f in d.detect(new)}, "new code is still flagged"
    if record.fix is not None:
        fixes = (
            record.fix,
            record.fix.through_class,
            record.fix.instance_test,
            record.fix.assigned,
            *(keyed for _, keyed in record.fix.when_passed),
        )
        result = fix_source(old, d, unsafe=any(f is not None and not f.safe for f in fixes))
        assert record.id not in {f.record.id for f in result.remaining}, "the fix did not apply"
        assert result.source.decode() == example.new
