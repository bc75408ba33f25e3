"""Snippet mining, each check of recode-dataset build (with examples that must be rejected),
dedup and splits, the teacher client, and runs under two interpreters in the sandbox."""

from __future__ import annotations

import http.server
import json
import sys
import threading

import pytest

from recode.dataset import build as b
from recode.dataset.knowledge import KnowledgeBase, parse_record
from recode.training import dataset_tools


def record(**fields):
    base = {
        "library": "numpy",
        "source": {"url": "https://numpy.org/doc/", "version": "2.0.0"},
        "note": "a test record",
    }
    return parse_record({**base, **fields})


FLOAT_ = record(
    id="t-float_",
    symbol="numpy.float_",
    kind="removed",
    removed_in="2.0.0",
    replacement="numpy.float64",
    fix={"kind": "rename", "to": "numpy.float64"},
    note="np.float_ was removed; use np.float64.",
)
ALLTRUE = record(
    id="t-alltrue",
    symbol="numpy.alltrue",
    kind="removed",
    removed_in="2.0.0",
    fix={"kind": "rename", "to": "numpy.all"},
)
MSORT = record(
    id="t-msort",
    symbol="numpy.msort",
    kind="removed",
    removed_in="2.0.0",
    replacement="np.sort(a, axis=0)",
)  # no mechanical fix
KB = KnowledgeBase([FLOAT_, ALLTRUE, MSORT], [])
TOOLS = dataset_tools.build_tools()

SOURCE = '''"""A module of a package that uses numpy."""
import os
import numpy as np
from numpy import msort


class Stats:
    def mean(self, values):
        # the old alias
        arr = np.asarray(values, dtype=np.float_)
        return arr.mean()

    def both(self, values):
        ok = np.alltrue(values)
        return np.float_(ok)


def ordered(a):
    return msort(a)


def unrelated():
    return os.getcwd()
'''


def test_cut_snippet_keeps_the_function_and_its_imports():
    snippet = b.cut_snippet(SOURCE, 10)
    assert snippet == (
        "import numpy as np\n\n"
        "def mean(self, values):\n"
        "    # the old alias\n"
        "    arr = np.asarray(values, dtype=np.float_)\n"
        "    return arr.mean()\n"
    )
    assert "import os" not in snippet  # imports the snippet does not use are left out
    long_function = (
        "import numpy as np\n\ndef f():\n" + "    x = 1\n" * 40 + "    y = np.float_(x)\n"
    )
    cut = b.cut_snippet(long_function, 44, max_lines=30)
    assert cut == "import numpy as np\n\ny = np.float_(x)\n"  # the statement, not the function
    assert b.cut_snippet("def broken(:\n", 1) is None


def test_mine_file_finds_each_usage_with_provenance():
    det = dataset_tools.detector(KB)
    cands = list(b.mine_file(SOURCE, det, {"origin": "mined", "path": "pkg/stats.py"}))
    found = sorted((c.record_id, c.provenance["line"]) for c in cands)
    # the import line itself is flagged by the detector, but an import is no snippet
    assert found == [("t-alltrue", 14), ("t-float_", 10), ("t-float_", 15), ("t-msort", 19)]
    assert all(c.provenance["path"] == "pkg/stats.py" for c in cands)


def test_tests_of_the_deprecation_itself_are_not_mined():
    det = dataset_tools.detector(KB)
    source = (
        "import numpy as np\nimport pytest\n\n\ndef test_alias():\n"
        "    with pytest.warns(DeprecationWarning):\n        np.float_(1)\n"
    )
    assert list(b.mine_file(source, det, {})) == []
    assert (
        len(
            list(
                b.mine_file(
                    source.replace("pytest.warns(DeprecationWarning)", "open('f')"), det, {}
                )
            )
        )
        == 1
    )


