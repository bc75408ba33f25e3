"""Run untrusted (model-written) Python in a disposable, limited subprocess.

One call of :func:`run_python` starts one interpreter in a fresh temporary folder and returns a
:class:`SandboxResult` once the program ends or a limit (:class:`SandboxLimits`) stops it. The
child side, what runs in that interpreter, is :mod:`recode.training.sandbox_child`. What is
enforced, and by whom:

Kernel (whatever the program does, ctypes included):
  * RLIMIT_CPU (soft: SIGXCPU, hard one second later: SIGKILL), RLIMIT_AS (address space, so a
    memory hog gets ``MemoryError``), RLIMIT_FSIZE (largest file it may write), RLIMIT_NOFILE,
    RLIMIT_CORE = 0;
  * wall clock: the parent kills the whole process group (``start_new_session`` + ``killpg``) at
    the deadline;
  * when run as root (this project's machines): new network, mount and PID namespaces. The
    network namespace has no interface up, so nothing can be reached. In the mount namespace
    the program gets a private root: a small tmpfs holding read-only bind mounts of only what
    it may read (the interpreter's prefixes, so its standard library and the venv it runs with,
    site-packages folders on its sys.path, the caller's ``read_paths``, the shared libraries
    and loader cache under /lib*, /usr/lib*, /etc/ld.so.*, time zones, the CPU topology under
    /sys/devices/system/cpu), its work folder read-write, a fresh /proc, a /dev with null, zero,
    full, random, urandom and its own /dev/shm, and a tmpfs /tmp (an interpreter that lives
    under /tmp, say a venv in a checkout cloned there, is bound under /.sandbox-python instead
    and restarted from there, so that /tmp shows none of the host's folders but the
    program's own and its read_paths). ``pivot_root`` moves it there
    and the host's tree is detached, so /etc/passwd, the repository, $HOME or another sample's
    folder simply do not exist for it; the root itself is read-only. Where that cannot be built
    the fallback is the host's tree with every mount remounted read-only except the work folder
    (writes blocked, reads allowed), and ``isolation["filesystem"]`` says which one applied
    ("private root (pivot_root)", "private root (chroot)", "host, read-only", or "host" with
    no mount namespace at all). The program is not PID 1: a small init process reaps it, and
    when that init exits the kernel kills every process left in the namespace (daemonised and
    ``setsid`` ones included). /proc is mounted afresh, so the host's processes are not visible.
    All capabilities are then dropped (bounding set, effective, permitted, ambient), the
    program is switched to uid and gid 65534 (``SANDBOX_UID``, "nobody"; its work folder is
    handed to that user first) and ``no_new_privs`` is set: it cannot remount, change
    namespaces or gain privileges through setuid binaries. Files it may read are bound into
    folders of its own root, so a pyenv under /root (closed to others) is readable: the
    ``read_paths`` themselves must be readable by others (ValueError otherwise). Where the
    interpreter cannot be read as that user (the fallback without a private root, with an
    interpreter under /root), the switch is not made and ``isolation["uid_error"]`` says why.
  * fork bombs: as root, a pids cgroup (v1 ``/sys/fs/cgroup/pids`` or a v2 hierarchy with the
    pids controller) caps the number of tasks (processes and threads); RLIMIT_NPROC is not
    enforced for uid 0, so it is used only when the caller is not root (set to the tasks the user
    already has plus ``max_procs``).
  * not root: a user namespace plus a network namespace where unprivileged user namespaces are
    allowed, and RLIMIT_NPROC (the program keeps the caller's uid). No mount namespace: the
    files are guarded by the user id's own permissions and the audit hook only
    (``isolation["filesystem"] == "host"``).

Seccomp filter, installed last, just before the program (whatever the program does, ctypes
included; :func:`recode.training.sandbox_child.seccomp_program`): EPERM for namespace creation
(``unshare``, ``setns``, ``clone`` with namespace flags), ``mount``, ``umount2``,
``pivot_root``, ``chroot`` and the new mount API, ``ptrace``, ``process_vm_readv``/``writev``,
``keyctl``/``add_key``/``request_key``, ``bpf``, ``perf_event_open``, ``io_uring_*``,
``kexec_*``, module loading, ``reboot``, ``swapon``/``swapoff``; with ``block_subprocess``
also ``execve``/``execveat`` and, unless ``allow_fork``, ``fork``/``vfork``/``clone`` without
CLONE_THREAD (threads still start). ``clone3`` answers ENOSYS (seccomp cannot read its flags;
glibc then uses ``clone``). Another architecture's calls (i386 on x86_64) kill the process.

Fail closed: with ``SandboxLimits.require_isolation`` (the default) a run whose filter could not
be installed, or whose program would run as uid 0, is not started (``sandbox_error``, the reason
in ``isolation["isolation_error"]`` and on stderr). ``isolation["seccomp"]`` and
``isolation["uid"]`` say what held.

Audit hook installed in the child before the program starts (Python level only; ctypes or a C
extension can go around it, which is why the kernel layer above comes first):
  * opening a file for writing, or removing, renaming, linking, chmod-ing, creating a folder,
    outside the work folder (``/dev/null`` allowed; in a private root also its own /tmp and
    /dev/shm, bar the read paths);
  * ``os.system``, ``os.exec*``, ``os.spawn*``, ``os.posix_spawn``, ``subprocess.Popen``,
    ``os.fork`` (``SandboxLimits.block_subprocess``, the default; ``allow_fork`` keeps
    ``os.fork`` for a harness that forks per test);
  * ``socket.connect``/``bind``/``sendto`` on internet sockets;
  * ``os.kill`` of other process groups or of every process (-1).

HOME and TMPDIR point inside the work folder, ``OMP_NUM_THREADS`` and friends are 1, bytecode is
not written. Which layers were in force for a run is recorded in ``SandboxResult.isolation``;
:func:`detect_support` probes them once per interpreter.

Not restricted: reading the read-only views listed above (or, in the fallbacks, any file the
user id may read: no secrets should sit on a machine that runs model code), CPU time within the
limits, and the writes a program makes inside its own folder and its private /tmp.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SandboxLimits",
    "SandboxResult",
    "SandboxSupport",
    "detect_support",
    "run_python",
]

MIB = 1024 * 1024
# Who the program runs as when the caller is root ("nobody"): see sandbox_child._drop_caps.
SANDBOX_UID = SANDBOX_GID = 65534

# The child side: sandbox_child.py's text, run with ``python -I -c`` (never imported by the
# sandboxed interpreter, whose sys.path may not hold this project). See its module doc.
_CHILD = Path(__file__).with_name("sandbox_child.py")


@functools.lru_cache(maxsize=1)
def _child_source() -> str:
    return _CHILD.read_text(encoding="utf-8")


@dataclass
class SandboxResult:
    """What one sandboxed run did.

    status: "ok" (exit code 0), "error" (another exit code or a signal), "timeout" (wall clock or
    CPU limit), "memory" (MemoryError under the address-space limit), "sandbox_error" (the
    sandbox itself could not start the program, or refused to without its protections:
    ``isolation["isolation_error"]``).
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    cpu_s: float = 0.0
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    isolation: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "returncode": self.returncode,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration_s": round(self.duration_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "isolation": self.isolation,
        }


