"""The wire carries data only, and the trusted side refuses anything malformed."""

from __future__ import annotations

import json
import struct

import pytest
import torch

from autograder import wire
from autograder.testing import describe


def roundtrip(values, **kw):
    message = wire.encode({"op": "x"}, values)
    header, out = wire.decode(message[8:], **kw)
    assert header["op"] == "x"
    return out


def test_values_roundtrip_exactly():
    x = torch.arange(12.0, dtype=torch.float64).reshape(3, 4)
    values = {"a": (1, 2.5, float("inf"), None, True, "s"), "b": [torch.Size([2, 3]), {"k": x, 3: [x[0]]}],
              "c": torch.tensor(True), "d": torch.float32, "e": float("nan")}
    out = roundtrip(values)
    assert out["a"][:2] == (1, 2.5) and out["a"][2] == float("inf") and out["a"][3:] == (None, True, "s")
    assert type(out["b"][0]) is torch.Size and out["b"][0] == (2, 3)
    assert torch.equal(out["b"][1]["k"], x) and torch.equal(out["b"][1][3][0], x[0])
    assert out["c"].dtype == torch.bool and out["d"] is torch.float32 and out["e"] != out["e"]


@pytest.mark.parametrize("dtype", list(wire.DTYPES.values()))
def test_every_dtype_and_layout_survives(dtype):
    base = (torch.arange(24) % 7).to(dtype).reshape(2, 3, 4)
    for t in (base, base.transpose(0, 2), base[:, 1:, ::2], base[0, 0, :0], base.expand(5, 2, 3, 4), base[1],
              base[1, 1:, 1::2]):
        out = roundtrip({"t": t})["t"]
        assert type(out) is torch.Tensor and out.dtype == dtype and out.shape == t.shape
        assert out.stride() == t.stride() or t.numel() == 0
        assert out.storage_offset() == t.storage_offset() or t.numel() == 0   # code that ignores it is caught
        assert torch.equal(out, t)


def test_answers_are_sent_contiguous_and_subclasses_become_plain_tensors():
    class Sub(torch.Tensor):
        pass

    t = torch.arange(6.0).reshape(2, 3).t().as_subclass(Sub)
    message = wire.encode({}, {"t": t}, contiguous=True)
    out = wire.decode(message[8:])[1]["t"]
    assert type(out) is torch.Tensor and out.is_contiguous() and torch.equal(out, torch.arange(6.0).reshape(2, 3).t())


def test_objects_cannot_be_sent():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(wire.WireError, match="AlwaysEqual"):
        wire.encode({}, {"x": AlwaysEqual()})


def forged(body: dict, buffers: bytes = b"") -> bytes:
    head = json.dumps(body).encode()
    return struct.pack("<I", len(head)) + head + buffers


@pytest.mark.parametrize("body, buffers", [
    ({"values": {"x": {"t": 0}}, "tensors": [{"dtype": "object", "shape": [1], "stride": [1], "buffer": 0}],
      "buffers": [8]}, b"\0" * 8),
    ({"values": {"x": {"t": 0}}, "tensors": [{"dtype": "float32", "shape": [4], "stride": [1], "buffer": 0}],
      "buffers": [8]}, b"\0" * 8),
    ({"values": {"x": {"t": 0}}, "tensors": [{"dtype": "float32", "shape": [-1], "stride": [1], "buffer": 0}],
      "buffers": [4]}, b"\0" * 4),
    ({"values": {"x": {"t": 0}}, "tensors": [{"dtype": "float32", "shape": [1], "stride": [1], "buffer": 0,
                                               "offset": -1}], "buffers": [4]}, b"\0" * 4),
    ({"values": {"x": {"t": 0}}, "tensors": [{"dtype": "float32", "shape": [1], "stride": [1], "buffer": 0,
                                               "offset": 2}], "buffers": [8]}, b"\0" * 8),
    ({"values": {"x": {"t": 5}}, "tensors": [], "buffers": []}, b""),
    ({"values": {"x": {"ref": 1}}}, b""),
    ({"values": {"x": {"iter": [1]}}}, b""),
    ({"values": {"x": {"gen": 0}}}, b""),
    ({"values": {"x": {"pickle": "gASVAAAA"}}}, b""),
    ({"values": {"x": 1}, "buffers": [10]}, b"\0" * 3),
    ({"values": {"x": {"dict": [[[1], 2]]}}}, b""),
])
def test_the_trusted_side_refuses_malformed_or_foreign_values(body, buffers):
    with pytest.raises(wire.WireError):
        wire.decode(forged(body, buffers))


def test_deep_nesting_and_garbage_are_refused():
    nested = 1
    for _ in range(100):
        nested = [nested]
    deep = {"values": {"x": nested}}
    with pytest.raises(wire.WireError):
        wire.decode(forged(deep))
    for junk in (b"", b"\xff\xff\xff\xff", b"\x05\0\0\0{}", b"\x02\0\0\0[]", b"\x80\x04\x95" * 10):
        with pytest.raises(wire.WireError):
            wire.decode(junk)


def test_oversized_messages_are_refused_before_reading():
    import socket

    a, b = socket.socketpair()
    a.sendall(struct.pack("<Q", wire.MAX_MESSAGE_BYTES + 1))
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.Reader(b).recv()
    a.close()
    b.close()


def test_answers_too_big_to_read_cheaply_are_refused_and_long_results_are_described_briefly():
    """Millions of values would stall the grader decoding and describing them."""
    with pytest.raises(wire.WireError, match="more than 1000000 items"):
        wire.decode(wire.encode({"ok": True}, {"value": (0,) * 600_000, "more": [1] * 600_000})[8:])
    head = json.dumps({"ok": True, "values": {"value": [0] * 5_000_000}, "tensors": [], "buffers": []}).encode()
    with pytest.raises(wire.WireError, match="header larger than 8 MiB"):
        wire.decode(struct.pack("<I", len(head)) + head)
    assert describe((0,) * 1_000_000) == "(" + "0, " * 32 + "... (1000000 items))"
