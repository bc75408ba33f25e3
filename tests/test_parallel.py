"""map_in_processes: forked workers and the calling process, results in the items' order, and
a run that survives a worker dying."""

from __future__ import annotations

import os
import signal
import time

import pytest

from recode.server.parallel import map_in_processes

MAIN = os.getpid()


def slow_square(x: int) -> tuple[int, int]:
    time.sleep(0.002)
    return x * x, os.getpid()


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_results_in_the_items_order(jobs):
    items = list(range(60))
    order = list(reversed(items))
    steps: list[int] = []
    results = map_in_processes(
        slow_square, items, jobs, order=order, chunksize=4, step=lambda: steps.append(1)
    )
    assert [value for value, _ in results] == [x * x for x in items]
    assert len(steps) == len(items)  # the progress hears of every item, children's too
    pids = {pid for _, pid in results}
    assert MAIN in pids  # this process works too
    assert len(pids) == jobs  # and every child did some of it


def test_more_jobs_than_chunks():
    results = map_in_processes(slow_square, [1, 2], 8, chunksize=2)
    assert [v for v, _ in results] == [1, 4]
    assert {pid for _, pid in results} == {MAIN}  # one chunk: no child was started


def die_in_a_child(x: int) -> tuple[int, int]:
    if os.getpid() != MAIN:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    time.sleep(0.005)
    return x + 1, os.getpid()


def test_children_that_die_lose_nothing():
    """Every child dies on the first item it takes: what they took is done again here."""
    items = list(range(40))
    results = map_in_processes(die_in_a_child, items, 3, chunksize=2)
    assert results == [(x + 1, MAIN) for x in items]


def test_an_error_in_this_process_ends_the_children():
    def fail_here(x: int) -> int:
        if os.getpid() == MAIN and x >= 10:
            raise ValueError("boom")
        time.sleep(0.01)
        return x

    before = set(_children())
    with pytest.raises(ValueError, match="boom"):
        map_in_processes(fail_here, list(range(200)), 3, chunksize=1)
    assert set(_children()) == before  # none left running


def _children() -> list[int]:
    import multiprocessing

    return [p.pid for p in multiprocessing.active_children() if p.pid is not None]
