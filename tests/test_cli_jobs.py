"""recode-migrate --jobs: files go out largest first, results come back in the walk's order (the
forked run against --jobs 1 is test_cli.py's test_parallel_jobs_give_the_same_report)."""

from __future__ import annotations

from pathlib import Path

from recode.server import cli
from recode.server.detector import Detector
from recode.server.parallel import map_in_processes
from tests.conftest import versions

OUTDATED = "import numpy as np\nx = np.float_(1)\n"


def _project(root: Path, sizes: dict[str, int]) -> Path:
    """Files named in the walk's order, each with one finding and ``n`` lines of padding."""
    root.mkdir(parents=True, exist_ok=True)
    for name, n in sizes.items():
        (root / name).write_text(OUTDATED + "y = 1\n" * n)
    return root


def test_dispatch_order_is_largest_first(tmp_path: Path) -> None:
    root = _project(tmp_path, {"a.py": 5, "b.py": 500, "c.py": 0, "d.py": 50})
    paths = [(root / n, n) for n in ("a.py", "b.py", "c.py", "d.py")]
    paths.append((root / "vanished.py", "vanished.py"))
    assert [paths[i][1] for i in cli._dispatch_order(paths)] == [
        "b.py",
        "d.py",
        "a.py",
        "c.py",
        "vanished.py",  # cannot be sized: last (it is reported as unreadable in its turn)
    ]


def test_results_come_back_in_the_walks_order(tmp_path: Path, test_kb, monkeypatch) -> None:
    """In one process (the forked case is tests/test_parallel.py): files are scanned largest
    first, and the report lists them in the walk's order."""
    sizes = {f"m{i:02}.py": (i * 37) % 11 * 20 for i in range(40)}
    root = _project(tmp_path, sizes)
    paths = [(root / n, n) for n in sizes]
    cli._init_worker(Detector(test_kb, versions(numpy="2.0.0")), "check", {}, 1_000_000)
    scanned: list[str] = []
    work = cli._work

    def recording(item: tuple[Path, str]):
        scanned.append(item[1])
        return work(item)

    progress = cli.Progress(len(paths), enabled=False)
    results = map_in_processes(
        recording, paths, 1, order=cli._dispatch_order(paths), chunksize=3, step=progress.step
    )
    assert scanned == sorted(sizes, key=lambda n: -sizes[n])  # largest first, ties in walk order
    assert scanned != list(sizes)
    assert [r.path for r in results] == list(sizes)
    assert all(len(r.findings) == 1 for r in results)
    assert progress.done == len(paths)
