"""The zygote: a process that has imported torch once and forks one hardened worker per request.

It is started as a fresh interpreter (``python -m autograder.zygote FD``) by the grader, so it
never holds hidden tests, references, expected values or descriptors to them; it runs no student
code itself. For each request it forks a *keeper* that enters new namespaces and forks the
*worker* (PID 1 of its own PID namespace when available); the worker confines itself
(:mod:`autograder.sandbox`), imports the student module and serves requests
(:mod:`autograder.worker`). The grader gets the worker's socket and output pipe by SCM_RIGHTS.

Trap avoided: ``torch.set_num_threads(1)`` runs before any torch op, so no OpenMP pool exists to
deadlock the forked children; workers may raise the thread count themselves.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass

PRELOADED = (
    "abc array bisect cmath collections collections.abc contextlib copy dataclasses decimal "
    "encodings.idna enum fractions functools hashlib heapq importlib.util inspect itertools json "
    "math numbers operator pprint random re statistics string struct textwrap time traceback "
    "types typing unicodedata warnings numpy torch torch.nn torch.nn.functional torch.nn.init "
    "torch.testing torch.utils.data pyseccomp"
).split()


def python_paths() -> list[str]:
    """Folders a worker must read to run Python and torch: the interpreter's prefixes and the
    import path entries under them (never the course or the current folder)."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    keep = set(prefixes)
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and os.path.isdir(real) and any(real.startswith(p + os.sep) for p in prefixes):
            keep.add(real)
    return sorted(keep | {"/usr", "/lib", "/lib64", "/proc", "/sys/devices/system/cpu"})


# --------------------------------------------------------------------------- control messages


def send_msg(sock: socket.socket, obj: dict, fds: list[int] = ()) -> None:
    data = json.dumps(obj).encode()
    socket.send_fds(sock, [struct.pack("<I", len(data)) + data], list(fds))


def recv_msg(sock: socket.socket, maxfds: int = 0) -> tuple[dict, list[int]]:
    """One message (several may wait in the stream: read exactly its length prefix and body)."""
    head, fds, _, _ = socket.recv_fds(sock, 4, maxfds)
    data = _recv_exact(sock, 4 - len(head), head) if head else b""
    if len(data) < 4:
        raise EOFError
    (n,) = struct.unpack("<I", data)
    return json.loads(_recv_exact(sock, n, b"")), fds


def _recv_exact(sock: socket.socket, n: int, data: bytes) -> bytes:
    while n > 0:
        more = sock.recv(n)
        if not more:
            raise EOFError
        data, n = data + more, n - len(more)
    return data


# --------------------------------------------------------------------------- the grader's handle


@dataclass
class PendingWorker:
    """A worker asked of the zygote and not taken yet."""

    scratch: str
    answer: tuple | None = None


class Zygote:
    """The grader's handle on a zygote process (started at once; ready after its torch import).

    Importing this module does not import torch, so a command can start the zygote first and let
    both imports run side by side.
    """

    def __init__(self, control: socket.socket | None = None):
        self._unanswered: list[PendingWorker] = []
        if control is not None:          # a clone: the process belongs to the original zygote
            self._control, self._proc, self._ready = control, None, None
            return
        self._control, child_end = socket.socketpair()
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")}
        env["OMP_NUM_THREADS"] = "1"
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "autograder.zygote", str(child_end.fileno())],
            pass_fds=[child_end.fileno()], cwd="/", env=env, stdin=subprocess.DEVNULL,
            process_group=0)              # a terminal's Ctrl-C is for the grader, which closes the zygote
        child_end.close()
        self._ready = None

    def wait_ready(self, timeout: float = 120.0) -> dict:
        if self._ready is None:
            self._control.settimeout(timeout)
            try:
                self._ready, _ = recv_msg(self._control)
            except (EOFError, OSError, ValueError) as e:
                raise RuntimeError(f"the worker zygote did not start ({e})") from e
            finally:
                self._control.settimeout(None)
        return self._ready

    def clone(self) -> "Zygote":
        """Another zygote, forked from this one, for another grader process to use."""
        self.wait_ready()
        if self._unanswered:
            raise RuntimeError("a zygote with workers on the way cannot be cloned")
        send_msg(self._control, {"clone": True})
        _, fds = recv_msg(self._control, maxfds=1)
        if len(fds) != 1:
            raise RuntimeError("the zygote could not be cloned")
        return Zygote(socket.socket(fileno=fds[0]))

    def request_spawn(self, submission_dir: str, module_name: str, limits: dict,
                      watch: dict | None = None, cell_seconds: float | None = None) -> "PendingWorker":
        """Ask for a worker for ``<submission_dir>/<module_name>.py`` without waiting for it:
        the zygote forks it, and it imports the module (``cell_seconds``: one made from a
        notebook, cell by cell, each stopped after that long), while the grader goes on.
        ``watch`` (``{"rules", "names"}``) are the forbidden calls it watches for. Every request
        must be taken (``take``), in any order."""
        self.wait_ready()
        scratch = tempfile.mkdtemp(prefix="scratch-", dir=os.path.dirname(submission_dir))
        send_msg(self._control, {"submission_dir": submission_dir, "module_name": module_name,
                                 "scratch": scratch, "limits": limits, "watch": watch,
                                 "cell_seconds": cell_seconds})
        pending = PendingWorker(scratch)
        self._unanswered.append(pending)
        return pending

    def take(self, pending: "PendingWorker"):
        """The worker asked for: ``(socket, output_fd, status_fd, info, scratch)``, that is the
        worker's socket, the read ends of its output and of its keeper's status pipe,
        ``{"pid", "pid_namespace"}``, and the scratch folder made for it (the caller removes it)."""
        while pending.answer is None:          # the zygote answers in the order it was asked
            try:
                self._unanswered.pop(0).answer = recv_msg(self._control, maxfds=3)
            except (EOFError, ValueError) as e:
                raise OSError(f"the worker zygote stopped ({e or 'no answer'})") from None
        info, fds = pending.answer
        if len(fds) != 3 or not info.get("pid"):
            for fd in fds:
                os.close(fd)
            shutil.rmtree(pending.scratch, ignore_errors=True)
            raise OSError(info.get("error", "the worker could not be started"))
        return socket.socket(fileno=fds[0]), fds[1], fds[2], info, pending.scratch

    def forget(self):
        """Close this process's connection only: in a forked process that will not use it, or
        after handing a clone to another process."""
        self._control.close()

    def close(self):
        """Stop the zygote: it ends when its connection closes, tidying what it started; one
        never asked for a worker or a clone has started nothing and is stopped at once (it may
        still be loading torch, and would see the connection close only when done)."""
        self._control.close()
        if self._proc is None:
            return
        if self._ready is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()



