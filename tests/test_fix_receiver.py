"""A template that does not write ``{self}`` leaves the object it was read from unevaluated:
it is made only where that object is plain (a name, an attribute chain, a literal), so that no
call is lost (``pd.Timedelta(g()).freq`` -> ``None`` would no longer call ``g``)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

HEAD = "import pandas as pd\n\ndef g():\n    return 1\n\n"


@pytest.fixture(scope="module")
def detector() -> Detector:
    kb = load_knowledge_base()
    return Detector(kb, {"pandas": LibraryVersion(Version("3.1.1"), "installed")})


def test_a_name_read_from_may_go(detector):
    code = HEAD + "t = pd.Timedelta(g())\nprint(t.freq)\n"
    result = fix_source(code.encode(), detector)
    assert result.source.decode() == HEAD + "t = pd.Timedelta(g())\nprint(None)\n"


@pytest.mark.parametrize("made", ["pd.Timedelta(g())", "pd.Timedelta(1 + g())"])
def test_an_object_made_in_place_is_kept_with_the_reason(detector, made):
    code = HEAD + f"print({made}.freq)\n"
    result = fix_source(code.encode(), detector)
    assert result.source.decode() == code
    [left] = [f for f in result.remaining if f.record.id == "pandas-2.0-Timedelta-freq"]
    assert f"leaves out `{made}`, which is evaluated here" in (left.fix_unavailable or "")


def test_the_cli_fixes_the_one_and_reports_the_other(tmp_path, capsys):
    path = tmp_path / "t.py"
    path.write_text(HEAD + "t = pd.Timedelta(1)\nprint(t.freq, pd.Timedelta(g()).freq)\n")
    argv = [str(path), "--write", "--no-progress", "--target", "pandas==3.1.1"]
    assert cli.main([*argv, "--libraries", "pandas"]) == 1  # one finding is left
    out = capsys.readouterr().out
    assert path.read_text() == HEAD + "t = pd.Timedelta(1)\nprint(None, pd.Timedelta(g()).freq)\n"
    assert "not fixed: the rewrite leaves out `pd.Timedelta(g())`" in out
