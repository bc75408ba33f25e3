"""JSON-RPC over a byte stream, robust to what a broken client or a crashed pipe sends.

pygls 2.1.1 reads frames with a loop (``pygls.io_.run_async``) that loses its place for good
after one malformed header (``Content-Length: abc``) or a few stray bytes: every later header is
glued to the previous body and no request is ever answered again. It also answers no request
it cannot parse. :func:`serve` replaces that loop (and only that loop):

- a frame starts at the next ``Content-Length:`` header; bytes before it are skipped, and so
  is a frame whose header is malformed;
- a body that declares more bytes than come before the next frame's header is cut there (a
  valid JSON body never holds a raw CR or LF inside a string, so such a header cannot be part
  of it) and answered as a parse error: a truncated frame never swallows the next request;
- invalid JSON gets ``-32700`` (id null), a message that is not a JSON-RPC request ``-32600``,
  a request whose params do not fit the method ``-32602`` with the request's id.

:class:`LifecycleProtocol` adds what LSP asks of the lifecycle: ``-32002`` for requests before
``initialize`` (notifications then are dropped), ``-32600`` for requests after ``shutdown``, and
the exit code of ``exit`` (0 after ``shutdown``, else 1) for the process. Everything refused is
logged (the log goes to stderr or ``--log-file``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import RPCRequest
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)

_HEADER = re.compile(rb"content-length:", re.IGNORECASE)
# a whole Content-Length line: where a frame surely starts, even inside another frame's body
_FRAME_START = re.compile(rb"content-length:[ \t]*\d+[ \t]*\r\n", re.IGNORECASE)
_HEADER_END = b"\r\n\r\n"
MAX_HEADER = 8192  # bytes: a longer header block is garbage, not a frame
MAX_HEADER_LINE = 64  # bytes: longer than any Content-Length line worth reading
CHUNK = 65536


class JsonText(str):
    """A request's result written as JSON text already (ASCII, as json.dumps writes it): sent
    as it is instead of being converted through cattrs and json.dumps on each answer."""


@dataclass(frozen=True)
class Message:
    """A frame's body, decoded as JSON (any JSON value)."""

    data: Any


@dataclass(frozen=True)
class Broken:
    """A frame that is not JSON: answered with a parse error."""

    why: str


class FrameReader:
    """Messages from a byte stream, skipping whatever is not a frame.

    ``read`` returns the next bytes available (b"" at the end of the stream). :meth:`next`
    returns a :class:`Message`, a :class:`Broken` frame, or None at the end of the stream.
    A broken frame's body is scanned again for the next header (a frame sent whole after a
    truncated one lies inside the truncated one's declared length), so its bytes are skipped
    but a frame among them is still read.
    """

    def __init__(self, read: Callable[[], Awaitable[bytes]]) -> None:
        self._read = read
        self._buf = bytearray()
        self._eof = False

    async def _more(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read()
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _skip(self, n: int, why: str) -> None:
        if n > 0:
            log.warning("JSON-RPC: skipped %d byte(s): %s", n, why)
            del self._buf[:n]

    async def next(self) -> Message | Broken | None:
        while True:
            # 1. the start of a header
            m = _HEADER.search(self._buf)
            if m is None:
                keep = len(b"content-length:") - 1  # a header may be arriving in pieces
                self._skip(len(self._buf) - keep, "not a JSON-RPC frame")
                if not await self._more():
                    return None
                continue
            self._skip(m.start(), "not a JSON-RPC frame")
            # 2. the whole header block
            end = self._buf.find(_HEADER_END)
            if end < 0:
                if len(self._buf) > MAX_HEADER:
                    self._skip(1, "a header without an end")
                elif not await self._more():
                    return None
                continue
            block = bytes(self._buf[:end])
            again = _HEADER.search(block, 1)
            if again is not None:  # a header cut short by the next frame
                self._skip(again.start(), f"an unfinished header {block[: again.start()]!r}")
                continue
            length = _content_length(block)
            if length is None:
                self._skip(end + len(_HEADER_END), f"a malformed header {block!r}")
                continue
            # 3. the body; a whole header line inside it means this frame was cut short (a
            # JSON text holds no raw CR or LF inside a string), so stop waiting for the rest
            start = end + len(_HEADER_END)
            scanned = start
            while len(self._buf) < start + length:
                overlap = max(start, scanned - MAX_HEADER_LINE)
                if _frame_starts_in(self._buf, overlap, start + length):
                    break
                scanned = len(self._buf)
                if not await self._more():
                    log.warning("JSON-RPC: the stream ended inside a frame")
                    return None
            else:
                try:
                    data = json.loads(self._buf[start : start + length])
                except ValueError as exc:  # includes UnicodeDecodeError
                    del self._buf[:start]
                    return Broken(f"not JSON: {exc}")
                del self._buf[: start + length]
                return Message(data)
            del self._buf[:start]
            return Broken(f"a frame cut short (it declared {length} bytes)")


def _frame_starts_in(buf: bytearray, lo: int, hi: int) -> bool:
    """Whether a whole Content-Length line ends in ``buf[lo:hi]``. The line feeds are found
    first (a byte search, ten times the speed of the case-blind pattern over a large body)."""
    end = buf.find(b"\n", lo, hi)
    while end >= 0:
        if _FRAME_START.search(buf, max(lo, end - MAX_HEADER_LINE), end + 1) is not None:
            return True
        end = buf.find(b"\n", end + 1, hi)
    return False


def _content_length(block: bytes) -> int | None:
    """The Content-Length of a header block (None: missing, malformed or repeated)."""
    found: list[int] = []
    for line in block.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            return None
        if name.strip().lower() == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return None
            found.append(int(value))
    return found[0] if len(found) == 1 else None


def dispatch(protocol: LanguageServerProtocol, frame: Message | Broken) -> None:
    """Hand one frame's message to the protocol, answering what it cannot handle."""
    if isinstance(frame, Broken):
        _refuse(protocol, None, JsonRpcParseError(f"Parse error: {frame.why}"))
        return
    data = frame.data
    if not isinstance(data, dict):
        _refuse(protocol, None, JsonRpcInvalidRequest("Invalid Request: not a JSON object"))
        return
    msg_id, method = data.get("id"), data.get("method")
    valid_id = isinstance(msg_id, int | str) and not isinstance(msg_id, bool)
    if "id" in data and not valid_id and not (msg_id is None and "error" in data):
        _refuse(protocol, None, JsonRpcInvalidRequest("Invalid Request: a bad id"))
        return
    if (
        data.get("jsonrpc") != "2.0"
        or ("method" in data and not isinstance(method, str))
        or ("method" not in data and "id" not in data)
    ):
        if "id" in data or "method" not in data:
            _refuse(protocol, msg_id, JsonRpcInvalidRequest("Invalid Request: not JSON-RPC 2.0"))
        else:
            log.warning("JSON-RPC: dropped a notification that is not JSON-RPC 2.0")
        return
    if method is not None:
        # JSON-RPC lets a message leave out its params; pygls' fallback types for methods it
        # does not know need the field (else an unknown method would be "invalid params")
        data.setdefault("params", None)
    try:
        message = protocol.structure_message(data)
    except JsonRpcException as exc:
        if method is not None and "id" in data:
            _refuse(protocol, msg_id, JsonRpcInvalidParams(f"Invalid params for {method}"))
        else:
            log.warning("JSON-RPC: dropped a message that does not fit its type: %s", exc)
        return
    try:
        protocol.handle_message(message)
    except Exception:  # pygls answers what its handlers raise; this is its own failure
        log.exception("JSON-RPC: handling %s failed", method or "a response")


def _refuse(protocol: LanguageServerProtocol, msg_id: Any, error: JsonRpcException) -> None:
    log.warning("JSON-RPC: answered %s %s (id %r)", error.code, error.message, msg_id)
    # a plain dict: pygls' ResponseErrorMessage leaves out an id of null, which JSON-RPC
    # requires where the id could not be read
    error_object = protocol._converter.unstructure(error.to_response_error())
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error_object})


