"""Run untrusted (model-written) Python in a disposable, limited subprocess.

One call of :func:`run_python` starts one interpreter in a fresh temporary folder and returns a
:class:`SandboxResult` once the program ends or a limit stops it. What is enforced, and by whom:

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
    All capabilities are then dropped (bounding set, effective, permitted, ambient) and
    ``no_new_privs`` is set: the program keeps uid 0 but cannot remount, change
    namespaces or gain privileges through setuid binaries. The user id is kept because the
    interpreter may live under /root (pyenv): another uid cannot read it.
  * fork bombs: as root, a pids cgroup (v1 ``/sys/fs/cgroup/pids`` or a v2 hierarchy with the
    pids controller) caps the number of tasks (processes and threads); RLIMIT_NPROC is not
    enforced for uid 0, so it is used only when the caller is not root (set to the tasks the user
    already has plus ``max_procs``).
  * not root: a user namespace plus a network namespace where unprivileged user namespaces are
    allowed, and RLIMIT_NPROC. No mount namespace: the files are guarded by the user id's own
    permissions and the audit hook only (``isolation["filesystem"] == "host"``).

Audit hook installed in the child before the program starts (Python level only; ctypes or a C
extension can go around it, which is why the kernel layer above comes first):
  * opening a file for writing, or removing, renaming, linking, chmod-ing, creating a folder,
    outside the work folder (``/dev/null`` allowed; in a private root also its own /tmp and
    /dev/shm, bar the read paths);
  * ``os.system``, ``os.exec*``, ``os.spawn*``, ``os.posix_spawn``, ``subprocess.Popen``
    (``block_subprocess=True``, the default; ``os.fork`` stays allowed: harnesses fork per test);
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SandboxResult",
    "SandboxSupport",
    "detect_support",
    "run_python",
]

MIB = 1024 * 1024

# The child side. Kept compatible with Python 3.8+ because `python=` may name another
# interpreter (the dataset builder runs code under old library versions). It receives one JSON
# argument and runs in three processes when PID namespaces are available:
#   outer (our pid is what the parent waits for) -> init (PID 1 in the new namespace, reaps)
#   -> worker (runs the program).
_BOOTSTRAP = r'''
import json, os, sys

def _libc():
    try:
        import ctypes
        return ctypes, ctypes.CDLL(None, use_errno=True)
    except Exception:
        return None, None

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18

def _err(ctypes):
    return os.strerror(ctypes.get_errno())

def _unshare(ctypes, libc, flags):
    if libc is None:
        return "no ctypes"
    if libc.unshare(flags) != 0:
        return _err(ctypes)
    return None

def _unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)

MNT_DETACH = 2
# pivot_root has no glibc wrapper; its number per architecture (chroot is the fallback).
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "loongarch64": 41, "ppc64le": 203,
               "ppc64": 203, "s390x": 217, "i686": 217, "i386": 217}
# Read-only views every interpreter needs: shared libraries and the loader's cache, time zones,
# the CPU topology some libraries (OpenBLAS, torch) read to size their thread pools.
_SYSTEM_READS = ("/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32",
                 "/usr/libx32", "/usr/share/zoneinfo", "/etc/ld.so.cache", "/etc/ld.so.conf",
                 "/etc/ld.so.conf.d", "/etc/localtime", "/sys/devices/system/cpu")
_DEVICES = ("null", "zero", "full", "random", "urandom")
# Where an interpreter that lives under /tmp is bound in a private root (see _restart_moved).
_MOVED = "/.sandbox-python"

class _RootFailed(Exception):
    pass

def _private_root(ctypes, libc, cfg, report, new_proc):
    """Build a new root on a tmpfs holding only what the program may see, and move into it.

    Read-only: the interpreter's prefixes (so its standard library and site-packages), the
    caller's read_paths, _SYSTEM_READS. Read-write: the work folder. Fresh: /proc, a /dev with a
    few device nodes and its own /dev/shm, /tmp. Everything else of the host is out of reach.
    """
    fs = os.fsencode
    workdir = cfg["workdir"]
    root = os.path.join(workdir, ".sandbox-root")
    ro_flags = MS_RDONLY | MS_NOSUID | MS_NODEV

    def check(ok, what):
        if not ok:
            raise _RootFailed("%s: %s" % (what, _err(ctypes)))

    def remount(target, flags, what):
        # Some mounts need their existing flags repeated (noexec, in user namespaces).
        for extra in (0, MS_NOEXEC):
            if libc.mount(b"none", fs(target), None, MS_REMOUNT | MS_BIND | flags | extra,
                          None) == 0:
                return
        check(False, what)

    def bind(src, flags, at=None):
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

    def tmpfs(path, mode, size_mb):
        os.makedirs(root + path, exist_ok=True)
        opts = "mode=%o,size=%dm" % (mode, size_mb)
        check(libc.mount(b"tmpfs", fs(root + path), b"tmpfs", MS_NOSUID | MS_NODEV,
                         fs(opts)) == 0, "tmpfs " + path)

    own = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
           os.path.dirname(os.path.abspath(sys.executable))]
    # Package folders the interpreter found elsewhere (a venv made from another venv sees that
    # one's site-packages); source folders that .pth files add stay out.
    own += [entry for entry in sys.path if isinstance(entry, str) and os.path.basename(
        entry.rstrip("/")) in ("site-packages", "dist-packages") and os.path.isdir(entry)]
    # An interpreter (a venv, a checkout) under /tmp would show in the program's private /tmp:
    # its tree goes under _MOVED instead, and the worker restarts it from there.
    move = _under_tmp(os.path.dirname(os.path.abspath(sys.executable))) and hasattr(
        sys, "orig_argv")

    def seen_at(path, movable):
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
    check(libc.mount(b"tmpfs", fs(root), b"tmpfs", MS_NOSUID | MS_NODEV,
                     b"mode=755,size=1m") == 0, "tmpfs root")
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
            os.symlink("/proc/self/fd/%d" % fd, root + "/dev/" + name)
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
            check(libc.mount(b"proc", fs(root + "/proc"), b"proc", MS_NOSUID | MS_NODEV
                             | MS_NOEXEC, None) == 0, "proc")
            report["proc"] = "host pids"
        if not os.path.isdir(root + workdir):
            os.makedirs(root + workdir)
        check(libc.mount(fs(workdir), fs(root + workdir), None, MS_BIND, None) == 0,
              "bind work folder")
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

def _under_tmp(path):
    return path == "/tmp" or path.startswith("/tmp/")

def _restart_moved(cfg, report):
    """Run the interpreter again from where _private_root bound its tree (it lies under /tmp):
    the same command line, the report so far handed on. Returns only if that fails."""
    exe = report.pop("interpreter_moved_to")
    argv = list(sys.orig_argv)
    argv[-1] = json.dumps(dict(cfg, resume=report))
    try:
        os.execv(exe, [exe] + argv[1:])
    except OSError as exc:
        report["private_root_error"] = "restarting the interpreter at %s: %s" % (exe, exc)

def _setup_mounts(ctypes, libc, cfg, report, new_proc):
    workdir = cfg["workdir"]
    b = lambda s: s.encode()
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

def _drop_caps(ctypes, libc, report):
    PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 24, 38, 47
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    ok = libc.capset(ctypes.byref(header), ctypes.byref(data)) == 0
    nnp = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    report["capabilities"] = "dropped" if ok else "kept: " + _err(ctypes)
    report["no_new_privs"] = nnp

def _install_hook(workdir, block_subprocess, block_network, private_tmp, read_only):
    import socket
    real, sep = os.path.realpath, os.sep
    allowed = ("/dev/null",)
    # In a private root /tmp and /dev/shm are the sandbox's own tmpfs mounts (bar the read
    # paths bound into them).
    writable = [workdir] + (["/tmp", "/dev/shm"] if private_tmp else [])
    read_only = [real(path) for path in read_only]
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    path_events = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.chmod": (0,),
                   "os.chown": (0,), "os.rename": (0, 1), "os.link": (1,), "os.symlink": (1,),
                   "os.truncate": (0,), "os.utime": (0,), "os.setxattr": (0,),
                   "os.removexattr": (0,), "os.chflags": (0,), "os.lchown": (0,),
                   "os.lchmod": (0,), "os.mkfifo": (0,), "os.mknod": (0,)}
    proc_events = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
                   "os.forkpty", "pty.spawn", "os.startfile"}
    inet = (socket.AF_INET, getattr(socket, "AF_INET6", -1))
    own_group = os.getpgrp()

    def inside(path):
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

    def deny(what):
        raise PermissionError("sandbox: %s is not allowed" % what)

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in mode for c in "wxa+")) or (
                isinstance(flags, int) and flags & write_flags)
            if writing and not inside(path):
                deny("writing %r outside the work folder" % (path,))
        elif event in path_events:
            for index in path_events[event]:
                if index < len(args) and not inside(args[index]):
                    deny("%s on %r outside the work folder" % (event, args[index]))
        elif event in proc_events:
            if block_subprocess:
                deny("starting programs (%s)" % event)
        elif block_network and event in ("socket.connect", "socket.bind", "socket.sendto",
                                          "socket.sendmsg"):
            sock = args[0]
            if getattr(sock, "family", None) in inet:
                deny("network access (%s)" % event)
        elif event == "os.kill":
            pid = args[0]
            if pid < -1 and -pid != own_group or pid == -1:
                deny("signalling other processes")
        elif event == "os.killpg":
            if args[0] not in (0, own_group):
                deny("signalling other process groups")

    sys.addaudithook(hook)

def _worker(cfg, report, report_fd):
    workdir = cfg["workdir"]
    os.chdir(workdir)
    sys.dont_write_bytecode = True
    sys.path.insert(0, workdir)
    if cfg.get("audit", True):
        _install_hook(workdir, cfg.get("block_subprocess", True), cfg.get("block_network", True),
                      str(report.get("filesystem", "")).startswith("private root"),
                      cfg.get("read_paths") or ())
        report["audit_hook"] = True
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

def _relay(pid):
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except InterruptedError:
            continue

def _exit_like(status):
    import signal
    sys.stdout.flush()
    sys.stderr.flush()
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)

def _main():
    import resource
    cfg = json.loads(sys.argv[1])
    report_fd = cfg["report_fd"]
    if "resume" in cfg:  # restarted by _restart_moved: limits and namespaces are in place
        report = cfg.pop("resume")
        ctypes, libc = _libc()
        if cfg.get("drop_caps") and libc is not None:
            _drop_caps(ctypes, libc, report)
        _worker(cfg, report, report_fd)
        return
    report = {"pid_namespace": False, "network": "shared", "mounts": "shared",
              "filesystem": "host", "capabilities": "kept", "processes": "none",
              "audit_hook": False}
    for name, limits in sorted(cfg.get("rlimits", {}).items()):
        res = getattr(resource, name, None)
        if res is None:
            continue
        try:
            resource.setrlimit(res, tuple(limits))
        except (ValueError, OSError) as exc:
            report["rlimit_" + name] = "failed: %s" % exc
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
        _drop_caps(ctypes, libc, report)
    _worker(cfg, report, report_fd)

_main()
'''


@dataclass
class SandboxResult:
    """What one sandboxed run did.

    status: "ok" (exit code 0), "error" (another exit code or a signal), "timeout" (wall clock or
    CPU limit), "memory" (MemoryError under the address-space limit), "sandbox_error" (the
    sandbox itself could not start the program).
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
        report_r, report_w = os.pipe()
        cfg = {"workdir": str(workdir.resolve()), "main": "main.py", "report_fd": report_w,
               **cfg_extra}
        try:
            proc = subprocess.run(
                [python, "-I", "-c", _BOOTSTRAP, json.dumps(cfg)],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                pass_fds=(report_w,), start_new_session=True, env=_base_env(workdir, None),
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
        return SandboxSupport(python, root, False, False, False, False, None, False,
                              ("not Linux: only rlimits, timeouts and the audit hook",))
    if root:
        cgroup = _make_cgroup(64)
        report = _probe(python, {"netns": True, "mountns": True, "pidns": True,
                                 "drop_caps": True, "private_root": True,
                                 "cgroup": str(cgroup) if cgroup else None})
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
            notes.append("no private root (reads anywhere allowed): "
                         f"{report.get('private_root_error')}")
        cgroup_base = _cgroup_base()
        return SandboxSupport(
            python=python,
            root=True,
            network_namespace=bool(ok and report.get("network") == "netns"),
            mount_namespace=bool(ok and mounts.startswith("read-only")),
            pid_namespace=bool(ok and report.get("pid_namespace")),
            drop_capabilities=bool(ok and report.get("capabilities") == "dropped"),
            pids_cgroup=cgroup_base[1] if (
                cgroup_base and ok and report.get("processes") == "pids-cgroup") else None,
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


def _classify(returncode: int | None, timed_out: bool, cpu_s: float, cpu_limit: float | None,
              stderr: str) -> str:
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


def run_python(
    code: str,
    *,
    files: Mapping[str, str | bytes] | None = None,
    timeout_s: float = 10.0,
    cpu_s: float | None = None,
    memory_mb: int | None = 1024,
    file_size_mb: int = 16,
    max_procs: int = 64,
    max_open_files: int = 1024,
    max_output_bytes: int = 64 * 1024,
    python: str | None = None,
    argv: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    network: bool = False,
    block_subprocess: bool = True,
    read_back: Sequence[str] = (),
    max_read_back_bytes: int = 8 * MIB,
    workdir_parent: str | os.PathLike[str] | None = None,
    keep_dir: bool = False,
    read_paths: Sequence[str | os.PathLike[str]] = (),
    tmp_mb: int = 64,
) -> SandboxResult:
    """Run ``code`` as ``__main__`` in a fresh folder under the limits above.

    files: extra files written into the folder first (relative names); the program can import
    them. cpu_s defaults to timeout_s. memory_mb limits the address space (None: no limit);
    torch alone maps about 0.5 GiB. max_procs counts tasks, so threads too. network=True skips
    the network namespace and the socket checks. read_back names files (relative) whose text is
    returned in ``SandboxResult.files`` when present. read_paths: files or folders (besides the
    interpreter's own) the program may read, bound read-only at the same path in its private
    root (without a private root they are readable anyway). tmp_mb: the size of its private
    /tmp and /dev/shm. Never raises for what the program does; raises ValueError for bad
    arguments.
    """
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    read_paths = [os.path.abspath(path) for path in read_paths]
    if "/" in read_paths:
        raise ValueError("read_paths cannot hold / (that would be no private root at all)")
    if tmp_mb < 1:
        raise ValueError("tmp_mb must be at least 1")
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
        cpu_limit = float(cpu_s if cpu_s is not None else timeout_s)
        cpu_soft = max(1, math.ceil(cpu_limit))
        rlimits: dict[str, list[int]] = {
            "RLIMIT_CPU": [cpu_soft, cpu_soft + 1],
            "RLIMIT_FSIZE": [file_size_mb * MIB, file_size_mb * MIB],
            "RLIMIT_NOFILE": [max_open_files, max_open_files],
            "RLIMIT_CORE": [0, 0],
        }
        if memory_mb is not None:
            rlimits["RLIMIT_AS"] = [memory_mb * MIB, memory_mb * MIB]
        if not support.root:
            nproc = _user_task_count() + max_procs
            rlimits["RLIMIT_NPROC"] = [nproc, nproc]
        elif support.pids_cgroup:
            cgroup = _make_cgroup(max_procs)
        report_r, report_w = os.pipe()
        cfg = {
            "workdir": str(workdir),
            "main": main,
            "argv": list(argv),
            "report_fd": report_w,
            "rlimits": rlimits,
            "cgroup": str(cgroup) if cgroup else None,
            "netns": support.network_namespace and not network,
            "userns": support.user_namespace and not network,
            "mountns": support.mount_namespace,
            "private_root": support.private_root,
            "read_paths": [str(path) for path in read_paths],
            "tmp_mb": tmp_mb,
            "pidns": support.pid_namespace,
            "drop_caps": support.drop_capabilities,
            "audit": True,
            "block_subprocess": block_subprocess,
            "block_network": not network,
        }
        try:
            proc = subprocess.Popen(
                [python, "-I", "-c", _BOOTSTRAP, json.dumps(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(report_w,),
                start_new_session=True,
                env=_base_env(workdir, env),
                cwd=workdir,
            )
        except OSError as exc:
            return SandboxResult("sandbox_error", None, "", f"could not start {python}: {exc}",
                                 time.monotonic() - started)
        finally:
            os.close(report_w)
            report_w = -1
        deadline = started + timeout_s
        out, err, timed_out, status, rusage = _communicate(proc, deadline, max_output_bytes)
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
        isolation = {key: report[key] for key in (
            "network", "mounts", "filesystem", "pid_namespace", "capabilities", "processes",
            "audit_hook", "proc", "no_new_privs", "unshare_error", "cgroup_error",
            "private_root_error") if key in report}
        if network:
            isolation["network"] = "allowed"
        collected: dict[str, str] = {}
        for name in read_back:
            target = workdir / _safe_relative(name)
            with contextlib.suppress(OSError):
                if target.is_file() and not target.is_symlink():
                    with target.open("rb") as fh:
                        collected[name] = fh.read(max_read_back_bytes).decode("utf-8", "replace")
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

