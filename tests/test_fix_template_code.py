"""What a template writes around the code it takes: a literal argument written bare where it
fits (``1 / 2.0``, not ``1 / (2.0)``; ``(1).real``, as ``1.real`` does not parse), an
assignment's value and a subscript's index taken as any expression (``a[i] = v``)."""

from __future__ import annotations

import ast
import json

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

#: one record per place a placeholder can stand in: ``numpy.t_<name>(x)`` -> the template
TEMPLATES = {
    "div": "1 / {0}",  # the right operand
    "add": "{0} + 1",  # the left operand
    "pow": "{0} ** 2",
    "neg": "-{0}",
    "cmp": "{0} < 1",
    "attr": "{0}.real",  # an attribute's object
    "item": "{0}[0]",  # a subscript's value
    "arg": "f({0})",  # where any expression fits
}


def _record(name: str, template: str, **fix: object) -> dict:
    return {
        "id": f"t-{name}",
        "library": "numpy",
        "symbol": f"numpy.t_{name}",
        "kind": "removed",
        "removed_in": "2.0",
        "fix": {"kind": "template", "template": template, "args": ["x"], **fix},
        "note": "test record",
        "source": {"url": "https://example.org/notes", "version": "1.0"},
    }


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    records = [_record(n, t) for n, t in TEMPLATES.items()]
    records.append(_record("one", "1", target="reference", args=[]))
    records.append(_record("half", "0.5", target="reference", args=[]))
    path = tmp_path_factory.mktemp("kb") / "numpy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    kb = load_knowledge_base([path])
    assert not kb.problems
    return Detector(kb, {"numpy": LibraryVersion(Version("2.0"), "installed")})


def fixed(detector: Detector, code: str) -> str:
    result = fix_source(code.encode(), detector)
    assert result.error is None
    return result.source.decode()


#: each literal kind, and whether it may be an attribute's object as written
LITERALS = [
    ("2", False),  # a decimal integer: `2.real` does not parse
    ("1_000", False),
    ("0", False),
    ("2.0", True),
    ("2.", True),  # `2..real`
    ("1e3", True),
    ("2j", True),
    ("0x1f", True),
    ("0o7", True),
    ("0b1", True),
    ("'s'", True),
    ('"""s"""', True),
    ("b's'", True),
    ("r'\\d'", True),
    ("True", True),
    ("None", True),
    ("...", True),
]


@pytest.mark.parametrize("literal, as_object", LITERALS)
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_literal_is_written_bare_where_it_fits(detector, name, literal, as_object):
    out = fixed(detector, f"import numpy as np\ny = np.t_{name}({literal})\n")
    bare = as_object or name != "attr"
    want = TEMPLATES[name].replace("{0}", literal if bare else f"({literal})")
    assert out == f"import numpy as np\ny = {want}\n"
    ast.parse(out)


@pytest.mark.parametrize(
    "value", ["-2", "'a' 'b'", "a + b", "a if c else b", "not a", "lambda: 0", "(2)"]
)
@pytest.mark.parametrize("name", sorted(set(TEMPLATES) - {"arg"}))
def test_what_is_not_one_literal_or_primary_stays_parenthesised(detector, name, value):
    out = fixed(detector, f"import numpy as np\ny = np.t_{name}({value})\n")
    want = TEMPLATES[name].replace("{0}", f"({value})")
    assert out == f"import numpy as np\ny = {want}\n"


@pytest.mark.parametrize(
    "before, after",
    [
        ("x = np.t_one.bit_length()", "x = (1).bit_length()"),
        ("x = np.t_half.hex()", "x = 0.5.hex()"),
        ("x = 3 / np.t_one", "x = 3 / 1"),
        ("x = np.t_half ** 2", "x = 0.5 ** 2"),
        ("x = np.t_one[0]", "x = 1[0]"),
    ],
)
def test_a_rendered_literal_stands_bare_where_it_fits(detector, before, after):
    head = "import numpy as np\n"
    assert fixed(detector, head + before + "\n") == head + after + "\n"


def test_scipy_mad_scale_is_divided_unparenthesised(tmp_path, capsys):
    # the shipped record, through the CLI: `1 / (2.0)` was written before
    path = tmp_path / "m.py"
    path.write_text(
        "from scipy import stats\n\nx = [1.0, 2.0]\n"
        "print(stats.median_absolute_deviation(x, scale=2.0))\n"
    )
    argv = [str(path), "--target=scipy==1.15", "--write", "--unsafe-fixes", "--no-progress"]
    assert cli.main(argv) == 0, capsys.readouterr()
    assert path.read_text().endswith("print(stats.median_abs_deviation(x, scale=1 / 2.0))\n")


# -- an assignment's value and a subscript's index take any expression --------------------------

TODAY_NUMPY = ["--target=numpy==2.0", "--no-progress"]


def test_itemset_becomes_an_assignment_with_its_value_bare(tmp_path, capsys):
    # a statement template parenthesised the value it assigns: `a[i] = (v + 1)`
    path = tmp_path / "m.py"
    path.write_text(
        "import numpy as np\na = np.zeros(3)\nv = 1.0\n"
        "a.itemset(1, v + 1)  # keep\na.itemset(i + 1, -v if v else v)\n"
    )
    assert cli.main([str(path), "--write", *TODAY_NUMPY]) == 1  # unsafe: not made by default
    assert "a.itemset(1, v + 1)" in path.read_text()
    capsys.readouterr()
    assert cli.main([str(path), "--write", "--unsafe-fixes", *TODAY_NUMPY]) == 0
    assert path.read_text() == (
        "import numpy as np\na = np.zeros(3)\nv = 1.0\n"
        "a[1] = v + 1  # keep\na[i + 1] = -v if v else v\n"
    )


