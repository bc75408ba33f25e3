"""Project configuration ([tool.recode], recode.toml), --select/--ignore and --exclude, through
recode-migrate's main()."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recode.server import cli
from tests.conftest import TEST_KB

OUTDATED = "import numpy as np\nimport pandas as pd\nx = np.float_(1)\ny = np.trapz([1.0])\n"
PANDAS = "import pandas as pd\nfor k, v in pd.DataFrame().iteritems():\n    pass\n"


def run(capsys, *args: object) -> tuple[int, str, str]:
    code = cli.main([*map(str, args), "--kb", str(TEST_KB), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys, *args: object) -> tuple[list[tuple[str, str]], dict]:
    """(file name, record) of each finding, and the summary."""
    code, out, err = run(capsys, *args, "--format", "json")
    assert code in (0, 1), err
    data = json.loads(out)
    return sorted((Path(f["path"]).name, f["record"]) for f in data["findings"]), data["summary"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text(OUTDATED)
    (root / "pkg" / "sub" / "frame.py").write_text(PANDAS)
    return root


def pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n\n[tool.recode]\n" + body)


def test_pyproject_is_found_from_a_subfolder(capsys, project, monkeypatch):
    pyproject(
        project,
        'targets = ["numpy==2.0.0", "pandas==2.2.0"]\nmin-severity = "error"\nunsafe-fixes = true\n',
    )
    monkeypatch.chdir(project.parent)
    rows, summary = report(capsys, project / "pkg")
    assert rows == [("frame.py", "pd-iteritems"), ("mod.py", "np-float_")]  # trapz: a warning
    assert summary["environment"]["numpy"] == {"version": "2.0.0", "origin": "target"}
    # a flag wins over the file
    rows, _ = report(capsys, project / "pkg", "--min-severity", "warning")
    assert ("mod.py", "np-trapz") in rows
    rows, summary = report(capsys, project / "pkg", "--target", "numpy==1.26.0")
    assert summary["environment"]["numpy"]["version"] == "1.26.0"
    assert ("mod.py", "np-float_") not in rows


def test_the_nearest_file_wins_and_recode_toml_before_pyproject(capsys, project):
    pyproject(project, 'targets = ["numpy==2.0.0", "pandas==2.2.0"]\nselect = ["pandas"]\n')
    rows, _ = report(capsys, project)
    assert rows == [("frame.py", "pd-iteritems")]
    # a pyproject.toml without [tool.recode] on the way is passed over
    (project / "pkg" / "pyproject.toml").write_text("[project]\nname = 'inner'\n")
    assert report(capsys, project / "pkg")[0] == [("frame.py", "pd-iteritems")]
    # a recode.toml nearer the paths wins, and in one folder .recode.toml > recode.toml > pyproject
    (project / "pkg" / "recode.toml").write_text(
        'targets = ["numpy==2.0.0"]\nselect = ["np-float_"]\n'
    )
    assert report(capsys, project / "pkg")[0] == [("mod.py", "np-float_")]
    (project / "pkg" / ".recode.toml").write_text(
        'targets = ["numpy==2.0.0"]\nselect = ["np-t*"]\n'
    )
    assert report(capsys, project / "pkg")[0] == [("mod.py", "np-trapz")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("colour = 'red'\n", "unknown key tool.recode.colour"),
        ("select = 'numpy'\n", "tool.recode.select must be a list of strings"),
        ("unsafe-fixes = 'yes'\n", "tool.recode.unsafe-fixes must be true or false"),
        ("min-severity = 'loud'\n", "tool.recode.min-severity must be one of"),
        ("targets = ['numpy=>2']\n", "tool.recode.targets:"),
        ("per-file-ignores = { 'a.py' = 'numpy' }\n", "tool.recode.per-file-ignores must be"),
        ("select = [\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_an_error_naming_the_key_and_the_file(capsys, project, body, message):
    pyproject(project, body)
    code, out, err = run(capsys, project)
    assert code == 2 and out == ""
    assert f"recode-migrate: {project / 'pyproject.toml'}: " in err
    assert message in err


def test_the_same_keys_at_the_top_of_recode_toml(capsys, project):
    (project / "recode.toml").write_text("[tool.recode]\nselect = ['numpy']\n")
    code, _, err = run(capsys, project)
    assert code == 2 and "recode.toml: unknown key tool (known keys: targets," in err


def test_select_and_ignore_on_the_command_line(capsys, project):
    pyproject(project, 'targets = ["numpy==2.0.0", "pandas==2.2.0"]\nignore = ["pandas"]\n')
    rows, _ = report(capsys, project)
    assert rows == [("mod.py", "np-float_"), ("mod.py", "np-trapz")]
    # --ignore replaces the file's list; ids, globs and library names, comma-separated
    rows, _ = report(capsys, project, "--ignore", "np-float_")
    assert rows == [("frame.py", "pd-iteritems"), ("mod.py", "np-trapz")]
    rows, _ = report(capsys, project, "--select", "pd-*,np-trapz", "--ignore", "")
    assert rows == [("frame.py", "pd-iteritems"), ("mod.py", "np-trapz")]
    rows, _ = report(capsys, project, "--select", "numpy", "--ignore", "np-t*")
    assert rows == [("mod.py", "np-float_")]
    code, _, err = run(capsys, project, "--select", "nmupy")
    assert code == 0 and "'nmupy' names no checked record" in err


def test_select_also_decides_what_write_fixes(capsys, project):
    pyproject(project, 'targets = ["numpy==2.0.0", "pandas==2.2.0"]\nselect = ["np-trapz"]\n')
    assert run(capsys, project, "--write")[0] == 0
    assert (project / "pkg" / "mod.py").read_text() == OUTDATED.replace("trapz", "trapezoid")


def test_per_file_ignores_relative_to_the_file(capsys, project, monkeypatch):
    pyproject(
        project,
        'targets = ["numpy==2.0.0", "pandas==2.2.0"]\n'
        '[tool.recode.per-file-ignores]\n"pkg/sub/**" = ["pandas"]\n"mod.py" = ["np-trapz"]\n',
    )
    monkeypatch.chdir(project / "pkg" / "sub")  # the patterns are the file's, not the cwd's
    rows, summary = report(capsys, project)
    assert rows == [("mod.py", "np-float_")]
    assert summary["suppressed"] == 2


def test_exclude_patterns(capsys, project, monkeypatch):
    pyproject(project, 'targets = ["numpy==2.0.0", "pandas==2.2.0"]\nextend-exclude = ["sub/"]\n')
    build = project / "build"
    build.mkdir()
    (build / "gen.py").write_text(OUTDATED)
    monkeypatch.chdir(project.parent)  # the file's patterns are relative to its folder
    assert report(capsys, project)[1]["files_scanned"] == 1  # build/ by default, sub/ by the file
    # --extend-exclude replaces the file's extend-exclude, the defaults stay
    assert report(capsys, project, "--extend-exclude", "nothing")[1]["files_scanned"] == 2
    # --exclude replaces the default list: build/ is scanned, the file's sub/ still skipped
    monkeypatch.chdir(project)
    rows, summary = report(capsys, project, "--exclude", "pkg/mod.py")
    assert summary["files_scanned"] == 1 and rows[0][0] == "gen.py"
    # a file named on the command line is scanned whatever the patterns say
    assert report(capsys, project / "pkg" / "sub" / "frame.py")[1]["files_scanned"] == 1


def test_exclude_from_the_file(capsys, project):
    pyproject(project, 'targets = ["numpy==2.0.0"]\nexclude = ["/pkg/sub", "*.pyi"]\n')
    build = project / "build"
    build.mkdir()
    (build / "gen.py").write_text(OUTDATED)
    (project / "pkg" / "stub.pyi").write_text(OUTDATED)
    rows, summary = report(capsys, project)
    assert summary["files_scanned"] == 2
    assert {r[0] for r in rows} == {"gen.py", "mod.py"}


def test_python_relative_to_the_file(capsys, project):
    venv = project / "tools" / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    dist = site / "numpy-1.26.4.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\n")
    pyproject(project, 'python = "tools/env"\n')
    _, summary = report(capsys, project / "pkg")
    assert summary["environment"]["numpy"] == {"version": "1.26.4", "origin": "installed"}


def test_cli_as_a_subprocess_reads_the_file(project):
    pyproject(project, 'targets = ["numpy==2.0.0"]\nselect = ["np-float_"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "recode.server.cli", "--kb", str(TEST_KB), "pkg"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "pkg/mod.py:3:5: error [np-float_]" in done.stdout
    assert "1 outdated call" in done.stdout


def test_the_files_model_is_used_by_diff_and_write_only(capsys, project):
    # nothing listens on port 9: an endpoint check would fail
    pyproject(project, 'targets = ["numpy==2.0.0"]\nmodel-url = "http://127.0.0.1:9/v1"\n')
    code, out, err = run(capsys, project)
    assert code == 1 and "np-float_" in out and "model" not in err
    code, _, err = run(capsys, project, "--diff", "--model-retries", "0", "--model-timeout", "2")
    assert code == 2 and "the model endpoint is not available" in err