def test_checks_accept_a_mechanical_fix():
    checker = b.Checker(KB, TOOLS)
    old = b.cut_snippet(SOURCE, 10)
    verdict = checker.check(FLOAT_, old)
    assert verdict.ok, verdict.reason
    assert verdict.new_source == "fix"
    assert "dtype=np.float64" in verdict.new_code and "float_" not in verdict.new_code
    assert verdict.flagged_lines == [5]


@pytest.mark.parametrize(
    "rec, old, new, reason",
    [
        (FLOAT_, "import numpy as np\nx = np.float_(1\n", None, "old code does not parse"),
        (
            FLOAT_,
            "import numpy as np\nx = np.float64(1)\n",
            None,
            "detector does not flag the old code",
        ),
        # np.float_ here is a local name, not numpy's
        (
            FLOAT_,
            "def f(np):\n    return np.float_(1)\n",
            None,
            "detector does not flag the old code",
        ),
        (
            MSORT,
            "import numpy as np\ny = np.msort([3, 1])\n",
            None,
            "no mechanical fix and no teacher",
        ),
        (
            FLOAT_,
            "import numpy as np\nok = np.alltrue([1])\nx = np.float_(ok)\n",
            None,
            "other outdated calls in the snippet",
        ),
        (
            FLOAT_,
            "import numpy as np\nx = np.float_(1)\n",
            "import numpy as np\nx = np.float_(1)\n",
            "new code equals old code",
        ),
        (
            FLOAT_,
            "import numpy as np\nx = np.float_(1)\n",
            "import numpy as np\nx = np.float_(1.0)\n",
            "detector still flags the new code",
        ),
        (
            FLOAT_,
            "import numpy as np\nx = np.float_(1)\n",
            "import numpy as np\nx = np.float64(np.alltrue([1]))\n",
            "new code holds another outdated call",
        ),
        (
            FLOAT_,
            "import numpy as np\nx = np.float_(1)\n",
            "x = np.float64(1\n",
            "new code does not parse",
        ),
    ],
)
def test_checks_reject(rec, old, new, reason):
    verdict = b.Checker(KB, TOOLS).check(rec, old, new, "kb-example" if new else "")
    assert not verdict.ok
    assert verdict.reason == reason


class FakeTeacher:
    def __init__(self, answer):
        self.answer = answer
        self.calls = 0

    def migrate(self, record, old_code):
        self.calls += 1
        return self.answer


def test_teacher_fills_in_where_no_fix_exists_and_is_checked_too():
    old = "import numpy as np\ny = np.msort([3, 1])\n"
    good = b.Checker(KB, TOOLS, FakeTeacher("import numpy as np\ny = np.sort([3, 1], axis=0)\n"))
    verdict = good.check(MSORT, old)
    assert verdict.ok and verdict.new_source == "teacher"
    lazy = b.Checker(KB, TOOLS, FakeTeacher(old))  # a teacher that changes nothing is rejected
    assert lazy.check(MSORT, old).reason == "new code equals old code"


