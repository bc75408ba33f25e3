"""Fixes that rewrite a whole statement (the ``statement`` kind: pandas 3's refused
``errors="ignore"`` caught with try/except), and a fix chosen by another keyword the call passes
(``when_passed``: ``np.array(x, copy=False, subok=True)`` -> ``np.asanyarray(x)``), on the
shipped records."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server import cli
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

KB = load_knowledge_base()
TODAY = {"pandas": "3.0.6", "numpy": "2.4.6"}
CATCH = "except (ValueError, TypeError):"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(KB, {lib: LibraryVersion(Version(v), "target") for lib, v in TODAY.items()})


def fixed(detector: Detector, code: str, *, unsafe: bool = True) -> str:
    result = fix_source(code.encode(), detector, unsafe=unsafe)
    assert result.error is None
    return result.source.decode()


def reasons(detector: Detector, code: str) -> list[str | None]:
    return [f.fix_unavailable for f in detector.detect(code.encode()) if f.fix is not None]


@pytest.mark.parametrize(
    "before, after",
    [
        # an assignment to a name, its comment kept after the statement in try
        (
            "import pandas as pd\nx = pd.to_numeric(s, errors='ignore')  # keep\n",
            f"import pandas as pd\ntry:\n    x = pd.to_numeric(s)  # keep\n{CATCH}\n    x = s\n",
        ),
        # a subscript target, other keywords kept, inside a function (its indentation kept)
        (
            "import pandas as pd\n\n\ndef f(df):\n"
            '    df["a"] = pd.to_datetime(df["a"], errors="ignore", utc=True)\n    return df\n',
            "import pandas as pd\n\n\ndef f(df):\n    try:\n"
            '        df["a"] = pd.to_datetime(df["a"], utc=True)\n'
            f'    {CATCH}\n        df["a"] = df["a"]\n    return df\n',
        ),
        # return, the call over several lines (its continuation lines indented with it)
        (
            "import pandas as pd\n\n\ndef f(s):\n"
            "    return pd.to_timedelta(\n        s,\n        errors='ignore',\n    )\n",
            "import pandas as pd\n\n\ndef f(s):\n    try:\n"
            "        return pd.to_timedelta(\n            s,\n        )\n"
            f"    {CATCH}\n        return s\n",
        ),
        # a literal input is evaluated again in except: an equal new object
        (
            "import pandas as pd\nx = pd.to_timedelta([1, 'x'], errors='ignore')\n",
            f"import pandas as pd\ntry:\n    x = pd.to_timedelta([1, 'x'])\n{CATCH}\n    x = [1, 'x']\n",
        ),
        # an expression statement: nothing to keep
        (
            "import pandas as pd\npd.to_numeric(obj.values, errors='ignore')\n",
            f"import pandas as pd\ntry:\n    pd.to_numeric(obj.values)\n{CATCH}\n    pass\n",
        ),
        # indented with tabs, at the end of the file without a line end
        (
            "import pandas as pd\nif ok:\n\tv = pd.to_numeric(s, errors='ignore')",
            f"import pandas as pd\nif ok:\n\ttry:\n\t\tv = pd.to_numeric(s)\n\t{CATCH}\n\t\tv = s",
        ),
        # errors passed by position (its record's position), as the last positional argument
        (
            "import pandas as pd\nx = pd.to_numeric(s, 'ignore')\ny = pd.to_timedelta(t, 's', 'ignore', )\n",
            f"import pandas as pd\ntry:\n    x = pd.to_numeric(s)\n{CATCH}\n    x = s\n"
            f"try:\n    y = pd.to_timedelta(t, 's', )\n{CATCH}\n    y = t\n",
        ),
        (
            "import pandas as pd\nx = pd.to_datetime(s, 'ignore', dayfirst=True)\n",
            f"import pandas as pd\ntry:\n    x = pd.to_datetime(s, dayfirst=True)\n{CATCH}\n    x = s\n",
        ),
        # subok passed: asanyarray (asarray has no subok); not passed: asarray as before
        (
            "import numpy as np\nb = np.array(q, copy=False, subok=True)\n",
            "import numpy as np\nb = np.asanyarray(q)\n",
        ),
        (
            "import numpy as np\nb = np.array(q, 'f8', copy=False, subok=True)\nc = np.array(q, copy=False)\n",
            "import numpy as np\nb = np.asanyarray(q, dtype='f8')\nc = np.asarray(q)\n",
        ),
    ],
)
def test_rewrites(detector, before, after):
    assert fixed(detector, before) == after


def test_crlf_line_ends_and_other_bytes_are_kept(detector):
    before = (
        b"import pandas as pd\r\n\r\ndef f(s):\r\n    x = pd.to_numeric(s, errors='ignore')"
        b"  # \xc3\xa9\r\n    return x\r\n"
    )
    result = fix_source(before, detector, unsafe=True)
    assert result.source == (
        b"import pandas as pd\r\n\r\ndef f(s):\r\n    try:\r\n"
        b"        x = pd.to_numeric(s)  # \xc3\xa9\r\n"
        b"    except (ValueError, TypeError):\r\n        x = s\r\n    return x\r\n"
    )


def test_the_statement_fix_is_unsafe(detector):
    code = "import pandas as pd\nx = pd.to_numeric(s, errors='ignore')\n"
    assert fixed(detector, code, unsafe=False) == code
    (finding,) = detector.detect(code.encode())
    assert not finding.fix.safe and "ndarray" in finding.fix.unsafe_because


@pytest.mark.parametrize(
    "code, reason",
    [
        # nested where it might not run, or run many times: not hoisted
        (
            "import pandas as pd\nok = a and is_num(pd.to_numeric(s, errors='ignore'))\n",
            "`and`/`or`",
        ),
        (
            "import pandas as pd\nok = is_num(pd.to_numeric(s, errors='ignore')) if a else b\n",
            "a conditional expression",
        ),
        ("import pandas as pd\nprint(f\"{pd.to_numeric(s, errors='ignore')}\")\n", "an f-string"),
        (
            "import pandas as pd\nasync def f(s):\n    return await g(pd.to_numeric(s, errors='ignore'))\n",
            "`await`",
        ),
        (
            "import pandas as pd\ndef f(s):\n    yield is_num(pd.to_numeric(s, errors='ignore'))\n",
            "`yield`",
        ),
        ("import pandas as pd\nok = g(y := pd.to_numeric(s, errors='ignore'))\n", "(`:=`)"),
        # nested in a statement other than return, an assignment or an expression statement, in
        # an assignment's target, or called: not hoisted either
        (
            "import pandas as pd\nassert is_num(pd.to_numeric(s, errors='ignore'))\n",
            "an assert statement",
        ),
        (
            "import pandas as pd\nif is_num(pd.to_numeric(s, errors='ignore')):\n    pass\n",
            "an if statement",
        ),
        ("import pandas as pd\nd[pd.to_numeric(s, errors='ignore')] = 1\n", "assignment's target"),
        ("import pandas as pd\nx = pd.to_numeric(s, errors='ignore')()\n", "is itself called"),
        # hoisted, the input is evaluated again before the statement: a name or attribute only
        (
            "import pandas as pd\nok = is_num(pd.to_numeric(s[0], errors='ignore'))\n",
            "would evaluate `s[0]` a second time: a hoisted call's input must be a name",
        ),
        # the lines a hoist writes before the statement would have no indentation of their own
        (
            "import pandas as pd\ndef f(s):\n    if s: return is_num(pd.to_numeric(s, errors='ignore'))\n",
            "shares its line with other code before it",
        ),
        (
            "import pandas as pd\ndef f(s):\n    t = 1; return is_num(pd.to_numeric(s, errors='ignore'))\n",
            "shares its line with other code before it",
        ),
        (
            "import pandas as pd\nif s: \\\n    x = is_num(pd.to_numeric(s, errors='ignore'))\n",
            "continues the line before it",
        ),
        (  # not hoisted either: `if s: try:` would not parse
            "import pandas as pd\nif s: \\\r\n    x = pd.to_numeric(s, errors='ignore')\n",
            "continues the line before it",
        ),
        ("import pandas as pd\nf = lambda s: pd.to_numeric(s, errors='ignore')\n", "a lambda"),
        (
            "import pandas as pd\nys = [pd.to_datetime(v, errors='ignore') for v in s]\n",
            "a comprehension",
        ),
        # the input would be evaluated again in except
        (
            "import pandas as pd\nx = pd.to_numeric(load(), errors='ignore')\n",
            "would evaluate `load()` a second time",
        ),
        (
            "import pandas as pd\nx = pd.to_numeric([load()], errors='ignore')\n",
            "would evaluate `[load()]` a second time",
        ),
        # the statement shares its line
        (
            "import pandas as pd\nif s: x = pd.to_numeric(s, errors='ignore')\n",
            "shares its line with other code before it",
        ),
        (
            "import pandas as pd\nx = pd.to_numeric(s, errors='ignore'); y = 1\n",
            "shares its line with other code after it",
        ),
        # two targets, or a tuple: not a plain assignment
        ("import pandas as pd\na, b = pd.to_numeric(s, errors='ignore')\n", "more than one"),
        ("import pandas as pd\na = b = pd.to_numeric(s, errors='ignore')\n", "more than one"),
        ("import pandas as pd\na: int = pd.to_numeric(s, errors='ignore')\n", "annotation"),
        # dropping a positional errors would move the argument after it to its place
        (
            "import pandas as pd\nx = pd.to_numeric(s, 'ignore', 'float')\n",
            "`errors` is passed by position before other positional arguments",
        ),
        # subok given a value the variant does not map
        ("import numpy as np\nb = np.array(q, copy=False, subok=flag)\n", "no mapping for"),
    ],
)
def test_left_to_a_person_with_the_reason(detector, code, reason):
    assert fixed(detector, code) == code
    (why,) = reasons(detector, code)
    assert why is not None and reason in why


@pytest.mark.parametrize(
    "fix, message",
    [
        ({"catch": ["MyError"], "fallback": "{0}", "args": ["arg"]}, "builtin exception"),
        ({"catch": [], "fallback": "{0}", "args": ["arg"]}, "builtin exception"),
        ({"catch": ["ValueError"], "args": ["arg"]}, "needs 'fallback'"),
        ({"catch": ["ValueError"], "fallback": "{self}", "args": ["arg"]}, "needs 'fallback'"),
        ({"catch": ["ValueError"], "fallback": "{1}", "args": ["arg"]}, "positional"),
    ],
)
def test_statement_fixes_are_validated_on_load(fix, message):
    with pytest.raises(RecordError, match=message):
        parse_record(_record("pandas.to_numeric(errors)", {"kind": "statement", **fix}))


@pytest.mark.parametrize(
    "when_passed, message",
    [
        ({"subok": None}, "when_passed.subok must be a fix"),
        ({"subok": "np.asanyarray"}, "fix.kind must be one of"),
        ({"1x": {"kind": "keyword_drop"}}, "map keyword names to fixes"),
        ({"subok": {"kind": "keyword_drop", "when_passed": {}}}, "unknown fix field"),
    ],
)
def test_when_passed_is_validated_on_load(when_passed, message):
    fix = {"kind": "keyword_drop", "when_passed": when_passed}
    with pytest.raises(RecordError, match=message):
        parse_record(_record("numpy.array(copy)", fix))


def _record(symbol: str, fix: dict):
    return {
        "id": "x",
        "library": symbol.split(".")[0],
        "symbol": symbol,
        "kind": "signature",
        "removed_in": "3.0.0",
        "note": "n",
        "fix": fix,
        "source": {"url": "https://example.org", "version": "3.0.0"},
    }


def test_cli_writes_the_statement_fix_with_unsafe_fixes(tmp_path, capsys):
    src = tmp_path / "m.py"
    src.write_bytes(
        b"import numpy as np\r\nimport pandas as pd\r\n\r\n\r\ndef f(s, q):\r\n"
        b"    out = pd.to_numeric(s, errors='ignore')\r\n"
        b"    flags = [pd.to_numeric(v, errors='ignore') for v in s]\r\n"
        b"    return out, flags, np.array(q, copy=False, subok=True)\r\n"
    )
    argv = [str(src), "--write", "--format", "json", "--no-progress"]
    argv += [f"--target={lib}=={v}" for lib, v in TODAY.items()]
    assert cli.main([*argv, "--unsafe-fixes"]) == 1  # the comprehension is left
    assert src.read_bytes() == (
        b"import numpy as np\r\nimport pandas as pd\r\n\r\n\r\ndef f(s, q):\r\n"
        b"    try:\r\n        out = pd.to_numeric(s)\r\n"
        b"    except (ValueError, TypeError):\r\n        out = s\r\n"
        b"    flags = [pd.to_numeric(v, errors='ignore') for v in s]\r\n"
        b"    return out, flags, np.asanyarray(q)\r\n"
    )
    report = json.loads(capsys.readouterr().out)
    left = [f for f in report["findings"] if f["record"] == "pandas-3.0-to_numeric-errors-ignore"]
    assert len(left) == 1 and "comprehension" in left[0]["fix_unavailable"]


def hoisted(indent: str, name: str, call: str, fallback: str, nl: str = "\n") -> str:
    """The try/except a hoist writes before a statement indented with ``indent``."""
    step = indent + "    "
    return (
        f"{indent}try:{nl}{step}{name} = {call}{nl}{indent}{CATCH}{nl}{step}{name} = {fallback}{nl}"
    )


@pytest.mark.parametrize(
    "before, after",
    [
        # feature_engine 1.6.2's two shapes (variable_handling/_variable_type_checks.py)
        (
            "import pandas as pd\n\n\ndef _is_convertible_to_num(column: pd.Series) -> bool:\n"
            '    return is_numeric(pd.to_numeric(column, errors="ignore"))\n',
            "import pandas as pd\n\n\ndef _is_convertible_to_num(column: pd.Series) -> bool:\n"
            + hoisted("    ", "_numeric", "pd.to_numeric(column)", "column")
            + "    return is_numeric(_numeric)\n",
        ),
        (
            "import pandas as pd\n\n\ndef _is_convertible_to_dt(column):\n"
            "    with warnings.catch_warnings():\n"
            '        warnings.simplefilter("ignore")\n'
            '        return is_datetime(pd.to_datetime(column, errors="ignore", utc=True))\n',
            "import pandas as pd\n\n\ndef _is_convertible_to_dt(column):\n"
            "    with warnings.catch_warnings():\n"
            '        warnings.simplefilter("ignore")\n'
            + hoisted("        ", "_datetime", "pd.to_datetime(column, utc=True)", "column")
            + "        return is_datetime(_datetime)\n",
        ),
        # an assignment, through an operator, an attribute object, a subscript, a tuple and a
        # keyword's value, an attribute as the input; the code after a `;` and a comment kept
        (
            "import pandas as pd\n"
            "x = -g(k=(pd.to_timedelta(o.v, errors='ignore').dt[0], 1)) + 2; y = 3  # c\n",
            "import pandas as pd\n"
            + hoisted("", "_timedelta", "pd.to_timedelta(o.v)", "o.v")
            + "x = -g(k=(_timedelta.dt[0], 1)) + 2; y = 3  # c\n",
        ),
        # an expression statement in a class body, tab-indented, the call over several lines
        # (its continuation lines one level deeper), the file ending without a line end
        (
            "import pandas as pd\nclass C:\n\tprint(pd.to_numeric(\n\t\ts,\n\t\terrors='ignore',\n\t))",
            "import pandas as pd\nclass C:\n\ttry:\n\t\t_numeric = pd.to_numeric(\n\t\t\ts,\n\t\t)\n"
            f"\t{CATCH}\n\t\t_numeric = s\n\tprint(_numeric)",
        ),
        # the name taken (bound, read, or an attribute anywhere in the file): a suffixed one;
        # two calls in one statement get two names
        (
            "import pandas as pd\n_numeric = self._numeric_2\n"
            "ok = f(pd.to_numeric(a, errors='ignore'), pd.to_numeric(b, errors='ignore'))\n",
            "import pandas as pd\n_numeric = self._numeric_2\n"
            + hoisted("", "_numeric_3", "pd.to_numeric(a)", "a")
            + hoisted("", "_numeric_4", "pd.to_numeric(b)", "b")
            + "ok = f(_numeric_3, _numeric_4)\n",
        ),
        # return of a tuple, an augmented assignment
        (
            "import pandas as pd\ndef f(s):\n    t += [pd.to_numeric(s, errors='ignore')]\n"
            "    return s, pd.to_datetime(s, errors='ignore')\n",
            "import pandas as pd\ndef f(s):\n"
            + hoisted("    ", "_numeric", "pd.to_numeric(s)", "s")
            + "    t += [_numeric]\n"
            + hoisted("    ", "_datetime", "pd.to_datetime(s)", "s")
            + "    return s, _datetime\n",
        ),
    ],
)
def test_hoists_a_nested_call_before_its_statement(detector, before, after):
    assert fixed(detector, before) == after


def test_a_hoist_keeps_crlf_and_the_other_bytes(detector):
    before = (
        b"import pandas as pd\r\n\r\ndef f(s):\r\n    # \xc3\xa9\r\n"
        b"    return is_num(pd.to_numeric(s, errors='ignore'))  # keep\r\n"
    )
    assert fix_source(before, detector, unsafe=True).source == (
        b"import pandas as pd\r\n\r\ndef f(s):\r\n    # \xc3\xa9\r\n"
        + hoisted("    ", "_numeric", "pd.to_numeric(s)", "s", "\r\n").encode()
        + b"    return is_num(_numeric)  # keep\r\n"
    )


def test_a_hoisted_fix_names_its_own_corner_case(detector):
    code = "import pandas as pd\nok = is_num(pd.to_numeric(s, errors='ignore'))\n"
    assert fixed(detector, code, unsafe=False) == code
    (finding,) = detector.detect(code.encode())
    assert "runs before whatever the statement evaluated ahead of it" in finding.fix.unsafe_because


def test_cli_hoists_with_unsafe_fixes(tmp_path, capsys):
    src = tmp_path / "checks.py"
    src.write_bytes(
        b"import pandas as pd\r\n\r\n\r\ndef f(column):\r\n"
        b"    return is_numeric(pd.to_numeric(column, errors='ignore'))\r\n"
        b"\r\n\r\ndef g(column):\r\n"
        b"    return a or is_numeric(pd.to_numeric(column, errors='ignore'))\r\n"
    )
    argv = [str(src), "--write", "--format", "json", "--no-progress", "--target=pandas==3.0.6"]
    assert cli.main([*argv, "--unsafe-fixes"]) == 1  # the one under `or` is left
    assert src.read_bytes() == (
        b"import pandas as pd\r\n\r\n\r\ndef f(column):\r\n"
        + hoisted("    ", "_numeric", "pd.to_numeric(column)", "column", "\r\n").encode()
        + b"    return is_numeric(_numeric)\r\n"
        b"\r\n\r\ndef g(column):\r\n"
        b"    return a or is_numeric(pd.to_numeric(column, errors='ignore'))\r\n"
    )
    report = json.loads(capsys.readouterr().out)
    (left,) = [f for f in report["findings"] if f["record"].endswith("errors-ignore")]
    assert "`and`/`or`" in left["fix_unavailable"]


def test_a_statement_that_is_not_utf8_is_left_with_a_reason():
    """regression: broken input (the prefilter's mutants) with a byte that is not UTF-8 on the
    statement's line raised UnicodeDecodeError out of the detector."""
    from packaging.version import Version

    from recode.dataset.knowledge import load_knowledge_base
    from recode.server.detector import Detector
    from recode.server.severity import LibraryVersion

    kb = load_knowledge_base()
    detector = Detector(kb, {"pandas": LibraryVersion(Version("3.0"), "target")})
    source = b"import pandas as pd\nres =\xe4pd.to_datetime(s, errors='ignore')\n"
    found = [f for f in detector.detect(source) if "errors-ignore" in f.record.id]
    assert [(f.edits, f.fix_unavailable) for f in found] == [
        (None, "the statement's line is not valid UTF-8")
    ]
