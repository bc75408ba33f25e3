"""Records of some values of a parameter (``values``) matched where the value is passed by
position too (``position``): ``df.resample('M')`` as well as ``df.resample(rule='M')``."""

from __future__ import annotations

import json
import textwrap

import pytest

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server import cli
from recode.server.detector import Detector, Finding
from recode.server.severity import LibraryVersion, severity_for
from tests.conftest import versions

KB = load_knowledge_base()

VALUE_RECORD = {
    "id": "pandas-3.0-DataFrame-resample-rule-X",
    "library": "pandas",
    "symbol": "pandas.DataFrame.resample(rule)",
    "kind": "signature",
    "changed_in": "3.0.0",
    "values": ["'M'"],
    "note": "synthetic",
    "source": {"url": "https://pandas.pydata.org/docs/whatsnew/v3.0.0.html", "version": "3.0.0"},
}


@pytest.mark.parametrize(
    "position, error",
    [
        (-1, "position must be a non-negative integer"),
        (True, "position must be a non-negative integer"),
        ("0", "position must be a non-negative integer"),
    ],
)
def test_a_bad_position_is_refused(position, error):
    with pytest.raises(RecordError, match=error):
        parse_record({**VALUE_RECORD, "position": position})


def test_a_position_needs_values():
    raw = {k: v for k, v in VALUE_RECORD.items() if k != "values"}
    with pytest.raises(RecordError, match="position applies only to a record with values"):
        parse_record({**raw, "position": 0})
    assert parse_record({**VALUE_RECORD, "position": 2}).position == 2


def found(code: str, **libs: str) -> list[Finding]:
    source = textwrap.dedent(code).encode()
    return Detector(KB, versions(**libs)).detect(source)


def ids_and_text(code: str, **libs: str) -> list[tuple[str, str]]:
    source = textwrap.dedent(code).encode()
    return [
        (f.record.id, source[f.start_byte : f.end_byte].decode())
        for f in Detector(KB, versions(**libs)).detect(source)
    ]


DF = "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\n"


@pytest.mark.parametrize(
    "call, expected",
    [
        # the value at the parameter's position, or as the keyword
        ("df.resample('M').sum()", [("pandas-3.0-DataFrame-resample-rule-M", "'M'")]),
        ("df.resample(rule='M').sum()", [("pandas-3.0-DataFrame-resample-rule-M", "rule='M'")]),
        ('df.resample("12M", on="a")', [("pandas-3.0-DataFrame-resample-rule-M", '"12M"')]),
        ("pd.Period('2020-01-01', 'H')", [("pandas-3.0-Period-freq-H", "'H'")]),
        ("pd.Timedelta(5, 'T')", [("pandas-3.0-Timedelta-unit-T", "'T'")]),
        ("pd.date_range('2020', None, 3, 'M')", [("pandas-3.0-date_range-freq-M", "'M'")]),
        ("pd.tseries.frequencies.to_offset('L')", [("pandas-3.0-to_offset-freq-L", "'L'")]),
        # a splat after the position leaves it known
        ("pd.Period('2020', 'H', *rest)", [("pandas-3.0-Period-freq-H", "'H'")]),
        # another value, another position, the value inside another expression: nothing
        ("df.resample('ME')", []),
        ("pd.Period('H')", []),
        ("pd.date_range('2020', 'M')", []),
        ("df.resample(f('M'))", []),
        ("df.resample(('M', 'x'))", []),
        # a splat at or before the position: which argument lands there is unknowable
        ("pd.Period(*args, 'H')", []),
        ("df.resample(*args, 'M')", []),
        # through its class a method takes the object first (a classmethod would not): by
        # position nothing is flagged, by keyword it is
        ("pd.DataFrame.resample(df, 'M')", []),
        (
            "pd.DataFrame.resample(df, rule='M')",
            [("pandas-3.0-DataFrame-resample-rule-M", "rule='M'")],
        ),
    ],
)
def test_values_by_position(call, expected):
    assert ids_and_text(DF + call + "\n", pandas="3.0.0") == expected


