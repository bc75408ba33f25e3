"""pass@k (the unbiased estimator of Chen et al. 2021, arXiv 2107.03374) and its aggregates.

For a task with n samples of which c are correct, pass@k is the probability that at least one of
k samples drawn without replacement from the n is correct: ``1 - C(n-c, k) / C(n, k)``. It is
computed as a product, which stays exact enough in floating point for large n. UPass@k
(CodeUpdateArena) is the same estimator with c counting samples that pass with the update and
fail without it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TaskCounts", "aggregate", "grouped", "pass_at_k"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task: n samples, c of them correct.

    >>> pass_at_k(5, 0, 1), pass_at_k(5, 5, 3), pass_at_k(4, 1, 1), pass_at_k(4, 1, 4)
    (0.0, 1.0, 0.25, 1.0)
    """
    if n < 0 or c < 0 or k < 1 or c > n:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


@dataclass(frozen=True)
class TaskCounts:
    """Per-task sample counts, with the labels used for grouping."""

    task_id: str
    n: int
    correct: int  # pass with the update
    update_correct: int  # pass with the update and fail without
    labels: Mapping[str, str]


def aggregate(tasks: Sequence[TaskCounts], ks: Iterable[int]) -> dict[str, Any]:
    """Mean pass@k and UPass@k over tasks; a k above a task's n is left out (None if no task
    has enough samples)."""
    out: dict[str, Any] = {"tasks": len(tasks)}
    for k in ks:
        eligible = [t for t in tasks if t.n >= k]
        if not eligible:
            out[f"pass@{k}"] = None
            out[f"upass@{k}"] = None
            continue
        out[f"pass@{k}"] = sum(pass_at_k(t.n, t.correct, k) for t in eligible) / len(eligible)
        out[f"upass@{k}"] = sum(pass_at_k(t.n, t.update_correct, k) for t in eligible) / len(
            eligible
        )
    return out


def grouped(
    tasks: Sequence[TaskCounts],
    ks: Sequence[int],
    label: str,
    key: Callable[[TaskCounts], str] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`aggregate` per value of one label (for example ``package`` or ``update_type``)."""
    groups: dict[str, list[TaskCounts]] = defaultdict(list)
    for task in tasks:
        groups[key(task) if key else task.labels[label]].append(task)
    return {name: aggregate(members, ks) for name, members in sorted(groups.items())}
