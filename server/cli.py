"""``recode-migrate``: report, diff or fix outdated library calls in a project.

Exit status: 0 nothing outdated, 1 outdated calls remain, 2 usage or runtime error (a bad
option, nothing scanned, a file --write could not write, a model that failed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from recode.dataset.knowledge import (
    IMPORT_NAMES,
    KnowledgeBase,
    canonical_name,
    load_knowledge_base,
)
from recode.server import config as config_mod
from recode.server import environment as env_mod
from recode.server import report
from recode.server.detector import Detector, parse_target
from recode.server.files import DEFAULT_MAX_BYTES, iter_python_files
from recode.server.migrate import process_file
from recode.server.parallel import map_in_processes
from recode.server.severity import SEVERITIES, LibraryVersion
from recode.server.suppression import Suppressor

if TYPE_CHECKING:
    from recode.server.model import MigrationEngine


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="recode-migrate",
        description="Find calls to library APIs that are removed, renamed or changed in the "
        "versions your code runs against, and migrate them.",
    )
    p.add_argument("paths", nargs="*", type=Path, default=[Path(".")], metavar="PATH")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        dest="mode",
        action="store_const",
        const="check",
        help="report only (the default)",
    )
    mode.add_argument(
        "--diff",
        dest="mode",
        action="store_const",
        const="diff",
        help="print the mechanical fixes as a unified diff; change nothing",
    )
    mode.add_argument(
        "--write",
        dest="mode",
        action="store_const",
        const="write",
        help="apply the mechanical fixes in place",
    )
    p.add_argument(
        "--unsafe-fixes",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="make unsafe fixes too (those that may change behaviour in a corner case the "
        "finding names), with --diff and --write; --no-unsafe-fixes overrides the "
        "configuration's unsafe-fixes = true",
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="interpreter (or venv folder) whose installed libraries to check against",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="LIB==VERSION",
        help="check against this version instead (what would an upgrade break?)",
    )
    p.add_argument(
        "--libraries",
        metavar="LIB[,LIB...]",
        help="only check these libraries (distribution names)",
    )
    p.add_argument(
        "--min-severity",
        choices=SEVERITIES,
        default="warning",
        help="hide findings below this severity (default: warning)",
    )
    p.add_argument(
        "--name-only-methods",
        action="store_true",
        help="also flag methods matched by name alone when the object's class is not "
        "evident (lower confidence)",
    )
    p.add_argument(
        "--kb",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="use this knowledge base (JSONL file or folder; repeatable) instead of the "
        "shipped one",
    )
    model = p.add_argument_group(
        "model-backed migration",
        "findings without a mechanical fix go to a ReCode model (with --diff or --write); its "
        "answers are applied only when they parse, no longer use the outdated API and keep the "
        "old code's names",
    )
    model.add_argument(
        "--model-url",
        metavar="URL",
        help="OpenAI-compatible endpoint of a ReCode model, e.g. http://127.0.0.1:8000/v1 "
        "(what recode-serve or vllm serve starts)",
    )
    model.add_argument("--model", help="model name at --model-url (default: its first model)")
    model.add_argument(
        "--model-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long one model request may take (default: %(default)s)",
    )
    model.add_argument(
        "--model-retries",
        type=int,
        default=2,
        metavar="N",
        help="retries of a refused connection or a busy server (default: %(default)s)",
    )
    model.add_argument(
        "--model-samples",
        type=int,
        default=4,
        metavar="N",
        help="answers asked per piece of code; the best valid one wins (default: %(default)s)",
    )
    model.add_argument(
        "--model-max-tokens",
        type=int,
        default=1024,
        metavar="N",
        help="length limit of one answer in tokens (default: %(default)s)",
    )
    model.add_argument(
        "--model-temperature",
        type=float,
        default=0.7,
        metavar="T",
        help="sampling temperature (default: %(default)s)",
    )
    model.add_argument(
        "--offline",
        action="store_true",
        help="read release notes for the model's prompt from the cache only (default: fetch "
        "and cache them; RECODE_CACHE_DIR sets the cache)",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=0,
        help="processes that scan files: this one and N - 1 forked workers (default: 0, the "
        "number of CPUs)",
    )
    p.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    p.add_argument(
        "--force-exclude",
        action="store_true",
        help="leave out files that git ignores even when named on the command line (as ruff's"
        " --force-exclude; for pre-commit hooks and editors that pass every changed file)",
    )
    p.add_argument(
        "--max-file-size",
        type=int,
        default=DEFAULT_MAX_BYTES,
        metavar="BYTES",
        help="skip files larger than this, a positive number (default: %(default)s)",
    )
    config_mod.add_arguments(p, mode)
    p.set_defaults(mode="check")
    return p


_worker: dict = {}


def _init_worker(
    detector: Detector,
    mode: str,
    roots: dict[str, str],
    max_bytes: int,
    engine: MigrationEngine | None = None,
    suppressors: Callable[[Path], Suppressor] | None = None,
    unsafe_fixes: bool = False,
) -> None:
    _worker.update(
        detector=detector,
        mode=mode,
        roots=roots,
        max_bytes=max_bytes,
        engine=engine,
        suppressors=suppressors,
        unsafe_fixes=unsafe_fixes,
    )


def _work(path_and_display: tuple[Path, str]) -> report.FileResult:
    path, display = path_and_display
    try:
        result = process_file(
            path,
            _worker["detector"],
            _worker["mode"],
            unversioned_roots=_worker["roots"],
            max_bytes=_worker["max_bytes"],
            display=display,
            model=_worker.get("engine"),
            suppressor=_suppressor(path),
            unsafe_fixes=_worker.get("unsafe_fixes", False),
        )
    except Exception as exc:  # one broken file must not end the run
        return report.FileResult(display, skipped=f"internal error while scanning: {exc!r}")
    return report.locate(result)  # here, in the worker: the source stays in this process


def _suppressor(path: Path) -> Suppressor | None:
    """The file's per-file ignores (None: comments alone decide)."""
    factory = _worker.get("suppressors")
    return factory(path.resolve()) if factory is not None else None


