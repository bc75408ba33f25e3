"""Jupyter notebooks (nbformat 4): their Python cells scanned as one module, and fixes written
back into the cells they belong to.

A notebook's code cells are joined, in order, into one module (an import in cell 1 counts in
cell 5) with a boundary comment between cells; IPython syntax that is not Python (``%magic``,
``!shell``, ``x = !ls``, ``obj?`` help, and the first line of ``%%time``-style cell magics) is
masked by ``...`` padded to the line's length in bytes, so every other line, column and byte
offset stays put. Cells in another language (``%%bash``, a cell whose metadata names another
language) are left out.

Writing never re-serialises the notebook: only the JSON string values of changed cells'
``source`` are replaced in the original text, in the shape they had (a list of lines or one
string), so outputs, execution counts, metadata, key order, indentation and the final newline
stay byte for byte. Positions come from a small scanner over the JSON (the ``json`` module
reports none); each value it passes over is decoded by ``json`` itself.
"""

from __future__ import annotations

import bisect
import difflib
import io
import json
import re
import tokenize
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from recode.server import files
from recode.server.detector import Detector, Finding, Position
from recode.server.fixes import fix_source, parses
from recode.server.report import FileResult
from recode.server.suppression import Suppressor, add_ignores

SUFFIX = ".ipynb"
#: The comment line between two cells of the joined module (it must not occur in a cell).
BOUNDARY = "# ---- recode notebook cell boundary ----\n"
#: Cell magics whose body is Python (run, timed, captured or profiled by IPython).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
#: Line magics that IPython's automagic runs without the ``%`` (``ls nbpackage``, ``pip install
#: x``): masked when followed by an argument that cannot continue a Python statement.
AUTOMAGICS = frozenset(
    "alias autoreload bookmark cat cd clear conda cp debug dhist env history less load load_ext"
    " ls lsmagic man matplotlib mkdir more mv pdb pip popd precision prun pushd pwd pylab"
    " reload_ext reset rm rmdir run save store sx system time timeit who whos xmode".split()
)
_MAGIC_LINE = re.compile(
    r"""[ \t]*(?:[%!?]                          # %magic, !shell, ?help
    |[\w.]+[ \t]*\?\??[ \t]*$                   # obj? / obj??
    |[\w.,\[\]() \t]+=[ \t]*[%!]                # x = !ls / x = %env
    |(?P<auto>[a-z_]+)[ \t]+                   # automagic: ls folder, cd .., pip install x
     (?![=(\[,:;+\-*/%<>!&|^~@)\]}#]|\.\w|(?:if|else|and|or|in|is|not|for|as|lambda)\b)\S)
    """,
    re.X,
)
_CELL_MAGIC = re.compile(r"[ \t]*%%(\w+)")
_WS = re.compile(r"[ \t\n\r]*")
_INDENT = re.compile(r"[ \t]*")
#: A ``\\uXXXX`` escape of a non-ASCII character (json.dumps escapes control characters even
#: with ensure_ascii=False): a notebook written with ensure_ascii=True.
_NON_ASCII_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u(?!00[0-7])[0-9a-fA-F]{4}")
_DECODER = json.JSONDecoder()


class NotebookError(Exception):
    """A notebook that is reported and skipped (broken JSON, nbformat 3, another language)."""


@dataclass
class Cell:
    number: int  # 1-based position among all the notebook's cells
    source: str  # the cell's text
    span: tuple[int, int] | None = None  # where its "source" value lies in the notebook's text


@dataclass
class Notebook:
    text: str
    cells: list[Cell]  # the Python code cells, in order


# -- reading -------------------------------------------------------------------------------


