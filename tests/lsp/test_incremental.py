"""The incremental fast path gives exactly the whole-file findings (in-process, random edits)."""

from __future__ import annotations

import json
import re

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.lsp.diagnostics import compute, rest_json, same_diagnostics
from recode.server.lsp.documents import Document
from recode.server.lsp.incremental import build_skeleton, find_unit
from recode.server.lsp.settings import Settings
from recode.server.lsp.workspaces import Context
from recode.server.severity import LibraryVersion

from .support import KB

MODULE = '''"""A module with the shapes the fast path must get right."""
import numpy as np
import pandas as pd
from numpy import product

frame = pd.DataFrame({"a": [1]})  # a module-level object of an evident class


def total(values):
    """Uses the module's imports."""
    x = np.float_(1)
    return product(values) + x


class Worker:
    import numpy as npx  # a class-level import: module scope for the detector
    limit = 3

    def run(self, path):
        frame.to_csv(path, line_terminator="\\n")
        return npx.trapz([1.0, 2.0])

    @staticmethod
    def helper(np):
        return np.product([1])  # np is a parameter here, not the module


def guarded():
    try:
        from numpy import trapz
    except ImportError:
        from numpy import trapezoid as trapz
    return trapz([1.0])


def local_alias():
    import numpy as n2
    frame = pd.read_csv("x.csv")
    frame.to_csv("y.csv", line_terminator="\\n")
    return n2.find_common_type([], [])


def chained(sp):
    opts = dict(np=sp)  # a keyword argument, not a new np
    (frame  # one method a line
        .to_csv("z.csv", line_terminator="\\n"))
    return (np
            .product([1]))


value = np.product([2, 3])
'''

PIECES = [
    "np.float_",
    "(np\n        .product(v))",
    "np. \\\n    float_",
    "(frame  # c\n    .to_csv(p, line_terminator=1))",
    "\n        .",
    "  # c\n",
    " \\\n",
    "np=",
    "np.product(v)",
    "product([1])",
    "npx.trapz(x)",
    "frame.to_csv(p, line_terminator=1)",
    "\n        import numpy as np",
    "\n    import pandas as pd",
    "\nimport numpy as nq\n",
    "\nlate = np.float_  # typed at module level\n",
    "\n    y = 2\n",
    "\n    frame = pd.DataFrame()",
    "try:\n",
    "except ImportError:\n",
    "if np.__version__ >= '2':\n",
    "    ",
    "\n",
    "(",
    ")",
    '"""',
    "# ",
    "def g():\n    ",
    "class Z:\n    ",
    "x",
    "",
]


def _detector(**versions: str) -> Detector:
    kb = load_knowledge_base([KB])
    have = {k: LibraryVersion(Version(v), "installed") for k, v in versions.items()}
    return Detector(kb, have)


DETECTOR = _detector(numpy="2.0.0", pandas="2.2.2")
CONTEXT = Context(1, Settings(), DETECTOR, None, {}, (), (), ())


