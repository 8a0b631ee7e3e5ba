"""The data-only wire format between the trusted grader and the untrusted worker.

A message is ``<u64 body length>`` followed by the body: ``<u32 header length>``, a UTF-8 JSON
header, then raw byte buffers whose lengths the header lists. Values are JSON trees in which
the few non-JSON types are tagged objects:

===================  =============================================================
``{"t": i}``         tensor ``i`` of ``header["tensors"]``: dtype, shape, stride, buffer (and the
                     storage offset of a view the worker is sent: its storage before it travels too)
``{"tuple": [...]}``  a tuple (``{"size": [...]}`` a ``torch.Size``)
``{"dict": [[k, v]...]}``  a dict with any encodable keys, order kept
``{"float": "nan"}``  a non-finite float (``"inf"``, ``"-inf"``)
``{"dtype": name}``  a ``torch.dtype``
``{"ref": id}``      an object held by the worker (:class:`Ref`)
``{"iter": [...]}``  a one-shot iterator over the items
``{"gen": i}``       a ``torch.Generator`` whose state is tensor ``i``
===================  =============================================================

Nothing is ever unpickled; decoding builds only plain Python values and plain ``torch.Tensor``
objects from bytes, and checks every size against caps before it allocates.
"""

from __future__ import annotations

import json
import math
import select
import socket
import struct
import time
from dataclasses import dataclass

import torch

MAX_MESSAGE_BYTES = 256 << 20
MAX_HEADER_BYTES = 8 << 20       # the JSON part of a message (tensor data travels beside it)
MAX_ITEMS = 1_000_000            # items of all the lists, tuples and dicts of one message
MAX_DIMS = 32

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}

# made once: json.dumps/json.loads build an encoder (or sniff the encoding) on every call.
# Encoded trees are built afresh by _Encoder (depth-capped), so they hold no cycles to check for.
_JSON_OUT = json.JSONEncoder(allow_nan=False, check_circular=False, separators=(",", ":"))
_JSON_IN = json.JSONDecoder()


class WireError(Exception):
    """A message that is malformed, too large, or holds a value that cannot be sent."""


class Closed(WireError):
    """The other side closed the connection."""


class Deadline(WireError):
    """No complete message arrived before the deadline."""


@dataclass(frozen=True)
class Ref:
    """An object that lives in the worker, named by its id."""

    id: int


@dataclass(frozen=True)
class IterOf:
    """Arrives on the other side as ``iter(items)``."""

    items: list


# --------------------------------------------------------------------------- encoding


