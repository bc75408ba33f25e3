"""`textDocument/didOpen`: keep a Python document and publish its diagnostics at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

import logging

log = logging.getLogger(__name__)


def handle(session: Session, client: Client, params: types.DidOpenTextDocumentParams) -> None:
    documents = session.documents
    doc = documents.open(params.text_document)
    if doc is None:
        log.info(
            "not analysing %s: its language is %r",
            params.text_document.uri,
            params.text_document.language_id,
        )
        return
    documents.touch(doc.uri)
    session.diagnostics.schedule(doc, 0)
