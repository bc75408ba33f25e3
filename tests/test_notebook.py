"""Jupyter notebooks through recode-migrate: cells scanned as one module, IPython syntax masked,
locations per cell, --diff per cell, and --write changing only the changed cells' sources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recode.server import cli
from recode.server.fixes import parses
from recode.server.notebook import Module, mask, read_notebook, splice
from tests.conftest import DATA, TEST_KB

REAL = DATA / "notebooks"
FUZZ_KB = DATA / "kb" / "fuzz.jsonl"
NUMPY = ("--kb", str(TEST_KB), "--libraries", "numpy", "--target", "numpy==2.0")


def notebook(
    *cells: tuple[str, str | list[str]],
    indent: int = 1,
    ensure_ascii: bool = False,
    **metadata: object,
) -> str:
    """An nbformat 4 notebook as Jupyter writes it, cells given as (cell_type, source)."""
    doc = {
        "cells": [
            {
                "cell_type": kind,
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            if kind == "code"
            else {"cell_type": kind, "metadata": {}, "source": src}
            for kind, src in cells
        ],
        "metadata": metadata or {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(doc, indent=indent, ensure_ascii=ensure_ascii) + "\n"


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([*args, "--no-progress", "--jobs", "1"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def nb(tmp_path: Path) -> Path:
    path = tmp_path / "analysis.ipynb"
    path.write_text(
        notebook(
            ("markdown", ["# Analysis\n", "uses np.float_ in prose"]),
            ("code", ["%matplotlib inline\n", "!pip install numpy\n", "import numpy as np"]),
            ("code", "x = 1\n"),
            (
                "code",
                ["np.mean?\n", "for i in range(3):\n", "    !echo hi\n", "    y = np.float_(i)"],
            ),
            ("code", ["%%bash\n", "echo np.float_\n"]),
            ("code", ["print(np.trapz([1, 2]))\n"]),
        ),
        encoding="utf-8",
    )
    return path


def test_a_folder_walk_finds_notebooks_and_names_cells(capsys, nb):
    code, out, _ = run(capsys, str(nb.parent), *NUMPY)
    assert code == 1
    assert "analysis.ipynb:cell 4:4:9: error [np-float_]" in out
    # the import in cell 2 counts in cell 6; %%bash and markdown cells are not Python
    assert "analysis.ipynb:cell 6:1:7: warning [np-trapz]" in out
    assert out.count("analysis.ipynb:cell") == 2
    assert "in 1 file" in out and "syntax" not in out


def test_json_and_sarif_give_the_cell_and_positions_inside_it(capsys, nb):
    _, out, _ = run(capsys, str(nb), *NUMPY, "--format", "json")
    found = json.loads(out)["findings"]
    assert [(f["cell"], f["line"], f["column"], f["end_column"]) for f in found] == [
        (4, 4, 9, 18),
        (6, 1, 7, 15),
    ]
    _, out, _ = run(capsys, str(nb), *NUMPY, "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    assert [r["properties"]["cell"] for r in results] == [4, 6]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_diff_is_per_cell_and_changes_nothing(capsys, nb):
    before = nb.read_bytes()
    code, out, _ = run(capsys, str(nb), *NUMPY, "--diff")
    assert nb.read_bytes() == before
    assert code == 1
    name = str(nb)
    assert f"--- a/{name}:cell 4\n+++ b/{name}:cell 4\n" in out
    no_newline = "\\ No newline at end of cell\n"
    assert f"-    y = np.float_(i)\n{no_newline}+    y = np.float64(i)\n{no_newline}" in out
    assert f"--- a/{name}:cell 6\n+++ b/{name}:cell 6\n" in out
    assert "-print(np.trapz([1, 2]))\n+print(np.trapezoid([1, 2]))\n" in out
    assert "the diff fixes 2" in out


def test_write_changes_only_the_changed_sources(capsys, nb):
    before = nb.read_text(encoding="utf-8")
    code, out, _ = run(capsys, str(nb), *NUMPY, "--write")
    assert code == 0, out
    after = nb.read_text(encoding="utf-8")
    expected = before.replace('"    y = np.float_(i)"', '"    y = np.float64(i)"').replace(
        '"print(np.trapz([1, 2]))\\n"', '"print(np.trapezoid([1, 2]))\\n"'
    )
    assert after == expected
    # the magics, the %%bash cell and the markdown prose are as they were
    assert "echo np.float_" in after and "uses np.float_ in prose" in after


@pytest.mark.parametrize("indent", [1, 2, 4])
def test_write_keeps_a_string_source_and_the_layout(capsys, tmp_path, indent):
    path = tmp_path / "s.ipynb"
    text = notebook(
        ("code", "import numpy as np\nx = np.float_(1)"),
        ("code", []),
        indent=indent,
    ).rstrip("\n")  # no final newline
    path.write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, str(path), *NUMPY, "--write")
    assert code == 0, out
    assert path.read_text(encoding="utf-8") == text.replace("np.float_(1)", "np.float64(1)")


def test_a_fix_that_adds_a_line_keeps_the_list_layout(tmp_path):
    text = notebook(("code", ["import numpy as np\n", "x = np.float_(1)\n", "y = 2"]))
    nbk = read_notebook(text)
    module = Module.join(nbk.cells)
    new = module.source.replace(b"x = np.float_(1)\n", b"x = np.float64(1)\nz = 3\n")
    changed = module.split(new)
    assert changed == {1: "import numpy as np\nx = np.float64(1)\nz = 3\ny = 2"}
    assert splice(nbk, changed) == text.replace(
        '"x = np.float_(1)\\n",', '"x = np.float64(1)\\n",\n    "z = 3\\n",'
    )


def test_real_notebooks_round_trip_byte_for_byte(capsys, tmp_path):
    """Notebooks as published (outputs, metadata, 1-space indent, no final newline, automagic
    ``ls``, ``x = !ls`` in a function): every byte outside the changed sources stays."""
    folder = tmp_path / "nbs"
    shutil.copytree(REAL, folder, ignore=shutil.ignore_patterns("*.md"))
    kb = tmp_path / "kb.jsonl"
    kb.write_text(
        FUZZ_KB.read_text(encoding="utf-8")
        + json.dumps(
            {
                "id": "t-sleep",
                "library": "time",
                "symbol": "time.sleep",
                "kind": "renamed",
                "removed_in": "1.0",
                "fix": {"kind": "rename", "to": "time.pause"},
                "note": "synthetic record",
                "source": {"url": "https://example.org/t", "version": "1.0"},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    args = ("--kb", str(kb), "--target", "os==1.0", "--target", "time==1.0")
    before = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.ipynb")}
    code, out, _ = run(capsys, str(folder), *args, "--libraries", "os,time", "--write")
    assert "not rewritten" not in out and "skipped" not in out, out
    after = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.ipynb")}
    importing = before["Importing Notebooks.ipynb"]
    running = before["Running Code.ipynb"]
    assert importing.count("os.path.join(") == 6 and running.count("time.sleep(") == 2
    assert after == {
        "Importing Notebooks.ipynb": importing.replace("os.path.join(", "os.path.joinpath("),
        "Running Code.ipynb": running.replace("time.sleep(", "time.pause("),
        "mynotebook.ipynb": before["mynotebook.ipynb"],
    }
    assert "8 fixed" in out


def test_ipython_syntax_is_masked_only_where_a_statement_starts():
    cell = "".join(
        [
            "%time x = 1\n",
            "files = !ls\n",
            "ls nbpackage\n",
            "cd ..\n",
            "obj??\n",
            "!pip install \\\n",
            "   numpy\n",
            's = """\n',
            "!not a shell line\n",
            '"""\n',
            "t = (\n",
            "    '%s'\n",
            "    % s\n",
            ")\n",
            "ls = [1]\n",
            "pwd\n",
            "%timeit np.fromiter((a for a in b),\n",
            "                    dtype=float)\n",
            "u = 1\n",
        ]
    )
    text, masked = mask(cell)
    assert masked == {0, 1, 2, 3, 4, 5, 6, 16, 17}
    assert parses(text.encode())
    assert [len(a) for a in lines(text)] == [len(b) for b in lines(cell)]
    assert lines(text)[7:16] == lines(cell)[7:16]
    assert lines(text)[18] == "u = 1\n"


