"""Fix safety in recode-migrate: unsafe fixes are made only with --unsafe-fixes (or the project
configuration's ``unsafe-fixes``), and the text, JSON and SARIF reports say which fix is which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recode.server import cli

FIX_KB = Path(__file__).parent / "data" / "fix_kb" / "templates.jsonl"
CODE = (
    "import pandas as pd\n"
    "df = pd.DataFrame({'a': [1]})\n"
    "df = df.append(df, ignore_index=True)\n"
    "i = pd.Int64Index([1, 2])\n"
)
SAFE_FIXED = CODE.replace("pd.Int64Index([1, 2])", "pd.Index([1, 2], dtype='int64')")
ALL_FIXED = SAFE_FIXED.replace(
    "df.append(df, ignore_index=True)", "pd.concat([df, df], ignore_index=True)"
)
BECAUSE = "other as a Series or a dict: append added a row"


def run(capsys, *args: object) -> tuple[int, str]:
    code = cli.main(
        [*map(str, args), "--kb", str(FIX_KB), "--target", "pandas==2.0.0", "--no-progress"]
    )
    out, _ = capsys.readouterr()
    return code, out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "m.py").write_text(CODE)
    return tmp_path


@pytest.mark.parametrize(
    "config, flags, expected",
    [
        (None, [], SAFE_FIXED),
        (None, ["--unsafe-fixes"], ALL_FIXED),
        ("unsafe-fixes = true", [], ALL_FIXED),
        ("unsafe-fixes = true", ["--no-unsafe-fixes"], SAFE_FIXED),
        ("unsafe-fixes = false", ["--unsafe-fixes"], ALL_FIXED),
    ],
)
def test_write_makes_unsafe_fixes_only_when_asked(capsys, project, config, flags, expected):
    if config is not None:
        (project / "pyproject.toml").write_text(f"[tool.recode]\n{config}\n")
    code, out = run(capsys, project, "--write", *flags)
    assert (project / "m.py").read_text() == expected
    if expected == SAFE_FIXED:
        assert code == 1 and "1 more with --unsafe-fixes" in out
        assert f"[unsafe fix, made with --unsafe-fixes: {BECAUSE}]" in out
    else:
        assert code == 0 and "2 fixed" in out


def test_check_says_which_fix_is_unsafe(capsys, project):
    _, out = run(capsys, project)
    lines = {line.split("[")[1].split("]")[0]: line for line in out.splitlines() if "] " in line}
    assert lines["pd-Int64Index"].endswith("[fixable]")
    assert lines["pd-append"].endswith(f"[unsafe fix, made with --unsafe-fixes: {BECAUSE}]")
    assert "1 fixable with --write; 1 more with --unsafe-fixes" in out
    _, out = run(capsys, project, "--unsafe-fixes")
    assert "[unsafe fix]" in out and "2 fixable with --write" in out


def test_a_file_with_only_unsafe_fixes_says_how_to_make_them(capsys, tmp_path):
    (tmp_path / "m.py").write_text(CODE.replace("i = pd.Int64Index([1, 2])\n", ""))
    _, out = run(capsys, tmp_path)
    assert "1 outdated call (1 error) in 1 file; 1 fixable with --write --unsafe-fixes." in out


def test_json_and_sarif_carry_the_applicability(capsys, project):
    _, out = run(capsys, project, "--format", "json")
    report = json.loads(out)
    by_id = {f["record"]: f for f in report["findings"]}
    append, index = by_id["pd-append"], by_id["pd-Int64Index"]
    assert (append["fixable"], append["fix"]["applicability"]) == (False, "unsafe")
    assert append["fix"]["unsafe_because"] == BECAUSE
    assert append["fix"]["edits"][0]["content"] == "pd.concat([df, df], ignore_index=True)"
    assert (index["fixable"], index["fix"]["applicability"]) == (True, "safe")
    assert index["fix"]["unsafe_because"] is None
    assert report["summary"]["unsafe_fixes_hidden"] == 1

    _, out = run(capsys, project, "--format", "sarif", "--unsafe-fixes")
    results = json.loads(out)["runs"][0]["results"]
    by_id = {r["ruleId"]: r for r in results}
    fix = by_id["pd-append"]["fixes"][0]
    assert fix["properties"] == {"applicability": "unsafe", "unsafeBecause": BECAUSE}
    assert by_id["pd-append"]["properties"]["fixable"] is True
    assert by_id["pd-Int64Index"]["fixes"][0]["properties"] == {"applicability": "safe"}


def test_diff_shows_only_safe_fixes_without_the_flag(capsys, project):
    _, out = run(capsys, project, "--diff")
    assert "+i = pd.Index([1, 2], dtype='int64')" in out and "concat" not in out
    _, out = run(capsys, project, "--diff", "--unsafe-fixes")
    assert "+df = pd.concat([df, df], ignore_index=True)" in out
    assert (project / "m.py").read_text() == CODE
