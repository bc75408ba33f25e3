"""recode-upgrade's verdicts, test by test, from the runs' outcomes."""

from __future__ import annotations

from recode.server.upgrade.causes import Cause, CauseKind
from recode.server.upgrade.outcome import Verdict, by_cause, exit_status, stories, summary
from recode.server.upgrade.testrun import SESSION, Outcome, TestResult, TestRun

P, F = Outcome.PASSED, Outcome.FAILED


def run(**outcomes: Outcome) -> TestRun:
    return TestRun({k: TestResult(k, v) for k, v in outcomes.items()})


def test_verdicts():
    baseline = run(a=P, b=P, c=F, d=P, e=P, f=P)
    before = run(a=F, b=F, c=F, d=P, e=F, f=F)
    after = run(a=P, b=F, c=F, d=F, e=F, f=F)
    causes = {
        "e": Cause(CauseKind.UNRELATED, "ConnectionRefusedError: [Errno 111] Connection refused"),
        # regression: feature_engine 1.6.2's 35 tests that pandas 3 broke in its own code
        "f": Cause(CauseKind.UNRELATED, "UnboundLocalError: cannot access local variable 'is_cat'"),
    }
    got = {s.id: s.verdict for s in stories(baseline, before, after, causes)}
    assert got == {
        "a": Verdict.FIXED,
        "b": Verdict.STILL_FAILING,
        "c": Verdict.FAILING_AT_BASELINE,
        "d": Verdict.NEWLY_FAILING,
        "e": Verdict.UNRELATED,  # a service: whatever the baseline did
        "f": Verdict.STILL_FAILING,  # passed at the baseline, fails in its own code: the upgrade
    }
    f = next(s for s in stories(baseline, before, after, causes) if s.id == "f")
    assert f.cause is not None and f.cause.kind is CauseKind.UNKNOWN
    assert (
        f.cause.label == "unknown break: UnboundLocalError: cannot access local variable 'is_cat'"
    )
    # regression: mizani 0.9.2's 13 tests importing pytz, which pandas 3 no longer installs
    pytz = {"f": Cause(CauseKind.UNRELATED, "ModuleNotFoundError: No module named 'pytz'")}
    assert [s.verdict for s in stories(baseline, before, after, pytz) if s.id == "f"] == [
        Verdict.STILL_FAILING
    ]
    # without a baseline nothing says it passed before: it stays unrelated
    alone = {s.id: s.verdict for s in stories(None, before, after, causes)}
    assert alone["f"] is Verdict.UNRELATED
    assert exit_status(stories(baseline, before, after, causes), after) == 1
    fixed = run(a=P, b=P, c=F, d=P, e=P)
    assert exit_status(stories(baseline, before, fixed, causes), fixed) == 0


def test_a_module_that_fails_to_import_stands_for_its_tests():
    """regression: PeakUtils' tests all vanished into one collection error at the target
    versions, and none counted as broken by the upgrade."""
    baseline = run(**{"tests.t.Case::test_a": P, "tests.t.Case::test_b": P})
    before = TestRun(
        {"tests.t": TestResult("tests.t", Outcome.ERROR, "collection failure", collection=True)}
    )
    after = run(**{"tests.t.Case::test_a": P, "tests.t.Case::test_b": F})
    cause = Cause(CauseKind.KNOWN, "ImportError: cannot import name 'simps'")
    all_stories = stories(baseline, before, after, {"tests.t": cause})
    assert [s.id for s in all_stories] == ["tests.t.Case::test_a", "tests.t.Case::test_b"]
    assert all(s.broken_by_upgrade and s.cause is cause for s in all_stories)
    assert summary(all_stories)["fixed"] == 1 and summary(all_stories)["still failing"] == 1


def test_a_failed_session_stands_for_every_test():
    baseline = run(**{"tests.t::test_a": P, "tests.u::test_b": P})
    before = TestRun({SESSION: TestResult(SESSION, Outcome.ERROR, "conftest", collection=True)})
    cause = Cause(CauseKind.KNOWN, "AttributeError: 'finfo' object has no attribute 'machar'")
    all_stories = stories(baseline, before, before, {SESSION: cause})
    assert [s.id for s in all_stories] == ["tests.t::test_a", "tests.u::test_b"]
    assert all(s.verdict is Verdict.STILL_FAILING and s.cause is cause for s in all_stories)


def test_a_test_skipped_at_the_baseline_is_not_broken_by_the_upgrade():
    """regression: empyrical's 30 tests skipped at the baseline (and after the migration) fell
    with their module at the target and were counted as broken by the upgrade."""
    module = "tests.t"
    baseline = TestRun(
        {
            "tests.t::test_a": TestResult("tests.t::test_a", Outcome.PASSED),
            "tests.t::test_s": TestResult("tests.t::test_s", Outcome.SKIPPED),
        }
    )
    before = TestRun(
        {module: TestResult(module, Outcome.ERROR, "collection failure", collection=True)}
    )
    after = TestRun(dict(baseline.results))
    cause = Cause(CauseKind.KNOWN, "KeyError: 0")
    broken = {s.id: s.broken_by_upgrade for s in stories(baseline, before, after, {module: cause})}
    assert broken == {"tests.t::test_a": True, "tests.t::test_s": False}


def test_each_test_is_grouped_under_the_cause_it_has_now():
    """A fixed test under the cause the migration fixed; a failing one under the error it fails
    with after the migration, with the cause it had at the target versions as its group's
    ``before``; a test that passed before the migration under its new error alone."""
    machar = Cause(CauseKind.KNOWN, "AttributeError: 'finfo' object has no attribute 'machar'")
    complex_ = Cause(CauseKind.UNKNOWN, "TypeError: '<' not supported", "numpy")
    service = Cause(CauseKind.UNRELATED, "ConnectionRefusedError: [Errno 111] Connection refused")
    before = run(a=F, b=F, c=P, d=F)
    after = run(a=P, b=F, c=F, d=F)
    all_stories = stories(
        None,
        before,
        after,
        {"a": machar, "b": machar, "d": machar},
        {"b": complex_, "c": complex_, "d": service},
    )
    got = {s.id: (s.verdict, s.cause, s.now) for s in all_stories}
    assert got == {
        "a": (Verdict.FIXED, machar, None),
        "b": (Verdict.STILL_FAILING, machar, complex_),
        "c": (Verdict.NEWLY_FAILING, None, complex_),
        "d": (Verdict.UNRELATED, machar, service),  # what it fails with now: a service
    }
    assert [(g["label"], g["tests"], g["before"]) for g in by_cause(all_stories)] == [
        (
            "unknown break: TypeError: '<' not supported",
            {"still failing": ["b"], "newly failing": ["c"]},
            {machar.label: ["b"]},
        ),
        (machar.label, {"fixed": ["a"]}, {}),
        (service.label, {"unrelated": ["d"]}, {machar.label: ["d"]}),
    ]
