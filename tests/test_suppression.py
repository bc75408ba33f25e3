"""``# recode: ignore`` comments and ``--add-ignore``, through recode-migrate's main()."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recode.server import cli
from recode.server.fixes import parses
from recode.server.suppression import Suppressor, add_ignores
from tests.conftest import TEST_KB

TARGETS = ("--target", "numpy==2.0.0", "--target", "pandas==2.2.0")


def run(capsys, *args: object) -> tuple[int, str, str]:
    code = cli.main([*map(str, args), *TARGETS, "--kb", str(TEST_KB), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def findings(capsys, path: Path, *args: object) -> tuple[list[tuple[int, str]], dict]:
    code, out, err = run(capsys, path, "--format", "json", *args)
    assert code in (0, 1), err
    data = json.loads(out)
    return [(f["line"], f["record"]) for f in data["findings"]], data["summary"]


def write(tmp_path: Path, text: str, name: str = "mod.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_comments_accept_ids_globs_libraries_and_bare(capsys, tmp_path):
    src = write(
        tmp_path,
        """\
        import numpy as np
        import pandas as pd
        a = np.float_(1)  # recode: ignore[np-float_]
        b = np.float_(2)  # recode: ignore[np-trapz]
        c = np.trapz([1.0])  # recode: ignore[np-*]
        d = np.float_(3)  # noqa: E501  # Recode: ignore[ numpy ]
        e = np.trapz([2.0])  # recode: ignore
        f = pd.read_csv("a.csv", error_bad_lines=False)  # recode:ignore[pandas-*, numpy]
        """,
    )
    rows, summary = findings(capsys, src)
    assert rows == [(4, "np-float_"), (8, "pd-error_bad_lines")]
    assert summary["suppressed"] == 4
    code, out, _ = run(capsys, src)
    assert code == 1 and "2 outdated calls" in out and "; 4 suppressed." in out


def test_a_hash_in_a_string_is_not_a_comment(capsys, tmp_path):
    src = write(
        tmp_path,
        '''\
        import numpy as np
        s = "# recode: ignore"; a = np.float_(1)
        t = """
        # recode: ignore
        """; b = np.trapz([1.0])
        ''',
    )
    rows, summary = findings(capsys, src)
    assert rows == [(2, "np-float_"), (5, "np-trapz")]
    assert summary["suppressed"] == 0


def test_a_comment_counts_only_on_its_line(capsys, tmp_path):
    src = write(
        tmp_path,
        """\
        import numpy as np
        # recode: ignore
        a = np.float_(1)
        b = np.float_(2)
        # recode: ignore
        """,
    )
    rows, _ = findings(capsys, src)
    assert rows == [(3, "np-float_"), (4, "np-float_")]


def test_sarif_counts_the_suppressed(capsys, tmp_path):
    src = write(tmp_path, "import numpy as np\na = np.float_(1)  # recode: ignore\n")
    code, out, _ = run(capsys, src, "--format", "sarif")
    doc = json.loads(out)
    assert code == 0
    assert doc["runs"][0]["results"] == []
    assert doc["runs"][0]["properties"]["suppressed"] == 1


def test_write_leaves_suppressed_findings_alone(capsys, tmp_path):
    src = write(
        tmp_path,
        """\
        import numpy as np
        a = np.float_(1)  # recode: ignore[np-float_]
        b = np.float_(2)
        """,
    )
    code, out, err = run(capsys, src, "--write")
    assert code == 0, out + err
    assert src.read_text() == (
        "import numpy as np\na = np.float_(1)  # recode: ignore[np-float_]\nb = np.float64(2)\n"
    )


OUTDATED = '''\
import numpy as np
import pandas as pd
a = np.float_(1)
b = np.float_(2); c = np.trapz([1.0])  # noqa: E702
d = np.float_(3)  # recode: ignore[np-float_]
e = np.trapz([2.0]); f = np.float_(4)  # recode: ignore[np-trapz]
g = np.trapz("""one
two""")
h = np.trapz([3.0]) + \\
    1
s = "# not a comment"; i = np.float_(5)
for k, v in pd.DataFrame().iteritems(): pass
'''


def test_add_ignore_comments_every_finding(capsys, tmp_path):
    src = tmp_path / "mod.py"
    src.write_bytes(OUTDATED.replace("\n", "\r\n").encode())
    before, _ = findings(capsys, src)
    assert len(before) == 8

    code, out, err = run(capsys, src, "--add-ignore")
    assert code == 0, out + err
    assert "given an ignore comment" in out
    new = src.read_bytes().decode()
    assert new.count("\r\n") == OUTDATED.count("\n") and "\n" not in new.replace("\r\n", "")
    lines = new.split("\r\n")
    assert lines[2] == "a = np.float_(1)  # recode: ignore[np-float_]"
    assert lines[3] == (
        "b = np.float_(2); c = np.trapz([1.0])  # noqa: E702  # recode: ignore[np-float_, np-trapz]"
    )
    assert lines[4] == "d = np.float_(3)  # recode: ignore[np-float_]"  # already accepted
    assert (
        lines[5] == "e = np.trapz([2.0]); f = np.float_(4)  # recode: ignore[np-trapz, np-float_]"
    )
    # inside a multi-line string there is no room for a comment: it goes where the string ends
    assert lines[6] == 'g = np.trapz("""one'
    assert lines[7] == 'two""")  # recode: ignore[np-trapz]'
    # and after a backslash continuation, on the line that ends it
    assert lines[8] == "h = np.trapz([3.0]) + \\"
    assert lines[9] == "    1  # recode: ignore[np-trapz]"
    assert lines[10] == 's = "# not a comment"; i = np.float_(5)  # recode: ignore[np-float_]'
    assert lines[11].endswith("pass  # recode: ignore[pd-iteritems]")
    ast.parse(new)

    after, summary = findings(capsys, src)
    assert after == [] and summary["suppressed"] == 10
    # a second run has nothing left to comment: the file stays byte for byte
    saved = src.read_bytes()
    assert run(capsys, src, "--add-ignore")[0] == 0
    assert src.read_bytes() == saved


