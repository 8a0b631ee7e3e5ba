"""The worker's side: load one student module and answer the grader's requests.

This code runs inside the sandbox, in the same process as student code, so nothing here is
trusted by the grader: every answer is decoded there as data only. Requests (see
:mod:`autograder.client`) are ``call``, ``get``, ``set``, ``put`` and ``ref``; a target names an object by
``{"ref": id | None, "path": [attr, ...]}`` where ``ref: None`` is the student module. Requests
that keep an object (``put``, ``ref``, a call in mode ``ref``) carry the id to keep it under
(``"keep"``), chosen by the grader, so it can send them without waiting for their answers.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import sys
import types

import torch

from autograder import wire
from autograder.cells import run_cells
from autograder.forbidden_watch import ForbiddenWatch, traceback_codes
from autograder.text import exception_message

MAX_ITER_ITEMS = 100_000


SKIPPED = wire.encode({"ok": False, "skipped": True}, {})   # a request sent before an unexpected failure was read


class MissingName(AttributeError):
    """The module does not define a name the grader calls (a misspelt or renamed function)."""

    def __init__(self, name: str):
        super().__init__(f"the module has no {name!r}")
        self.name = name


class UnreadableResult(Exception):
    """What a call returned cannot be sent to the grader, or is not the tensor a gradient is
    taken of (not a TypeError: a test expecting TypeError of a call must not pass because the
    call returned something odd). ``kind`` says which, for the grader to word: ``type`` (the
    result is of type ``returned``, as ``module.name``), ``holds`` (the result holds one such),
    ``not_tensor`` (of type ``returned``), ``nested`` or ``endless``."""

    def __init__(self, message: str, kind: str, returned: type | None = None):
        super().__init__(message)
        self.kind = kind
        self.returned = f"{returned.__module__}.{returned.__qualname__}" if returned is not None else ""


class Worker:
    def __init__(self, module: types.ModuleType, watch: ForbiddenWatch | None = None):
        self.module = module
        self.watch = watch            # forbidden calls made while a request runs
        self.objects: dict[int, object] = {}
        self.failed = False           # the last request failed: the grader's verdict comes next

    # ------------------------------------------------------------------ requests
    def handle(self, payload: bytes) -> bytes:
        """One request, one answer. After a failed one (``failed``), :func:`serve` waits for the
        grader's verdict (:func:`autograder.wire.verdict`) before it runs anything more. Nothing
        in a request says what the grader expects of it (an error or a value): student code
        could read that."""
        self.failed = False
        # watched until the answer is encoded: encoding runs student code too (a tensor subclass's
        # methods, an exception's __str__)
        with self.watch if self.watch is not None else contextlib.nullcontext():
            try:
                header, values = wire.decode(payload, make_ref=self._deref, make_iter=iter)
                op = header.get("op")
                answer = getattr(self, "op_" + str(op), None)
                if answer is None:
                    raise wire.WireError(f"unknown request {op!r}")
                reply = wire.encode({"ok": True}, answer(header, values), contiguous=True)
            except BaseException as e:  # noqa: BLE001 - every student failure (SystemExit too) is data
                self.failed = True
                reply = self._error(e)
        return self._forbidden() or reply

    def _forbidden(self) -> bytes | None:
        """The answer for a request that made a forbidden call (whatever else it did), or None."""
        noted = self.watch.take() if self.watch is not None else []
        if not noted:
            return None
        self.failed = True
        names = sorted({n for note in noted for n in note["names"]})
        return wire.encode({"ok": False, "forbidden": {**noted[0], "names": names}}, {})

    def _error(self, e: BaseException) -> bytes:
        try:
            return wire.encode({"ok": False, "error": self._error_info(e)}, {})
        except Exception:  # noqa: BLE001
            return wire.encode({"ok": False, "error": {"type": "Exception", "mro": ["Exception"],
                                                       "message": "unprintable", "where": []}}, {})

    def _error_info(self, e: BaseException) -> dict:
        student_dir = self._student_dir()
        return {
            "type": type(e).__name__,
            "mro": [c.__name__ for c in type(e).__mro__],
            "message": exception_message(e, 2000),
            "where": _where(e.__traceback__, lambda file: file.startswith(student_dir), 5),
            **({"missing": e.name} if type(e) is MissingName else {}),
            **({"unreadable": {"kind": e.kind, "returned": e.returned}} if type(e) is UnreadableResult else {}),
        }

    def _student_dir(self) -> str:
        return (getattr(self.module, "__file__", "") or "").rsplit("/", 1)[0] + "/"

    def _deref(self, i: int):
        if i not in self.objects:
            raise wire.WireError(f"no worker object {i}")
        return self.objects[i]

    def _keep(self, obj, header) -> dict:
        i = header.get("keep")
        if type(i) is not int or i in self.objects:
            raise wire.WireError(f"cannot keep an object as {i!r}")
        self.objects[i] = obj
        return {"ref": i}

    def _resolve(self, target):
        obj = self.module if target.get("ref") is None else self._deref(target["ref"])
        for i, name in enumerate(target.get("path", [])):
            if i == 0 and obj is self.module and not hasattr(obj, name):
                raise MissingName(name)
            obj = getattr(obj, name)
        return obj

    def op_put(self, header, values):
        value = values["value"]
        if isinstance(value, torch.Tensor) and header.get("requires_grad"):
            value = value.detach().clone().requires_grad_(True)
        return self._keep(value, header)

    def op_ref(self, header, values):
        return self._keep(self._resolve(header["target"]), header)

    def op_get(self, header, values):
        return {"value": _sendable(self._resolve(header["target"]))}

    def op_set(self, header, values):
        target = header["target"]
        path = target.get("path", [])
        if not path:
            raise wire.WireError("set needs an attribute")
        owner = self._resolve({"ref": target.get("ref"), "path": path[:-1]})
        setattr(owner, path[-1], values["value"])
        return {}

    def op_call(self, header, values):
        fn = self._resolve(header["target"])
        args, kwargs = list(values.get("args", [])), dict(values.get("kwargs", {}))
        mode = header.get("mode", "value")
        if mode == "grad":
            return self._call_with_grad(fn, args, kwargs, header, values)
        result = fn(*args, **kwargs)
        if mode == "ref":
            return self._keep(result, header)
        if mode == "ignore":
            return {}
        out = {"value": _sendable(result)}
        if mode == "detailed":
            out["args"] = [_sendable_arg(a) for a in args]
            out["kwargs"] = {k: _sendable_arg(v) for k, v in kwargs.items()}
        return out

    def _call_with_grad(self, fn, args, kwargs, header, values):
        wrt = header.get("wrt", [])
        leaves = []
        for i in wrt:
            args[i] = args[i].detach().clone().requires_grad_(True)
            leaves.append(args[i])
        owner = self._resolve({"ref": header["target"].get("ref"), "path": header["target"]["path"][:-1]}) \
            if header.get("params") else None
        named = list(owner.named_parameters()) if owner is not None else []
        for _, p in named:
            p.grad = None
        result = fn(*args, **kwargs)
        out = result if header.get("output_index") is None else result[header["output_index"]]
        if not isinstance(out, torch.Tensor):
            raise UnreadableResult(f"returned {type(out).__name__}, not a tensor", "not_tensor", type(out))
        grad_output = values.get("grad_output")
        if grad_output is None:
            grad_output = torch.ones_like(out)
        inputs = leaves + [p for _, p in named]
        grads = torch.autograd.grad(out, inputs, grad_output.to(out.dtype), allow_unused=True) \
            if inputs and out.requires_grad else [None] * len(inputs)
        return {"value": _sendable(result), "grads": list(grads[:len(leaves)]),
                "param_grads": {n: g for (n, _), g in zip(named, grads[len(leaves):])}}


def _sendable(v, depth=0):
    """Turn iterators and other iterables into lists, and everything else into what the wire accepts."""
    if depth > 32:
        raise UnreadableResult("returned a result nested too deeply for the grader to read", "nested")
    if isinstance(v, torch.Tensor):
        return v
    if _read_by_iterating(v):
        items = []
        for item in v:
            items.append(_sendable(item, depth + 1))
            if len(items) > MAX_ITER_ITEMS:
                raise UnreadableResult(f"returned an iterator that did not stop after {MAX_ITER_ITEMS} items",
                                       "endless")
        return items
    if isinstance(v, tuple) and not isinstance(v, torch.Size):
        return tuple(_sendable(x, depth + 1) for x in v)
    if isinstance(v, list):
        return [_sendable(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {k: _sendable(x, depth + 1) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str, torch.Size, torch.dtype)):
        return v
    raise UnreadableResult(f"returned an object of type {type(v).__name__}, which the grader cannot read",
                           "type" if depth == 0 else "holds", type(v))


def _read_by_iterating(v) -> bool:
    """Whether a result is read by iterating it into a list: an iterator (a generator), or any
    other iterable that is not data the wire carries as it is (a DataLoader, which the book's
    ``load_array`` returns for minibatches). Arrays are not: they are refused by name."""
    if isinstance(v, (str, bytes, bytearray, tuple, list, dict, torch.Tensor)) or hasattr(v, "__array__"):
        return False
    return hasattr(v, "__iter__")


def _sendable_arg(v):
    """Arguments after a call, for checking they were not modified: tensors, and lists and tuples
    (as lists) with the numbers they hold (a list shape the call may have changed)."""
    if isinstance(v, torch.Tensor):
        return v
    if isinstance(v, (list, tuple)):
        return [_sendable_arg(x) for x in v]
    if type(v) in (bool, int, float):
        return v
    return None


def load_module(path: str, name: str, cell_seconds: float | None = None) -> tuple[types.ModuleType, list[dict]]:
    """Import the student file at ``path`` as module ``name``; with ``cell_seconds`` (a module
    made from a notebook), cell by cell, each cell stopped after that long
    (:func:`autograder.cells.run_cells`). Returns the module and the cells that raised or were
    stopped."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if cell_seconds is not None:
        return module, run_cells(module, path, cell_seconds)
    spec.loader.exec_module(module)
    return module, []


