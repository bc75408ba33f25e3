"""Jupyter notebooks in the language server (LSP 3.17 notebook document sync).

pygls keeps the notebooks and their cells (``session.notebooks``); the cells of a notebook are
analysed as one module (:mod:`recode.server.notebook`), so an import in cell 1 counts in cell
5. Diagnostics are published per cell URI; hover, quick fixes and fix-all answer for a cell,
their edits landing in the cells they change. A notebook is small next to the files the
incremental path is built for, so each analysis is of the whole notebook.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types

from recode.server.detector import Finding
from recode.server.fixes import FixResult, apply_edits, fix_source
from recode.server.lsp import code_actions, hover
from recode.server.lsp.diagnostics import to_diagnostic
from recode.server.lsp.documents import LineIndex, Snapshot, uri_to_path
from recode.server.notebook import Cell, Module, NotebookError

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session
    from recode.server.lsp.workspaces import Context, Folder

SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")]
        )
    ]
)


@dataclass(frozen=True)
class Analysis:
    """One notebook's Python cells analysed together."""

    notebook_uri: str
    module: Module
    snapshots: tuple[Snapshot, ...]  # one per analysed cell, in the module's order
    findings: tuple[tuple[Finding, ...], ...]  # per cell, positions inside the cell
    context: Context

    def cell(self, uri: str) -> int | None:
        for k, snap in enumerate(self.snapshots):
            if snap.uri == uri:
                return k
        return None

    def edits(self, new_source: bytes) -> dict[str, list[types.TextEdit]]:
        """The module changed to ``new_source`` as one minimal edit per changed cell."""
        changed = self.module.split(new_source)
        out: dict[str, list[types.TextEdit]] = {}
        for k, cell in enumerate(self.module.cells):
            if cell.number in changed:
                snap = self.snapshots[k]
                start, end, new = minimal_edit(snap.source, changed[cell.number].encode("utf-8"))
                out[snap.uri] = [
                    types.TextEdit(range=snap.range(start, end), new_text=new.decode("utf-8"))
                ]
        return out


def is_cell(session: Session, uri: str) -> bool:
    return session.notebooks.get_notebook_document(cell_uri=uri) is not None


def _cells(session: Session, notebook_uri: str, encoding: str) -> list[Snapshot]:
    notebook = session.notebooks.get_notebook_document(notebook_uri=notebook_uri)
    if notebook is None:
        return []
    out = []
    synced = session.notebooks.text_documents
    for cell in notebook.cells:
        if cell.kind != types.NotebookCellKind.Code:
            continue
        # only the cells the client synced (its selector names Python cells): pygls would make
        # up a document for any other URI, from the file its path names
        doc = synced.get(unquote(cell.document))
        if doc is None or doc.language_id not in (None, "python"):
            continue
        source = doc.source.encode("utf-8", "surrogatepass")
        out.append(Snapshot(doc.uri, doc.version, source, None, LineIndex.of(source), encoding))
    return out


def _analyse(notebook_uri: str, snapshots: list[Snapshot], context: Context) -> Analysis:
    """(In a worker thread.) Cells are numbered by their position among the analysed cells."""
    module = Module.join(
        [Cell(k + 1, s.source.decode("utf-8", "replace")) for k, s in enumerate(snapshots)]
    )
    found = context.detector.detect(module.source)
    found = context.suppressor(uri_to_path(notebook_uri)).keep(module.source, found)
    per_cell: list[list[Finding]] = [[] for _ in snapshots]
    byte_starts = LineIndex.of(module.source).starts
    for f in found:
        k, _ = module.locate(f.start.line)
        offset = byte_starts[module.starts[k]]
        per_cell[k].append(
            replace(f, start_byte=f.start_byte - offset, end_byte=f.end_byte - offset, cell=k + 1)
        )
    return Analysis(
        notebook_uri, module, tuple(snapshots), tuple(tuple(x) for x in per_cell), context
    )


async def analyse(session: Session, notebook_uri: str) -> Analysis:
    context = await session.context_for(session.folder_for(notebook_uri))
    snapshots = _cells(session, notebook_uri, session.documents.encoding)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        session.pools.work, _analyse, notebook_uri, snapshots, context
    )


