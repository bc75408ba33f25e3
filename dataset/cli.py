"""``recode-dataset``: release notes, API diffs, example building and the datasheet.

::

    recode-dataset notes LIB [--from V] [--to V] [--version V ...] [--file PATH] [--offline]
    recode-dataset diff LIB OLD NEW [--check] [--candidates OUT.jsonl] [--no-notes] [--json]
                        [--introspect [--no-install]]
    recode-dataset build [--corpus-file F] [--corpus REQ ...] [--corpus-dir DIR ...]
                         [--kb DIR] [--no-kb-examples] [--teacher-url URL --teacher-model NAME]
                         [--per-record-cap N] [--library-cap LIB=N ...]
                         [--run] [--run-per-library N] [--library-run-limit LIB=N ...]
                         [--reuse-runs DIR] [--env LIB==VER=PYTHON ...]
                         [--out DIR]
    recode-dataset stats [--examples DIR]
    recode-dataset mark [--examples DIR] [--kb DIR]
    recode-dataset verify LIB [--record ID ...] [--format text|json] [--no-install]
                          [--python PYTHON ...]

Exit status: 0 done; 1 ``diff --check`` found changes the knowledge base misses, or ``verify``
found a record the releases disagree with; 2 usage or runtime error.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recode.dataset.build import BuildTools

DEFAULT_OUT = Path(__file__).resolve().parent / "examples"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="recode-dataset", description=__doc__.split("\n")[0])
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="cache folder (default: $RECODE_CACHE_DIR or ~/.cache/recode)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    n = sub.add_parser("notes", help="split a library's release notes into change entries")
    n.add_argument("library")
    n.add_argument("--from", dest="since", help="versions after this one")
    n.add_argument("--to", dest="until", help="up to and including this version")
    n.add_argument("--version", action="append", default=[], help="exactly these versions")
    n.add_argument("--file", type=Path, help="split this file instead of fetched notes")
    n.add_argument("--offline", action="store_true", help="use only the cache")
    n.add_argument(
        "--category",
        action="append",
        default=[],
        help="deprecation, removal, expired, compatibility, change (default: all)",
    )
    n.add_argument("--json", action="store_true", help="JSON lines instead of text")

    d = sub.add_parser(
        "diff",
        help="breaking changes between two releases (griffe; --introspect: the installed releases)",
    )
    d.add_argument("library")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument(
        "--check",
        action="store_true",
        help="list only what the shipped knowledge base does not cover",
    )
    d.add_argument("--candidates", type=Path, help="write candidate KB records (JSONL) here")
    d.add_argument("--no-notes", action="store_true", help="do not join release notes")
    d.add_argument("--offline", action="store_true", help="release notes from the cache only")
    d.add_argument("--json", action="store_true")
    d.add_argument(
        "--introspect",
        action="store_true",
        help="install both releases (verify's cached venvs) and compare what they "
        "expose at run time instead of their source",
    )
    d.add_argument(
        "--no-install", action="store_true", help="with --introspect: use only venvs already cached"
    )

    b = sub.add_parser("build", help="build and check ReCode examples")
    b.add_argument("--corpus-file", type=Path, help="requirements to mine, one a line")
    b.add_argument("--corpus", action="append", default=[], help="a requirement to mine")
    b.add_argument(
        "--corpus-dir", action="append", default=[], type=Path, help="a local folder to mine"
    )
    b.add_argument("--no-kb-examples", action="store_true")
    b.add_argument("--libraries", nargs="*", help="only these libraries' records")
    b.add_argument(
        "--kb",
        type=Path,
        action="append",
        default=[],
        help="knowledge-base folder or file (default: the shipped one), e.g. a "
        "committed snapshot taken with git archive",
    )
    b.add_argument("--teacher-url", help="OpenAI-compatible base URL of a teacher model")
    b.add_argument("--teacher-model", default="teacher")
    b.add_argument("--per-record-cap", type=int, default=40, help="most examples kept per update")
    b.add_argument(
        "--library-cap",
        action="append",
        default=[],
        metavar="LIB=N",
        help="another per-update cap for LIB's updates",
    )
    b.add_argument("--max-lines", type=int, default=30, help="largest snippet, in lines")
    b.add_argument(
        "--run",
        action="store_true",
        help="also run old/new code under the two releases (venvs in the cache)",
    )
    b.add_argument("--run-per-library", type=int, default=1000, help="most rows run per library")
    b.add_argument(
        "--library-run-limit",
        action="append",
        default=[],
        metavar="LIB=N",
        help="another --run-per-library for LIB",
    )
    b.add_argument("--run-timeout", type=float, default=60.0)
    b.add_argument(
        "--reuse-runs",
        type=Path,
        metavar="DIR",
        help="an earlier build's folder: rows with the same record and code whose "
        "run passed under the same releases take that result instead of running",
    )
    b.add_argument(
        "--env",
        action="append",
        default=[],
        help="LIB==VERSION=PYTHON: an existing interpreter for that release",
    )
    b.add_argument(
        "--no-create-envs",
        action="store_true",
        help="run only under --env interpreters and venvs already cached",
    )
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    b.add_argument("--verbose", action="store_true")

    s = sub.add_parser("stats", help="counts and the datasheet of a built set")
    s.add_argument("--examples", type=Path, default=DEFAULT_OUT)

    m = sub.add_parser(
        "mark",
        help="mark the examples an exact (mechanical) fix produces, "
        "with today's fixes, and rewrite the datasheet",
    )
    m.add_argument("--examples", type=Path, default=DEFAULT_OUT)
    m.add_argument(
        "--kb",
        type=Path,
        action="append",
        default=[],
        help="knowledge-base folder or file (default: the shipped one)",
    )

    v = sub.add_parser(
        "verify",
        help="check records against the releases before and at their "
        "version, installed in cached venvs",
    )
    v.add_argument("library")
    v.add_argument(
        "--record", action="append", default=[], metavar="ID", help="only this record (repeatable)"
    )
    v.add_argument(
        "--kb",
        type=Path,
        action="append",
        default=[],
        help="knowledge-base folder or file (default: the shipped one)",
    )
    v.add_argument("--format", choices=("text", "json"), default="text")
    v.add_argument(
        "--no-install",
        action="store_true",
        help="use only venvs already cached; other releases cannot be checked",
    )
    v.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PYTHON",
        help="another interpreter for releases without a wheel for this one (an old "
        "release: e.g. python3.8); tried in the order given",
    )
    v.add_argument(
        "--timeout", type=float, default=300.0, help="seconds for the probe of one release"
    )
    v.add_argument("--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None, *, tools: BuildTools | None = None) -> int:
    """``tools``: what ``build`` runs (the detector, fixes and sandbox live in the layers above
    this one; the ``recode-dataset`` command, :mod:`recode.training.dataset_tools`, hands them
    in)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "notes":
            return _notes(args)
        if args.command == "diff":
            if args.introspect and tools is None:
                raise RuntimeError(
                    "diff --introspect runs the releases in the sandbox: run "
                    "it as recode-dataset (recode.training.dataset_tools)"
                )
            return _diff(args, tools)
        if args.command == "build":
            if tools is None:
                raise RuntimeError(
                    "build needs the detector and the sandbox: run it as "
                    "recode-dataset (recode.training.dataset_tools)"
                )
            return _build(args, argv if argv is not None else sys.argv[1:], tools)
        if args.command == "stats":
            return _stats(args)
        if args.command == "mark":
            if tools is None:
                raise RuntimeError(
                    "mark needs the detector and the fixes: run it as "
                    "recode-dataset (recode.training.dataset_tools)"
                )
            return _mark(args, tools)
        if args.command == "verify":
            if tools is None:
                raise RuntimeError(
                    "verify runs probes in the sandbox: run it as "
                    "recode-dataset (recode.training.dataset_tools)"
                )
            return _verify(args, tools)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"recode-dataset: {exc}", file=sys.stderr)
        return 2
    return 2