def read_notebook(text: str) -> Notebook:
    """The Python code cells of a notebook's JSON text, or :class:`NotebookError`."""
    start = 1 if text.startswith("\ufeff") else 0
    try:
        doc, end = _scan_document(text, _skip(text, start))
    except (ValueError, IndexError) as exc:
        raise NotebookError(f"not a valid notebook: {_json_problem(exc)}") from None
    if text[_skip(text, end) :]:
        raise NotebookError("not a valid notebook: text after the JSON document")
    if not isinstance(doc, dict):
        raise NotebookError("not a valid notebook: the JSON is not an object")
    nbformat = doc.get("nbformat")
    if nbformat != 4:
        raise NotebookError(
            f"nbformat {nbformat} notebooks are not supported, only nbformat 4 (open and save "
            "it in a current Jupyter to convert it)"
        )
    cells = doc.get("cells")
    if not isinstance(cells, list):
        raise NotebookError("not a valid notebook: no list of cells")
    language = _language(doc.get("metadata"))
    if not _is_python(language):
        raise NotebookError(f"the notebook's language is {language}, not Python")
    python: list[Cell] = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            raise NotebookError(f"not a valid notebook: cell {number} is not an object")
        if cell.get("cell_type") != "code":
            continue
        source, span = cell.get("source", ("", None))
        if isinstance(source, list) and all(isinstance(x, str) for x in source):
            source = "".join(source)
        if not isinstance(source, str) or span is None:
            raise NotebookError(f"not a valid notebook: cell {number} has no text source")
        if BOUNDARY.rstrip("\n") in source:
            raise NotebookError(f"cell {number} holds ReCode's cell boundary comment")
        metadata = cell.get("metadata")
        if _is_python(_language(metadata)) and _python_magic(source):
            python.append(Cell(number, source, span))
    return Notebook(text, python)


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, IndexError):
        return "the JSON ends before the document does"
    return str(exc)


def _language(metadata: Any) -> str | None:
    """The language a notebook's or a cell's metadata names (None: not named)."""
    if not isinstance(metadata, dict):
        return None
    for holder, key in (
        ("language_info", "name"),
        ("kernelspec", "language"),
        ("vscode", "languageId"),
    ):
        value = metadata.get(holder)
        if isinstance(value, dict) and isinstance(value.get(key), str):
            return value[key]
    return None


def _is_python(language: str | None) -> bool:
    """Unnamed, ``python``, ``python3`` or ``ipython3`` (what kernels write)."""
    return language is None or language.lower().startswith(("python", "ipython"))


def _python_magic(source: str) -> bool:
    """False for a cell whose cell magic runs something else (``%%bash``, ``%%html``)."""
    m = _CELL_MAGIC.match(source)
    return m is None or m.group(1) in PYTHON_CELL_MAGICS


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()  # type: ignore[union-attr]  # always matches


_Decode = Callable[[str, int], tuple[Any, int]]


def _decode(text: str, i: int) -> tuple[Any, int]:
    return _DECODER.raw_decode(text, i)


def _object(text: str, i: int, member: Callable[[str], _Decode] | None = None) -> tuple[Any, int]:
    """The object at ``text[i]`` and its end; ``member(key)`` decodes that key's value."""
    if text[i] != "{":
        return _decode(text, i)
    out: dict[str, Any] = {}
    i = _skip(text, i + 1)
    if text[i] == "}":
        return out, i + 1
    while True:
        if text[i] != '"':
            raise ValueError(f"expected a key at character {i}")
        key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
        i = _skip(text, i)
        if text[i] != ":":
            raise ValueError(f"expected ':' at character {i}")
        out[key], i = (member(key) if member else _decode)(text, _skip(text, i + 1))
        i = _skip(text, i)
        if text[i] == "}":
            return out, i + 1
        if text[i] != ",":
            raise ValueError(f"expected ',' or '}}' at character {i}")
        i = _skip(text, i + 1)


def _array(text: str, i: int, item: _Decode = _decode) -> tuple[Any, int]:
    """The array at ``text[i]`` (each item decoded by ``item``) and its end."""
    if text[i] != "[":
        return _decode(text, i)
    out: list[Any] = []
    i = _skip(text, i + 1)
    if text[i] == "]":
        return out, i + 1
    while True:
        value, i = item(text, i)
        out.append(value)
        i = _skip(text, i)
        if text[i] == "]":
            return out, i + 1
        if text[i] != ",":
            raise ValueError(f"expected ',' or ']' at character {i}")
        i = _skip(text, i + 1)


def _spanned(text: str, i: int) -> tuple[Any, int]:
    """A value with where it lies: ``(value, (start, end))``."""
    value, end = _decode(text, i)
    return (value, (i, end)), end


def _cell(text: str, i: int) -> tuple[Any, int]:
    return _object(text, i, lambda key: _spanned if key == "source" else _decode)


