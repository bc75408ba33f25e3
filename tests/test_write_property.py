"""Property: --write changes exactly the fix spans and no other byte, and --diff is that change.

Files are generated with a BOM or not, PEP 263 codecs, LF/CRLF/CR/mixed line ends, tabs,
non-ASCII text before and after the calls on their lines, a last line with or without its line
end, and fixable calls anywhere, among them one whose fix adds an import. The expected bytes are
built from the same pieces with each call's fixed spelling (and the import line, ending as the
line it follows), never computed by the code under test. utf-16 and utf-32 are not valid source
(Python refuses the NUL bytes), so they are not generated.
"""

from __future__ import annotations

import codecs
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import Edit, apply_edits, compose_edits
from recode.server.migrate import process_file
from tests.conftest import TEST_KB, versions

DETECTOR = Detector(load_knowledge_base([TEST_KB]), versions(numpy="2.1.0"))

# (old call, its fix); the last one's fix needs `import numpy.lib.extra`
CALLS = [
    ("np.float_(1)", "np.float64(1)"),
    ("np.trapz(v)", "np.trapezoid(v)"),
    ("np.lib.old_helper(v)", "np.lib.extra.helper(v)"),
]
NEEDS_IMPORT = "np.lib.old_helper(v)"
IMPORT = "import numpy.lib.extra"

# codec -> (coding declaration or None, characters of its own that the text may hold)
CODECS = {
    "utf-8": (None, "é€ß中"),
    "utf-8-sig": (None, "é€ß中"),
    "declared utf-8": ("# -*- coding: utf-8 -*-", "éü"),
    "latin-1": ("# -*- coding: latin-1 -*-", "éü×ÁÐ"),  # Á is C3 81 in UTF-8: 0x81 is no
    "cp1252": ("# vim: set fileencoding=cp1252 :", "é€…ÁÐ"),  # cp1252 character
}
NEWLINES = ["\n", "\r\n", "\r"]


@dataclass
class Generated:
    codec: str
    original: bytes
    expected: bytes
    fixes: int