# -- notes ---------------------------------------------------------------------------------------


def _notes(args: argparse.Namespace) -> int:
    from recode.dataset.notes import (
        CATEGORIES,
        entries_for_versions,
        known_versions,
        select_versions,
        split_notes,
    )
    from recode.dataset.release_notes import ReleaseNotesFetcher, version_section

    cats = args.category or list(CATEGORIES)
    if args.file:
        text = args.file.read_text("utf-8")
        entries = []
        versions = args.version or [None]
        for v in versions:
            part = version_section(text, v) if v else text
            if part:
                entries += split_notes(part, args.library, v or "", str(args.file), categories=cats)
        _print_entries(entries, args.json)
        return 0
    fetcher = ReleaseNotesFetcher(cache_dir=args.cache_dir, offline=args.offline)
    versions = args.version or select_versions(
        known_versions(args.library, offline=args.offline, cache_dir=fetcher.cache_dir),
        args.since,
        args.until,
    )
    if not versions:
        print(
            "recode-dataset: no versions to read (give --version, or --from/--to)", file=sys.stderr
        )
        return 2
    entries, lookups = entries_for_versions(args.library, versions, fetcher, categories=cats)
    for lk in lookups:
        if lk.notes is None and lk.message:
            print(f"# {lk.message}", file=sys.stderr)
    _print_entries(entries, args.json)
    return 0


