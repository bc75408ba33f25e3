"""recode-upgrade's plan: --to, the pip arguments of the project, pip's report, and the
testrun's reading of pytest's JUnit XML."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from recode.dataset.knowledge import load_knowledge_base
from recode.server.upgrade import plan, runner, testrun
from recode.server.upgrade.causes import classify
from recode.server.upgrade.runner import Completed

DATA = Path(__file__).parent / "data" / "upgrade"


def test_parse_to():
    assert plan.parse_to(["numpy==2.4", "Pandas"]) == {"numpy": "2.4", "pandas": None}
    assert plan.parse_to(["latest"]) == {"latest": None}
    for bad in (["numpy>=2"], ["numpy==2,<3"], ["latest", "numpy"], ["numpy==x.y"], ["=="]):
        with pytest.raises(plan.PlanError):
            plan.parse_to(bad)


def test_requirements_drop_the_pins_of_the_libraries_moved(tmp_path):
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\nscipy>=1.5  # fits\n-r dev.txt\n")
    (tmp_path / "dev.txt").write_text("pytest-timeout\n")
    args = plan.requirements(tmp_path, {"numpy": "2.4.6"}, ["hypothesis"])
    assert args == [
        "-e",
        str(tmp_path),
        "scipy>=1.5",
        "pytest-timeout",
        "numpy==2.4.6",
        "hypothesis",
        "pytest",
    ]
    assert plan.requirements(tmp_path / "nothing", {}, [], "") == []


def test_resolve_reads_pips_report_and_leaves_the_project_out():
    report = {
        "install": [
            {"metadata": {"name": "NumPy", "version": "2.4.6"}, "download_info": {"url": "x"}},
            {"metadata": {"name": "tinyproj", "version": "0.1"}, "download_info": {"dir_info": {}}},
        ]
    }
    seen = []

    def runner(argv, **_):
        seen.append(argv)
        return Completed(0, json.dumps(report), "")

    resolution = plan.resolve("py", ["-e", "/p", "numpy==2.4.6"], runner)
    assert resolution.versions == {"numpy": "2.4.6"}
    assert resolution.key() == ["numpy==2.4.6"]
    assert seen[0][:4] == ["py", "-m", "pip", "install"]
    assert {"--dry-run", "--ignore-installed", "--report"} <= set(seen[0])


def test_a_conflict_is_pips_own_text():
    stderr = (
        "Collecting numpy==2.4.6\n"
        "ERROR: Cannot install numpy==2.4.6 and tinyproj because these package versions have "
        "conflicting dependencies.\n\nThe conflict is caused by:\n"
        "    tinyproj 0.1 depends on numpy<2\n"
    )
    with pytest.raises(plan.PlanError) as info:
        plan.resolve("py", [], lambda argv, **_: Completed(1, "", stderr))
    assert str(info.value).startswith("ERROR: Cannot install numpy==2.4.6")
    assert "tinyproj 0.1 depends on numpy<2" in str(info.value)


def test_used_libraries(tmp_path):
    (tmp_path / "m.py").write_text("import numpy as np\nfrom sklearn import svm\nimport os\n")
    (tmp_path / "requirements.txt").write_text("pandas==1.5\nrequests\n")
    kb = load_knowledge_base()
    assert plan.used_libraries(tmp_path, kb) == ["numpy", "pandas", "scikit-learn"]


def test_junit_of_a_real_run():
    results = testrun.parse_junit((DATA / "junit-numpy-2.4.6-pandas-3.1.1.xml").read_text())
    outcomes = [r.outcome for r in results.values()]
    assert outcomes.count(testrun.Outcome.FAILED) == 10
    assert outcomes.count(testrun.Outcome.ERROR) == 1
    assert outcomes.count(testrun.Outcome.PASSED) == 0
    collect = results["tests.test_collect"]
    assert collect.collection and "cannot import name 'product'" in collect.text


def test_another_test_command_has_one_outcome(tmp_path):
    def runner(argv, **kw):
        assert kw["shell"] and argv == "make check"
        return Completed(2, "boom\n", "")

    run = testrun.run_tests(tmp_path, tmp_path, "make check", runner, timeout=10)
    assert run.results["make check"].outcome is testrun.Outcome.FAILED
    assert "boom" in run.results["make check"].text


UNITTEST = """\
import unittest


class T(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(1, 1)

    def test_bad(self):
        self.assertEqual(1, {bad})
"""


@pytest.mark.parametrize("bad, verdict", [(2, testrun.Outcome.FAILED), (1, testrun.Outcome.PASSED)])
def test_a_real_unittest_run_is_one_verdict_and_not_counted(tmp_path, bad, verdict):
    (tmp_path / "test_u.py").write_text(UNITTEST.format(bad=bad))
    venv = tmp_path / "venv"  # no bin/: `python` is the one on PATH
    run = testrun.run_tests(venv, tmp_path, "python -m unittest", runner.run, timeout=120)
    assert run.counted is False and run.problem is None
    assert list(run.results) == ["python -m unittest"]
    assert run.results["python -m unittest"].outcome is verdict
    assert "Ran 2 tests" in run.output


def test_a_test_command_past_its_timeout_is_stopped_with_its_children(tmp_path):
    """The per-run timeout: the command and what it started are killed, and the run says so."""
    pid_file = tmp_path / "child.pid"
    command = f"sh -c 'sleep 60 & echo $! > {pid_file}; wait'"
    started = time.monotonic()
    run = testrun.run_tests(tmp_path, tmp_path, command, runner.run, timeout=2)
    assert time.monotonic() - started < 30
    assert run.timed_out and run.problem == "the test command ran past --test-timeout (2 s)"
    child = int(pid_file.read_text())
    for _ in range(50):  # the kill is sent; the child is reaped by init
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the test command's child {child} is still running")


def test_pytest_that_runs_nothing_is_a_problem(tmp_path):
    run = testrun.run_tests(
        tmp_path, tmp_path, "pytest -q", lambda argv, **_: Completed(4, "", "usage"), timeout=10
    )
    assert run.problem == "pytest did not run the tests (usage error)"
    assert not run.green


def test_pytest_that_wrote_no_report_is_a_problem(tmp_path):
    """regression: pytest missing from the environment (exit 1, no XML) read as "no tests"."""
    run = testrun.run_tests(
        tmp_path,
        tmp_path,
        "pytest",
        lambda argv, **_: Completed(1, "", "No module named pytest"),
        timeout=10,
    )
    assert run.problem == "pytest exited with 1 and reported no test"


def test_a_conftest_that_fails_to_import_is_one_failure_of_the_session(tmp_path):
    """regression: numdifftools 0.9.39 under numpy 2.4.6 (real output: its conftest imports the
    package, which reads np.finfo(float).machar) was 'tests cannot run', the cause unread."""
    output = (DATA / "conftest-numdifftools-0.9.39-numpy-2.4.6.txt").read_text()
    run = testrun.run_tests(
        tmp_path, tmp_path, "pytest -q", lambda argv, **_: Completed(4, output, ""), timeout=10
    )
    assert run.problem is None
    session = run.results[testrun.SESSION]
    assert session.outcome is testrun.Outcome.ERROR and session.collection
    kb = load_knowledge_base()
    cause = classify(session.message, session.text, kb, {"numpy": "2.4.6"}, collection=True)
    assert cause.record is not None and cause.record.id == "numpy-1.25-finfo-machar"
