"""recode-migrate writing into a pipe whose reader has gone (``| head -1``): a quiet exit with
the run's status, no BrokenPipeError traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from recode.server import cli
from tests.conftest import TEST_KB

PIPE_CAPACITY = 64 * 1024  # Linux's default; the report below is made well over it
FILE = "import numpy as np\nimport pandas as pd\n" + "x = np.float_(1)\ny = np.trapz(x)\n" * 20


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipe") / "proj"
    root.mkdir()
    for i in range(12):
        (root / f"m{i}.py").write_text(FILE)
    return root


def _args(project: Path, *extra: str) -> list[str]:
    return [
        str(project),
        "--kb",
        str(TEST_KB),
        "--target",
        "numpy==2.0.0",
        "--no-progress",
        "--jobs",
        "1",
        *extra,
    ]


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_reader_gone_before_the_report_is_a_quiet_exit(project: Path, fmt: str) -> None:
    proc = subprocess.Popen(
        ["recode-migrate", *_args(project, "--format", fmt)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # nobody will read: the first write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1, err  # outdated calls were found, as without the pipe
    assert "Traceback" not in err and "BrokenPipe" not in err and "Broken pipe" not in err


@pytest.mark.integration
def test_head_reads_one_line_of_a_long_report(project: Path, capsys) -> None:
    assert cli.main(_args(project, "--format", "json")) == 1
    full = capsys.readouterr().out
    assert len(full.encode()) > 2 * PIPE_CAPACITY  # so the writer is still writing when
    # the reader leaves, whatever the pipe's buffer holds
    proc = subprocess.Popen(
        ["recode-migrate", *_args(project, "--format", "json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # what `| head -1` does before it exits
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1, err
    assert first.decode() == full.splitlines(keepends=True)[0]
    assert err == ""
