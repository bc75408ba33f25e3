"""Code actions: a preferred quick fix per fixable finding, and ``source.fixAll.recode``.

A quick fix carries the finding's own edits (byte offsets converted to the negotiated position
encoding). The fix-all action applies :func:`recode.server.fixes.fix_source` to the whole file
and sends one text edit per fix (fixes that touch share one). Computing it can take a while
on a large file, so it is computed only when the client asks for ``source.fixAll`` explicitly
(code actions on save); otherwise the action is resolved lazily (``codeAction/resolve``)
where the client supports that, or runs the ``recode.migrateFile`` command.

Where the folder's settings name a model endpoint (``modelUrl``), each finding without a
mechanical fix gets "Migrate with the ReCode model" (a quick fix, not preferred): it runs the
``recode.migrateWithModel`` command (handlers/execute_command.py) with the document URI and
the finding's identity (:func:`finding_identity`), which asks the model in a worker thread and
applies the answer only if it passes the engine's checks.

The handlers are handlers/code_action.py and handlers/code_action_resolve.py; this module
holds what they and the commands share: titles, edits, the fix-all computation and its cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from recode.server.detector import Finding
from recode.server.fixes import Edit, FixResult, fix_source
from recode.server.lsp.documents import Document, Snapshot

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session
    from recode.server.lsp.workspaces import Context

FIX_ALL_KIND = "source.fixAll.recode"
FIX_ALL_TITLE = "ReCode: fix all outdated API uses in this file"
MIGRATE_COMMAND = "recode.migrateFile"
MODEL_COMMAND = "recode.migrateWithModel"
MODEL_TITLE = "Migrate with the ReCode model"
KINDS = [types.CodeActionKind.QuickFix, FIX_ALL_KIND]


def quick_fix_title(finding: Finding) -> str:
    """The quick fix's title; an unsafe fix says so, and why."""
    fix = finding.fix
    title = _title(finding)
    if fix is not None and not fix.safe:
        return f"{title} (unsafe: {fix.unsafe_because})"
    return title


def _title(finding: Finding) -> str:
    record, fix = finding.record, finding.fix
    if fix is None:
        return f"ReCode: fix `{record.symbol}`"
    return f"ReCode: {fix.kind.action(record, fix)}"


def model_title(finding: Finding) -> str:
    return f"{MODEL_TITLE}: `{finding.record.path}`"


def finding_identity(finding: Finding, version: int | None) -> dict[str, Any]:
    """What names a finding in the model command's arguments (JSON)."""
    return {
        "id": finding.record.id,
        "start": finding.start_byte,
        "end": finding.end_byte,
        "version": version,
    }


def text_edits(snapshot: Snapshot, edits: Iterable[Edit]) -> list[types.TextEdit]:
    return [
        types.TextEdit(range=snapshot.range(e.start, e.end), new_text=e.text)
        for e in sorted(set(edits))
    ]


def workspace_edit(
    client: Client, snapshot: Snapshot, edits: list[types.TextEdit]
) -> types.WorkspaceEdit:
    """A WorkspaceEdit of one document, versioned where the client accepts documentChanges."""
    if client.supports("workspace.workspace_edit.document_changes"):
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=snapshot.uri, version=snapshot.version
                    ),
                    edits=list(edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={snapshot.uri: list(edits)})


@dataclass(frozen=True)
class FixAll:
    snapshot: Snapshot
    generation: int
    result: FixResult
    edits: list[types.TextEdit]  # empty: nothing to change
    unsafe: bool = False  # whether it made unsafe fixes too (the unsafeFixes setting)


def compute_fix_all(snapshot: Snapshot, context: Context, unsafe: bool = False) -> FixAll:
    """Every mechanical fix of a file as its own small edits (in a worker thread).

    One TextEdit per edit of :attr:`FixResult.edits` (edits of the snapshot that touch or
    overlap, as a rename and the import it adds may, are one): sorted, without overlaps, all
    of the original text, as a WorkspaceEdit's edits must be. A file with fixes far apart thus
    sends only the changed words, never the text between them.
    """
    keep = context.suppressor(snapshot.path).keep
    result = fix_source(snapshot.source, context.detector, keep=keep, unsafe=unsafe)
    if not result.fixed or result.source == snapshot.source:
        return FixAll(snapshot, context.generation, result, [], unsafe)
    edits = text_edits(snapshot, result.edits)
    return FixAll(snapshot, context.generation, result, edits, unsafe)


async def fix_all(session: Session, doc: Document) -> FixAll:
    """The fix-all edit of the document's current version (cached per version), computed in a
    work thread from a snapshot: a change after it is not seen, and the result is not kept."""
    context = await session.context_for(session.folder_for(doc.uri))
    unsafe = session.settings_for(doc.uri).unsafe_fixes
    cached = doc.state.fix_all
    if (
        cached is not None
        and cached.snapshot.version == doc.version
        and cached.generation == context.generation
        and cached.snapshot.source is doc.source
        and cached.unsafe == unsafe
    ):
        return cached
    snapshot = doc.snapshot()
    loop = asyncio.get_running_loop()
    done = await loop.run_in_executor(
        session.pools.work, compute_fix_all, snapshot, context, unsafe
    )
    if session.documents.get(doc.uri) is doc and doc.version == snapshot.version:
        doc.state.fix_all = done
    return done


def model_action(
    snapshot: Snapshot, finding: Finding, diagnostic: types.Diagnostic
) -> types.CodeAction:
    title = model_title(finding)
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=False,
        command=types.Command(
            title=title,
            command=MODEL_COMMAND,
            arguments=[snapshot.uri, finding_identity(finding, snapshot.version)],
        ),
    )
