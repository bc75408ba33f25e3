"""``workspace/executeCommand``: ``recode.migrateFile [uri]``, ``recode.migrateWithModel [uri,
finding]`` and ``recode.serverStats``.

Applies every mechanical fix of a file through ``workspace/applyEdit`` (an edit per fix). The
work runs in a worker thread, so diagnostics of other documents keep flowing; it reports
``$/progress`` where the client accepts server-initiated progress, and honours both
``$/cancelRequest`` (the request is answered as cancelled at once and no edit is sent) and
``window/workDoneProgress/cancel`` (the result says ``cancelled``).

The result is ``{"applied": bool, "fixed": int, "remaining": int, "cancelled": bool,
"message": str}``.

``recode.migrateWithModel`` asks the ReCode model (``modelUrl``/``model`` settings) to migrate
the code around one finding without a mechanical fix (:mod:`recode.server.model`). The engine
blocks (HTTP, up to its timeout), so it runs in the server's model thread, with ``$/progress``
and the same two kinds of cancellation; a cancelled request never sends its edit (the thread
finishes its HTTP call in the background and its answer is dropped). An accepted answer is sent
through ``workspace/applyEdit``; a rejected one, or an endpoint that is down or slow, is told
with ``window/showMessage`` (the engine's reasons) and changes nothing. The result is
``{"applied": bool, "status": "accepted" | "rejected" | "error" | "cancelled" | "stale",
"cancelled": bool, "message": str}``.

``recode.serverStats`` answers what the server holds and how long its analyses took: open
documents, resident memory, and the detector's time per diagnostics run (recent runs).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from recode.server.detector import Detector, Finding
from recode.server.files import Unreadable, read_source
from recode.server.lsp import notebooks
from recode.server.lsp.code_actions import (
    MIGRATE_COMMAND,
    MODEL_COMMAND,
    fix_all,
    text_edits,
    workspace_edit,
)
from recode.server.lsp.documents import Document, uri_to_path

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

STATS_COMMAND = "recode.serverStats"
MODEL_TIMEOUT = 60.0  # seconds the model endpoint may take per request


def _uri_argument(args: tuple[Any, ...]) -> str:
    value: Any = args[0] if args else None
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("uri") or value.get("external")
    if not isinstance(value, str) or not value:
        raise ValueError(f"{MIGRATE_COMMAND} takes a document URI, got {args!r}")
    return value


class _Progress:
    """Server-initiated work-done progress, or nothing where the client does not show it."""

    def __init__(self, client: Client, title: str) -> None:
        self.client = client
        self.title = title
        self.token: str | None = None
        self.cancelled = asyncio.Event()

    async def begin(self) -> None:
        if not self.client.supports("window.work_done_progress"):
            return
        token = f"recode-{uuid.uuid4()}"
        try:
            await self.client.progress.create_async(token)
        except Exception:  # the client refused: work without progress
            return
        self.token = token
        self.client.progress.begin(
            token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, percentage=0)
        )
        future = self.client.progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: f.cancelled() and self.cancelled.set())

    def report(self, message: str, percentage: int) -> None:
        if self.token is not None:
            self.client.progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str) -> None:
        if self.token is not None:
            self.client.progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.client.progress.tokens.pop(self.token, None)
            self.token = None


def _cancel_on_request(client: Client) -> Callable[[], None]:
    """Cancel the running command's task when the client sends $/cancelRequest for it; the
    returned callable stops listening (call it when the command ends)."""
    task = asyncio.current_task()
    if task is None:
        return lambda: None
    return client.on_cancel(task.cancel)


async def migrate_file(session: Session, client: Client, *args: Any) -> dict[str, Any]:
    uri = _uri_argument(args)
    if notebooks.is_cell(session, uri):
        return await notebooks.migrate_cell(session, client, uri)
    doc = session.documents.get(uri) or _closed_document(session, uri)
    name = uri.rsplit("/", 1)[-1]
    forget = _cancel_on_request(client)
    progress = _Progress(client, f"ReCode: migrating {name}")
    outcome: dict[str, Any] = {"applied": False, "fixed": 0, "remaining": 0, "cancelled": False}
    try:
        await progress.begin()
        progress.report("applying mechanical fixes", 10)
        work = asyncio.ensure_future(fix_all(session, doc))
        cancel = asyncio.ensure_future(progress.cancelled.wait())
        await asyncio.wait({work, cancel}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            outcome.update(cancelled=True, message="cancelled")
            progress.end("cancelled")
            return outcome
        cancel.cancel()
        done = work.result()
        outcome["fixed"] = len(done.result.fixed)
        outcome["remaining"] = len(done.result.remaining)
        if done.result.error:
            outcome["message"] = done.result.error
        if not done.edits:
            outcome.setdefault("message", "nothing to fix")
            progress.end(outcome["message"])
            return outcome
        live = session.documents.get(uri)
        if live is not None and live.version != done.snapshot.version:
            outcome["message"] = "the document changed while it was being migrated; run it again"
            progress.end(outcome["message"])
            return outcome
        progress.report(f"{outcome['fixed']} fix(es) computed; applying", 90)
        reply = await client.apply_edit(
            types.ApplyWorkspaceEditParams(
                edit=workspace_edit(client, done.snapshot, done.edits),
                label=f"ReCode: migrate {name}",
            )
        )
        outcome["applied"] = bool(reply.applied)
        if not reply.applied:
            outcome["message"] = reply.failure_reason or "the editor did not apply the edit"
        else:
            outcome.setdefault("message", f"{outcome['fixed']} fix(es) applied")
        progress.end(outcome["message"])
        return outcome
    except asyncio.CancelledError:  # $/cancelRequest
        progress.end("cancelled")
        raise
    finally:
        forget()


def _closed_document(session: Session, uri: str) -> Document:
    """A document that is not open (as Python): read from disk as ``recode-migrate`` reads a
    file named on its command line (coding declaration, BOM, size limit). Its positions count
    in the decoded text, as an editor that opens the file shows it."""
    language = session.documents.other_languages.get(uri)
    if language is not None:
        raise ValueError(f"{uri} is open as {language!r}, not Python: nothing to migrate")
    path = uri_to_path(uri)
    if path is None or not Path(path).is_file():
        raise ValueError(f"{uri} is neither open nor a file")
    try:
        source = read_source(Path(path))
    except Unreadable as exc:
        raise ValueError(f"{path}: {str(exc).removeprefix('skipped: ')}") from None
    return Document.open(uri, source.text, None, session.documents.encoding)


def _model_arguments(args: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    values: Any = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if (
        len(values) != 2
        or not isinstance(values[0], str)
        or not isinstance(values[1], dict)
        or not isinstance(values[1].get("id"), str)
        or not isinstance(values[1].get("start"), int)
        or not isinstance(values[1].get("end"), int)
    ):
        raise ValueError(
            f"{MODEL_COMMAND} takes a document URI and a finding "
            f'({{"id", "start", "end", "version"}}), got {args!r}'
        )
    return values[0], values[1]


def _find(findings: list[Finding], identity: dict[str, Any]) -> Finding | None:
    for f in findings:
        if (f.record.id, f.start_byte, f.end_byte) == (
            identity["id"],
            identity["start"],
            identity["end"],
        ):
            return f
    return None


def _run_engine(
    url: str,
    model: str | None,
    max_tokens: int,
    source: bytes,
    finding: Finding,
    findings: list[Finding],
    detector: Detector,
) -> Any:
    """The engine over one finding (blocking: runs in the model thread)."""
    from recode.server.model import EngineConfig, engine_for_url

    config = EngineConfig(max_tokens=max_tokens)
    engine = engine_for_url(url, model, timeout=MODEL_TIMEOUT, config=config)
    return engine.migrate(source, finding, detector, findings=findings)


async def migrate_with_model(session: Session, client: Client, *args: Any) -> dict[str, Any]:
    uri, identity = _model_arguments(args)
    doc = session.documents.get(uri)
    if doc is None:
        raise ValueError(f"{uri} is not open")
    settings = session.settings_for(uri)
    if not settings.model_url:
        raise ValueError("no model endpoint: set recode.modelUrl")
    url, model = settings.model_url, settings.model
    outcome: dict[str, Any] = {"applied": False, "status": "error", "cancelled": False}

    def finish(status: str, message: str, kind: types.MessageType | None) -> dict[str, Any]:
        outcome.update(status=status, message=message)
        progress.end(message)
        if kind is not None:
            client.show_always(message, kind)
        return outcome

    forget = _cancel_on_request(client)
    name = uri.rsplit("/", 1)[-1]
    progress = _Progress(client, f"ReCode: migrating {name} with the model")
    work: asyncio.Future[Any] | None = None
    try:
        await progress.begin()
        result = await session.diagnostics.result_for(doc, exact=True)
        context = await session.context_for(session.folder_for(uri))
        finding = _find(list(result.findings), identity)
        if finding is None:
            return finish(
                "stale",
                "ReCode: that finding is no longer in the document; ask for the action again.",
                types.MessageType.Warning,
            )
        if finding.fixable:
            return finish(
                "stale",
                "ReCode: that finding has a mechanical fix; use the quick fix instead.",
                types.MessageType.Info,
            )
        snapshot = result.snapshot
        progress.report(f"asking the model at {url}", 10)
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(
            session.pools.model,
            _run_engine,
            url,
            model,
            settings.model_max_tokens,
            snapshot.source,
            finding,
            list(result.findings),
            context.detector,
        )
        cancel = asyncio.ensure_future(progress.cancelled.wait())
        try:
            await asyncio.wait({work, cancel}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancel.cancel()
        if not work.done():
            work.add_done_callback(_drop)
            outcome["cancelled"] = True
            return finish("cancelled", "cancelled", None)
        try:
            migration = work.result()
        except Exception as exc:  # never a crash: tell the user
            return finish(
                "error",
                f"ReCode: the model could not migrate `{finding.record.path}`: {exc}",
                types.MessageType.Error,
            )
        if not migration.accepted or migration.edit is None:
            kind = (
                types.MessageType.Error
                if migration.status == "error"
                else types.MessageType.Warning
            )
            return finish(migration.status, f"ReCode: {migration.describe()}", kind)
        live = session.documents.get(uri)
        if live is None or live.version != snapshot.version:
            return finish(
                "stale",
                "ReCode: the document changed while the model was working; nothing applied.",
                types.MessageType.Warning,
            )
        progress.report("the answer passed the checks; applying", 90)
        reply = await client.apply_edit(
            types.ApplyWorkspaceEditParams(
                edit=workspace_edit(client, snapshot, text_edits(snapshot, [migration.edit])),
                label=f"ReCode: migrate `{finding.record.path}` with the model",
            )
        )
        outcome["applied"] = bool(reply.applied)
        if not reply.applied:
            return finish(
                "accepted",
                reply.failure_reason or "the editor did not apply the edit",
                types.MessageType.Warning,
            )
        return finish("accepted", f"ReCode: {migration.describe()}", None)
    except asyncio.CancelledError:  # $/cancelRequest: the answer, when it comes, is dropped
        if work is not None and not work.done():
            work.add_done_callback(_drop)
        progress.end("cancelled")
        raise
    finally:
        forget()


def _drop(future: asyncio.Future[Any]) -> None:
    """Collect the outcome of an engine run nobody waits for any more."""
    if not future.cancelled():
        future.exception()


def _rss_bytes() -> int | None:
    """Resident memory of this process (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def server_stats(session: Session, client: Client, *args: Any) -> dict[str, Any]:
    diagnostics = session.diagnostics

    def summary(exact: bool) -> dict[str, Any]:
        return _summary([t for t, e in diagnostics.timings if e is exact])

    return {
        "documents": len(session.documents),
        "folders": len(session.folders),
        "rss_bytes": _rss_bytes(),
        # milliseconds per diagnostics run: incremental (one function) and whole-file
        "analysis_ms": {"incremental": summary(False), "whole_file": summary(True)},
        # milliseconds from receiving a didChange to writing its publishDiagnostics (wall
        # clock), and the server's CPU time in that interval
        "change_to_publish_ms": _summary(diagnostics.latencies),
        "change_to_publish_cpu_ms": _summary(diagnostics.cpu_latencies),
    }


def _summary(seconds: list[float]) -> dict[str, Any]:
    times = sorted(seconds)
    if not times:
        return {"runs": 0, "p50": None, "p95": None}
    pick = [times[min(len(times) - 1, int(q * len(times)))] * 1000 for q in (0.5, 0.95)]
    return {"runs": len(times), "p50": round(pick[0], 3), "p95": round(pick[1], 3)}


# (command, handler): registered by create_server, dispatched by pygls; a handler is
# ``run(session, client, *arguments)``
COMMANDS: list[tuple[str, Callable[..., Any]]] = [
    (MIGRATE_COMMAND, migrate_file),
    (MODEL_COMMAND, migrate_with_model),
    (STATS_COMMAND, server_stats),
]