class LifecycleProtocol(LanguageServerProtocol):
    """LSP's lifecycle rules, on top of pygls' protocol (which answers no request before
    ``initialize`` or after ``shutdown`` with an error, and whose ``exit`` code is lost)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_seen = False
        self.exit_code: int | None = None
        self.on_exit: Callable[[], None] = lambda: None

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        request = isinstance(message, RPCRequest)
        if method == types.EXIT:
            super().handle_message(message)
            return
        if not self.initialize_seen:
            if method == types.INITIALIZE:
                self.initialize_seen = True
            elif request:
                _refuse(
                    self,
                    message.id,
                    JsonRpcServerNotInitialized(f"{method}: the server is not initialized"),
                )
                return
            elif method is not None:
                log.warning("JSON-RPC: dropped %s: the server is not initialized", method)
                return
        if self._shutdown and method is not None:
            if request:
                _refuse(
                    self,
                    message.id,
                    JsonRpcInvalidRequest(f"{method}: the server is shutting down"),
                )
            else:
                log.warning("JSON-RPC: dropped %s: the server is shutting down", method)
            return
        super().handle_message(message)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """Stop reading; the process exits with 0 after ``shutdown``, else 1."""
        if (handler := self.fm.features.get(types.EXIT)) is not None:
            yield handler, args, None
        self.exit_code = 0 if self._shutdown else 1
        if not self._shutdown:
            log.warning("JSON-RPC: exit without shutdown (exit code 1)")
        self.on_exit()


async def serve(
    protocol: LanguageServerProtocol,
    read: Callable[[], Awaitable[bytes]],
    stop: threading.Event,
) -> None:
    """Read frames and dispatch them until the stream ends or ``stop`` is set."""
    reader = FrameReader(read)
    while not stop.is_set():
        frame = await reader.next()
        if frame is None:
            return
        dispatch(protocol, frame)
        # let the tasks the message started run before the next one (as when each message
        # arrives on its own): a burst read in one chunk must not starve the loop
        await asyncio.sleep(0)


def stdin_chunks(stream: BinaryIO) -> Callable[[], Awaitable[bytes]]:
    """Whatever bytes ``stream`` has, read in a daemon thread (a thread blocked on a pipe
    must not hold up the process's exit)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    try:
        fd: int | None = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None

    def pump() -> None:
        # os.read on the descriptor: a thread blocked in a buffered stream's read holds its
        # lock, and the interpreter aborts if it finds that lock taken at exit
        while True:
            try:
                chunk = os.read(fd, CHUNK) if fd is not None else stream.read(CHUNK)
            except (OSError, ValueError):
                chunk = b""
            try:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: the server has exited
                return
            if not chunk:
                return

    threading.Thread(target=pump, name="recode-stdin", daemon=True).start()
    return queue.get
