"""One OpenAI-compatible client for every caller: the language server's endpoint check, the
dataset teacher and recode-serve's readiness poll ask as the CLI's backend asks (same URL
forms, API key, Retry-After handling), against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import email.utils
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from recode.server.lsp import model_endpoint
from recode.server.model.backends import (
    BackendResponseError,
    GenerationSettings,
    OpenAIBackend,
    normalize_base_url,
)

ANSWER = {"choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}]}


@dataclass
class Server:
    base: str = ""
    #: answers to give before the real one: (status, headers)
    refusals: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[str, str | None, float]] = field(default_factory=list)  # path, auth, time


@contextmanager
def openai_server() -> Iterator[Server]:
    state = Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status: int, body: object, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.seen.append((self.path, self.headers.get("Authorization"), time.monotonic()))
            if state.refusals:
                status, headers = state.refusals.pop(0)
                self.answer(status, {"error": {"message": "busy"}}, headers)
            elif self.path == "/v1/models":
                self.answer(200, {"object": "list", "data": [{"id": "recode-tiny"}]}, {})
            elif self.path == "/v1/chat/completions":
                self.answer(200, ANSWER, {})
            else:
                self.answer(404, {"detail": "Not Found"}, {})

        do_GET = do_POST = reply  # noqa: N815 - the http.server API

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_endpoint_check_takes_a_url_as_the_backend_does(monkeypatch):
    monkeypatch.setenv("RECODE_MODEL_API_KEY", "sk-test")
    with openai_server() as server:
        # a bare host:port warned "answered HTTP 404 ... is it an OpenAI-compatible server?"
        # while the backend listed the models at the same URL
        for url in (server.base, server.base + "/", server.base + "/v1"):
            status = model_endpoint.check(url, "recode-tiny", 2.0)
            assert status.ok, status.message
            assert status.models == ("recode-tiny",)
        assert OpenAIBackend(server.base).models() == ["recode-tiny"]
        assert {auth for _, auth, _ in server.seen} == {"Bearer sk-test"}
        wrong = model_endpoint.check(server.base + "/api", None, 2.0)
    assert not wrong.ok
    assert wrong.message == (
        f"ReCode: the model endpoint {server.base}/api answered HTTP 404 to GET "
        f"{server.base}/api/models; is it an OpenAI-compatible server (vllm serve)?"
    )


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(status):
    with openai_server() as server:
        server.refusals = [(status, {"Retry-After": "1"})]
        backend = OpenAIBackend(server.base, "recode-tiny", retries=1, backoff=0.01)
        samples = backend.generate([{"role": "user", "content": "x"}], GenerationSettings(n=1))
    assert [s.text for s in samples] == ["ok"]
    (_, _, first), (_, _, second) = server.seen[:2]
    assert second - first >= 0.95  # not the 0.01 s backoff


def test_retry_after_as_an_http_date_and_capped(monkeypatch):
    from recode.server.model import backends

    monkeypatch.setattr(backends, "MAX_RETRY_AFTER", 0.5)
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)  # asks for an hour
    with openai_server() as server:
        server.refusals = [(503, {"Retry-After": later}), (503, {"Retry-After": "soon"})]
        backend = OpenAIBackend(server.base, "recode-tiny", retries=2, backoff=0.01)
        started = time.monotonic()
        assert backend.models() == ["recode-tiny"]
    assert 0.5 <= time.monotonic() - started < 5  # the cap, then the backoff for "soon"


def test_without_retries_the_refusal_is_the_error():
    with openai_server() as server:
        server.refusals = [(429, {"Retry-After": "30"})]
        with pytest.raises(BackendResponseError, match="answered HTTP 429: busy"):
            OpenAIBackend(server.base, "m", retries=0).models()


def test_endpoint_urls_mean_their_api_root():
    assert normalize_base_url("http://h:1/v1/chat/completions") == "http://h:1/v1"
    assert normalize_base_url("http://h:1/v1/models/") == "http://h:1/v1"
    assert normalize_base_url("http://h:1/openai/v1") == "http://h:1/openai/v1"
