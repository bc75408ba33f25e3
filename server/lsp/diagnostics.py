"""Diagnostics: the detector's findings as LSP diagnostics, pushed and pulled.

Push (``textDocument/publishDiagnostics``): on open and save at once, on change after the
debounce delay. Pull (``textDocument/diagnostic``): answered from the same cache, as JSON text
written once per result (:class:`~recode.server.lsp.rpc.JsonText`). By default the
server pushes unless the client says it pulls (``textDocument.diagnostic`` capability), so a
client that does both does not show every finding twice; the ``pushDiagnostics`` setting
overrides that.

Findings are computed in the analysis thread from an immutable snapshot and cached per
document, keyed by (document version, context generation); hover and code actions read the
same cache. A result computed for a version that is no longer current is never published.
Whole-file analyses asked for as such (``exact``: the check after typing pauses, code actions,
hover) run in a thread of their own, so a keystroke's fast path never queues behind one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import attrs
from lsprotocol import types

from recode.server.detector import Finding, Position
from recode.server.lsp.documents import Document, Snapshot
from recode.server.lsp.incremental import Bindings, Reanalysis, Skeleton, reanalyse, shifted
from recode.server.lsp.rpc import JsonText
from recode.server.parsing import parse

if TYPE_CHECKING:
    from tree_sitter import Tree

    from recode.server.lsp.session import Session
    from recode.server.lsp.workspaces import Context

log = logging.getLogger(__name__)

SOURCE = "recode"
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


Move = tuple[int, int]  # (byte shift, line shift) of a finding since it was computed


class Placed:
    """The findings of one snapshot with their diagnostics, as each was computed (perhaps in an
    earlier snapshot) plus how far it moved since: by whole lines, its columns unchanged.

    Keeping findings where they were computed makes a fast-path result cheap when a file holds
    many findings: an edit moves the findings after it by a line shift per finding instead of
    making new Finding and Diagnostic objects, and each diagnostic's JSON (all but its range)
    is made once. ``wire`` is what a publishDiagnostics carries; ``findings`` and
    ``diagnostics`` are made when asked for (hover, code actions, pull).
    """

    def __init__(
        self,
        origins: Sequence[Finding],
        diagnostics: Sequence[types.Diagnostic],
        rests: Sequence[str],
        moves: Sequence[Move] | None = None,
    ) -> None:
        self.origins = tuple(origins)
        self.origin_diagnostics = tuple(diagnostics)
        self.rests = tuple(rests)  # each diagnostic's JSON after its range
        self.moves = tuple(moves) if moves is not None else ((0, 0),) * len(self.origins)

    @classmethod
    def fresh(cls, findings: Sequence[Finding], snapshot: Snapshot) -> Placed:
        diagnostics = [to_diagnostic(f, snapshot) for f in findings]
        return cls(findings, diagnostics, [rest_json(d) for d in diagnostics])

    def __len__(self) -> int:
        return len(self.origins)

    def finding(self, index: int) -> Finding:
        found = self.origins[index]
        shift, lines = self.moves[index]
        if not (shift or lines):
            return found
        return replace(
            found,
            start_byte=found.start_byte + shift,
            end_byte=found.end_byte + shift,
            start=Position(found.start.line + lines, found.start.character),
            end=Position(found.end.line + lines, found.end.character),
        )

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(self.finding(i) for i in range(len(self.origins)))

    @cached_property
    def spans(self) -> list[tuple[int, int]]:
        return [
            (f.start_byte + shift, f.end_byte + shift)
            for f, (shift, _) in zip(self.origins, self.moves, strict=True)
        ]

    @cached_property
    def diagnostics(self) -> tuple[types.Diagnostic, ...]:
        out = []
        for diagnostic, (_, lines) in zip(self.origin_diagnostics, self.moves, strict=True):
            if lines:
                r = diagnostic.range
                diagnostic = attrs.evolve(
                    diagnostic,
                    range=types.Range(
                        types.Position(r.start.line + lines, r.start.character),
                        types.Position(r.end.line + lines, r.end.character),
                    ),
                )
            out.append(diagnostic)
        return tuple(out)

    @cached_property
    def wire(self) -> list[str]:
        """Each diagnostic as JSON text, as publishDiagnostics carries it."""
        out = []
        for diagnostic, rest, (_, lines) in zip(
            self.origin_diagnostics, self.rests, self.moves, strict=True
        ):
            start, end = diagnostic.range.start, diagnostic.range.end
            out.append(
                f'{{"range":{{"start":{{"line":{start.line + lines},"character":'
                f'{start.character}}},"end":{{"line":{end.line + lines},"character":'
                f"{end.character}}}}},{rest}"
            )
        return out


_rests: dict[tuple[Any, ...], str] = {}


def rest_json(diagnostic: types.Diagnostic) -> str:
    """The JSON of a diagnostic after its range (``"message":...}``), as pygls would write it
    (the same members in the same order; ``test_published_json_is_what_pygls_writes``).

    Written here, from the fields :func:`to_diagnostic` sets, rather than by a cattrs
    converter: making one for the analysis thread (pygls' are not shared across threads) and
    its hooks cost ~6 ms of CPU on the way to the first diagnostics (BENCHMARKS.md, language
    server). The same for every diagnostic with the same message, code and data: cached.
    """
    if diagnostic.related_information is not None:
        raise ValueError("rest_json does not write a diagnostic's related information")
    href = diagnostic.code_description.href if diagnostic.code_description else None
    key = (
        diagnostic.message,
        diagnostic.severity,
        diagnostic.code,
        href,
        diagnostic.source,
        tuple(diagnostic.tags or ()),
        json.dumps(diagnostic.data, sort_keys=True),
    )
    found = _rests.get(key)
    if found is None:
        members = {
            "message": diagnostic.message,
            "severity": diagnostic.severity,
            "code": diagnostic.code,
            "codeDescription": None if href is None else {"href": href},
            "source": diagnostic.source,
            "tags": diagnostic.tags,
            "data": diagnostic.data,
        }
        data = {name: value for name, value in members.items() if value is not None}
        found = json.dumps(data, separators=(",", ":"))[1:]
        if len(_rests) > 50_000:
            _rests.clear()
        _rests[key] = found
    return found


@dataclass(frozen=True, eq=False)
class Result:
    """The findings of one snapshot against one context."""

    snapshot: Snapshot
    context: Context
    placed: Placed
    seconds: float  # time spent in the detector
    # False: from the incremental fast path, whose findings' fix edits must not be used
    exact: bool = True
    skeleton: Skeleton | None = None  # the file's skeleton (incremental.py), once made
    bindings: Bindings | None = None  # the skeleton's module-scope bindings, once computed

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.placed.findings

    @property
    def diagnostics(self) -> tuple[types.Diagnostic, ...]:
        return self.placed.diagnostics

    @property
    def key(self) -> tuple[int | None, int]:
        return (self.snapshot.version, self.context.generation)

    @property
    def result_id(self) -> str:
        return f"{self.context.generation}:{self.snapshot.version}"

    @property
    def pull_id(self) -> str:
        """The ``resultId`` of a pull report of this result (a fast one is marked)."""
        return self.result_id + ("" if self.exact else ":fast")

    @cached_property
    def pull_json(self) -> JsonText:
        """The full pull report of this result as JSON text, made once: a client pulls after
        every change, and each answer would otherwise go through cattrs again."""
        return JsonText(
            f'{{"kind":"full","resultId":{json.dumps(self.pull_id)},'
            f'"items":[{",".join(self.placed.wire)}]}}'
        )


def _data(finding: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {"fixable": finding.fixable}
    if finding.fix_unavailable:
        data["fixUnavailable"] = finding.fix_unavailable
    fix = finding.fix
    if finding.fixable and fix is not None and not fix.safe:
        data["applicability"] = fix.applicability.value
    return data


def to_diagnostic(finding: Finding, snapshot: Snapshot) -> types.Diagnostic:
    record = finding.record
    deprecated = record.effective_in is None or (
        finding.severity == "warning" and record.kind.breaks
    )
    message = finding.message
    if finding.fix_unavailable:
        message += f" (no quick fix: {finding.fix_unavailable})"
    return types.Diagnostic(
        range=snapshot.range(finding.start_byte, finding.end_byte),
        message=message,
        severity=SEVERITY[finding.severity],
        code=record.id,
        code_description=types.CodeDescription(href=record.source_url),
        source=SOURCE,
        tags=[types.DiagnosticTag.Deprecated] if deprecated else None,
        # only what a diagnostic has: the reason a fix was not made, an unsafe fix's
        # applicability; clients (and their tests) see {"fixable": ...} for the others
        data=_data(finding),
    )


def compute(snapshot: Snapshot, context: Context, base: Result | None = None) -> Result:
    """Findings of a snapshot (in a worker thread): incrementally from ``base`` where the edit
    allows it (see incremental.py), else by running the detector over the whole file."""
    start = time.perf_counter()
    if base is not None and base.context.generation == context.generation:
        plan = reanalyse(
            snapshot, base.snapshot, base.placed.spans, context.detector, base.skeleton
        )
        if plan is not None:
            return _merge(snapshot, context, base, plan, start)
    findings = context.detector.detect(snapshot.source, snapshot.tree)
    findings = context.suppressor(snapshot.path).keep(snapshot.source, findings)
    placed = Placed.fresh(findings, snapshot)
    return Result(snapshot, context, placed, time.perf_counter() - start, True)


def _merge(
    snapshot: Snapshot, context: Context, base: Result, plan: Reanalysis, start: float
) -> Result:
    """The fast path's result: kept findings stay as they were computed, moved by whole lines
    (or, on the edited line itself, placed again)."""
    old = base.placed
    origins: list[Finding] = []
    diagnostics: list[types.Diagnostic] = []
    rests: list[str] = []
    moves: list[Move] = []

    def keep(kept: list[tuple[int, int, int | None]]) -> None:
        for index, shift, lines in kept:
            if lines is None:  # its columns changed too: a new finding at its new place
                finding = shifted(old.finding(index), shift, None, snapshot)
                diagnostic = to_diagnostic(finding, snapshot)
                origins.append(finding)
                diagnostics.append(diagnostic)
                rests.append(rest_json(diagnostic))
                moves.append((0, 0))
                continue
            origins.append(old.origins[index])
            diagnostics.append(old.origin_diagnostics[index])
            rests.append(old.rests[index])
            was_shift, was_lines = old.moves[index]
            moves.append((was_shift + shift, was_lines + lines))

    keep(plan.before)
    inside = context.suppressor(snapshot.path).keep(snapshot.source, plan.inside)
    for finding in inside:
        diagnostic = to_diagnostic(finding, snapshot)
        origins.append(finding)
        diagnostics.append(diagnostic)
        rests.append(rest_json(diagnostic))
        moves.append((0, 0))
    keep(plan.after)
    return Result(
        snapshot,
        context,
        Placed(origins, diagnostics, rests, moves),
        time.perf_counter() - start,
        exact=False,
        skeleton=plan.skeleton,
        bindings=plan.bindings,
    )


def shown(result: Result) -> list[tuple[object, ...]]:
    """What a result's diagnostics show (without the server's own data)."""
    return [(d.range, d.message, d.severity, d.code, d.tags) for d in result.diagnostics]


def same_diagnostics(a: Result, b: Result) -> bool:
    """Whether two results show the same diagnostics (as objects and as published JSON)."""
    return shown(a) == shown(b) and a.placed.wire == b.placed.wire


@dataclass(frozen=True)
class _Published:
    """What was last published for a document (no snapshot: it would keep a tree alive)."""

    key: tuple[int | None, int]
    exact: bool
    wire: list[str]


class DiagnosticsManager:
    """Caches, schedules and publishes diagnostics (through the session's client). Used on the
    event loop's thread only; the session owns it.

    Per document (:class:`~recode.server.lsp.documents.DocumentState`): ``result`` the result
    of the current version (fast or exact), ``exact`` the whole-file result of the current
    version once computed, ``last`` the latest result computed for any version (the fast
    path's base).
    """

    VERIFY_DELAY_MS = 300  # after typing pauses, the whole-file analysis confirms the fast one

    def __init__(self, session: Session) -> None:
        self.session = session
        self._inflight: dict[tuple[str, int | None, int, bool], asyncio.Future[Result]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._verify_timers: dict[str, asyncio.TimerHandle] = {}
        self._published: dict[str, _Published] = {}
        # uri -> (source, its parse) while a first analysis waits for the folder's context
        self._parsing: dict[str, tuple[bytes, asyncio.Future[Tree]]] = {}
        self.timings: list[tuple[float, bool]] = []  # (seconds, exact) of recent runs
        # seconds from receiving a didChange to having written its publishDiagnostics: wall
        # clock, and the CPU time the server process spent meanwhile
        self.latencies: list[float] = []
        self.cpu_latencies: list[float] = []

    # -- results ----------------------------------------------------------------------------

    async def result_for(self, doc: Document, *, exact: bool = False) -> Result:
        """The findings of the document's current version (cached, shared while computing).

        ``exact``: a whole-file analysis, with fix edits (code actions, hover); otherwise the
        incremental fast path may answer (diagnostics).
        """
        folder = self.session.folder_for(doc.uri)
        if folder.context is None and not doc.has_tree:
            await self._parse_ahead(doc)
        context = await self.session.context_for(folder)
        want = (doc.version, context.generation)
        for cached in (doc.state.exact,) if exact else (doc.state.result, doc.state.exact):
            if cached is not None and cached.key == want:
                return cached
        key = (doc.uri, doc.version, context.generation, exact)
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._compute(doc, doc.snapshot(), context, exact))
            self._inflight[key] = future
            future.add_done_callback(lambda f: self._computed(key, f))
        result = await asyncio.shield(future)
        if self.session.documents.get(doc.uri) is doc:
            last = doc.state.last
            if (
                last is not None
                and last.snapshot is result.snapshot
                and result.skeleton is None
                and last.skeleton is not None
            ):
                # same text: same skeleton and bindings
                result = replace(result, skeleton=last.skeleton, bindings=last.bindings)
            if last is None or (result.snapshot.version or 0) >= (last.snapshot.version or 0):
                doc.state.last = result
            if doc.version == result.snapshot.version:
                doc.state.result = result
                if result.exact:
                    doc.state.exact = result
            if not self.session.documents.is_hot(doc.uri):
                doc.release_tree()  # analysed while cold (or gone cold): keep no tree
        return result

    async def _parse_ahead(self, doc: Document) -> None:
        """Parse the document in the analysis thread (once for all who ask) while the folder's
        context is built in a work thread. tree-sitter 0.26 holds the GIL while it parses
        (measured: a 30 ms parse and Python work in another thread take the sum of both; see
        BENCHMARKS.md, language server), so the parse overlaps the build only where that waits
        (the interpreter probe's process, where its answer is not cached); elsewhere the two
        take turns and the first diagnostics wait for both."""
        source = doc.source
        pending = self._parsing.get(doc.uri)
        if pending is None or pending[0] is not source:
            future = asyncio.get_running_loop().run_in_executor(
                self.session.pools.analysis, parse, source
            )
            pending = self._parsing[doc.uri] = (source, future)
        try:
            tree = await asyncio.shield(pending[1])
        finally:
            if self._parsing.get(doc.uri) is pending:
                del self._parsing[doc.uri]
        doc.adopt_tree(source, tree)

    async def _compute(
        self, doc: Document, snapshot: Snapshot, context: Context, exact: bool
    ) -> Result:
        base: Result | None = None
        if not exact and snapshot.base_version is not None:
            base = doc.state.last
            if base is None or base.snapshot.version != snapshot.base_version:
                # the previous version's analysis may still be running: it is the base
                pending = self._inflight.get(
                    (doc.uri, snapshot.base_version, context.generation, False)
                )
                if pending is not None:
                    try:
                        base = await asyncio.shield(pending)
                    except Exception:
                        base = None
        loop = asyncio.get_running_loop()
        pool = self.session.pools.exact if exact else self.session.pools.analysis
        return await loop.run_in_executor(pool, compute, snapshot, context, base)

    def _computed(
        self, key: tuple[str, int | None, int, bool], future: asyncio.Future[Result]
    ) -> None:
        self._inflight.pop(key, None)
        if not future.cancelled() and future.exception() is None:
            result = future.result()
            self.timings.append((result.seconds, result.exact))
            del self.timings[:-1000]

    # -- push -------------------------------------------------------------------------------

    def schedule(self, doc: Document, delay_ms: int | None = None) -> None:
        """Publish the document's diagnostics after ``delay_ms`` (None: the debounce delay);
        where the client pulls, start computing them when ``delay_ms`` is 0."""
        self._cancel_verify(doc.uri)
        if not self.session.push_enabled:
            if delay_ms == 0:
                # an opened (or saved) document: the client's pull follows; its answer is
                # computed from now on, and the pull waits for this computation
                task = asyncio.ensure_future(self.result_for(doc))
                task.add_done_callback(_log_failure)
            return
        if delay_ms is None:
            delay_ms = self.session.settings_for(doc.uri).debounce_ms
        timer = self._timers.pop(doc.uri, None)
        if timer is not None:
            timer.cancel()
        if delay_ms <= 0:
            self._spawn(doc.uri)
            return
        loop = asyncio.get_running_loop()
        self._timers[doc.uri] = loop.call_later(delay_ms / 1000, self._spawn, doc.uri)

    def _spawn(self, uri: str) -> None:
        self._timers.pop(uri, None)
        task = asyncio.ensure_future(self.publish(uri))
        task.add_done_callback(_log_failure)

    async def publish(self, uri: str, *, exact: bool = False) -> None:
        doc = self.session.documents.get(uri)
        if doc is None:
            return
        result = await self.result_for(doc, exact=exact)
        if self.session.documents.get(uri) is not doc or doc.version != result.snapshot.version:
            return  # the document changed meanwhile: its own run will publish
        previous = self._published.get(uri)
        wire = result.placed.wire
        if (
            previous is not None
            and previous.key == result.key
            and (previous.exact or not result.exact or previous.wire == wire)
        ):
            return
        self._published[uri] = _Published(result.key, result.exact, wire)
        # the diagnostics' JSON is kept with the result: write it as it is (pygls would
        # rebuild every diagnostic through cattrs on each publish)
        self.session.client.publish_wire(uri, wire, result.snapshot.version)
        changed, doc.state.changed_at = doc.state.changed_at, None
        if changed is not None and changed[0] == result.snapshot.version:
            self.latencies.append(time.perf_counter() - changed[1])
            self.cpu_latencies.append(time.process_time() - changed[2])
            del self.latencies[:-1000], self.cpu_latencies[:-1000]
        if not result.exact:
            self._schedule_verify(doc)

    def _schedule_verify(self, doc: Document) -> None:
        self._cancel_verify(doc.uri)
        loop = asyncio.get_running_loop()
        delay = max(self.VERIFY_DELAY_MS, self.session.settings_for(doc.uri).debounce_ms)
        self._verify_timers[doc.uri] = loop.call_later(delay / 1000, self._verify, doc.uri)

    def _cancel_verify(self, uri: str) -> None:
        timer = self._verify_timers.pop(uri, None)
        if timer is not None:
            timer.cancel()

    def _verify(self, uri: str) -> None:
        """Typing paused: analyse the whole file; publish it if it differs from the fast one."""
        self._verify_timers.pop(uri, None)
        if self.session.push_enabled:
            task = asyncio.ensure_future(self.publish(uri, exact=True))
        else:
            task = asyncio.ensure_future(self._verify_pulled(uri))
        task.add_done_callback(_log_failure)

    async def _verify_pulled(self, uri: str) -> None:
        doc = self.session.documents.get(uri)
        if doc is None:
            return
        fast: Result | None = doc.state.result
        exact = await self.result_for(doc, exact=True)
        if fast is not None and fast.key == exact.key and not same_diagnostics(fast, exact):
            self.session.client.refresh_diagnostics()

    def clear(self, uri: str) -> None:
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self._cancel_verify(uri)
        self._published.pop(uri, None)
        if self.session.push_enabled:
            self.session.client.publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    def refresh(self, docs: list[Document]) -> None:
        """Diagnostics of these documents may have changed (settings or environment)."""
        if self.session.push_enabled:
            for doc in docs:
                self.schedule(doc, 0)
        self.session.client.refresh_diagnostics()

    # -- pull -------------------------------------------------------------------------------

    async def pull(
        self, params: types.DocumentDiagnosticParams
    ) -> types.DocumentDiagnosticReport | JsonText:
        """The report of the document's current version: the same (incremental) result that
        push publishes, written from the same JSON of its diagnostics."""
        doc = self.session.documents.get(params.text_document.uri)
        if doc is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        result = await self.result_for(doc)
        if not result.exact:
            self._schedule_verify(doc)
        if params.previous_result_id == result.pull_id:
            return JsonText(f'{{"kind":"unchanged","resultId":{json.dumps(result.pull_id)}}}')
        return result.pull_json


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("publishing diagnostics failed", exc_info=task.exception())
