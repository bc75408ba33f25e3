"""``recode-upgrade PATH``: move a project to new library versions on a copy, migrate it, and
show with the project's own tests what the upgrade broke and what the migration fixed.

Exit status as recode-migrate's: 0 the tests are green after the migration, 1 breaks remain,
2 usage or runtime error (a bad option, a resolver conflict, an environment that cannot be
made, tests that cannot run at all, an interrupted run).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from packaging.version import Version

from recode.dataset.knowledge import KnowledgeBase, load_knowledge_base
from recode.server import environment as env_mod
from recode.server.config import ConfigError, config_for_folder
from recode.server.detector import Detector
from recode.server.severity import LibraryVersion
from recode.server.upgrade import declare, evidence, outcome, plan, testrun, venvs
from recode.server.upgrade.causes import Cause, CauseKind, FoundAt, classify
from recode.server.upgrade.runner import Runner, run
from recode.server.upgrade.workspace import Workspace


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="recode-upgrade",
        description="Upgrade a project's libraries on a copy, migrate the code, and prove it "
        "with the project's own tests.",
    )
    p.add_argument("path", type=Path, metavar="PATH", help="the project's root folder")
    p.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="LIB[==VERSION]|latest",
        help="a library to move (no version: its latest release); 'latest': every library "
        "of the knowledge base the project uses (repeatable)",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="run the tests at the project's own versions too (its requirements, --from)",
    )
    p.add_argument(
        "--from",
        dest="from_",
        action="append",
        default=[],
        metavar="LIB==VERSION",
        help="a version of the baseline (implies --baseline; repeatable)",
    )
    p.add_argument("--test", default="pytest -q", help="the test command (default: %(default)s)")
    p.add_argument(
        "--test-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long one test run may take (default: %(default)s)",
    )
    p.add_argument(
        "--install-cmd",
        metavar="CMD",
        help="installs the project into the active environment, run in the copy (default: "
        "pip install --no-deps -e .)",
    )
    p.add_argument(
        "--with",
        dest="with_",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="another requirement of the test environments (a pytest plugin...; repeatable)",
    )
    p.add_argument(
        "--python",
        default=sys.executable,
        metavar="INTERPRETER",
        help="the Python the environments are made from (default: this one)",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="bring the migrated files back into PATH (default: only the copy is changed)",
    )
    p.add_argument(
        "--unsafe-fixes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make unsafe fixes too (those that may change behaviour in a corner case the "
        "finding names), as recode-migrate --unsafe-fixes; default: the project "
        "configuration's unsafe-fixes, else no",
    )
    p.add_argument("--rounds", type=int, default=3, help="migration rounds at most (default: 3)")
    p.add_argument(
        "--plan", action="store_true", help="print the plan only: no environment, no tests"
    )
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--kb", action="append", type=Path, default=[], metavar="PATH")
    p.add_argument("--model-url", metavar="URL", help="a ReCode model for the fixes left over")
    p.add_argument("--model", help="model name at --model-url")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: list[str] | None = None, runner: Runner = run) -> int:
    args = build_parser().parse_args(argv)
    say: Callable[[str], None] = (
        (lambda _: None)
        if args.quiet
        else (lambda msg: print(f"recode-upgrade: {msg}", file=sys.stderr, flush=True))
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a kill cleans up as Ctrl-C does
    try:
        return _run(args, runner, say)
    except (plan.PlanError, venvs.VenvError, env_mod.InterpreterError) as exc:
        print(f"recode-upgrade: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recode-upgrade: interrupted; the project is as it was", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _problem(args: argparse.Namespace) -> str | None:
    if not args.to:
        return "give at least one --to LIB[==VERSION], or --to latest"
    if not args.path.is_dir():
        return f"not a folder: {args.path}"
    if args.test_timeout <= 0:
        return "--test-timeout must be positive"
    if args.rounds < 1:
        return "--rounds must be 1 or more"
    if not args.test.strip():
        return "--test is empty"
    return None


def make_plan(args: argparse.Namespace, kb: KnowledgeBase, runner: Runner, say) -> plan.Plan:
    root = args.path.resolve()
    wanted = plan.parse_to(args.to)
    if plan.LATEST in wanted:
        wanted = dict.fromkeys(plan.used_libraries(root, kb))
        if not wanted:
            raise plan.PlanError("--to latest: the project uses no library the knowledge base has")
    say("looking up the latest releases" if None in wanted.values() else "resolving")
    latest = plan.latest_releases(args.python, [n for n, v in wanted.items() if v is None], runner)
    targets = {n: v or latest[n] for n, v in wanted.items()}
    runner_name = "pytest" if testrun.is_pytest(args.test.split()) else ""
    say(f"resolving the target set ({', '.join(f'{n}=={v}' for n, v in targets.items())})")
    target = plan.resolve(
        args.python, plan.requirements(root, targets, args.with_, runner_name), runner
    )
    baseline = None
    if args.baseline or args.from_:
        pins = plan.parse_to(args.from_)
        if plan.LATEST in pins or None in pins.values():
            raise plan.PlanError("--from takes LIB==VERSION")
        say("resolving the baseline set")
        baseline = plan.resolve(
            args.python,
            plan.requirements(root, {n: v for n, v in pins.items() if v}, args.with_, runner_name),
            runner,
        )
    result = plan.Plan(root, args.python, targets, target, baseline)
    if baseline is None:
        env = env_mod.load_environment(root)
        result.before = {n: str(v.version) for n, v in env.versions().items()}
    say("checking the code against the knowledge base at the target versions")
    result.findings = plan.findings_at(root, kb, target.versions)
    result.needed = declare.needed(root, kb, target.versions)
    return result


def _run(args: argparse.Namespace, runner: Runner, say: Callable[[str], None]) -> int:
    problem = _problem(args)
    if problem:
        print(f"recode-upgrade: {problem}", file=sys.stderr)
        return 2
    try:
        config = config_for_folder(args.path.resolve())
    except ConfigError as exc:
        print(f"recode-upgrade: {exc}", file=sys.stderr)
        return 2
    if args.unsafe_fixes is None:  # the flag, else the project's own choice, as recode-migrate
        args.unsafe_fixes = bool(config is not None and config.unsafe_fixes)
    kb = load_knowledge_base(args.kb or None)
    the_plan = make_plan(args, kb, runner, say)
    doc = _plan_doc(the_plan)
    doc["unsafe_fixes"] = args.unsafe_fixes
    if args.plan:
        print(outcome.render(doc, args.format))
        return 1 if the_plan.findings else 0
    engine = _model_engine(args) if args.model_url else None
    version = venvs.python_version(args.python, runner)
    target_venv = venvs.ensure(
        args.python, the_plan.target.key(), runner, version=version, progress=say
    )
    baseline_venv = (
        venvs.ensure(args.python, the_plan.baseline.key(), runner, version=version, progress=say)
        if the_plan.baseline is not None
        else None
    )
    moved = {c.name for c in the_plan.changes()} | set(the_plan.targets)
    upgraded = {n: v for n, v in the_plan.target.versions.items() if n in moved}
    with tempfile.TemporaryDirectory(prefix="recode-upgrade-") as tmp:
        with Workspace(the_plan.root, Path(tmp), runner, say) as ws:
            test = _tester(args, ws.copy, runner, say)
            baseline_run = test(baseline_venv, "baseline") if baseline_venv is not None else None
            before = test(target_venv, "target versions")
            if before.problem is not None and not before.results:
                doc["runs"] = {"target": outcome.run_dict(before)}
                print(outcome.render(doc, args.format))
                print(f"recode-upgrade: the tests cannot run: {before.problem}", file=sys.stderr)
                print(before.output[-2000:], file=sys.stderr)  # what the test command said
                return 2
            found = [FoundAt(path, f.start.line + 1, f.record) for path, f in the_plan.findings]
            causes = _causes(before, kb, upgraded, found)
            detector = Detector(
                kb,
                {
                    lib: LibraryVersion(Version(v), "target")
                    for lib, v in the_plan.target.versions.items()
                    if lib in plan.kb_libs(kb)
                },
            )
            after, rounds, latest = before, [], causes
            proofs: list[evidence.Proof] = []
            ruled_out: dict[tuple[str | None, int | None, str], str | None] = {}
            for n in range(1, args.rounds + 1):
                say(f"migration round {n}")
                # the sites the last run's tracebacks prove (a fixed break reveals the next)
                proven = evidence.gather(
                    after, latest, kb, ws.copy, ws.python_files(), baseline_run
                )
                evidence.check(proven, detector, ws.copy, args.unsafe_fixes)
                for p in proven:  # a site whose fix a test refuted in an earlier round
                    p.refused = ruled_out.get((p.path, p.line, p.record), p.refused)
                done = ws.migrate(
                    detector,
                    engine,
                    unsafe_fixes=args.unsafe_fixes,
                    evidence=evidence.by_file(proven),
                )
                if n == 1 and the_plan.needed:
                    target_venv = _declare(args, the_plan, ws, done, runner, version, say)
                evidence.settle(proven, n, done.changed, ws.copy, done.before)
                # a refusal the next round meets again is reported once
                told = {(p.test, p.path, p.line, p.refused) for p in proofs}
                proofs += [p for p in proven if (p.test, p.path, p.line, p.refused) not in told]
                rounds.append(done)
                if not done.changed:
                    break
                previous, after = after, test(target_venv, f"after round {n}")
                # a proven site's fix that breaks another test is taken back, and tested again
                wrong = evidence.refute(
                    proven, done.changed, previous, after, ws.copy, ws.python_files()
                )
                for rel in {p.path for p in wrong if p.path in done.before}:
                    ws.redo(
                        rel,
                        done.before[rel],
                        detector,
                        engine,
                        unsafe_fixes=args.unsafe_fixes,
                        evidence=evidence.by_file(proven).get(rel, ()),
                    )
                ruled_out.update({(p.path, p.line, p.record): p.refused for p in wrong})
                if wrong:
                    after = test(
                        target_venv, f"after round {n}, {len(wrong)} proven fix(es) undone"
                    )
                latest = _causes(after, kb, upgraded, found)
                if after.green:
                    break
            # each test's cause at the target versions, and the one it fails with now
            stories = outcome.stories(baseline_run, before, after, causes, latest)
            doc["runs"] = {
                "baseline": outcome.run_dict(baseline_run),
                "target": outcome.run_dict(before),
                "migrated": outcome.run_dict(after),
            }
            left = [p for r in rounds for p in r.problems]
            left += [
                f"{path}:{f.start.line + 1}: {f.record.id}: {f.message}"
                for path, f in plan.findings_at(ws.copy, kb, the_plan.target.versions)
            ]
            not_written: list[str] = []
            if args.write:
                not_written = ws.write_back(say)
                left += not_written
            doc.update(
                changes=_changes(the_plan),  # with what a declared requirement brought
                results=[
                    {
                        "id": s.id,
                        "baseline": s.baseline.value if s.baseline else None,
                        "target": s.before.value if s.before else None,
                        "migrated": s.after.value if s.after else None,
                        "verdict": s.verdict.value,
                        "broken_by_upgrade": s.broken_by_upgrade,
                        "cause": s.cause.to_dict() if s.cause else None,  # at the target
                        "now": s.now.to_dict() if s.now else None,  # after the migration
                    }
                    for s in stories
                ],
                summary=outcome.summary(stories),
                counted=before.counted,  # False: the summary has one verdict, not tests
                broken_by_upgrade=sum(s.broken_by_upgrade for s in stories),
                causes=outcome.by_cause(stories),
                unknown_breaks=_unknown([*causes.values(), *latest.values()]),
                rounds=[{"fixed": r.fixed, "changed": r.changed} for r in rounds],
                from_tests=[p.to_dict() for p in proofs],
                diff=ws.diff(),
                left=left,
                written=args.write and not not_written,
            )
            print(outcome.render(doc, args.format))
            return outcome.exit_status(stories, after)


def _declare(
    args: argparse.Namespace,
    the_plan: plan.Plan,
    ws: Workspace,
    done,
    runner: Runner,
    version: str,
    say: Callable[[str], None],
) -> Path:
    """Declare in the copy the dependencies its libraries stopped installing, and return the
    environment the copy now resolves to (the target set with them; cached as any other)."""
    declared = declare.declare(ws.copy, the_plan.needed)
    done.problems += declared.left
    done.changed += ws.edit(declared.edits)
    runner_name = "pytest" if testrun.is_pytest(args.test.split()) else ""
    if declared.edits:
        say(f"declared {', '.join(n.requirement for n in the_plan.needed)}; resolving again")
        the_plan.target = plan.resolve(
            args.python,
            plan.requirements(ws.copy, the_plan.targets, args.with_, runner_name),
            runner,
        )
    return venvs.ensure(args.python, the_plan.target.key(), runner, version=version, progress=say)


def _tester(args: argparse.Namespace, copy: Path, runner: Runner, say: Callable[[str], None]):
    def test(venv: Path, label: str) -> testrun.TestRun:
        with venvs.in_use(venv, say):  # the install and the run see this copy alone
            venvs.install_project(venv, copy, runner, args.install_cmd)
            say(f"running the tests ({label})")
            result = testrun.run_tests(venv, copy, args.test, runner, timeout=args.test_timeout)
        say(f"  {outcome.run_line(outcome.run_dict(result))}")  # type: ignore[arg-type]
        return result

    return test


def _causes(
    tests: testrun.TestRun,
    kb: KnowledgeBase,
    upgraded: dict[str, str],
    found: list[FoundAt],
) -> dict[str, Cause]:
    return {
        test_id: classify(r.message, r.text, kb, upgraded, collection=r.collection, findings=found)
        for test_id, r in tests.failing().items()
    }


def _unknown(causes) -> list[dict]:
    seen: dict[str, dict] = {}
    for c in causes:
        if c.kind is CauseKind.UNKNOWN and c.candidate is not None:
            seen.setdefault(c.candidate["symbol"], c.candidate)
    return list(seen.values())


def _plan_doc(p: plan.Plan) -> dict:
    return {
        "project": str(p.root),
        "python": p.python,
        "targets": p.targets,
        "changes": _changes(p),
        "findings": [
            {
                "path": path,
                "line": f.start.line + 1,
                "record": f.record.id,
                "message": f.message,
                "fixable": f.fixable,
                # "unsafe": made only with --unsafe-fixes (the record names the corner case)
                "fix": None if not f.fixable else ("safe" if f.applies(False) else "unsafe"),
            }
            for path, f in p.findings
        ],
        "requirements": [n.to_dict() for n in p.needed],
        "runs": {},
        "counted": True,
        "summary": {},
        "causes": [],
        "unknown_breaks": [],
        "from_tests": [],
        "left": [],
        "diff": "",
    }


def _changes(p: plan.Plan) -> list[dict]:
    return [{"name": c.name, "before": c.before, "after": c.after} for c in p.changes()]


def _model_engine(args: argparse.Namespace):
    """recode-migrate's engine for --model-url, made with its defaults."""
    from recode.server import cli as migrate_cli

    options = migrate_cli.build_parser().parse_args(["--write"])
    options.model_url, options.model = args.model_url, args.model
    engine, code = migrate_cli._model_engine(options)
    if code is not None:
        raise plan.PlanError("the model endpoint is not available")
    return engine


if __name__ == "__main__":
    sys.exit(main())