def test_masking_keeps_every_byte_offset():
    cell = "!echo é ☃ 😀\nx = 1\n%cd ü\n"
    text, masked = mask(cell)
    assert masked == {0, 2}
    assert [len(a.encode()) for a in lines(text)] == [len(b.encode()) for b in lines(cell)]
    assert parses(text.encode())


def test_an_import_made_in_an_earlier_cell_counts(capsys, tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(
        notebook(("code", "import numpy as np"), ("code", "def f():\n    return np.float_(2)")),
        encoding="utf-8",
    )
    _, out, _ = run(capsys, str(path), *NUMPY)
    assert "n.ipynb:cell 2:2:12: error [np-float_]" in out


def test_add_ignore_comments_the_cells(capsys, nb):
    code, out, _ = run(capsys, str(nb), *NUMPY, "--add-ignore")
    assert code == 0, out
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    assert cells[3]["source"][3] == "    y = np.float_(i)  # recode: ignore[np-float_]"
    assert cells[5]["source"] == ["print(np.trapz([1, 2]))  # recode: ignore[np-trapz]\n"]
    assert cells[1]["source"][0] == "%matplotlib inline\n"
    code, out, _ = run(capsys, str(nb), *NUMPY)
    assert code == 0 and "2 suppressed" in out


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"cells": [', "not a valid notebook: the JSON ends before the document does"),
        ('{"cells": [}', "not a valid notebook: Expecting value at line 1 column 12"),
        (
            '{"cells": [], "nbformat": 4} trailing',
            "not a valid notebook: text after the JSON document",
        ),
        ('{"nbformat": 3, "worksheets": []}', "nbformat 3 notebooks are not supported"),
        ("[1, 2]", "not a valid notebook"),
        (
            notebook(("code", "x = 1"), language_info={"name": "R"}),
            "the notebook's language is R, not Python",
        ),
    ],
)
def test_broken_and_old_notebooks_are_skipped_with_the_reason(capsys, tmp_path, text, reason):
    path = tmp_path / "bad.ipynb"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "ok.py").write_text("import numpy as np\nx = np.float_(1)\n", encoding="utf-8")
    code, out, _ = run(capsys, str(tmp_path), *NUMPY, "--write")
    assert f"bad.ipynb: skipped: {reason}" in out
    assert path.read_text(encoding="utf-8") == text
    assert code == 0 and "1 fixed" in out  # the rest of the run goes on