def _print_entries(entries: list[Any], as_json: bool) -> None:
    for e in entries:
        if as_json:
            print(json.dumps(e.to_dict(), ensure_ascii=False))
        else:
            first = " ".join(e.text.split())
            print(f"{e.library} {e.version} [{e.category}] {first[:160]}")
            if e.symbols:
                print(f"    names: {', '.join(e.symbols[:8])}")


# -- diff ----------------------------------------------------------------------------------------


def _diff(args: argparse.Namespace, tools: BuildTools | None = None) -> int:
    from recode.dataset.apidiff import (
        candidate_records,
        diff_versions,
        join_notes,
        missing_from_kb,
    )
    from recode.dataset.knowledge import load_knowledge_base
    from recode.dataset.notes import entries_for_versions, known_versions, select_versions
    from recode.dataset.release_notes import ReleaseNotesFetcher

    if args.introspect and tools is not None:
        changes = _introspected(args, tools)
    else:
        changes = diff_versions(args.library, args.old, args.new, args.cache_dir)
    if not args.no_notes:
        fetcher = ReleaseNotesFetcher(cache_dir=args.cache_dir, offline=args.offline)
        versions = select_versions(
            known_versions(args.library, offline=args.offline, cache_dir=fetcher.cache_dir),
            args.old,
            args.new,
        ) or [args.new]
        entries, _ = entries_for_versions(args.library, versions, fetcher)
        join_notes(changes, entries)
    shown = changes
    if args.check:
        shown = missing_from_kb(changes, load_knowledge_base(), args.library)
    if args.candidates:
        args.candidates.parent.mkdir(parents=True, exist_ok=True)
        with open(args.candidates, "w", encoding="utf-8") as fh:
            for rec in candidate_records(shown, args.library, args.new):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    for c in shown:
        if args.json:
            print(json.dumps(c.to_dict(), ensure_ascii=False))
            continue
        extra = f" -> {c.replacement}" if c.replacement else ""
        note = f"  [note: {' '.join(c.notes[0].text.split())[:100]}]" if c.notes else ""
        print(f"{c.kind:26} {c.symbol}{extra}  ({c.location}){note}")
    print(
        f"# {len(changes)} breaking changes; {len(shown)} shown"
        + (" (not in the knowledge base)" if args.check else ""),
        file=sys.stderr,
    )
    return 1 if args.check and shown else 0


