"""The sandbox for model-written code: limits, containment, capture."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from recode.training import sandbox
from recode.training.sandbox import SandboxLimits, detect_support, run_python

SUPPORT = detect_support(sys.executable)

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_runs_normal_code_with_files_and_argv() -> None:
    result = run_python(
        "import sys, helper\nprint(helper.double(21), sys.argv[1:])\n",
        files={"helper.py": "def double(x):\n    return 2 * x\n"},
        argv=["a", "b"],
    )
    assert result.status == "ok", result.stderr
    assert result.returncode == 0
    assert result.stdout == "42 ['a', 'b']\n"
    assert result.duration_s > 0


def test_reports_errors_and_exit_codes() -> None:
    failing = run_python("def f():\n    raise ValueError('boom')\nf()\n")
    assert failing.status == "error"
    assert failing.returncode == 1
    assert "ValueError: boom" in failing.stderr
    assert "__sandbox_main__.py" in failing.stderr  # the user's frames, with line numbers
    assert run_python("import sys; sys.exit(3)").returncode == 3


def test_work_folder_is_fresh_and_home_tmp_inside() -> None:
    code = (
        "import os, tempfile\n"
        "print(os.getcwd() == os.environ['HOME'])\n"
        "print(tempfile.gettempdir().startswith(os.getcwd()))\n"
        "print(sorted(n for n in os.listdir('.') if not n.startswith('.')))\n"
        "open('left.txt', 'w').write('x')\n"
    )
    first = run_python(code)
    second = run_python(code)
    assert first.stdout == second.stdout == "True\nTrue\n['__sandbox_main__.py']\n"


def test_kills_an_infinite_loop_at_the_wall_clock() -> None:
    started = time.monotonic()
    result = run_python("while True:\n    pass\n", SandboxLimits(time_s=1.0, cpu_s=30))
    assert result.status == "timeout"
    assert time.monotonic() - started < 5


def test_cpu_limit_stops_a_busy_loop() -> None:
    result = run_python("while True:\n    pass\n", SandboxLimits(time_s=20, cpu_s=1))
    assert result.status == "timeout"
    # rusage and the kernel's RLIMIT_CPU check account slightly differently on a busy VM.
    assert result.cpu_s >= 0.8
    assert result.duration_s < 15


def test_sleeping_program_times_out() -> None:
    result = run_python("import time\ntime.sleep(60)\n", SandboxLimits(time_s=0.5))
    assert result.status == "timeout"
    assert result.duration_s < 3


@needs_linux
def test_contains_a_fork_bomb() -> None:
    code = (
        "import os\n"
        "print(os.getcwd(), flush=True)\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        pass\n"
    )
    started = time.monotonic()
    # allow_fork: the task limit, not the seccomp filter, is what this checks.
    result = run_python(code, SandboxLimits(time_s=2.0, max_procs=16, allow_fork=True))
    assert result.status in {"timeout", "error"}
    assert time.monotonic() - started < 8
    workdir = result.stdout.split()[0]
    time.sleep(0.2)
    assert _processes_mentioning(workdir) == []
    if SUPPORT.pids_cgroup or not SUPPORT.root:
        # The task limit held: the machine could still fork here.
        assert (
            run_python(
                "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n"
                "os.waitpid(pid, 0)\nprint('forked')\n",
                SandboxLimits(allow_fork=True),
            ).stdout
            == "forked\n"
        )


@needs_linux
def test_kills_processes_left_behind() -> None:
    code = (
        "import os, time\n"
        "print(os.getcwd(), flush=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('parent done', flush=True)\n"
    )
    result = run_python(code, SandboxLimits(time_s=5, allow_fork=True))
    assert result.status == "ok"
    assert "parent done" in result.stdout
    time.sleep(0.2)
    assert _processes_mentioning(result.stdout.split()[0]) == []


def test_memory_hog_gets_memory_status() -> None:
    result = run_python(
        "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 2**20))\n",
        SandboxLimits(memory_mb=256, time_s=10),
    )
    assert result.status == "memory", (result.status, result.stderr[-300:])
    one_shot = run_python("x = bytearray(2 * 2**30)\n", SandboxLimits(memory_mb=256))
    assert one_shot.status == "memory"


def test_write_outside_is_blocked_by_the_hook(tmp_path: Path) -> None:
    # With a private root the folder is only visible when bound in (read-only) as a read path.
    tmp_path.chmod(0o755)  # read_paths are read as "others" (the program's uid)
    target = tmp_path / "escaped.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')\n", read_paths=[tmp_path])
    assert result.status == "error"
    assert "PermissionError" in result.stderr
    assert not target.exists()
    removal = tmp_path / "keep.txt"
    removal.write_text("keep")
    removed = run_python(f"import os\nos.remove({str(removal)!r})\n", read_paths=[tmp_path])
    assert removed.status == "error" and "PermissionError" in removed.stderr
    assert removal.exists()


@pytest.mark.skipif(not SUPPORT.mount_namespace, reason="no mount namespace here (not root?)")
def test_write_outside_is_blocked_by_the_kernel(tmp_path: Path) -> None:
    # ctypes goes around the audit hook: only the read-only mounts stop this.
    tmp_path.chmod(0o755)
    target = tmp_path / "escaped-ctypes.txt"
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"fd = libc.open({str(target).encode()!r}, os.O_WRONLY | os.O_CREAT, 0o644)\n"
        "print(fd, os.strerror(ctypes.get_errno()))\n"
    )
    # read_paths makes the folder visible in a private root too, so the mount's flag decides.
    result = run_python(code, read_paths=[tmp_path])
    assert result.stdout.startswith("-1 "), result.stdout
    assert "Read-only" in result.stdout
    assert not target.exists()
    assert result.isolation["mounts"] == "read-only"


def test_writes_inside_the_folder_and_reads_them_back() -> None:
    result = run_python(
        "import os\nos.makedirs('out', exist_ok=True)\nopen('out/r.txt', 'w').write('hello')\n",
        read_back=["out/r.txt", "no"],
    )
    assert result.status == "ok", result.stderr
    assert result.files == {"out/r.txt": "hello"}


def test_file_size_limit() -> None:
    result = run_python(
        "open('big', 'wb').write(b'x' * (3 * 2**20))\n", SandboxLimits(file_size_mb=1)
    )
    assert result.status == "error"
    assert "File too large" in result.stderr


def test_network_is_blocked_by_the_hook() -> None:
    code = "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n"
    result = run_python(code)
    assert result.status == "error"
    assert "network access" in result.stderr


def test_network_allowed_on_request() -> None:
    # A local listener stands in for "the network": reachable only with network=True.
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept()[0].close(), daemon=True).start()
    code = (
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\nprint('ok')\n"
    )
    try:
        assert run_python(code, SandboxLimits(network=True)).stdout == "ok\n"
        assert run_python(code).status == "error"
    finally:
        server.close()


@pytest.mark.skipif(not SUPPORT.network_namespace, reason="no network namespace on this machine")
def test_network_namespace_has_no_interface() -> None:
    code = (
        "import socket\n"
        "print(sorted(name for _, name in socket.if_nameindex()))\n"
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.socket(2, 1, 0) >= 0)\n"  # raw libc: the hook does not see it
    )
    result = run_python(code)
    assert result.status == "ok", result.stderr
    names = eval(result.stdout.splitlines()[0])  # noqa: S307 - our own printed list
    assert names in (["lo"], [])
    assert result.isolation["network"] in {"netns", "userns+netns"}


def test_subprocesses_are_blocked() -> None:
    for code in ("import subprocess\nsubprocess.run(['true'])\n", "import os\nos.system('true')\n"):
        result = run_python(code)
        assert result.status == "error"
        assert "starting programs" in result.stderr


def test_signalling_everything_is_blocked() -> None:
    result = run_python("import os, signal\nos.kill(-1, signal.SIGKILL)\n")
    assert result.status == "error"
    assert "signalling" in result.stderr


@pytest.mark.skipif(not SUPPORT.pid_namespace, reason="no PID namespace here")
def test_host_processes_are_invisible() -> None:
    result = run_python(
        "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
    )
    assert result.status == "ok"
    assert os.getpid() not in eval(result.stdout)  # noqa: S307


@pytest.mark.skipif(not SUPPORT.drop_capabilities, reason="not root: nothing to drop")
def test_capabilities_are_dropped() -> None:
    result = run_python("print([l for l in open('/proc/self/status') if l.startswith('CapEff')])")
    assert "0000000000000000" in result.stdout


def test_output_is_captured_and_truncated() -> None:
    code = (
        "import sys\nfor i in range(100000):\n    print('line', i)\nprint('err', file=sys.stderr)\n"
    )
    result = run_python(code, SandboxLimits(max_output_bytes=2000))
    assert result.status == "ok"
    assert result.stdout_truncated and not result.stderr_truncated
    assert result.stdout.startswith("line 0\nline 1\n")
    assert result.stdout.rstrip().endswith("line 99999")  # the tail is kept
    assert "bytes of output dropped" in result.stdout
    assert len(result.stdout) < 2200
    assert result.stderr == "err\n"


def test_rejects_paths_leaving_the_folder() -> None:
    with pytest.raises(ValueError):
        run_python("pass", files={"../x.py": ""})
    with pytest.raises(ValueError):
        run_python("pass", SandboxLimits(time_s=0))
    with pytest.raises(ValueError):
        run_python("pass", read_paths=["/"])


def test_other_interpreter_argument() -> None:
    result = run_python("import sys\nprint(sys.version_info[:2])\n", python=sys.executable)
    assert result.stdout.strip() == str(tuple(sys.version_info[:2]))
    missing = run_python("pass", python="/nonexistent/python3")
    assert missing.status == "sandbox_error"


needs_private_root = pytest.mark.skipif(
    not SUPPORT.private_root, reason=f"no private root here: {SUPPORT.notes}"
)

_TRY_READ = (
    "import os, sys\n"
    "for path in sys.argv[1:]:\n"
    "    try:\n"
    "        if os.path.isdir(path):\n"
    "            print('read', path, *sorted(os.listdir(path)))\n"
    "        else:\n"
    "            open(path, 'rb').read(1)\n"
    "            print('read', path)\n"
    "    except OSError as exc:\n"
    "        print('denied', path, type(exc).__name__)\n"
)


def _readable(result: sandbox.SandboxResult) -> dict[str, list[str]]:
    """What the program could read: files (no entries) and folders (their entries)."""
    assert result.status == "ok", result.stderr
    return {
        line.split()[1]: line.split()[2:]
        for line in result.stdout.splitlines()
        if line.startswith("read ")
    }


@needs_private_root
def test_reads_outside_the_folder_fail() -> None:
    repo_file = Path(__file__).resolve()
    with tempfile.NamedTemporaryFile(dir=Path.home(), prefix=".recode-sbx-secret-") as secret:
        secret.write(b"secret")
        secret.flush()
        files = ["/etc/passwd", str(repo_file), secret.name]
        folders = [
            str(repo_file.parent),
            str(repo_file.parent.parent),
            "/etc",
            "/var",
            str(Path.home()),
        ]
        result = run_python(_TRY_READ, argv=files + folders)
    assert all(Path(t).exists() for t in files[:2] + folders)
    readable = _readable(result)
    assert not set(files) & set(readable), result.stdout
    # Folders on the way to what may be read (the interpreter may sit below $HOME, a venv in
    # the repo) can be listed, but they hold nothing else.
    secret_name = Path(secret.name).name
    for folder, entries in readable.items():
        assert not {"passwd", "tests", "README.md", "pyproject.toml", secret_name} & set(entries), (
            folder,
            entries,
        )
    assert str(repo_file.parent) not in readable
    assert result.isolation["filesystem"].startswith("private root")


@needs_private_root
def test_another_samples_folder_is_out_of_reach() -> None:
    first = run_python(
        "import os\nopen('mine.txt', 'w').write('private')\nprint(os.getcwd())\n", keep_dir=True
    )
    other = Path(first.stdout.strip())
    try:
        assert (other / "mine.txt").read_text() == "private"
        second = run_python(_TRY_READ, argv=[str(other / "mine.txt"), str(other)])
        assert _readable(second) == {}, second.stdout
    finally:
        import shutil

        shutil.rmtree(other, ignore_errors=True)


@needs_private_root
def test_own_folder_interpreter_and_devices_work() -> None:
    pytest.importorskip("numpy")
    code = (
        "import os, sys, tempfile, numpy\n"
        "print(open('data.txt').read(), numpy.arange(4).sum())\n"
        "open('/dev/null', 'w').write('x')\n"
        "print(len(open('/dev/urandom', 'rb').read(8)))\n"
        "with open('/tmp/scratch', 'w') as fh:\n"
        "    fh.write('t')\n"
        "mine = [n for n in os.listdir('/tmp') if (os.getcwd() + '/').startswith(f'/tmp/{n}/')]\n"
        "print(sorted(set(os.listdir('/tmp')) - set(mine)), os.path.isdir(sys.base_prefix))\n"
        "print(len([p for p in os.listdir('/proc') if p.isdigit()]) < 10)\n"
    )
    result = run_python(code, SandboxLimits(memory_mb=2048, time_s=60), files={"data.txt": "mine"})
    assert result.status == "ok", result.stderr
    assert result.stdout.splitlines() == ["mine 6", "8", "['scratch'] True", "True"]
    # The root itself and the interpreter are read-only, whatever goes around the audit hook.
    code = (
        "import ctypes, os, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for path in ('/escaped', sys.base_prefix + '/escaped'):\n"
        "    fd = libc.open(path.encode(), os.O_WRONLY | os.O_CREAT, 0o644)\n"
        "    print(fd, os.strerror(ctypes.get_errno()))\n"
    )
    result = run_python(code)
    assert result.stdout.splitlines() == ["-1 Read-only file system"] * 2, result.stdout
    assert not Path(sys.base_prefix, "escaped").exists()


@needs_private_root
def test_an_interpreter_under_tmp_stays_out_of_the_private_tmp() -> None:
    """A checkout cloned under /tmp with its venv: the venv's folder must not show in the
    program's /tmp (only its own folder does), and the interpreter still finds its packages.
    The venv here is a linked copy of the running one: pyvenv.cfg, bin/python and lib/."""
    base = Path(tempfile.mkdtemp(prefix="recode-venv-", dir="/tmp"))
    try:
        venv = base / "venv"
        (venv / "bin").mkdir(parents=True)
        executable = Path(getattr(sys, "_base_executable", sys.executable))
        (venv / "pyvenv.cfg").write_text(f"home = {executable.parent}\n")
        (venv / "bin" / "python").symlink_to(executable)
        (venv / "lib").symlink_to(Path(sys.prefix, "lib"))
        code = (
            "import os, sys, packaging\n"
            "open('/tmp/scratch', 'w').write('t')\n"
            "mine = [n for n in os.listdir('/tmp') if (os.getcwd() + '/').startswith(f'/tmp/{n}/')]\n"
            "print(sorted(set(os.listdir('/tmp')) - set(mine)), packaging.__name__)\n"
        )
        result = run_python(code, SandboxLimits(time_s=60), python=str(venv / "bin" / "python"))
        assert result.status == "ok", result.stderr
        assert result.stdout == "['scratch'] packaging\n"
    finally:
        shutil.rmtree(base)


@needs_private_root
def test_read_paths_are_visible_read_only(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    (tmp_path / "shared.txt").write_text("shared data")
    result = run_python(
        f"print(open({str(tmp_path / 'shared.txt')!r}).read())\n", read_paths=[tmp_path]
    )
    assert result.stdout == "shared data\n", result.stderr
    assert run_python(_TRY_READ, argv=[str(tmp_path)]).stdout.startswith("denied")


@pytest.mark.skipif(not SUPPORT.mount_namespace, reason="no mount namespace here (not root?)")
def test_fallback_without_private_root_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    weaker = dataclasses.replace(SUPPORT, private_root=False)
    monkeypatch.setattr(sandbox, "detect_support", lambda python=None: weaker)
    relaxed = SandboxLimits(require_isolation=False)
    result = run_python(_TRY_READ, relaxed, argv=["/etc/passwd"])
    # The host's tree stays visible (read-only): the report says so.
    assert _readable(result) == {"/etc/passwd": []}
    assert result.isolation["filesystem"] == "host, read-only"
    assert result.isolation["mounts"] == "read-only"
    # Without a private root the interpreter is seen where it lies: a folder on the way closed
    # to others (pyenv under /root) keeps the program root, which fails closed by default.
    stdlib = Path(os.__file__).resolve().parent
    closed = any(not folder.stat().st_mode & 0o001 for folder in [stdlib, *stdlib.parents])
    if closed:
        assert result.isolation["uid"] == 0
        assert "not readable by uid" in result.isolation["uid_error"]
        refused = run_python("print('ran')", argv=["/etc/passwd"])
        assert refused.status == "sandbox_error" and refused.stdout == ""
        assert "running as uid 0" in refused.stderr
    else:
        assert result.isolation["uid"] == sandbox.SANDBOX_UID
