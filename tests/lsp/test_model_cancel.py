"""Cancelling "Migrate with the ReCode model" while the model is still working on it.

The model endpoint is a stand-in: an OpenAI-compatible HTTP server on 127.0.0.1 that lists the
model at once but holds every ``/chat/completions`` request until the test releases it (a slow
model). The request is cancelled with ``$/cancelRequest`` while the endpoint holds it: it must
end with RequestCancelled (-32800) without waiting for the model, send no edit and no message,
and the answer the model gives afterwards must be dropped. Diagnostics keep flowing meanwhile
and right after; a second, uncancelled request shows what the same answer does when someone
waits for it (a rejection message), so the silence of the cancelled one means something.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from .support import SAMPLE, TIMEOUT, Client, running_server

pytestmark = pytest.mark.asyncio

MODEL_COMMAND = "recode.migrateWithModel"
GARBAGE = "I would rather not migrate this code."  # no code block: the engine rejects it


@dataclass
class SlowModel:
    url: str = ""
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    completions: int = 0


@contextmanager
def slow_model() -> Iterator[SlowModel]:
    """An OpenAI-compatible endpoint whose completions wait for ``release``."""
    state = SlowModel()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self._answer({"object": "list", "data": [{"id": "recode", "object": "model"}]})

        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.completions += 1
            state.received.set()
            state.release.wait(TIMEOUT)
            choices = [
                {"index": i, "message": {"role": "assistant", "content": GARBAGE}}
                | {"finish_reason": "stop"}
                for i in range(int(request.get("n", 1)))
            ]
            self._answer({"id": "slow", "object": "chat.completion", "choices": choices})
            state.answered.set()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


async def model_command(client: Client, doc: str) -> types.Command:
    """The command of the one "Migrate with the ReCode model" action of the sample."""
    everything = types.Range(types.Position(0, 0), types.Position(len(SAMPLE.splitlines()), 0))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=doc),
            range=everything,
            context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.QuickFix]),
        )
    )
    (command,) = [a.command for a in actions if a.command is not None]
    assert command.command == MODEL_COMMAND
    return command


def about_the_finding(client: Client) -> list[types.ShowMessageParams]:
    return [m for m in client.messages if "find_common_type" in m.message]


async def test_cancel_while_the_model_is_working(
    tmp_path: Path, make_env, notes_env: dict[str, str]
) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    with slow_model() as model:
        async with running_server(
            options={"python": env.python, "modelUrl": model.url, "model": "recode"},
            folders=[tmp_path],
            env=notes_env,
        ) as client:
            doc = client.open(src)
            codes = [d.code for d in await client.diagnostics_for(doc, version=1)]
            assert codes == ["numpy-2.0-product", "numpy-2.0-find_common_type", "numpy-2.0-trapz"]
            await client.wait_for(
                lambda: any("is reachable" in m.message for m in client.log_messages)
            )
            command = await model_command(client, doc)
            params = types.ExecuteCommandParams(
                command=command.command, arguments=list(command.arguments or [])
            )

            msg_id = "cancel-me"
            pending = asyncio.ensure_future(
                client.protocol.send_request_async(
                    types.WORKSPACE_EXECUTE_COMMAND, params, msg_id=msg_id
                )
            )
            assert await asyncio.to_thread(model.received.wait, TIMEOUT), "model never asked"

            # the model holds the request: diagnostics of another file still come
            other = tmp_path / "other.py"
            other.write_text("import numpy as np\nnp.float_\n")
            diags = await client.diagnostics_for(client.open(other), version=1)
            assert [d.code for d in diags] == ["numpy-2.0-float_"]

            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            with pytest.raises(JsonRpcRequestCancelled) as cancelled:
                await asyncio.wait_for(pending, TIMEOUT)
            assert cancelled.value.code == types.LSPErrorCodes.RequestCancelled
            # answered as cancelled at once, not after the model
            assert not model.answered.is_set()
            assert client.applied_edits == [] and about_the_finding(client) == []
            (reports,) = client.progress_reports.values()
            # the progress ends too (its notification may follow the response)
            await client.wait_for(lambda: reports[-1].kind == "end")
            assert reports[0].kind == "begin" and reports[-1].message == "cancelled"

            # diagnostics flow right after: an edit gets its own diagnostics
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=2),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(types.Position(1, 0), types.Position(1, 0)),
                            text="x = np.float_\n",
                        )
                    ],
                )
            )
            codes = [d.code for d in await client.diagnostics_for(doc, version=2)]
            assert codes == [
                "numpy-2.0-float_",
                "numpy-2.0-product",
                "numpy-2.0-find_common_type",
                "numpy-2.0-trapz",
            ]

            # the model answers the cancelled request late: the answer is dropped
            model.release.set()
            assert await asyncio.to_thread(model.answered.wait, TIMEOUT)

            # the same request, not cancelled, with the same answer: a rejection is shown
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=doc, version=3),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(types.Position(1, 0), types.Position(2, 0)),
                            text="",
                        )
                    ],
                )
            )
            await client.diagnostics_for(doc, version=3)
            command = await model_command(client, doc)
            result = await asyncio.wait_for(
                client.workspace_execute_command_async(
                    types.ExecuteCommandParams(
                        command=command.command, arguments=list(command.arguments or [])
                    )
                ),
                TIMEOUT,
            )
            assert result["status"] == "rejected" and result["applied"] is False, result
            assert model.completions >= 2
            shown = about_the_finding(client)
            assert len(shown) == 1, [m.message for m in shown]  # the second request's only
            assert "nothing changed" in shown[0].message
            assert client.applied_edits == []
            assert src.read_text() == SAMPLE
