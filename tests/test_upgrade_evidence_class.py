"""A test run's evidence of a class statement: scikit-learn 1.8+ refuses an estimator whose
class does not derive from BaseEstimator (``'Duck' object has no attribute
'__sklearn_tags__'``, raised in scikit-learn's own frames, as MAPIE 0.6.5's test estimators
hit it), and the ``base`` fix derives the class the traceback's files define from it. Through
main(argv) with the fake runner of test_upgrade_cli, the matching itself, and the fix's exact
output."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from packaging.version import Version

from recode.dataset.knowledge import FixKind, RecordError, load_knowledge_base
from recode.server.detector import Detector, Evidence, Proven
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion
from recode.server.upgrade import cli, evidence
from recode.server.upgrade.causes import classify
from recode.server.upgrade.runner import Completed
from recode.server.upgrade.testrun import Outcome, TestResult, TestRun
from tests.test_upgrade_cli import FakeRunner, env  # noqa: F401  (env: the fixture)

RECORD = "scikit-learn-1.8-get_tags-without-sklearn_tags"
SITE = "/venv/lib/python3.11/site-packages/sklearn"
INNER = "AttributeError: 'Duck' object has no attribute '__sklearn_tags__'"
# scikit-learn 1.9.1's own words (the error pytest shows last, the one a cause is read from)
OUTER = (
    "AttributeError: The following error was raised: 'Duck' object has no attribute "
    "'__sklearn_tags__'. It seems that there are no classes that implement `__sklearn_tags__` "
    "in the MRO and/or all classes in the MRO call `super().__sklearn_tags__()`. Make sure to "
    "inherit from `BaseEstimator` which implements `__sklearn_tags__` (or alternatively define "
    "`__sklearn_tags__` but we don't recommend this approach). Note that `BaseEstimator` needs "
    "to be on the right side of other Mixins in the inheritance order."
)
# pytest's long style as MAPIE's run under scikit-learn 1.9.1 wrote it (shortened): the error
# is raised in scikit-learn's frames; the project's frames are the test and its package
TRACEBACK = f"""\
estimator = <tests.test_tiny.Duck object at 0x7fcfc60fa0d0>

>           tags = estimator.__sklearn_tags__()
E           {INNER}

{SITE}/utils/_tags.py:281: AttributeError

During handling of the above exception, another exception occurred:

    def test_fitted():
>       assert fitted(Duck())

tests/test_tiny.py:13: \n\
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ \n\
tinyproj/__init__.py:5: in fitted
    check_is_fitted(estimator)
{SITE}/utils/validation.py:1715: in check_is_fitted
    tags = get_tags(estimator)
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ \n\

