"""types.json's class hierarchy (``bases``) against the real libraries: each class's declared
ancestors are exactly the named classes it is a subclass of, and every record the detector lets
a subclass inherit holds for the subclass too (a removed method or keyword is gone from it as
well), checked by import and introspection in verify's cached venvs of today's releases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from recode.dataset.knowledge import IMPORT_NAMES, load_knowledge_base

VENVS = Path.home() / ".cache" / "recode" / "venvs"

#: runs under the release's interpreter: REQ = {"classes": [...], "members": [[cls, m, kw]]}
_PROBE = r"""
import importlib, inspect, json, warnings
warnings.simplefilter("ignore")

def load(path):
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for part in parts[i:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None

classes = {c: load(c) for c in REQ["classes"]}
found = {c: k is not None for c, k in classes.items()}
subclass = {
    c: sorted(t for t, b in classes.items() if b is not None and b is not k and b in k.__mro__)
    for c, k in classes.items() if isinstance(k, type)
}
# [has it, takes kw by name, takes **kwargs] of a class's member, or why that is unknown
def member(cls, name, kw):
    k = classes.get(cls)
    if not isinstance(k, type):
        return "unknown class"
    obj = getattr(k, name, None)
    if kw is None or obj is None:
        return [obj is not None, False, False]
    try:
        ps = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return "no signature"
    return [True, kw in ps, any(p.kind is p.VAR_KEYWORD for p in ps.values())]

members = [member(*q) for q in REQ["members"]]
print("@@HIER@@")
print(json.dumps({"found": found, "subclass": subclass, "members": members}))
"""


def _library(path: str) -> str | None:
    root = path.split(".")[0]
    return next((lib for lib, names in IMPORT_NAMES.items() if root in names), None)


def _newest_venv(library: str) -> tuple[Version, Path] | None:
    found = []
    for d in VENVS.glob(f"{library}-*"):
        python = d / "bin" / "python"
        try:
            found.append((Version(d.name[len(library) + 1 :]), python))
        except ValueError:
            continue
    found = [f for f in found if f[1].exists()]
    return max(found) if found else None


def _probe(python: Path, request: dict) -> dict:
    code = f"REQ = {request!r}\n{_PROBE}"
    res = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
    )
    at = res.stdout.rfind("@@HIER@@")
    assert at >= 0, res.stderr[-2000:]
    return json.loads(res.stdout[at + len("@@HIER@@") :])


KB = load_knowledge_base()
TYPES = KB.types
HIERARCHY_LIBRARIES = sorted(
    {
        lib
        for cls, listed in TYPES.bases.items()
        for c in (cls, *listed)
        if (lib := _library(c)) is not None
    }
)


def _inherited(library: str) -> list[tuple[str, str, str, str | None, str]]:
    """(subclass, base, member, keyword or None, the record's id) for each removed method or
    keyword that a subclass inherits from a base's record: what ``KnownTypes.inherited`` adds
    to a table of the records by path (and keyword), as the detector's tables get it."""
    table: dict[str, list] = {}
    for r in KB.for_library(library):
        table.setdefault(r.path + (f"({r.parameter})" if r.parameter else ""), []).append(r)
    out = []
    for key, records in TYPES.inherited(table).items():
        if key in table:
            continue
        cls, _, member = key.partition("(")[0].rpartition(".")
        for r in records:
            if r.kind in ("removed", "signature") and r.removed_in is not None:
                out.append((cls, r.path.rpartition(".")[0], member, r.parameter, r.id))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("library", HIERARCHY_LIBRARIES)
def test_declared_bases_match_the_library_and_inherited_records_hold(library):
    venv = _newest_venv(library)
    if venv is None:
        pytest.skip(f"no cached venv of {library} in {VENVS}")
    _, python = venv
    named = sorted(
        {c for cls, listed in TYPES.bases.items() for c in (cls, *listed)} | set(TYPES.classes)
    )
    classes = [c for c in named if _library(c) == library]
    inherited = _inherited(library)
    queries = [[who, m, k] for c, b, m, k, _ in inherited for who in (c, b)]
    overridden = [
        [c, m.partition("(")[0], m.partition("(")[2][:-1] or None]
        for c, ms in TYPES.overrides.items()
        if _library(c) == library
        for m in sorted(ms)
    ]
    got = _probe(python, {"classes": classes, "members": queries + overridden})
    mine = [c for c in TYPES.bases if _library(c) == library]
    assert [c for c in mine if not got["found"][c]] == []
    # the declared ancestors are exactly the named classes each one is a subclass of
    wrong = {
        c: (sorted(TYPES.ancestors(c)), got["subclass"][c])
        for c in mine
        if sorted(TYPES.ancestors(c)) != got["subclass"][c]
    }
    assert wrong == {}
    # a record inherited by a subclass holds there as on the base in today's release: the
    # member, or the keyword, is gone from both alike (or both take **kwargs: verify's call
    # decides for the base, and the same call for the subclass)
    answers = got["members"][: len(queries)]
    # a member (keyword) a subclass overrides is still there: its bases' records do not reach it
    kept = zip(overridden, got["members"][len(queries) :], strict=True)
    assert [
        q
        for q, a in kept
        if isinstance(a, str) or a[0] is not True or q[2] and a == [True, False, False]
    ] == []
    differ = [
        f"{c}.{m}" + (f"({k})" if k else "") + f" [{rid}]: {answers[2 * i]} on {b}: "
        f"{answers[2 * i + 1]}"
        for i, (c, b, m, k, rid) in enumerate(inherited)
        if answers[2 * i] != answers[2 * i + 1] or isinstance(answers[2 * i], str)
    ]
    assert differ == []
