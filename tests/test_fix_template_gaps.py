"""Gaps of the template language, each found on records left without a fix: a ``{mod:}`` path
into a submodule imports that submodule; a ``when_passed`` key passed by position chooses its
fix; an argument the template writes twice must be plain (a call would run twice); a class
call kept inside its fix's call of another callable is not flagged again; an attribute
written (``cs.antialiased = v``) takes an assignment template (``cs.set_antialiased(v)``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, _parse_fix, load_knowledge_base
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion


def _record(rid: str, symbol: str, fix: dict, kind: str = "removed") -> dict:
    return {
        "id": rid,
        "library": "matplotlib",
        "symbol": symbol,
        "kind": kind,
        "removed_in": "3.8",
        "fix": fix,
        "note": "test record",
        "source": {"url": "https://example.org/notes", "version": "3.8"},
    }


RECORDS = [
    # a name of a submodule its package does not load: ``import xml`` leaves ``xml.dom`` unbound
    _record(
        "mpl-parse",
        "matplotlib.cbook.parse_xml",
        {"kind": "template", "template": "{mod:xml.dom.minidom.parseString}({0})", "args": ["s"]},
    ),
    # ... and with ``module``: where the file imports the package alone, it need not load it
    _record(
        "mpl-parse-module",
        "matplotlib.cbook.parse_xml2",
        {
            "kind": "template",
            "template": "{mod:xml.dom.minidom.parseString}({0})",
            "args": ["s"],
            "module": "xml.dom.minidom",
        },
    ),
    # a when_passed key passed by position chooses its fix as by keyword
    _record(
        "mpl-old-array",
        "matplotlib.cbook.old_array",
        {
            "kind": "template",
            "template": "{mod:numpy}.asarray({0})",
            "args": ["data", "copy"],
            "when_passed": {
                "copy=False": {
                    "kind": "template",
                    "template": "{mod:numpy}.asarray({0}{kw:copy|map:False=})",
                    "args": ["data", "copy"],
                },
                "copy": {
                    "kind": "template",
                    "template": "{mod:numpy}.array({0}, copy={kw:copy})",
                    "args": ["data", "copy"],
                },
            },
        },
    ),
    # an argument written twice is evaluated twice
    _record(
        "mpl-old-clip",
        "matplotlib.cbook.old_clip",
        {"kind": "template", "template": "{mod:numpy}.where({0} > 0, {0}, 0)", "args": ["x"]},
    ),
    {
        **_record(
            "sp-B",
            "scipy.sparse.csr_matrix.B",
            {"kind": "template", "template": "{self}.toarray()[{self}.nnz]", "target": "reference"},
        ),
        "library": "scipy",
        "removed_in": "1.14",
    },
    # a behaviour of a class whose fix keeps the call inside a call of another callable
    {
        **_record(
            "mpl-Axes3D",
            "mpl_toolkits.mplot3d.Axes3D",
            {
                "kind": "template",
                "template": "{0}.add_axes({mod:mpl_toolkits.mplot3d.Axes3D}({0}{rest}))",
                "args": ["fig", "rect", "*", "elev"],
            },
            kind="behavior",
        ),
        "removed_in": None,
        "changed_in": "3.6",
    },
    # an attribute whose replacement is a getter and a setter
    {
        **_record(
            "sp-flag",
            "scipy.sparse.csr_matrix.flag",
            {
                "kind": "template",
                "template": "{self}.get_flag()",
                "target": "reference",
                "assigned": {
                    "kind": "template",
                    "template": "{self}.set_flag({value})",
                    "target": "assignment",
                },
            },
        ),
        "library": "scipy",
        "removed_in": "1.14",
    },
    {
        **_record(
            "sp-mark",
            "scipy.sparse.csr_matrix.mark",
            {"kind": "template", "template": "{self}.set_mark({value})", "target": "assignment"},
        ),
        "library": "scipy",
        "removed_in": "1.14",
    },
]


@pytest.fixture(scope="module")
def kb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "matplotlib.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


@pytest.fixture(scope="module")
def detector(kb_path: Path) -> Detector:
    kb = load_knowledge_base([kb_path])
    assert not kb.problems
    return Detector(
        kb,
        {
            "matplotlib": LibraryVersion(Version("3.9"), "installed"),
            "scipy": LibraryVersion(Version("1.14"), "installed"),
        },
    )


def fixed(detector: Detector, code: str, unsafe: bool = True) -> tuple[str, list]:
    result = fix_source(code.encode(), detector, unsafe=unsafe)
    assert result.error is None
    return result.source.decode(), result.remaining


def test_a_mod_path_into_a_submodule_imports_the_submodule(tmp_path: Path, kb_path: Path):
    src = tmp_path / "m.py"
    src.write_text("from matplotlib import cbook\ndoc = cbook.parse_xml('<a/>')\n")
    argv = [str(src), "--write", "--no-progress", "--kb", str(kb_path), "--target=matplotlib==3.9"]
    assert cli.main(argv) == 0
    new = src.read_text()
    assert new == ("import xml.dom.minidom\ndoc = xml.dom.minidom.parseString('<a/>')\n")
    # the new code runs (without the import of the library it no longer uses)
    code = new.replace("from matplotlib import cbook\n", "") + "print(doc.documentElement.tagName)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout == "a\n", run.stderr


def test_a_mod_path_the_file_reaches_is_spelled_as_the_file_does(detector):
    code = "import xml.dom.minidom as md\nfrom matplotlib import cbook\nd = cbook.parse_xml(s)\n"
    new, _ = fixed(detector, code)
    assert new == "import xml.dom.minidom as md\nd = md.parseString(s)\n"


@pytest.mark.parametrize(
    "call, after",
    [
        ("cbook.old_array(a)", "numpy.asarray(a)"),
        ("cbook.old_array(a, copy=True)", "numpy.array(a, copy=True)"),
        ("cbook.old_array(a, True)", "numpy.array(a, copy=True)"),
        ("cbook.old_array(a, False)", "numpy.asarray(a)"),
        ("cbook.old_array(data=a, copy=False)", "numpy.asarray(a)"),
    ],
)
def test_when_passed_is_chosen_by_a_positional_argument_too(detector, call, after):
    head = "import numpy\nfrom matplotlib import cbook\n"
    new, _ = fixed(detector, f"{head}x = {call}\n")
    assert new == f"import numpy\nx = {after}\n"  # the emptied from-import goes


def test_a_splat_leaves_the_positions_unknown(detector):
    head = "import numpy\nfrom matplotlib import cbook\n"
    new, remaining = fixed(detector, f"{head}x = cbook.old_array(*a)\n")
    assert new == f"{head}x = cbook.old_array(*a)\n"
    assert [f.record.id for f in remaining] == ["mpl-old-array"]


@pytest.mark.parametrize(
    "arg",
    [
        "a",
        "a.b.c",
        "a.levels[0]",
        "x[k]",
        "('x', 1)",
        "-1",
        "2.5",
        "'s'",
        "'s' 't'",
        "None",
        "True",
    ],
)
def test_an_argument_written_twice_is_rewritten_where_it_is_plain(detector, arg):
    head = "import numpy\nfrom matplotlib import cbook\n"
    new, remaining = fixed(detector, f"{head}y = cbook.old_clip({arg})\n")
    head = "import numpy\n"  # the emptied from-import goes
    assert new.startswith(f"{head}y = numpy.where(") and new[len(head) :].count(arg) == 2, new
    assert not remaining


@pytest.mark.parametrize(
    "arg", ["f(a)", "a + 1", "a.f()", "a[i()]", "a[1:]", "(a, f())", "[f()]", "f'{a}'", "-a"]
)
def test_an_argument_written_twice_is_left_where_it_may_cost_or_act(detector, arg):
    code = f"import numpy\nfrom matplotlib import cbook\ny = cbook.old_clip({arg})\n"
    new, remaining = fixed(detector, code)
    assert new == code
    (left,) = remaining
    assert f"`{arg}` would be evaluated 2 times" in (left.fix_unavailable or "")


def test_the_object_written_twice_is_left_where_it_is_a_call(detector):
    head = "from scipy import sparse\nm = sparse.csr_matrix(a)\n"
    code = head + "print(m.B)\nprint(sparse.csr_matrix(b).B)\n"
    new, remaining = fixed(detector, code)
    assert new == head + "print(m.toarray()[m.nnz])\nprint(sparse.csr_matrix(b).B)\n"
    assert [f.record.id for f in remaining] == ["sp-B"]
    assert "`sparse.csr_matrix(b)` would be evaluated 2 times" in (
        remaining[0].fix_unavailable or ""
    )


def test_a_class_call_kept_inside_its_fix_is_not_flagged_again(tmp_path, kb_path):
    """regression: ``Axes3D(fig)`` -> ``fig.add_axes(Axes3D(fig))`` was flagged again in its
    own output, and ``--write`` nested it once per round (ten times)."""
    head = "import matplotlib.pyplot as plt\nfrom mpl_toolkits.mplot3d import Axes3D\n"
    src = tmp_path / "m.py"
    src.write_text(
        head + "ax = Axes3D(fig)\nax2 = Axes3D(fig, elev=3)\nax3 = Axes3D(f(), elev=3)\n"
    )
    argv = [str(src), "--write", "--no-progress", "--kb", str(kb_path), "--target=matplotlib==3.9"]
    assert cli.main(argv) == 1  # Axes3D(f()) is left: f() would run twice
    assert src.read_text() == head + (
        "ax = fig.add_axes(Axes3D(fig))\nax2 = fig.add_axes(Axes3D(fig, elev=3))\n"
        "ax3 = Axes3D(f(), elev=3)\n"
    )
    kb = load_knowledge_base([kb_path])
    detector = Detector(kb, {"matplotlib": LibraryVersion(Version("3.9"), "installed")})
    left = detector.detect(src.read_bytes())
    assert [(f.record.id, f.start.line) for f in left] == [("mpl-Axes3D", 4)]


def test_an_attribute_written_takes_the_assignment_template(tmp_path, kb_path):
    head = "from scipy import sparse\nm = sparse.csr_matrix(a)\n"
    src = tmp_path / "m.py"
    src.write_text(
        head + "m.flag = not b  # kept\nprint(m.flag)\nif c:\n    m.mark = f(x)\n"
        "m.mark = None; y = 1\n"
    )
    argv = [str(src), "--write", "--no-progress", "--kb", str(kb_path), "--target=scipy==1.14"]
    assert cli.main(argv) == 0
    assert src.read_text() == head + (
        "m.set_flag(not b)  # kept\nprint(m.get_flag())\nif c:\n    m.set_mark(f(x))\n"
        "m.set_mark(None); y = 1\n"
    )


@pytest.mark.parametrize(
    "code, reason",
    [
        ("m.flag += 1\n", "other than by a plain `m.flag = value` statement"),
        ("x = m.flag = 1\n", "other than by a plain"),
        ("m.flag = x = 1\n", "other than by a plain"),
        ("m.flag, x = 1, 2\n", "other than by a plain"),
        ("m.flag: bool = True\n", "other than by a plain"),
        ("del m.flag\n", "other than by a plain"),
        ("for m.flag in b:\n    pass\n", "other than by a plain"),
        ("print(m.mark)\n", "`m.mark` is read here"),
    ],
)
def test_an_attribute_written_otherwise_is_left_with_the_reason(detector, code, reason):
    head = "from scipy import sparse\nm = sparse.csr_matrix(a)\n"
    new, remaining = fixed(detector, head + code)
    assert new == head + code
    (left,) = remaining
    assert reason in (left.fix_unavailable or "")


@pytest.mark.parametrize(
    "fix, message",
    [
        ({"template": "{self}.set_x({value})"}, "{value}, the value assigned"),
        ({"template": "{self}.set_x(1)", "target": "assignment"}, "{value}, the value assigned"),
        ({"template": "{self}.set_x({0})", "target": "assignment", "args": ["v"]}, "no argument"),
        ({"template": "{self}.set_x({value|map:a=b})", "target": "assignment"}, "not mapped"),
        (
            {"template": "{self}.x()", "assigned": {"kind": "rename", "to": "a.b"}},
            "fix.assigned must be a template fix",
        ),
        (
            {
                "template": "{self}.x()",
                "target": "call",
                "assigned": {"kind": "template", "template": "{value}", "target": "assignment"},
            },
            "fix.assigned belongs to a reference template",
        ),
    ],
)
def test_assignment_templates_are_validated_on_load(fix, message):
    with pytest.raises(RecordError, match=re.escape(message)):
        _parse_fix({"kind": "template", **fix}, None)


@pytest.mark.parametrize(
    "head, added",
    [
        ("", "import xml.dom.minidom\n"),  # one import, the submodule (not xml as well)
        ("import xml\n", "import xml.dom.minidom\n"),  # the package does not load it
        ("import xml.dom.minidom\n", ""),
    ],
)
def test_the_module_field_adds_the_submodule_where_the_file_imports_the_package(
    detector, head, added
):
    code = f"{head}from matplotlib import cbook\nd = cbook.parse_xml2(s)\n"
    new, _ = fixed(detector, code)
    # the from-import the fix empties goes
    assert new == f"{head}{added}d = xml.dom.minidom.parseString(s)\n"