def _clamped(text: str, offset: int) -> tuple[int, int]:
    """An LSP position (line, UTF-16 column; ASCII here) at or before ``offset``."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start


@st.composite
def edit_sequences(draw: st.DrawFn) -> list[tuple[bool, float, float, str]]:
    """Edits anywhere, or (3 times as often) at the end of an indented line: in functions."""
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from([True, True, True, False]),
                st.floats(0, 1),
                st.floats(0, 0.02),
                st.sampled_from(PIECES),
            ),
            min_size=1,
            max_size=8,
        )
    )


def _position(text: str, indented: bool, where: float) -> int:
    if not indented:
        return int(where * len(text))
    ends = [m.end() for m in re.finditer(r"(?m)^ {4,}\S.*$", text)]
    return ends[int(where * len(ends)) % len(ends)] if ends else int(where * len(text))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(edit_sequences())
def test_fast_path_equals_whole_file_analysis(edits) -> None:
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    assert base.exact
    text = MODULE
    fast_steps = 0
    for version, (indented, where, length, piece) in enumerate(edits, start=2):
        start = _position(text, indented, where)
        end = min(len(text), start + int(length * len(text)))
        (l1, c1), (l2, c2) = _clamped(text, start), _clamped(text, end)
        rng = types.Range(types.Position(l1, c1), types.Position(l2, c2))
        doc.apply([types.TextDocumentContentChangePartial(range=rng, text=piece)], version)
        text = text[: _offset(text, l1, c1)] + piece + text[_offset(text, l2, c2) :]
        snapshot = doc.snapshot()
        fast = compute(snapshot, CONTEXT, base)
        full = compute(snapshot, CONTEXT)
        assert same_diagnostics(fast, full), (text, fast.exact)
        assert [f.fixable for f in fast.findings] == [f.fixable for f in full.findings]
        assert [_where(f) for f in fast.findings] == [_where(f) for f in full.findings]
        fast_steps += not fast.exact
        base = fast
    assert doc.source == text.encode()
    FAST_STEPS.append(fast_steps)


FAST_STEPS: list[int] = []


def test_the_property_test_exercised_the_fast_path() -> None:
    """After the property test: a good share of its steps must have taken the fast path."""
    if not FAST_STEPS:
        test_fast_path_equals_whole_file_analysis()
    assert sum(FAST_STEPS) >= 100, FAST_STEPS


def _where(f):  # noqa: ANN001, ANN202
    return (f.record.id, f.start_byte, f.end_byte, f.start, f.end, f.severity, f.message)


def _offset(text: str, line: int, col: int) -> int:
    start = 0
    for _ in range(line):
        start = text.index("\n", start) + 1
    return start + col


def test_fast_path_is_taken_inside_a_function() -> None:
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    line = MODULE.splitlines().index("    x = np.float_(1)")
    # type a new outdated call on a new line of total()
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, 20), types.Position(line, 20)),
                text="\n    y = np.product([x])",
            )
        ],
        2,
    )
    fast = compute(doc.snapshot(), CONTEXT, base)
    assert not fast.exact
    assert "numpy-2.0-product" in [
        d.code for d in fast.diagnostics if d.range.start.line == line + 1
    ]
    assert same_diagnostics(fast, compute(doc.snapshot(), CONTEXT))


@pytest.mark.parametrize(
    ("typed", "fast_path"),
    [
        ("y = np.product([1])", True),  # a new module-level statement: the skeleton alone
        ("y = np.product([1])\nz = np.float_", False),  # two new statements
        ("y = np.product(", False),  # not a statement yet (a syntax error): the whole file
        ("x = 1  # a comment after it", True),
        ("import numpy as npy", False),  # binds a tracked name: every function may change
        ("from numpy import trapz", False),  # and so does this
        ("x = 1; y = 2", False),  # two statements on one line
    ],
)
def test_a_new_top_level_line_re_analyses_the_skeleton(typed: str, fast_path: bool) -> None:
    """Typing a statement on a new line between two functions re-analyses the module code
    alone where the module's bindings stay the same; the findings are the whole file's."""
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    line = MODULE.splitlines().index("def guarded():")
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, 0), types.Position(line, 0)),
                text=typed + "\n",
            )
        ],
        2,
    )
    snapshot = doc.snapshot()
    result = compute(snapshot, CONTEXT, base)
    assert result.exact is not fast_path
    assert same_diagnostics(result, compute(snapshot, CONTEXT))
    if fast_path:
        # the new statement is in the carried skeleton: an edit of it is a statement edit
        doc.apply(
            [
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, 1), types.Position(line, 1)),
                    text="z",
                )
            ],
            3,
        )
        again = compute(doc.snapshot(), CONTEXT, result)
        assert not again.exact
        assert same_diagnostics(again, compute(doc.snapshot(), CONTEXT))


def test_fast_path_finds_a_chain_typed_across_lines() -> None:
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    line = MODULE.splitlines().index("    x = np.float_(1)")
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, 20), types.Position(line, 20)),
                text="\n    y = (np  # a comment\n         .product([x]))",
            )
        ],
        2,
    )
    fast = compute(doc.snapshot(), CONTEXT, base)
    assert not fast.exact
    assert [
        (d.code, d.range.start.line, d.range.end.line)
        for d in fast.diagnostics
        if line < d.range.start.line < line + 3
    ] == [("numpy-2.0-product", line + 1, line + 2)]
    assert same_diagnostics(fast, compute(doc.snapshot(), CONTEXT))


def test_fast_path_declines_when_module_code_changes() -> None:
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    # an edit of the module-level import line
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(1, 16), types.Position(1, 18)), text="nq"
            )
        ],
        2,
    )
    result = compute(doc.snapshot(), CONTEXT, base)
    assert result.exact
    # indenting a module-level statement into the function above it changes module code too
    doc2 = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base2 = compute(doc2.snapshot(), CONTEXT)
    line = MODULE.splitlines().index("value = np.product([2, 3])")
    doc2.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line - 2, 0), types.Position(line, 0)),
                text="",
            )
        ],
        2,
    )
    result2 = compute(doc2.snapshot(), CONTEXT, base2)
    assert same_diagnostics(result2, compute(doc2.snapshot(), CONTEXT))


@pytest.mark.parametrize(
    ("deleted", "fast_path"),
    [
        ("value = np.product([2, 3])", True),  # its finding goes, the others stay
        ("import pandas as pd", False),  # the functions read it: the whole file
    ],
)
def test_a_deleted_top_level_line_re_analyses_the_skeleton(deleted: str, fast_path: bool) -> None:
    """Deleting a module-level statement with its line (an editor's "delete line") analyses
    the skeleton without it where the module's bindings stay the same."""
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    line = MODULE.splitlines().index(deleted)
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, 0), types.Position(line + 1, 0)), text=""
            )
        ],
        2,
    )
    snapshot = doc.snapshot()
    result = compute(snapshot, CONTEXT, base)
    assert result.exact is not fast_path
    assert same_diagnostics(result, compute(snapshot, CONTEXT))
    if fast_path:
        assert len(result.findings) == len(base.findings) - 1


