"""Open documents: position encodings, incremental edits and re-parses (in-process units)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from tree_sitter import Node

from recode.server.lsp.documents import Document, LineIndex
from recode.server.parsing import parse

from .support import apply_text_edits

TEXT = 'a = "é😀"\r\nb = 1\nc = "x"'


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-16", (0, 8)), ("utf-8", (0, 11)), ("utf-32", (0, 7))],
)
def test_positions_in_each_encoding(encoding: str, expected: tuple[int, int]) -> None:
    source = TEXT.encode()
    index = LineIndex.of(source)
    closing_quote = source.index(b'"', 5)  # the byte offset of the second quote on line 0
    pos = index.position(source, closing_quote, encoding)
    assert (pos.line, pos.character) == expected
    assert index.offset(source, pos, encoding) == closing_quote


def test_offsets_clamp_to_the_line_and_the_document() -> None:
    source = TEXT.encode()
    index = LineIndex.of(source)
    # past the end of line 0 stops before its \r\n; past the last line stops at the end
    assert index.offset(source, types.Position(0, 99), "utf-16") == source.index(b"\r")
    assert index.offset(source, types.Position(9, 0), "utf-16") == len(source)
    # inside the surrogate pair of the emoji: the offset stays before the emoji
    emoji = source.index("😀".encode())
    assert index.offset(source, types.Position(0, 7), "utf-16") == emoji


def test_line_index_after_replacements() -> None:
    source = b"one\ntwo\nthree\n"
    index = LineIndex.of(source)
    new = source[:2] + b"X\nY\n" + source[9:]
    assert index.replaced(new, 2, 9, 4) == LineIndex.of(new)


def test_lines_end_at_cr_lf_and_crlf() -> None:
    """LSP ends lines at \\r\\n, \\n and a lone \\r; tree-sitter's rows only at \\n."""
    source = b"a\rbb\r\ncc\nd\r"
    index = LineIndex.of(source)
    assert index.starts == (0, 2, 6, 9, 11)
    assert index.lone_cr
    assert index.position(source, source.index(b"d"), "utf-16") == types.Position(3, 0)
    assert index.offset(source, types.Position(1, 9), "utf-16") == source.index(b"\r\n")
    assert index.offset(source, types.Position(4, 0), "utf-16") == len(source)
    # tree-sitter: "a\rbb\r\n" is its row 0, "cc\n" row 1
    assert tuple(index.point(source, source.index(b"cc"))) == (1, 0)
    assert tuple(index.point(source, source.index(b"bb") + 1)) == (0, 3)


@pytest.mark.parametrize(
    ("source", "start", "end", "new"),
    [
        (b"ab\r\ncd", 2, 2, b"x"),  # between nothing: text before the \r\n
        (b"ab\ncd", 2, 2, b"\r"),  # a \r typed before \n: one line end, not two
        (b"ab\rcd", 3, 3, b"\n"),  # a \n typed after a lone \r joins it
        (b"ab\r\ncd", 3, 4, b""),  # the \n of \r\n deleted: the \r ends the line alone
        (b"ab\r\ncd", 2, 3, b""),  # the \r of \r\n deleted
        (b"a\rb\r\nc\rd", 1, 6, b"\r\n\r"),
    ],
)
def test_line_index_replacements_at_line_ends(
    source: bytes, start: int, end: int, new: bytes
) -> None:
    after = source[:start] + new + source[end:]
    assert LineIndex.of(source).replaced(after, start, end, len(new)) == LineIndex.of(after)


# random edits of a Python file, applied as LSP changes: the document's bytes must follow the
# text an editor holds, and its incrementally parsed tree must equal a fresh parse
_pieces = st.sampled_from(
    ["", "x", "\n", "np.float_", "é", "😀", "(", ")", '"', "\r\n", "\r", "    ", "def f():\n    "]
)