>               raise AttributeError(
E               {OUTER}

{SITE}/utils/_tags.py:289: AttributeError"""
PACKAGE = """\
from sklearn.utils.validation import check_is_fitted


def fitted(estimator):
    check_is_fitted(estimator)
    return True
"""
TESTS = """\
import numpy as np

from tinyproj import fitted


class Duck:
    def fit(self, X, y=None):
        self.fitted_ = True
        return self


def test_fitted():
    assert fitted(Duck())
"""
FIXED = """\
import numpy as np

from tinyproj import fitted
from sklearn.base import BaseEstimator


class Duck(BaseEstimator):
    def fit(self, X, y=None):
        self.fitted_ = True
        return self


def test_fitted():
    assert fitted(Duck())
"""


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


@pytest.fixture(scope="module")
def detector(kb):
    return Detector(kb, {"scikit-learn": LibraryVersion(Version("1.9.1"), "target")})


def project(tmp_path: Path, tests: str = TESTS, package: str = PACKAGE) -> Path:
    (tmp_path / "tinyproj").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "tinyproj" / "__init__.py").write_text(package)
    (tmp_path / "tests" / "test_tiny.py").write_text(tests)
    return tmp_path


def proofs_of(copy: Path, kb, text: str = TRACEBACK) -> list[evidence.Proof]:
    run = TestRun()
    run.results["t::x"] = TestResult("t::x", Outcome.FAILED, message=OUTER, text=text)
    causes = {"t::x": classify(OUTER, text, kb, {"scikit-learn": "1.9.1"})}
    files = sorted(str(p.relative_to(copy)) for p in copy.rglob("*.py"))
    return evidence.gather(run, causes, kb, copy, files)


def test_the_class_the_traceback_defines_is_derived_from_base_estimator(tmp_path, kb, detector):
    copy = project(tmp_path)
    [proof] = proofs_of(copy, kb)
    assert proof.record == RECORD and proof.refused is None
    assert (proof.path, proof.line) == ("tests/test_tiny.py", 6)
    source = TESTS.encode()
    assert detector.detect(source) == []  # the source alone: no finding
    [found] = detector.detect(source, evidence=[proof.evidence])
    assert found.record.id == RECORD and found.origin == "from the test run: t::x"
    assert source[found.start_byte : found.end_byte] == b"Duck"
    assert not found.applies(unsafe=False) and found.applies(unsafe=True)
    fixed = fix_source(source, detector, findings=[found], unsafe=True)
    assert fixed.source.decode() == FIXED
    evidence.check([proof], detector, copy, unsafe=False)
    assert proof.refused == "an unsafe fix: made only with --unsafe-fixes"
    [proof] = proofs_of(copy, kb)
    evidence.check([proof], detector, copy, unsafe=True)
    assert proof.refused is None
    assert evidence.by_file([proof]) == {"tests/test_tiny.py": [proof.evidence]}


def test_pythons_own_traceback_names_the_files_too(tmp_path, kb):
    """unittest's output: absolute paths, ``File "...", line N``."""
    copy = project(tmp_path)
    native = (
        "Traceback (most recent call last):\n"
        f'  File "{copy}/tests/test_tiny.py", line 13, in test_fitted\n'
        "    assert fitted(Duck())\n"
        f'  File "{copy}/tinyproj/__init__.py", line 5, in fitted\n'
        "    check_is_fitted(estimator)\n"
        f'  File "{SITE}/utils/_tags.py", line 289, in get_tags\n'
        "    raise AttributeError(\n"
        f"{OUTER}\n"
    )
    [proof] = proofs_of(copy, kb, native)
    assert proof.refused is None and (proof.path, proof.line) == ("tests/test_tiny.py", 6)


def test_two_classes_of_the_name_in_the_tracebacks_files_are_refused(tmp_path, kb):
    package = PACKAGE + "\n\nclass Duck:\n    pass\n"
    [proof] = proofs_of(project(tmp_path, package=package), kb)
    assert proof.evidence is None
    assert proof.refused == (
        "2 classes Duck in the traceback's files (tests/test_tiny.py:6, tinyproj/__init__.py:9)"
    )


def test_a_class_defined_outside_the_tracebacks_files_is_refused(tmp_path, kb):
    copy = project(tmp_path, tests=TESTS.replace("class Duck:", "class Goose:"))
    (copy / "tinyproj" / "ducks.py").write_text("class Duck:\n    pass\n")
    [proof] = proofs_of(copy, kb)
    assert proof.evidence is None
    assert proof.refused == "no class Duck is defined in the project's files of the traceback"


def test_a_class_with_bases_of_its_own_is_left_to_a_person(tmp_path, kb, detector):
    copy = project(tmp_path, tests=TESTS.replace("class Duck:", "class Duck(Mixin):"))
    [proof] = proofs_of(copy, kb)
    evidence.check([proof], detector, copy, unsafe=True)
    assert proof.refused == (
        "no exact fix here (the class has bases of its own: where the new base goes among them "
        "is for a person to decide)"
    )


def test_a_class_line_changed_since_the_run_is_refused(tmp_path, kb, detector):
    copy = project(tmp_path)
    [proof] = proofs_of(copy, kb)
    (copy / "tests" / "test_tiny.py").write_text(TESTS.replace("class Duck:", "\nclass Duck:"))
    evidence.check([proof], detector, copy, unsafe=True)
    assert proof.refused == "the line is not the one the test run showed (it changed since)"


# -- the fix's output --------------------------------------------------------------------------


def fixed(detector, kb, source: str, line: int, name: str = "Duck") -> str:
    record = next(r for r in kb.records if r.id == RECORD)
    text = source.splitlines()[line - 1]
    ev = Evidence(line, name, record, text, "t", Proven.CLASS)
    found = detector.detect(source.encode(), evidence=[ev])
    assert [f.record.id for f in found] == [RECORD]
    result = fix_source(source.encode(), detector, findings=found, unsafe=True)
    return result.source.decode()


@pytest.mark.parametrize(
    "source, line, expected",
    [
        # empty parentheses and `object` give their place to the base
        (
            "class Duck():\n    pass\n",
            1,
            "from sklearn.base import BaseEstimator\nclass Duck(BaseEstimator):\n    pass\n",
        ),
        (
            "class Duck(object):\n    pass\n",
            1,
            "from sklearn.base import BaseEstimator\nclass Duck(BaseEstimator):\n    pass\n",
        ),
        # the file's own import, under its alias; a decorated class in a function
        (
            "from sklearn.base import BaseEstimator as BE\n\n\ndef make():\n    @dataclass\n"
            "    class Duck:  # a test estimator\n        pass\n",
            6,
            "from sklearn.base import BaseEstimator as BE\n\n\ndef make():\n    @dataclass\n"
            "    class Duck(BE):  # a test estimator\n        pass\n",
        ),
        # `import sklearn.base`: spelled through it
        (
            "import sklearn.base\n\nclass Duck:\n    pass\n",
            3,
            "import sklearn.base\n\nclass Duck(sklearn.base.BaseEstimator):\n    pass\n",
        ),
    ],
)
def test_the_base_is_written_as_the_file_spells_it(detector, kb, source, line, expected):
    assert fixed(detector, kb, source, line) == expected


def test_another_class_on_the_line_is_no_site(detector, kb):
    record = next(r for r in kb.records if r.id == RECORD)
    source = b"class Goose:\n    pass\n"
    ev = Evidence(1, "Duck", record, "class Goose:", "t", Proven.CLASS)
    assert detector.detect(source, evidence=[ev]) == []


def test_a_base_fix_names_a_class_by_its_full_path():
    assert FixKind.BASE.parse({"kind": "base", "to": "sklearn.base.BaseEstimator"}, None).to == (
        "sklearn.base.BaseEstimator"
    )
    for to in (None, "BaseEstimator", "sklearn.base.", "sklearn base"):
        with pytest.raises(RecordError, match="full path of the class"):
            FixKind.BASE.parse({"kind": "base", "to": to}, None)
    with pytest.raises(RecordError, match="cannot apply to a parameter"):
        FixKind.BASE.parse({"kind": "base", "to": "sklearn.base.BaseEstimator"}, "x")


# -- end to end --------------------------------------------------------------------------------


class DuckRunner(FakeRunner):
    """pytest failing test_fitted as scikit-learn 1.9.1 does while tests/test_tiny.py's Duck
    does not derive from anything."""

    def _pytest(self, argv: list[str], cwd: Path) -> Completed:
        venv = Path(argv[0]).parent.parent
        new = "scikit-learn==1.9.1" in (venv / "pins.txt").read_text()
        lines = (cwd / "tests" / "test_tiny.py").read_text().splitlines()
        failure = ""
        if new and "class Duck:" in lines:
            failure = f"<failure message={quoteattr(OUTER)}>{escape(TRACEBACK)}</failure>"
        case = f'<testcase classname="tests.test_tiny" name="test_fitted">{failure}</testcase>'
        xml = next(a.split("=", 1)[1] for a in argv if a.startswith("--junitxml="))
        Path(xml).write_text(f"<testsuites><testsuite>{case}</testsuite></testsuites>")
        return Completed(1 if failure else 0, "", "")


def upgrade_sklearn(project: Path, *extra: str) -> int:
    argv = [str(project), "--to", "scikit-learn==1.9.1", "--from", "scikit-learn==1.3.2"]
    return cli.main([*argv, "--quiet", "--format", "json", *extra], runner=DuckRunner())


def test_recode_upgrade_derives_the_test_estimator_with_unsafe_fixes(env, capsys):  # noqa: F811
    (env / "tinyproj" / "__init__.py").write_text(PACKAGE)
    (env / "tests" / "test_tiny.py").write_text(TESTS)
    assert upgrade_sklearn(env) == 1  # safe fixes only: the test still fails
    doc = json.loads(capsys.readouterr().out)
    [proof] = doc["from_tests"]
    assert proof["refused"] == "an unsafe fix: made only with --unsafe-fixes"
    assert doc["diff"] == ""
    assert upgrade_sklearn(env, "--unsafe-fixes") == 0
    doc = json.loads(capsys.readouterr().out)
    [proof] = doc["from_tests"]
    assert (proof["path"], proof["line"], proof["record"], proof["fixed"]) == (
        "tests/test_tiny.py",
        6,
        RECORD,
        True,
    )
    assert "+class Duck(BaseEstimator):" in doc["diff"]
    assert "+from sklearn.base import BaseEstimator" in doc["diff"]
    assert doc["summary"]["fixed"] == 1 and doc["broken_by_upgrade"] == 1
    assert (env / "tests" / "test_tiny.py").read_text() == TESTS  # the user's tree