@st.composite
def files(draw: st.DrawFn) -> Generated:
    name = draw(st.sampled_from(sorted(CODECS)))
    cookie, chars = CODECS[name]
    codec = {"declared utf-8": "utf-8"}.get(name, name)
    style = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))

    def newline() -> str:
        return draw(st.sampled_from(NEWLINES)) if style == "mixed" else style

    words = st.text(alphabet="ab " + chars, max_size=6)
    # each line as (original, expected, fixes in it)
    lines: list[tuple[str, str, int]] = []
    if cookie is not None:
        if draw(st.booleans()):
            lines.append(("#!/usr/bin/env python", "#!/usr/bin/env python", 0))
        lines.append((cookie, cookie, 0))
    lines.append(("import numpy as np", "import numpy as np", 0))
    import_at = len(lines)  # the added import goes after this line
    needs_import = False
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["call", "call", "text", "name", "blank", "tabbed"]))
        if kind == "blank":
            lines.append(("", "", 0))
        elif kind == "name":  # a non-ASCII identifier: the parse checks must decode it right
            letters = [c for c in chars if c.isidentifier()]
            name = "v" + "".join(draw(st.lists(st.sampled_from(letters), max_size=3)))
            lines.append((f"{name} = 1", f"{name} = 1", 0))
        elif kind == "text":
            text = f"s = {draw(words)!r}  # {draw(words)}"
            lines.append((text, text, 0))
        else:
            old, new = draw(st.sampled_from(CALLS))
            needs_import |= old == NEEDS_IMPORT
            before, after = draw(words), draw(words)
            line = f"v = ({old}, {before!r}) if {after!r} else {old}"
            fixed = f"v = ({new}, {before!r}) if {after!r} else {new}"
            if kind == "tabbed":
                lines.append(("if v:", "if v:", 0))
                line, fixed = "\t" + line, "\t" + fixed
            lines.append((line, fixed, 2))
    ends = [newline() for _ in lines]
    for i in range(len(lines) - 1):
        if ends[i] == "\r" and lines[i + 1][0] == "" and ends[i + 1].startswith("\n"):
            ends[i] = "\r\n"  # a CR, an empty line and its LF are one CRLF to every reader
    if draw(st.booleans()):
        ends[-1] = ""  # the last line without its line end
    old_text = "".join(o + e for (o, _, _), e in zip(lines, ends, strict=True))
    new_lines = [(n, e) for (_, n, _), e in zip(lines, ends, strict=True)]
    if needs_import:
        new_lines.insert(import_at, (IMPORT, ends[import_at - 1]))
    new_text = "".join(n + e for n, e in new_lines)
    return Generated(
        codec,
        old_text.encode(codec),
        new_text.encode(codec),
        sum(fixes for _, _, fixes in lines),
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_write_replaces_exactly_the_fix_spans(generated: Generated) -> None:
    with tempfile.TemporaryDirectory() as folder:
        f = Path(folder) / "gen.py"
        f.write_bytes(generated.original)
        result = process_file(f, DETECTOR, "write")
        assert result.problem is None and result.write_error is None
        written = f.read_bytes()
    assert written == generated.expected
    assert result.fixed == generated.fixes
    assert written.decode(generated.codec) == generated.expected.decode(generated.codec)
    assert written.startswith(codecs.BOM_UTF8) == (generated.codec == "utf-8-sig")


needs_tools = pytest.mark.skipif(
    not (shutil.which("git") and shutil.which("patch")), reason="needs git and patch"
)


@needs_tools
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_diff_applies_with_git_and_patch_and_equals_write(generated: Generated) -> None:
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        f = repo / "pkg" / "gen.py"
        f.parent.mkdir()
        f.write_bytes(generated.original)
        result = process_file(f, DETECTOR, "diff", display="pkg/gen.py")
        assert result.problem is None and result.fixed == generated.fixes
        assert f.read_bytes() == generated.original  # --diff changes nothing
        if not generated.fixes:
            assert result.diff == ""
            return
        patch = repo / "fix.diff"
        patch.write_bytes(result.diff.encode("utf-8", "surrogateescape"))
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        for command in (
            ["git", "apply", "--check", str(patch)],
            ["patch", "-p1", "--dry-run", "--quiet", "-i", str(patch)],
        ):
            done = subprocess.run(command, cwd=repo, capture_output=True)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
        subprocess.run(["git", "apply", str(patch)], cwd=repo, check=True)
        applied = f.read_bytes()
        f.write_bytes(generated.original)
        subprocess.run(["patch", "-p1", "--quiet", "-i", str(patch)], cwd=repo, check=True)
        patched = f.read_bytes()
        f.write_bytes(generated.original)
        process_file(f, DETECTOR, "write")
        written = f.read_bytes()
    assert applied == patched == written == generated.expected


@st.composite
def edits_of(draw: st.DrawFn, source: bytes) -> list[Edit]:
    """Sorted edits of ``source`` that do not overlap (ASCII: an edit never cuts a character)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(source)), max_size=8)))
    edits = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        edits.append(Edit(start, end, draw(st.text(alphabet="xy\n", max_size=4))))
    return edits


@settings(max_examples=300, deadline=None)
@given(st.data(), st.binary(max_size=30).map(lambda b: b.hex()[: len(b)].encode()))
def test_composed_edits_do_what_the_two_rounds_do(data: st.DataObject, source: bytes) -> None:
    first = data.draw(edits_of(source))
    middle = apply_edits(source, first)
    then = data.draw(edits_of(middle))
    composed = compose_edits(source, first, then)
    assert apply_edits(source, composed) == apply_edits(middle, then)
    assert all(a.end <= b.start for a, b in zip(composed, composed[1:], strict=False))