@dataclass(frozen=True)
class SandboxSupport:
    """Which kernel layers work for an interpreter on this machine (probed once)."""

    python: str
    root: bool
    network_namespace: bool
    mount_namespace: bool
    pid_namespace: bool
    drop_capabilities: bool
    pids_cgroup: str | None
    user_namespace: bool
    notes: tuple[str, ...] = ()
    private_root: bool = False

    @property
    def filesystem_enforced_by_kernel(self) -> bool:
        return self.mount_namespace


class _Capture:
    """Keeps the head and the tail of a stream, drops the middle once over the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 0)
        self.head_limit = self.limit - self.limit // 4
        self.tail_limit = self.limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_limit:
            self.tail += chunk
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if not self.truncated:
            return head + self.tail.decode("utf-8", "replace")
        dropped = self.total - len(self.head) - len(self.tail)
        tail = self.tail.decode("utf-8", "replace")
        return f"{head}\n[... {dropped} bytes of output dropped by the sandbox ...]\n{tail}"


_counter = itertools.count()


def _cgroup_base() -> tuple[Path, str] | None:
    """A folder under which pids cgroups can be made, and its kind ("v1" or "v2")."""
    v1 = Path("/sys/fs/cgroup/pids")
    if (v1 / "cgroup.procs").exists():
        return v1 / "recode-sandbox", "v1"
    for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        controllers = root / "cgroup.controllers"
        try:
            if "pids" in controllers.read_text().split():
                return root / "recode-sandbox", "v2"
        except OSError:
            continue
    return None


def _make_cgroup(max_tasks: int) -> Path | None:
    found = _cgroup_base()
    if found is None:
        return None
    base, kind = found
    try:
        base.mkdir(exist_ok=True)
        if kind == "v2":
            with contextlib.suppress(OSError):
                (base.parent / "cgroup.subtree_control").write_text("+pids")
            with contextlib.suppress(OSError):
                (base / "cgroup.subtree_control").write_text("+pids")
        _remove_stale_cgroups(base)
        path = base / f"run-{os.getpid()}-{next(_counter)}-{time.monotonic_ns()}"
        path.mkdir()
        (path / "pids.max").write_text(str(max_tasks))
        return path
    except OSError:
        return None


def _remove_stale_cgroups(base: Path) -> None:
    """Remove the empty cgroups of sandboxes whose owning process is gone."""
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        owner = int(parts[1])
        if owner == os.getpid() or Path(f"/proc/{owner}").exists():
            continue
        with contextlib.suppress(OSError):
            entry.rmdir()


def _drain_cgroup(path: Path | None, wait_s: float = 2.0) -> None:
    if path is None:
        return
    deadline = time.monotonic() + wait_s
    while True:
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            path.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def _user_task_count() -> int:
    """Tasks (threads) the current real uid owns; RLIMIT_NPROC counts these."""
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count


def _probe(python: str, cfg_extra: dict[str, Any]) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="recode-probe-"))
    try:
        (workdir / "main.py").write_text("import socket\n")
        env = _base_env(workdir, None)
        report_r, report_w = os.pipe()
        cfg = {
            "workdir": str(workdir.resolve()),
            "main": "main.py",
            "report_fd": report_w,
            "seccomp": True,
            **cfg_extra,
        }
        try:
            proc = subprocess.run(
                [python, "-I", "-c", _child_source(), json.dumps(cfg)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
                pass_fds=(report_w,),
                start_new_session=True,
                env=env,
                cwd=workdir,
            )
        finally:
            os.close(report_w)
        report = _read_report(report_r)
        report["returncode"] = proc.returncode
        report["stderr"] = proc.stderr.decode("utf-8", "replace")[-2000:]
        return report
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@functools.lru_cache(maxsize=8)
def detect_support(python: str | None = None) -> SandboxSupport:
    """Probe once per interpreter which kernel layers the sandbox can use here."""
    python = python or sys.executable
    root = os.geteuid() == 0
    notes: list[str] = []
    if not sys.platform.startswith("linux"):
        return SandboxSupport(
            python,
            root,
            False,
            False,
            False,
            False,
            None,
            False,
            ("not Linux: only rlimits, timeouts and the audit hook",),
        )
    if root:
        cgroup = _make_cgroup(64)
        report = _probe(
            python,
            {
                "netns": True,
                "mountns": True,
                "pidns": True,
                "drop_caps": True,
                "private_root": True,
                "user": [SANDBOX_UID, SANDBOX_GID],
                "cgroup": str(cgroup) if cgroup else None,
            },
        )
        _drain_cgroup(cgroup)
        ok = report.get("returncode") == 0 and report.get("ready")
        if not ok:
            notes.append(f"probe failed: {report.get('error') or report.get('stderr', '')}")
        mounts = str(report.get("mounts", ""))
        if mounts != "read-only":
            notes.append(f"mounts: {mounts}")
        if report.get("proc") not in (None, "private"):
            notes.append(f"proc: {report.get('proc')}")
        if report.get("private_root_error"):
            notes.append(
                f"no private root (reads anywhere allowed): {report.get('private_root_error')}"
            )
        cgroup_base = _cgroup_base()
        return SandboxSupport(
            python=python,
            root=True,
            network_namespace=bool(ok and report.get("network") == "netns"),
            mount_namespace=bool(ok and mounts.startswith("read-only")),
            pid_namespace=bool(ok and report.get("pid_namespace")),
            drop_capabilities=bool(ok and report.get("capabilities") == "dropped"),
            pids_cgroup=cgroup_base[1]
            if (cgroup_base and ok and report.get("processes") == "pids-cgroup")
            else None,
            user_namespace=False,
            notes=tuple(notes),
            private_root=bool(ok and str(report.get("filesystem", "")).startswith("private")),
        )
    report = _probe(python, {"userns": True, "netns": True})
    ok = report.get("returncode") == 0 and report.get("ready")
    if not ok or report.get("network") != "userns+netns":
        notes.append(f"no user namespace: {report.get('unshare_error') or report.get('stderr')}")
    userns = bool(ok and report.get("network") == "userns+netns")
    return SandboxSupport(python, False, userns, False, False, False, None, userns, tuple(notes))


def _base_env(workdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    tmp = workdir / ".tmp"
    tmp.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "TORCH_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".mpl"),
    }
    if extra:
        env.update(extra)
    return env


def _read_report(fd: int) -> dict[str, Any]:
    data = b""
    try:
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    for line in data.decode("utf-8", "replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    return {}


def _safe_relative(name: str) -> Path:
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"sandbox file names must be relative and stay inside: {name!r}")
    return path


def _classify(
    returncode: int | None, timed_out: bool, cpu_s: float, cpu_limit: float | None, stderr: str
) -> str:
    if timed_out:
        return "timeout"
    if returncode == 0:
        return "ok"
    if returncode is not None and returncode < 0:
        sig = -returncode
        if sig == signal.SIGXCPU or (
            sig == signal.SIGKILL and cpu_limit is not None and cpu_s >= cpu_limit - 0.05
        ):
            return "timeout"
    tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
    if tail and "MemoryError" in tail[0]:
        return "memory"
    return "error"


def _limit(default: Any, help: str) -> Any:  # noqa: A002 - as TrainConfig's fields say it
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SandboxLimits:
    """What one run may use; each field's ``metadata["help"]`` says what enforces it."""

    time_s: float = _limit(10.0, "Wall clock, in seconds: the process group is killed then.")
    cpu_s: float | None = _limit(None, "CPU seconds (RLIMIT_CPU; None: time_s).")
    memory_mb: int | None = _limit(
        1024,
        "Address space in MiB (RLIMIT_AS: a memory hog gets "
        "MemoryError; None: no limit). torch alone maps ~0.5 GiB.",
    )
    file_size_mb: int = _limit(16, "Largest file the program may write, in MiB (RLIMIT_FSIZE).")
    max_procs: int = _limit(
        64,
        "Tasks, threads included (a pids cgroup as root, else "
        "RLIMIT_NPROC above the user's current count).",
    )
    max_open_files: int = _limit(1024, "Open file descriptors (RLIMIT_NOFILE).")
    max_output_bytes: int = _limit(
        64 * 1024,
        "Bytes of stdout and of stderr kept (the rest "
        "is read and dropped; SandboxResult says it was cut).",
    )
    max_read_back_bytes: int = _limit(8 * MIB, "Bytes kept of each file named in read_back.")
    tmp_mb: int = _limit(64, "Size of the private /tmp and /dev/shm, in MiB.")
    network: bool = _limit(False, "Allow the network: no network namespace, no socket checks.")
    block_subprocess: bool = _limit(
        True,
        "Refuse os.system, exec, spawn, subprocess and fork "
        "(audit hook; seccomp: execve, fork, clone without "
        "CLONE_THREAD).",
    )
    allow_fork: bool = _limit(
        False,
        "With block_subprocess, still allow os.fork (a harness "
        "that forks per test); exec stays refused.",
    )
    seccomp: bool = _limit(
        True,
        "Install the seccomp filter (False: only to measure it; needs require_isolation=False).",
    )
    require_isolation: bool = _limit(
        True,
        "Fail closed: status sandbox_error, the program not "
        "run, when the seccomp filter cannot be installed or it "
        "would run as uid 0. False: run with what held "
        "(SandboxResult.isolation says what).",
    )

    def __post_init__(self) -> None:
        if self.require_isolation and not self.seccomp:
            raise ValueError("seccomp=False needs require_isolation=False")
        if self.time_s <= 0:
            raise ValueError("time_s must be positive")
        if self.tmp_mb < 1:
            raise ValueError("tmp_mb must be at least 1")

    @property
    def cpu_limit(self) -> float:
        return float(self.cpu_s if self.cpu_s is not None else self.time_s)


