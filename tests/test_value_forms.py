"""Value records' other spellings (issue 14): with ``value_forms: offset`` a record of the alias
``'M'`` also flags and fixes ``'5M'`` and ``'M-DEC'``, as pandas parses them, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from recode.dataset.knowledge import RecordError, ValueForms, load_knowledge_base, parse_record
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

VALUES_KB = Path(__file__).parent / "data" / "fix_kb" / "values.jsonl"
ANCHORS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
ANCHORS += ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base([VALUES_KB])
    assert not kb.problems
    return Detector(kb, {"pandas": LibraryVersion(Version("3.0.0"), "installed")})


def fixed(detector: Detector, freq: str, by_position: bool = False) -> tuple[str, list[str]]:
    """The fixed ``freq`` literal, and the records left unfixed."""
    arg = freq if by_position else f"freq={freq}"
    where = "None, 3, " if by_position else "periods=3, "
    code = f"import pandas as pd\nidx = pd.date_range('2020', {where}{arg})\n"
    result = fix_source(code.encode(), detector)
    assert result.error is None
    line = result.source.decode().splitlines()[1]
    return line[line.rindex(", ") + 2 :].removeprefix("freq=")[:-1], [
        f.record.id for f in result.remaining
    ]


@pytest.mark.parametrize(
    "before, after",
    [
        ("'M'", "'ME'"),  # listed
        ("'5M'", "'5ME'"),  # a multiple
        ("'+5M'", "'+5ME'"),
        ("'-2M'", "'-2ME'"),
        ('"12M"', '"12ME"'),
        ("'7T'", "'7min'"),
        ("'A-DEC'", "'YE-DEC'"),  # an anchor
        ("'2A-JUN'", "'2YE-JUN'"),  # the listed anchored form's new text, with the multiple
        ("'A-JUN'", "'YE-JUN'"),
        ("'3BQ-DEC'", "'3BQE-DEC'"),  # only the anchored form listed
    ],
)
@pytest.mark.parametrize("by_position", [False, True])
def test_a_value_in_another_form_is_flagged_and_fixed(detector, before, after, by_position):
    assert fixed(detector, before, by_position) == (after, [])


@pytest.mark.parametrize(
    "valid",
    ["'ME'", "'5ME'", "'min'", "'5min'", "'h'", "'MS'", "'2MS'", "'YE-DEC'", "'W-MON'", "'D'"],
)
def test_valid_values_are_not_flagged(detector, valid):
    code = f"import pandas as pd\nidx = pd.date_range('2020', periods=3, freq={valid})\n"
    assert detector.detect(code.encode()) == []


@pytest.mark.parametrize(
    "written",
    [
        "'1.5M'",  # not an integral multiple: left alone
        "'M-FOO'",  # no anchor pandas has
        "f'5M'",  # not a plain string
        "'5 M'",
    ],
)
def test_other_texts_are_not_taken_for_a_form(detector, written):
    code = f"import pandas as pd\nidx = pd.date_range('2020', periods=3, freq={written})\n"
    assert [f.record.id for f in detector.detect(code.encode())] == []


def test_a_form_the_map_has_no_spelling_for_is_flagged_with_the_reason(detector):
    # the record of 'BQ-DEC' is about the alias BQ: its other forms are flagged, but its map
    # spells only the anchored one
    code = "import pandas as pd\nidx = pd.date_range('2020', periods=3, freq='BQ')\n"
    [finding] = detector.detect(code.encode())
    assert finding.record.id == "date_range-BQ"
    assert finding.fix_unavailable == "the fix has no new spelling for `'BQ'`"


@given(
    multiple=st.one_of(st.just(""), st.from_regex(r"[+-]?[0-9]{1,3}", fullmatch=True)),
    anchor=st.one_of(st.just(""), st.sampled_from(ANCHORS).map(lambda a: "-" + a)),
    alias=st.sampled_from(["M", "T", "A", "ME", "min", "YE", "MS", "Q"]),
)
def test_the_fix_keeps_the_multiple_and_the_anchor(detector, multiple, anchor, alias):
    new = {"M": "ME", "T": "min", "A": "YE"}.get(alias)
    literal = f"'{multiple}{alias}{anchor}'"
    if new is None:  # an alias no record lists: neither flagged nor changed
        assert fixed(detector, literal) == (literal, [])
    else:
        assert fixed(detector, literal) == (f"'{multiple}{new}{anchor}'", [])


def test_split_reads_pandas_offset_syntax():
    assert ValueForms.OFFSET.split("5H") == ("5", "H", "")
    assert ValueForms.OFFSET.split("-2A-DEC") == ("-2", "A", "-DEC")
    assert ValueForms.OFFSET.split("A") == ("", "A", "")
    assert ValueForms.OFFSET.split("1.5H") is None
    assert ValueForms.OFFSET.split("H-XYZ") is None


def test_the_prefilter_keeps_a_file_with_only_another_form(detector):
    for call in ("freq='5M'", "None, 3, '5M'", "None, 3, 'A-SEP'"):
        code = f"import pandas as pd\nidx = pd.date_range('2020', {call})\n".encode()
        assert detector.detect(code), call
        assert detector.prefilter.why(code) is not None, call


def test_value_forms_is_checked_on_load():
    raw = {
        "id": "x",
        "library": "pandas",
        "symbol": "pandas.date_range(freq)",
        "kind": "signature",
        "changed_in": "3.0.0",
        "note": "n",
        "source": {"url": "https://example.org", "version": "3.0.0"},
    }
    assert parse_record(raw | {"values": ["'M'"], "value_forms": "offset"}).value_forms
    with pytest.raises(RecordError, match="value_forms must be one of offset"):
        parse_record(raw | {"values": ["'M'"], "value_forms": "units"})
    with pytest.raises(RecordError, match="value_forms applies only to a record with values"):
        parse_record(raw | {"value_forms": "offset"})


def test_the_cli_fixes_a_multiple(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text("import pandas as pd\nidx = pd.date_range('2020', periods=3, freq='5M')\n")
    code = cli.main(
        [str(tmp_path), "--write", "--kb", str(VALUES_KB), "--target", "pandas==3.0.0"]
        + ["--no-progress"]
    )
    capsys.readouterr()
    assert code == 0
    assert path.read_text() == (
        "import pandas as pd\nidx = pd.date_range('2020', periods=3, freq='5ME')\n"
    )


def test_each_finding_of_a_record_names_its_own_value(detector):
    """The messages of one record's findings are made once per value passed (the detector
    keeps them per run): two values of one record in a file get a message each."""
    code = "import pandas as pd\n" + "".join(
        f"idx = pd.date_range('2020', periods=3, freq={v})\n" for v in ("'M'", "'5M'", "'M'")
    )
    found = detector.detect(code.encode())
    assert [f.record.id for f in found] == ["date_range-M"] * 3
    assert ["`freq='M'`" in f.message for f in found] == [True, False, True]
    assert "`freq='5M'`" in found[1].message
