"""The detector and the fixer never raise, whatever the input.

Run over every file of the Python standard library (with a synthetic knowledge base over
``os``, ``re``, ``sys`` and ``collections``, so that real resolution and fixing work happens in
most files), and over random byte mutations of them.
"""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import fix_source, parses
from recode.server.severity import LibraryVersion
from tests.conftest import DATA
from tests.test_prefilter import split_chains

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FILES = sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)
KB = load_knowledge_base([DATA / "kb" / "fuzz.jsonl"])
V = LibraryVersion(Version("1.0"), "installed")
DETECTOR = Detector(
    KB, {lib: V for lib in ("os", "re", "sys", "collections")}, name_only_methods=True
)


def check(source: bytes) -> int:
    findings = DETECTOR.detect(source)
    for f in findings:
        assert 0 <= f.start_byte <= f.end_byte <= len(source)
        assert (f.start.line, f.start.character) <= (f.end.line, f.end.character)
    result = fix_source(source, DETECTOR)
    if result.source != source:
        assert parses(result.source)
    return len(findings)


def test_knowledge_base_is_valid():
    assert not KB.problems and len(KB.records) == 9


@pytest.mark.slow
def test_every_stdlib_file():
    assert len(FILES) > 500
    total = 0
    for path in FILES:
        total += check(path.read_bytes())
    assert total > 1000  # the synthetic records really matched something


SAMPLE = [p.read_bytes() for p in random.Random(7).sample(FILES, 40)]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLE)))
    for _ in range(draw(st.integers(1, 20))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "split"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "split":  # dotted chains across lines
            data = bytearray(split_chains(bytes(data), random.Random(draw(st.integers()))))
        elif op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = (
                draw(st.binary(min_size=1, max_size=8))
                if draw(st.booleans())
                else draw(
                    st.sampled_from(
                        [
                            b"(",
                            b")",
                            b":",
                            b"\n",
                            b"    ",
                            b"os.",
                            b"import os\n",
                            b"from re import *\n",
                            b'"""',
                            b"\\",
                            b"\xff",
                        ]
                    )
                )
            )
        elif data:
            del data[pos : pos + draw(st.integers(1, 40))]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_random_mutations(source):
    check(source)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(source):
    check(b"import os, re, sys\n" + source)