def test_teacher_client_speaks_openai_chat(monkeypatch):
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen["path"] = self.path
            seen["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = (
                "reason</think>\n<answer>\n```python\nimport numpy as np\n"
                "y = np.sort([3, 1], axis=0)\n```\n</answer>"
            )
            data = json.dumps({"choices": [{"message": {"content": answer}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        teacher = b.Teacher(
            dataset_tools.chat(f"http://127.0.0.1:{server.server_port}/v1", "toy"), "toy"
        )
        new = teacher.migrate(MSORT, "import numpy as np\ny = np.msort([3, 1])\n")
    finally:
        server.shutdown()
    assert new == "import numpy as np\ny = np.sort([3, 1], axis=0)\n"
    assert seen["path"] == "/v1/chat/completions"
    assert seen["body"]["model"] == "toy"
    assert "np.msort" in seen["body"]["messages"][1]["content"]
    assert (
        b.Teacher(dataset_tools.chat("http://127.0.0.1:9/v1", "x", timeout=1), "x").migrate(
            MSORT, "x"
        )
        is None
    )


def test_build_dedups_caps_and_splits_by_update():
    snippet = b.cut_snippet(SOURCE, 10)
    same_but_spaced = snippet.replace("values, dtype", "values,  dtype") + "# trailing comment\n"
    cands = [
        (b.Candidate("t-float_", snippet, {"origin": "mined", "path": "a.py"}), None),
        (b.Candidate("t-float_", same_but_spaced, {"origin": "mined", "path": "b.py"}), None),
        (
            b.Candidate("t-float_", "import numpy as np\nz = np.float_(2)\n", {"origin": "mined"}),
            None,
        ),
        (
            b.Candidate("t-float_", "import numpy as np\nw = np.float_(3)\n", {"origin": "mined"}),
            None,
        ),
        (
            b.Candidate(
                "t-msort", "import numpy as np\ny = np.msort([3, 1])\n", {"origin": "mined"}
            ),
            None,
        ),
    ]
    report = b.BuildReport()
    rows = b.build(cands, KB, TOOLS, per_record_cap=2, report=report)
    assert report.duplicates == 1
    assert report.rejected == {"per-update cap reached": 1, "no mechanical fix and no teacher": 1}
    assert len(rows) == 2
    row = rows[0]
    assert row["dependency"] == "numpy" and row["new_version"] == "==2.0.0"
    assert row["update_info"] == "np.float_ was removed; use np.float64."
    assert row["provenance"] == {"origin": "mined", "path": "a.py"}
    assert row["split"] == b.split_of("t-float_") == rows[1]["split"]
    assert row["verification"] == "static" and row["new_code_from"] == "fix"
    assert row["exact_fix"] is True and row["exact_fix_records"] == ["t-float_"]
    assert {b.split_of(f"r{i}") for i in range(200)} == {"train", "validation", "test"}


# -- exact fixes: which examples a mechanical fix produces ---------------------------------------

OLD_FLOAT = "import numpy as np\nx = np.float_(1)\n"


def test_exact_fix_marks_an_example_the_fix_produces():
    checker = b.Checker(KB, TOOLS)
    new = "import numpy as np\nx = np.float64(1)\n"
    assert b.exact_fix_records(checker, "t-float_", OLD_FLOAT, new) == ["t-float_"]


def test_exact_fix_does_not_mark_a_migration_no_fix_writes():
    checker = b.Checker(KB, TOOLS)
    # a correct migration, but not the template's: the model's job
    new = "import numpy as np\nx = float(1)\n"
    assert b.exact_fix_records(checker, "t-float_", OLD_FLOAT, new) == []
    # a record without a fix, and no other fixable finding
    old = "import numpy as np\ny = np.msort([3, 1])\n"
    new = "import numpy as np\ny = np.sort([3, 1], axis=0)\n"
    assert b.exact_fix_records(checker, "t-msort", old, new) == []


def test_exact_fix_compares_code_as_the_reward_normalises_it():
    checker = b.Checker(KB, TOOLS)
    new = "import numpy as np\n\nx = np.float64(1)  # float64 from now on\n"
    fixed = TOOLS.fix(OLD_FLOAT.encode(), checker.single(FLOAT_)).decode()
    assert fixed != new  # other text: a comment and a blank line more
    assert b.exact_fix_records(checker, "t-float_", OLD_FLOAT, new) == ["t-float_"]
    # a real difference after normalisation is not equivalent
    assert b.exact_fix_records(checker, "t-float_", OLD_FLOAT, new.replace("(1)", "(2)")) == []


def test_exact_fix_tries_every_fix_when_the_record_alone_does_not_produce_it():
    checker = b.Checker(KB, TOOLS)
    old = "import numpy as np\nx = np.float_(1)\ny = np.alltrue([x])\n"
    new = "import numpy as np\nx = np.float64(1)\ny = np.all([x])\n"
    assert b.exact_fix_records(checker, "t-float_", old, new) == ["t-alltrue", "t-float_"]
    assert b.exact_fix_records(
        checker, "not-a-record", OLD_FLOAT, "import numpy as np\nx = np.float64(1)\n"
    ) == ["t-float_"]


def test_mark_exact_fix_places_and_replaces_the_marks():
    row = {
        "id": "r",
        "new_code_from": "kb-example",
        "exact_fix": True,
        "exact_fix_records": ["old"],
        "split": "train",
    }
    marked = b.mark_exact_fix(row, [])
    assert list(marked) == ["id", "new_code_from", "exact_fix", "exact_fix_records", "split"]
    assert marked["exact_fix"] is False and marked["exact_fix_records"] == []
    assert row["exact_fix_records"] == ["old"]  # the row given is left alone
    assert list(b.mark_exact_fix({"id": "r"}, ["t-float_"])) == [
        "id",
        "exact_fix",
        "exact_fix_records",
    ]


def test_library_caps_override_the_per_update_cap():
    cands = [
        (
            b.Candidate(
                "t-float_", f"import numpy as np\nz{i} = np.float_({i})\n", {"origin": "mined"}
            ),
            None,
        )
        for i in range(5)
    ]
    report = b.BuildReport()
    assert len(b.build(cands, KB, TOOLS, per_record_cap=2, report=report)) == 2
    assert report.rejected == {"per-update cap reached": 3}
    report = b.BuildReport()
    rows = b.build(cands, KB, TOOLS, per_record_cap=2, library_caps={"numpy": 4}, report=report)
    assert len(rows) == 4 and report.rejected == {"per-update cap reached": 1}
    # another library's cap leaves numpy's updates at the default
    assert len(b.build(cands, KB, TOOLS, per_record_cap=2, library_caps={"torch": 9})) == 2


class NoEnvironments(b.VenvPool):
    """No release can be installed: every run stops before starting a process."""

    def __init__(self):
        super().__init__(allow_create=False)

    def interpreter(self, library, version):
        return None


def test_execute_rows_limits_runs_per_library():
    cands = [
        (
            b.Candidate(
                "t-float_", f"import numpy as np\nz{i} = np.float_({i})\n", {"origin": "mined"}
            ),
            None,
        )
        for i in range(5)
    ]
    rows = b.build(cands, KB, TOOLS)
    releases = {"numpy": ["1.26.4", "2.0.2"]}
    report = b.BuildReport()
    b.execute_rows(rows, KB, NoEnvironments(), releases, TOOLS, per_library=2, report=report)
    assert report.run_failures == {"numpy: environment unavailable": 2}
    assert ["run" in r["checks"] for r in rows] == [True, True, False, False, False]
    report = b.BuildReport()
    b.execute_rows(
        rows,
        KB,
        NoEnvironments(),
        releases,
        TOOLS,
        per_library=2,
        library_limits={"numpy": 4},
        report=report,
    )
    assert report.run_failures == {"numpy: environment unavailable": 4}
    # a passed run of an earlier build under the same releases is reused, outside the limit
    for row in rows:
        row["checks"].pop("run", None)
    passed = {"ok": True, "old_version": "1.26.4", "new_version": "2.0.2", "discriminating": True}
    earlier_rows = [
        {**rows[0], "verification": "executed", "checks": {"run": passed}},
        {**rows[1], "verification": "static", "checks": {"run": {**passed, "ok": False}}},
    ]
    earlier = b.passed_runs(earlier_rows)
    assert list(earlier) == [b.run_key(rows[0])]
    report = b.BuildReport()
    b.execute_rows(
        rows, KB, NoEnvironments(), releases, TOOLS, per_library=1, earlier=earlier, report=report
    )
    assert report.reused_runs == 1 and rows[0]["verification"] == "executed"
    assert rows[0]["checks"]["run"] == {**passed, "reused": True}
    assert report.run_failures == {"numpy: environment unavailable": 1}  # rows[1] ran
    # other releases: not reused
    rows[0]["checks"].pop("run")
    rows[0]["verification"] = "static"
    report = b.BuildReport()
    b.execute_rows(
        rows[:1],
        KB,
        NoEnvironments(),
        {"numpy": ["1.25.2", "2.0.2"]},
        TOOLS,
        earlier=earlier,
        report=report,
    )
    assert report.reused_runs == 0 and rows[0]["verification"] == "static"


def test_later_release_pairing(tmp_path):
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    (old_root / "pkg").mkdir(parents=True)
    (new_root / "pkg").mkdir(parents=True)
    (old_root / "pkg" / "m.py").write_text(
        "import numpy as np\n\n\ndef order(a):\n    b = list(a)\n    return np.msort(b)\n\n\n"
        "def other(a):\n    return np.msort(a) + 1\n"
    )
    (new_root / "pkg" / "m.py").write_text(
        "import numpy as np\n\n\ndef order(a):\n    b = list(a)\n    return np.sort(b, axis=0)\n\n\n"
        "def other(a):\n    return sorted(a, key=str, reverse=True)[::-1] + [0] * len(a)\n"
    )
    det = dataset_tools.detector(KB)
    paired = list(b.successors(b.mine_tree(old_root, det, {"origin": "mined"}), old_root, new_root))
    assert [p[1] is not None for p in paired] == [True, True]
    report = b.BuildReport()
    rows = b.build(paired, KB, TOOLS, report=report)
    assert [r["new_code_from"] for r in rows] == ["later-release"]
    assert rows[0]["new_code"].endswith("return np.sort(b, axis=0)\n")
    assert rows[0]["checks"]["similarity"] > 0.6
    assert report.rejected == {"later release rewrote the function": 1}


def test_later_release_pairing_widens_a_statement_to_its_function(tmp_path):
    # a 35-line function: mining cuts the statement, pairing takes the whole function
    body = "".join(f"    x{i} = {i}\n" for i in range(32))
    old = f"import numpy as np\n\n\ndef long(a):\n{body}    b = np.msort(a)\n    return b\n"
    new = old.replace("np.msort(a)", "np.sort(a, axis=0)")
    for root, text in ((tmp_path / "old", old), (tmp_path / "new", new)):
        root.mkdir()
        (root / "m.py").write_text(text)
    det = dataset_tools.detector(KB)
    mined = list(b.mine_tree(tmp_path / "old", det, {"origin": "mined"}))
    assert [c.old_code.startswith("def long") for c in mined] == [False]
    [(cand, new_code, source)] = b.successors(mined, tmp_path / "old", tmp_path / "new")
    assert cand.old_code.startswith("import numpy as np\n\ndef long(a):")
    assert cand.provenance["cut"] == "function"
    assert new_code is not None and "np.sort(a, axis=0)" in new_code
    rows = b.build([(cand, new_code, source)], KB, TOOLS)
    assert [r["new_code_from"] for r in rows] == ["later-release"]
    # too long a function to widen to: the statement stays, unpaired
    [(cand, new_code, _)] = b.successors(mined, tmp_path / "old", tmp_path / "new", max_lines=20)
    assert new_code is None and cand.old_code == mined[0].old_code and "cut" not in cand.provenance


def test_widened_pairing_falls_back_to_the_fixed_statement_and_maps_sdist_folders(tmp_path):
    # pkg-1.0/m.py and pkg-1.1/m.py (an sdist's versioned folder); the later release still
    # calls np.float_ (not migrated yet): the statement mined gets the mechanical fix instead
    body = "".join(f"    x{i} = {i}\n" for i in range(32))
    code = f"import numpy as np\n\n\ndef long(a):\n{body}    b = np.float_(a)\n    return b\n"
    for root in (tmp_path / "old" / "pkg-1.0", tmp_path / "new" / "pkg-1.1"):
        root.mkdir(parents=True)
        (root / "m.py").write_text(code)
    (tmp_path / "new" / "pkg-1.1" / "other").mkdir()
    (tmp_path / "new" / "pkg-1.1" / "other" / "m.py").write_text(code)  # m.py is not unique
    det = dataset_tools.detector(KB)
    mined = list(b.mine_tree(tmp_path / "old", det, {"origin": "mined"}))
    [(cand, new_code, source)] = b.successors(mined, tmp_path / "old", tmp_path / "new")
    assert cand.provenance["new_path"] == "pkg-1.1/m.py" and new_code is not None
    assert cand.statement == mined[0].old_code and cand.old_code != cand.statement
    report = b.BuildReport()
    [row] = b.build([(cand, new_code, source)], KB, TOOLS, report=report)
    assert row["new_code_from"] == "fix" and row["old_code"] == mined[0].old_code
    assert "cut" not in row["provenance"] and "new_path" not in row["provenance"]
    assert row["new_code"] == mined[0].old_code.replace("np.float_(", "np.float64(")


def test_run_versions_picks_the_release_pair():
    releases = ["1.25.2", "1.26.0", "1.26.4", "2.0.0", "2.0.2", "2.1.0"]
    assert b.run_versions(FLOAT_, releases) == ("1.26.4", "2.0.2")
    dep = record(id="t-dep", symbol="numpy.in1d", kind="deprecated", deprecated_in="2.0.0")
    assert b.run_versions(dep, releases) == ("2.0.2", "2.0.2")
    assert b.run_versions(FLOAT_, ["2.1.0"]) is None


class OnePython(b.VenvPool):
    """Every release is this interpreter (the test venv's numpy)."""

    def __init__(self):
        super().__init__(allow_create=False)

    def interpreter(self, library, version):
        return sys.executable


@pytest.mark.slow
def test_execute_runs_both_sides_and_checks_the_flagged_lines_ran():
    pytest.importorskip("numpy")
    sum_rec = record(
        id="t-sum",
        symbol="numpy.sum",
        kind="renamed",
        removed_in="99.0",
        fix={"kind": "rename", "to": "numpy.add.reduce"},
    )
    releases = ["98.0", "99.0"]
    pool = OnePython()
    old = "import numpy as np\ntotal = np.sum([1, 2, 3])\nassert total == 6\n"
    new = "import numpy as np\ntotal = np.add.reduce([1, 2, 3])\nassert total == 6\n"
    result = b.execute(sum_rec, old, new, [2], pool, releases, TOOLS)
    assert result["ok"], result
    assert result["discriminating"] is False  # np.sum still works "after" the change
    # a function that is defined but never called proves nothing
    unused = "import numpy as np\n\ndef f():\n    return np.sum([1])\n"
    result = b.execute(
        sum_rec, unused, unused.replace("np.sum", "np.add.reduce"), [4], pool, releases, TOOLS
    )
    assert not result["ok"] and result["reason"] == "the flagged lines did not run"
    # old code that fails under the old release is rejected
    broken = "import numpy as np\ntotal = np.sum([1, 2, 3])\nraise SystemExit(3)\n"
    result = b.execute(sum_rec, broken, new, [2], pool, releases, TOOLS)
    assert not result["ok"] and result["reason"] == "old code fails under the old version"
    # new code that fails under the new release is rejected
    result = b.execute(
        sum_rec,
        old,
        "import numpy as np\nnp.add.reduce(1, 2, 3, 4, 5)\n",
        [2],
        pool,
        releases,
        TOOLS,
    )
    assert not result["ok"] and result["reason"] == "new code fails under the new version"


def test_normalise_and_doctests():
    import doctest

    import recode.dataset.build
    import recode.dataset.notes

    for module in (recode.dataset.build, recode.dataset.notes):
        failures, _ = doctest.testmod(module)
        assert failures == 0
    assert b.normalise("x=1 # c\n\n") == b.normalise("x = 1")
    assert b.normalise("x = 1") != b.normalise("x = 2")
