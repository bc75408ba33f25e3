"""Tests of bench_verify's own logic (the grouping of reasons and disagreements); no install.

Run: ``pytest bench/bench_verify_test.py`` (bench/ is outside the default test paths).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_verify as bv  # noqa: E402


def _record(rid: str, outcome: str, *checks: tuple[str, str, bool]) -> dict[str, object]:
    return {
        "id": rid,
        "outcome": outcome,
        "checks": [
            {"claim": claim, "outcome": o, "observed": observed, "main": main}
            for claim, (o, observed, main) in zip(("c1", "c2", "c3"), checks, strict=False)
        ],
    }


def test_reasons_are_grouped_by_the_first_unchecked_main_claim():
    data = {
        "records": [
            _record(
                "a",
                "cannot check",
                ("agree", "resolves", False),
                ("cannot check", "no environment for torch==2.6.0: not created", True),
            ),
            _record(
                "b",
                "cannot check",
                (
                    "cannot check",
                    "a change of behaviour: needs running code, not introspection",
                    True,
                ),
            ),
            _record(
                "c",
                "cannot check",
                ("cannot check", "ModuleNotFoundError: No module named 'h2'", True),
            ),
            _record("d", "agree", ("agree", "gone", True)),
            _record(
                "e", "disagree", ("agree", "x", True), ("disagree", "resolves to a function", True)
            ),
        ]
    }
    reasons, disagreements = bv.summarize("torch", data)
    assert reasons == {
        "no release installed (not cached, or no wheel for the Python given)": 1,
        "a change of behaviour or meaning: needs running code": 1,
        "an optional dependency is not installed in the release's venv": 1,
    }
    assert disagreements == ["e: c2: resolves to a function"]


def test_an_unknown_reason_is_kept_as_observed():
    assert bv.reason("something new happened") == "other: something new happened"