LINES = [
    "y = np.product([1])",
    "z = np.float_",
    "import numpy as np",
    "np = None",
    "x = 1  # c",
    "    w = np.trapz([1.0])",
    "class Q:",
    "def h():",
    "",
]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    st.lists(
        st.tuples(st.floats(0, 1), st.one_of(st.none(), st.sampled_from(LINES))),
        min_size=1,
        max_size=8,
    )
)
def test_lines_typed_and_deleted_equal_whole_file_analysis(steps) -> None:
    """Whole lines typed and deleted anywhere (an editor's "delete line", a line pasted): the
    fast result, where it answers, is the whole-file analysis's."""
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    text = MODULE
    for version, (where, typed) in enumerate(steps, start=2):
        lines = text.split("\n")
        line = int(where * (len(lines) - 1))
        if typed is None:  # delete the line (one that a line break ends)
            line = min(line, len(lines) - 2)
            rng = types.Range(types.Position(line, 0), types.Position(line + 1, 0))
            lines[line : line + 1] = []
            piece = ""
        else:
            rng = types.Range(types.Position(line, 0), types.Position(line, 0))
            lines[line:line] = [typed]
            piece = typed + "\n"
        text = "\n".join(lines)
        doc.apply([types.TextDocumentContentChangePartial(range=rng, text=piece)], version)
        snapshot = doc.snapshot()
        fast = compute(snapshot, CONTEXT, base)
        full = compute(snapshot, CONTEXT)
        assert same_diagnostics(fast, full), (text, fast.exact)
        LINE_STEPS.append(not fast.exact)
        base = fast
    assert doc.source == text.encode()


LINE_STEPS: list[bool] = []


def test_the_line_property_test_exercised_the_fast_path() -> None:
    if not LINE_STEPS:
        test_lines_typed_and_deleted_equal_whole_file_analysis()
    assert sum(LINE_STEPS) >= 50, (sum(LINE_STEPS), len(LINE_STEPS))


