"""What the test runs say, test by test and cause by cause, as a report in text, JSON or
markdown."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from recode.server.upgrade.causes import Cause, CauseKind, is_environment
from recode.server.upgrade.testrun import SESSION, Outcome, TestResult, TestRun


class Verdict(enum.Enum):
    FIXED = "fixed"  # failed at the target versions, passes after the migration
    STILL_FAILING = "still failing"
    NEWLY_FAILING = "newly failing"  # passed at the target versions, fails after the migration
    FAILING_AT_BASELINE = "failing at the baseline too"  # not the upgrade's doing
    UNRELATED = "unrelated"  # fails for a reason that is not the upgrade (collection, service)
    PASSING = "passing"


@dataclass
class Story:
    id: str
    baseline: Outcome | None
    before: Outcome | None  # at the target versions, before the migration
    after: Outcome | None  # after the migration
    cause: Cause | None  # of its failure at the target versions, before the migration
    #: of its failure after the migration (None where it passes then): a migration that fixed
    #: the first break can reveal another, the error a still-failing test ends on now
    now: Cause | None = None

    @property
    def verdict(self) -> Verdict:
        bad_before = self.before is not None and self.before.bad
        bad_after = self.after is not None and self.after.bad
        if bad_after and not bad_before:
            return Verdict.NEWLY_FAILING
        if bad_before and not bad_after:
            return Verdict.FIXED
        if not bad_after:
            return Verdict.PASSING
        if self.baseline is not None and self.baseline.bad:
            return Verdict.FAILING_AT_BASELINE
        failing = self.now or self.cause
        if failing is not None and failing.kind is CauseKind.UNRELATED:
            return Verdict.UNRELATED
        return Verdict.STILL_FAILING

    @property
    def broken_by_upgrade(self) -> bool:
        """Passed at the baseline and failed at the target versions (with --baseline); a test
        skipped at the baseline did not pass there, whatever the target does to it."""
        return self.baseline is Outcome.PASSED and self.before is not None and self.before.bad


def stories(
    baseline: TestRun | None,
    before: TestRun,
    after: TestRun,
    causes: Mapping[str, Cause],
    causes_after: Mapping[str, Cause] | None = None,
) -> list[Story]:
    """One story per test, with the cause of its failure at the target versions (``causes``,
    by the ``before`` run's ids) and after the migration (``causes_after``, by the ``after``
    run's ids; None: ``causes``, as for a run the migration left as it was). A test that a run
    lacks because its module failed to import takes that module's collection error (and its
    cause); the module's own entry then stands only for tests no run reported one by one."""
    runs = [r for r in (baseline, before, after) if r is not None]
    ids = list(dict.fromkeys(test_id for r in runs for test_id in r.results))
    covered = {
        cid for r in runs for test_id in ids for cid in [_covering(r, test_id)] if cid != test_id
    }
    now_causes = causes if causes_after is None else causes_after
    out = []
    for test_id in ids:
        if test_id in covered:
            continue
        found = [
            _result(r, test_id) if r is not None else (None, None)
            for r in (baseline, before, after)
        ]
        b, t0, t1 = (r.outcome if r is not None else None for r, _ in found)
        cid0, cid1 = found[1][1], found[2][1]
        cause = causes.get(cid0) if cid0 is not None and t0 is not None and t0.bad else None
        now = now_causes.get(cid1) if cid1 is not None and t1 is not None and t1.bad else None
        out.append(Story(test_id, b, t0, t1, _changed(cause, b, t0), _changed(now, b, t1)))
    return out


def _changed(
    cause: Cause | None, baseline: Outcome | None, outcome: Outcome | None
) -> Cause | None:
    """An unrelated cause of a test that passed at the baseline, and whose error is not the
    surroundings', as an unknown break: a result the upgrade changed (pandas 3's str dtype
    leaving a variable unset)."""
    if (
        cause is not None
        and cause.kind is CauseKind.UNRELATED
        and baseline is not None
        and not baseline.bad
        and outcome is not None
        and outcome.bad
        and not is_environment(cause.error)
    ):
        return dataclasses.replace(cause, kind=CauseKind.UNKNOWN)
    return cause


def _covering(run: TestRun, test_id: str) -> str | None:
    """The id under which ``run`` reports ``test_id``: its own, or its module's collection
    error (``tests.test_x`` for ``tests.test_x::test_y`` and ``tests.test_x.Case::test_y``)."""
    if test_id in run.results:
        return test_id
    for cid, r in run.results.items():
        if r.collection and (cid == SESSION or test_id.startswith((cid + "::", cid + "."))):
            return cid
    return None