#: Files go to the processes in chunks of about 1/32 of a process's share, largest files first:
#: the work left when the first process runs dry is then a few small files, not one long chunk
#: (a chunk of 1/8 of a share, in the walk's order, left one of two cores idle for 0.25 s of a
#: 1.6 s run on 3,720 files).
CHUNKS_PER_JOB = 32


def _dispatch_order(paths: list[tuple[Path, str]]) -> list[int]:
    """Indices of ``paths``, largest file first (a file that cannot be sized goes last)."""
    sizes = []
    for p, _ in paths:
        try:
            sizes.append(os.stat(p).st_size)
        except OSError:
            sizes.append(-1)
    return sorted(range(len(paths)), key=sizes.__getitem__, reverse=True)


class Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self._last = 0.0

    def step(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} files"
        )
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv, namespace=config_mod.unset_namespace())
    try:
        options = config_mod.apply(parser, args)
    except config_mod.ConfigError as exc:
        print(f"recode-migrate: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args, options)
    except env_mod.InterpreterError as exc:
        print(f"recode-migrate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 2


def _run(args: argparse.Namespace, options: config_mod.RunOptions) -> int:
    problem = _check_options(args)
    if problem:
        print(f"recode-migrate: {problem}", file=sys.stderr)
        return 2
    engine = None
    if args.model_url or args.model:
        engine, code = _model_engine(args)
        if code is not None:
            return code
    missing: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    # checks every path exists, too
    walked = list(
        iter_python_files(
            args.paths,
            missing,
            options.exclusion,
            force_exclude=args.force_exclude,
            unreadable=unreadable,
        )
    )
    if missing:
        print(f"recode-migrate: no such file or folder: {missing[0]}", file=sys.stderr)
        return 2
    try:
        targets = dict(parse_target(t) for t in args.target)
    except ValueError as exc:
        print(f"recode-migrate: --target: {exc}", file=sys.stderr)
        return 2
    libraries = (
        [x.strip() for x in args.libraries.split(",") if x.strip()] if args.libraries else None
    )
    kb = load_knowledge_base(args.kb or None, libraries)
    for kb_problem in kb.problems:
        print(f"recode-migrate: knowledge base: {kb_problem} (record skipped)", file=sys.stderr)
    problem = _check_libraries(args, kb, libraries, targets)
    if problem:
        print(f"recode-migrate: {problem}", file=sys.stderr)
        return 2
    for selector in options.selection.unmatched(kb):
        print(f"recode-migrate: warning: {selector!r} names no checked record", file=sys.stderr)
    kb = options.selection.restrict(kb)

    environment = env_mod.load_environment(
        args.paths[0], python=args.python, targets={k: v.version for k, v in targets.items()}
    )
    versions = environment.versions(kb.libraries())
    detector = Detector(
        kb, versions, min_severity=args.min_severity, name_only_methods=args.name_only_methods
    )
    unversioned = {
        root: lib
        for lib in kb.libraries()
        if lib not in versions
        for root in IMPORT_NAMES.get(lib, (lib,))
    }
    cwd = Path.cwd().resolve()
    prefix = _folder_prefix(cwd)
    paths = [(p, _display(p, resolved, prefix)) for p, resolved in walked]
    jobs = args.jobs or os.cpu_count() or 1
    progress = Progress(
        len(paths), enabled=not args.no_progress and sys.stderr.isatty() and len(paths) >= 20
    )
    _init_worker(  # forks inherit it
        detector,
        args.mode,
        unversioned,
        args.max_file_size,
        engine,
        options.suppressor_factory(),
        options.unsafe_fixes,
    )
    if len(paths) < 8:
        jobs = 1  # not worth a fork
    results = map_in_processes(
        _work,
        paths,
        jobs,
        order=_dispatch_order(paths) if jobs > 1 else None,
        chunksize=max(1, len(paths) // (jobs * CHUNKS_PER_JOB)),
        step=progress.step,
    )
    results += _unreadable_results(unreadable, prefix)
    run = report.Run(results, versions, args.mode)
    model_failed = _model_failure(results)
    errors = run.errors()
    status = 2 if errors or model_failed else 1 if run.findings else 0
    try:
        _print_report(args, run, results, engine, cwd, status)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
    except BrokenPipeError:
        _drop_stdout()
    if engine is not None:
        for note in _model_notes(results):
            print(f"recode-migrate: note: {note}", file=sys.stderr)
        if model_failed:
            print(f"recode-migrate: the model failed: {model_failed}", file=sys.stderr)
    for error in errors:
        print(f"recode-migrate: {error}", file=sys.stderr)
    if not results:
        print("recode-migrate: note: no Python files under the paths given", file=sys.stderr)
    return status


def _check_options(args: argparse.Namespace) -> str | None:
    """What is wrong with the options' values (checked before anything is read), or None."""
    if args.max_file_size <= 0:
        return f"--max-file-size must be a positive number of bytes, got {args.max_file_size}"
    if args.jobs < 0:
        return f"--jobs must be 0 (one per CPU) or more, got {args.jobs}"
    return None


def _check_libraries(
    args: argparse.Namespace,
    kb: KnowledgeBase,
    libraries: list[str] | None,
    targets: dict[str, LibraryVersion],
) -> str | None:
    """A --libraries name or a --target the knowledge base has no records for, or None.

    The knowledge base was loaded for --libraries only, so every library is loaded (for the
    message) only when a name is unknown."""
    have = set(kb.libraries())
    unknown = [x for x in libraries or () if canonical_name(x) not in have]
    if unknown:
        known = load_knowledge_base(args.kb or None).libraries()
        hints = [
            f"{x} is an import name: its distribution is {dist}"
            for x in unknown
            for dist, roots in IMPORT_NAMES.items()
            if x in roots and x != dist and dist in known
        ]
        return (
            f"--libraries: no records for {', '.join(unknown)} (known: {', '.join(known)})"
            + "".join(f"; {h}" for h in hints)
        )
    for name in targets:
        if name not in have:
            if libraries:
                return f"--target {name}: {name} is not among --libraries"
            return (
                f"--target {name}: the knowledge base has no records for {name} "
                f"(known: {', '.join(sorted(have))})"
            )
    return None


def _unreadable_results(
    unreadable: list[tuple[Path, str]], cwd_prefix: str
) -> list[report.FileResult]:
    """Folders the walk could not list, reported as skipped (their files were not scanned)."""
    return [
        report.FileResult(
            _display(folder, folder.resolve(), cwd_prefix),
            skipped=f"folder not scanned: cannot list it: {reason}",
        )
        for folder, reason in unreadable
    ]


def _print_report(
    args: argparse.Namespace,
    run: report.Run,
    results: list[report.FileResult],
    engine: MigrationEngine | None,
    cwd: Path,
    status: int,
) -> None:
    if args.format == "json":
        if engine is not None:
            doc = json.loads(report.render_json(run))
            doc["model"] = _model_json(engine, results)
            print(json.dumps(doc, indent=2))
        else:
            print(report.render_json(run))
    elif args.format == "sarif":
        print(report.render_sarif(run, cwd, status))
    else:
        if hasattr(sys.stdout, "reconfigure"):  # a diff holds each file's bytes as they are
            sys.stdout.reconfigure(errors="surrogateescape")
        print(report.render_text(run))
        if engine is not None:
            for line in _model_lines(results):
                print(line)


def _drop_stdout() -> None:
    """Whoever read stdout has gone (``recode-migrate | head``): what is left of the report goes
    nowhere, quietly. stdout now points at /dev/null, so the interpreter's last flush of what is
    still buffered cannot fail again with a traceback at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _model_engine(args: argparse.Namespace) -> tuple[MigrationEngine | None, int | None]:
    """The engine for --model-url, checked to answer; (None, exit status) on a problem.

    The endpoint is checked in every mode (a model asked for but not available is an error),
    but only --diff and --write use it.
    """
    from recode.dataset.release_notes import ReleaseNotesFetcher
    from recode.server.model import BackendError, EngineConfig, MigrationEngine, OpenAIBackend

    if not args.model_url:
        print("recode-migrate: --model needs --model-url", file=sys.stderr)
        return None, 2
    for name in ("model_timeout", "model_samples", "model_max_tokens"):
        if getattr(args, name) <= 0:
            print(f"recode-migrate: --{name.replace('_', '-')} must be positive", file=sys.stderr)
            return None, 2
    try:
        backend = OpenAIBackend(
            args.model_url,
            args.model,
            timeout=args.model_timeout,
            retries=args.model_retries,
        )
    except ValueError as exc:
        print(f"recode-migrate: --model-url: {exc}", file=sys.stderr)
        return None, 2
    try:
        backend.resolve_model(timeout=max(args.model_timeout, 10.0))
    except BackendError as exc:
        print(f"recode-migrate: the model endpoint is not available: {exc}", file=sys.stderr)
        return None, 2
    if args.mode == "check":
        print(
            "recode-migrate: note: the model is used only with --diff or --write; this run "
            "only reports",
            file=sys.stderr,
        )
        return None, None
    config = EngineConfig(
        samples=args.model_samples,
        max_tokens=args.model_max_tokens,
        temperature=args.model_temperature,
    )
    notes = ReleaseNotesFetcher(offline=args.offline)
    return MigrationEngine(backend, config=config, notes=notes), None


def _model_failure(results: list[report.FileResult]) -> str | None:
    for r in results:
        error = getattr(r, "model_error", None)
        if error:
            return error
    return None


def _model_lines(results: list[report.FileResult]) -> list[str]:
    lines = []
    for r in results:
        for m in getattr(r, "model", []):
            lines.append(f"{r.path}: model: {m['summary']}")
    return lines


def _model_notes(results: list[report.FileResult]) -> list[str]:
    notes: dict[str, None] = {}
    for r in results:
        for m in getattr(r, "model", []):
            notes.update(dict.fromkeys(m.get("notes", [])))
    return list(notes)


def _model_json(engine: MigrationEngine, results: list[report.FileResult]) -> dict:
    backend = engine.backend
    migrations = [{"path": r.path, **m} for r in results for m in getattr(r, "model", [])]
    return {
        "url": getattr(backend, "base_url", None),
        "model": getattr(backend, "model", None),
        "migrations": migrations,
        "accepted": sum(1 for m in migrations if m["status"] == "accepted"),
        "rejected": sum(1 for m in migrations if m["status"] == "rejected"),
        "errors": sum(1 for m in migrations if m["status"] == "error"),
        "notes": _model_notes(results),
        "error": _model_failure(results),
    }


def _folder_prefix(folder: Path) -> str:
    """``folder`` (resolved) as the prefix that the resolved paths inside it start with."""
    text = str(folder)
    return text if text.endswith(os.sep) else text + os.sep


def _display(path: Path, resolved: Path, cwd_prefix: str) -> str:
    """The file's path relative to the working folder (both resolved), else as it was given.

    ``cwd_prefix`` comes from :func:`_folder_prefix`. Both paths are normal and resolved, so
    this is ``resolved.relative_to(cwd)`` done on the text: a string test instead of pathlib's
    comparison of parts, which cost 4 us a file.
    """
    text = str(resolved)
    return text[len(cwd_prefix) :] if text.startswith(cwd_prefix) else str(path)


if __name__ == "__main__":
    sys.exit(main())