def _where(tb, shown, count: int) -> list[list]:
    """``[file name, line, function, ""]`` of the innermost ``count`` frames of the traceback ``tb``
    whose file ``shown(file)`` accepts, outermost first, without their code: the grader reads the
    code from its own copy of the submission."""
    return [[code.co_filename.rsplit("/", 1)[-1], line, code.co_name, ""]
            for code, line in traceback_codes(tb) if shown(code.co_filename)][-count:]


def serve(sock, module_path: str, module_name: str, hello: dict, watch_plan: list | None = None,
          names=(), cell_seconds: float | None = None) -> None:
    """Send ``hello`` (how the worker is confined: sent before any student code runs, which could
    forge anything sent later), import the module (``cell_seconds``: a notebook's, cell by cell),
    report how that went, then answer requests until the socket closes. ``watch_plan`` (the
    exercise's forbidden calls, see :func:`autograder.forbidden_watch.watch_plan`) is put in place
    before the import, noting calls against the contract ``names``."""
    wire.send(sock, wire.encode(hello, {}))
    watcher = ForbiddenWatch(watch_plan, names, module_path) if watch_plan is not None else None
    try:
        if watcher is not None:
            watcher.arm()
        module, cell_errors = load_module(module_path, module_name, cell_seconds)
        if watcher is not None:
            watcher.loaded()
    except BaseException as e:  # noqa: BLE001 - SystemExit at import included
        where = _where(e.__traceback__, lambda file: file == module_path, 3)
        message = exception_message(e, 2000)
        if isinstance(e, SyntaxError):
            where = [[module_path.rsplit("/", 1)[-1], e.lineno, "<module>", (e.text or "").strip()]]
            message = str(e.msg)[:2000]      # str(e) names the file and line again
        wire.send(sock, wire.encode({"ok": False, "error": {
            "type": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__],
            "message": message, "where": where}}, {}))
        return
    wire.send(sock, wire.encode({"ok": True, "cell_errors": cell_errors}, {}))
    worker, reader, queued = Worker(module, watcher), wire.Reader(sock), collections.deque()
    while True:
        try:
            payload = queued.popleft() if queued else reader.recv()
            if payload in (wire.SKIP, wire.RUN):
                raise wire.WireError("a verdict without a failed request")
        except wire.WireError:
            return
        answer = worker.handle(payload)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a full or closed pipe must not stop the answer
                pass
        wire.send(sock, answer)
        if worker.failed:             # what was sent before the verdict runs only if the failure was expected
            try:
                while (payload := reader.recv()) not in (wire.SKIP, wire.RUN):
                    queued.append(payload)
            except wire.WireError:
                return
            if payload == wire.SKIP:
                for _ in range(len(queued)):
                    queued.popleft()
                    wire.send(sock, SKIPPED)
