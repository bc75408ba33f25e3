"""`textDocument/didChange`: apply the changes; diagnostics after the debounce delay."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

import time


def handle(session: Session, client: Client, params: types.DidChangeTextDocumentParams) -> None:
    documents = session.documents
    doc = documents.get(params.text_document.uri)
    if doc is None:
        return
    doc.state.changed_at = (
        params.text_document.version,
        time.perf_counter(),
        time.process_time(),
    )
    doc.apply(params.content_changes, params.text_document.version)
    documents.touch(doc.uri)
    session.diagnostics.schedule(doc)
