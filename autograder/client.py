"""The grader's side of the worker: start the zygote, get workers, call student code as data.

Everything here runs on the trusted side. A worker answers with bytes only; they are decoded by
:mod:`autograder.wire` into plain values and plain tensors. Deadlines, output caps and killing
are enforced here, from outside the worker.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import select
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field

from autograder import wire
from autograder.cells import MAX_CELL_ERRORS, TOO_LONG, python_lines
from autograder.notebook import NotebookModule
from autograder.sandbox import Limits
from autograder.syntax import parse_module
from autograder.text import plain_text
from autograder.worker import MAX_ITER_ITEMS
from autograder.zygote import Zygote

OUTPUT_KEPT = 8 << 10          # bytes of a worker's printed output kept for feedback
OUTPUT_FLOOD = 8 << 20         # printed output beyond this kills the worker
MAX_AHEAD = 32                 # requests sent before their answers are read, at most


def budget_spent(seconds: float) -> str:
    return f"grading stopped: this submission used up its time budget ({seconds:g} s)"


class StudentError(Exception):
    """Student code raised an exception (it arrives as data: names and a message)."""

    def __init__(self, type_name: str, type_names: list[str], message: str, where: list, deferred: bool = False,
                 missing: str | None = None):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.type_names, self.message, self.where = type_name, type_names, message, where
        self.deferred = deferred      # raised by an earlier request sent without waiting, not by this call
        self.missing = missing        # the name the module does not define, when that was the error

    def explain_missing(self) -> str:
        """What a student whose module lacks the called name reads."""
        return (f"`{self.missing}` is not defined in your module: the tests call it by exactly this name "
                "(check its spelling, and that it is defined at the top level of the file)")

    def builtin_type(self) -> str:
        """The first of the error's types that Python defines (``ValueError`` for a student's
        ``class ShapeError(ValueError)``): a name student code cannot choose, for hidden tests."""
        return next((n for n in self.type_names if isinstance(getattr(builtins, n, None), type)
                     and issubclass(getattr(builtins, n), BaseException)), "Exception")

    def function(self, file_shown=None) -> str:
        """``file.py, in fn`` of the innermost student frame, without its line or code: for hidden
        tests, where the line that raised could tell the test's inputs (as the message could);
        ``file_shown(file)`` may rename the file (a notebook's)."""
        file, _, fn, _ = self.where[-1]
        return f"{(file_shown(file) if file_shown else None) or file}, in {fn}"

    def location(self, locate=None) -> str:
        """``file.py, line N, in fn: code`` of the innermost student frame, if any; ``locate(file,
        line)`` may name the place otherwise (a notebook's cell), or return None."""
        if not self.where:
            return ""
        file, line, fn, code = self.where[-1]
        place = (locate(file, line) if locate else None) or f"{file}, line {line}"
        return f"{place}, in {fn}" + (f": {code.strip()}" if code else "")


class WrongResult(Exception):
    """Student code returned what the grader cannot read (a numpy array, an endless iterator), or
    not the tensor a test takes the gradient of: told as what the student did, in the grader's
    own words (the worker's account is student code's to forge). ``public`` names the type
    returned; ``redacted``, for hidden tests, only a common one (a class made at run time could
    spell out the test's inputs in its name)."""

    def __init__(self, public: str, redacted: str):
        super().__init__(public)
        self.public, self.redacted = public, redacted


RESULT_TYPES = {     # types a student may return by mistake, as feedback names them
    "numpy.ndarray": "a numpy array", "numpy.float32": "a numpy number", "numpy.float64": "a numpy number",
    "numpy.int64": "a numpy number", "builtins.NoneType": "None", "builtins.list": "a list",
    "builtins.tuple": "a tuple", "builtins.dict": "a dict", "builtins.int": "an int", "builtins.float": "a float",
    "builtins.bool": "a bool", "builtins.str": "a str", "torch.Size": "a torch.Size",
}


def _wrong_result(info: dict, called: str) -> WrongResult:
    """What the student reads when ``called`` returned what the worker's ``unreadable`` account
    (``info``, see :class:`autograder.worker.UnreadableResult`) says."""
    kind = info.get("kind")
    returned = plain_text(str(info.get("returned", "")))[:100]
    fn = f"`{called}`" if called else "your code"
    public, redacted = (f"an object of type {returned}" if returned else "an object",
                        "an object of a type the grader cannot read")
    if returned in RESULT_TYPES:
        public = redacted = RESULT_TYPES[returned]
    if kind == "not_tensor":
        text = "{fn}: the output should be a tensor, but it is {what}"
    elif kind == "type":
        text = "{fn}: the result should be a tensor or a plain Python value (a number, tuple or list), but it is {what}"
    elif kind == "holds":
        text = ("{fn}: the result holds {what}; it should hold only tensors and plain Python values (numbers, tuples, "
                "lists)")
    elif kind == "endless":
        text = f"{{fn}} returned an iterator that did not stop after {MAX_ITER_ITEMS} items"
    else:
        text = "{fn} returned a result nested too deeply for the grader to read"
    return WrongResult(text.format(fn=fn, what=public), text.format(fn=fn, what=redacted))


class ForbiddenCall(Exception):
    """Student code called something the exercise forbids, seen while it ran (a call whose name
    was made at run time: ``getattr(torch, "soft" + "max")``, ``eval(...)``)."""

    def __init__(self, used: str, names: list[str], line: int, replaced: bool = False, at_import: bool = False):
        super().__init__(f"forbidden call: {used}")
        self.used, self.names, self.line, self.replaced, self.at_import = used, names, line, replaced, at_import


class WorkerFailure(Exception):
    """The worker gave no usable answer: timeout, crash, output flood or garbage."""


class TimedOut(WorkerFailure):
    """The worker did not answer in time, and was stopped."""


class ExerciseUnavailable(WorkerFailure):
    """The exercise cannot be run at all (missing file, import failed, gave up after timeouts)."""


class CallStopped(WorkerFailure):
    """A function whose call timed out or crashed is not called again."""


# --------------------------------------------------------------------------- zygote and workers


class WorkerProcess:
    """One running worker: its socket, output pipe, status pipe and pid."""

    def __init__(self, sock: socket.socket, out_fd: int, status_fd: int, info: dict, scratch: str):
        self.sock, self.out_fd, self.status_fd, self.scratch = sock, out_fd, status_fd, scratch
        self.reader = wire.Reader(sock)
        self._answers = select.poll()
        self._answers.register(sock, select.POLLIN)
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
            self.read_output()
            if self.output_total > OUTPUT_FLOOD:
                self.kill()
                raise WorkerFailure(f"printed more than {OUTPUT_FLOOD >> 20} MiB of output; stopped")

    def read_output(self):
        """Take in what the worker printed so far (the latest OUTPUT_KEPT bytes are kept)."""
        while True:
            try:
                chunk = os.read(self.out_fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.output_total += len(chunk)
            self.output += chunk
            if len(self.output) > OUTPUT_KEPT:          # the latest is kept: what the failing test printed
                del self.output[:len(self.output) - OUTPUT_KEPT]

    def receive(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        try:
            return self.reader.recv(deadline, on_wait=self._drain)
        except wire.Deadline:
            self.kill()
            raise TimedOut(f"did not answer within {timeout:g} s (an infinite loop, or far too slow); stopped") from None
        except wire.Closed:
            raise self._died() from None
        except wire.WireError:           # what is wrong is not told: the worker's bytes could say anything
            self.kill()
            raise WorkerFailure("sent a malformed answer") from None

    def send(self, message: bytes, timeout: float) -> None:
        """Send one request; a worker that stops reading (busy in an earlier request) for
        ``timeout`` seconds is stopped, and its output is drained while we wait."""
        deadline = time.monotonic() + timeout
        view, sent = memoryview(message), 0
        while sent < len(message):
            try:
                sent += self.sock.send(view[sent:], socket.MSG_DONTWAIT)
                continue
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                raise self._died() from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerFailure(f"did not take a request within {timeout:g} s (an infinite loop, or far "
                                    "too slow); stopped")
            ready, _, _ = select.select([self.out_fd, self.sock], [self.sock], [], remaining)
            if self.out_fd in ready:
                self._drain(0)
            if self.sock in ready:      # answers of earlier requests: buffer them, the worker goes on
                try:
                    self.reader.pull()
                except wire.Closed:
                    raise self._died() from None

    def has_answer(self) -> bool:
        """Whether an answer has arrived (reading it will not wait)."""
        if self.reader.has_message():
            return True
        if not self._answers.poll(0):
            return False
        try:
            self.reader.pull(wire.Reader.CHUNK)
        except wire.Closed:
            return True              # reading it reports why
        return self.reader.has_message()

    def _died(self) -> WorkerFailure:
        """The failure to raise when the worker's socket closed: why it stopped."""
        reason = self.death_reason()
        self.kill()
        return WorkerFailure(reason)

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
        return "exited instead of answering: remove sys.exit / os._exit / exit() calls"   # its code could say anything

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
        self.read_output()
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
    cell: float = 5.0           # one cell of a notebook, while it is loaded (a longer one is stopped, the rest run)
    submission: float = 600.0   # all the tests of one submission; later tests fail at once
    stall: float = 1800.0       # one student in a class run, after which its grader process is presumed stuck


@dataclass
class ExerciseSession:
    """The worker(s) for one exercise of one submission. A crashed or timed-out worker is
    replaced for the next request. A function whose call failed (timed out or crashed) is not
    called again, so a student whose functions loop forever is still graded on the others (a
    function that calls one of them may hang too, and is not called again either); an import
    failure is final for the exercise. What bounds a submission whose every function hangs is
    that each is called once, and the submission's time budget (``Timeouts.submission``).

    Requests either wait for their answer (``request``) or are *deferred*: sent at once, run in
    order, their answers read (and handed to their checks) before the next answer anybody waits
    for (``defer``, ``settle``).
    """

    zygote: Zygote
    submission_dir: str            # a prepared folder holding the student's module files
    exercise: str
    module_file: str
    limits: Limits = field(default_factory=Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    worker: WorkerProcess | None = None
    unavailable: str | None = None
    failures: int = 0
    failed_calls: dict = field(default_factory=dict)    # name -> why its call failed (timed out, crashed)
    protections: dict = field(default_factory=dict)
    cell_notes: list = field(default_factory=list)      # a notebook's cells that raised while it was loaded
    last_call: str = ""
    notebook: NotebookModule | None = None              # set when the module was made from a notebook
    watch: dict | None = None                           # {"rules", "names"}: forbidden calls to watch for
    _generation: int = 0
    _last_id: int = 0                                   # ids of objects kept in workers
    _verdict_owed: bool = False                         # a failed answer was read; the worker awaits the verdict
    _deferred: list = field(default_factory=list)       # (name, check, on_error) of requests whose answers are unread
    _pending_spawn: object = None                       # a worker asked of the zygote, not taken yet
    _sources: dict = field(default_factory=dict)        # file -> (lines, definitions), read once
    budget_end: float | None = None                     # time.monotonic() when the submission's time is up

    def _module_path(self) -> str | None:
        path = os.path.join(self.submission_dir, self.module_file)
        if not os.path.isfile(path):
            self.unavailable = f"{self.module_file} is missing from your submission"
            return None
        return path

    def prepare(self) -> None:
        """Ask the zygote for this exercise's worker now, so it starts while other tests run."""
        if self._pending_spawn is None and self.worker is None and not self.unavailable and self._module_path():
            self._pending_spawn = self._ask_for_worker()

    def _ask_for_worker(self):
        return self.zygote.request_spawn(self.submission_dir, self.module_file[:-3], self.limits.__dict__,
                                         self.watch,
                                         cell_seconds=self.timeouts.cell if self.notebook is not None else None)

    def _start(self):
        if self.unavailable:
            raise ExerciseUnavailable(self.unavailable)
        if self.worker is not None and self.worker.alive:
            return
        if not self._module_path():
            raise ExerciseUnavailable(self.unavailable)
        self._retire()
        pending, self._pending_spawn = self._pending_spawn, None
        try:
            self.worker = WorkerProcess(*self.zygote.take(pending or self._ask_for_worker()))
        except OSError as e:
            self.failures += 1              # the machine's state, not the student's code
            self.unavailable = f"the worker for {self.exercise} could not be started ({e})"
            raise ExerciseUnavailable(self.unavailable) from None
        self._generation += 1
        try:
            hello, _ = wire.decode(self.worker.receive(self.timeouts.start))    # before the student's code ran
            self.protections = _protections(hello.get("protections"))
            header, _ = wire.decode(self.worker.receive(self.timeouts.start))   # the import
        except TimedOut:
            self.failures += 1
            self.unavailable = f"loading {self._student_file()} did not finish within {self.timeouts.start:g} s: " + (
                "its cells ran too long together (a training run, a download); keep long demos out of the graded "
                "notebook" if self.notebook else "code at the top level of the file (not in a function) runs forever "
                "or for long (a training run, a download); put it under `if __name__ == \"__main__\":`")
            raise ExerciseUnavailable(self.unavailable) from None
        except WorkerFailure as e:
            self.failures += 1
            self.unavailable = f"importing {self._student_file()} failed: your code {e}"
            raise ExerciseUnavailable(self.unavailable) from None
        except wire.WireError:
            self.unavailable = f"importing {self._student_file()} failed: malformed answer"
            raise ExerciseUnavailable(self.unavailable) from None
        self.cell_notes = _cell_notes(header.get("cell_errors"), self._student_file())
        if _cell_stopped_on_time(header.get("cell_errors")):
            self.failures += 1              # a cell cut at its time limit under load may finish next time
        if not header.get("ok"):
            err = self._placed(_student_error(header.get("error")))
            where = f" ({err.location(self.locate)})" if err.location() else ""
            self.unavailable = f"{self._student_file()} could not be imported: {err.type_name}: {err.message}{where}"
            raise ExerciseUnavailable(self.unavailable)

    def _student_file(self) -> str:
        return self.notebook.notebook if self.notebook else self.module_file

    def locate(self, file: str, line: int) -> str | None:
        """Where a line of the student's module is, for the student: a notebook's cell; else None."""
        return self.notebook.locate(file, line) if self.notebook else None

    def file_shown(self, file: str) -> str:
        """The name the student knows a file of the submission by (a notebook's, for its module)."""
        return self.notebook.notebook if self.notebook and file == self.module_file else file

    def locate_line(self, line: int) -> str | None:
        """``locate`` for a line of this exercise's module."""
        return self.locate(self.module_file, line)

    # ------------------------------------------------------------------ requests
    def request(self, header: dict, values: dict, name: str) -> tuple[dict, dict]:
        """Send one request (``name`` says what it runs, for feedback) and return its decoded
        answer, or raise StudentError / WorkerFailure. The answers of deferred requests are read
        first; their first error is raised instead."""
        self.last_call = name
        self._send(header, values, name)
        error = self._read_deferred()
        answer, out = self._read()
        self._judge(skip=True)
        if error is not None:
            raise error
        if not answer.get("ok"):
            raise self._failure(answer, called=name)
        return answer, out

    def defer(self, header: dict, values: dict, name: str, check=None, on_error=None) -> None:
        """Send a request without waiting for its answer. It runs before every later request;
        when its answer is read, ``check(values)`` runs (if given), or ``on_error(StudentError)``
        if it raised an Exception and ``on_error`` is given. The first error, of the request or
        of its check, is raised by the next request that waits, or by ``settle``, or sooner by a
        ``defer`` that finds it has arrived; once a request fails unexpectedly, the worker skips
        what was sent after it, up to then (see :meth:`_judge`)."""
        if len(self._deferred) >= MAX_AHEAD:
            self.settle()
        elif self._deferred and self._answer_arrived():
            self.settle(arrived_only=True)    # a failure among them ends the test now
        self._send(header, values, name)
        self._deferred.append((name, check, on_error))

    def settle(self, raise_errors: bool = True, arrived_only: bool = False) -> None:
        """Read the answers of deferred requests (with ``arrived_only``, those that have arrived,
        or all of them once one failed); raise the first error among them if asked."""
        try:
            error = self._read_deferred(arrived_only)
        except WorkerFailure:
            if raise_errors:
                raise
            return
        if error is not None and raise_errors:
            raise error

    def check_budget(self) -> None:
        """Stop for good once the submission's time budget is spent (checked before each test and
        at every request: calls that each end just before their deadline must not hold a grader
        for hours). What a stop leaves hung on time, as a timeout does (``failures``)."""
        if self.budget_end is not None and time.monotonic() > self.budget_end:
            self._retire()
            self.failures += 1
            self.unavailable = budget_spent(self.timeouts.submission)
            raise ExerciseUnavailable(self.unavailable)

    def _send(self, header, values, name):
        self.check_budget()
        if name in self.failed_calls:
            raise CallStopped(f"`{name}` was not run again after an earlier call of it failed: your code "
                              f"{self.failed_calls[name]}")
        self._start()
        self._judge(skip=True)
        try:
            self.worker.send(wire.encode(header, values), self.timeouts.call)
        except WorkerFailure as e:      # the worker is still busy with the oldest request sent
            raise self._failed(e, self._deferred[0][0] if self._deferred else name) from None

    def _read(self) -> tuple[dict, dict]:
        """The answer of the oldest request sent (``last_call`` names it). After a failed one, the
        worker runs nothing more until :meth:`_judge` gives the verdict."""
        self.check_budget()
        self._judge(skip=True)
        try:
            answer, out = wire.decode(self.worker.receive(self.timeouts.call))
        except WorkerFailure as e:
            raise self._failed(e, self.last_call) from None
        except wire.WireError:
            raise self._failed(WorkerFailure("sent an answer the grader refuses; stopped"),
                               self.last_call) from None
        self._verdict_owed = not answer.get("ok") and not answer.get("skipped")
        return answer, out

    def _judge(self, skip: bool) -> None:
        """Tell the worker, after reading a failed answer, whether the failure was expected (what
        was sent after that request runs, even if the test's check of the error then fails) or
        ends the test (it is skipped). Only now, after the call, may the worker learn what the
        grader expected of it."""
        if self._verdict_owed:
            self._verdict_owed = False
            try:
                self.worker.send(wire.verdict(skip), self.timeouts.call)
            except WorkerFailure as e:
                raise self._failed(e, self.last_call) from None

    def _failure(self, answer: dict, deferred: bool = False,
                 called: str = "") -> StudentError | ForbiddenCall | WrongResult:
        failure = _failure(answer, deferred, called, self.watch, len(self._source(self.module_file)[0]))
        return self._placed(failure) if isinstance(failure, StudentError) else failure

    def _placed(self, error: StudentError) -> StudentError:
        """``error`` with its place (the innermost frame in the student's files) read from the
        grader's own copy of the submission: file, line, the function around it and its code. The
        worker's account is student code's to forge; its code line could carry hidden inputs."""
        file, line = error.where[-1][:2] if error.where else (None, None)
        lines, functions = self._source(file) if isinstance(file, str) else ([], [])
        if type(line) is not int or not 1 <= line <= len(lines):
            error.where = []
            return error
        inside = [f for f in functions if f.lineno <= line <= (f.end_lineno or f.lineno)]
        name = max(inside, key=lambda f: f.lineno).name if inside else "<module>"
        error.where = [[file, line, name, lines[line - 1]]]
        return error

    def _source(self, file: str) -> tuple[list[str], list]:
        """(lines, function and class definitions) of a module file of the submission, read once;
        empty for any other name."""
        if file not in self._sources:
            lines, defs = [], []
            if "/" not in file and file.endswith(".py"):
                try:
                    with open(os.path.join(self.submission_dir, file), "rb") as f:
                        source = f.read()
                    lines = python_lines(source.decode("utf-8", "replace"))
                    defs = [n for n in ast.walk(parse_module(source) or ast.Module(body=[], type_ignores=[]))
                            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
                except OSError:
                    pass
            self._sources[file] = lines, defs
        return self._sources[file]

    def _answer_arrived(self) -> bool:
        return self.worker.has_answer()

    def _read_deferred(self, arrived_only: bool = False) -> Exception | None:
        """Read every deferred answer (with ``arrived_only``: those already arrived, unless one
        failed) and run the checks up to the first error, which is returned (``last_call``
        names its call)."""
        error, current = None, self.last_call
        while self._deferred and (error is not None or not arrived_only or self._answer_arrived()):
            self.last_call, check, on_error = self._deferred[0]
            answer, out = self._read()
            self._deferred.pop(0)
            raised = _raised(answer, self.last_call) if on_error is not None and not answer.get("ok") else None
            self._judge(skip=error is not None or raised is None)   # before any check: a check may send requests
            if error is not None:
                continue
            try:
                if answer.get("ok"):
                    if check is not None:
                        check(out)
                elif raised is not None:
                    on_error(raised)
                else:
                    error, current = self._failure(answer, deferred=True, called=self.last_call), self.last_call
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # noqa: BLE001 - a failed check (or a bug in it) fails the test
                error, current = e, self.last_call
        self.last_call = current
        return error

    def _failed(self, e: Exception, name: str) -> WorkerFailure:
        """Count a failed (timed-out, crashed) call of ``name``, which ``last_call`` names now;
        the worker is gone."""
        self.last_call = name
        self.worker.kill()
        self._generation += 1               # objects the dead worker kept are gone
        self._deferred.clear()
        self._verdict_owed = False
        self.failures += 1
        self.failed_calls[name] = str(e)
        return WorkerFailure(f"your code {e}")

    # ------------------------------------------------------------------ objects in the worker
    def new_id(self) -> int:
        """An id for an object the worker will keep (chosen here, so requests need not wait)."""
        self._last_id += 1
        return self._last_id

    def keep(self, header: dict, values: dict, name: str, label: str) -> "Remote":
        """Send a request that makes an object the worker keeps (``put``, ``ref``, a call in
        mode ``ref``); wait for it and return the object, called ``label`` in feedback."""
        ref = self.new_id()
        if self.request({**header, "keep": ref}, values, name)[1].get("ref") != ref:
            raise WorkerFailure("the worker did not keep the object it was asked to")
        return Remote(self, ref, (), self._generation, label)

    def keep_later(self, header: dict, values: dict, name: str, label: str) -> "Remote":
        """``keep`` without waiting: the object is usable at once; an error making it fails the
        test at the next request that waits."""
        ref = self.new_id()
        self.defer({**header, "keep": ref}, values, name)
        return Remote(self, ref, (), self._generation, label)

    def put(self, value, requires_grad: bool = False) -> "Remote":
        """Keep a copy of ``value`` in the worker (e.g. a parameter tensor); deferred."""
        return self.keep_later({"op": "put", "requires_grad": requires_grad}, {"value": _to_wire(value, self)},
                               "keeping a tensor in the worker", "tensor")

    def generation(self) -> int:
        """Changes whenever a new worker replaces a dead one (remote objects die with it)."""
        return self._generation

    def _retire(self):
        self._deferred.clear()
        self._verdict_owed = False
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def output_mark(self) -> tuple[int, int]:
        """Where the student's printed output stands now (for :meth:`printed_since`)."""
        if self.worker is None:
            return self._generation, 0
        self.worker.read_output()
        return self._generation, self.worker.output_total

    def printed_since(self, mark: tuple[int, int] | None) -> str:
        """What the student's code printed since ``mark`` (None: ever), at most the last
        OUTPUT_KEPT bytes; all a new worker printed if one started since."""
        if self.worker is None:
            return ""
        self.worker.read_output()
        total = self.worker.output_total
        new = total - mark[1] if mark is not None and mark[0] == self._generation else total
        return bytes(self.worker.output[len(self.worker.output) - min(new, len(self.worker.output)):]).decode(
            "utf-8", "replace")

    def close(self):
        pending, self._pending_spawn = self._pending_spawn, None
        if pending is not None:
            try:
                WorkerProcess(*self.zygote.take(pending)).close()
            except OSError:
                pass
        self._retire()


def _failure(answer: dict, deferred: bool = False, called: str = "", watch: dict | None = None,
             module_lines: int = 0) -> StudentError | ForbiddenCall | WrongResult:
    """The exception for a worker's answer that is not ``ok``. A forbidden call's note is checked
    against what the grader knows, as student code in the worker could forge it: the call must be
    one the exercise's ``watch`` wraps, the names its contract names, the line one of the module's
    ``module_lines``."""
    info = answer.get("forbidden")
    error = answer.get("error")
    unreadable = (error.get("unreadable") if isinstance(error, dict) and error.get("type") == "UnreadableResult"
                  else None)
    if isinstance(unreadable, dict):
        return _wrong_result(unreadable, called)
    if not isinstance(info, dict):
        return _student_error(error, deferred, called)
    watch = watch or {}
    used = info.get("used")
    used = used if isinstance(used, str) and used in _watched_calls(watch.get("rules")) else "a forbidden call"
    names = [n for n in info.get("names", []) if isinstance(n, str) and n in watch.get("names", ())] \
        if isinstance(info.get("names"), list) else []
    line = info.get("line") if type(info.get("line")) is int and 0 < info["line"] <= module_lines else 0
    return ForbiddenCall(used, names, line, info.get("replaced") is True, info.get("at_import") is True)


def _watched_calls(rules) -> set:
    """The names the run-time watch reports calls by, for an exercise's forbidden ``rules`` (as
    the zygote finds them, in the same torch), and the uses its audit events show."""
    from autograder.forbidden_watch import AUDITED_USES, cached_plan

    try:
        return {shown for _, shown, *_ in cached_plan(rules or {})} | AUDITED_USES
    except Exception:  # noqa: BLE001 - rules this torch cannot read: the zygote refused them too
        return set(AUDITED_USES)


def _raised(answer: dict, called: str = "") -> StudentError | None:
    """The Exception student code raised, from an answer that is not ``ok``; None for a
    forbidden call, a skipped request, a result the worker could not send, or SystemExit and
    the like."""
    if answer.get("skipped") or isinstance(answer.get("forbidden"), dict):
        return None
    error = _student_error(answer.get("error"), called=called)
    return error if "Exception" in error.type_names and error.type_name != "UnreadableResult" else None


def _protections(report) -> dict:
    """A worker's protections (:class:`autograder.sandbox.Report`), as plain, short text."""
    if not isinstance(report, dict):
        return {}
    return {plain_text(str(k))[:60]: plain_text(str(v))[:200] for k, v in list(report.items())[:20]}


def _cell_notes(errors, notebook: str) -> list[str]:
    """What the student should know of the notebook cells that raised, or ran too long, while it
    was loaded (as the worker reports them, so read as data)."""
    if not isinstance(errors, list):
        return []
    notes = []
    for e in errors[:MAX_CELL_ERRORS]:
        if not (isinstance(e, dict) and type(e.get("cell")) is int):
            continue
        if e.get("type") == TOO_LONG:
            what = (f"ran for more than {plain_text(str(e.get('message', '')))[:20]} and was stopped (a long "
                    "training run or demo belongs outside the graded notebook)")
        else:
            what = "raised " + plain_text(f"{str(e.get('type', 'Exception'))[:100]}: {str(e.get('message', ''))[:300]}")
        notes.append(f"{notebook}, cell {e['cell']} {what}; the cells after it were still run "
                     "(as nbgrader runs a notebook), but what it would have defined is missing")
    return notes


def _cell_stopped_on_time(errors) -> bool:
    """Whether a notebook cell was stopped at its time limit while the notebook was loaded."""
    return isinstance(errors, list) and any(isinstance(e, dict) and e.get("type") == TOO_LONG
                                            for e in errors[:MAX_CELL_ERRORS])


def _student_error(info, deferred: bool = False, called: str = "") -> StudentError:
    """The StudentError an answer's ``error`` describes. Its ``missing`` name is believed only when
    it is the name that was called (``called``), else student code could name anything there."""
    if not isinstance(info, dict):
        return StudentError("Exception", ["Exception"], "unknown error", [], deferred)
    names = [plain_text(str(n)) for n in info.get("mro", [])] if isinstance(info.get("mro"), list) else []
    where = info.get("where") if isinstance(info.get("where"), list) else []
    where = [[plain_text(str(part)) if isinstance(part, str) else part for part in w]
             for w in where if isinstance(w, list) and len(w) == 4]
    missing = info.get("missing")
    missing = missing if isinstance(missing, str) and missing == called.split(".")[0] else None
    return StudentError(plain_text(str(info.get("type", "Exception"))[:200]), names or ["Exception"],
                        plain_text(str(info.get("message", ""))[:2000]), where, deferred, missing)


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
    worker keeps. Calls send data and return data; see docs/AUTHORING.md for the verbs.
    ``label`` names a kept object in feedback (the class that made it: ``SGD``, so that a call
    of its method is ``SGD.step``)."""

    def __init__(self, session: ExerciseSession, ref: int | None, path: tuple[str, ...], generation: int = 0,
                 label: str = ""):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Remote(self._session, self._ref, self._path + (name,), self._generation, self._label)

    def __setattr__(self, name, value):
        raise AttributeError("use .set(value) to set an attribute in the worker")

    def __repr__(self):
        return f"<remote {self._session.exercise}:{self._ref}:{'.'.join(self._path)}>"

    @property
    def _name(self) -> str:
        return ".".join(((self._label,) if self._label else ()) + self._path) or "object"

    def _target(self):
        if self._ref is not None and self._generation != self._session.generation():
            raise WorkerFailure("an object this test made was lost when its worker was restarted")
        return {"ref": self._ref, "path": list(self._path)}

    def _call_request(self, mode, args, kwargs, **extra) -> tuple[dict, dict]:
        header = {"op": "call", "target": self._target(), "mode": mode, **extra}
        values = {"args": _to_wire(list(args), self._session), "kwargs": _to_wire(kwargs, self._session)}
        if "grad_output" in extra:
            values["grad_output"] = header.pop("grad_output")
        return header, values

    def _call(self, mode, args, kwargs, **extra):
        return self._session.request(*self._call_request(mode, args, kwargs, **extra), self._name)

    def __call__(self, *args, **kwargs):
        return self._call("value", args, kwargs)[1]["value"]

    def detailed(self, *args, **kwargs) -> CallResult:
        return _call_result(self._call("detailed", args, kwargs)[1])

    def with_grad(self, *args, wrt=(0,), grad_output=None, output_index=None, params=False, **kwargs) -> GradResult:
        return _grad_result(self._call("grad", args, kwargs, **_grad_options(wrt, grad_output, output_index, params))[1])

    def later(self, check, *args, **kwargs) -> None:
        """``check(fn(*args, **kwargs))``, without waiting: the call is sent now and ``check``
        runs when its answer is read, in order with the other requests (at the latest when the
        test ends). Many such calls cost one round trip to the worker instead of one each."""
        self._session.defer(*self._call_request("value", args, kwargs), self._name, lambda out: check(out["value"]))

    def detailed_later(self, check, *args, **kwargs) -> None:
        """``check(fn.detailed(*args, **kwargs))`` without waiting (see ``later``)."""
        self._session.defer(*self._call_request("detailed", args, kwargs), self._name,
                            lambda out: check(_call_result(out)))

    def error_later(self, check, *args, **kwargs) -> None:
        """``check(error)`` without waiting, where ``error`` is the StudentError the call raised,
        or None if it returned (see ``later``). It goes as a plain call: student code can read
        the request it runs in, so nothing there may say that an error is expected."""
        self._session.defer(*self._call_request("value", args, kwargs), self._name, lambda out: check(None),
                            on_error=check)

    def detailed_or_error_later(self, check, *args, **kwargs) -> None:
        """``check(result, error)`` without waiting (see ``later``): ``result`` is the
        CallResult (as ``detailed``) and ``error`` None if the call returned, or ``result`` None
        and ``error`` the StudentError it raised. For inputs the contract lets a function either
        answer or refuse; it goes as a plain call, as ``error_later``'s does."""
        self._session.defer(*self._call_request("detailed", args, kwargs), self._name,
                            lambda out: check(_call_result(out), None), on_error=lambda error: check(None, error))

    def with_grad_later(self, check, *args, wrt=(0,), grad_output=None, output_index=None, params=False,
                        **kwargs) -> None:
        """``check(fn.with_grad(*args, ...))`` without waiting (see ``later``)."""
        self._session.defer(*self._call_request("grad", args, kwargs, **_grad_options(wrt, grad_output, output_index,
                                                                                      params)),
                            self._name, lambda out: check(_grad_result(out)))

    def new(self, *args, **kwargs) -> "Remote":
        return self._session.keep(*self._call_request("ref", args, kwargs), self._name, self._name)

    def new_later(self, *args, **kwargs) -> "Remote":
        """``new`` without waiting (see ``later``): the object is usable at once; an exception
        the constructor raises fails the test at the next request that waits."""
        return self._session.keep_later(*self._call_request("ref", args, kwargs), self._name, self._name)

    def call_later(self, *args, **kwargs) -> None:
        """Call without waiting for the answer: the call runs before any later request, its result
        is dropped, and an exception it raises fails the test at the next request that waits
        (at the latest when the test ends)."""
        self._session.defer(*self._call_request("ignore", args, kwargs), self._name)

    def get(self):
        answer = self._session.request({"op": "get", "target": self._target()}, {}, f"reading {self._name}")
        return answer[1]["value"]

    def get_later(self, check) -> None:
        """``check(obj.get())`` without waiting (see ``later``)."""
        self._session.defer({"op": "get", "target": self._target()}, {}, f"reading {self._name}",
                            lambda out: check(out["value"]))

    def ref(self) -> "Remote":
        """The attribute itself as a worker object, e.g. a bound method to pass as a callable:
        ``student.tensor(a).dist.ref()`` is ``a.dist`` in the worker."""
        return self._session.keep({"op": "ref", "target": self._target()}, {}, f"reading {self._name}", self._name)

    def ref_later(self) -> "Remote":
        """``ref`` without waiting (see ``new_later``)."""
        return self._session.keep_later({"op": "ref", "target": self._target()}, {}, f"reading {self._name}",
                                        self._name)

    def set(self, value) -> None:
        self._session.request(*self._set_request(value), f"setting {self._name}")

    def set_later(self, value) -> None:
        """``set`` without waiting for the answer (see ``call_later``)."""
        self._session.defer(*self._set_request(value), f"setting {self._name}")

    def _set_request(self, value) -> tuple[dict, dict]:
        return {"op": "set", "target": self._target()}, {"value": _to_wire(value, self._session)}


def _call_result(out: dict) -> CallResult:
    return CallResult(out["value"], out.get("args", []), out.get("kwargs", {}))


def _grad_result(out: dict) -> GradResult:
    return GradResult(out["value"], out.get("grads", []), out.get("param_grads", {}))


def _grad_options(wrt, grad_output, output_index, params) -> dict:
    return {"wrt": list(wrt), "output_index": output_index, "params": bool(params), "grad_output": grad_output}


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
