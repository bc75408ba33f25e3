"""recode-migrate end to end: modes, formats, exit codes, and never losing a user's file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recode.server import cli, files
from tests.conftest import TEST_KB

LOAD_PY = textwrap.dedent(
    """\
    import numpy as np
    import pandas as pd

    x = np.float_(1)
    df = pd.read_csv("a.csv", error_bad_lines=False)
    for k, v in df.iteritems():
        print(k, np.trapz(v))
    """
)
CLEAN_PY = "import numpy as np\nx = np.float64(1)\n"


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory) -> str:
    """An interpreter with no numpy/pandas installed, so the project's pins decide."""
    folder = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    return str(folder / "bin" / "python")


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "requirements.txt").write_text("numpy==2.0.0\npandas==2.2.0\n")
    (root / "pkg" / "load.py").write_text(LOAD_PY)
    (root / "pkg" / "clean.py").write_text(CLEAN_PY)
    return root


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([*map(str, args), "--kb", str(TEST_KB), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_json_report(capsys, project, bare_python):
    code, out, _ = run(capsys, project, "--python", bare_python, "--format", "json")
    assert code == 1
    data = json.loads(out)
    rows = [
        (
            Path(f["path"]).name,
            f["line"],
            f["column"],
            f["end_line"],
            f["end_column"],
            f["record"],
            f["severity"],
            f["fixable"],
        )
        for f in data["findings"]
    ]
    assert rows == [
        ("load.py", 4, 5, 4, 14, "np-float_", "error", True),
        ("load.py", 5, 27, 5, 48, "pd-error_bad_lines", "error", False),
        ("load.py", 6, 13, 6, 25, "pd-iteritems", "error", True),
        ("load.py", 7, 14, 7, 22, "np-trapz", "warning", True),
    ]
    first = data["findings"][0]
    assert set(first) >= {
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "record",
        "library",
        "symbol",
        "severity",
        "message",
        "fixable",
    }
    assert first["message"].endswith("(numpy 2.0.0 pinned in requirements.txt). Use numpy.float64.")
    s = data["summary"]
    assert s["files_scanned"] == 2 and s["findings"] == 4 and s["fixable"] == 3
    assert s["environment"]["numpy"] == {"version": "2.0.0", "origin": "pinned in requirements.txt"}


def test_clean_project_exits_zero(capsys, project, bare_python):
    code, out, _ = run(capsys, project / "pkg" / "clean.py", "--python", bare_python)
    assert code == 0
    assert out.startswith("0 outdated calls in 1 file.")


def test_target_asks_what_an_upgrade_would_break(capsys, project, bare_python):
    (project / "requirements.txt").write_text("numpy==1.26.4\npandas==1.2.0\n")
    code, out, _ = run(capsys, project, "--python", bare_python, "--format", "json")
    assert code == 0 and json.loads(out)["findings"] == []
    code, out, _ = run(
        capsys, project, "--python", bare_python, "--format", "json", "--target", "numpy==2.0"
    )
    ids = [f["record"] for f in json.loads(out)["findings"]]
    assert code == 1 and ids == ["np-float_", "np-trapz"]
    assert "target numpy==2.0" in json.loads(out)["findings"][0]["message"]


def test_diff_changes_nothing(capsys, project, bare_python):
    before = (project / "pkg" / "load.py").read_bytes()
    code, out, _ = run(capsys, project, "--python", bare_python, "--diff")
    assert code == 1
    assert "-x = np.float_(1)\n+x = np.float64(1)" in out
    assert "+for k, v in df.items():" in out
    assert (project / "pkg" / "load.py").read_bytes() == before


def test_write_applies_fixes_and_reports_the_rest(capsys, project, bare_python):
    code, out, _ = run(capsys, project, "--python", bare_python, "--write", "--format", "json")
    assert code == 1  # error_bad_lines has no exact fix
    assert (project / "pkg" / "load.py").read_text() == LOAD_PY.replace(
        "np.float_", "np.float64"
    ).replace("iteritems", "items").replace("np.trapz", "np.trapezoid")
    data = json.loads(out)
    assert [f["record"] for f in data["findings"]] == ["pd-error_bad_lines"]
    assert data["summary"]["fixed"] == 3
    # a second run finds only what needs a person
    code, out, _ = run(capsys, project, "--python", bare_python, "--write")
    assert code == 1 and "0 fixed" in out


# chains across lines, in a file large enough to be parsed in part (the padding)
CHAINS_PY = (
    textwrap.dedent(
        """\
    import numpy as np
    import pandas as pd


    def load(path, npts):
        spec = dict(np=npts)  # a keyword argument, not a new np
        frame = (pd.read_csv(path)
                 .append(spec)
                 .reset_index())
        return (np  # one attribute a line
                .float_(frame.size)), np. \\
            trapz([1.0])
    """
    )
    + "\n\ndef pad():\n    return 0\n" * 300
)


def test_chains_across_lines(capsys, tmp_path, bare_python):
    src = tmp_path / "chains.py"
    src.write_text(CHAINS_PY)
    targets = ["--target", "numpy==2.0.0", "--target", "pandas==2.2.0"]
    code, out, _ = run(capsys, src, "--python", bare_python, "--format", "json", *targets)
    assert code == 1
    rows = [
        (f["line"], f["column"], f["end_line"], f["end_column"], f["record"])
        for f in json.loads(out)["findings"]
    ]
    assert rows == [
        (7, 14, 8, 21, "pd-append"),
        (10, 13, 11, 20, "np-float_"),
        (11, 35, 12, 14, "np-trapz"),
    ]
    code, out, _ = run(capsys, src, "--python", bare_python, "--write", *targets)
    assert src.read_text() == CHAINS_PY.replace(
        "pd.read_csv(path)\n             .append(spec)",
        "pd.concat([pd.read_csv(path), spec])",
    ).replace(".float_(", ".float64(").replace("trapz(", "trapezoid(")


def test_write_keeps_file_mode_and_encoding(capsys, tmp_path, bare_python):
    f = tmp_path / "legacy.py"
    f.write_bytes(
        "# -*- coding: latin-1 -*-\nimport numpy as np\ns = 'caf\xe9'\nx = np.float_\n".encode(
            "latin-1"
        )
    )
    os.chmod(f, 0o751)
    (tmp_path / "requirements.txt").write_text("numpy==2.0.0\n")
    code, _, _ = run(capsys, f, "--python", bare_python, "--write")
    assert code == 0
    assert (
        f.read_bytes()
        == "# -*- coding: latin-1 -*-\nimport numpy as np\ns = 'caf\xe9'\nx = np.float64\n".encode(
            "latin-1"
        )
    )
    assert oct(f.stat().st_mode & 0o777) == "0o751"


def test_never_overwrites_a_file_changed_after_it_was_read(tmp_path):
    f = tmp_path / "a.py"
    f.write_text("x = 1\n")
    source = files.read_source(f)
    f.write_text("x = 2  # the user's edit\n")
    with pytest.raises(files.ChangedOnDisk):
        files.write_atomic(source, b"x = 3\n")
    assert f.read_text() == "x = 2  # the user's edit\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]  # no temporary file left behind


def test_syntax_errors_are_scanned_never_rewritten(capsys, tmp_path, bare_python):
    (tmp_path / "requirements.txt").write_text("numpy==2.0.0\n")
    f = tmp_path / "broken.py"
    text = "import numpy as np\nx = np.float_(1)\ndef f(:\n"
    f.write_text(text)
    code, out, _ = run(capsys, tmp_path, "--python", bare_python, "--write")
    assert code == 1
    assert "broken.py:2:5: error [np-float_]" in out
    assert "never rewritten" in out
    assert f.read_text() == text


def test_unreadable_files_are_reported_and_the_run_goes_on(capsys, tmp_path, bare_python):
    (tmp_path / "requirements.txt").write_text("numpy==2.0.0\n")
    (tmp_path / "latin.py").write_bytes(b"import numpy as np\ns = 'caf\xe9'\n")
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "huge.py").write_text("import numpy as np\n" + "x = 1\n" * 200_000)
    (tmp_path / "ok.py").write_text("import numpy as np\nnp.float_\n")
    code, out, _ = run(
        capsys, tmp_path, "--python", bare_python, "--format", "json", "--max-file-size", "100000"
    )
    data = json.loads(out)
    reasons = {Path(s["path"]).name: s["reason"] for s in data["summary"]["files_skipped"]}
    assert set(reasons) == {"latin.py", "blob.py", "huge.py"}
    assert "not valid utf-8" in reasons["latin.py"]
    assert "binary" in reasons["blob.py"]
    assert "over the 100,000-byte limit" in reasons["huge.py"]
    assert code == 1 and [f["record"] for f in data["findings"]] == ["np-float_"]


def test_gitignore_and_tool_folders_are_honoured(capsys, tmp_path, bare_python):
    (tmp_path / "requirements.txt").write_text("numpy==2.0.0\n")
    (tmp_path / ".gitignore").write_text("generated/\n*_pb2.py\n")
    for rel in ("generated/a.py", "x_pb2.py", ".venv/lib/b.py", "node_modules/c.py", "src/d.py"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("import numpy as np\nnp.float_\n")
    code, out, _ = run(capsys, tmp_path, "--python", bare_python, "--format", "json")
    assert {Path(f["path"]).name for f in json.loads(out)["findings"]} == {"d.py"}


def test_sarif(capsys, project, bare_python):
    code, out, _ = run(capsys, project, "--python", bare_python, "--format", "sarif")
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    assert {r["id"] for r in run0["tool"]["driver"]["rules"]} == {
        "np-float_",
        "pd-error_bad_lines",
        "pd-iteritems",
        "np-trapz",
    }
    res = run0["results"][0]
    assert res["ruleId"] == "np-float_" and res["level"] == "error"
    region = res["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 5, "endLine": 4, "endColumn": 14}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "numpy"], "a target is LIBRARY==VERSION"),
        (["--python", "/nonexistent/python"], "interpreter not found"),
        (["/nonexistent/path"], "no such file or folder"),
        (["--model-url", "http://127.0.0.1:9"], "not available"),
    ],
)
def test_usage_errors_exit_2(capsys, project, args, message):
    code, _, err = run(capsys, project, *args)
    assert code == 2 and message in err


def test_broken_knowledge_base_records_are_reported_with_file_and_line(
    capsys, tmp_path, project, bare_python
):
    kb = tmp_path / "kb.jsonl"
    good = TEST_KB.read_text().splitlines()[0]
    kb.write_text(
        good
        + "\n{not json\n"
        + good.replace('"np-float_"', '"x"').replace('"removed"', '"vanished"')
        + "\n"
    )
    code = cli.main([str(project), "--python", bare_python, "--kb", str(kb), "--no-progress"])
    out, err = capsys.readouterr()
    assert f"{kb}:2: not valid JSON" in err
    assert f"{kb}:3: record 'x': kind must be one of" in err
    assert code == 1 and "[np-float_]" in out


@pytest.mark.integration
def test_parallel_jobs_give_the_same_report(project, bare_python, tmp_path):
    """Files of different sizes, so that the largest-first dispatch of --jobs 2 is not the
    walk's order: the report still lists them in the walk's order."""
    for i in range(12):
        (project / "pkg" / f"m{i:02}.py").write_text(LOAD_PY + "y = 1\n" * ((i * 7) % 5 * 300))

    def report(jobs: str) -> dict:
        out = subprocess.run(
            [
                "recode-migrate",
                str(project),
                "--python",
                bare_python,
                "--kb",
                str(TEST_KB),
                "--format",
                "json",
                "--jobs",
                jobs,
                "--no-progress",
            ],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 1, out.stderr
        return json.loads(out.stdout)

    one, two = report("1"), report("2")
    assert one == two
    assert one["summary"]["findings"] == 13 * 4
    names = [os.path.basename(f["path"]) for f in two["findings"]]
    added = [n for n in names if re.fullmatch(r"m\d\d\.py", n)]
    assert added == sorted(added) and len(set(added)) == 12


@pytest.mark.integration
def test_progress_bar_on_a_terminal_only(project, bare_python):
    import pty

    for i in range(25):
        (project / "pkg" / f"m{i}.py").write_text(CLEAN_PY)
    base = ["recode-migrate", str(project), "--python", bare_python, "--kb", str(TEST_KB)]

    def stderr_on_tty(*extra: str) -> bytes:
        leader, follower = pty.openpty()
        proc = subprocess.Popen([*base, *extra], stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks)

    assert b"27/27 files" in stderr_on_tty()
    assert b"files" not in stderr_on_tty("--no-progress")
    piped = subprocess.run(base, capture_output=True, timeout=60)
    assert b"files" not in piped.stderr
