"""Hardening of a freshly forked worker, one mechanism at a time, each detected before use.

:func:`enter_namespaces` runs in the worker's parent (so the worker becomes PID 1 of a new PID
namespace, whose death takes every process of the submission with it); :func:`confine` runs in
the worker itself before it imports student code. Each returns what it turned on and, in plain
words, what it could not, so grading goes on on any Linux host and the result says which
protections were off. Linux only; ``ISOLATION.md`` in the research notes says why each is here.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import stat
from dataclasses import dataclass

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
WORKER_UID_BASE = 1_500_000_000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x20
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> bool:
    enc = (lambda v: v.encode() if v is not None else None)
    return _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) == 0


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker."""

    cpu_seconds: int = 60
    memory_bytes: int = 2 << 30       # address space above what the zygote already maps
    processes: int = 16
    file_bytes: int = 16 << 20
    open_files: int = 64
    scratch_bytes: int = 16 << 20


class Report(dict):
    """protection name -> "on" or "off: <why>"."""

    def on(self, name):
        self[name] = "on"

    def off(self, name, why):
        self[name] = f"off: {why}"


def _err() -> str:
    return os.strerror(ctypes.get_errno())


# --------------------------------------------------------------------------- in the parent


def enter_namespaces(report: Report) -> set[str]:
    """Unshare user (when not root), PID, network, mount, IPC and UTS namespaces.

    Returns the names of the namespaces entered; with "pid", the next child is its PID 1.
    """
    if os.geteuid() != 0:
        uid, gid = os.geteuid(), os.getegid()
        if _libc.unshare(CLONE_NEWUSER) != 0:
            report.off("namespaces", f"user namespaces unavailable ({_err()})")
            return set()
        try:
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError as e:
            report.off("namespaces", f"user namespace mapping failed ({e.strerror})")
            return set()
    wanted = {"network": CLONE_NEWNET, "pid": CLONE_NEWPID, "mount": CLONE_NEWNS,
              "ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS}
    if _libc.unshare(sum(wanted.values())) == 0:
        entered, missing = set(wanted), []
    else:
        entered, missing = set(), []
        for name, flag in wanted.items():
            if _libc.unshare(flag) == 0:
                entered.add(name)
            else:
                missing.append(f"{name} ({_err()})")
    if "mount" in entered and not _mount("none", "/", None, MS_REC | MS_PRIVATE):
        entered.discard("mount")              # mounts would reach the host: make none
        missing.append(f"private mounts ({_err()})")
    if missing:
        report.off("namespaces", "could not create " + ", ".join(missing))
    else:
        report.on("namespaces")
    return entered


def expose_to_uid(paths: list[str], report: Report) -> None:
    """Make ``paths`` reachable for an unprivileged uid where a folder above them is closed to
    others (a Python under /root, mode 700): that folder is covered, in this private mount
    namespace only, by an empty tmpfs into which just ``paths`` are bound back, read-only.
    Call as root, after entering a mount namespace."""
    closed: dict[str, list[str]] = {}
    for path in sorted({os.path.realpath(p) for p in paths if os.path.exists(p)}):
        parts = path.split(os.sep)[1:]
        for i in range(1, len(parts)):
            ancestor = os.sep + os.sep.join(parts[:i])
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                targets = closed.setdefault(ancestor, [])
                if not any(path.startswith(t + os.sep) for t in targets):
                    targets.append(path)
                break
    for ancestor, targets in closed.items():
        fds = [os.open(t, os.O_PATH | os.O_CLOEXEC) for t in targets]
        try:
            if not _mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k"):
                report.off("unprivileged uid", f"could not expose {ancestor} ({_err()})")
                continue
            for target, fd in zip(targets, fds):
                os.makedirs(target, mode=0o755, exist_ok=True)
                ok = _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC) and \
                    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC)
                if not ok:
                    report.off("unprivileged uid", f"could not bind {target} ({_err()})")
        finally:
            for fd in fds:
                os.close(fd)


# --------------------------------------------------------------------------- in the worker


def private_proc(report: Report, entered: set[str]) -> None:
    """Cover the host's ``/proc`` with one of the worker's own PID namespace (in its private
    mount namespace), so that it lists only the submission's own processes: not the grader, not
    other students' workers, not their command lines. Call in the worker, PID 1 of that
    namespace, before :func:`confine`."""
    if not {"pid", "mount"} <= entered:
        report.off("private /proc", "no PID and mount namespaces of its own")
    elif _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC):
        report.on("private /proc")
    else:
        report.off("private /proc", f"mounting /proc failed ({_err()})")



def confine(report: Report, *, readable: list[str], scratch: str, limits: Limits,
            keep_fds: list[int], uid: int | None, own_mounts: bool) -> None:
    """Confine the calling process: it may read ``readable``, write only ``scratch``.

    ``own_mounts`` says the process is in a mount namespace of its own, so a tmpfs may be
    mounted on ``scratch`` without the host seeing it.
    """
    try:
        os.setsid()
    except OSError:
        pass  # already a session leader (PID 1 of a new namespace)
    _scratch_tmpfs(report, scratch, limits.scratch_bytes, uid, own_mounts)
    _close_other_fds(keep_fds)
    _rlimits(report, limits)
    _landlock(report, readable, scratch)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _seccomp(report)
    if uid is not None:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            report.on("unprivileged uid")
        except OSError as e:
            report.off("unprivileged uid", e.strerror)
    elif os.geteuid() != 0:
        report["unprivileged uid"] = "on (started as an ordinary user)"
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)   # dies with its keeper; set last: a new uid clears it


