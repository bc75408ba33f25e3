"""The exact edits of each fix kind, and the fix loop's guarantees."""

from __future__ import annotations

import functools
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recode.server.fixes import Edit, apply_edits, fix_source
from recode.server.fixes.apply import _Chosen
from recode.server.fixes.edits import overlaps


def fixed(detector, code: str) -> str:
    result = fix_source(textwrap.dedent(code).encode(), detector)
    assert result.error is None
    return result.source.decode()


@pytest.mark.parametrize(
    "before, after",
    [
        # rename through the user's alias
        ("import numpy as np\nx = np.float_(1)\n", "import numpy as np\nx = np.float64(1)\n"),
        ("import numpy\nx = numpy.float_\n", "import numpy\nx = numpy.float64\n"),
        # to a builtin
        ("import numpy as np\nx = np.float(1)\n", "import numpy as np\nx = float(1)\n"),
        # moved to a submodule, through the alias
        (
            "import numpy as np\nraise np.AxisError(1)\n",
            "import numpy as np\nraise np.exceptions.AxisError(1)\n",
        ),
        # from-imports: the import and every use change together
        (
            "from numpy import trapz\na = trapz([1]) + trapz([2])\n",
            "from numpy import trapezoid\na = trapezoid([1]) + trapezoid([2])\n",
        ),
        (
            "from numpy import trapz as tz\na = tz([1])\n",
            "from numpy import trapezoid as tz\na = tz([1])\n",
        ),
        (
            "from numpy import AxisError\nraise AxisError(1)\n",
            "from numpy.exceptions import AxisError\nraise AxisError(1)\n",
        ),
        (
            "from numpy import AxisError, ones\nraise AxisError(1)\n",
            "from numpy import ones\nfrom numpy.exceptions import AxisError\nraise AxisError(1)\n",
        ),
        (
            "from numpy import ones, float as npf\nx = npf(1)\n",
            "from numpy import ones\nx = float(1)\n",
        ),
        ("from numpy import float\nx = float(1)\n", "x = float(1)\n"),
        # methods of objects of evident class
        (
            "import pandas as pd\ndf = pd.read_csv('a')\nfor k, v in df.iteritems():\n    pass\n",
            "import pandas as pd\ndf = pd.read_csv('a')\nfor k, v in df.items():\n    pass\n",
        ),
        (
            "import numpy as np\na = np.zeros(3)\nb = a.tostring()\n",
            "import numpy as np\na = np.zeros(3)\nb = a.tobytes()\n",
        ),
        # keyword rename, keyword drop
        (
            "import pandas as pd\ndf = pd.DataFrame()\ndf.to_csv('o', line_terminator='\\n')\n",
            "import pandas as pd\ndf = pd.DataFrame()\ndf.to_csv('o', lineterminator='\\n')\n",
        ),
        (
            "from sklearn.datasets import fetch_x\nfetch_x('a', verbose=True)\n",
            "from sklearn.datasets import fetch_x\nfetch_x('a')\n",
        ),
        (
            "from sklearn.datasets import fetch_x\nfetch_x(verbose=True, data_home='d')\n",
            "from sklearn.datasets import fetch_x\nfetch_x(data_home='d')\n",
        ),
        (
            "from sklearn.datasets import fetch_x\nfetch_x(verbose=1)\n",
            "from sklearn.datasets import fetch_x\nfetch_x()\n",
        ),
        # template, with the module alias the file already uses
        (
            "import pandas as pd\ndf = pd.DataFrame()\ndf = df.append(other)\n",
            "import pandas as pd\ndf = pd.DataFrame()\ndf = pd.concat([df, other])\n",
        ),
        (
            "import pandas as pd\ndf = pd.DataFrame()\ndf = df.append(other=o2)\n",
            "import pandas as pd\ndf = pd.DataFrame()\ndf = pd.concat([df, o2])\n",
        ),
    ],
)
def test_fix_kinds(detector, before, after):
    assert fixed(detector, before) == after


def test_template_adds_the_import_it_needs(detector):
    code = "from pandas import DataFrame\ndf = DataFrame()\ndf = df.append(x)\n"
    assert fixed(detector, code) == (
        "from pandas import DataFrame\nimport pandas\ndf = DataFrame()\n"
        "df = pandas.concat([df, x])\n"
    )


@pytest.mark.parametrize(
    "code",
    [
        # an argument the template would drop: a person must decide
        "import pandas as pd\ndf = pd.DataFrame()\ndf = df.append(x, ignore_index=True)\n",
        "import pandas as pd\ndf = pd.DataFrame()\ndf = df.append(*xs)\n",
        # both spellings of a renamed keyword passed
        "import pandas as pd\ndf = pd.DataFrame()\ndf.to_csv('o', line_terminator='a', lineterminator='b')\n",
        # records without a fix
        "import numpy as np\nnp.cast['f8'](1)\n",
    ],
)
def test_no_fix_where_not_exact(detector, code):
    findings = detector.detect(code.encode())
    assert findings and not any(f.fixable for f in findings)
    assert fix_source(code.encode(), detector).source == code.encode()


def test_fix_loop_reports_what_remains(detector):
    code = b"import numpy as np\nimport pandas as pd\nnp.float_\npd.read_csv('a', squeeze=True)\n"
    result = fix_source(code, detector)
    assert [f.record.id for f in result.fixed] == ["np-float_"]
    assert [f.record.id for f in result.remaining] == ["pd-squeeze"]


