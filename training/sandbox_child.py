"""The child side of :mod:`recode.training.sandbox`: what runs in the sandboxed interpreter.

:func:`recode.training.sandbox.run_python` passes this file's text to ``python -I -c`` with one
JSON argument (the run's configuration), so the child never imports anything from the sandboxed
interpreter's ``sys.path``, the project included: it is a module here only so that linters,
type checkers and readers see it. Kept compatible with Python 3.8+ because ``python=`` may name
another interpreter (the dataset builder runs code under old library versions): only the
standard library, no syntax newer than 3.8 (``pyproject.toml`` lints it as such).

It runs in three processes when PID namespaces are available:
outer (its pid is what the parent waits for) -> init (PID 1 in the new namespace, reaps) ->
worker (sets the audit hook, reports on the report pipe, runs the program).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

# Annotations are never evaluated (the __future__ import), so 3.9+ forms are fine there on 3.8.
# ctypes is Any: it may be missing (no ctypes: no namespaces, only rlimits and the hook).


def _libc() -> tuple[Any, Any]:
    try:
        import ctypes

        return ctypes, ctypes.CDLL(None, use_errno=True)
    except Exception:
        return None, None


CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18


def _err(ctypes: Any) -> str:
    return os.strerror(ctypes.get_errno())


def _unshare(ctypes: Any, libc: Any, flags: int) -> str | None:
    if libc is None:
        return "no ctypes"
    if libc.unshare(flags) != 0:
        return _err(ctypes)
    return None


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) and s[i + 1 : i + 4].isdigit():
            out.append(chr(int(s[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


MNT_DETACH = 2
# pivot_root has no glibc wrapper; its number per architecture (chroot is the fallback).
_PIVOT_ROOT = {
    "x86_64": 155,
    "aarch64": 41,
    "riscv64": 41,
    "loongarch64": 41,
    "ppc64le": 203,
    "ppc64": 203,
    "s390x": 217,
    "i686": 217,
    "i386": 217,
}
# Read-only views every interpreter needs: shared libraries and the loader's cache, time zones,
# the CPU topology some libraries (OpenBLAS, torch) read to size their thread pools.
_SYSTEM_READS = (
    "/lib",
    "/lib64",
    "/lib32",
    "/libx32",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/usr/libx32",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/sys/devices/system/cpu",
)
_DEVICES = ("null", "zero", "full", "random", "urandom")
# Where an interpreter that lives under /tmp is bound in a private root (see _restart_moved).
_MOVED = "/.sandbox-python"


# The seccomp filter (_install_seccomp). Hand-written BPF through ctypes rather than libseccomp's
# bindings (pyseccomp, or Debian's python3-seccomp for the system Python): this file runs under
# any interpreter the caller names, with ``-I`` and only the standard library, and the filter is
# a short list of comparisons. Syscall numbers per architecture, from the kernel's unistd.h.
# fmt: off
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALLS = {
    "x86_64": {
        "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "ptrace": 101, "pivot_root": 155,
        "chroot": 161, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168,
        "reboot": 169, "init_module": 175, "delete_module": 176, "kexec_load": 246,
        "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
        "perf_event_open": 298, "setns": 308, "process_vm_readv": 310,
        "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
        "execveat": 322, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "clone3": 435, "mount_setattr": 442,
    },
    "aarch64": {
        "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "unshare": 97,
        "kexec_load": 104, "init_module": 105, "delete_module": 106, "ptrace": 117,
        "reboot": 142, "add_key": 217, "request_key": 218, "keyctl": 219, "clone": 220,
        "execve": 221, "swapon": 224, "swapoff": 225, "perf_event_open": 241, "setns": 268,
        "process_vm_readv": 270, "process_vm_writev": 271, "finit_module": 273, "bpf": 280,
        "execveat": 281, "kexec_file_load": 294, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "clone3": 435, "mount_setattr": 442,
    },
}
# Refused (EPERM) whatever the limits: what model-written code never needs and an escape uses.
SECCOMP_DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "mount_setattr", "ptrace", "process_vm_readv",
    "process_vm_writev", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
)
# fmt: on
SECCOMP_EXEC = ("execve", "execveat")  # refused with block_subprocess
SECCOMP_FORK = ("fork", "vfork")  # refused (with clone without CLONE_THREAD) with deny_fork
CLONE_THREAD = 0x10000
# Namespace flags, refused in clone always (clone3 cannot be inspected: ENOSYS, see below).
CLONE_NAMESPACES = 0x7E020080  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
_X32_BIT = 0x40000000  # x86_64's x32 ABI: same audit arch, numbers with this bit set
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program(
    machine: str, deny_exec: bool, deny_fork: bool
) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions over struct seccomp_data (nr at offset 0,
    arch at 4, the low half of args[0] at 16 on these little-endian machines).

    A foreign architecture (i386 through int 0x80 on x86_64, say) kills the process. Each refused
    number is a compare and a return, so no jump is longer than the clone block. clone3 answers
    ENOSYS: its flags sit in memory seccomp cannot read, and glibc then falls back to clone,
    whose flags are checked: namespace flags refused, and without CLONE_THREAD (a new process
    rather than a thread) refused when deny_fork.
    """
    import errno

    numbers = _SYSCALLS[machine]
    eperm = _RET_ERRNO | errno.EPERM
    prog = [(_LD_W_ABS, 0, 0, 4), (_JEQ, 1, 0, _AUDIT_ARCH[machine])]
    prog += [(_RET, 0, 0, _RET_KILL_PROCESS), (_LD_W_ABS, 0, 0, 0)]
    if machine == "x86_64":
        prog += [(_JGE, 0, 1, _X32_BIT), (_RET, 0, 0, eperm)]
    names = list(SECCOMP_DENIED)
    names += list(SECCOMP_EXEC) if deny_exec else []
    names += list(SECCOMP_FORK) if deny_fork else []
    for name in names:
        if name in numbers:
            prog += [(_JEQ, 0, 1, numbers[name]), (_RET, 0, 0, eperm)]
    prog += [(_JEQ, 0, 1, numbers["clone3"]), (_RET, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    clone = [(_LD_W_ABS, 0, 0, 16), (_JSET, 0, 1, CLONE_NAMESPACES), (_RET, 0, 0, eperm)]
    if deny_fork:
        clone += [(_JSET, 1, 0, CLONE_THREAD), (_RET, 0, 0, eperm)]
    clone += [(_RET, 0, 0, _RET_ALLOW)]
    prog += [(_JEQ, 0, len(clone), numbers["clone"])] + clone
    prog += [(_RET, 0, 0, _RET_ALLOW)]
    return prog


def _install_seccomp(ctypes: Any, libc: Any, deny_exec: bool, deny_fork: bool) -> str | None:
    """Install the filter on this process (and what it starts); the error, or None."""
    import struct

    machine = os.uname().machine
    if libc is None:
        return "no ctypes"
    if machine not in _SYSCALLS:
        return "no syscall table for " + machine
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return "no_new_privs: " + _err(ctypes)
    prog = seccomp_program(machine, deny_exec, deny_fork)
    code = b"".join(struct.pack("=HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.addressof(buf))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return "prctl(PR_SET_SECCOMP): " + _err(ctypes)
    return None


class _RootFailed(Exception):
    pass


def _private_root(
    ctypes: Any, libc: Any, cfg: dict[str, Any], report: dict[str, Any], new_proc: bool
) -> bool:
    """Build a new root on a tmpfs holding only what the program may see, and move into it.

    Read-only: the interpreter's prefixes (so its standard library and site-packages), the
    caller's read_paths, _SYSTEM_READS. Read-write: the work folder. Fresh: /proc, a /dev with a
    few device nodes and its own /dev/shm, /tmp. Everything else of the host is out of reach.
    """
    fs = os.fsencode
    workdir = cfg["workdir"]
    root = os.path.join(workdir, ".sandbox-root")
    ro_flags = MS_RDONLY | MS_NOSUID | MS_NODEV

    def check(ok: bool, what: str) -> None:
        if not ok:
            raise _RootFailed(f"{what}: {_err(ctypes)}")

    def remount(target: str, flags: int, what: str) -> None:
        # Some mounts need their existing flags repeated (noexec, in user namespaces).
        for extra in (0, MS_NOEXEC):
            if (
                libc.mount(b"none", fs(target), None, MS_REMOUNT | MS_BIND | flags | extra, None)
                == 0
            ):
                return
        check(False, what)

    def bind(src: str, flags: int, at: str | None = None) -> None:
        target = root + (at or src)
        if os.path.isdir(src):
            if not os.path.isdir(target):
                os.makedirs(target)
        else:
            parent = os.path.dirname(target)
            if not os.path.isdir(parent):
                os.makedirs(parent)
            if not os.path.exists(target):
                open(target, "a").close()
        check(libc.mount(fs(src), fs(target), None, MS_BIND, None) == 0, "bind " + src)
        remount(target, flags, "remount " + src)

    def tmpfs(path: str, mode: int, size_mb: int) -> None:
        os.makedirs(root + path, exist_ok=True)
        opts = f"mode={mode:o},size={size_mb:d}m"
        check(
            libc.mount(b"tmpfs", fs(root + path), b"tmpfs", MS_NOSUID | MS_NODEV, fs(opts)) == 0,
            "tmpfs " + path,
        )

    own = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.abspath(sys.executable)),
    ]
    # Package folders the interpreter found elsewhere (a venv made from another venv sees that
    # one's site-packages); source folders that .pth files add stay out.
    own += [
        entry
        for entry in sys.path
        if isinstance(entry, str)
        and os.path.basename(entry.rstrip("/")) in ("site-packages", "dist-packages")
        and os.path.isdir(entry)
    ]
    # An interpreter (a venv, a checkout) under /tmp would show in the program's private /tmp:
    # its tree goes under _MOVED instead, and the worker restarts it from there.
    move = _under_tmp(os.path.dirname(os.path.abspath(sys.executable))) and hasattr(
        sys, "orig_argv"
    )

    def seen_at(path: str, movable: bool) -> str:
        return _MOVED + path if movable and move and _under_tmp(path) else path

    reads = [(path, True) for path in own]
    reads += [(path, False) for path in list(cfg.get("read_paths") or ()) + list(_SYSTEM_READS)]
    reals, links = {}, []
    for path, movable in reads:
        path = os.path.abspath(path)
        if not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        reals[seen_at(real, movable)] = real
        if real != path:
            links.append((seen_at(path, movable), seen_at(real, movable)))
    os.mkdir(root, 0o755)
    check(
        libc.mount(b"tmpfs", fs(root), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=755,size=1m") == 0,
        "tmpfs root",
    )
    try:
        # /tmp first: read paths and the work folder below /tmp are bound on top of it.
        tmpfs("/tmp", 0o1777, int(cfg.get("tmp_mb", 64)))
        bound = []
        for at in sorted(reals, key=lambda p: (p.count("/"), p)):
            real, covered = reals[at], False
            for done in bound:
                if at.startswith(done.rstrip("/") + "/"):
                    covered = os.stat(real).st_dev == os.stat(reals[done]).st_dev
                    if covered:
                        break
            if not covered:
                bind(real, ro_flags, at)
                bound.append(at)
        for path, real in sorted(links):
            target = root + path
            if os.path.lexists(target):
                continue
            parent = os.path.dirname(target)
            if not os.path.isdir(parent):
                os.makedirs(parent)
            os.symlink(real, target)
        tmpfs("/dev", 0o755, 1)
        for name in _DEVICES:
            if os.path.exists("/dev/" + name):
                bind("/dev/" + name, MS_NOSUID)
        for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
            os.symlink(f"/proc/self/fd/{fd:d}", root + "/dev/" + name)
        os.symlink("/proc/self/fd", root + "/dev/fd")
        tmpfs("/dev/shm", 0o1777, int(cfg.get("tmp_mb", 64)))
        remount(root + "/dev", ro_flags, "remount /dev")
        os.makedirs(root + "/proc")
        if new_proc:
            flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
            check(libc.mount(b"proc", fs(root + "/proc"), b"proc", flags, None) == 0, "proc")
            report["proc"] = "private"
        else:
            # No PID namespace: a proc of the host's PID namespace, the process list visible.
            check(
                libc.mount(
                    b"proc", fs(root + "/proc"), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None
                )
                == 0,
                "proc",
            )
            report["proc"] = "host pids"
        if not os.path.isdir(root + workdir):
            os.makedirs(root + workdir)
        check(
            libc.mount(fs(workdir), fs(root + workdir), None, MS_BIND, None) == 0,
            "bind work folder",
        )
        remount(root + workdir, MS_NOSUID | MS_NODEV, "remount work folder")
        os.chdir(root)
        number = _PIVOT_ROOT.get(os.uname().machine)
        if number is not None and libc.syscall(number, b".", b".") == 0:
            # The old root now sits on top of the new one: detach it.
            check(libc.umount2(b".", MNT_DETACH) == 0, "detach the old root")
            report["filesystem"] = "private root (pivot_root)"
        else:
            check(libc.chroot(b".") == 0, "chroot")
            report["filesystem"] = "private root (chroot)"
        os.chdir("/")
        remount("/", ro_flags, "remount / read-only")
    except (_RootFailed, OSError) as exc:
        report["filesystem"] = "host"
        report["private_root_error"] = str(exc)
        os.chdir(workdir)
        libc.umount2(fs(root), MNT_DETACH)
        try:
            os.rmdir(root)
        except OSError:
            pass
        return False
    try:
        os.rmdir(root)  # the empty mount point, seen through the work folder
    except OSError:
        pass
    report["mounts"] = "read-only"
    if move:
        report["interpreter_moved_to"] = _MOVED + os.path.abspath(sys.executable)
    return True


def _under_tmp(path: str) -> bool:
    return path == "/tmp" or path.startswith("/tmp/")


def _restart_moved(cfg: dict[str, Any], report: dict[str, Any]) -> None:
    """Run the interpreter again from where _private_root bound its tree (it lies under /tmp):
    the same command line, the report so far handed on. Returns only if that fails."""
    exe = report.pop("interpreter_moved_to")
    argv = list(sys.orig_argv)
    argv[-1] = json.dumps(dict(cfg, resume=report))
    try:
        os.execv(exe, [exe] + argv[1:])
    except OSError as exc:
        report["private_root_error"] = f"restarting the interpreter at {exe}: {exc}"


def _setup_mounts(
    ctypes: Any, libc: Any, cfg: dict[str, Any], report: dict[str, Any], new_proc: bool
) -> None:
    workdir = cfg["workdir"]

    def b(s: str) -> bytes:
        return s.encode()

    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        report["mounts"] = "failed: make-private: " + _err(ctypes)
        return
    if cfg.get("private_root") and _private_root(ctypes, libc, cfg, report, new_proc):
        return
    # Fallback: the host's tree, every mount read-only but the work folder; reads allowed.
    report["filesystem"] = "host, read-only"
    if libc.mount(b(workdir), b(workdir), None, MS_BIND, None) != 0:
        report["mounts"] = "failed: bind work folder: " + _err(ctypes)
        return
    if new_proc:
        flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
        if libc.mount(b"proc", b"/proc", b"proc", flags, None) == 0:
            report["proc"] = "private"
        else:
            report["proc"] = "host: " + _err(ctypes)
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 4:
                points.append(_unescape(parts[4]))
    failed = []
    for point in points:
        if point == workdir or point == "/proc" or point.startswith("/proc/"):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        if libc.mount(b"none", b(point), None, flags, None) != 0:
            # Some mounts need their existing flags repeated (nosuid, nodev, noexec).
            for extra in (MS_NOSUID | MS_NODEV | MS_NOEXEC, MS_NOSUID | MS_NODEV, MS_NOSUID):
                if libc.mount(b"none", b(point), None, flags | extra, None) == 0:
                    break
            else:
                failed.append(point)
    report["mounts"] = "read-only" if not failed else "read-only except " + ",".join(failed)


def _drop_caps(ctypes: Any, libc: Any, report: dict[str, Any], cfg: dict[str, Any]) -> None:
    """Drop every capability and, as root, become ``cfg["user"]`` (uid, gid): the bounding set
    first (that needs CAP_SETPCAP), then the ids (CAP_SETUID, CAP_SETGID), then what is left.

    The ids are switched outright (setresuid to "nobody" once the mounts are built) rather than
    root mapped to another uid in a user namespace: the kernel checks files against the same
    host uid either way, and the namespace would add a root with capabilities over its own
    mounts and namespaces for the program to work with. The work folder is handed to that user
    first; what else it reads is bound read-only under folders of this root's own tmpfs, so
    only the bound folders' own modes count. When the interpreter lies behind a folder closed to
    others (no private root, pyenv under /root), the switch is not made and ``uid_error`` says
    why (the worker then fails closed unless told otherwise).
    """
    PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 24, 38, 47
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)
    user = cfg.get("user")
    if user and os.getuid() == 0:
        uid, gid = user
        try:
            closed = _closed_to(uid, os.path.dirname(os.path.abspath(os.__file__)))
            if closed:
                # Switching would leave an interpreter that cannot import its standard library.
                raise OSError(f"the interpreter's files are not readable by uid {uid} ({closed})")
            for folder, dirs, names in os.walk(cfg["workdir"]):
                for name in [folder] + [os.path.join(folder, n) for n in dirs + names]:
                    os.chown(name, uid, gid, follow_symlinks=False)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        except OSError as exc:
            report["uid_error"] = str(exc)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header, data = Header(0x20080522, 0), (Data * 2)()
    ok = libc.capset(ctypes.byref(header), ctypes.byref(data)) == 0
    nnp = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    report["capabilities"] = "dropped" if ok else "kept: " + _err(ctypes)
    report["no_new_privs"] = nnp


def _closed_to(uid: int, folder: str) -> str | None:
    """The first folder from / down to ``folder`` (as this process sees them, so in a private
    root only its own bind mounts count) that ``uid``, without groups, may not enter or list."""
    path = "/"
    for part in [""] + os.path.realpath(folder).strip("/").split("/"):
        path = os.path.join(path, part)
        st = os.stat(path)
        bits = st.st_mode >> 6 if st.st_uid == uid else st.st_mode
        need = 0o5 if path == os.path.realpath(folder) else 0o1
        if bits & need != need:
            return path
    return None


def _install_hook(
    workdir: str,
    block_subprocess: bool,
    allow_fork: bool,
    block_network: bool,
    private_tmp: bool,
    read_only: list[str] | tuple[str, ...],
) -> None:
    import socket

    real, sep = os.path.realpath, os.sep
    allowed = ("/dev/null",)
    # In a private root /tmp and /dev/shm are the sandbox's own tmpfs mounts (bar the read
    # paths bound into them).
    writable = [workdir] + (["/tmp", "/dev/shm"] if private_tmp else [])
    read_only = [real(path) for path in read_only]
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    path_events = {
        "os.remove": (0,),
        "os.rmdir": (0,),
        "os.mkdir": (0,),
        "os.chmod": (0,),
        "os.chown": (0,),
        "os.rename": (0, 1),
        "os.link": (1,),
        "os.symlink": (1,),
        "os.truncate": (0,),
        "os.utime": (0,),
        "os.setxattr": (0,),
        "os.removexattr": (0,),
        "os.chflags": (0,),
        "os.lchown": (0,),
        "os.lchmod": (0,),
        "os.mkfifo": (0,),
        "os.mknod": (0,),
    }
    proc_events = {
        "os.fork",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "subprocess.Popen",
        "os.forkpty",
        "pty.spawn",
        "os.startfile",
    }
    inet = (socket.AF_INET, getattr(socket, "AF_INET6", -1))
    own_group = os.getpgrp()

    def inside(path: object) -> bool:
        if path is None or isinstance(path, int):
            return True
        try:
            path = os.fsdecode(os.fspath(path))
        except TypeError:
            return True
        resolved = real(path)
        if resolved in allowed or resolved == workdir or resolved.startswith(workdir + sep):
            return True
        for top in read_only:
            if resolved == top or resolved.startswith(top + sep):
                return False
        for top in writable:
            if resolved == top or resolved.startswith(top + sep):
                return True
        return False

    def deny(what: str) -> NoReturn:
        raise PermissionError(f"sandbox: {what} is not allowed")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in mode for c in "wxa+")) or (
                isinstance(flags, int) and flags & write_flags
            )
            if writing and not inside(path):
                deny(f"writing {path!r} outside the work folder")
        elif event in path_events:
            for index in path_events[event]:
                if index < len(args) and not inside(args[index]):
                    deny(f"{event} on {args[index]!r} outside the work folder")
        elif event in proc_events:
            if block_subprocess and (event != "os.fork" or not allow_fork):
                deny(f"starting programs ({event})")
        elif block_network and event in (
            "socket.connect",
            "socket.bind",
            "socket.sendto",
            "socket.sendmsg",
        ):
            sock = args[0]
            if getattr(sock, "family", None) in inet:
                deny(f"network access ({event})")
        elif event == "os.kill":
            pid = args[0]
            if pid < -1 and -pid != own_group or pid == -1:
                deny("signalling other processes")
        elif event == "os.killpg":
            if args[0] not in (0, own_group):
                deny("signalling other process groups")

    sys.addaudithook(hook)