def test_add_ignore_keeps_the_encoding_and_other_lines(capsys, tmp_path):
    src = tmp_path / "latin.py"
    text = "# -*- coding: latin-1 -*-\nimport numpy as np\nname = 'café'\nx = np.float_(1)\n"
    src.write_bytes(text.encode("latin-1"))
    assert run(capsys, src, "--add-ignore")[0] == 0
    assert src.read_bytes() == (
        text.replace("np.float_(1)", "np.float_(1)  # recode: ignore[np-float_]").encode("latin-1")
    )


def test_add_ignore_never_rewrites_a_file_with_syntax_errors(capsys, tmp_path):
    src = write(tmp_path, "import numpy as np\nx = np.float_(1)\ndef broken(:\n")
    saved = src.read_bytes()
    code, out, _ = run(capsys, src, "--add-ignore")
    assert code == 1
    assert "never rewritten" in out
    assert src.read_bytes() == saved


@pytest.mark.parametrize("mode", ["--diff", "--write"])
def test_add_ignore_is_a_mode_of_its_own(capsys, tmp_path, mode):
    src = write(tmp_path, "x = 1\n")
    with pytest.raises(SystemExit) as exc:
        cli.main([str(src), "--add-ignore", mode])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


FRAGMENTS = [
    "a = np.float_(1)",
    "b = np.trapz([1.0]); c = np.float_(2)",
    's = "# recode: ignore"; d = np.float_(3)',
    't = np.trapz("""x\n# recode: ignore\ny""")',
    "u = np.trapz([1]) + \\\n    2",
    "v = np.float_(\n    4,\n)",
    "w = 1  # a comment",
    "def f():\n    return np.float_(5)",
    'x = f"{np.float_(6)}"',
    "y = np.float_(7)  # recode: ignore[np-trapz]",
    "z = (np.float_(8)  # tail\n     )",
    "q = '''one\ntwo''' + np.float_(9)",
    "r = np.trapz([2])  ",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8))
def test_add_ignores_covers_every_finding_and_nothing_else(detector, fragments):
    source = ("import numpy as np\n" + "\n".join(fragments) + "\n").encode()
    kept, _ = Suppressor().split(source, detector.detect(source))
    new = add_ignores(source, kept)
    assert parses(new)
    assert len(detector.detect(new)) == len(detector.detect(source))  # comments change nothing
    assert Suppressor().split(new, detector.detect(new))[0] == []
    old_lines, new_lines = source.split(b"\n"), new.split(b"\n")
    assert len(old_lines) == len(new_lines)
    directive = re.compile(rb"\s*# recode: ignore\[[^\]]*\]")
    for old, line in zip(old_lines, new_lines, strict=True):
        # a changed line is the old one (trailing blanks aside) with a directive added or grown
        assert line == old or (
            b"# recode: ignore[" in line
            and directive.sub(b"", line) == directive.sub(b"", old).rstrip()
        )
    assert add_ignores(new, []) == new