def worker_uid() -> int | None:
    """A uid of its own for this worker when running as root (no such user exists)."""
    return WORKER_UID_BASE + os.getpid() if os.geteuid() == 0 else None


def _scratch_tmpfs(report, scratch, size, uid, own_mounts):
    if not own_mounts:
        report.off("size-capped scratch", "no mount namespace; file size limit only")
        if uid is not None:
            os.chown(scratch, uid, uid)
        return
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    if _mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0700{owner}"):
        report.on("size-capped scratch")
        return
    report.off("size-capped scratch", f"tmpfs mount failed ({_err()}); file size limit only")
    if uid is not None:
        os.chown(scratch, uid, uid)


def _close_other_fds(keep):
    keep = sorted(set(keep) | {0, 1, 2})
    last = 2
    for fd in keep:
        if fd > last + 1:
            os.closerange(last + 1, fd)
        last = max(last, fd)
    os.closerange(last + 1, 1 << 16)


def _rlimits(report, limits):
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    wanted = [
        ("cpu time", resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        ("memory", resource.RLIMIT_AS, (mapped + limits.memory_bytes,) * 2),
        ("file size", resource.RLIMIT_FSIZE, (limits.file_bytes,) * 2),
        ("open files", resource.RLIMIT_NOFILE, (limits.open_files,) * 2),
        ("core dumps", resource.RLIMIT_CORE, (0, 0)),
        ("processes", resource.RLIMIT_NPROC, (limits.processes,) * 2),
    ]
    for name, which, value in wanted:
        try:
            resource.setrlimit(which, value)
        except (OSError, ValueError) as e:
            report.off(f"limit: {name}", str(e))
    report.on("resource limits")


# --------------------------------------------------------------------------- Landlock


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


_FS_READ = (1 << 2) | (1 << 3)                # READ_FILE | READ_DIR
_FS_FILE_RIGHTS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)


def landlock_abi() -> int:
    abi = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


def _landlock(report, readable, scratch):
    abi = landlock_abi()
    if abi < 1:
        report.off("filesystem view", f"Landlock unavailable ({_err()})")
        return
    fs_bits = {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)
    handled_fs = (1 << fs_bits) - 1
    attr = _RulesetAttr(handled_fs, 0b11 if abi >= 4 else 0, 0b11 if abi >= 6 else 0)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    fd = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
    if fd < 0:
        report.off("filesystem view", f"Landlock ruleset failed ({_err()})")
        return
    rules = [(p, _FS_READ) for p in readable] + [(scratch, handled_fs)]
    rules += [(dev, ((1 << 1) | (1 << 2)) & handled_fs) for dev in ("/dev/null", "/dev/zero", "/dev/urandom")]
    try:
        for path, allowed in rules:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            if not os.path.isdir(path):
                allowed &= _FS_FILE_RIGHTS
            rule = _PathBeneath(allowed, pfd)
            rc = _libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(1), ctypes.byref(rule),
                               ctypes.c_uint32(0))
            os.close(pfd)
            if rc != 0:
                report.off("filesystem view", f"Landlock rule for {path} failed ({_err()})")
                return
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            report.off("filesystem view", f"Landlock restrict failed ({_err()})")
            return
    finally:
        os.close(fd)
    report.on("filesystem view")
    if abi >= 4:
        report.on("no TCP (Landlock)")
    if abi >= 6:
        report.on("signal scoping")
    else:
        report.off("signal scoping", f"Landlock ABI {abi} < 6")


# --------------------------------------------------------------------------- seccomp

_DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "unshare", "setns",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup",
    "execve", "execveat", "pivot_root", "chroot", "kexec_load", "init_module", "finit_module",
    "open_by_handle_at", "name_to_handle_at", "personality", "reboot", "swapon", "swapoff",
)


def _seccomp(report):
    try:
        import pyseccomp as sc
    except Exception as e:  # noqa: BLE001 - a missing libseccomp shows up here
        report.off("syscall filter", f"pyseccomp/libseccomp unavailable ({e})")
        return
    try:
        f = sc.SyscallFilter(sc.ALLOW)
        # no new socket of any family: the network namespace leaves a host's UNIX sockets (a
        # path in the file system) within reach; the grader's socket is open already
        f.add_rule(sc.ERRNO(errno.EACCES), "socket")
        for name in _DENIED_SYSCALLS:
            try:
                f.add_rule(sc.ERRNO(errno.EPERM), name)
            except Exception:  # noqa: BLE001 - a syscall this architecture lacks
                pass
        f.load()
    except Exception as e:  # noqa: BLE001
        report.off("syscall filter", f"seccomp failed ({e})")
        return
    report.on("syscall filter")
