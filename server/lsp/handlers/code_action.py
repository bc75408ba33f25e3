"""`textDocument/codeAction`: a preferred quick fix per fixable finding in range, "Migrate
with the ReCode model" for the others where a model endpoint is set, and
``source.fixAll.recode`` (code_actions.py explains when it is computed, resolved or a command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from recode.server.lsp import code_actions, notebooks

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.documents import Document, Snapshot
    from recode.server.lsp.session import Session

OPTIONS = types.CodeActionOptions(code_action_kinds=code_actions.KINDS, resolve_provider=True)


def _allowed(kind: str, only: list[str] | None) -> bool:
    if not only:
        return True
    return any(kind == o or kind.startswith(o + ".") for o in only)


def _explicit(kind: str, only: list[str] | None) -> bool:
    """Whether ``only`` names this kind or ``source.fixAll`` (not merely ``source``)."""
    return any(o != "source" and (kind == o or kind.startswith(o + ".")) for o in only or [])


async def handle(
    session: Session, client: Client, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    if notebooks.is_cell(session, params.text_document.uri):
        return await notebooks.code_actions_cell(session, params)
    doc = session.documents.get(params.text_document.uri)
    if doc is None:
        return None
    result = await session.diagnostics.result_for(doc, exact=True)
    snapshot = result.snapshot
    only = [str(k) for k in params.context.only] if params.context.only else None
    start = snapshot.offset(params.range.start)
    end = snapshot.offset(params.range.end)
    actions: list[types.CodeAction] = []
    model_url = session.settings_for(doc.uri).model_url
    if _allowed(types.CodeActionKind.QuickFix, only):
        for finding, diagnostic in zip(result.findings, result.diagnostics, strict=True):
            if finding.end_byte < start or finding.start_byte > end:
                continue
            if not finding.fixable:
                if model_url:
                    actions.append(code_actions.model_action(snapshot, finding, diagnostic))
                continue
            actions.append(
                types.CodeAction(
                    title=code_actions.quick_fix_title(finding),
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    is_preferred=finding.applies(unsafe=False),  # an unsafe fix is a choice
                    edit=code_actions.workspace_edit(
                        client, snapshot, code_actions.text_edits(snapshot, finding.edits)
                    ),
                )
            )
    unsafe = session.settings_for(doc.uri).unsafe_fixes
    fixes_all = any(f.applies(unsafe) for f in result.findings)
    if _allowed(code_actions.FIX_ALL_KIND, only) and fixes_all:
        actions.append(await _fix_all_action(session, client, doc, snapshot, only))
    return actions


async def _fix_all_action(
    session: Session, client: Client, doc: Document, snapshot: Snapshot, only: list[str] | None
) -> types.CodeAction:
    action = types.CodeAction(title=code_actions.FIX_ALL_TITLE, kind=code_actions.FIX_ALL_KIND)
    data = {"uri": snapshot.uri, "version": snapshot.version}
    if _explicit(code_actions.FIX_ALL_KIND, only):
        done = await code_actions.fix_all(session, doc)
        action.edit = code_actions.workspace_edit(client, done.snapshot, done.edits)
    elif client.supports_resolve("edit"):
        action.data = data
    else:
        action.command = types.Command(
            title=code_actions.FIX_ALL_TITLE,
            command=code_actions.MIGRATE_COMMAND,
            arguments=[snapshot.uri],
        )
    return action