def _result(run: TestRun, test_id: str) -> tuple[TestResult | None, str | None]:
    cid = _covering(run, test_id)
    return (run.results[cid], cid) if cid is not None else (None, None)


def exit_status(all_stories: list[Story], after: TestRun) -> int:
    """0 when the tests are green after the migration (tests failing at the baseline too
    aside), 1 when breaks remain."""
    if after.problem is not None:
        return 1
    ok = {Verdict.PASSING, Verdict.FIXED, Verdict.FAILING_AT_BASELINE}
    return 0 if all(s.verdict in ok for s in all_stories) else 1


def summary(all_stories: list[Story]) -> dict[str, int]:
    counts = Counter(s.verdict.value for s in all_stories)
    return {v.value: counts.get(v.value, 0) for v in Verdict}


def by_cause(all_stories: list[Story]) -> list[dict]:
    """The failing (or fixed) tests grouped by cause, the largest group first: a fixed test
    under the cause the migration fixed, a failing one under the cause it fails with now. A
    test that fails now for another cause than at the target versions is listed in its group's
    ``before`` too, under the earlier cause's label."""
    groups: dict[str, dict] = {}
    for s in all_stories:
        fixed = s.verdict is Verdict.FIXED
        cause = s.cause if fixed else (s.now or s.cause)
        if s.verdict is Verdict.PASSING or cause is None:
            continue
        g = groups.setdefault(
            cause.label, {"cause": cause.to_dict(), "label": cause.label, "tests": {}, "before": {}}
        )
        g["tests"].setdefault(s.verdict.value, []).append(s.id)
        if not fixed and s.cause is not None and s.cause.label != cause.label:
            g["before"].setdefault(s.cause.label, []).append(s.id)
    return sorted(groups.values(), key=lambda g: -sum(len(t) for t in g["tests"].values()))


# -- rendering -----------------------------------------------------------------------------------


def render(doc: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2)
    return _markdown(doc) if fmt == "markdown" else _text(doc)


def counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no tests"


#: what a report says of a run whose tests cannot be counted (a test command other than pytest)
NOT_COUNTED = (
    "one verdict for the whole run: the test command is not pytest, its tests cannot be counted"
)


def run_line(run: dict) -> str:
    """A run of ``run_dict`` in words: its counts, or its one verdict."""
    if run["counted"]:
        text = counts_line(run["counts"])
    else:
        text = f"the command {run['verdict']} (exit status {run['returncode']}; {NOT_COUNTED})"
    return text + (f" ({run['problem']})" if run["problem"] else "")


def _result_line(doc: dict) -> str:
    if doc["counted"]:
        return counts_line(doc["summary"])
    verdict = next((v for v, n in doc["summary"].items() if n), "no verdict")
    return f"{verdict} ({NOT_COUNTED})"


def _cause_line(g: dict, counted: bool = True) -> str:
    c = g["cause"]
    tests = "; ".join(
        f"{len(ids)} {verdict}" if counted else f"the run {verdict}"
        for verdict, ids in g["tests"].items()
    )
    if g.get("before"):
        tests += (
            " (at the target versions: "
            + "; ".join(
                f"{len(ids)} {label}" if counted else label for label, ids in g["before"].items()
            )
            + ")"
        )
    what = g["label"]
    if c["record"] and c["replacement"]:
        what += f" (use {c['replacement']})"
    return f"{what}: {tests} — {c['error']}"


def _text(doc: dict) -> str:
    lines = [f"recode-upgrade {doc['project']} (Python {doc['python']})", "", "Changes:"]
    lines += [f"  {c['name']}: {c['before'] or '-'} -> {c['after'] or '-'}" for c in doc["changes"]]
    lines += ["", f"Knowledge base at the target versions: {len(doc['findings'])} findings"]
    lines += [
        f"  {f['path']}:{f['line']}: {f['record']}: {f['message']}{_unsafe(f, doc)}"
        for f in doc["findings"]
    ]
    if doc.get("requirements"):
        lines += ["", "To declare (a library no longer installs them; the project imports them):"]
        lines += [f"  {_requirement_line(r)}" for r in doc["requirements"]]
    for name in ("baseline", "target", "migrated"):
        run = doc["runs"].get(name)
        if run is not None:
            lines.append(f"Tests {name}: {run_line(run)}")
    if doc["summary"]:
        lines += ["", f"Result: {_result_line(doc)}"]
    if doc["causes"]:
        lines += ["", "By cause:"] + [f"  {_cause_line(g, doc['counted'])}" for g in doc["causes"]]
    if doc["unknown_breaks"]:
        lines += ["", "Unknown breaks (candidate knowledge-base records):"]
        lines += [f"  {json.dumps(c)}" for c in doc["unknown_breaks"]]
    if doc.get("from_tests"):
        lines += ["", "Findings from the test runs (the traceback shows the class):"]
        lines += [f"  {_proof_line(p)}" for p in doc["from_tests"]]
    if doc["left"]:
        lines += ["", "Left for a person:"] + [f"  {x}" for x in doc["left"]]
    if doc["diff"]:
        lines += ["", doc["diff"].rstrip("\n")]
    return "\n".join(lines)


