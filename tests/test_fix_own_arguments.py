"""A template that keeps its record's call and wraps an argument (``np.unique(np.ravel(a),
return_inverse=True)``) is not flagged in its own output, so the fix is made once; a call that
passes a keyword of the record's ``unless_passed`` is not flagged at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

NUMPY_KB = Path(__file__).parents[1] / "dataset" / "kb" / "numpy.jsonl"
RECORD = "numpy-2.0-unique-return_inverse"


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base([NUMPY_KB])
    assert not kb.problems
    return Detector(kb, {"numpy": LibraryVersion(Version("2.4.6"), "installed")})


def test_the_fix_is_made_once(detector):
    code = (
        "import numpy as np\nu, inv = np.unique(a[:, 0], return_inverse=True, return_counts=True)\n"
    )
    result = fix_source(code.encode(), detector, unsafe=True)
    assert result.source.decode() == (
        "import numpy as np\n"
        "u, inv = np.unique(np.ravel(a[:, 0]), return_inverse=True, return_counts=True)\n"
    )
    assert RECORD not in {f.record.id for f in result.remaining}


@pytest.mark.parametrize(
    "code, flagged",
    [
        ("import numpy as np\nnp.unique(np.ravel(a), return_inverse=True)\n", False),
        ("import numpy as np\nnp.unique(a, return_inverse=True)\n", True),
        ("import numpy as np\nnp.unique(np.asarray(a), return_inverse=True)\n", True),
    ],
)
def test_only_the_fix_own_output_is_left_unflagged(detector, code, flagged):
    found = {f.record.id for f in detector.detect(code.encode())}
    assert (RECORD in found) is flagged


@pytest.mark.parametrize("axis", ["0", "-1", "ax"])
def test_a_call_with_an_axis_is_not_flagged(detector, axis):
    """regression: the inverse of a call with an axis is 1-D again from numpy 2.0.1 (checked on
    1.26.4 and 2.4.6): the record flagged a change such a call does not have."""
    code = f"import numpy as np\nnp.unique(a, return_inverse=True, axis={axis})\n"
    assert RECORD not in {f.record.id for f in detector.detect(code.encode())}


def test_an_axis_of_none_is_left_to_a_person(detector):
    code = "import numpy as np\nnp.unique(a, return_inverse=True, axis=None)\n"
    (finding,) = [f for f in detector.detect(code.encode()) if f.record.id == RECORD]
    assert finding.edits is None
    assert "no place for the argument `axis`" in (finding.fix_unavailable or "")


@pytest.mark.parametrize(
    "extra",
    [
        {"symbol": "numpy.unique", "unless_passed": ["axis"]},  # not a callable(param) record
        {"unless_passed": "axis"},
        {"unless_passed": ["not a name"]},
    ],
)
def test_unless_passed_is_checked_on_load(extra):
    raw = {
        "id": "x-1",
        "library": "numpy",
        "symbol": "numpy.unique(return_inverse)",
        "kind": "behavior",
        "changed_in": "2.0.0",
        "note": "test record",
        "source": {"url": "https://example.org/notes", "version": "2.0.0"},
        **extra,
    }
    with pytest.raises(RecordError, match="unless_passed"):
        parse_record(raw)
