"""The prefilter's patterns under another CPython 3.11 of this machine (Debian's is 3.11.2).

The prefilter is regular expressions with possessive repeats, new in 3.11, and CPython before
3.11.5 fails to match some of them (a lookbehind inside a possessive repeat matched nothing,
and the prefilter dropped ``np.float_(1)``). A user's interpreter is any 3.11: the examples'
soundness (the detector's findings are never in a dropped file) is checked under each one
found here whose version differs from the one running the tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

OTHERS = sorted(
    {
        str(Path(p).resolve())
        for p in (shutil.which("python3.11"), "/usr/bin/python3.11", "/usr/local/bin/python3.11")
        if p and Path(p).exists()
    }
)

SCRIPT = r"""
import site, sys
site.addsitedir(sys.argv[1])
from packaging.version import Version
from recode.dataset.knowledge import load_knowledge_base
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion

kb = load_knowledge_base()
latest = LibraryVersion(Version("999"), "installed")
detector = Detector(kb, dict.fromkeys(kb.libraries(), latest))
flagged = dropped = 0
for record in kb.records:
    for ex in record.examples:
        source = ex.old.encode()
        if detector.detect(source, prefilter=False):
            flagged += 1
            if not detector.prefilter(source):
                dropped += 1
                print("dropped:", record.id, file=sys.stderr)
print(sys.version.split()[0], flagged, dropped)
"""


def _version(python: str) -> str | None:
    done = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.mark.parametrize("python", OTHERS or [None])
def test_no_example_is_dropped_under_another_3_11(python):
    if python is None:
        pytest.skip("no other python3.11 on this machine")
    version = _version(python)
    if version is None or not version.startswith("3.11."):
        pytest.skip(f"{python} is not a CPython 3.11")
    if version == sys.version.split()[0]:
        pytest.skip(f"{python} is the interpreter running the tests ({version})")
    site_packages = sysconfig.get_paths()["purelib"]
    done = subprocess.run(
        [python, "-I", "-c", SCRIPT, site_packages], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0 and "ModuleNotFoundError" in done.stderr:
        pytest.skip(f"the packages of this venv do not load under {python}: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    got, flagged, dropped = done.stdout.split()
    assert got == version
    assert int(flagged) > 1000
    assert int(dropped) == 0, done.stderr[-2000:]
