"""`codeAction/resolve`: the fix-all edit of an action sent without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types

from recode.server.lsp import code_actions

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session


async def handle(session: Session, client: Client, action: types.CodeAction) -> types.CodeAction:
    data: Any = action.data
    if action.kind != code_actions.FIX_ALL_KIND or not isinstance(data, dict) or "uri" not in data:
        return action
    doc = session.documents.get(data["uri"])
    if doc is None:
        return action
    done = await code_actions.fix_all(session, doc)
    action.edit = code_actions.workspace_edit(client, done.snapshot, done.edits)
    return action