def test_a_style_name_by_position():
    code = "import matplotlib.pyplot as plt\nplt.style.use('seaborn-whitegrid')\n"
    assert ids_and_text(code, matplotlib="3.8.0") == [
        ("matplotlib-3.8-pyplot-style-use-seaborn", "'seaborn-whitegrid'")
    ]
    assert ids_and_text(code, matplotlib="3.7.0") == [
        ("matplotlib-3.8-pyplot-style-use-seaborn", "'seaborn-whitegrid'")
    ]  # deprecated since 3.6: a warning before it goes
    assert found(code.replace("seaborn-", "seaborn-v0_8-"), matplotlib="3.8.0") == []


# -- message and severity -----------------------------------------------------------------------


def test_the_message_names_the_value_passed_and_what_happens():
    (f,) = found(DF + "df.resample('12M').sum()\n", pandas="3.0.0")
    assert f.severity == "error"
    assert f.message.startswith(
        "`pandas.DataFrame.resample` no longer accepts `rule='12M'` since pandas 3.0.0"
    )
    assert "raises ValueError" in f.message and "Use 'ME'" in f.message
    assert "'2M'" not in f.message and "or `rule=" not in f.message  # not every value listed
    (k,) = found(DF + 'df.resample(rule="M").sum()\n', pandas="3.0.0")
    assert 'no longer accepts `rule="M"`' in k.message


def test_a_value_deprecated_before_it_is_refused_is_a_warning_naming_it():
    (f,) = found(DF + "df.resample('M').sum()\n", pandas="2.2.0")
    assert f.severity == "warning"
    assert f.message.startswith(
        "`pandas.DataFrame.resample` with `rule='M'` is deprecated since pandas 2.2.0 "
        "and goes in 3.0.0"
    )


def test_a_refused_value_is_an_error_and_a_changed_one_a_warning():
    refused = parse_record({**VALUE_RECORD, "position": 0})
    changed = parse_record({**VALUE_RECORD, "kind": "behavior"})
    v3 = LibraryVersion(refused.changed_in, "installed").version
    assert (severity_for(refused, v3), severity_for(changed, v3)) == ("error", "warning")
    (f,) = found("import numpy as np\nb = np.array([1], copy=False)\n", numpy="2.1.0")
    assert f.severity == "warning"
    assert f.message.startswith("`numpy.array` with `copy=False` changed behaviour")


def test_the_shipped_alias_records_are_errors_at_pandas_3():
    """Every offset or unit alias record of pandas 3.0 that has a position says the value is
    refused (each raises ValueError in pandas 3.0.6 and 3.1.1: checked by running the
    examples in those releases when the records were written)."""
    at = [r for r in KB.records if r.library == "pandas" and r.position is not None]
    assert len(at) > 200
    for r in at:
        if r.effective_in is not None:
            assert r.kind == "signature", r.id
            assert severity_for(r, r.effective_in) == "error"


# -- end to end: the CLI -------------------------------------------------------------------------

DEMO = """\
import pandas as pd
import matplotlib.pyplot as plt

df = pd.DataFrame({"a": [1, 2, 3]}, index=pd.date_range("2020-01-01", periods=3, freq="D"))
monthly = df.resample('M').sum()
idx = pd.date_range('2020', periods=3, freq='M')
plt.style.use('seaborn-whitegrid')
"""


def test_cli_reports_values_by_position(capsys, tmp_path):
    path = tmp_path / "demo.py"
    path.write_text(DEMO)
    argv = [str(path), "--target", "pandas==3.0", "--target", "matplotlib==3.8"]
    code = cli.main([*argv, "--format", "json", "--no-progress"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    got = [(f["record"], f["severity"], f["line"], f["column"], f["end_column"]) for f in findings]
    assert got == [
        ("pandas-3.0-DataFrame-resample-rule-M", "error", 5, 23, 26),
        ("pandas-3.0-date_range-freq-M", "error", 6, 40, 48),
        ("matplotlib-3.8-pyplot-style-use-seaborn", "error", 7, 15, 34),
    ]
    assert "`rule='M'`" in findings[0]["message"]
    assert "`style='seaborn-whitegrid'`" in findings[2]["message"]