def _introspected(args: argparse.Namespace, tools: BuildTools) -> list[Any]:
    from recode.dataset.apiscan import introspect_versions
    from recode.dataset.knowledge import IMPORT_NAMES, canonical_name
    from recode.dataset.verify import Interpreter, venv_provider

    library = canonical_name(args.library)
    here = "{}.{}".format(*sys.version_info[:2])
    provider = venv_provider(
        args.cache_dir,
        install=not args.no_install,
        interpreters=[Interpreter(sys.executable, here)],
    )
    found = introspect_versions(
        library,
        args.old,
        args.new,
        provider,
        tools.run,
        packages=IMPORT_NAMES.get(library, (library,)),
    )
    for version, snapshot in ((args.old, found.old), (args.new, found.new)):
        for module, error in sorted(snapshot.failed.items()):
            print(
                f"# {library} {version}: skipped {module} (import failed: {error})", file=sys.stderr
            )
    return found.changes


# -- build ---------------------------------------------------------------------------------------


def _corpus(args: argparse.Namespace) -> list[tuple[str, str | None, bool]]:
    """(requirement, later requirement or None, sdist) per corpus line: ``REQ``,
    ``REQ sdist`` or ``REQ -> LATER [sdist]`` (mine REQ; look for each usage's function in
    LATER, where the maintainers may have migrated it)."""
    specs: list[tuple[str, str | None, bool]] = []
    if args.corpus_file:
        for line in args.corpus_file.read_text("utf-8").splitlines():
            words = line.split("#")[0].split()
            if not words:
                continue
            later = words[2] if len(words) > 2 and words[1] == "->" else None
            specs.append((words[0], later, "sdist" in words[1:]))
    specs += [(s, None, False) for s in args.corpus]
    return specs


def _lib_numbers(items: list[str], option: str) -> dict[str, int]:
    """``LIB=N`` options as {LIB: N}."""
    out: dict[str, int] = {}
    for item in items:
        lib, sep, n = item.partition("=")
        if not sep or not lib or not n.isdigit():
            raise ValueError(f"{option} wants LIB=N, got {item!r}")
        out[lib] = int(n)
    return out