# --------------------------------------------------------------------------- the zygote


def main(control_fd: int) -> None:
    import importlib

    import torch

    torch.set_num_threads(1)  # before any op: see the module docstring
    # torch.compile runs the student's functions as written (eagerly): compiling them needs a C++
    # compiler, a process the sandbox cannot start, so a correct function would fail for it
    torch.compiler.set_stance("force_eager")
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - e.g. no libseccomp: the worker reports it as off
            pass
    from autograder import sandbox, worker  # noqa: F401 - loaded before any fork

    _warm_up(torch)
    gc.freeze()   # workers' collections then never write to (and so copy) the zygote's pages
    _use_huge_pages()

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers and clones are reaped by the kernel
    _serve(socket.socket(fileno=control_fd), python_paths(), torch.__version__)


def _warm_up(torch) -> None:
    """Run each kind of op students use once, single-threaded, so their lazy imports and
    one-time set-up (sympy under autograd, dynamo under torch.optim) are paid here, once, and
    not in every worker. Nothing computed here is kept."""
    x = torch.linspace(-1.0, 1.0, 6, requires_grad=True).reshape(2, 3)
    y = torch.softmax(x @ x.T, dim=-1).log().sum() + torch.nn.functional.cross_entropy(x, torch.tensor([0, 2]))
    torch.autograd.grad(y, x)
    torch.broadcast_shapes((2, 1), (3,))
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    torch.optim.SGD([p], lr=0.1, momentum=0.9).step()
    torch.nn.Linear(3, 2)(torch.ones(1, 3)).sum().backward()


MADV_HUGEPAGE, MADV_COLLAPSE = 14, 25
HUGE_PAGE = 2 << 20