def _worker(cfg: dict[str, Any], report: dict[str, Any], report_fd: int) -> None:
    workdir = cfg["workdir"]
    os.chdir(workdir)
    sys.dont_write_bytecode = True
    sys.path.insert(0, workdir)
    if cfg.get("audit", True):
        _install_hook(
            workdir,
            cfg.get("block_subprocess", True),
            cfg.get("allow_fork", False),
            cfg.get("block_network", True),
            str(report.get("filesystem", "")).startswith("private root"),
            cfg.get("read_paths") or (),
        )
        report["audit_hook"] = True
    report["uid"] = os.geteuid()
    # Last, just before the program: everything above may still need what the filter refuses.
    failed = []
    if cfg.get("seccomp"):
        block = cfg.get("block_subprocess", True)
        ctypes, libc = _libc()
        error = _install_seccomp(ctypes, libc, block, block and not cfg.get("allow_fork"))
        report["seccomp"] = "filter" if error is None else "failed: " + error
        if error is not None:
            failed.append("seccomp filter: " + error)
    else:
        report["seccomp"] = "off"
    if report["uid"] == 0 or os.getuid() == 0:
        failed.append("running as uid 0: " + report.get("uid_error", "no user to switch to"))
    if failed and cfg.get("require_isolation"):
        report["isolation_error"] = "; ".join(failed)
        os.write(report_fd, (json.dumps(report) + "\n").encode())
        sys.stderr.write(
            "sandbox: refusing to run the program without its protections ("
            + report["isolation_error"]
            + "); SandboxLimits(require_isolation=False) runs it anyway\n"
        )
        sys.stderr.flush()
        os._exit(70)
    report["ready"] = True
    os.write(report_fd, (json.dumps(report) + "\n").encode())
    os.close(report_fd)
    main = os.path.join(workdir, cfg["main"])
    with open(main, "rb") as fh:
        source = fh.read()
    code = compile(source, main, "exec")
    namespace = {"__name__": "__main__", "__file__": main, "__builtins__": __builtins__}
    sys.argv = [main] + list(cfg.get("argv", []))
    try:
        exec(code, namespace)
    except SystemExit:
        raise
    except BaseException as exc:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        sys.exit(1)


