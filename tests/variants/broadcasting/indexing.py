"""Correct variant: generators and index_select.

broadcast_shape is written with generator expressions; can_broadcast is an independent check
(no try/except around broadcast_shape); broadcast_to repeats size-1 dimensions with
index_select on a zero index; unbroadcast reduces one dimension at a time, from a generator of
the dimensions to sum.
"""

import torch


def _valid(shape):
    if not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"{shape!r} is not a shape")
    if not all(type(d) is int for d in shape):
        raise TypeError(f"{shape!r} holds a size that is not an int")
    if any(d < 0 for d in shape):
        raise ValueError(f"{shape!r} holds a negative size")
    return tuple(shape)


def _dims_from_right(shapes):
    n = max((len(s) for s in shapes), default=0)
    return ((k, [s[-k] for s in shapes if len(s) >= k]) for k in range(n, 0, -1))


def _merge(k, sizes):
    big = set(d for d in sizes if d != 1)
    if len(big) > 1:
        raise ValueError(f"the shapes clash in dimension -{k} (sizes {sorted(big)})")
    return next(iter(big), 1)


def broadcast_shape(*shapes):
    shapes = [_valid(s) for s in shapes]
    return tuple(_merge(k, sizes) for k, sizes in _dims_from_right(shapes))


def can_broadcast(*shapes):
    for s in shapes:
        if not isinstance(s, (tuple, list, torch.Size)) or not all(type(d) is int and d >= 0 for d in s):
            return False
    return all(len(set(d for d in sizes if d != 1)) <= 1 for _, sizes in _dims_from_right(shapes))


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, not {type(x).__name__}")
    shape = tuple(shape)
    lead = len(shape) - x.dim()
    if lead < 0:
        raise ValueError(f"cannot broadcast a {x.dim()}-dim tensor to {len(shape)} dimensions")
    full = (1,) * lead + tuple(x.shape)
    target = tuple(full[i] if (want == -1 and i >= lead) else want for i, want in enumerate(shape))
    if any(t < 0 for t in target):
        raise ValueError(f"invalid target shape {shape}")
    if any(h != 1 and h != t for h, t in zip(full, target)):
        raise ValueError(f"cannot broadcast {tuple(x.shape)} to {shape}")
    y = x.reshape(full)
    for d, (h, t) in enumerate(zip(full, target)):
        if h != t:  # h == 1
            y = y.index_select(d, torch.zeros(t, dtype=torch.long, device=x.device))
    return y.clone() if y is x or y.data_ptr() == x.data_ptr() else y


def unbroadcast(grad, shape):
    shape = _valid(shape)
    lead = grad.dim() - len(shape)
    if lead < 0 or any(s != 1 and s != grad.shape[lead + i] for i, s in enumerate(shape)):
        raise ValueError(f"shape {shape} does not broadcast to {tuple(grad.shape)}")
    out = grad
    for _ in range(lead):
        out = out.sum(0)
    for d in (i for i, s in enumerate(shape) if s == 1):
        out = out.sum(d, keepdim=True)
    return out.clone() if out is grad else out