def test_the_cli_as_a_subprocess(nb):
    proc = subprocess.run(
        [sys.executable, "-m", "recode.server.cli", str(nb.parent), *NUMPY, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert {f["cell"] for f in json.loads(proc.stdout)["findings"]} == {4, 6}


_LINES = st.sampled_from(
    [
        "import numpy as np",
        "x = np.float_(1)",
        "%matplotlib inline",
        "!pip install numpy",
        "files = !ls",
        "ls data",
        "np.mean?",
        "for i in range(2):",
        "    !echo hi",
        "    y = i",
        "t = (1,",
        "     % 2)",
        "s = 'é ☃ \\u2028'",
        "# a comment?",
        "",
    ]
)
_CELL = st.lists(_LINES, max_size=6).map("\n".join) | st.lists(_LINES, max_size=6).map(
    lambda xs: "".join(x + "\n" for x in xs)
)


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(st.tuples(_CELL, st.booleans()), min_size=1, max_size=5),
    indent=st.sampled_from([1, 2, 4]),
    ensure_ascii=st.booleans(),
    changed=st.data(),
)
def test_splicing_new_sources_changes_nothing_else(cells, indent, ensure_ascii, changed):
    """Any cells, in either shape: the joined module splits back to no change, and new sources
    spliced in give the very bytes json.dumps writes for the changed notebook (as Jupyter
    would), whatever the indentation and escaping."""
    shaped = [("code", lines(src) if as_list else src) for src, as_list in cells]
    text = notebook(*shaped, indent=indent, ensure_ascii=ensure_ascii)
    nbk = read_notebook(text)
    module = Module.join(nbk.cells)
    assert module.split(module.source) == {}
    numbers = [c.number for c in nbk.cells]
    pick = changed.draw(st.sets(st.sampled_from(numbers)))
    new = {n: changed.draw(_CELL) for n in pick}
    new = {n: src for n, src in new.items() if src != nbk.cells[n - 1].source}
    out = splice(nbk, new)
    doc, before = json.loads(out), json.loads(text)
    for n, src in new.items():
        cell = before["cells"][n - 1]
        cell["source"] = lines(src) if isinstance(cell["source"], list) else src
        assert doc["cells"][n - 1]["source"] == cell["source"]
    assert doc == before
    for n, src in new.items():
        shaped[n - 1] = ("code", lines(src) if isinstance(shaped[n - 1][1], list) else src)
    escaped = "\\u00e9" in text or "\\u2603" in text  # the writer's style shows
    if not ensure_ascii or escaped or all(src.isascii() for src in new.values()):
        assert out == notebook(*shaped, indent=indent, ensure_ascii=ensure_ascii)


def test_write_keeps_a_bom_and_windows_line_ends(capsys, tmp_path):
    path = tmp_path / "w.ipynb"
    text = notebook(("code", ["import numpy as np\n", "x = np.float_(1)\n", "y = 2"]))
    raw = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
    path.write_bytes(raw)
    code, out, _ = run(capsys, str(path), *NUMPY, "--write")
    assert code == 0, out
    assert path.read_bytes() == raw.replace(b"np.float_(1)", b"np.float64(1)")


def test_cells_marked_as_another_language_are_left_out(capsys, tmp_path):
    path = tmp_path / "m.ipynb"
    doc = json.loads(notebook(("code", "import numpy as np"), ("code", "np.float_(1)")))
    doc["cells"][1]["metadata"] = {"vscode": {"languageId": "shellscript"}}
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    code, out, _ = run(capsys, str(path), *NUMPY)
    assert code == 0 and "0 outdated calls in 1 file" in out
    doc["cells"][1]["metadata"] = {"vscode": {"languageId": "python"}}
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    code, out, _ = run(capsys, str(path), *NUMPY)
    assert code == 1 and "m.ipynb:cell 2:1:1: error [np-float_]" in out