def test_comments_and_formatting_are_kept(detector):
    code = "import numpy as np  # numeric\n\n\nx = np.float_(  1 )  # keep me\n"
    assert (
        fixed(detector, code)
        == "import numpy as np  # numeric\n\n\nx = np.float64(  1 )  # keep me\n"
    )


def test_apply_edits_rejects_overlaps_and_dedups():
    src = b"abcdef"
    assert apply_edits(src, [Edit(1, 2, "X"), Edit(1, 2, "X"), Edit(4, 4, "-")]) == b"aXcd-ef"
    with pytest.raises(ValueError):
        apply_edits(src, [Edit(1, 3, "X"), Edit(2, 4, "Y")])


@pytest.mark.parametrize(
    "before, after",
    [
        # the module is reached through a from-import of a package
        ("from numpy import random\nrandom.random_integers(1)\n", None),
        (
            "from numpy import random\nrandom.old_fn(1)\n",
            "from numpy import random\nrandom.legacy.old_fn(1)\n",
        ),
        (
            "from numpy import exceptions\nimport numpy as np\nraise np.AxisError(1)\n",
            "from numpy import exceptions\nimport numpy as np\nraise np.exceptions.AxisError(1)\n",
        ),
    ],
)
def test_rename_uses_existing_imports(detector, before, after):
    if after is None:  # no fix in the record: unchanged
        assert fixed(detector, before) == before
    else:
        assert fixed(detector, before) == after


def test_template_reuses_an_untracked_import(detector):
    code = "import pandas\nfrom pandas import DataFrame\ndf = DataFrame()\ndf = df.append(x)\n"
    assert fixed(detector, code) == (
        "import pandas\nfrom pandas import DataFrame\ndf = DataFrame()\ndf = pandas.concat([df, x])\n"
    )


@pytest.mark.parametrize(
    "before, after",
    [
        (
            "import numpy as np\nnp.lib.old_helper(1)\n",
            "import numpy as np\nimport numpy.lib.extra\nnp.lib.extra.helper(1)\n",
        ),
        (
            "import numpy as np\nimport numpy.lib.extra\nnp.lib.old_helper(1)\n",
            "import numpy as np\nimport numpy.lib.extra\nnp.lib.extra.helper(1)\n",
        ),
        (
            "from numpy.lib import old_helper\nold_helper(1)\n",
            "from numpy.lib.extra import helper\nhelper(1)\n",
        ),
    ],
)
def test_rename_into_a_submodule_imports_it(detector, before, after):
    assert fixed(detector, before) == after


@st.composite
def edit_groups(draw) -> list[list[Edit]]:
    """Findings' edit lists over a 60-byte file: replacements, deletions and insertions, some
    shared between findings (a from-import's rename), some identical."""

    def edit() -> Edit:
        start = draw(st.integers(0, 60))
        end = draw(st.sampled_from([start, min(start + draw(st.integers(1, 8)), 60)]))
        return Edit(start, end, draw(st.sampled_from(["", "a", "bb"])))

    pool = [edit() for _ in range(draw(st.integers(1, 12)))]
    groups = []
    for _ in range(draw(st.integers(1, 15))):
        group: list[Edit] = []
        for e in draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)):
            if not any(overlaps(e, g) for g in group):  # a finding's edits apply together
                group.append(e)
        groups.append(group)
    return groups


@given(edit_groups())
def test_choosing_edits_by_neighbours_matches_testing_every_pair(groups) -> None:
    """fix_source's overlap test among the neighbours of an edit chooses exactly what testing
    it against every edit chosen before it chose."""
    reference: list[Edit] = []
    chosen_reference = []
    for i, edits in enumerate(groups):
        new = [e for e in edits if e not in reference]
        if any(overlaps(e, c) for e in new for c in reference):
            continue
        reference.extend(new)
        chosen_reference.append(i)
    chosen = _Chosen()
    picked = []
    for i, edits in enumerate(groups):
        new = [e for e in edits if e not in chosen]
        if any(chosen.clashes(e) for e in new):
            continue
        for e in new:
            chosen.add(e)
        picked.append(i)
    assert picked == chosen_reference
    assert set(reference) == set(chosen.edits)
    assert [e.start for e in chosen.edits] == sorted(e.start for e in chosen.edits)


@functools.cache
def _real_numpy_2_detector():
    """The shipped knowledge base at numpy 2.0 (its template fixes rewrite whole calls)."""
    from recode.dataset.knowledge import load_knowledge_base
    from recode.server.detector import Detector
    from tests.conftest import versions

    return Detector(load_knowledge_base(None, ["numpy"]), versions(numpy="2.0.0"))


@pytest.mark.parametrize(
    "code, comment",
    [
        # a method chain written one call a line, with a comment between the calls
        (
            "import numpy as np\na = np.zeros(3)\nr = (a  # the samples\n     .ptp())\n",
            "# the samples",
        ),
        # a comment among a call's arguments, which the template writes anew
        ("import numpy as np\na = np.zeros(3)\nt = np.msort(\n    a,  # keep me\n)\n", "# keep me"),
    ],
)
def test_a_fix_never_drops_a_comment_inside_what_it_rewrites(code: str, comment: str) -> None:
    """A template rewrites the whole call: where the call holds a comment the new text would not
    keep, the fix is not made, and the finding says why."""
    detector = _real_numpy_2_detector()
    result = fix_source(code.encode(), detector)
    assert result.source == code.encode() and not result.fixed
    (finding,) = [f for f in result.remaining if f.record.fix is not None]
    assert not finding.fixable and comment in (finding.fix_unavailable or "")
    # the same call without the comment is fixed
    plain = code.replace(f"  {comment}", "")
    assert fix_source(plain.encode(), detector).fixed