def _scan_document(text: str, i: int) -> tuple[Any, int]:
    """The document, each cell's ``source`` given as ``(value, (start, end))``, and its end."""
    return _object(
        text, i, lambda key: (lambda t, j: _array(t, j, _cell)) if key == "cells" else _decode
    )


def _source_list(text: str, start: int) -> list[tuple[str, int, int]]:
    """Each item of the array at ``text[start]`` with its span."""
    spans: list[tuple[str, int, int]] = []

    def item(t: str, j: int) -> tuple[Any, int]:
        value, end = _decode(t, j)
        spans.append((value, j, end))
        return value, end

    _array(text, start, item)
    return spans


# -- the joined module -----------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """Lines split at ``\\n`` only, as the detector counts them (``str.splitlines`` also splits
    at form feeds and Unicode separators)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def mask(source: str) -> tuple[str, frozenset[int]]:
    """The cell's text with IPython-only lines masked, and the (0-based) masked lines.

    A line is IPython syntax only where a statement starts: ``% x`` continuing an expression
    in brackets, or a line of a triple-quoted string, stays as it is. The candidates are
    masked first, then Python's tokenizer says which of them do not start a statement; those
    are given back one at a time (each changes how the rest tokenizes).
    """
    lines = _lines(source)
    heads: dict[int, list[int]] = {}  # a masked line -> it and the lines its ``\\`` continues
    if _CELL_MAGIC.match(source):
        heads[0] = [0]
    for n, line in enumerate(lines):
        if n in heads or any(n in group for group in heads.values()):
            continue
        body = line.rstrip("\r\n")
        m = None if body.lstrip().startswith("#") else _MAGIC_LINE.match(body)
        if m is None or m.group("auto") not in (None, *AUTOMAGICS):
            continue
        group = heads[n] = [n]
        while lines[group[-1]].rstrip("\r\n").endswith("\\") and group[-1] + 1 < len(lines):
            group.append(group[-1] + 1)
        group.extend(_bracketed(lines, n, m.end()) if len(group) == 1 else ())
    while True:
        text = _masked(lines, heads)
        starts = _statement_starts(text)
        wrong = [n for n in heads if n > 0 and starts is not None and n not in starts]
        if not wrong:
            return text, frozenset(n for group in heads.values() for n in group)
        del heads[wrong[0]]


def _bracketed(lines: list[str], n: int, start: int) -> range:
    """The lines after line ``n`` that its brackets, opened after column ``start``, carry on
    to, as IPython reads ``%timeit f(a,`` + ``b)`` (none if they never close)."""
    for last in range(n, len(lines)):
        text = lines[n][start:] + "".join(lines[n + 1 : last + 1])
        try:
            for _ in tokenize.generate_tokens(io.StringIO(text).readline):
                pass
        except tokenize.TokenError:
            continue  # still open
        except SyntaxError:
            return range(0)
        return range(n + 1, last + 1)
    return range(0)


def _masked(lines: list[str], heads: dict[int, list[int]]) -> str:
    """The lines with each group's head replaced by ``...`` (or ``0``) at its indentation and
    the lines it continues blanked, each padded to its length in UTF-8 bytes: the other lines
    keep their byte offsets (the language server's ranges) and their columns."""
    out = list(lines)
    for group in heads.values():
        for n in group:
            body = out[n].rstrip("\r\n")
            indent = len(body) - len(body.lstrip(" \t"))
            if n != group[0]:  # a continued line: blank
                indent = 0
            width = len(body[indent:].encode("utf-8", "surrogatepass"))
            filler = "" if n != group[0] else "..." if width >= 3 else "0"
            out[n] = body[:indent] + filler.ljust(width) + out[n][len(body) :]
    return "".join(out)


def _statement_starts(text: str) -> set[int] | None:
    """The (0-based) lines where a statement may start: after a NEWLINE or NL token outside
    brackets (None: the text does not tokenize, so nothing can be said)."""
    starts = {0}
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth = max(depth - 1, 0)
            elif tok.type in (tokenize.NEWLINE, tokenize.NL) and depth == 0:
                starts.add(tok.end[0])  # the next line, 0-based
    except (tokenize.TokenError, SyntaxError):
        return None
    return starts


