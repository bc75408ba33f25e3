"""recode-upgrade end to end through main(argv), with a fake of the one seam that starts
processes (pip, venv, pytest): the fake pytest fails a test while the copy under test still
uses an API its numpy lacks, as numpy 2 does. The run with real installs is at the end."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

from recode.server.upgrade import cli
from recode.server.upgrade.runner import Completed, run

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinyproj"
version = "0.1"
dependencies = ["numpy>=1.20"]

[tool.setuptools]
packages = ["tinyproj"]
"""
MODULE = """\
import numpy as np


def as_float(x):
    return np.float_(x)


def total(values):
    return np.product(values)


def mean(values):
    return float(np.mean(values))
"""
TESTS = """\
from tinyproj import as_float, mean, total


def test_as_float():
    assert as_float(3) == 3.0


def test_total():
    assert total([2, 3, 4]) == 24


def test_mean():
    assert mean([1, 2, 3]) == 2.0
"""
# numpy 2.4.6's messages, as the real run (test_real_upgrade below) gets them
REMOVED = {
    "np.float_": "AttributeError: `np.float_` was removed in the NumPy 2.0 release. "
    "Use `np.float64` instead.",
    "np.product": "AttributeError: module 'numpy' has no attribute 'product'",
}


def make_project(root: Path) -> Path:
    (root / "tinyproj").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "tinyproj" / "__init__.py").write_text(MODULE)
    (root / "tests" / "test_tiny.py").write_text(TESTS)
    return root


