"""Correct variant: works in float64 inside and casts back to the input dtype.

broadcast_shape folds the shapes pairwise with functools.reduce; broadcast_to adds x (in float64)
to a float64 zero tensor of the target shape (ordinary arithmetic broadcasting, which is allowed)
and casts back; unbroadcast sums in float64 and casts back.
"""

from functools import reduce

import torch


def _check(shape):
    if not isinstance(shape, (tuple, list, torch.Size)) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"not a shape of ints: {shape!r}")
    if any(s < 0 for s in shape):
        raise ValueError(f"negative size in shape {tuple(shape)}")
    return tuple(shape)


def _pair(a, b):
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for k, (p, q) in enumerate(zip(a, b)):
        if p == q or q == 1:
            out.append(p)
        elif p == 1:
            out.append(q)
        else:
            raise ValueError(f"sizes {p} and {q} clash at dimension {k - n}")
    return tuple(out)


def broadcast_shape(*shapes):
    return reduce(_pair, [_check(s) for s in shapes], ())


def can_broadcast(*shapes):
    try:
        broadcast_shape(*shapes)
    except (TypeError, ValueError):
        return False
    return True


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, not {type(x).__name__}")
    if not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError("shape must be a sequence of ints")
    shape = list(shape)
    if len(shape) < x.dim():
        raise ValueError(f"cannot broadcast {tuple(x.shape)} to fewer dimensions {tuple(shape)}")
    lead = len(shape) - x.dim()
    for i in range(lead, len(shape)):
        if shape[i] == -1:
            shape[i] = x.shape[i - lead]
    target = _check(shape)  # -1 left in a leading dimension is a negative size: ValueError
    if _pair(tuple(x.shape), target) != target:
        raise ValueError(f"cannot broadcast {tuple(x.shape)} to {target}")
    out = x.to(torch.float64) + torch.zeros(target, dtype=torch.float64)
    return out.to(x.dtype)


def unbroadcast(grad, shape):
    shape = _check(shape)
    gshape = tuple(grad.shape)
    if len(shape) > len(gshape) or not can_broadcast(shape, gshape) or _pair(shape, gshape) != gshape:
        raise ValueError(f"{shape} does not broadcast to {gshape}")
    g = grad.to(torch.float64)
    lead = len(gshape) - len(shape)
    for _ in range(lead):
        g = g.sum(dim=0)
    for d, s in enumerate(shape):
        if s == 1:
            g = g.sum(dim=d, keepdim=True)
    return g.to(grad.dtype)