class _Encoder:
    def __init__(self, strict_tensors: bool):
        self.tensors: list[dict] = []
        self.buffers: list[bytes] = []
        self.strict_tensors = strict_tensors

    def value(self, v, depth=0):
        if depth > 64:
            raise WireError("value is nested too deeply")
        if isinstance(v, torch.Tensor):              # the common cases first
            return {"t": self.tensor(v)}
        if type(v) is list:
            return [self.value(x, depth + 1) for x in v]
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            if math.isfinite(v):
                return float(v)
            return {"float": "nan" if v != v else ("inf" if v > 0 else "-inf")}
        if isinstance(v, torch.Size):
            return {"size": [int(s) for s in v]}
        if isinstance(v, tuple):
            return {"tuple": [self.value(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return [self.value(x, depth + 1) for x in v]
        if isinstance(v, dict):
            return {"dict": [[self.value(k, depth + 1), self.value(x, depth + 1)] for k, x in v.items()]}
        if isinstance(v, torch.dtype):
            if v not in DTYPE_NAMES:
                raise WireError(f"dtype {v} cannot be sent")
            return {"dtype": DTYPE_NAMES[v]}
        if isinstance(v, Ref):
            return {"ref": v.id}
        if isinstance(v, IterOf):
            return {"iter": [self.value(x, depth + 1) for x in v.items]}
        if isinstance(v, torch.Generator):
            return {"gen": self.tensor(v.get_state())}
        raise WireError(f"an object of type {type(v).__name__} cannot be sent")

    def tensor(self, t: torch.Tensor) -> int:
        with torch._C.DisableTorchFunctionSubclass():
            if t.requires_grad:
                t = t.detach()
            if not t.is_cpu:
                t = t.cpu()
            dtype = DTYPE_NAMES.get(t.dtype)
            if dtype is None:
                raise WireError(f"a tensor of dtype {t.dtype} cannot be sent")
            if t.is_conj() or t.is_neg():
                t = t.resolve_conj().resolve_neg()
            if self.strict_tensors:
                t = t.contiguous()
            shape, stride, offset = list(t.shape), list(t.stride()), t.storage_offset()
            if t.numel() == 0 or (t.is_contiguous() and (offset == 0 or self.strict_tensors)):
                offset, data = 0, _raw_bytes(t)     # its elements, in order
            else:       # its storage from the start to as far as it reaches: strides and offset survive
                data = _raw_bytes(torch.as_strided(t, (offset + _storage_span(shape, stride),), (1,), 0))
        self.buffers.append(data)
        self.tensors.append({"dtype": dtype, "shape": shape, "stride": stride, "buffer": len(self.buffers) - 1,
                             **({"offset": offset} if offset else {})})
        return len(self.tensors) - 1


def _raw_bytes(t: torch.Tensor) -> bytes:
    """The elements of ``t`` in row-major order, as bytes."""
    return (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()


def _storage_span(shape, stride) -> int:
    """Number of storage elements a tensor with this shape and stride reaches (from offset 0)."""
    if 0 in shape:
        return 0
    return 1 + sum((s - 1) * st for s, st in zip(shape, stride))


def encode(header: dict, values: dict, contiguous: bool = False) -> bytes:
    """Encode ``header`` (plain JSON) plus ``values`` (encodable values) as one message.

    With ``contiguous``, tensors are sent compactly (the worker's answers); otherwise their
    strides are kept so that a non-contiguous argument arrives non-contiguous.
    """
    enc = _Encoder(strict_tensors=contiguous)
    body = dict(header)
    body["values"] = {k: enc.value(v) for k, v in values.items()}
    body["tensors"] = enc.tensors
    body["buffers"] = [len(b) for b in enc.buffers]
    head = _JSON_OUT.encode(body).encode()
    payload = b"".join([struct.pack("<I", len(head)), head, *enc.buffers])
    return struct.pack("<Q", len(payload)) + payload


# --------------------------------------------------------------------------- decoding


class _Decoder:
    def __init__(self, body: dict, buffers: list[memoryview], make_ref, make_iter):
        self.specs = body.get("tensors", [])
        self.buffers = buffers
        self.make_ref = make_ref
        self.make_iter = make_iter
        self.items = 0
        if not isinstance(self.specs, list):
            raise WireError("bad tensor table")

    def _count(self, items: list) -> None:
        self.items += len(items)
        if self.items > MAX_ITEMS:
            raise WireError(f"more than {MAX_ITEMS} items in one message")

    def value(self, v, depth=0):
        """``v`` is what the JSON decoder made: only dict, list, str, int, float, bool, None."""
        if depth > 64:
            raise WireError("value is nested too deeply")
        kind = type(v)
        if kind is list:
            self._count(v)
            return [self.value(x, depth + 1) for x in v]
        if kind is not dict:
            return v
        if len(v) != 1:
            raise WireError("bad value")
        (tag, x), = v.items()
        if tag == "t":
            return self.tensor(x)
        if tag == "tuple" and isinstance(x, list):
            self._count(x)
            return tuple(self.value(i, depth + 1) for i in x)
        if tag == "size" and isinstance(x, list) and all(type(i) is int for i in x):
            return torch.Size(x)
        if tag == "dict" and isinstance(x, list):
            self._count(x)
            out = {}
            for pair in x:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("bad dict entry")
                key = self.value(pair[0], depth + 1)
                try:
                    out[key] = self.value(pair[1], depth + 1)
                except TypeError as e:  # unhashable key
                    raise WireError("bad dict key") from e
            return out
        if tag == "float" and x in ("nan", "inf", "-inf"):
            return float(x)
        if tag == "dtype" and x in DTYPES:
            return DTYPES[x]
        if tag == "ref" and type(x) is int and self.make_ref is not None:
            return self.make_ref(x)
        if tag == "iter" and isinstance(x, list) and self.make_iter is not None:
            return self.make_iter([self.value(i, depth + 1) for i in x])
        if tag == "gen" and self.make_iter is not None:  # generators only travel to the worker
            g = torch.Generator()
            g.set_state(self.tensor(x))
            return g
        raise WireError(f"unexpected value tag {tag!r}")

    def tensor(self, i) -> torch.Tensor:
        if type(i) is not int or not 0 <= i < len(self.specs):
            raise WireError("bad tensor index")
        spec = self.specs[i]
        try:
            dtype = DTYPES[spec["dtype"]]
            shape, stride, buf, offset = spec["shape"], spec["stride"], spec["buffer"], spec.get("offset", 0)
        except (KeyError, TypeError, AttributeError) as e:
            raise WireError("bad tensor spec") from e
        if (type(shape) is not list or type(stride) is not list or len(shape) != len(stride)
                or len(shape) > MAX_DIMS or type(buf) is not int or not 0 <= buf < len(self.buffers)
                or type(offset) is not int or offset < 0):
            raise WireError("bad tensor spec")
        for size, step in zip(shape, stride):
            if type(size) is not int or type(step) is not int or size < 0 or step < 0:
                raise WireError("bad tensor spec")
        span = _storage_span(shape, stride)
        data = self.buffers[buf]
        if len(data) != (offset + span if span else 0) * dtype.itemsize:
            raise WireError("tensor data does not match its shape")
        if span == 0:
            return torch.empty(shape, dtype=dtype)
        return torch.frombuffer(bytearray(data), dtype=dtype).as_strided(shape, stride, offset)


def decode(payload: bytes, make_ref=None, make_iter=None) -> tuple[dict, dict]:
    """Decode one message body into ``(header, values)``.

    ``make_ref(id)`` and ``make_iter(items)`` say how ``ref`` and ``iter`` values are rebuilt.
    Refs, iterators and generators only ever travel to the worker: without these callbacks (the
    trusted side decoding a worker's answer) all three are refused.
    """
    try:
        view = memoryview(payload)
        if len(view) < 4:
            raise WireError("truncated message")
        (head_len,) = struct.unpack_from("<I", view, 0)
        if head_len > MAX_HEADER_BYTES:
            raise WireError(f"message header larger than {MAX_HEADER_BYTES >> 20} MiB")
        if 4 + head_len > len(view):
            raise WireError("truncated message header")
        body = _JSON_IN.decode(str(view[4:4 + head_len], "utf-8"))
        if not isinstance(body, dict):
            raise WireError("bad message header")
        sizes = body.pop("buffers", [])
        if type(sizes) is not list or not all(type(s) is int and s >= 0 for s in sizes):
            raise WireError("bad buffer table")
        if 4 + head_len + sum(sizes) != len(view):
            raise WireError("message length does not match its buffers")
        buffers, pos = [], 4 + head_len
        for s in sizes:
            buffers.append(view[pos:pos + s])
            pos += s
        dec = _Decoder(body, buffers, make_ref, make_iter)
        raw = body.pop("values", {})
        if type(raw) is not dict:
            raise WireError("bad values")
        values = {k: dec.value(v) for k, v in raw.items()}
    except WireError:
        raise
    except (ValueError, TypeError, RecursionError, RuntimeError, OverflowError) as e:
        raise WireError(f"malformed message ({type(e).__name__})") from e
    body.pop("tensors", None)
    return body, values


def verdict(skip: bool) -> bytes:
    """The grader's word on a request that failed, sent once it has read the answer: whether the
    worker skips what was sent before this word (an unexpected failure ends the test) or runs it
    (an error the test expected). It comes after the answer, so nothing a call can read tells it
    whether the grader expects an error or a value."""
    return encode({"verdict": "skip" if skip else "run"}, {})


SKIP, RUN = verdict(True)[8:], verdict(False)[8:]     # the two verdicts, as the worker receives them


# --------------------------------------------------------------------------- transport


def send(sock: socket.socket, message: bytes) -> None:
    sock.sendall(message)


class Reader:
    """Reads length-prefixed messages from ``sock``, taking whatever has arrived in one system
    call: messages sent together cost one read, not two each."""

    CHUNK = 1 << 16
    MAX_READ = 1 << 20

    def __init__(self, sock: socket.socket, limit: int = MAX_MESSAGE_BYTES):
        self.sock, self.limit = sock, limit
        self._buf = bytearray()

    def has_message(self) -> bool:
        """Whether a whole message is buffered already (reading it needs no system call)."""
        try:
            return self._length() is not None
        except WireError:
            return True              # recv raises it

    def recv(self, deadline: float | None = None, on_wait=None) -> bytes:
        """One message body. ``deadline`` is a ``time.monotonic()`` instant (None: block);
        ``on_wait(timeout)`` (if given) is called instead of blocking on the socket alone, so
        the caller can drain other descriptors; it must return when ``sock`` is readable or the
        timeout passed. A message over the limit is refused before its body is read."""
        while (n := self._length()) is None:
            self._fill(deadline, on_wait)
        with memoryview(self._buf) as view:
            body = bytes(view[8:8 + n])
        del self._buf[:8 + n]
        return body

    def _length(self) -> int | None:
        """The first message's body length, once all of it is buffered."""
        if len(self._buf) < 8:
            return None
        (n,) = struct.unpack_from("<Q", self._buf)
        if n > self.limit:
            raise WireError(f"message of {n} bytes is over the limit of {self.limit}")
        return n if len(self._buf) >= 8 + n else None

    def pull(self, size: int = MAX_READ) -> None:
        """Buffer what has arrived (up to ``size`` bytes), without waiting (a sender blocked on
        a full socket can then go on)."""
        self._read(socket.MSG_DONTWAIT, size)

    def _fill(self, deadline, on_wait) -> None:
        have = len(self._buf)
        missing = 8 - have if have < 8 else 8 + struct.unpack_from("<Q", self._buf)[0] - have
        size = min(max(self.CHUNK, missing), self.MAX_READ)
        if deadline is None:
            self._read(0, size)
            return
        if self._read(socket.MSG_DONTWAIT, size):
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline("deadline passed")
        if on_wait is not None:
            on_wait(remaining)
        else:
            select.select([self.sock], [], [], remaining)

    def _read(self, flags: int, size: int) -> bool:
        """One read into the buffer; False if nothing was there (or a signal came first)."""
        try:
            chunk = self.sock.recv(size, flags)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:
            raise Closed(str(e)) from e
        if not chunk:
            raise Closed("connection closed")
        self._buf += chunk
        return True
