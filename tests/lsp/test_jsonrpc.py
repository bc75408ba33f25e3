"""JSON-RPC robustness of ``recode-lsp``: raw frames written to the server's stdin.

Every test starts the real server as a subprocess and speaks to it byte by byte (no LSP
client library: a client library never sends the broken frames these tests need). Server
output is read by a thread that parses frames strictly, so a malformed answer fails the test.
"""

from __future__ import annotations

import json
import queue
import random
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .support import KB, SAMPLE, SERVER, uri

TIMEOUT = 30.0
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, NOT_INITIALIZED = -32700, -32600, -32602, -32002


def frame(message: Any) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawServer:
    """``recode-lsp`` over pipes: write any bytes, read the messages it sends back."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr = b""
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._next_id = 1000
        self.python = ""

    def _read_stdout(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = out.read(1)
                if not byte:
                    self.messages.put(None)
                    return
                header += byte
            fields = dict(
                line.split(": ", 1) for line in header.decode("ascii").strip().split("\r\n")
            )
            body = out.read(int(fields["Content-Length"]))
            self.messages.put(json.loads(body))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request(self, method: str, params: Any = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(frame(message))
        return self._next_id

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(frame(message))

    def answer(self, msg_id: int | None = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next response (to ``msg_id`` if given); requests and notifications of the
        server are answered or skipped on the way."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no answer to {msg_id} in {timeout} s")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise AssertionError(f"the server closed its output (exit {self.proc.poll()})")
            if "method" in message:
                if "id" in message:  # a request of the server: answer it
                    self.send(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))
                continue
            if msg_id is None or message.get("id") == msg_id:
                return message

    def initialize(self, folder: Path, python: str) -> None:
        options = {"knowledgeBase": [str(KB)], "debounceMs": 0, "python": python}
        msg_id = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": uri(folder),
                "capabilities": {"textDocument": {"diagnostic": {}}},
                "initializationOptions": options,
            },
        )
        assert "result" in self.answer(msg_id)
        self.notify("initialized", {})

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server(tmp_path: Path, make_env: Any) -> Iterator[Callable[..., RawServer]]:
    """Start servers (initialised with numpy 2.0 in tmp_path unless told not to); all are
    killed at the end."""
    env = make_env(numpy="2.0.0")
    servers: list[RawServer] = []

    def start(initialize: bool = True) -> RawServer:
        raw = RawServer()
        raw.python = env.python
        servers.append(raw)
        if initialize:
            raw.initialize(tmp_path, env.python)
        return raw

    yield start
    for raw in servers:
        raw.close()


def open_sample(raw: RawServer, folder: Path) -> str:
    path = folder / "mod.py"
    path.write_text(SAMPLE)
    doc = uri(path)
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": doc, "languageId": "python", "version": 1, "text": SAMPLE}},
    )
    return doc


def hover(raw: RawServer, doc: str) -> int:
    # line 2 holds `np.product`
    return raw.request(
        "textDocument/hover",
        {"textDocument": {"uri": doc}, "position": {"line": 2, "character": 12}},
    )


def error_of(answer: dict[str, Any]) -> int:
    assert "result" not in answer, answer
    return answer["error"]["code"]


# -- framing ------------------------------------------------------------------------------


def test_a_malformed_header_is_skipped_and_the_next_frame_answered(server, tmp_path) -> None:
    raw = server()
    doc = open_sample(raw, tmp_path)
    bad = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "shutdown"}).encode()
    raw.send(b"Content-Length: abc\r\n\r\n" + bad)
    answer = raw.answer(hover(raw, doc))
    assert "np.prod" in answer["result"]["contents"]["value"]
    assert b"malformed header" in raw.stderr


def test_stray_bytes_between_frames_are_skipped(server, tmp_path) -> None:
    raw = server()
    doc = open_sample(raw, tmp_path)
    raw.send(b"\x00\xffgarbage\r\n\r\nmore garbage without a newline")
    answer = raw.answer(hover(raw, doc))
    assert "np.prod" in answer["result"]["contents"]["value"]


def test_invalid_json_is_a_parse_error_with_a_null_id(server) -> None:
    raw = server()
    raw.send(frame(b'{"jsonrpc": "2.0", "id": 7, "method": '))
    answer = raw.answer()
    assert answer["id"] is None and error_of(answer) == PARSE_ERROR
    raw.send(frame(b"\xff\xfe not utf-8 either"))
    answer = raw.answer()
    assert answer["id"] is None and error_of(answer) == PARSE_ERROR
    # and the server still answers
    assert error_of(raw.answer(raw.request("no/suchMethod"))) == -32601


def test_a_truncated_frame_does_not_swallow_the_next_request(server, tmp_path) -> None:
    raw = server()
    doc = open_sample(raw, tmp_path)
    # it declares far more bytes than come before the next frame
    raw.send(b'Content-Length: 100000\r\n\r\n{"jsonrpc": "2.0", "id": 8, "met')
    msg_id = hover(raw, doc)
    broken = raw.answer()
    assert broken["id"] is None and error_of(broken) == PARSE_ERROR
    assert "np.prod" in raw.answer(msg_id)["result"]["contents"]["value"]
    # it declares a little more: the next frame's header straddles its end
    raw.send(b'Content-Length: 30\r\n\r\n{"jsonrpc": "2.0", "id": 9')
    msg_id = hover(raw, doc)
    assert error_of(raw.answer()) == PARSE_ERROR
    assert "np.prod" in raw.answer(msg_id)["result"]["contents"]["value"]


def test_messages_that_are_not_requests_are_invalid(server) -> None:
    raw = server()
    raw.send(frame([{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}]))  # a batch
    assert error_of(raw.answer()) == INVALID_REQUEST
    raw.send(frame({"jsonrpc": "1.0", "id": 2, "method": "shutdown"}))
    answer = raw.answer()
    assert answer["id"] == 2 and error_of(answer) == INVALID_REQUEST
    raw.send(frame({"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}))
    answer = raw.answer()
    assert answer["id"] is None and error_of(answer) == INVALID_REQUEST


def test_invalid_params_are_answered_with_the_request_id(server, tmp_path) -> None:
    raw = server()
    doc = open_sample(raw, tmp_path)
    msg_id = raw.request("textDocument/hover", {"textDocument": {"uri": doc}})  # no position
    answer = raw.answer(msg_id)
    assert answer["id"] == msg_id and error_of(answer) == INVALID_PARAMS
    msg_id = raw.request("textDocument/diagnostic", {"textDocument": 3})
    assert error_of(raw.answer(msg_id)) == INVALID_PARAMS
    assert "np.prod" in raw.answer(hover(raw, doc))["result"]["contents"]["value"]


# -- lifecycle ----------------------------------------------------------------------------


def test_requests_before_initialize_are_refused(server, tmp_path) -> None:
    raw = server(initialize=False)
    doc = open_sample(raw, tmp_path)  # a notification before initialize: dropped
    answer = raw.answer(hover(raw, doc))
    assert error_of(answer) == NOT_INITIALIZED
    raw.initialize(tmp_path, raw.python)
    # the didOpen was dropped: the document is unknown, so no hover
    assert raw.answer(hover(raw, doc))["result"] is None
    assert b"not initialized" in raw.stderr


def test_requests_after_shutdown_are_refused_and_exit_is_0(server, tmp_path) -> None:
    raw = server()
    doc = open_sample(raw, tmp_path)
    msg_id = raw.request("shutdown")
    assert raw.answer(msg_id) == {"jsonrpc": "2.0", "id": msg_id, "result": None}
    assert error_of(raw.answer(hover(raw, doc))) == INVALID_REQUEST
    raw.notify("exit")
    assert raw.wait() == 0


def test_exit_without_shutdown_is_exit_code_1(server) -> None:
    raw = server()
    raw.notify("exit")
    assert raw.wait() == 1
    assert b"exit without shutdown" in raw.stderr


def test_exit_before_initialize_is_exit_code_1(server) -> None:
    raw = server(initialize=False)
    raw.notify("exit")
    assert raw.wait() == 1


# -- fuzz ---------------------------------------------------------------------------------


def _junk(rng: random.Random, valid: bytes) -> bytes:
    """One piece of what a broken client or a damaged pipe may send."""
    kind = rng.randrange(7)
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(1, 200))
    if kind == 1:  # a frame cut anywhere (its header included)
        return valid[: rng.randrange(1, len(valid))]
    if kind == 2:  # a header that declares more than follows
        body = valid[valid.index(b"\r\n\r\n") + 4 :]
        return b"Content-Length: %d\r\n\r\n" % (len(body) + rng.randrange(1, 500)) + body[:-5]
    if kind == 3:  # a malformed Content-Length
        value = rng.choice([b"abc", b"-1", b"", b"1e3", b"0x10", b"\xff"])
        return b"Content-Length: " + value + b"\r\n\r\n{}"
    if kind == 4:  # valid framing, invalid JSON
        return frame(rng.randbytes(rng.randrange(1, 50)))
    if kind == 5:  # valid JSON, not a request of any method
        return frame(rng.choice([b"null", b"[]", b"42", b'"x"', b'{"id": 1}', b'{"jsonrpc": 2}']))
    # a request with random params
    params = rng.choice([None, 3, [], {"textDocument": rng.random()}, {"position": "x"}])
    method = rng.choice(
        ["textDocument/hover", "textDocument/diagnostic", "textDocument/codeAction"]
    )
    msg_id = f"junk-{rng.randrange(10**6)}"  # never the id of a valid request
    return frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzz_every_valid_request_is_answered(server, tmp_path, seed: int) -> None:
    """Random and truncated frames between valid requests: each valid request gets its
    answer and the server stays alive (60 rounds per seed, each answer within TIMEOUT)."""
    rng = random.Random(seed)
    raw = server()
    doc = open_sample(raw, tmp_path)
    sample = frame(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "textDocument/hover",
            "params": {"textDocument": {"uri": doc}, "position": {"line": 2, "character": 12}},
        }
    )
    for _ in range(60):
        raw.send(b"".join(_junk(rng, sample) for _ in range(rng.randrange(1, 4))))
        if rng.random() < 0.5:
            answer = raw.answer(hover(raw, doc))
            assert "np.prod" in answer["result"]["contents"]["value"]
        else:
            msg_id = raw.request("textDocument/diagnostic", {"textDocument": {"uri": doc}})
            answer = raw.answer(msg_id)
            assert len(answer["result"]["items"]) == 3
    assert raw.proc.poll() is None
    assert raw.answer(raw.request("shutdown"))["result"] is None
    raw.notify("exit")
    assert raw.wait() == 0