def _build(args: argparse.Namespace, argv: list[str], tools: BuildTools) -> int:
    from recode.dataset import build as b
    from recode.dataset.apidiff import download, unpack
    from recode.dataset.knowledge import load_knowledge_base
    from recode.dataset.notes import known_versions
    from recode.dataset.stats import datasheet

    kb = load_knowledge_base(args.kb or None)
    if args.libraries:
        kb = kb.restricted(args.libraries)
    detector = tools.detector(kb)
    report = b.BuildReport()
    teacher = None
    if args.teacher_url:
        if tools.chat is None:
            raise RuntimeError("these tools have no chat client for a teacher")
        teacher = b.Teacher(tools.chat(args.teacher_url, args.teacher_model), args.teacher_model)

    def _fetch(spec: str, sdist: bool) -> Path:
        name, _, version = spec.partition("==")
        root = unpack(download(name, version, args.cache_dir, sdist=sdist), args.cache_dir)
        return root.parent if root.name == "src" else root

    def candidates() -> Any:
        if not args.no_kb_examples:
            yield from b.kb_candidates(kb)
        for spec, later, sdist in _corpus(args):
            try:
                root = _fetch(spec, sdist)
                later_root = _fetch(later, sdist) if later else None
            except (RuntimeError, OSError) as exc:
                print(f"# skipped {spec}: {exc}", file=sys.stderr)
                report.rejected[f"corpus unavailable: {spec}"] += 1
                continue
            prov = {"origin": "mined", "distribution": spec + (" (sdist)" if sdist else "")}
            if later:
                prov["later"] = later
            mined = b.mine_tree(root, detector, prov, max_lines=args.max_lines)
            if later_root is None:
                for cand in mined:
                    yield cand, None
            else:
                yield from b.successors(mined, root, later_root)
        for folder in args.corpus_dir:
            prov = {"origin": "mined", "folder": folder.name}
            for cand in b.mine_tree(folder, detector, prov, max_lines=args.max_lines):
                yield cand, None

    rows = b.build(
        candidates(),
        kb,
        tools,
        teacher=teacher,
        per_record_cap=args.per_record_cap,
        library_caps=_lib_numbers(args.library_cap, "--library-cap"),
        report=report,
    )
    if args.run:
        known = {}
        for item in args.env:
            m = re.fullmatch(r"([\w.-]+)==([^=\s]+)=(.+)", item)
            if m is None:
                raise ValueError(f"--env wants LIB==VERSION=PYTHON, got {item!r}")
            known[f"{m.group(1)}=={m.group(2)}"] = m.group(3)
        pool = b.VenvPool(args.cache_dir, known, allow_create=not args.no_create_envs)
        releases = {
            lib: known_versions(lib, cache_dir=args.cache_dir)
            for lib in {r["dependency"] for r in rows}
        }
        log = (lambda m: print(m, file=sys.stderr)) if args.verbose else None
        earlier = None
        if args.reuse_runs:
            from recode.dataset.stats import load_rows

            earlier = b.passed_runs(load_rows(sorted(args.reuse_runs.glob("*.jsonl"))))
        b.execute_rows(
            rows,
            kb,
            pool,
            releases,
            tools,
            per_library=args.run_per_library,
            library_limits=_lib_numbers(args.library_run_limit, "--library-run-limit"),
            earlier=earlier,
            timeout_s=args.run_timeout,
            report=report,
            log=log,
        )
        for key, why in pool.failed.items():
            print(f"# no environment for {key}: {why}", file=sys.stderr)
    rows = b.finish(rows, report)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for split in ("train", "validation", "test"):
        part = [r for r in rows if r["split"] == split]
        b.write_jsonl(part, out / f"{split}.jsonl")
        files.append(f"{split}.jsonl")
    command = "recode-dataset " + " ".join(shlex.quote(a) for a in argv)
    (out / "BUILD.json").write_text(
        json.dumps({"command": command, "report": report.to_dict(), "files": files}, indent=1)
        + "\n"
    )
    (out / "DATASHEET.md").write_text(
        datasheet(rows, command=command, report=report.to_dict(), files=files)
    )
    print(json.dumps(report.to_dict(), indent=1))
    return 0


# -- stats ---------------------------------------------------------------------------------------


def _stats(args: argparse.Namespace) -> int:
    from recode.dataset.stats import count, load_rows

    folder: Path = args.examples
    files = sorted(p.name for p in folder.glob("*.jsonl"))
    if not files:
        print(f"recode-dataset: no *.jsonl in {folder}", file=sys.stderr)
        return 2
    rows = load_rows(folder / f for f in files)
    _write_datasheet(folder, rows, files)
    c = count(rows)
    for lib, n in sorted(c["library"].items()):
        print(
            f"{lib:14} {n:6}  executed {c['library_level'][(lib, 'executed')]:5}  "
            f"static {c['library_level'][(lib, 'static')]:5}"
        )
    print(f"{'total':14} {sum(c['library'].values()):6}")
    return 0


def _write_datasheet(folder: Path, rows: list[dict[str, Any]], files: list[str]) -> None:
    from recode.dataset.stats import datasheet

    meta: dict[str, Any] = {}
    if (folder / "BUILD.json").exists():
        meta = json.loads((folder / "BUILD.json").read_text())
    command = meta.get("command", "(unknown: no BUILD.json)")
    (folder / "DATASHEET.md").write_text(
        datasheet(
            rows, command=command, report=meta.get("report"), files=files, notes=meta.get("notes")
        )
    )


# -- mark ----------------------------------------------------------------------------------------