def test_itemset_of_one_argument_is_left_to_a_person(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text("import numpy as np\na = np.zeros(1)\na.itemset(5.0)\n")
    assert cli.main([str(path), "--write", "--unsafe-fixes", *TODAY_NUMPY]) == 1
    assert "does not pass `value`" in capsys.readouterr().out
    assert path.read_text().endswith("a.itemset(5.0)\n")


# -- an argument evaluated for nothing is dropped ----------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        ("c = lax.tie_in(a, b)", "c = b"),
        ("c = lax.tie_in(self.x.y, b + 1) * 2", "c = (b + 1) * 2"),
        ("c = lax.tie_in(-1.5, 'k' 'j')", "c = 'k' 'j'"),
        ("c = lax.tie_in(None, b)", "c = b"),
        ("c = lax.tie_in(a[0], b)", "c = b"),  # a subscript by plain keys, as an attribute
        ("c = lax.tie_in(y=b, x=a)", "c = b"),
    ],
)
def test_tie_in_drops_an_argument_that_does_nothing(before, after):
    detector = Detector(load_knowledge_base(), {"jax": LibraryVersion(Version("0.4.30"), "t")})
    head = "import jax\nfrom jax import lax\n"  # `lax`, left unused, goes
    assert fixed(detector, head + before + "\n") == "import jax\n" + after + "\n"


@pytest.mark.parametrize("x", ["f(a)", "a[f()]", "a + 1", "f'{a}'", "[f(a)]", "(yield)"])
def test_an_argument_that_may_do_something_is_not_dropped(x):
    detector = Detector(load_knowledge_base(), {"jax": LibraryVersion(Version("0.4.30"), "t")})
    code = f"import jax\ndef g(a, b):\n    return jax.lax.tie_in({x}, b)\n"
    result = fix_source(code.encode(), detector)
    assert result.source.decode() == code
    (finding,) = result.remaining
    assert "may do something when evaluated" in (finding.fix_unavailable or "")


@pytest.mark.parametrize(
    "drops, message",
    [
        (["y"], "that no placeholder writes"),  # {1} writes y
        (["z"], "parameters of args"),
        (["x", "x"], "once each"),
        ("x", "fix.drops"),
    ],
)
def test_drops_is_checked_on_load(drops, message):
    record = _record("tie", "{1}", args=["x", "y"], drops=drops)
    with pytest.raises(RecordError, match=message):
        parse_record(record)


# -- a multi-line call keeps the line breaks of the arguments it keeps ---------------------------

PANDAS = ["--target=pandas==3.0", "--target=scikit-learn==1.2", "--no-progress"]


@pytest.mark.parametrize(
    "before, after",
    [
        # the arguments {rest} keeps, their comment (which blocked the fix) and the closing line
        (
            "r = df.fillna(\n    method='ffill',\n    limit=2,  # at most two\n    axis=0,\n)\n",
            "r = df.ffill(\n    limit=2,  # at most two\n    axis=0,\n)\n",
        ),
        # written onto one line before
        (
            "r = df.fillna(\n    method='ffill',\n    limit=2,\n    axis=0\n)\n",
            "r = df.ffill(\n    limit=2,\n    axis=0\n)\n",
        ),
        # an argument after them in the template: their lines kept, it follows the last
        (
            "km = KMeans(\n    n_clusters=3,\n    # seeded\n    random_state=0,\n)\n",
            "km = KMeans(\n    n_clusters=3,\n    # seeded\n    random_state=0, n_init=10)\n",
        ),
        # one line: as before
        ("r = df.fillna(method='ffill', limit=2, axis=0)\n", "r = df.ffill(limit=2, axis=0)\n"),
    ],
)
def test_a_multiline_call_keeps_the_lines_of_its_kept_arguments(tmp_path, capsys, before, after):
    head = "import pandas as pd\nfrom sklearn.cluster import KMeans\ndf = pd.DataFrame()\n"
    path = tmp_path / "m.py"
    path.write_text(head + before)
    assert cli.main([str(path), "--write", "--unsafe-fixes", *PANDAS]) == 0, capsys.readouterr()
    assert path.read_text() == head + after


def test_arguments_passed_otherwise_than_written_are_joined_on_one_line(tmp_path, capsys):
    # simps(y, x) -> simpson(y, x=x): `x` moves from position to name, so nothing is as written
    path = tmp_path / "m.py"
    path.write_text(
        "from scipy.integrate import simps\na = simps(\n    [1.0, 2.0],\n    [0.0, 1.0],\n)\n"
    )
    argv = [str(path), "--write", "--target=scipy==1.14", "--no-progress"]
    assert cli.main(argv) == 0, capsys.readouterr()
    assert path.read_text() == (
        "from scipy.integrate import simpson\na = simpson([1.0, 2.0], x=[0.0, 1.0])\n"
    )
