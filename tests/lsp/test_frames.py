"""The frame reader of rpc.py on its own: whatever comes between well-formed frames, and however
the stream is cut into reads, every well-formed frame is read, in order. (The server over its
pipes: test_jsonrpc.py.)"""

from __future__ import annotations

import asyncio
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from recode.server.lsp.rpc import Broken, FrameReader, Message


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def message(n: int, kind: str = "valid") -> bytes:
    text = 'é😀\\"\n' * (n % 4)  # non-ASCII and escapes in the body
    return json.dumps(
        {"jsonrpc": "2.0", "id": f"{kind}-{n}", "method": "m", "params": text}
    ).encode()


@st.composite
def junk(draw: st.DrawFn) -> bytes:
    """What a broken client or a damaged pipe sends between frames."""
    kind = draw(st.sampled_from(["bytes", "cut", "long", "header", "json"]))
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=80))
    whole = frame(message(draw(st.integers(0, 3)), "junk"))
    if kind == "cut":  # a frame cut anywhere, its header included
        return whole[: draw(st.integers(1, len(whole) - 1))]
    if kind == "long":  # a header that declares more (or fewer) bytes than follow
        body = whole[whole.index(b"\r\n\r\n") + 4 :]
        declared = len(body) + draw(st.integers(-len(body), 400).filter(lambda d: d != 0))
        return b"Content-Length: %d\r\n\r\n" % declared + body
    if kind == "header":
        value = draw(st.sampled_from([b"abc", b"-1", b"", b"1e3", b" 12 x", b"\xff"]))
        return b"Content-Length:" + value + b"\r\n\r\n" + draw(st.binary(max_size=20))
    return frame(draw(st.binary(max_size=40)))  # framed, not JSON (or not a message)


def read_all(stream: bytes, cuts: list[int]) -> list[Message | Broken]:
    """Everything the reader returns for ``stream`` delivered in pieces cut at ``cuts``."""
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    pieces = [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)] + [b""]

    async def run() -> list[Message | Broken]:
        it = iter(pieces)

        async def read() -> bytes:
            return next(it, b"")

        reader, out = FrameReader(read), []
        while (got := await reader.next()) is not None:
            out.append(got)
        return out

    return asyncio.run(run())


@settings(max_examples=300, deadline=None)
@given(
    junks=st.lists(st.lists(junk(), max_size=3), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_every_well_formed_frame_is_read_in_order(
    junks: list[list[bytes]], cuts: list[int]
) -> None:
    stream = b""
    for n, before in enumerate(junks):
        stream += b"".join(before) + frame(message(n))
    got = read_all(stream, cuts)
    valid = [
        m.data["id"]
        for m in got
        if isinstance(m, Message)
        and isinstance(m.data, dict)
        and str(m.data.get("id", "")).startswith("valid-")
    ]
    assert valid == [f"valid-{n}" for n in range(len(junks))]


def test_a_malformed_header_is_skipped() -> None:
    # the frame of the issue: pygls 2.1.1 never answers again after it
    stream = b"Content-Length: abc\r\n\r\n{}" + frame(message(1))
    assert read_all(stream, []) == [Message(json.loads(message(1)))]


def test_a_cut_frame_is_broken_and_the_next_one_read() -> None:
    stream = b'Content-Length: 9999\r\n\r\n{"jsonrpc"' + frame(message(2))
    got = read_all(stream, [5, 30])
    assert got == [
        Broken("a frame cut short (it declared 9999 bytes)"),
        Message(json.loads(message(2))),
    ]


def test_the_stream_may_end_anywhere() -> None:
    whole = frame(message(3))
    for end in range(len(whole)):
        assert all(isinstance(m, Broken) for m in read_all(whole[:end], [])), end