@dataclass
class Module:
    """The Python cells as one module: what the detector and the fixer work on."""

    cells: list[Cell]
    source: bytes
    starts: list[int]  # the module line where each cell begins
    texts: list[str]  # each cell as masked, ending in a newline
    masked: list[frozenset[int]]  # each cell's masked lines

    @classmethod
    def join(cls, cells: Sequence[Cell]) -> Module:
        texts: list[str] = []
        starts: list[int] = []
        masks: list[frozenset[int]] = []
        line = 0
        for cell in cells:
            text, masked = mask(cell.source)
            if not text.endswith("\n"):
                text += "\n"
            starts.append(line)
            texts.append(text)
            masks.append(masked)
            line += text.count("\n") + 1
        source = "".join(text + BOUNDARY for text in texts).encode("utf-8")
        return cls(list(cells), source, starts, texts, masks)

    def locate(self, line: int) -> tuple[int, int]:
        """(index into ``cells``, line inside that cell) of a module line."""
        k = max(bisect.bisect_right(self.starts, line) - 1, 0)
        return k, line - self.starts[k]

    def in_cells(self, findings: Sequence[Finding]) -> list[Finding]:
        """The findings with the cell number and positions inside the cell."""
        out = []
        for f in findings:
            k, line = self.locate(f.start.line)
            start = self.starts[k]
            out.append(
                replace(
                    f,
                    cell=self.cells[k].number,
                    start=Position(line, f.start.character),
                    end=Position(f.end.line - start, f.end.character),
                )
            )
        return out

    def split(self, new_source: bytes) -> dict[int, str]:
        """The cells' new texts (cell number -> text, only those that changed) from a changed
        module, with the masked lines given back; :class:`NotebookError` if a change touches a
        boundary or a masked line."""
        lines = _lines(new_source.decode("utf-8"))
        parts: list[list[str]] = [[]]
        for line in lines:
            if line == BOUNDARY:
                parts.append([])
            else:
                parts[-1].append(line)
        if len(parts) != len(self.cells) + 1 or parts[-1]:
            raise NotebookError("the fixes would move code across cells; not rewritten")
        changed: dict[int, str] = {}
        for cell, text, masked, new_lines in zip(
            self.cells, self.texts, self.masked, parts, strict=False
        ):
            old_lines = _lines(text)
            if new_lines == old_lines:
                continue
            text = _unmask(cell.source, old_lines, new_lines, masked)
            if not cell.source.endswith("\n") and text.endswith("\n"):
                text = text[:-1]
            if text != cell.source:
                changed[cell.number] = text
        return changed


def _unmask(original: str, old: list[str], new: list[str], masked: frozenset[int]) -> str:
    """``new`` with the lines it kept from ``old`` (masked) read from ``original`` again."""
    originals = _lines(original)
    if originals and not originals[-1].endswith("\n"):
        originals[-1] += "\n"  # as in ``old``; split() takes it off again
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(originals[i1:i2])
            continue
        if any(n in masked for n in range(i1, i2)):
            raise NotebookError("a fix would change an IPython magic line; not rewritten")
        out.extend(new[j1:j2])
    return "".join(out)


# -- writing --------------------------------------------------------------------------------


def splice(notebook: Notebook, changed: dict[int, str]) -> str:
    """The notebook's text with the ``source`` of the ``changed`` cells replaced, every other
    character as it was."""
    text = notebook.text
    out: list[str] = []
    pos = 0
    for cell in notebook.cells:
        if cell.number not in changed or cell.span is None:
            continue
        start, end = cell.span
        out.append(text[pos:start])
        out.append(_source_value(text, start, end, changed[cell.number]))
        pos = end
    out.append(text[pos:])
    new = "".join(out)
    check = read_notebook(new)
    if {c.number: c.source for c in check.cells if c.number in changed} != changed:
        raise NotebookError("the rewritten notebook did not read back as written; not rewritten")
    return new


