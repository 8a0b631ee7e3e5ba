"""The grader's side of the worker: start the zygote, get workers, call student code as data.

Everything here runs on the trusted side. A worker answers with bytes only; they are decoded by
:mod:`autograder.wire` into plain values and plain tensors. Deadlines, output caps and killing
are enforced here, from outside the worker.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field

from autograder import wire
from autograder.sandbox import Limits
from autograder.zygote import Zygote

OUTPUT_KEPT = 8 << 10          # bytes of a worker's printed output kept for feedback
OUTPUT_FLOOD = 8 << 20         # printed output beyond this kills the worker


class StudentError(Exception):
    """Student code raised an exception (it arrives as data: names and a message)."""

    def __init__(self, type_name: str, type_names: list[str], message: str, where: list):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.type_names, self.message, self.where = type_name, type_names, message, where

    def location(self) -> str:
        """``file.py, line N, in fn: code`` of the innermost student frame, if any."""
        if not self.where:
            return ""
        file, line, fn, code = self.where[-1]
        return f"{file}, line {line}, in {fn}" + (f": {code.strip()}" if code else "")


class WorkerFailure(Exception):
    """The worker gave no usable answer: timeout, crash, output flood or garbage."""


class ExerciseUnavailable(WorkerFailure):
    """The exercise cannot be run at all (missing file, import failed, gave up after timeouts)."""


# --------------------------------------------------------------------------- zygote and workers


class WorkerProcess:
    """One running worker: its socket, output pipe, status pipe and pid."""

    def __init__(self, sock: socket.socket, out_fd: int, status_fd: int, info: dict, scratch: str):
        self.sock, self.out_fd, self.status_fd, self.scratch = sock, out_fd, status_fd, scratch
        self.pid = info["pid"]
        self.pid_namespace = info.get("pid_namespace", False)
        self.output = bytearray()
        self.output_total = 0
        self.alive = True
        os.set_blocking(out_fd, False)
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def _drain(self, timeout: float) -> None:
        ready, _, _ = select.select([self.sock, self.out_fd], [], [], max(timeout, 0))
        if self.out_fd in ready:
            self._read_output()
            if self.output_total > OUTPUT_FLOOD:
                self.kill()
                raise WorkerFailure(f"printed more than {OUTPUT_FLOOD >> 20} MiB of output; stopped")

    def _read_output(self):
        while True:
            try:
                chunk = os.read(self.out_fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.output_total += len(chunk)
            room = OUTPUT_KEPT - len(self.output)
            if room > 0:
                self.output += chunk[:room]

    def receive(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        try:
            return wire.recv(self.sock, deadline, on_wait=self._drain)
        except wire.Deadline:
            self.kill()
            raise WorkerFailure(f"did not answer within {timeout:g} s (an infinite loop, or far too slow); stopped") from None
        except wire.WireError as e:
            reason = self.death_reason() if isinstance(e, wire.Closed) else f"sent a malformed answer ({e})"
            self.kill()
            raise WorkerFailure(reason) from None

    def request(self, message: bytes, timeout: float) -> bytes:
        try:
            wire.send(self.sock, message)
        except OSError:
            reason = self.death_reason()
            self.kill()
            raise WorkerFailure(reason) from None
        return self.receive(timeout)

    def death_reason(self) -> str:
        """Why the worker stopped, from the status its keeper reports."""
        ready, _, _ = select.select([self.status_fd], [], [], 2.0)
        status = None
        if ready:
            try:
                line = os.read(self.status_fd, 4096).strip().splitlines()
                status = json.loads(line[-1])["status"] if line else None
            except (OSError, ValueError, KeyError, IndexError):
                status = None
        if status is None:
            return "the worker stopped without a reason"
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return {
                signal.SIGXCPU: "used up its CPU time limit; stopped",
                signal.SIGKILL: "was killed (out of memory, or a limit was hit)",
                signal.SIGSEGV: "crashed (segmentation fault)",
            }.get(sig, f"was stopped by signal {signal.Signals(sig).name}")
        code = os.WEXITSTATUS(status)
        return f"exited (exit code {code}) instead of answering: remove sys.exit / os._exit / exit() calls"

    def kill(self) -> None:
        if not self.alive:
            return
        self.alive = False
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
            if not self.pid_namespace:
                os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def close(self) -> None:
        self.kill()
        self._read_output()
        for fd in (self.out_fd, self.status_fd, self._pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sock.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


# --------------------------------------------------------------------------- one exercise


@dataclass
class Timeouts:
    """Wall-clock limits, in seconds."""

    call: float = 10.0          # one request
    start: float = 20.0         # fork + confine + import of the student module
    strikes: int = 2            # timeouts or crashes in one exercise before its other tests are skipped
    submission: float = 600.0   # all the tests of one submission; later tests fail at once


@dataclass
class ExerciseSession:
    """The worker(s) for one exercise of one submission. A crashed or timed-out worker is
    replaced for the next request; an import failure, or ``strikes`` failures, are final."""

    zygote: Zygote
    submission_dir: str            # a prepared folder holding the student's module files
    exercise: str
    module_file: str
    limits: Limits = field(default_factory=Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    worker: WorkerProcess | None = None
    unavailable: str | None = None
    failures: int = 0
    protections: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    last_call: str = ""
    _generation: int = 0

    def _start(self):
        if self.unavailable:
            raise ExerciseUnavailable(self.unavailable)
        if self.worker is not None and self.worker.alive:
            return
        path = os.path.join(self.submission_dir, self.module_file)
        if not os.path.isfile(path):
            self.unavailable = f"{self.module_file} is missing from your submission"
            raise ExerciseUnavailable(self.unavailable)
        self._retire()
        try:
            self.worker = WorkerProcess(*self.zygote.spawn(self.submission_dir, self.module_file[:-3],
                                                            self.limits.__dict__))
        except OSError as e:
            self.unavailable = f"the worker for {self.exercise} could not be started ({e})"
            raise ExerciseUnavailable(self.unavailable) from None
        self._generation += 1
        try:
            header, _ = wire.decode(self.worker.receive(self.timeouts.start))
        except WorkerFailure as e:
            self.failures += 1
            self.unavailable = f"importing {self.module_file} failed: the worker {e}"
            raise ExerciseUnavailable(self.unavailable) from None
        except wire.WireError as e:
            self.unavailable = f"importing {self.module_file} failed: malformed answer ({e})"
            raise ExerciseUnavailable(self.unavailable) from None
        self.protections = header.get("protections", {}) if isinstance(header.get("protections"), dict) else {}
        if not header.get("ok"):
            err = _student_error(header.get("error"))
            where = f" ({err.location()})" if err.location() else ""
            self.unavailable = f"{self.module_file} could not be imported: {err.type_name}: {err.message}{where}"
            raise ExerciseUnavailable(self.unavailable)

    def request(self, header: dict, values: dict) -> tuple[dict, dict]:
        """Send one request; return the decoded answer or raise StudentError / WorkerFailure."""
        self._start()
        message = wire.encode(header, values)
        try:
            raw = self.worker.request(message, self.timeouts.call)
            answer, out = wire.decode(raw)
        except (WorkerFailure, wire.WireError) as e:
            self.worker.kill()
            self.failures += 1
            if self.failures >= self.timeouts.strikes:
                self.unavailable = (f"stopped grading {self.exercise} after {self.failures} failed calls; "
                                    f"the last: your code {e}")
            raise WorkerFailure(f"your code {e}") from None
        if not answer.get("ok"):
            raise _student_error(answer.get("error"))
        return answer, out

    def make_remote(self, answer: dict) -> "Remote":
        """A Remote for the object id in a worker's ``ref`` answer."""
        ref = answer.get("ref")
        if type(ref) is not int:
            raise WorkerFailure("the worker did not return an object reference")
        return Remote(self, ref, (), self._generation)

    def put(self, value, requires_grad: bool = False) -> "Remote":
        """Keep a copy of ``value`` in the worker (e.g. a parameter tensor)."""
        return self.make_remote(self.request({"op": "put", "requires_grad": requires_grad},
                                             {"value": _to_wire(value, self)})[1])

    def generation(self) -> int:
        """Changes whenever a new worker replaces a dead one (remote objects die with it)."""
        return self._generation

    def _retire(self):
        if self.worker is not None:
            self.worker.close()
            self.outputs.append(bytes(self.worker.output))
            self.worker = None

    def printed(self) -> str:
        """What the student's code printed so far (capped)."""
        chunks = self.outputs + ([bytes(self.worker.output)] if self.worker else [])
        return b"".join(chunks).decode("utf-8", "replace")[:OUTPUT_KEPT]

    def close(self):
        self._retire()


