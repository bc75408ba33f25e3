"""A failing test's traceback as evidence of a finding the source does not show: through
main(argv) with the fake runner of test_upgrade_cli (its pytest failing with matplotlib 3.9's
real error while the copy reads ``legend.legendHandles`` of a parameter), and the matching
itself: the frame, the class, the line, the one attribute."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector, Evidence, Proven, evidence_site
from recode.server.fixes import fix_source
from recode.server.parsing import parse
from recode.server.severity import LibraryVersion
from recode.server.upgrade import cli, evidence
from recode.server.upgrade.causes import classify
from recode.server.upgrade.runner import Completed
from recode.server.upgrade.testrun import Outcome, TestResult, TestRun, parse_junit
from tests.test_upgrade_cli import FakeRunner, env  # noqa: F401  (env: the fixture)

DATA = Path(__file__).parent / "data" / "upgrade"
LEGEND_ERROR = "AttributeError: 'Legend' object has no attribute 'legendHandles'"
RECORD = "matplotlib-3.9-Legend-legendHandles"
# a function of the project whose parameter is a Legend (nothing in the file says so), and one
# that reads the attribute again further on: fixing the first reveals the second
LEGEND_MODULE = """\
def handles_of(legend):
    return [h for h in legend.legendHandles]


def count(legend):
    handles = legend.legendHandles
    return len(handles)


def summary(legend):
    return handles_of(legend), count(legend)
"""
# pytest's long style, as pytest 8 writes it into the JUnit XML (checked against a real run)
TRACEBACK = """\
def test_summary():
>       assert summary(Legend()) == ([], 0)

tests/test_tiny.py:5: \n\
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ \n\

legend = <matplotlib.legend.Legend object at 0x7f2f6a48ea50>

    def {func}(legend):
>       {source}
                           ^^^^^^^^^^^^^^^^^^^^
E       {error}

tinyproj/__init__.py:{line}: AttributeError"""


class LegendRunner(FakeRunner):
    """pytest failing test_summary as matplotlib 3.9 does while the copy reads
    ``.legendHandles``: the traceback's innermost frame is the first line that reads it."""

    def _pytest(self, argv: list[str], cwd: Path) -> Completed:
        venv = Path(argv[0]).parent.parent
        mpl39 = "matplotlib==3.9" in (venv / "pins.txt").read_text()
        lines = (cwd / "tinyproj" / "__init__.py").read_text().splitlines()
        at = next((i for i, line in enumerate(lines) if ".legendHandles" in line), None)
        failure = ""
        if mpl39 and at is not None:
            func = next(
                re.match(r"def (\w+)", line).group(1)  # type: ignore[union-attr]
                for line in reversed(lines[:at])
                if line.startswith("def ")
            )
            text = TRACEBACK.format(
                func=func, source=lines[at].strip(), error=LEGEND_ERROR, line=at + 1
            )
            failure = f"<failure message={quoteattr(LEGEND_ERROR)}>{escape(text)}</failure>"
        case = f'<testcase classname="tests.test_tiny" name="test_summary">{failure}</testcase>'
        xml = next(a.split("=", 1)[1] for a in argv if a.startswith("--junitxml="))
        Path(xml).write_text(f"<testsuites><testsuite>{case}</testsuite></testsuites>")
        return Completed(1 if failure else 0, "", "")


def upgrade_matplotlib(project: Path, runner: FakeRunner, *extra: str) -> int:
    argv = [str(project), "--to", "matplotlib==3.9.0", "--from", "matplotlib==3.6.0", "--quiet"]
    return cli.main([*argv, *extra], runner=runner)


