"""Proof by execution of a record's mechanical fix: its examples' old code runs under a release
before the change, the fix's output under a release after it, and both must show the same.

Where the two differ, the fixed code also runs under the release before the change (where the
new spelling exists there): showing what the old code showed, the fix is exact and the
difference is the releases' own (a dtype's default unit, a new fitted attribute).

What a program shows is what it prints and then, name by name, the values it left in its module
namespace, each written in a form that does not depend on the library's release: arrays and
pandas objects as their values and dtype (``Int64Index([1, 2])`` and ``Index([1, 2],
dtype='int64')`` are the same values), fitted estimators as their fitted attributes (the names
ending in ``_``), numbers rounded to 12 significant digits. A module, a function or a class is
not shown; nor are memory addresses. Both runs happen in the sandbox
(:func:`recode.training.sandbox.run_python`) under the cached virtual environments of the
dataset builder (:class:`recode.dataset.build.VenvPool`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from recode.dataset.knowledge import ApiChange, KnowledgeBase

#: The program that runs an example (``example.py`` beside it) and shows what it left.
_SHOW = Path(__file__).with_name("fix_proof_show.py")

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


class Outcome(enum.Enum):
    SAME = "same"  # the proof holds
    DIFFERENT = "different"  # the fixed code shows something else: the fix is not exact here
    #: the releases differ in more than the change, but the fixed code run under the release
    #: before it shows what the old code did: the fix is exact, the release drifted
    DRIFT = "same under the old release"
    OLD_FAILS = "old code fails"  # under the release before the change: the example is broken
    NEW_FAILS = "new code fails"  # under the release after the change
    NO_RELEASE = "no release"  # no cached environment before or after the change
    NO_FIX = "not fixed"  # the fix did not rewrite the example


@dataclass
class Proof:
    record: str
    example: int
    outcome: Outcome
    before: str | None = None  # "numpy==1.26.4"
    after: str | None = None
    detail: str = ""


def cached_releases(pool_root: Path, library: str) -> list[Version]:
    """The releases of ``library`` that have a finished environment under ``pool_root``."""
    found = []
    for venv in pool_root.glob(f"{library}-*"):
        try:
            version = Version(venv.name[len(library) + 1 :])
        except InvalidVersion:
            continue
        if (venv / ".complete").exists() and version.release:
            found.append(version)
    return sorted(found)


def releases_around(record: ApiChange, releases: Iterable[Version]) -> tuple[Version | None, ...]:
    """The newest release before the change, and the newest (today's) at or after it."""
    change = record.effective_in or record.deprecated_in
    if change is None:
        return None, None
    ordered = sorted(releases)
    before = [v for v in ordered if v < change]
    after = [v for v in ordered if v >= change]
    return (before[-1] if before else None, after[-1] if after else None)


def shown(code: str, python: str, timeout_s: float = 120.0) -> tuple[bool, str]:
    """Whether ``code`` ran under ``python``, and what it showed (or why it failed)."""
    from recode.training.sandbox import SandboxLimits, run_python

    env = {"MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu", "PYTHONWARNINGS": "ignore"}
    res = run_python(
        _SHOW.read_text(encoding="utf-8"),
        SandboxLimits(time_s=timeout_s, memory_mb=None),
        files={"example.py": code},
        python=python,
        env=env,
    )
    out = _ADDRESS.sub("0x?", res.stdout)
    if "@@RAISED@@" in out:
        return False, out.split("@@RAISED@@", 1)[1].strip()
    if "@@NAMESPACE@@" not in out:
        return False, (res.stderr.strip().splitlines() or [res.status])[-1]
    return True, out


def prove(
    record: ApiChange,
    kb: KnowledgeBase,
    pool_root: Path,
    python_for: dict[str, str] | None = None,
) -> list[Proof]:
    """One proof per example of a record with a fix (made with unsafe fixes on)."""
    from recode.server.detector import Detector
    from recode.server.fixes import fix_source
    from recode.server.severity import LibraryVersion

    before, after = releases_around(record, cached_releases(pool_root, record.library))
    proofs = []
    for i, example in enumerate(record.examples):
        proof = Proof(record.id, i, Outcome.NO_RELEASE)
        proofs.append(proof)
        if before is None or after is None:
            continue
        proof.before, proof.after = f"{record.library}=={before}", f"{record.library}=={after}"
        detector = Detector(kb, {record.library: LibraryVersion(after, "target")})
        result = fix_source(example.old.encode(), detector, unsafe=True)
        if record.id in {f.record.id for f in result.remaining}:
            proof.outcome = Outcome.NO_FIX
            continue
        pythons = python_for or {}
        old_py = pythons.get(proof.before) or str(
            pool_root / f"{record.library}-{before}" / "bin" / "python"
        )
        new_py = pythons.get(proof.after) or str(
            pool_root / f"{record.library}-{after}" / "bin" / "python"
        )
        ok, old_out = shown(example.old, old_py)
        if not ok:
            proof.outcome, proof.detail = Outcome.OLD_FAILS, old_out
            continue
        ok, new_out = shown(result.source.decode(), new_py)
        if not ok:
            proof.outcome, proof.detail = Outcome.NEW_FAILS, new_out
            continue
        if old_out == new_out:
            proof.outcome = Outcome.SAME
            continue
        proof.detail = f"old: {old_out!r}\nnew: {new_out!r}"
        ok, fixed_old = shown(result.source.decode(), old_py)  # the control
        proof.outcome = Outcome.DRIFT if ok and fixed_old == old_out else Outcome.DIFFERENT
    return proofs
