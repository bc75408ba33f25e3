"""A reference template rewrites reads only: where the reference is written (assigned, deleted,
a loop's or a ``with``'s target) it is left to a person with the reason, and the file's other
fixes are still made. Before, ``m.A = x`` became ``m.toarray() = x``, which does not parse, so
``--write`` refused every fix of the file while ``--check`` called the finding fixable."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

FIX_KB = Path(__file__).parent / "data" / "fix_kb" / "templates.jsonl"
HEAD = "from scipy import sparse\nm = sparse.csr_matrix(a)\n"


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base([FIX_KB])
    assert not kb.problems
    return Detector(kb, {"scipy": LibraryVersion(Version("1.14"), "installed")})


@pytest.mark.parametrize(
    "written",
    [
        "m.A = b\n",
        "m.A += b\n",
        "x, m.A = b\n",
        "(m.A) = b\n",
        "[x, *m.A] = b\n",
        "x = m.A = b\n",
        "del m.A\n",
        "for m.A in b:\n    pass\n",
        "with b as m.A:\n    pass\n",
        "y = [0 for m.A in b]\n",
    ],
)
def test_a_written_reference_is_left_and_the_reads_are_fixed(detector, written):
    code = HEAD + written + "print(m.A)\n"
    result = fix_source(code.encode(), detector)
    assert result.error is None
    assert result.source.decode() == HEAD + written + "print(m.toarray())\n"
    left = [f for f in result.remaining if f.record.id == "sp-A"]
    assert len(left) == 1
    assert "assigned or deleted here" in (left[0].fix_unavailable or "")


@pytest.mark.parametrize(
    "read",
    [
        "b = m.A\n",
        "b = [m.A]\n",
        "b, c = m.A, 1\n",
        "b[m.A] = 1\n",
        "m.A.x = 1\n",
        "f(m.A)[0] = 1\n",
    ],
)
def test_a_reference_read_in_an_assignment_is_fixed(detector, read):
    result = fix_source((HEAD + read).encode(), detector)
    assert result.error is None
    assert "m.A" not in result.source.decode()