def test_the_traceback_proves_the_class_and_each_round_fixes_the_next(env, capsys):  # noqa: F811
    (env / "tinyproj" / "__init__.py").write_text(LEGEND_MODULE)
    assert upgrade_matplotlib(env, LegendRunner(), "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == []  # the source alone shows nothing
    assert doc["summary"]["fixed"] == 1 and doc["broken_by_upgrade"] == 1
    proofs = doc["from_tests"]
    assert [(p["path"], p["line"], p["round"], p["fixed"]) for p in proofs] == [
        ("tinyproj/__init__.py", 2, 1, True),
        ("tinyproj/__init__.py", 6, 2, True),
    ]
    assert {p["record"] for p in proofs} == {RECORD}
    assert proofs[0]["origin"] == "from the test run: tests.test_tiny::test_summary"
    assert "+    return [h for h in legend.legend_handles]" in doc["diff"]
    assert "+    handles = legend.legend_handles" in doc["diff"]
    changed = [x for x in doc["diff"].splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---")]
    assert len(changed) == 4  # only the two lines, nothing else
    assert (env / "tinyproj" / "__init__.py").read_text() == LEGEND_MODULE  # the user's tree
    upgrade_matplotlib(env, LegendRunner())
    text = capsys.readouterr().out
    assert "Findings from the test runs" in text
    assert (
        f"tinyproj/__init__.py:2: {RECORD} (from the test run: tests.test_tiny::test_summary)"
        ": fixed" in text
    )
    upgrade_matplotlib(env, LegendRunner(), "--format", "markdown")
    assert "## Findings from the test runs" in capsys.readouterr().out


def test_two_reads_on_the_failing_line_are_refused_and_reported(env, capsys):  # noqa: F811
    module = LEGEND_MODULE.replace(
        "[h for h in legend.legendHandles]", "legend.legendHandles + other.legendHandles"
    ).replace("def handles_of(legend):", "def handles_of(legend, other=None):")
    (env / "tinyproj" / "__init__.py").write_text(module)
    assert upgrade_matplotlib(env, LegendRunner(), "--format", "json", "--write") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["diff"] == ""
    [proof] = doc["from_tests"]
    assert not proof["fixed"]
    assert "2 attributes .legendHandles on the line" in proof["refused"]
    assert (env / "tinyproj" / "__init__.py").read_text() == module


# -- the matching ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


@pytest.fixture(scope="module")
def detector(kb):
    return Detector(
        kb,
        {
            "matplotlib": LibraryVersion(Version("3.9.0"), "target"),
            "pandas": LibraryVersion(Version("2.2.0"), "target"),
        },
    )


def record(kb, record_id):
    return next(r for r in kb.records if r.id == record_id)


def failing(text: str, error: str = LEGEND_ERROR) -> TestRun:
    run = TestRun()
    run.results["t::x"] = TestResult("t::x", Outcome.FAILED, message=error, text=text)
    return run


def proofs_of(run: TestRun, kb, copy: Path) -> list[evidence.Proof]:
    causes = {
        t: classify(r.message, r.text, kb, {"matplotlib": "3.9.0"})
        for t, r in run.failing().items()
    }
    files = [str(p.relative_to(copy)) for p in copy.rglob("*.py")]
    return evidence.gather(run, causes, kb, copy, files)


def project(tmp_path: Path, source: str) -> Path:
    (tmp_path / "tinyproj").mkdir()
    (tmp_path / "tinyproj" / "__init__.py").write_text(source)
    return tmp_path


def long_text(source_line: str, line: int, error: str = LEGEND_ERROR) -> str:
    return TRACEBACK.format(func="handles_of", source=source_line, error=error, line=line)


def test_the_class_and_member_an_error_names():
    assert evidence.owner_and_name(LEGEND_ERROR) == ("Legend", "legendHandles")
    numpy = "AttributeError: 'numpy.ndarray' object has no attribute 'ptp'"
    assert evidence.owner_and_name(numpy) == ("numpy.ndarray", "ptp")
    # reached through the class, which the source names: the detector's normal path
    assert (
        evidence.owner_and_name("AttributeError: type object 'Legend' has no attribute 'x'") is None
    )


def test_the_frame_of_each_traceback_style():
    text = long_text("return [h for h in legend.legendHandles]", 2)
    assert evidence.innermost_frame(text) == evidence.Frame(
        "tinyproj/__init__.py", 2, "return [h for h in legend.legendHandles]"
    )
    short = (
        "tests/test_tiny.py:5: in test_summary\n    assert summary(Legend())\n"
        "tinyproj/__init__.py:6: in count\n    handles = legend.legendHandles\n"
        f"E   {LEGEND_ERROR}\n"
    )
    assert evidence.innermost_frame(short) == evidence.Frame(
        "tinyproj/__init__.py", 6, "handles = legend.legendHandles"
    )
    native = (
        "Traceback (most recent call last):\n"
        '  File "/x/tests/test_tiny.py", line 5, in test_summary\n    summary(Legend())\n'
        '  File "/x/tinyproj/__init__.py", line 6, in count\n'
        "    handles = legend.legendHandles\n              ^^^^^^^^^^^^^^^^^^^^\n"
        f"{LEGEND_ERROR}\n"
    )
    assert evidence.innermost_frame(native) == evidence.Frame(
        "/x/tinyproj/__init__.py", 6, "handles = legend.legendHandles"
    )
    assert evidence.innermost_frame(f"E   {LEGEND_ERROR}") is None


def test_a_failure_gives_the_site_and_the_detector_finds_it(tmp_path, kb, detector):
    copy = project(tmp_path, LEGEND_MODULE)
    [proof] = proofs_of(failing(long_text("return [h for h in legend.legendHandles]", 2)), kb, copy)
    assert proof.refused is None and (proof.path, proof.line) == ("tinyproj/__init__.py", 2)
    source = LEGEND_MODULE.encode()
    assert detector.detect(source) == []  # the normal path is unchanged: no class, no finding
    [found] = detector.detect(source, evidence=[proof.evidence])
    assert found.record.id == RECORD and found.start.line == 1
    assert found.origin == "from the test run: t::x" and found.edits is not None


def test_two_matches_on_the_line_are_refused(tmp_path, kb, detector):
    line = "return legend.legendHandles + other.legendHandles"
    copy = project(
        tmp_path, LEGEND_MODULE.replace("return [h for h in legend.legendHandles]", line)
    )
    [proof] = proofs_of(failing(long_text(line, 2)), kb, copy)
    source = (copy / "tinyproj" / "__init__.py").read_bytes()
    assert detector.detect(source, evidence=[proof.evidence]) == []
    evidence.check([proof], detector, copy, unsafe=False)
    assert proof.refused == "2 attributes .legendHandles on the line (which one raised?)"
    assert evidence.by_file([proof]) == {}


def test_a_name_in_a_string_or_a_longer_name_is_no_match(kb, detector):
    line = 'return legendHandles_x, "legend.legendHandles", legend.legendHandles'
    source = f"def handles_of(legend):\n    {line}\n".encode()
    ev = Evidence(2, "legendHandles", record(kb, RECORD), line, "t")
    site = evidence_site(source, parse(source).root_node, ev)
    assert not isinstance(site, str) and source[site.start_byte : site.end_byte] == (
        b"legend.legendHandles"
    )


def test_a_class_that_is_not_the_records_is_refused(tmp_path, kb):
    """An error naming another class, whose cause a record still explains (a record found by
    the member's name, say): not that record's site."""
    copy = project(tmp_path, LEGEND_MODULE)
    error = "AttributeError: 'Artist' object has no attribute 'legendHandles'"
    cause = classify(LEGEND_ERROR, long_text("x", 2), kb, {"matplotlib": "3.9.0"})
    cause.error = error
    text = long_text("return [h for h in legend.legendHandles]", 2, error)
    files = ["tinyproj/__init__.py"]
    proof = evidence.prove("t::x", text, cause, kb, copy, files)
    assert proof is not None and proof.evidence is None
    assert proof.refused == "'Artist' is not matplotlib.legend.Legend or a subclass of it"
    assert evidence.class_matches("DatetimeIndex", "pandas.Index", kb)  # a subclass by bases
    assert not evidence.class_matches("Series", "pandas.Index", kb)


def test_a_line_changed_since_the_run_is_refused(tmp_path, kb, detector):
    copy = project(tmp_path, LEGEND_MODULE)
    [proof] = proofs_of(failing(long_text("return [h for h in legend.legendHandles]", 2)), kb, copy)
    changed = LEGEND_MODULE.replace("def handles_of(legend):\n", "def handles_of(legend):\n\n")
    (copy / "tinyproj" / "__init__.py").write_text(changed)
    assert detector.detect(changed.encode(), evidence=[proof.evidence]) == []
    evidence.check([proof], detector, copy, unsafe=False)
    assert proof.refused == "the line is not the one the test run showed (it changed since)"


def test_a_frame_outside_the_project_is_refused(tmp_path, kb):
    copy = project(tmp_path, LEGEND_MODULE)
    text = long_text("return self.legendHandles", 2).replace(
        "tinyproj/__init__.py:2:", "/venv/lib/python3.11/site-packages/matplotlib/x.py:2:"
    )
    [proof] = proofs_of(failing(text), kb, copy)
    assert proof.refused == "the error was raised outside the project's files"


def test_an_unsafe_fix_waits_for_unsafe_fixes(tmp_path, kb, detector):
    line = "return frame.append(row)"
    copy = project(tmp_path, f"def add(frame, row):\n    {line}\n")
    error = "AttributeError: 'DataFrame' object has no attribute 'append'"
    text = long_text(line, 2, error)
    run = failing(text, error)
    causes = {"t::x": classify(error, text, kb, {"pandas": "2.2.0"})}
    files = ["tinyproj/__init__.py"]
    [proof] = evidence.gather(run, causes, kb, copy, files)
    assert proof.record == "pandas-2.0-DataFrame-append"
    evidence.check([proof], detector, copy, unsafe=False)
    assert proof.refused == "an unsafe fix: made only with --unsafe-fixes"
    [proof] = evidence.gather(run, causes, kb, copy, files)
    evidence.check([proof], detector, copy, unsafe=True)
    assert proof.refused is None


def test_a_method_call_on_an_attribute_takes_the_records_template(kb):
    """quantities 0.13.0 under NumPy 2.4: ``self.magnitude.ptp(...)``, an ndarray that only the
    error names; the record's method template is made there."""
    line = "ret = self.magnitude.ptp(axis, None if out is None else out.magnitude)"
    source = f"import numpy as np\n\n\ndef ptp(self, axis=None, out=None):\n    {line}\n"
    detector = Detector(kb, {"numpy": LibraryVersion(Version("2.4.6"), "target")})
    ev = Evidence(5, "ptp", record(kb, "numpy-2.0-ndarray-ptp"), line, "from the test run: t")
    [found] = detector.detect(source.encode(), evidence=[ev])
    fixed = fix_source(source.encode(), detector, findings=[found]).source.decode()
    assert "ret = np.ptp(self.magnitude, axis, None if out is None else out.magnitude)" in fixed


# -- errors that name no class: the frame after the line, or none, proves it -----------------

# pandas 3.1's KeyError out of Series.__getitem__ as pytest writes it into the JUnit XML (the
# project's frame in the short style, pandas' after it; checked against empyrical's real run)
KEY_TRACEBACK = """\
tinyproj/__init__.py:{line}: in {func}
    {source}
    ^^^^^^^^^
/venv/lib/python3.11/site-packages/pandas/core/series.py:1102: in __getitem__
    return self._get_value(key)
           ^^^^^^^^^^^^^^^^^^^^
/venv/lib/python3.11/site-packages/pandas/core/series.py:1189: in _get_value
    loc = self.index.get_loc(label)
          ^^^^^^^^^^^^^^^^^^^^^^^^^
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ \n\

self = DatetimeIndex(['2000-01-30', '2000-01-31'], dtype='datetime64[us]', freq='D')
key = 0

    def get_loc(self, key):
        else:
            # unrecognized type
>           raise KeyError(key)
E           KeyError: 0

/venv/lib/python3.11/site-packages/pandas/core/indexes/datetimes.py:2237: KeyError"""
KEY_MODULE = """\
def total(result):
    out = 0.0
    for i in range(result.size):
        out += result[i]
    return out
"""
POSITIONAL = "pandas-3.0-Series-getitem-positional"
SCALAR = "numpy-2.4-ndarray-to-scalar"
UPGRADED = {"numpy": "2.4.6", "pandas": "3.1.1"}


@pytest.fixture(scope="module")
def detector3(kb):
    return Detector(kb, {k: LibraryVersion(Version(v), "target") for k, v in UPGRADED.items()})


def proven_fix(kb, detector3, copy: Path, text: str, error: str, unsafe: bool = False):
    """The proofs of one failure, checked, and the file with the fixes the evidence allows."""
    run = failing(text, error)
    causes = {"t::x": classify(error, text, kb, UPGRADED)}
    files = ["tinyproj/__init__.py"]
    proofs = evidence.gather(run, causes, kb, copy, files)
    evidence.check(proofs, detector3, copy, unsafe)
    source = (copy / files[0]).read_bytes()
    found = detector3.detect(source, evidence=evidence.by_file(proofs).get(files[0], []))
    fixed = fix_source(source, detector3, findings=found, unsafe=unsafe).source.decode()
    return proofs, fixed


def test_a_keyerror_out_of_series_getitem_proves_the_positional_subscript(tmp_path, kb, detector3):
    copy = project(tmp_path, KEY_MODULE)
    text = KEY_TRACEBACK.format(line=4, func="total", source="out += result[i]")
    assert classify("KeyError: 0", text, kb, UPGRADED).record.id == POSITIONAL
    [proof], fixed = proven_fix(kb, detector3, copy, text, "KeyError: 0")
    assert (proof.record, proof.path, proof.line, proof.refused) == (
        POSITIONAL,
        "tinyproj/__init__.py",
        4,
        None,
    )
    assert proof.to_dict()["origin"] == "from the test run: t::x"
    assert fixed == KEY_MODULE.replace("result[i]", "result.iloc[i]")
    assert detector3.detect(KEY_MODULE.encode()) == []  # the source alone shows nothing


def test_the_real_keyerror_traceback_gives_the_test_files_line(tmp_path, kb):
    """pytest's own text of pandas 3.1.1's KeyError (tests/data/upgrade): the project's frame
    is the test's, the frame after it Series.__getitem__."""
    xml = (DATA / "junit-pandas3-pandas-3.1.1.xml").read_text("utf-8")
    run = TestRun()
    run.results = {k: r for k, r in parse_junit(xml).items() if "position" in k}
    (tmp_path / "tests").mkdir()
    source = (DATA / "test_pandas3_errors.py.txt").read_text()
    (tmp_path / "tests" / "test_pandas3_errors.py").write_text(source)
    causes = {t: classify(r.message, r.text, kb, UPGRADED) for t, r in run.failing().items()}
    [proof] = evidence.gather(run, causes, kb, tmp_path, ["tests/test_pandas3_errors.py"])
    assert (proof.path, proof.refused, proof.record) == (
        "tests/test_pandas3_errors.py",
        None,
        POSITIONAL,
    )
    assert source.splitlines()[proof.line - 1].strip() == "assert returns[i] > 0"


def test_a_keyerror_of_another_object_or_two_subscripts_is_refused(tmp_path, kb, detector3):
    # a dict's: no library frame, so no pandas record is the cause, and no proof
    own = "tinyproj/__init__.py:4: in total\n    out += result[i]\nE   KeyError: 0\n"
    assert classify("KeyError: 0", own, kb, UPGRADED).record is None
    copy = project(tmp_path, KEY_MODULE)
    assert proven_fix(kb, detector3, copy, own, "KeyError: 0") == ([], KEY_MODULE)
    # the line calls a pandas function that subscripts a Series itself: not the line's subscript
    through = KEY_TRACEBACK.format(line=4, func="total", source="out += result[i]").replace(
        "/venv/lib/python3.11/site-packages/pandas/core/series.py:1102: in __getitem__",
        "/venv/lib/python3.11/site-packages/pandas/core/generic.py:10: in f\n    x = s[0]\n"
        "/venv/lib/python3.11/site-packages/pandas/core/series.py:1102: in __getitem__",
    )
    [proof], fixed = proven_fix(kb, detector3, copy, through, "KeyError: 0")
    assert proof.refused == "the line's call into the library is not pandas.Series.__getitem__"
    assert fixed == KEY_MODULE
    two = KEY_MODULE.replace("out += result[i]", "out += result[i] * weights[i]")
    (copy / "tinyproj" / "__init__.py").write_text(two)
    text = KEY_TRACEBACK.format(line=4, func="total", source="out += result[i] * weights[i]")
    [proof], fixed = proven_fix(kb, detector3, copy, text, "KeyError: 0")
    assert proof.refused == "2 subscripts on the line (which one raised?)"
    assert fixed == two


# numpy 2.4's errors come from C: the project's line is the innermost frame (pytest's long style)
SCALAR_TRACEBACK = """\
    def fill(out, parts):
        for i, part in enumerate(parts):
>           {source}
E           {error}

tinyproj/__init__.py:{line}: {kind}"""
ELEMENT = "ValueError: setting an array element with a sequence."
CONVERSION = "TypeError: only 0-dimensional arrays can be converted to Python scalars"
SCALAR_MODULE = """\
def fill(out, parts):
    for i, part in enumerate(parts):
        out[i] = score(
            part,
            1,
        )
    return float(out[:1] + 1)


def score(part, n):
    return part[:n]
"""


def test_an_array_stored_into_an_element_takes_item_with_unsafe_fixes(tmp_path, kb, detector3):
    copy = project(tmp_path, SCALAR_MODULE)
    text = SCALAR_TRACEBACK.format(
        source="out[i] = score(", error=ELEMENT, line=3, kind="ValueError"
    )
    assert classify(ELEMENT, text, kb, UPGRADED).record.id == SCALAR
    [proof], fixed = proven_fix(kb, detector3, copy, text, ELEMENT)
    assert proof.refused == "an unsafe fix: made only with --unsafe-fixes" and fixed == (
        SCALAR_MODULE
    )
    [proof], fixed = proven_fix(kb, detector3, copy, text, ELEMENT, unsafe=True)
    assert proof.refused is None and (proof.path, proof.line) == ("tinyproj/__init__.py", 3)
    assert fixed == SCALAR_MODULE.replace(
        "            1,\n        )\n", "            1,\n        ).item()\n"
    )


def test_an_array_converted_by_float_takes_item_in_its_place(tmp_path, kb, detector3):
    copy = project(tmp_path, SCALAR_MODULE)
    line = "return float(out[:1] + 1)"
    text = SCALAR_TRACEBACK.format(source=line, error=CONVERSION, line=7, kind="TypeError")
    [proof], fixed = proven_fix(kb, detector3, copy, text, CONVERSION, unsafe=True)
    assert proof.refused is None
    assert fixed == SCALAR_MODULE.replace(line, "return float((out[:1] + 1).item())")


def test_a_conversion_error_from_a_called_function_or_among_calls_is_refused(
    tmp_path, kb, detector3
):
    copy = project(tmp_path, SCALAR_MODULE)
    # raised in the function the line calls (a frame after the line's): not the line's store
    deeper = SCALAR_TRACEBACK.format(
        source="out[i] = score(", error=ELEMENT, line=3, kind="ValueError"
    ).replace(
        "tinyproj/__init__.py:3: ValueError",
        "tinyproj/__init__.py:3: \n/venv/lib/python3.11/site-packages/numpy/x.py:5: ValueError",
    )
    [proof], fixed = proven_fix(kb, detector3, copy, deeper, ELEMENT, unsafe=True)
    assert proof.refused == "the error was raised in a function the line calls, not on the line"
    assert fixed == SCALAR_MODULE
    two = SCALAR_MODULE.replace("float(out[:1] + 1)", "float(out[:1]) + abs(out[0])")
    (copy / "tinyproj" / "__init__.py").write_text(two)
    line = "return float(out[:1]) + abs(out[0])"
    text = SCALAR_TRACEBACK.format(source=line, error=CONVERSION, line=7, kind="TypeError")
    [proof], fixed = proven_fix(kb, detector3, copy, text, CONVERSION, unsafe=True)
    assert proof.refused == (
        "the line's one call is not float(), int() or complex() (which one raised?)"
    )
    assert fixed == two


def test_the_frames_of_a_chained_traceback_are_the_last_ones():
    first = KEY_TRACEBACK.format(line=4, func="total", source="out += result[i]")
    text = (
        "pandas/_libs/index.pyx:1: in get_loc\n    raise KeyError\nE   KeyError: 0\n\n"
        "The above exception was the direct cause of the following exception:\n\n" + first
    )
    found = evidence.frames(text)
    assert [(f.path.rpartition("site-packages/")[2], f.line) for f in found] == [
        ("tinyproj/__init__.py", 4),
        ("pandas/core/series.py", 1102),
        ("pandas/core/series.py", 1189),
        ("pandas/core/indexes/datetimes.py", 2237),
    ]
    assert found[0].source == "out += result[i]" and found[-1].source == "raise KeyError(key)"


# -- a proven fix that another test refutes is taken back --------------------------------------

POSITION_MODULE = "def at(values, i):\n    return values[i]\n"
ARRAY_ERROR = "AttributeError: 'numpy.ndarray' object has no attribute 'iloc'"


class PositionRunner(FakeRunner):
    """pandas 3.1 as it meets the copy's ``values[i]``: test_series passes a Series with dates
    (KeyError out of Series.__getitem__); test_array, where asked, an ndarray (it passes, and
    fails once the line reads ``.iloc``)."""

    def __init__(self, with_array: bool) -> None:
        super().__init__()
        self.with_array = with_array

    def _pytest(self, argv: list[str], cwd: Path) -> Completed:
        venv = Path(argv[0]).parent.parent
        pandas3 = "pandas==3.1.1" in (venv / "pins.txt").read_text()
        line = (cwd / "tinyproj" / "__init__.py").read_text().splitlines()[1].strip()
        cases = [("test_series", "")]
        if pandas3 and line == "return values[i]":
            text = KEY_TRACEBACK.format(line=2, func="at", source=line)
            cases[0] = ("test_series", f"<failure message='KeyError: 0'>{escape(text)}</failure>")
        if self.with_array:
            failure = ""
            if ".iloc" in line:
                text = (
                    f"    def at(values, i):\n>       {line}\nE       {ARRAY_ERROR}\n\n"
                    "tinyproj/__init__.py:2: AttributeError"
                )
                failure = f"<failure message={quoteattr(ARRAY_ERROR)}>{escape(text)}</failure>"
            cases.append(("test_array", failure))
        xml = next(a.split("=", 1)[1] for a in argv if a.startswith("--junitxml="))
        body = "".join(
            f'<testcase classname="tests.test_tiny" name="{name}">{failure}</testcase>'
            for name, failure in cases
        )
        Path(xml).write_text(f"<testsuites><testsuite>{body}</testsuite></testsuites>")
        return Completed(1 if any(f for _, f in cases) else 0, "", "")


def test_the_positional_subscript_is_fixed_where_only_series_reach_it(env, capsys):  # noqa: F811
    """The same line's text elsewhere in the file (no test proves it) stays, and the proven
    one is reported fixed (regression: empyrical's ``expected[i],`` at :496 and :591 was
    reported not fixed: the text stood on other lines)."""
    module = POSITION_MODULE + "\n\ndef again(values, i):\n    return values[i]\n"
    (env / "tinyproj" / "__init__.py").write_text(module)
    argv = [str(env), "--to", "pandas==3.1.1", "--from", "pandas==2.2.3", "--quiet"]
    assert cli.main([*argv, "--format", "json"], runner=PositionRunner(False)) == 0
    doc = json.loads(capsys.readouterr().out)
    [proof] = doc["from_tests"]
    assert (proof["record"], proof["line"], proof["fixed"], proof["refused"]) == (
        POSITIONAL,
        2,
        True,
        None,
    )
    assert "-    return values[i]\n+    return values.iloc[i]" in doc["diff"]
    changed = [x for x in doc["diff"].splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---")]
    assert len(changed) == 2  # line 5 is no proven site


def test_a_proven_fix_that_breaks_another_test_is_taken_back(env, capsys):  # noqa: F811
    """regression: empyrical's ``cum_returns[i]`` is a Series in one test class and an ndarray
    in another; ``.iloc`` made the second fail, and stayed."""
    (env / "tinyproj" / "__init__.py").write_text(POSITION_MODULE)
    argv = [str(env), "--to", "pandas==3.1.1", "--from", "pandas==2.2.3", "--quiet"]
    assert cli.main([*argv, "--format", "json"], runner=PositionRunner(True)) == 1
    doc = json.loads(capsys.readouterr().out)
    [proof] = doc["from_tests"]
    assert proof["refused"] == (
        "its fix made tests.test_tiny::test_array fail there (the line sees other objects too)"
    )
    assert not proof["fixed"] and doc["diff"] == ""
    verdicts = {r["id"]: r["verdict"] for r in doc["results"]}
    assert verdicts == {
        "tests.test_tiny::test_series": "still failing",
        "tests.test_tiny::test_array": "passing",
    }


# A compatibility module of the project: its own validate_params for old scikit-learn, the
# library's for new ones (imbalanced-learn 0.10.1's utils/_param_validation.py, in short); two
# modules import it from there, one by an alias. Nothing in them says which one they get.
COMPAT = """\
import sklearn

if sklearn.__version__ < "1.2":

    def validate_params(parameter_constraints):
        return lambda func: func

else:
    from sklearn.utils._param_validation import validate_params
"""
METRICS = """\
from numbers import Real

from ._compat import validate_params


@validate_params({"a": [Real]})
def half(a):
    return a / 2


@validate_params(
    {"b": [Real]},
)
def twice(b):
    return b * 2
"""
PIPELINE = """\
from tinyproj._compat import validate_params as checked


@checked({"steps": [list]})
def make_pipeline(steps):
    return steps
"""
REQUIRED_ERROR = (
    "TypeError: validate_params() missing 1 required keyword-only argument:"
    " 'prefer_skip_nested_validation'"
)


class RequiredKeywordRunner(FakeRunner):
    """pytest under scikit-learn 1.9.1 failing as the import of the package does while a
    decorator of the project lacks the keyword: the first such line, in import order."""

    def _pytest(self, argv: list[str], cwd: Path) -> Completed:
        venv = Path(argv[0]).parent.parent
        failure = ""
        if "scikit-learn==1.9.1" in (venv / "pins.txt").read_text():
            for module in ("metrics", "pipeline"):
                lines = (cwd / "tinyproj" / f"{module}.py").read_text().splitlines()
                at = next(
                    (
                        i
                        for i, line in enumerate(lines)
                        if line.startswith("@")
                        and "prefer_skip_nested_validation" not in "".join(lines[i : i + 4])
                    ),
                    None,
                )
                if at is not None:
                    text = (
                        "tests/test_tiny.py:1: in <module>\n    import tinyproj\n"
                        f"tinyproj/__init__.py:1: in <module>\n    from . import {module}\n"
                        f"tinyproj/{module}.py:{at + 1}: in <module>\n    {lines[at]}\n"
                        f"E   {REQUIRED_ERROR}"
                    )
                    failure = (
                        f"<failure message={quoteattr(REQUIRED_ERROR)}>{escape(text)}</failure>"
                    )
                    break
        case = f'<testcase classname="tests.test_tiny" name="test_summary">{failure}</testcase>'
        xml = next(a.split("=", 1)[1] for a in argv if a.startswith("--junitxml="))
        Path(xml).write_text(f"<testsuites><testsuite>{case}</testsuite></testsuites>")
        return Completed(1 if failure else 0, "", "")


def test_a_callables_error_proves_the_project_modules_reexport(env, capsys):  # noqa: F811
    """regression: imbalanced-learn 0.10.1's `@validate_params(...)` decorators, imported from
    its own compatibility module, stopped every test at import under scikit-learn 1.3+, and
    recode saw no call of scikit-learn's there."""
    package = env / "tinyproj"
    (package / "__init__.py").write_text("from . import metrics, pipeline\n")
    for name, source in (("_compat", COMPAT), ("metrics", METRICS), ("pipeline", PIPELINE)):
        (package / f"{name}.py").write_text(source)
    argv = [str(env), "--to", "scikit-learn==1.9.1", "--from", "scikit-learn==1.2.2"]
    assert cli.main([*argv, "--quiet", "--format", "json"], runner=RequiredKeywordRunner()) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == []  # the source alone shows nothing
    assert doc["broken_by_upgrade"] == 1 and doc["summary"]["fixed"] == 1
    origin = "from the test run: tests.test_tiny::test_summary"
    assert [
        (p["path"], p["line"], p["round"], p["fixed"], p["origin"]) for p in doc["from_tests"]
    ] == [
        ("tinyproj/metrics.py", 3, 1, True, origin),
        ("tinyproj/pipeline.py", 1, 1, True, origin),
    ]
    changed = [x for x in doc["diff"].splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---")]
    assert changed == [
        '-@validate_params({"a": [Real]})',
        '+@validate_params({"a": [Real]}, prefer_skip_nested_validation=False)',
        "-@validate_params(",
        '-    {"b": [Real]},',
        "-)",
        '+@validate_params({"b": [Real]}, prefer_skip_nested_validation=False)',
        '-@checked({"steps": [list]})',
        '+@checked({"steps": [list]}, prefer_skip_nested_validation=False)',
    ]
    assert (package / "metrics.py").read_text() == METRICS  # the user's tree


def test_an_import_from_a_project_module_resolves_to_its_file():
    files = {"pkg/__init__.py", "pkg/utils/_compat.py", "pkg/metrics/_scores.py", "src/lib/a.py"}
    assert evidence.module_file("..utils._compat", "pkg/metrics/_scores.py", files) == (
        "pkg/utils/_compat.py"
    )
    assert evidence.module_file(".", "pkg/metrics/_scores.py", files) is None  # no __init__
    assert evidence.module_file("..", "pkg/metrics/_scores.py", files) == "pkg/__init__.py"
    assert evidence.module_file("pkg.utils._compat", "x.py", files) == "pkg/utils/_compat.py"
    assert evidence.module_file("lib.a", "x.py", files) == "src/lib/a.py"
    assert evidence.module_file("sklearn.utils", "pkg/metrics/_scores.py", files) is None


def test_a_proven_import_binds_only_where_the_line_is_the_one_shown(kb):
    detector = Detector(kb, {"scikit-learn": LibraryVersion(Version("1.9.1"), "target")})
    rec = record(kb, "scikit-learn-1.3-validate_params-prefer_skip_nested_validation")
    source = METRICS.encode()
    line = "from ._compat import validate_params"
    assert detector.detect(source) == []
    proven = Evidence(3, "validate_params", rec, line, "t", Proven.IMPORT)
    assert [f.start.line for f in detector.detect(source, evidence=[proven])] == [5, 10]
    for stale in (
        Evidence(3, "validate_params", rec, "from ._compat import other", "t", Proven.IMPORT),
        Evidence(2, "validate_params", rec, line, "t", Proven.IMPORT),
        Evidence(3, "half", rec, line, "t", Proven.IMPORT),
    ):
        assert detector.detect(source, evidence=[stale]) == []


# imbalanced-learn 0.10.1's samplers: a class of the project whose bases (the project's own, in
# other files) lead to BaseEstimator, which types.json does not know
SAMPLER = """\
from ._base import BaseSampler


class RandomSampler(BaseSampler):
    def fit_resample(self, X, y):
        X, y = self._validate_data(X, y, reset=True, accept_sparse=["csr"])
        return X, y
"""
SAMPLER_ERROR = "AttributeError: 'RandomSampler' object has no attribute '_validate_data'"


def test_a_private_member_the_projects_class_lost_is_proven_where_the_test_passed_before(
    tmp_path, kb
):
    """regression: imbalanced-learn 0.10.1's 265 tests on `self._validate_data(...)` in its
    samplers were refused ("'RandomSampler' is not sklearn.base.BaseEstimator or a subclass
    of it"): a test that passed at the baseline proves the member was there, inherited."""
    copy = project(tmp_path, SAMPLER)
    line = 'X, y = self._validate_data(X, y, reset=True, accept_sparse=["csr"])'
    text = long_text(line, 6, SAMPLER_ERROR)
    run = failing(text, SAMPLER_ERROR)
    causes = {"t::x": classify(SAMPLER_ERROR, text, kb, {"scikit-learn": "1.9.1"})}
    files = ["tinyproj/__init__.py"]
    [refused] = evidence.gather(run, causes, kb, copy, files)  # no baseline: not known
    assert (
        refused.refused == "'RandomSampler' is not sklearn.base.BaseEstimator or a subclass of it"
    )
    failed_before = failing(text, SAMPLER_ERROR)
    [still] = evidence.gather(run, causes, kb, copy, files, failed_before)
    assert still.refused is not None  # it failed at the baseline too: never had it
    passed = TestRun()
    passed.results["t::x"] = TestResult("t::x", Outcome.PASSED)
    [proof] = evidence.gather(run, causes, kb, copy, files, passed)
    assert proof.refused is None and (proof.path, proof.line) == ("tinyproj/__init__.py", 6)
    detector = Detector(kb, {"scikit-learn": LibraryVersion(Version("1.9.1"), "target")})
    evidence.check([proof], detector, copy, unsafe=False)
    assert proof.refused is None
    [found] = detector.detect(SAMPLER.encode(), evidence=[proof.evidence])
    fixed = fix_source(SAMPLER.encode(), detector, findings=[found]).source.decode()
    assert (
        "        X, y = sklearn.utils.validation.validate_data(self, X, y, reset=True,"
        ' accept_sparse=["csr"])\n' in fixed
    )


def test_only_a_private_member_of_a_projects_class_may_be_inherited():
    assert evidence.inherited("RandomSampler", "_validate_data")
    assert not evidence.inherited("RandomSampler", "append")  # public: any class's own
    assert not evidence.inherited("RandomSampler", "__sklearn_tags__")
    assert not evidence.inherited("numpy.ndarray", "_x")  # a library's class, by its module


SAMPLER_METHODS = (
    SAMPLER
    + """
    def transform(self, X):
        X = self._validate_data(X, reset=False)
        return X

    class Inner:
        def fit(self, X):
            return self._validate_data(X)
"""
)


def test_the_other_reads_in_the_proven_class_are_proven_with_it(tmp_path, kb):
    """regression: imbalanced-learn 0.10.1's ValueDifferenceMetric read `self._validate_data`
    in fit (proven and fixed in round 3) and in transform (revealed after the last round):
    its 128 tests stayed broken."""
    copy = project(tmp_path, SAMPLER_METHODS)
    line = 'X, y = self._validate_data(X, y, reset=True, accept_sparse=["csr"])'
    text = long_text(line, 6, SAMPLER_ERROR)
    run = failing(text, SAMPLER_ERROR)
    causes = {"t::x": classify(SAMPLER_ERROR, text, kb, {"scikit-learn": "1.9.1"})}
    passed = TestRun()
    passed.results["t::x"] = TestResult("t::x", Outcome.PASSED)
    proofs = evidence.gather(run, causes, kb, copy, ["tinyproj/__init__.py"], passed)
    assert [(p.line, p.evidence.text) for p in proofs] == [
        (6, line),
        (10, "X = self._validate_data(X, reset=False)"),
    ]  # not the nested class's (line 15)
    detector = Detector(kb, {"scikit-learn": LibraryVersion(Version("1.9.1"), "target")})
    evidence.check(proofs, detector, copy, unsafe=False)
    assert [p.refused for p in proofs] == [None, None]
    found = detector.detect(SAMPLER_METHODS.encode(), evidence=[p.evidence for p in proofs])
    fixed = fix_source(SAMPLER_METHODS.encode(), detector, findings=found).source.decode()
    assert "        X = sklearn.utils.validation.validate_data(self, X, reset=False)\n" in fixed
    assert "            return self._validate_data(X)\n" in fixed
