"""The project's test command in an environment, its outcomes read from JUnit XML.

pytest (the default, ``--test "pytest -q"``) runs as ``python -m pytest`` of the environment,
with ``-p no:cacheprovider`` (nothing written into the copy), ``--continue-on-collection-errors``
(a module that fails to import does not hide the others' results) and ``--junitxml``: outcomes
and failure texts are read from the XML, never parsed from pytest's console output. Another
command is run through the shell with the environment active; its exit status is then the one
outcome known: the run gets one verdict (passed or failed), and the report says that its tests
cannot be counted (``TestRun.counted``).
"""

from __future__ import annotations

import enum
import shlex
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from recode.server.upgrade.runner import Runner
from recode.server.upgrade.venvs import activated, venv_python

#: pytest's exit statuses that mean the tests did not run (interrupted, internal error, usage
#: error, nothing collected); 1 means some failed, 0 none.
_DID_NOT_RUN = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
COLLECTION_FAILURE = "collection failure"  # pytest's message of a module that failed to import
#: pytest's words for a conftest.py that failed to import: no test ran, and no JUnit XML says
#: why; the run is then one failure of this id, standing for every test (see outcome.stories).
CONFTEST_FAILURE = "ImportError while loading conftest"
SESSION = "(test session)"


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # an error outside the test body (a fixture, or the module's import)
    SKIPPED = "skipped"

    @property
    def bad(self) -> bool:
        return self in (Outcome.FAILED, Outcome.ERROR)


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class
    id: str
    outcome: Outcome
    message: str = ""  # the failure's one-line message (the exception, as pytest gives it)
    text: str = ""  # the traceback
    collection: bool = False  # the test module could not be imported


@dataclass
class TestRun:
    __test__ = False
    results: dict[str, TestResult] = field(default_factory=dict)
    returncode: int = 0
    timed_out: bool = False
    problem: str | None = None  # why the tests did not run at all
    output: str = ""  # the tail of the command's output, for a person
    #: False for a command other than pytest: one verdict for the whole run, stored as one
    #: result under the command's own id; the number of tests is not known
    counted: bool = True

    def failing(self) -> dict[str, TestResult]:
        return {k: r for k, r in self.results.items() if r.outcome.bad}

    @property
    def green(self) -> bool:
        return self.problem is None and not self.failing()


def is_pytest(argv: list[str]) -> bool:
    return argv[:1] == ["pytest"] or argv[1:3] == ["-m", "pytest"]


def run_tests(
    venv: Path, project: Path, command: str, runner: Runner, *, timeout: float
) -> TestRun:
    argv = shlex.split(command)
    env = activated(venv)
    env.setdefault("MPLBACKEND", "Agg")  # no display: matplotlib tests draw off-screen
    src = project / "src"
    env["PYTHONPATH"] = str(src if src.is_dir() else project)  # a project pip cannot install
    if not is_pytest(argv):
        done = runner(command, cwd=project, env=env, timeout=timeout, shell=True)
        run = TestRun(returncode=done.returncode, timed_out=done.timed_out, counted=False)
        run.output = _tail(done.stdout + done.stderr)
        outcome = Outcome.PASSED if done.returncode == 0 and not done.timed_out else Outcome.FAILED
        run.results[command] = TestResult(command, outcome, text=run.output)
        if done.timed_out:
            run.problem = f"the test command ran past --test-timeout ({timeout:g} s)"
        return run
    rest = argv[1:] if argv[0] == "pytest" else argv[3:]
    with tempfile.TemporaryDirectory(prefix="recode-junit-") as tmp:
        xml = Path(tmp) / "junit.xml"
        full = [str(venv_python(venv)), "-m", "pytest", "-p", "no:cacheprovider"]
        full += ["--continue-on-collection-errors", f"--junitxml={xml}", *rest]
        done = runner(full, cwd=project, env=env, timeout=timeout)
        run = TestRun(returncode=done.returncode, timed_out=done.timed_out)
        run.output = _tail(done.stdout + done.stderr)
        if xml.is_file():
            try:
                run.results = parse_junit(xml.read_text("utf-8", "replace"))
            except ET.ParseError as exc:
                run.problem = f"pytest's JUnit XML cannot be read: {exc}"
    if done.timed_out:
        run.problem = f"the tests ran past --test-timeout ({timeout:g} s) and were stopped"
    elif CONFTEST_FAILURE in done.stdout + done.stderr and not run.results:
        text = (done.stdout + done.stderr)[-20000:]
        run.results[SESSION] = TestResult(
            SESSION, Outcome.ERROR, message=CONFTEST_FAILURE, text=text, collection=True
        )
    elif done.returncode in _DID_NOT_RUN and not run.results:
        run.problem = f"pytest did not run the tests ({_DID_NOT_RUN[done.returncode]})"
    elif not run.results:
        run.problem = f"pytest exited with {done.returncode} and reported no test"
    return run


def parse_junit(text: str) -> dict[str, TestResult]:
    """Test id (``classname::name``) -> result, from pytest's JUnit XML."""
    root = ET.fromstring(text)
    out: dict[str, TestResult] = {}
    for case in root.iter("testcase"):
        cls, name = case.get("classname", ""), case.get("name", "")
        test_id = f"{cls}::{name}" if cls else name
        result = TestResult(test_id, Outcome.PASSED)
        for tag, outcome in (("failure", Outcome.FAILED), ("error", Outcome.ERROR)):
            node = case.find(tag)
            if node is not None:
                message = node.get("message", "")
                result = TestResult(
                    test_id,
                    outcome,
                    message=message,
                    text=node.text or "",
                    collection=message == COLLECTION_FAILURE,
                )
                break
        else:
            if case.find("skipped") is not None:
                result = TestResult(test_id, Outcome.SKIPPED)
        if test_id in out and out[test_id].outcome.bad:
            continue  # a test that failed and then errored in teardown: the failure counts
        out[test_id] = result
    return out


def _tail(text: str, limit: int = 4000) -> str:
    return text[-limit:]
