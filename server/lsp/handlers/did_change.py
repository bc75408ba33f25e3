"""`textDocument/didChange`: apply the changes; diagnostics after the debounce delay."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer

import time


def handle(ls: RecodeLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    documents = ls.session.documents
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
    ls.diagnostics.schedule(doc)