def test_renaming_an_import_no_module_code_uses_is_no_fast_edit() -> None:
    """Regression: where no module-level statement uses an import, the byte prefilter skipped
    the skeleton before and after the edit, so both had no bindings, and renaming the import
    kept the functions' findings of the old name on the fast path."""
    text = "import numpy as np\n\n\ndef f():\n    return np.product([1])\n"
    doc = Document.open("file:///m.py", text, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    assert [f.record.id for f in base.findings] == ["numpy-2.0-product"]
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(0, 16), types.Position(0, 18)), text="nq"
            )
        ],
        2,
    )
    result = compute(doc.snapshot(), CONTEXT, base)
    assert result.findings == ()
    assert same_diagnostics(result, compute(doc.snapshot(), CONTEXT))


def test_find_unit_only_top_level_functions_and_methods() -> None:
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    root = doc.tree().root_node
    source = MODULE.encode()
    inside_run = source.index(b"frame.to_csv(path")
    unit = find_unit(root, inside_run, inside_run + 3)
    assert unit.type == "function_definition"
    assert unit.text.startswith(b"def run(self, path):")
    class_level = source.index(b"limit = 3")
    assert find_unit(root, class_level, class_level + 1) is None
    module_level = source.index(b"value = ")
    assert find_unit(root, module_level, module_level + 1) is None
    decorated = source.index(b"np.product([1])")
    assert find_unit(root, decorated, decorated + 1).type == "decorated_definition"
    # an empty range at a function's last byte is inside it
    end = unit.end_byte
    assert find_unit(root, end, end).id == unit.id
    nested = source.index(b"from numpy import trapz")  # under try: still guarded()'s body
    assert find_unit(root, nested, nested + 4).text.startswith(b"def guarded():")


def test_skeleton_keeps_module_code_and_drops_functions() -> None:
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    source = MODULE.encode()
    skeleton = build_skeleton(source, doc.tree().root_node)
    assert skeleton is not None
    text = b"\n".join(
        placeholder if placeholder is not None else source[start:end].rstrip()
        for _, start, end, placeholder in skeleton
    ).decode()
    assert text == (
        '"""A module with the shapes the fast path must get right."""\n'
        "import numpy as np\n"
        "import pandas as pd\n"
        "from numpy import product\n"
        'frame = pd.DataFrame({"a": [1]})\n'
        "class Worker:\n"
        "    pass\n"
        "    import numpy as npx\n"
        "    limit = 3\n"
        "value = np.product([2, 3])"
    )
    shared = Document.open("file:///s.py", "import numpy as np; x = 1\n", 1, "utf-16")
    assert build_skeleton(b"import numpy as np; x = 1\n", shared.tree().root_node) is None