def _student_error(info) -> StudentError:
    if not isinstance(info, dict):
        return StudentError("Exception", ["Exception"], "unknown error", [])
    names = [str(n) for n in info.get("mro", [])] if isinstance(info.get("mro"), list) else []
    where = info.get("where") if isinstance(info.get("where"), list) else []
    where = [w for w in where if isinstance(w, list) and len(w) == 4]
    return StudentError(str(info.get("type", "Exception"))[:200], names or ["Exception"],
                        str(info.get("message", ""))[:2000], where)


# --------------------------------------------------------------------------- remote proxies


@dataclass
class CallResult:
    value: object
    args: list
    kwargs: dict


@dataclass
class GradResult:
    value: object
    grads: list
    param_grads: dict


class Remote:
    """Something in the worker: the student module, an attribute path in it, or an object the
    worker keeps. Calls send data and return data; see docs/AUTHORING.md for the verbs."""

    def __init__(self, session: ExerciseSession, ref: int | None, path: tuple[str, ...], generation: int = 0):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_generation", generation)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Remote(self._session, self._ref, self._path + (name,), self._generation)

    def __setattr__(self, name, value):
        raise AttributeError("use .set(value) to set an attribute in the worker")

    def __repr__(self):
        return f"<remote {self._session.exercise}:{self._ref}:{'.'.join(self._path)}>"

    @property
    def _name(self) -> str:
        return ".".join(self._path) or "object"

    def _target(self):
        if self._ref is not None and self._generation != self._session.generation():
            raise WorkerFailure("an object this test made was lost when its worker was restarted")
        return {"ref": self._ref, "path": list(self._path)}

    def _call(self, mode, args, kwargs, **extra):
        self._session.last_call = self._name
        header = {"op": "call", "target": self._target(), "mode": mode, **extra}
        values = {"args": _to_wire(list(args), self._session), "kwargs": _to_wire(kwargs, self._session)}
        if "grad_output" in extra:
            values["grad_output"] = header.pop("grad_output")
        return self._session.request(header, values)

    def __call__(self, *args, **kwargs):
        return self._call("value", args, kwargs)[1]["value"]

    def detailed(self, *args, **kwargs) -> CallResult:
        out = self._call("detailed", args, kwargs)[1]
        return CallResult(out["value"], out.get("args", []), out.get("kwargs", {}))

    def with_grad(self, *args, wrt=(0,), grad_output=None, output_index=None, params=False, **kwargs) -> GradResult:
        _, out = self._call("grad", args, kwargs, wrt=list(wrt), output_index=output_index,
                            params=bool(params), grad_output=grad_output)
        return GradResult(out["value"], out.get("grads", []), out.get("param_grads", {}))

    def new(self, *args, **kwargs) -> "Remote":
        return self._session.make_remote(self._call("ref", args, kwargs)[1])

    def call_ignoring_result(self, *args, **kwargs) -> None:
        self._call("ignore", args, kwargs)

    def get(self):
        return self._session.request({"op": "get", "target": self._target()}, {})[1]["value"]

    def ref(self) -> "Remote":
        """The attribute itself as a worker object, e.g. a bound method to pass as a callable:
        ``student.tensor(a).dist.ref()`` is ``a.dist`` in the worker."""
        return self._session.make_remote(self._session.request({"op": "ref", "target": self._target()}, {})[1])

    def set(self, value) -> None:
        self._session.request({"op": "set", "target": self._target()}, {"value": _to_wire(value, self._session)})