def _mark(args: argparse.Namespace, tools: BuildTools) -> int:
    """Re-mark every example of a built set (``exact_fix``, ``exact_fix_records``) with the
    fixes of today's detector; each file is replaced whole (written beside it, then renamed),
    so an interrupted run leaves the old file."""
    import os
    import tempfile

    from recode.dataset import build as b
    from recode.dataset.knowledge import load_knowledge_base
    from recode.dataset.stats import load_rows

    folder: Path = args.examples
    files = sorted(p.name for p in folder.glob("*.jsonl"))
    if not files:
        print(f"recode-dataset: no *.jsonl in {folder}", file=sys.stderr)
        return 2
    checker = b.Checker(load_knowledge_base(args.kb or None), tools)
    marked: dict[str, list[dict[str, Any]]] = {}
    for name in files:
        rows = []
        for n, row in enumerate(load_rows([folder / name]), start=1):
            try:
                ids = b.exact_fix_records(checker, row["record"], row["old_code"], row["new_code"])
            except KeyError as exc:
                raise ValueError(f"{folder / name}:{n}: no {exc.args[0]!r} field") from exc
            rows.append(b.mark_exact_fix(row, ids))
        marked[name] = rows
    for name, rows in marked.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        os.close(fd)
        try:
            b.write_jsonl(rows, Path(tmp))
            os.replace(tmp, folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    every = [r for rows in marked.values() for r in rows]
    _write_datasheet(folder, every, files)
    by_lib: dict[str, list[int]] = {}
    for row in every:
        counts = by_lib.setdefault(row["dependency"], [0, 0])
        counts[0] += 1
        counts[1] += row["exact_fix"]
    for lib, (n, exact) in sorted(by_lib.items()):
        print(f"{lib:14} {n:6}  exact fix {exact:5}")
    print(f"{'total':14} {len(every):6}  exact fix {sum(r['exact_fix'] for r in every):5}")
    return 0


# -- verify --------------------------------------------------------------------------------------


def _verify(args: argparse.Namespace, tools: BuildTools) -> int:
    from recode.dataset.knowledge import canonical_name, load_knowledge_base
    from recode.dataset.notes import known_versions
    from recode.dataset.verify import (
        Interpreter,
        Outcome,
        Verifier,
        final_releases,
        format_json,
        format_text,
        venv_provider,
    )

    library = canonical_name(args.library)
    kb = load_knowledge_base(args.kb or None)
    records = kb.for_library(library)
    if not records:
        print(
            f"recode-dataset: no records of {args.library!r} in the knowledge base", file=sys.stderr
        )
        return 2
    if args.record:
        by_id = {r.id: r for r in records}
        unknown = [i for i in args.record if i not in by_id]
        if unknown:
            print(f"recode-dataset: no record {', '.join(unknown)} of {library}", file=sys.stderr)
            return 2
        records = [by_id[i] for i in args.record]
    releases = final_releases(known_versions(library, cache_dir=args.cache_dir))
    if not releases:
        print(
            f"recode-dataset: no releases of {library} known (pip index versions failed)",
            file=sys.stderr,
        )
        return 2
    interpreters = []
    for python in [sys.executable, *args.python]:
        run = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise ValueError(f"--python {python} does not run: {run.stderr.strip()[-200:]}")
        label = run.stdout.strip()
        wheels = known_versions(library, cache_dir=args.cache_dir, python=python, wheels_only=True)
        interpreters.append(Interpreter(python, label, frozenset(wheels) if wheels else None))
    provider = venv_provider(args.cache_dir, install=not args.no_install, interpreters=interpreters)
    verifier = Verifier(provider, {library: releases}, tools.run, timeout_s=args.timeout)
    log = (lambda m: print(f"# {m}", file=sys.stderr)) if args.verbose else None
    results = verifier.verify(records, log=log)
    print(format_json(results) if args.format == "json" else format_text(results), end="")
    return 1 if any(r.outcome is Outcome.DISAGREE for r in results) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