def _use_huge_pages() -> None:
    """Back the zygote's private writable memory with 2 MiB pages where the kernel can (Linux
    6.1+: MADV_COLLAPSE). A fork copies the parent's page tables: with 4 KiB pages that costs
    about 40 ms of CPU per fork of this 330 MB process on the grading VMs, with huge pages about
    15 ms. A worker that writes to a huge page gets its own copy of the 4 KiB it touched, as
    before. Where the kernel refuses, nothing changes."""
    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    with open("/proc/self/maps") as f:
        maps = f.read().splitlines()
    for line in maps:
        fields = line.split()
        perms, path = fields[1], (fields[5] if len(fields) > 5 else "")
        if not perms.startswith("rw") or not perms.endswith("p") or path not in ("", "[heap]"):
            continue
        low, high = (int(x, 16) for x in fields[0].split("-"))
        start, end = -(-low // HUGE_PAGE) * HUGE_PAGE, high // HUGE_PAGE * HUGE_PAGE
        if end > start:
            madvise(start, end - start, MADV_HUGEPAGE)
            madvise(start, end - start, MADV_COLLAPSE)


def _serve(control, readable, torch_version):
    """Answer requests on ``control``: spawn a worker, or clone this zygote for another grader.
    Exits quietly when the grader goes away."""
    try:
        send_msg(control, {"ready": True, "pid": os.getpid(), "torch": torch_version})
        while True:
            try:
                spec, _ = recv_msg(control)
            except (EOFError, ValueError):
                break
            if spec.get("clone"):
                copy_control = _clone(control)
                if copy_control is not None:
                    control = copy_control
                    send_msg(control, {"ready": True, "pid": os.getpid(), "torch": torch_version})
            else:
                _spawn(control, spec, readable)
    except OSError:
        pass
    os._exit(0)


def _clone(control):
    """Fork a copy of this zygote serving a new socket, which is handed to the grader. Returns
    the new socket in the copy (which then serves it), None in the original."""
    grader_end, clone_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        control.close()
        grader_end.close()
        return clone_end
    clone_end.close()
    send_msg(control, {"pid": pid}, [grader_end.fileno()])
    grader_end.close()
    return None


def _watch_plan(watch: dict | None) -> list | None:
    """The plan of the forbidden-call watch asked for, made once per exercise here (a worker
    forked with it only installs it)."""
    if not watch:
        return None
    from autograder.forbidden_watch import cached_plan

    return cached_plan(watch["rules"])


def _spawn(control, spec, readable):
    try:
        plan = _watch_plan(spec.get("watch"))
    except Exception as e:  # noqa: BLE001 - rules this torch cannot read: refuse this worker, keep serving
        send_msg(control, {"pid": None,
                           "error": f"the forbidden calls could not be looked up ({type(e).__name__}: {e})"})
        return
    grader_end, worker_end = socket.socketpair()
    out_read, out_write = os.pipe()
    report_read, report_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            control.close()
            grader_end.close()
            os.close(out_read)
            os.close(report_read)
            _keeper(spec, plan, readable, worker_end, out_write, report_write)
        finally:
            os._exit(70)
    worker_end.close()
    os.close(out_write)
    os.close(report_write)
    line = b""
    while not line.endswith(b"\n"):  # byte by byte: the keeper's status line follows later
        try:
            byte = os.read(report_read, 1)
        except InterruptedError:
            continue
        if not byte:
            break
        line += byte
    try:
        info = json.loads(line)
    except ValueError:
        info = {"pid": None, "error": "the worker could not be started"}
    send_msg(control, info, [grader_end.fileno(), out_read, report_read])
    grader_end.close()
    os.close(out_read)
    os.close(report_read)


def _keeper(spec, plan, readable, worker_end, out_write, report_write):
    """In the keeper: enter namespaces, fork the worker, report its pid, wait for it, report
    how it ended (the grader reads that to tell a student why their code stopped)."""
    from autograder import sandbox

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    report = sandbox.Report()
    entered = sandbox.enter_namespaces(report)
    sandbox._libc.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after the user namespace, which clears it
    uid = sandbox.worker_uid()
    if uid is not None and "mount" in entered:
        sandbox.expose_to_uid(readable, report)
    pid = os.fork()
    if pid == 0:
        os.close(report_write)
        try:
            _worker(spec, plan, readable, worker_end, out_write, report, entered, uid)
        finally:
            os._exit(0)
    worker_end.close()
    os.close(out_write)
    os.write(report_write, json.dumps({"pid": pid, "pid_namespace": "pid" in entered}).encode() + b"\n")
    status = None
    while True:
        try:
            status = os.waitpid(pid, 0)[1]
            break
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    os.write(report_write, json.dumps({"status": status}).encode() + b"\n")
    os._exit(0)


def _worker(spec, plan, readable, sock, out_write, report, entered, uid):
    from autograder import sandbox, worker

    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_write, 1)
    os.dup2(out_write, 2)
    os.close(devnull)
    os.close(out_write)
    limits = sandbox.Limits(**spec.get("limits", {}))
    submission, scratch = spec["submission_dir"], spec["scratch"]
    sandbox.private_proc(report, entered)
    sandbox.confine(report, readable=readable + [submission], scratch=scratch, limits=limits,
                    keep_fds=[sock.fileno()], uid=uid, own_mounts="mount" in entered)
    os.chdir(scratch)
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch, "PYTHONDONTWRITEBYTECODE": "1",
                       "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    tempfile.tempdir = scratch      # the zygote's cached /tmp, where the worker may not write (torch.compile's cache)
    sys.dont_write_bytecode = True
    sys.path[:] = [submission] + [p for p in sys.path if p and any(
        os.path.realpath(p).startswith(r) for r in readable if r not in ("/proc", "/sys/devices/system/cpu"))]
    sys.argv = ["worker"]
    worker.serve(sock, os.path.join(submission, spec["module_name"] + ".py"), spec["module_name"],
                 hello={"protections": dict(report)}, watch_plan=plan,
                 names=(spec.get("watch") or {}).get("names", ()), cell_seconds=spec.get("cell_seconds"))


if __name__ == "__main__":
    main(int(sys.argv[1]))