def _to_wire(v, session):
    """Replace Remote objects by worker references (only objects of the same worker)."""
    if isinstance(v, Remote):
        if v._session is not session or v._ref is None or v._path:
            raise ValueError("only objects made in the same exercise can be passed to student code")
        v._target()
        return wire.Ref(v._ref)
    if isinstance(v, list):
        return [_to_wire(x, session) for x in v]
    if isinstance(v, tuple):
        return tuple(_to_wire(x, session) for x in v)
    if isinstance(v, dict):
        return {k: _to_wire(x, session) for k, x in v.items()}
    if isinstance(v, wire.IterOf):
        return wire.IterOf([_to_wire(x, session) for x in v.items])
    return v


class Student:
    """The ``student`` fixture: ``student.<exercise>`` is the student's module in its worker."""

    def __init__(self, session_for, exercise: str, exercises):
        self._session_for, self._exercise, self._exercises = session_for, exercise, exercises

    def __getattr__(self, name) -> Remote:
        if name not in self._exercises:
            raise AttributeError(f"no exercise named {name!r}")
        return Remote(self._session_for(name), None, ())

    def tensor(self, t, requires_grad: bool = False) -> Remote:
        """A worker-side copy of ``t`` that keeps its identity across calls."""
        return self._session_for(self._exercise).put(t, requires_grad=requires_grad)

    @staticmethod
    def iterator(items) -> wire.IterOf:
        """Arrives in the worker as ``iter(items)``."""
        return wire.IterOf(list(items))