async def _for_cell(session: Session, uri: str) -> tuple[Analysis, int] | None:
    notebook = session.notebooks.get_notebook_document(cell_uri=uri)
    if notebook is None:
        return None
    analysis = await analyse(session, notebook.uri)
    k = analysis.cell(uri)
    return None if k is None else (analysis, k)


# -- notifications -------------------------------------------------------------------------


async def publish(session: Session, client: Client, notebook_uri: str) -> None:
    """Push each cell's diagnostics (pulling clients ask per cell instead), unless a later
    change started another analysis meanwhile."""
    if not session.push_enabled:
        return
    run = session.notebook_runs[notebook_uri] = session.notebook_runs.get(notebook_uri, 0) + 1
    analysis = await analyse(session, notebook_uri)
    if session.notebook_runs.get(notebook_uri) != run:
        return
    for snap, findings in zip(analysis.snapshots, analysis.findings, strict=True):
        client.publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=snap.uri,
                version=snap.version,
                diagnostics=[to_diagnostic(f, snap) for f in findings],
            )
        )


def schedule(session: Session, client: Client, notebook_uri: str) -> None:
    task = asyncio.ensure_future(publish(session, client, notebook_uri))
    task.add_done_callback(_log_failure)


def changed(
    session: Session, client: Client, params: types.DidChangeNotebookDocumentParams
) -> None:
    structure = params.change.cells.structure if params.change.cells else None
    if structure is not None and structure.did_close:
        clear(session, client, [cell.uri for cell in structure.did_close])
    schedule(session, client, params.notebook_document.uri)
    if not session.push_enabled:
        # a change in one cell can change the others' diagnostics: the client pulls again
        client.refresh_diagnostics()


def refresh(session: Session, client: Client, folder: Folder) -> None:
    """The folder's environment or settings changed: analyse its open notebooks again (a
    pulling client is told by the caller)."""
    for uri in list(session.notebooks.notebook_documents):
        if session.folder_for(uri) is folder:
            schedule(session, client, uri)


def closed(session: Session, client: Client, params: types.DidCloseNotebookDocumentParams) -> None:
    session.notebook_runs.pop(params.notebook_document.uri, None)
    clear(session, client, [cell.uri for cell in params.cell_text_documents])


def clear(session: Session, client: Client, cell_uris: list[str]) -> None:
    """Take back the diagnostics of cells that are gone."""
    if not session.push_enabled:
        return
    for cell_uri in cell_uris:
        client.publish_diagnostics(types.PublishDiagnosticsParams(uri=cell_uri, diagnostics=[]))


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        import logging

        logging.getLogger(__name__).error("notebook analysis failed", exc_info=task.exception())


# -- requests --------------------------------------------------------------------------------


async def pull(session: Session, uri: str) -> types.DocumentDiagnosticReport:
    found = await _for_cell(session, uri)
    if found is None:
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    analysis, k = found
    snap = analysis.snapshots[k]
    return types.RelatedFullDocumentDiagnosticReport(
        items=[to_diagnostic(f, snap) for f in analysis.findings[k]]
    )


async def hover_cell(session: Session, params: types.HoverParams) -> types.Hover | None:
    found = await _for_cell(session, params.text_document.uri)
    if found is None:
        return None
    analysis, k = found
    snap = analysis.snapshots[k]
    offset = snap.offset(params.position)
    hits = [f for f in analysis.findings[k] if f.start_byte <= offset <= f.end_byte]
    if not hits:
        return None
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown,
            value="\n\n---\n\n".join(hover.markdown(f) for f in hits),
        ),
        range=snap.range(min(f.start_byte for f in hits), max(f.end_byte for f in hits)),
    )