def _relay(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except InterruptedError:
            continue


def _exit_like(status: int) -> NoReturn:
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _main() -> None:
    import resource

    cfg = json.loads(sys.argv[1])
    report_fd = cfg["report_fd"]
    if "resume" in cfg:  # restarted by _restart_moved: limits and namespaces are in place
        report = cfg.pop("resume")
        ctypes, libc = _libc()
        if cfg.get("drop_caps") and libc is not None:
            _drop_caps(ctypes, libc, report, cfg)
        _worker(cfg, report, report_fd)
        return
    report = {
        "pid_namespace": False,
        "network": "shared",
        "mounts": "shared",
        "filesystem": "host",
        "capabilities": "kept",
        "processes": "none",
        "audit_hook": False,
    }
    for name, limits in sorted(cfg.get("rlimits", {}).items()):
        res = getattr(resource, name, None)
        if res is None:
            continue
        try:
            resource.setrlimit(res, tuple(limits))
        except (ValueError, OSError) as exc:
            report["rlimit_" + name] = f"failed: {exc}"
    if "RLIMIT_NPROC" in cfg.get("rlimits", {}) and "rlimit_RLIMIT_NPROC" not in report:
        report["processes"] = "rlimit-nproc"
    cgroup = cfg.get("cgroup")
    if cgroup:
        try:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as fh:
                fh.write(str(os.getpid()))
            report["processes"] = "pids-cgroup"
        except OSError as exc:
            report["cgroup_error"] = str(exc)
    ctypes, libc = _libc()
    want_net, want_mounts, want_pid = cfg.get("netns"), cfg.get("mountns"), cfg.get("pidns")
    user_ns = cfg.get("userns")
    got_pid = False
    if want_net or want_mounts or want_pid or user_ns:
        flags = (CLONE_NEWUSER if user_ns else 0) | (CLONE_NEWNET if want_net else 0)
        flags |= (CLONE_NEWNS if want_mounts else 0) | (CLONE_NEWPID if want_pid else 0)
        error = _unshare(ctypes, libc, flags)
        if error is None:
            report["network"] = ("userns+netns" if user_ns else "netns") if want_net else "shared"
            got_mounts, got_pid = bool(want_mounts), bool(want_pid)
        else:
            report["unshare_error"] = error
            got_mounts = False
            # Take what can be had, one namespace at a time.
            net_flags = (CLONE_NEWUSER if user_ns else 0) | CLONE_NEWNET
            if want_net and _unshare(ctypes, libc, net_flags) is None:
                report["network"] = "userns+netns" if user_ns else "netns"
            if want_mounts and not user_ns and _unshare(ctypes, libc, CLONE_NEWNS) is None:
                got_mounts = True
            if want_pid and not user_ns and _unshare(ctypes, libc, CLONE_NEWPID) is None:
                got_pid = True
    else:
        got_mounts = False
    if got_pid:
        # PID 1 cannot kill itself with a signal, so it hands the worker's wait status here.
        status_r, status_w = os.pipe()
        init = os.fork()
        if init:
            os.close(report_fd)
            os.close(status_w)
            init_status = _relay(init)
            relayed = os.read(status_r, 64)
            _exit_like(int(relayed) if relayed.strip() else init_status)
        os.close(status_r)
        # PID 1 of the new namespace: die with the outer process, reap, relay the worker.
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
        report["pid_namespace"] = True
    if got_mounts:
        _setup_mounts(ctypes, libc, cfg, report, new_proc=got_pid)
    if got_pid:
        worker = os.fork()
        if worker:
            os.close(report_fd)
            status = None
            while True:
                try:
                    pid, st = os.wait()
                except ChildProcessError:
                    break
                except InterruptedError:
                    continue
                if pid == worker:
                    status = st
                    break
            os.write(status_w, str(status if status is not None else 0).encode())
            os._exit(0)
    if "interpreter_moved_to" in report:
        _restart_moved(cfg, report)
    if cfg.get("drop_caps") and libc is not None:
        _drop_caps(ctypes, libc, report, cfg)
    _worker(cfg, report, report_fd)


if __name__ == "__main__":
    _main()
