"""Whether code parses, by Python's own parser: the check every fix result must pass."""

from __future__ import annotations

import ast
import codecs
import io
import symtable
import threading
import tokenize
import warnings

PARSE_LOCK = threading.Lock()


def parses(source: bytes, *, as_file: bool = False) -> bool:
    """Whether Python's parser accepts the source: the verdict of :func:`python_tree`
    (``ast.parse``). Errors raised after the parse, by the symbol table or the compiler (a
    repeated parameter name, ``nonlocal`` at module level, ``return`` outside a function, a
    notebook cell's top-level ``await``), are not refused here."""
    known = _VERDICTS.get((source, as_file))
    if known is None and as_file and _read_as_utf8(source):
        known = _VERDICTS.get((source, False))  # the same parse: --write asks both ways
    if known is None and _symbols(source, as_file):
        known = True
    return known if known is not None else python_tree(source, as_file=as_file) is not None


def _symbols(source: bytes, as_file: bool) -> bool:
    """Whether Python's symbol table of the source builds: it is built from the tree of the
    same parser, without making the tree's Python objects, in half the time of
    :func:`python_tree` (1.5 s against 2.9 s on the 388 files of the bench corpus that the
    prefilter keeps; every file with a fixable finding is asked). Where it builds, the source
    parses; where it does not (a syntax error, or one that only the symbol table raises, such
    as a repeated parameter name), :func:`python_tree` decides. The verdict is kept as
    :func:`python_tree` keeps its own."""
    with PARSE_LOCK:
        try:
            as_bytes = as_file or source.startswith(b"\xef\xbb\xbf")  # as in python_tree
            symtable.symtable(source if as_bytes else source.decode("utf-8"), "<recode>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False  # python_tree decides, and raises what it raises
        _remember(source, as_file, True)
    return True


def _remember(source: bytes, as_file: bool, verdict: bool) -> None:
    _VERDICTS[(source, as_file)] = verdict
    while len(_VERDICTS) > 4:
        del _VERDICTS[next(iter(_VERDICTS))]


def _read_as_utf8(source: bytes) -> bool:
    """Whether Python reads these file bytes as UTF-8 (no coding declaration, or one naming
    UTF-8 such as ``# -*- coding: utf-8 -*-``, with or without a BOM), so that parsing them as
    a file is parsing them decoded as UTF-8 (:func:`python_tree` parses bytes with a BOM as
    bytes both ways). ``tokenize.detect_encoding`` reads the BOM and the declaration as
    CPython's tokenizer does. On the bench corpus, 18 of the 272 parses were of files declaring
    UTF-8, parsed a second time (BENCHMARKS.md, "Detector vs ruff")."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError:  # an unknown coding, or a BOM with another one: Python refuses it
        return False
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def python_tree(source: bytes, *, as_file: bool = False) -> ast.Module | None:
    """Python's own parse of the source, None where it does not parse.

    ``source`` is UTF-8 whatever a coding declaration in it says: the detector's view of a file
    (:attr:`recode.server.files.SourceFile.utf8`) or a language-server document, whose
    ``# coding: cp1252`` would otherwise turn its UTF-8 into other characters (or undecodable
    bytes). With ``as_file`` it is a file's own bytes, decoded as the interpreter decodes a file
    (its BOM or coding declaration): the check of what ``--write`` writes.

    CPython 3.11's parser is not safe to run in several threads at once (the language server
    analyses in worker threads), so calls take turns. The verdicts of the last few parses are
    kept: ``--write`` asks about the file it read twice (for the names it binds, and whether it
    parses); the trees are not (kept alive, they made every garbage collection slower).
    """
    with PARSE_LOCK:
        try:
            # bytes with a BOM are parsed as bytes: Python skips the BOM there (and a BOM
            # with another coding declaration is an error anyway), as tree-sitter's offsets do
            as_bytes = as_file or source.startswith(b"\xef\xbb\xbf")
            tree = ast.parse(source if as_bytes else source.decode("utf-8"))
        except (SyntaxError, ValueError):  # UnicodeDecodeError is a ValueError
            tree = None
        _remember(source, as_file, tree is not None)
    return tree


_VERDICTS: dict[tuple[bytes, bool], bool] = {}


def keeps_compiling(before: bytes, after: bytes, *, as_file: bool = False) -> bool:
    """Whether ``after`` compiles wherever ``before`` did: a change must not turn code that
    CPython compiles into code it refuses after the parse (a keyword argument given twice,
    ``return`` outside a function, a repeated parameter, ``nonlocal`` at module level), which
    :func:`parses` lets through. Code that did not compile before is left to :func:`parses`."""
    return _compiles(after, as_file) or not _compiles(before, as_file)


def _compiles(source: bytes, as_file: bool) -> bool:
    """Whether CPython compiles the source to bytecode, as a module; a top-level ``await`` is
    allowed (a notebook's cells are checked as one module). The compiler's warnings (``is``
    with a literal) are not shown: the user's code may hold them already. The last verdicts are
    kept: a file's text is asked again each round of fixes."""
    known = _COMPILED.get((source, as_file))
    if known is not None:
        return known
    with PARSE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            as_bytes = as_file or source.startswith(b"\xef\xbb\xbf")  # as in python_tree
            compile(
                source if as_bytes else source.decode("utf-8"),
                "<recode>",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,
            )
            known = True
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            known = False
    _COMPILED[(source, as_file)] = known
    while len(_COMPILED) > 4:
        del _COMPILED[next(iter(_COMPILED))]
    return known


_COMPILED: dict[tuple[bytes, bool], bool] = {}