def _markdown(doc: dict) -> str:
    lines = [f"# recode-upgrade: `{doc['project']}`", "", f"Python {doc['python']}", ""]
    lines += ["## Changes", "", "| distribution | before | after |", "|---|---|---|"]
    lines += [
        f"| {c['name']} | {c['before'] or '-'} | {c['after'] or '-'} |" for c in doc["changes"]
    ]
    lines += ["", f"## Knowledge base at the target versions ({len(doc['findings'])} findings)", ""]
    lines += [
        f"- `{f['path']}:{f['line']}` `{f['record']}`: {f['message']}{_unsafe(f, doc)}"
        for f in doc["findings"]
    ]
    if doc.get("requirements"):
        lines += ["", "## To declare (a library no longer installs them)", ""]
        lines += [f"- {_requirement_line(r)}" for r in doc["requirements"]]
    lines += ["", "## Tests", "", "| run | outcome |", "|---|---|"]
    for name in ("baseline", "target", "migrated"):
        run = doc["runs"].get(name)
        if run is not None:
            lines.append(f"| {name} | {run_line(run)} |")
    lines += ["", f"**Result:** {_result_line(doc)}" if doc["summary"] else "", ""]
    if doc["causes"]:
        lines += (
            ["## By cause", ""]
            + [f"- {_cause_line(g, doc['counted'])}" for g in doc["causes"]]
            + [""]
        )
    if doc["unknown_breaks"]:
        lines += ["## Unknown breaks", ""]
        lines += [f"- `{json.dumps(c)}`" for c in doc["unknown_breaks"]] + [""]
    if doc.get("from_tests"):
        lines += ["## Findings from the test runs", ""]
        lines += [f"- {_proof_line(p)}" for p in doc["from_tests"]] + [""]
    if doc["left"]:
        lines += ["## Left for a person", ""] + [f"- {x}" for x in doc["left"]] + [""]
    if doc["diff"]:
        lines += ["## Diff", "", "```diff", doc["diff"].rstrip("\n"), "```"]
    return "\n".join(lines)


def _requirement_line(r: dict) -> str:
    """A dependency to declare (:class:`recode.server.upgrade.declare.Needed`'s dict)."""
    files = ", ".join(r["imported_by"][:3]) + (", ..." if len(r["imported_by"]) > 3 else "")
    return (
        f"{r['requirement']}: {r['library']} {r['version']} no longer installs it "
        f"({r['record']}); imported by {files}"
    )


def _proof_line(p: dict) -> str:
    """A finding a test run proved (:class:`recode.server.upgrade.evidence.Proof`'s dict)."""
    where = f"{p['path']}:{p['line']}: " if p["path"] else ""
    what = "fixed" if p["fixed"] else f"not fixed: {p['refused'] or 'the round made no change'}"
    return f"{where}{p['record']} ({p['origin']}): {what}"


def run_dict(run: TestRun | None) -> dict | None:
    if run is None:
        return None
    counts = Counter(r.outcome.value for r in run.results.values())
    return {
        "counted": run.counted,
        # a command other than pytest: no counts, its one verdict and exit status instead
        "counts": {o.value: counts.get(o.value, 0) for o in Outcome} if run.counted else None,
        "verdict": None if run.counted else ("failed" if run.failing() else "passed"),
        "returncode": run.returncode,
        "problem": run.problem,
        "output": run.output if run.problem else "",
    }


def _unsafe(finding: dict, doc: dict) -> str:
    """A note on a finding whose fix is unsafe, which is made only with --unsafe-fixes."""
    if finding.get("fix") != "unsafe":
        return ""
    return (
        " (unsafe fix)"
        if doc.get("unsafe_fixes")
        else " (unsafe fix: not made without --unsafe-fixes)"
    )