async def code_actions_cell(
    session: Session, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    """Quick fixes of the findings in range, and fix-all of the whole notebook, whose edits go
    to every cell they change."""
    found = await _for_cell(session, params.text_document.uri)
    if found is None:
        return None
    analysis, k = found
    snap = analysis.snapshots[k]
    only = [str(x) for x in params.context.only] if params.context.only else None
    start, end = snap.offset(params.range.start), snap.offset(params.range.end)
    actions: list[types.CodeAction] = []
    if _allowed(types.CodeActionKind.QuickFix, only):
        for f in analysis.findings[k]:
            if f.edits is None or f.end_byte < start or f.start_byte > end:
                continue
            try:  # a finding's edits are in the module's bytes
                changes = analysis.edits(apply_edits(analysis.module.source, f.edits))
            except NotebookError:
                continue
            actions.append(
                types.CodeAction(
                    title=code_actions.quick_fix_title(f),
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[to_diagnostic(f, snap)],
                    is_preferred=True,
                    edit=types.WorkspaceEdit(changes=changes),
                )
            )
    if _allowed(code_actions.FIX_ALL_KIND, only) and any(
        f.fixable for cell in analysis.findings for f in cell
    ):
        result, changes, _ = await _fix_all(session, analysis)
        if changes:
            actions.append(
                types.CodeAction(
                    title=f"ReCode: fix all in the notebook ({len(result.fixed)})",
                    kind=code_actions.FIX_ALL_KIND,
                    edit=types.WorkspaceEdit(changes=changes),
                )
            )
    return actions


async def _fix_all(
    session: Session, analysis: Analysis
) -> tuple[FixResult, dict[str, list[types.TextEdit]], str | None]:
    """Every mechanical fix of the notebook: the result, the edits per cell, and why nothing
    can be applied (None: the edits can)."""
    keep = analysis.context.suppressor(uri_to_path(analysis.notebook_uri)).keep
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(
        session.pools.work,
        lambda: fix_source(analysis.module.source, analysis.context.detector, keep=keep),
    )
    try:
        return result, analysis.edits(result.source), result.error
    except NotebookError as exc:
        return result, {}, str(exc)


async def migrate_cell(session: Session, client: Client, uri: str) -> dict[str, Any]:
    """The ``recode.migrateFile`` command on a notebook cell: fix-all of its notebook, applied
    with ``workspace/applyEdit``."""
    found = await _for_cell(session, uri)
    if found is None:
        raise ValueError(f"{uri} is not a cell of an open notebook")
    analysis, _ = found
    result, changes, problem = await _fix_all(session, analysis)
    outcome: dict[str, Any] = {
        "applied": False,
        "fixed": len(result.fixed),
        "remaining": len(result.remaining),
        "cancelled": False,
    }
    if not changes:
        outcome["message"] = problem or "nothing to fix"
        return outcome
    reply = await client.apply_edit(
        types.ApplyWorkspaceEditParams(
            edit=types.WorkspaceEdit(changes=changes), label="ReCode: migrate notebook"
        )
    )
    outcome["applied"] = bool(reply.applied)
    outcome["message"] = (
        f"{outcome['fixed']} fix(es) applied"
        if reply.applied
        else reply.failure_reason or "the editor did not apply the edit"
    )
    return outcome


def _allowed(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix (compared a block at a time, then byte by byte)."""
    limit = min(len(a), len(b))
    lo = 0
    block = 4096
    while lo < limit:
        hi = min(lo + block, limit)
        if a[lo:hi] != b[lo:hi]:
            break
        lo = hi
    while lo < limit and a[lo] == b[lo]:
        lo += 1
    return lo


def minimal_edit(old: bytes, new: bytes) -> tuple[int, int, bytes]:
    """The smallest single replacement turning ``old`` into ``new``: (start, end, text); a
    notebook cell is small, so a changed cell gets one edit (files get one per fix).

    The common prefix and suffix are cut at UTF-8 character boundaries.
    """
    prefix = _common_prefix(old, new)
    while prefix > 0 and prefix < len(old) and old[prefix] & 0xC0 == 0x80:
        prefix -= 1
    room = min(len(old), len(new)) - prefix
    suffix = min(_common_prefix(old[::-1], new[::-1]), room)
    while suffix > 0 and old[len(old) - suffix] & 0xC0 == 0x80:
        suffix -= 1
    return prefix, len(old) - suffix, new[prefix : len(new) - suffix]
