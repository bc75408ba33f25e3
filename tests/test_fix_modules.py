"""Renamed modules (issue 14): the import line rewritten exactly, where the module's names live on
in the new one (``fix.names`` lists them where only some do), its uses with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

MODULES_KB = Path(__file__).parent / "data" / "fix_kb" / "modules.jsonl"


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base([MODULES_KB])
    assert not kb.problems
    return Detector(kb, {"scipy": LibraryVersion(Version("1.9.0"), "installed")})


def fix(detector: Detector, code: str) -> tuple[str, dict[str, set[str | None]]]:
    """The fixed code, and the reasons the findings left of each record are not fixed."""
    result = fix_source(code.encode(), detector)
    assert result.error is None
    left: dict[str, set[str | None]] = {}
    for f in result.remaining:
        left.setdefault(f.record.id, set()).add(f.fix_unavailable)
    return result.source.decode(), left


@pytest.mark.parametrize(
    "before, after",
    [
        # the module's name alone changes: aliases, other names, comments, parentheses kept
        (
            "from scipy.ndimage.filters import gaussian_filter  # blur\n",
            "from scipy.ndimage import gaussian_filter  # blur\n",
        ),
        (
            "from scipy.ndimage.filters import gaussian_filter, median_filter as mf  # c\n",
            "from scipy.ndimage import gaussian_filter, median_filter as mf  # c\n",
        ),
        (
            "from scipy.ndimage.filters import (\n    gaussian_filter,  # a\n    uniform_filter,\n)\n",
            "from scipy.ndimage import (\n    gaussian_filter,  # a\n    uniform_filter,\n)\n",
        ),
        (
            "if True:\n    from scipy.ndimage.filters import gaussian_filter as g \\\n        , median_filter\n",
            "if True:\n    from scipy.ndimage import gaussian_filter as g \\\n        , median_filter\n",
        ),
        # import old.mod as m: the uses read names that moved
        (
            "import scipy.ndimage.filters as f\ny = f.median_filter(1)\n",
            "import scipy.ndimage as f\ny = f.median_filter(1)\n",
        ),
        # import old.mod: the import and every use through the chain
        (
            "import scipy.ndimage.filters\ny = scipy.ndimage.filters.median_filter(1)\n",
            "import scipy.ndimage\ny = scipy.ndimage.median_filter(1)\n",
        ),
        (
            "import scipy.core.records\nr = scipy.core.records.fromarrays([1])\n",
            "import scipy.rec\nr = scipy.rec.fromarrays([1])\n",
        ),
        # every name of a module that keeps them all
        (
            "from scipy.core.records import fromarrays, anything  # x\n",
            "from scipy.rec import fromarrays, anything  # x\n",
        ),
    ],
)
def test_a_renamed_module_is_rewritten_in_place(detector, before, after):
    fixed, left = fix(detector, before)
    assert fixed == after
    assert left == {}


@pytest.mark.parametrize(
    "code, after, reason",
    [
        (
            "from scipy.ndimage.filters import gaussian_filter, normalize_axis_index\n",
            # the name's own record moves it; the module's stays
            "from scipy.ndimage.filters import normalize_axis_index\n"
            "from scipy.ndimage import gaussian_filter\n",
            "`scipy.ndimage` has no `normalize_axis_index`: only the module's public names moved",
        ),
        (
            "import scipy.ndimage.filters as f\ny = f.correlate_private(1)\n",
            None,
            "`f.correlate_private` (line 2) is not among the names that moved to `scipy.ndimage`",
        ),
        (
            "import scipy.ndimage.filters as f\ng = f\n",
            None,
            "`f` (line 2) is not among the names that moved to `scipy.ndimage`",
        ),
        # a package that only the old import loaded is still read
        (
            "import scipy.core.records\nm = scipy.core.multiarray\n",
            None,
            "`scipy.core` (line 2) is loaded by `import scipy.core.records`, not by "
            "`import scipy.rec`",
        ),
        (
            "import scipy.ndimage.filters\ny = scipy.ndimage.filters.correlate_private(1)\n",
            None,
            "`scipy.ndimage.filters.correlate_private` (line 2) is not among the names that "
            "moved to `scipy.ndimage`",
        ),
    ],
)
def test_a_module_rename_that_would_not_be_exact_is_left_with_the_reason(
    detector, code, after, reason
):
    fixed, left = fix(detector, code)
    assert fixed == (code if after is None else after)
    assert reason in set().union(*left.values())


def test_a_module_rename_keeps_the_file_when_a_use_cannot_follow(detector):
    code = "import scipy.core.records\nr = scipy.core.records.fromarrays([1])  # scipy.core\n"
    fixed, left = fix(detector, code)
    assert fixed == "import scipy.core.records\nr = scipy.rec.fromarrays([1])  # scipy.core\n"
    assert "records" in left


def test_names_are_identifiers_of_a_module_rename():
    raw = {
        "id": "x",
        "library": "scipy",
        "symbol": "scipy.a.b",
        "kind": "removed",
        "removed_in": "1.0.0",
        "note": "n",
        "source": {"url": "https://example.org", "version": "1.0.0"},
    }
    assert parse_record(raw | {"fix": {"kind": "rename", "to": "scipy.a", "names": ["f"]}})
    for names in ([], ["a.b"], "f", [1]):
        with pytest.raises(RecordError, match="fix.names"):
            parse_record(raw | {"fix": {"kind": "rename", "to": "scipy.a", "names": names}})


def test_the_cli_writes_the_renamed_module(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text(
        "from scipy.ndimage.filters import (gaussian_filter,  # blur\n  median_filter)\n"
    )
    code = cli.main(
        [
            str(tmp_path),
            "--write",
            "--kb",
            str(MODULES_KB),
            "--target",
            "scipy==1.9.0",
            "--no-progress",
        ]
    )
    capsys.readouterr()
    assert code == 0
    assert (
        path.read_text()
        == "from scipy.ndimage import (gaussian_filter,  # blur\n  median_filter)\n"
    )