def _source_value(text: str, start: int, end: int, source: str) -> str:
    """``source`` as a JSON value in the shape and layout of the one at ``text[start:end]``."""
    ascii_only = text.isascii() and _NON_ASCII_ESCAPE.search(text) is not None
    if text[start] == '"':
        return json.dumps(source, ensure_ascii=ascii_only)
    items = _source_list(text, start)
    spelt = {value: text[a:b] for value, a, b in items}
    if items:
        opening = text[start + 1 : items[0][1]]
        closing = text[items[-1][2] : end - 1]
        between = text[items[0][2] : items[1][1]] if len(items) > 1 else "," + opening
    else:
        # the key "source" sits three levels deep (document, cells, cell): one level's indent
        line_start = text.rfind("\n", 0, start) + 1
        key_indent = _INDENT.match(text, line_start).group()  # type: ignore[union-attr]
        unit = key_indent[: len(key_indent) // 3] or " "
        opening, closing = "\n" + key_indent + unit, "\n" + key_indent
        between = "," + opening
    lines = _lines(source)
    if not lines:
        return "[]"
    values = [spelt.get(x) or json.dumps(x, ensure_ascii=ascii_only) for x in lines]
    return "[" + opening + between.join(values) + closing + "]"


# -- the pipeline -----------------------------------------------------------------------------


def process_notebook(
    path: Path,
    detector: Detector,
    mode: str,
    *,
    max_bytes: int = files.DEFAULT_MAX_BYTES,
    display: str | None = None,
    suppressor: Suppressor | None = None,
    unversioned: Callable[[bytes], tuple[str, ...]] | None = None,
) -> FileResult:
    """:func:`recode.server.migrate.process_file` for a notebook: findings name their cell,
    ``diff`` mode gives one unified diff per changed cell, ``write`` and ``add-ignore`` replace
    only the changed cells' sources. ``unversioned`` maps the module's bytes to the libraries
    of unknown version that it imports."""
    shown = display or str(path)
    try:
        source = files.read_source(path, max_bytes)
        notebook = read_notebook(source.text)
    except files.Unreadable as exc:
        return FileResult(shown, skipped=str(exc))
    except NotebookError as exc:
        return FileResult(shown, skipped=f"skipped: {exc}")
    module = Module.join(notebook.cells)
    data = module.source
    result = FileResult(shown, unversioned=unversioned(data) if unversioned else ())
    suppressor = suppressor or Suppressor()
    findings, result.suppressed = suppressor.split(data, detector.detect(data))
    result.findings = module.in_cells(findings)
    if mode == "check" or not findings:
        return result
    if mode != "add-ignore" and not any(f.fixable for f in findings):
        return result
    if not parses(data):
        result.problem = "the notebook's cells have syntax errors; scanned but never rewritten"
        return result
    if mode == "add-ignore":
        new_data = add_ignores(data, findings)
        left, suppressed = suppressor.split(new_data, detector.detect(new_data))
        if left or not parses(new_data):
            result.problem = "the ignore comments would not cover every finding; not rewritten"
            return result
        count, remaining = len(findings), []
    else:
        fixed = fix_source(data, detector, keep=suppressor.keep)
        if fixed.error:
            result.problem = fixed.error
        new_data, count, remaining, suppressed = (
            fixed.source,
            len(fixed.fixed),
            fixed.remaining,
            result.suppressed,
        )
    try:
        changed = module.split(new_data)
        if mode == "diff":
            result.diff = "".join(_cell_diffs(shown, notebook, changed))
            result.fixed = count if changed else 0
            return result
        if not changed:
            return result
        # the notebook's JSON text in its own encoding (UTF-8, with the BOM it had: the text
        # was decoded without it); every byte outside the changed sources is the file's own
        new_raw = splice(notebook, changed).encode(source.encoding)
    except NotebookError as exc:
        result.problem = str(exc)
        return result
    if (why := files.write_or_why(source, new_raw)) is not None:
        result.problem = result.write_error = why
        return result
    result.fixed = count
    result.suppressed = suppressed
    result.findings = Module.join(
        [replace(c, source=changed.get(c.number, c.source)) for c in notebook.cells]
    ).in_cells(remaining)
    return result


def _cell_diffs(shown: str, notebook: Notebook, changed: dict[int, str]) -> Iterator[str]:
    for cell in notebook.cells:
        if cell.number in changed:
            yield from difflib.unified_diff(
                _diff_lines(cell.source),
                _diff_lines(changed[cell.number]),
                fromfile=f"a/{shown}:cell {cell.number}",
                tofile=f"b/{shown}:cell {cell.number}",
            )


def _diff_lines(text: str) -> list[str]:
    lines = _lines(text)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of cell\n"
    return lines