class FakeRunner:
    """pip, venv and pytest as far as recode-upgrade sees them."""

    def __init__(self, conflict: str | None = None) -> None:
        self.conflict = conflict
        self.venvs_made = 0
        self.on_pytest = None  # called before each test run (to interrupt, or edit files)
        self.pytest_timeout = False
        self.extra_cases = ""  # more <testcase> elements, the same in every run
        #: a test's next failure once its removed API is fixed (pytest's E lines and message)
        self.revealed: dict[str, tuple[str, str]] = {}
        self.calls: list[list[str]] = []

    def __call__(self, argv, *, cwd=None, env=None, timeout=None, shell=False):
        if shell:
            return self._unittest(argv, Path(cwd), env)
        argv = [argv] if isinstance(argv, str) else list(argv)
        self.calls.append(argv)
        # regression: pip saw this process's PYTHONPATH, took pytest as installed and left it out
        assert env is not None, argv
        assert env.get("PYTHONPATH") in (None, str(cwd)), argv  # pytest: the copy only
        if argv[1:2] == ["-c"]:
            return Completed(0, "3.11.7 (fake)\n", "")
        if "--dry-run" in argv:
            return self._report(argv)
        if argv[1:3] == ["-m", "venv"]:
            (Path(argv[3]) / "bin").mkdir(parents=True)
            self.venvs_made += 1
            return Completed(0, "", "")
        if argv[1:4] == ["-m", "pip", "install"]:
            if "-e" not in argv:
                venv = Path(argv[0]).parent.parent
                pins = [a for a in argv if "==" in a]
                (venv / "pins.txt").write_text("\n".join(pins))
            return Completed(0, "", "")
        if argv[1:3] == ["-m", "pytest"]:
            return self._pytest(argv, Path(cwd))
        raise AssertionError(f"unexpected command {argv}")

    def _report(self, argv: list[str]) -> Completed:
        if self.conflict:
            return Completed(1, "", "Collecting numpy\nERROR: Cannot install x\n" + self.conflict)
        args = argv[argv.index("-") + 1 :]
        install = [
            {
                "metadata": {"name": a.split("==")[0], "version": a.split("==")[1]},
                "download_info": {},
            }
            for a in args
            if "==" in a
        ]
        if "--no-deps" in argv:
            install = [{"metadata": {"name": a, "version": "2.4.6"}} for a in args]
        elif "-e" in args:
            install.append(
                {
                    "metadata": {"name": "tinyproj", "version": "0.1"},
                    "download_info": {"dir_info": {}},
                }
            )
            if not any(i["metadata"]["name"] == "numpy" for i in install):
                install.append({"metadata": {"name": "numpy", "version": "1.26.4"}})
        return Completed(0, json.dumps({"install": install}), "")

    def _unittest(self, command: str, cwd: Path, env) -> Completed:
        """`python -m unittest` through the shell: unittest's own words, and its status."""
        self.calls.append([command])
        assert command == "python -m unittest", command
        numpy2 = "numpy==2" in (Path(env["VIRTUAL_ENV"]) / "pins.txt").read_text()
        source = (cwd / "tinyproj" / "__init__.py").read_text()
        broken = [
            api for api in ("np.float_", "np.product") if re.search(re.escape(api) + r"\b", source)
        ]
        if numpy2 and broken:
            errors = "".join(
                f"ERROR: test_x (tests.test_tiny.T.test_x)\nTraceback (most recent call last):\n"
                f"    return {api}(x)\n{REMOVED[api]}\n\n"
                for api in broken
            )
            return Completed(
                1, "", f"{errors}Ran 3 tests in 0.001s\n\nFAILED (errors={len(broken)})\n"
            )
        return Completed(0, "", "...\nRan 3 tests in 0.001s\n\nOK\n")

    def _pytest(self, argv: list[str], cwd: Path) -> Completed:
        if self.on_pytest is not None:
            self.on_pytest(cwd)
        if self.pytest_timeout:
            return Completed(-9, "", "", timed_out=True)
        venv = Path(argv[0]).parent.parent
        numpy2 = "numpy==2" in (venv / "pins.txt").read_text()
        source = (cwd / "tinyproj" / "__init__.py").read_text()
        cases = []
        for name, api in (("test_as_float", "np.float_"), ("test_total", "np.product")):
            if numpy2 and re.search(re.escape(api) + r"\b", source):
                text = f">       return {api}(x)\nE       {REMOVED[api]}"
                failure = f"<failure message={quoteattr(REMOVED[api])}>{text}</failure>"
            elif numpy2 and name in self.revealed:
                text, message = self.revealed[name]
                failure = f"<failure message={quoteattr(message)}>{escape(text)}</failure>"
            else:
                failure = ""
            cases.append(
                f'<testcase classname="tests.test_tiny" name="{name}">{failure}</testcase>'
            )
        cases.append('<testcase classname="tests.test_tiny" name="test_mean"/>')
        cases.append(self.extra_cases)
        xml = next(a.split("=", 1)[1] for a in argv if a.startswith("--junitxml="))
        Path(xml).write_text(f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>")
        return Completed(1 if "<failure" in "".join(cases) else 0, "", "")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    monkeypatch.setattr("recode.server.upgrade.venvs.shutil.which", lambda _: None)
    return make_project(tmp_path / "proj")


def upgrade(project: Path, runner: FakeRunner, *extra: str) -> int:
    argv = [str(project), "--to", "numpy==2.4.6", "--from", "numpy==1.26.4", "--quiet", *extra]
    return cli.main(argv, runner=runner)


def test_a_run_fixes_the_copy_and_leaves_the_tree_alone(env, capsys):
    runner = FakeRunner()
    assert upgrade(env, runner, "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["changes"] == [{"name": "numpy", "before": "1.26.4", "after": "2.4.6"}]
    assert {f["record"] for f in doc["findings"]} == {"numpy-2.0-float_", "numpy-2.0-product"}
    assert doc["summary"]["fixed"] == 2 and doc["summary"]["passing"] == 1
    assert doc["broken_by_upgrade"] == 2
    causes = {g["label"]: g["tests"] for g in doc["causes"]}
    assert causes == {
        "numpy-2.0-float_": {"fixed": ["tests.test_tiny::test_as_float"]},
        "numpy-2.0-product": {"fixed": ["tests.test_tiny::test_total"]},
    }
    assert (
        "+    return np.float64(x)" in doc["diff"] and "+    return np.prod(values)" in doc["diff"]
    )
    assert (env / "tinyproj" / "__init__.py").read_text() == MODULE
    assert runner.venvs_made == 2
    assert upgrade(env, runner) == 0  # the environments come from the cache
    assert runner.venvs_made == 2


def test_write_brings_the_migrated_files_back(env, capsys):
    assert upgrade(env, FakeRunner(), "--write") == 0
    text = (env / "tinyproj" / "__init__.py").read_text()
    assert "np.float64(x)" in text and "np.prod(values)" in text


def test_write_never_overwrites_a_file_changed_during_the_run(env, capsys):
    runner = FakeRunner()
    edited = MODULE + "# the user's edit\n"
    runner.on_pytest = lambda _cwd: (env / "tinyproj" / "__init__.py").write_text(edited)
    assert upgrade(env, runner, "--write", "--format", "json") == 0
    assert (env / "tinyproj" / "__init__.py").read_text() == edited
    doc = json.loads(capsys.readouterr().out)
    assert any("changed since the upgrade copied it" in x for x in doc["left"])
    assert doc["written"] is False


def test_markdown_and_text_reports(env, capsys):
    upgrade(env, FakeRunner(), "--format", "markdown")
    out = capsys.readouterr().out
    assert "| numpy | 1.26.4 | 2.4.6 |" in out and "```diff" in out
    upgrade(env, FakeRunner())
    out = capsys.readouterr().out
    assert "numpy: 1.26.4 -> 2.4.6" in out and "2 fixed, 1 passing" in out


def test_breaks_left_give_status_1(env, capsys):
    (env / "tinyproj" / "__init__.py").write_text(
        MODULE.replace("np.product(values)", "np.product(values)  # recode: ignore")
    )
    assert upgrade(env, FakeRunner(), "--format", "json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["still failing"] == 1 and doc["summary"]["fixed"] == 1


# what numdifftools' tests met once numpy-1.25-finfo-machar was fixed: numpy's own TypeError
NANPERCENTILE = (
    "TypeError: '<' not supported between instances of 'complex' and 'complex'",
    ">       return np.nanpercentile(values, 50)\n\n"
    ".venv/lib/python3.11/site-packages/numpy/lib/_nanfunctions_impl.py:1390: in nanpercentile\n"
    "E       TypeError: '<' not supported between instances of 'complex' and 'complex'",
)
# a name no record has: an unknown break with a candidate record
NANPRODUCT = (
    "AttributeError: module 'numpy' has no attribute 'nanproduct'",
    ">       return np.nanproduct(values)\nE       AttributeError: module 'numpy' has no "
    "attribute 'nanproduct'",
)


def test_a_test_still_failing_is_reported_with_the_error_it_fails_with_now(env, capsys):
    """regression: numdifftools' 3 tests still failing after the migration were reported under
    numpy-1.25-finfo-machar, which the migration fixed, not the TypeError they failed with."""
    runner = FakeRunner()
    runner.revealed = {"test_as_float": NANPERCENTILE[::-1], "test_total": NANPRODUCT[::-1]}
    assert upgrade(env, runner, "--format", "json") == 1
    doc = json.loads(capsys.readouterr().out)
    results = {r["id"]: r for r in doc["results"]}
    as_float = results["tests.test_tiny::test_as_float"]
    assert (as_float["verdict"], as_float["cause"]["record"]) == (
        "still failing",
        "numpy-2.0-float_",
    )
    assert as_float["now"] == {
        "kind": "unknown break",
        "error": NANPERCENTILE[0],
        "library": "numpy",
        "record": None,
        "replacement": None,
        "candidate": None,
    }
    total = results["tests.test_tiny::test_total"]
    assert (total["cause"]["record"], total["now"]["error"]) == ("numpy-2.0-product", NANPRODUCT[0])
    assert results["tests.test_tiny::test_mean"]["now"] is None
    nanproduct = {
        "library": "numpy",
        "symbol": "numpy.nanproduct",
        "kind": "removed",
        "version": "2.4.6",
    }
    assert doc["unknown_breaks"] == [nanproduct]
    assert [(g["label"], g["tests"], g["before"]) for g in doc["causes"]] == [
        (
            f"unknown break: {NANPERCENTILE[0]}",
            {"still failing": ["tests.test_tiny::test_as_float"]},
            {"numpy-2.0-float_": ["tests.test_tiny::test_as_float"]},
        ),
        (
            "unknown: numpy.nanproduct",
            {"still failing": ["tests.test_tiny::test_total"]},
            {"numpy-2.0-product": ["tests.test_tiny::test_total"]},
        ),
    ]
    assert upgrade(env, runner) == 1
    text = capsys.readouterr().out
    assert text.split("By cause:\n", 1)[1].split("\n\n", 1)[0].splitlines() == [
        f"  unknown break: {NANPERCENTILE[0]}: 1 still failing (at the target versions: "
        f"1 numpy-2.0-float_) — {NANPERCENTILE[0]}",
        "  unknown: numpy.nanproduct: 1 still failing (at the target versions: 1 numpy-2.0-product) "
        f"— {NANPRODUCT[0]}",
    ]
    assert f"Unknown breaks (candidate knowledge-base records):\n  {json.dumps(nanproduct)}" in text
    assert upgrade(env, runner, "--format", "markdown") == 1
    markdown = capsys.readouterr().out
    assert (
        "## By cause\n\n"
        f"- unknown break: {NANPERCENTILE[0]}: 1 still failing (at the target versions: "
        f"1 numpy-2.0-float_) — {NANPERCENTILE[0]}\n"
        "- unknown: numpy.nanproduct: 1 still failing (at the target versions: 1 numpy-2.0-product) "
        f"— {NANPRODUCT[0]}\n"
    ) in markdown


def test_a_resolver_conflict_names_the_constraint(env, capsys):
    conflict = "The conflict is caused by:\n    tinyproj 0.1 depends on numpy<2\n"
    assert upgrade(env, FakeRunner(conflict=conflict)) == 2
    assert "tinyproj 0.1 depends on numpy<2" in capsys.readouterr().err


def test_usage_errors(env, capsys):
    assert cli.main([str(env)], runner=FakeRunner()) == 2
    assert "--to" in capsys.readouterr().err
    assert cli.main([str(env / "nope"), "--to", "numpy"], runner=FakeRunner()) == 2
    assert cli.main([str(env), "--to", "numpy>=2"], runner=FakeRunner()) == 2
    assert "NAME==VERSION" in capsys.readouterr().err


def test_an_interrupted_run_leaves_the_tree_as_it_was(env, tmp_path, capsys):
    runner = FakeRunner()

    def interrupt(cwd: Path) -> None:
        (cwd / "tinyproj" / "__init__.py").write_text("half-migrated")
        raise KeyboardInterrupt

    runner.on_pytest = interrupt
    assert upgrade(env, runner, "--write") == 2
    assert (env / "tinyproj" / "__init__.py").read_text() == MODULE
    assert "interrupted" in capsys.readouterr().err


def test_tests_that_cannot_run_are_a_runtime_error(env, capsys):
    runner = FakeRunner()
    runner.pytest_timeout = True
    assert upgrade(env, runner, "--test-timeout", "5") == 2
    assert "--test-timeout (5 s)" in capsys.readouterr().err


def test_another_test_command_gives_one_verdict_per_run(env, capsys):
    runner = FakeRunner()
    assert upgrade(env, runner, "--test", "python -m unittest", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counted"] is False
    runs = doc["runs"]
    assert [runs[r]["verdict"] for r in ("baseline", "target", "migrated")] == [
        "passed",
        "failed",
        "passed",
    ]
    assert runs["target"]["counts"] is None and runs["target"]["returncode"] == 1
    assert doc["summary"]["fixed"] == 1 and doc["broken_by_upgrade"] == 1
    # the run's cause is read from the command's output: an error its tracebacks end on
    assert doc["causes"][0]["label"] in {"numpy-2.0-float_", "numpy-2.0-product"}
    upgrade(env, FakeRunner(), "--test", "python -m unittest")
    text = capsys.readouterr().out
    assert "Tests target: the command failed (exit status 1; one verdict" in text
    assert "its tests cannot be counted" in text
    assert "1 fixed" not in text and "Result: fixed (one verdict" in text


# pytest's JUnit XML for a module that cannot be imported (a package the environments lack)
# and a test whose service is not running
UNRELATED = """\
<testcase classname="" name="tests.test_cache"><error message="collection failure">\
ImportError while importing test module 'tests/test_cache.py'.
E   ModuleNotFoundError: No module named 'redis'</error></testcase>
<testcase classname="tests.test_db" name="test_query"><failure \
message="ConnectionRefusedError: [Errno 111] Connection refused">&gt;       conn = connect()
E       ConnectionRefusedError: [Errno 111] Connection refused</failure></testcase>
"""


def test_tests_that_fail_for_other_reasons_are_reported_as_unrelated(env, capsys):
    """A collection error and a missing service, in every run: not the upgrade's breaks, and
    not failing at the baseline's account either when there is no baseline."""
    runner = FakeRunner()
    runner.extra_cases = UNRELATED
    argv = [str(env), "--to", "numpy==2.4.6", "--quiet", "--format", "json"]
    assert cli.main(argv, runner=runner) == 1  # they still fail: not green
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["unrelated"] == 2 and doc["summary"]["fixed"] == 2
    verdicts = {r["id"]: (r["verdict"], r["cause"]["kind"]) for r in doc["results"] if r["cause"]}
    assert verdicts["tests.test_cache"] == ("unrelated", "unrelated")
    assert verdicts["tests.test_db::test_query"] == ("unrelated", "unrelated")
    labels = {g["label"] for g in doc["causes"]}
    assert "unrelated: ModuleNotFoundError: No module named 'redis'" in labels
    assert doc["unknown_breaks"] == []


def test_a_run_that_times_out_after_the_migration_is_reported(env, capsys):
    """Each run has its own timeout: the migrated run's stop is reported, not taken as green."""
    runner = FakeRunner()
    runs = []

    def count(_cwd: Path) -> None:
        runs.append(1)
        runner.pytest_timeout = len(runs) == 3  # baseline, target, then the migrated run

    runner.on_pytest = count
    assert upgrade(env, runner, "--test-timeout", "7", "--format", "json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["runs"]["migrated"]["problem"] == (
        "the tests ran past --test-timeout (7 s) and were stopped"
    )
    assert doc["runs"]["target"]["problem"] is None


def test_plan_only_makes_no_environment(env, capsys):
    runner = FakeRunner()
    assert upgrade(env, runner, "--plan") == 1  # the knowledge base has findings
    assert runner.venvs_made == 0
    assert "numpy-2.0-float_" in capsys.readouterr().out


@pytest.fixture
def unsafe_kb(tmp_path):
    """The two numpy records the tiny project hits, np.product's rename marked unsafe."""
    shipped = Path(__file__).resolve().parents[1] / "dataset" / "kb" / "numpy.jsonl"
    records = []
    for line in shipped.read_text().splitlines():
        record = json.loads(line)
        if record["id"] == "numpy-2.0-product":
            record["fix"].update(applicability="unsafe", unsafe_because="a made-up corner case")
        if record["id"] in ("numpy-2.0-float_", "numpy-2.0-product"):
            records.append(json.dumps(record))
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "numpy.jsonl").write_text("\n".join(records) + "\n")
    return folder


def test_unsafe_fixes_are_made_only_when_asked(env, unsafe_kb, capsys):
    assert upgrade(env, FakeRunner(), "--kb", str(unsafe_kb), "--format", "json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["unsafe_fixes"] is False
    assert {f["record"]: f["fix"] for f in doc["findings"]} == {
        "numpy-2.0-float_": "safe",
        "numpy-2.0-product": "unsafe",
    }
    assert doc["summary"]["fixed"] == 1
    assert "+    return np.float64(x)" in doc["diff"] and "np.prod(" not in doc["diff"]
    assert any("numpy-2.0-product" in x for x in doc["left"])

    assert upgrade(env, FakeRunner(), "--kb", str(unsafe_kb), "--unsafe-fixes") == 0
    out = capsys.readouterr().out
    assert "+    return np.prod(values)" in out
    assert "numpy-2.0-product: " in out and "(unsafe fix)" in out


def test_the_project_configuration_can_ask_for_unsafe_fixes(env, unsafe_kb, capsys):
    with (env / "pyproject.toml").open("a") as f:
        f.write("\n[tool.recode]\nunsafe-fixes = true\n")
    assert upgrade(env, FakeRunner(), "--kb", str(unsafe_kb), "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["summary"]["fixed"] == 2
    # the flag overrides the configuration, as recode-migrate's does
    args = ("--kb", str(unsafe_kb), "--no-unsafe-fixes", "--format", "markdown")
    assert upgrade(env, FakeRunner(), *args) == 1
    assert "(unsafe fix: not made without --unsafe-fixes)" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.integration
def test_real_upgrade(tmp_path):
    """numpy 1.26.4 -> 2.4.6 with real installs (cached in the default cache after the first
    run) and the real pytest."""
    project = make_project(tmp_path / "proj")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "recode.server.upgrade.cli", str(project), "--to", "numpy==2.4.6"]
        + ["--from", "numpy==1.26.4", "--format", "json", "--test-timeout", "300"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["runs"]["baseline"]["counts"]["passed"] == 3
    assert doc["runs"]["target"]["counts"]["failed"] == 2
    assert doc["runs"]["migrated"]["counts"]["passed"] == 3
    assert doc["summary"]["fixed"] == 2
    assert {g["label"] for g in doc["causes"]} == {"numpy-2.0-float_", "numpy-2.0-product"}
    assert (project / "tinyproj" / "__init__.py").read_text() == MODULE


def test_latest_moves_each_library_the_project_uses(env, capsys):
    runner = FakeRunner()
    argv = [str(env), "--to", "latest", "--from", "numpy==1.26.4", "--format", "json", "--quiet"]
    assert cli.main(argv, runner=runner) == 0
    lookup = next(c for c in runner.calls if "--no-deps" in c and "--dry-run" in c)
    assert lookup[-1:] == ["numpy"]  # the one knowledge-base library tinyproj uses
    assert json.loads(capsys.readouterr().out)["targets"] == {"numpy": "2.4.6"}


def test_a_model_that_does_not_answer_is_a_runtime_error(env, capsys):
    assert upgrade(env, FakeRunner(), "--model-url", "http://127.0.0.1:9/v1") == 2
    assert "model" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.integration
def test_a_terminated_run_removes_its_copy(tmp_path):
    """SIGTERM during the tests: the temporary copy goes, the project stays as it was."""
    project = make_project(tmp_path / "proj")
    (project / "tests" / "test_slow.py").write_text(
        "import time\n\ndef test_slow():\n    time.sleep(60)\n"
    )
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "recode.server.upgrade.cli", str(project), "--to", "numpy==2.4.6"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stderr:  # type: ignore[union-attr]
        if "running the tests" in line:
            break
    proc.terminate()
    assert proc.wait(timeout=60) == 2
    assert "interrupted" in proc.stderr.read()  # type: ignore[union-attr]
    assert not any(p.name.startswith("recode-upgrade-") for p in tmp.iterdir())
    assert (project / "tinyproj" / "__init__.py").read_text() == MODULE


# -- a project in a git checkout is migrated on a git worktree ----------------------------------


WHICH = shutil.which  # the real one: the fixtures make uv look absent


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def _worktrees(root: Path) -> list[str]:
    lines = _git(root, "worktree", "list", "--porcelain").splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.startswith("worktree ")]


@pytest.fixture
def checkout(env, monkeypatch):
    """tinyproj as a git checkout with a commit, an edit not committed, an untracked module and
    an ignored folder; git runs for real, the rest through the fake."""
    monkeypatch.setattr(
        "recode.server.upgrade.venvs.shutil.which", lambda n: WHICH(n) if n == "git" else None
    )
    (env / ".gitignore").write_text("data/\n")
    _git(env, "init", "-q")
    _git(env, "add", ".")
    _git(env, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    (env / "tinyproj" / "__init__.py").write_text(MODULE + "EDITED = True\n")
    (env / "tinyproj" / "extra.py").write_text("import numpy as np\nX = np.float_\n")
    (env / "data").mkdir()
    (env / "data" / "big.bin").write_bytes(b"\0" * 1000)
    return env


class GitRunner(FakeRunner):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict] = []

    def __call__(self, argv, *, cwd=None, env=None, timeout=None, shell=False):
        if not isinstance(argv, str) and argv[0] == "git":
            return run(argv, cwd=cwd, env=env, timeout=timeout)
        return super().__call__(argv, cwd=cwd, env=env, timeout=timeout, shell=shell)

    def _pytest(self, argv, cwd):
        self.seen.append(
            {
                # a worktree's .git is a file, at its top
                "worktree": any((p / ".git").is_file() for p in (cwd, *cwd.parents)),
                "edited": "EDITED = True" in (cwd / "tinyproj" / "__init__.py").read_text(),
                "untracked": (cwd / "tinyproj" / "extra.py").is_file(),
                "ignored": (cwd / "data").exists(),
            }
        )
        return super()._pytest(argv, cwd)


def test_a_git_checkout_is_migrated_on_a_worktree_of_the_users_state(checkout, capsys):
    status = _git(checkout, "status", "--porcelain")
    runner = GitRunner()
    assert upgrade(checkout, runner, "--format", "json") == 0
    assert runner.seen and all(
        s == {"worktree": True, "edited": True, "untracked": True, "ignored": False}
        for s in runner.seen
    )
    doc = json.loads(capsys.readouterr().out)
    assert "+X = np.float64" in doc["diff"]  # the untracked module was migrated too
    # the checkout as it was: files, status, and no worktree left registered
    assert (checkout / "tinyproj" / "__init__.py").read_text() == MODULE + "EDITED = True\n"
    assert _git(checkout, "status", "--porcelain") == status
    assert _worktrees(checkout) == [str(checkout)]
    assert not any((checkout / ".git" / "worktrees").glob("*"))


def test_write_from_a_worktree_reaches_the_users_files(checkout, capsys):
    assert upgrade(checkout, GitRunner(), "--write") == 0
    assert "np.float64" in (checkout / "tinyproj" / "extra.py").read_text()
    assert "EDITED = True" in (checkout / "tinyproj" / "__init__.py").read_text()


def test_an_interrupted_run_on_a_worktree_unregisters_it(checkout, capsys):
    runner = GitRunner()

    def interrupt(cwd: Path) -> None:
        raise KeyboardInterrupt

    runner.on_pytest = interrupt
    assert upgrade(checkout, runner, "--write") == 2
    assert _worktrees(checkout) == [str(checkout)]
    assert (checkout / "tinyproj" / "__init__.py").read_text() == MODULE + "EDITED = True\n"


def test_a_checkout_without_a_commit_is_copied(env, monkeypatch, capsys):
    """git worktree needs a HEAD: a fresh `git init` falls back to the copy."""
    monkeypatch.setattr(
        "recode.server.upgrade.venvs.shutil.which", lambda n: WHICH(n) if n == "git" else None
    )
    _git(env, "init", "-q")
    runner = GitRunner()
    assert upgrade(env, runner, "--format", "json") == 0
    assert runner.seen and not any(s["worktree"] for s in runner.seen)


@pytest.mark.parametrize("ignored", [False, True])
def test_a_project_in_a_subfolder_of_a_checkout(tmp_path, monkeypatch, capsys, ignored):
    """A subfolder is migrated on a worktree of the whole checkout, unless git ignores it (a
    project unpacked into a cache folder is not the checkout's)."""
    monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    monkeypatch.setattr(
        "recode.server.upgrade.venvs.shutil.which", lambda n: WHICH(n) if n == "git" else None
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitignore").write_text("vendor/\n")
    project = make_project(repo / ("vendor" if ignored else "libs") / "proj")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    runner = GitRunner()
    assert upgrade(project, runner, "--write") == 0
    assert runner.seen and all(s["worktree"] is not ignored for s in runner.seen)
    assert "np.float64(x)" in (project / "tinyproj" / "__init__.py").read_text()
    assert _worktrees(repo) == [str(repo)]


def _held(venv: Path) -> bool:
    """Whether some open file holds the environment's lock (a second open file description
    cannot take it without waiting)."""
    import fcntl

    with venv.with_name(f"{venv.name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_a_test_run_holds_its_environment(env, capsys):
    """Two recode-upgrades of one project share the cached environments, and each test run
    installs its own copy there first: the install and the run hold the environment."""
    runner = FakeRunner()
    seen: list[bool] = []

    def check(cwd: Path) -> None:
        venvs = [p for p in (env.parent / "cache" / "upgrade").iterdir() if p.is_dir()]
        seen.append(len(venvs) == 2 and sum(_held(v) for v in venvs) == 1)  # the one in use

    runner.on_pytest = check
    assert upgrade(env, runner) == 0
    assert seen and all(seen)
    venvs = [p for p in (env.parent / "cache" / "upgrade").iterdir() if p.is_dir()]
    assert not any(_held(v) for v in venvs)  # released after the run


def test_a_run_waits_for_another_using_its_environment(tmp_path):
    from recode.server.upgrade import venvs

    venv, released = tmp_path / "env", tmp_path / "released"
    venv.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, pathlib, time\n"
            f"f = open({str(venv.with_name('env.lock'))!r}, 'a')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(1)\n"
            f"pathlib.Path({str(released)!r}).touch()\nfcntl.flock(f, fcntl.LOCK_UN)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    said: list[str] = []
    with venvs.in_use(venv, said.append):
        assert released.exists()  # entered only once the other process let go
    assert said == [f"waiting for another recode-upgrade using {venv}"]
    holder.wait()
