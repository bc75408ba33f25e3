"""Run a function over many items in forked worker processes, the calling process working too.

``recode-migrate --jobs N`` scans files in N processes: this one and N - 1 forked children
(which inherit the detector as it is, nothing pickled). Items go out in chunks, in the order
given (largest files first), each process taking the next chunk from a shared counter when it
is done with one, so that no core idles at the end while another finishes a long chunk. A
child sends each chunk's results back as soon as it has them; the calling process reads them
between its own chunks (for the progress bar) and puts every result in the items' order.

A child that dies (killed, out of memory) loses only the chunk it was working on: whatever a
child took and never sent back is done again here, so the run still covers every item.
Compared with a process pool with a managing thread, the calling process works instead of
waiting, and there is one process fewer on the cores.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")
R = TypeVar("R")


def map_in_processes(
    work: Callable[[T], R],
    items: Sequence[T],
    jobs: int,
    *,
    order: Sequence[int] | None = None,
    chunksize: int = 1,
    step: Callable[[], None] | None = None,
) -> list[R]:
    """``[work(x) for x in items]``, computed in ``jobs`` processes (this one included).

    ``order`` is the order in which the items go out (indices into ``items``; default: as
    given); ``step`` is called once per item done, in this process.
    """
    order = range(len(items)) if order is None else order
    chunks = [list(order[i : i + chunksize]) for i in range(0, len(order), max(1, chunksize))]
    results: list[Any] = [None] * len(items)
    done = [False] * len(chunks)

    def finish(c: int, values: list[R]) -> None:
        for i, value in zip(chunks[c], values, strict=True):
            results[i] = value
            if step is not None:
                step()
        done[c] = True

    children = min(jobs - 1, len(chunks) - 1)
    if children <= 0:
        for c, chunk in enumerate(chunks):
            finish(c, [work(items[i]) for i in chunk])
        return results

    import multiprocessing  # here: a run in one process does not pay for it

    ctx = multiprocessing.get_context("fork")
    counter = ctx.RawValue("i", 0)
    lock = ctx.Lock()

    def take() -> int:
        with lock:
            c = counter.value
            counter.value = c + 1
        return c

    started: list[tuple[Any, Connection]] = []
    try:
        for _ in range(children):
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=_child, args=(work, items, chunks, take, send), daemon=True)
            child.start()
            send.close()
            started.append((child, receive))
        open_ends = [receive for _, receive in started]
        while (c := take()) < len(chunks):
            finish(c, [work(items[i]) for i in chunks[c]])
            open_ends = _read(open_ends, finish, block=False)
        while open_ends:
            open_ends = _read(open_ends, finish, block=True)
    finally:
        for child, receive in started:
            if child.is_alive() and not all(done):
                child.terminate()
            child.join()
            receive.close()
    for c, chunk in enumerate(chunks):  # taken by a child that died before sending it
        if not done[c]:
            finish(c, [work(items[i]) for i in chunk])
    return results


def _read(
    ends: list[Connection], finish: Callable[[int, list[Any]], None], *, block: bool
) -> list[Connection]:
    """Take in what the children sent; the connections still open (a child closes its end
    when it has no more chunks to take, or dies)."""
    from multiprocessing.connection import wait

    still = list(ends)
    for end in wait(ends, timeout=None if block else 0):
        try:
            c, values = end.recv()  # type: ignore[union-attr]
        except (EOFError, OSError):
            still.remove(end)  # type: ignore[arg-type]
            continue
        finish(c, values)
    return still


def _child(
    work: Callable[[Any], Any],
    items: Sequence[Any],
    chunks: list[list[int]],
    take: Callable[[], int],
    send: Connection,
) -> None:
    # Ctrl-C reaches the whole process group: the calling process handles it (and ends the
    # children), so a child does not print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (c := take()) < len(chunks):
        send.send((c, [work(items[i]) for i in chunks[c]]))
    send.close()