@st.composite
def _edits(draw: st.DrawFn) -> list[tuple[int, int, int, int, str]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        out.append(
            (
                draw(st.integers(0, 6)),
                draw(st.integers(0, 12)),
                draw(st.integers(0, 6)),
                draw(st.integers(0, 12)),
                "".join(draw(st.lists(_pieces, max_size=4))),
            )
        )
    return out


START = 'import numpy as np\n\ndef f(x):\n    return np.float_(x)  # é\n\nlabel = "😀"\n'


@settings(max_examples=150, deadline=None)
@given(_edits())
def test_incremental_edits_match_a_fresh_document(edits) -> None:
    doc = Document.open("file:///t.py", START, 1, "utf-16")
    doc.tree()  # parsed: the next edits re-parse incrementally
    text = START
    for version, (l1, c1, l2, c2, new) in enumerate(edits, start=2):
        lines = text.splitlines(keepends=True) or [""]
        l1, l2 = min(l1, len(lines) - 1), min(l2, len(lines) - 1)
        start, end = sorted([(l1, c1), (l2, c2)])
        # an editor only sends positions inside a line (before its line break)
        rng = types.Range(
            types.Position(start[0], _clamp(lines[start[0]], start[1])),
            types.Position(end[0], _clamp(lines[end[0]], end[1])),
        )
        text = apply_text_edits(text, [types.TextEdit(range=rng, new_text=new)])
        doc.apply([types.TextDocumentContentChangePartial(range=rng, text=new)], version)
        if version % 2:
            doc.snapshot()  # sometimes a snapshot (and a parse) between edits
    assert doc.source == text.encode("utf-8", "surrogatepass")
    assert doc.lines == LineIndex.of(doc.source)
    assert _nodes(doc.tree().root_node) == _nodes(parse(doc.source).root_node)


def _nodes(root: Node) -> list[tuple[str, int, int, tuple[int, int], tuple[int, int]]]:
    """Every node with its byte and point range (``str`` of a tree shows no positions)."""
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(
            (
                node.type,
                node.start_byte,
                node.end_byte,
                tuple(node.start_point),
                tuple(node.end_point),
            )
        )
        stack.extend(reversed(node.children))
    return out


def _clamp(line: str, character: int) -> int:
    """A UTF-16 column inside ``line`` that is not inside a surrogate pair or a line break."""
    body = line.rstrip("\r\n")
    units = 0
    for ch in body:
        width = 2 if ord(ch) > 0xFFFF else 1
        if units + width > character:
            break
        units += width
    return units


def test_snapshots_are_immutable() -> None:
    doc = Document.open("file:///t.py", "import numpy as np\nnp.float_\n", 1, "utf-16")
    first = doc.snapshot()
    doc.apply(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(1, 3), types.Position(1, 9)), text="float64"
            )
        ],
        2,
    )
    second = doc.snapshot()
    assert first.source == b"import numpy as np\nnp.float_\n"
    assert str(first.tree.root_node) == str(parse(first.source).root_node)
    assert first.tree.root_node.end_byte == len(first.source)
    assert second.source == b"import numpy as np\nnp.float64\n"
    assert second.version == 2 and first.version == 1


def test_cold_documents_release_their_trees() -> None:
    from recode.server.lsp.documents import DocumentStore

    store = DocumentStore(hot=2)
    docs = []
    for n in range(3):
        item = types.TextDocumentItem(
            uri=f"file:///m{n}.py", language_id="python", version=1, text=f"x = {n}\n"
        )
        doc = store.open(item)
        doc.state.result = type("R", (), {})()  # anything without a snapshot is kept
        doc.snapshot()
        store.touch(doc.uri)
        docs.append(doc)
    assert [d._tree is None for d in docs] == [True, False, False]
    assert not store.is_hot(docs[0].uri) and store.is_hot(docs[2].uri)
    again = docs[0].snapshot()  # parsed again on demand
    assert again.tree is not None and again.edit is None  # no incremental base after release
    assert str(again.tree.root_node) == str(parse(b"x = 0\n").root_node)


def _change(line: int, col: int, text: str) -> types.TextDocumentContentChangePartial:
    at = types.Position(line=line, character=col)
    return types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)


def test_a_tree_parsed_ahead_is_kept_for_the_text_it_was_parsed_from() -> None:
    doc = Document.open("file:///a.py", "x = 1\n", 1, "utf-16")
    source = doc.source
    tree = parse(source)
    doc.adopt_tree(source, tree)
    assert doc.has_tree and doc.snapshot().tree is tree


def test_a_tree_parsed_ahead_of_an_edit_is_dropped() -> None:
    # the first analysis parses in a thread while the folder's context is built; a didChange
    # that arrives meanwhile must not get the old text's tree
    doc = Document.open("file:///a.py", "x = 1\n", 1, "utf-16")
    source = doc.source
    tree = parse(source)
    doc.apply([_change(0, 0, "import numpy\n")], 2)
    doc.adopt_tree(source, tree)
    snapshot = doc.snapshot()
    assert snapshot.tree is not tree
    assert str(snapshot.tree.root_node) == str(parse(doc.source).root_node)
    assert snapshot.tree.root_node.child(0).type == "import_statement"
