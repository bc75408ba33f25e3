"""`textDocument/didOpen`: keep a Python document and publish its diagnostics at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.server import RecodeLanguageServer

import logging

log = logging.getLogger(__name__)


def handle(ls: RecodeLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    documents = ls.session.documents
    doc = documents.open(params.text_document)
    if doc is None:
        log.info(
            "not analysing %s: its language is %r",
            params.text_document.uri,
            params.text_document.language_id,
        )
        return
    documents.touch(doc.uri)
    ls.diagnostics.schedule(doc, 0)
