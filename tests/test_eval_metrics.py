"""pass@k: the unbiased estimator against brute-force enumeration, and its aggregates."""

from __future__ import annotations

import itertools
import math

import pytest

from recode.training.eval.metrics import TaskCounts, aggregate, grouped, pass_at_k


def brute_force(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of n samples (c of them correct) holding a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_enumeration(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12)


def test_closed_form_for_large_n() -> None:
    n, c, k = 200, 37, 10
    expected = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12)
    assert pass_at_k(200, 0, 10) == 0.0
    assert pass_at_k(200, 195, 10) == 1.0


def test_pass_at_1_is_the_fraction_correct() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)


@pytest.mark.parametrize("n,c,k", [(3, 4, 1), (3, 1, 0), (3, 1, 4), (-1, 0, 1)])
def test_rejects_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def _task(task_id: str, n: int, correct: int, update_correct: int, package: str) -> TaskCounts:
    return TaskCounts(task_id, n, correct, update_correct, {"package": package, "update_type": "t"})


def test_aggregate_means_and_missing_k() -> None:
    tasks = [
        _task("a", 4, 4, 2, "math"),
        _task("b", 4, 0, 0, "numpy"),
        _task("c", 2, 1, 1, "numpy"),
    ]
    result = aggregate(tasks, [1, 4])
    assert result["tasks"] == 3
    assert result["pass@1"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert result["upass@1"] == pytest.approx((0.5 + 0.0 + 0.5) / 3)
    # k=4 only over the tasks that have 4 samples
    assert result["pass@4"] == pytest.approx((1.0 + 0.0) / 2)
    assert result["upass@4"] == pytest.approx((1.0 + 0.0) / 2)
    assert aggregate([_task("d", 1, 1, 1, "re")], [5])["pass@5"] is None


def test_grouped_by_label() -> None:
    tasks = [
        _task("a", 2, 2, 0, "math"),
        _task("b", 2, 0, 0, "numpy"),
        _task("c", 2, 1, 1, "numpy"),
    ]
    by_package = grouped(tasks, [1], "package")
    assert list(by_package) == ["math", "numpy"]
    assert by_package["math"]["pass@1"] == 1.0
    assert by_package["numpy"]["pass@1"] == pytest.approx(0.25)
    assert by_package["numpy"]["upass@1"] == pytest.approx(0.25)
    assert by_package["numpy"]["tasks"] == 2