class _FakeServer:
    """A session whose documents' folder has CONTEXT (result_for sends nothing: no client)."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from recode.server.lsp.session import Pools, Session

        pools = Pools(*(ThreadPoolExecutor(1) for _ in range(4)))
        self.session = Session(None, pools)  # type: ignore[arg-type]
        self.session.folder_for("file:///m.py").context = CONTEXT
        self.session.ready.set()
        self.documents = self.session.documents
        self.analysis_pool = pools.analysis
        self.exact_pool = pools.exact

    def open_module(self):
        """MODULE opened at version 1, and its line that holds ``x = np.float_(1)``."""
        doc = self.documents.open(
            types.TextDocumentItem(uri="file:///m.py", language_id="python", version=1, text=MODULE)
        )
        self.documents.touch(doc.uri)
        return doc, MODULE.splitlines().index("    x = np.float_(1)")


def _insert(doc, version: int, line: int, col: int, text: str) -> None:
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, col), types.Position(line, col)), text=text
            )
        ],
        version,
    )


@pytest.mark.asyncio
async def test_a_version_analysed_while_the_previous_runs_uses_it_as_base() -> None:
    import asyncio
    import threading

    from recode.server.lsp.diagnostics import DiagnosticsManager

    server = _FakeServer()
    manager = DiagnosticsManager(server.session)
    doc, line = server.open_module()
    assert (await manager.result_for(doc)).exact
    gate = threading.Event()
    server.analysis_pool.submit(gate.wait)  # hold the analysis thread
    _insert(doc, 2, line, 20, " ")
    second = asyncio.ensure_future(manager.result_for(doc))
    await asyncio.sleep(0.05)  # version 2 is queued behind the gate
    _insert(doc, 3, line, 21, "+ 1")
    third = asyncio.ensure_future(manager.result_for(doc))
    await asyncio.sleep(0.05)
    gate.set()
    r2, r3 = await second, await third
    assert (r2.snapshot.version, r2.exact) == (2, False)
    assert (r3.snapshot.version, r3.exact) == (3, False)  # built on version 2, not in full
    full = compute(doc.snapshot(), CONTEXT)
    assert same_diagnostics(r3, full)
    server.analysis_pool.shutdown()
    server.exact_pool.shutdown()


@pytest.mark.asyncio
async def test_a_whole_file_analysis_does_not_hold_up_the_next_keystroke() -> None:
    import asyncio
    import threading

    from recode.server.lsp.diagnostics import DiagnosticsManager

    server = _FakeServer()
    manager = DiagnosticsManager(server.session)
    doc, line = server.open_module()
    await manager.result_for(doc)
    gate = threading.Event()
    try:
        for version, col, text in ((2, 20, " "), (3, 21, "+ 1")):
            if version == 3:
                # typing paused: a whole-file analysis of version 2 starts, and takes long
                server.exact_pool.submit(gate.wait, 30)
                exact = asyncio.ensure_future(manager.result_for(doc, exact=True))
                await asyncio.sleep(0.05)
            _insert(doc, version, line, col, text)
            fast = await asyncio.wait_for(manager.result_for(doc), 5)
            assert (fast.snapshot.version, fast.exact) == (version, False)
        assert not exact.done()  # version 3 got its diagnostics while version 2's check waited
    finally:
        gate.set()
    checked = await exact
    assert (checked.snapshot.version, checked.exact) == (2, True)
    assert same_diagnostics(fast, compute(doc.snapshot(), CONTEXT))
    server.analysis_pool.shutdown()
    server.exact_pool.shutdown()


def test_published_json_is_what_pygls_writes() -> None:
    """The diagnostics' JSON kept with a result (moved by the fast path or not) is the JSON
    pygls would make of the diagnostics, and so is a pull report's."""
    from pygls.protocol import default_converter

    converter = default_converter()
    doc = Document.open("file:///m.py", MODULE, 1, "utf-16")
    base = compute(doc.snapshot(), CONTEXT)
    line = MODULE.splitlines().index("    x = np.float_(1)")
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, 20), types.Position(line, 20)),
                text="\n\n    y = np.product([x])",
            )
        ],
        2,
    )
    fast = compute(doc.snapshot(), CONTEXT, base)
    assert not fast.exact and any(lines == 2 for _, lines in fast.placed.moves)
    for result in (base, fast):
        assert len(result.placed.wire) == len(result.diagnostics) > 3
        for text, diagnostic in zip(result.placed.wire, result.diagnostics, strict=True):
            # written without cattrs (rest_json): the very text, members in pygls' order
            assert text == json.dumps(converter.unstructure(diagnostic), separators=(",", ":"))
        report = types.RelatedFullDocumentDiagnosticReport(
            items=list(result.diagnostics), result_id=result.pull_id
        )
        assert json.loads(result.pull_json) == converter.unstructure(report)
    generation = CONTEXT.generation
    assert (base.pull_id, fast.pull_id) == (f"{generation}:1", f"{generation}:2:fast")
    # what rest_json does not write, it refuses rather than leave out
    related = attrs.evolve(base.diagnostics[0], related_information=[])
    with pytest.raises(ValueError, match="related information"):
        rest_json(related)
    # a finding after the edit is two lines further down, in the objects and in the JSON
    moved = [i for i, (_, lines) in enumerate(fast.placed.moves) if lines == 2]
    first = moved[0]
    before = base.diagnostics[base.findings.index(fast.placed.origins[first])]
    assert fast.diagnostics[first].range.start.line == before.range.start.line + 2
    assert json.loads(fast.placed.wire[first])["range"]["start"]["line"] == (
        before.range.start.line + 2
    )