def run_python(
    code: str,
    limits: SandboxLimits | None = None,
    *,
    files: Mapping[str, str | bytes] | None = None,
    python: str | None = None,
    argv: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    read_back: Sequence[str] = (),
    read_paths: Sequence[str | os.PathLike[str]] = (),
    workdir_parent: str | os.PathLike[str] | None = None,
    keep_dir: bool = False,
) -> SandboxResult:
    """Run ``code`` as ``__main__`` in a fresh folder under ``limits`` (default:
    ``SandboxLimits()``) and the layers above.

    files: extra files written into the folder first (relative names); the program can import
    them. argv: the program's ``sys.argv[1:]``; env: variables added to its small environment.
    read_back names files (relative) whose text is returned in ``SandboxResult.files`` when
    present. read_paths: files or folders (besides the interpreter's own) the program may read,
    bound read-only at the same path in its private root (without a private root they are
    readable anyway). workdir_parent: where the run's folder is made; keep_dir: leave it there.
    Never raises for what the program does; raises ValueError for bad arguments.
    """
    limits = limits if limits is not None else SandboxLimits()
    read_paths = [os.path.abspath(path) for path in read_paths]
    if "/" in read_paths:
        raise ValueError("read_paths cannot hold / (that would be no private root at all)")
    if os.geteuid() == 0:
        for path in read_paths:
            # Bound as they are: the program, SANDBOX_UID, reads them as "others".
            with contextlib.suppress(OSError):
                mode = os.stat(path).st_mode
                need = 0o005 if stat.S_ISDIR(mode) else 0o004
                if mode & need != need:
                    raise ValueError(
                        f"read_paths must be readable by others (the program runs as uid "
                        f"{SANDBOX_UID}): {path} has mode {stat.S_IMODE(mode):o}"
                    )
    python = python or sys.executable
    support = detect_support(python)
    started = time.monotonic()
    base = Path(workdir_parent) if workdir_parent else None
    workdir = Path(tempfile.mkdtemp(prefix="recode-sbx-", dir=base)).resolve()
    cgroup: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    report_r = report_w = -1
    try:
        main = "__sandbox_main__.py"
        (workdir / main).write_text(code, encoding="utf-8")
        for name, content in (files or {}).items():
            target = workdir / _safe_relative(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        cpu_limit = limits.cpu_limit
        cpu_soft = max(1, math.ceil(cpu_limit))
        rlimits: dict[str, list[int]] = {
            "RLIMIT_CPU": [cpu_soft, cpu_soft + 1],
            "RLIMIT_FSIZE": [limits.file_size_mb * MIB, limits.file_size_mb * MIB],
            "RLIMIT_NOFILE": [limits.max_open_files, limits.max_open_files],
            "RLIMIT_CORE": [0, 0],
        }
        if limits.memory_mb is not None:
            rlimits["RLIMIT_AS"] = [limits.memory_mb * MIB, limits.memory_mb * MIB]
        if not support.root:
            nproc = _user_task_count() + limits.max_procs
            rlimits["RLIMIT_NPROC"] = [nproc, nproc]
        elif support.pids_cgroup:
            cgroup = _make_cgroup(limits.max_procs)
        report_r, report_w = os.pipe()
        cfg = {
            "workdir": str(workdir),
            "main": main,
            "argv": list(argv),
            "report_fd": report_w,
            "rlimits": rlimits,
            "cgroup": str(cgroup) if cgroup else None,
            "netns": support.network_namespace and not limits.network,
            "userns": support.user_namespace and not limits.network,
            "mountns": support.mount_namespace,
            "private_root": support.private_root,
            "read_paths": [str(path) for path in read_paths],
            "tmp_mb": limits.tmp_mb,
            "pidns": support.pid_namespace,
            "drop_caps": support.drop_capabilities,
            "audit": True,
            "block_subprocess": limits.block_subprocess,
            "allow_fork": limits.allow_fork,
            "block_network": not limits.network,
            "seccomp": limits.seccomp,
            "require_isolation": limits.require_isolation,
            "user": [SANDBOX_UID, SANDBOX_GID] if support.root else None,
        }
        child_env = _base_env(workdir, env)
        try:
            proc = subprocess.Popen(
                [python, "-I", "-c", _child_source(), json.dumps(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(report_w,),
                start_new_session=True,
                env=child_env,
                cwd=workdir,
            )
        except OSError as exc:
            return SandboxResult(
                "sandbox_error",
                None,
                "",
                f"could not start {python}: {exc}",
                time.monotonic() - started,
            )
        finally:
            os.close(report_w)
            report_w = -1
        deadline = started + limits.time_s
        out, err, timed_out, status, rusage = _communicate(proc, deadline, limits.max_output_bytes)
        _kill_group(proc.pid)
        _drain_cgroup(cgroup)
        cgroup = None
        duration = time.monotonic() - started
        report = _read_report(report_r)
        report_r = -1
        cpu_used = (rusage.ru_utime + rusage.ru_stime) if rusage else 0.0
        returncode = os.waitstatus_to_exitcode(status) if status is not None else None
        proc.returncode = returncode
        stderr = err.text()
        if not report.get("ready") and not timed_out:
            result_status = "sandbox_error"
        else:
            result_status = _classify(returncode, timed_out, cpu_used, cpu_limit, stderr)
        isolation = {
            key: report[key]
            for key in (
                "network",
                "mounts",
                "filesystem",
                "pid_namespace",
                "capabilities",
                "processes",
                "audit_hook",
                "proc",
                "no_new_privs",
                "unshare_error",
                "cgroup_error",
                "private_root_error",
                "seccomp",
                "uid",
                "uid_error",
                "isolation_error",
            )
            if key in report
        }
        if limits.network:
            isolation["network"] = "allowed"
        collected: dict[str, str] = {}
        for name in read_back:
            target = workdir / _safe_relative(name)
            with contextlib.suppress(OSError):
                if target.is_file() and not target.is_symlink():
                    with target.open("rb") as fh:
                        kept = fh.read(limits.max_read_back_bytes)
                        collected[name] = kept.decode("utf-8", "replace")
        return SandboxResult(
            status=result_status,
            returncode=returncode,
            stdout=out.text(),
            stderr=stderr,
            duration_s=duration,
            cpu_s=cpu_used,
            stdout_truncated=out.truncated,
            stderr_truncated=err.truncated,
            isolation=isolation,
            files=collected,
        )
    finally:
        if proc is not None and proc.returncode is None:
            _kill_group(proc.pid)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(proc.pid, 0)
            proc.returncode = -9
        for fd in (report_r, report_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        _drain_cgroup(cgroup)
        if not keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _communicate(
    proc: subprocess.Popen[bytes], deadline: float, limit: int
) -> tuple[_Capture, _Capture, bool, int | None, Any]:
    """Read both pipes until the program ends or the deadline; reap it with its rusage."""
    assert proc.stdout is not None and proc.stderr is not None
    captures = {proc.stdout.fileno(): _Capture(limit), proc.stderr.fileno(): _Capture(limit)}
    out_cap, err_cap = captures[proc.stdout.fileno()], captures[proc.stderr.fileno()]
    timed_out = False
    status: int | None = None
    rusage = None
    exited_at: float | None = None
    with selectors.DefaultSelector() as selector:
        for stream in (proc.stdout, proc.stderr):
            selector.register(stream, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if status is None:
                pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    status, rusage, exited_at = st, ru, now
            if not selector.get_map():
                if status is not None:
                    break
            elif status is not None and exited_at is not None and now - exited_at > 0.5:
                # The program is gone but something it started still holds the pipes.
                _kill_group(proc.pid)
                if now - exited_at > 1.0:
                    break
            if now >= deadline:
                timed_out = status is None
                break
            wait = min(deadline - now, 0.05 if status is None else 0.1)
            if selector.get_map():
                for key, _ in selector.select(wait):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        captures[key.fd].add(chunk)
                    else:
                        selector.unregister(key.fileobj)
            else:
                time.sleep(wait)
        if timed_out:
            _kill_group(proc.pid)
        # Whatever is still buffered in the pipes (the group is dead or done by now).
        for key in list(selector.get_map().values()):
            os.set_blocking(key.fd, False)
            with contextlib.suppress(BlockingIOError, OSError):
                while chunk := os.read(key.fd, 65536):
                    captures[key.fd].add(chunk)
    proc.stdout.close()
    proc.stderr.close()
    if status is None:
        _, status, rusage = os.wait4(proc.pid, 0)
    return out_cap, err_cap, timed_out, status, rusage


def _cli() -> int:  # pragma: no cover - a manual check of what this machine supports
    support = detect_support()
    print(json.dumps(support.__dict__, indent=2))
    result = run_python("print('hello from the sandbox')")
    print(json.dumps(result.to_dict(), indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_cli())
