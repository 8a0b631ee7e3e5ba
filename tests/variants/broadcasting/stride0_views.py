"""Variant (red team, round of false failures): broadcast_to returns a stride-0 *view* of x (no copy,
exactly like torch.broadcast_to); unbroadcast returns grad itself when nothing has to be summed (as
Tensor.sum_to_size does); broadcast_shape pads the shapes on the left into a table and reads it
column by column."""
import torch


def _shape(s):
    if not isinstance(s, (tuple, list, torch.Size)):
        raise TypeError(f"a shape must be a tuple, list or torch.Size, not {type(s).__name__}")
    out = []
    for v in s:
        if type(v) is bool or not isinstance(v, int):
            raise TypeError(f"shape sizes must be ints, got {v!r}")
        out.append(int(v))
    return out


def broadcast_shape(*shapes):
    table = [_shape(s) for s in shapes]
    for s in table:
        for v in s:
            if v < 0:
                raise ValueError(f"negative size {v} in shape {tuple(s)}")
    nd = max([len(s) for s in table] + [0])
    padded = [[1] * (nd - len(s)) + s for s in table]
    result = []
    for col in range(nd):
        sizes = {row[col] for row in padded}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"cannot broadcast: axis {col - nd} has sizes {sorted(sizes)}")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def can_broadcast(*shapes):
    try:
        broadcast_shape(*shapes)
        return True
    except (TypeError, ValueError):
        return False


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    target = _shape(shape)
    if len(target) < x.dim():
        raise ValueError(f"target {tuple(target)} has fewer dims than x {tuple(x.shape)}")
    lead = len(target) - x.dim()
    sizes, strides = [], []
    for i, want in enumerate(target):
        j = i - lead
        if j < 0:
            if want < 0:
                raise ValueError(f"size {want} is not allowed in new leading dim {i}")
            sizes.append(want)
            strides.append(0)
            continue
        have, st = x.shape[j], x.stride(j)
        if want == -1:
            want = have
        if want < 0:
            raise ValueError(f"negative size {want} at dim {i}")
        if have == want:
            sizes.append(want)
            strides.append(st)
        elif have == 1:
            sizes.append(want)
            strides.append(0)
        else:
            raise ValueError(f"dim {i}: size {have} can not be broadcast to {want}")
    return x.as_strided(sizes, strides, x.storage_offset())


def unbroadcast(grad, shape):
    if not isinstance(grad, torch.Tensor):
        raise TypeError("grad must be a tensor")
    target = _shape(shape)
    if len(target) > grad.dim():
        raise ValueError(f"shape {tuple(target)} has more dims than grad {tuple(grad.shape)}")
    lead = grad.dim() - len(target)
    for i, s in enumerate(target):
        if s != 1 and s != grad.shape[lead + i]:
            raise ValueError(f"dim {i} of shape {tuple(target)} (size {s}) does not broadcast to "
                             f"{grad.shape[lead + i]}")
    dims = list(range(lead)) + [lead + i for i, s in enumerate(target) if s == 1 and grad.shape[lead + i] != 1]
    if not dims:
        return grad if grad.dim() == len(target) else grad.reshape(target)
    return grad.sum(dim=dims, keepdim=True).reshape(target)
