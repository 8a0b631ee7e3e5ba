"""Correct variant: broadcast_shape folds the shapes pairwise with functools.reduce over
itertools.zip_longest and returns a torch.Size (a tuple, like torch.broadcast_shapes' result);
can_broadcast checks the rules itself instead of catching broadcast_shape's errors; broadcast_to
grows each size-1 dimension with torch.cat (narrow for a size of 0) and returns a view of x when
nothing grows (as torch.broadcast_to does); unbroadcast sums one dimension at a time from the last,
keeping it, then reshapes. Must get full marks."""

import functools
import itertools

import torch


def _sizes(shape):
    if isinstance(shape, torch.Tensor) or not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"a shape must be a tuple, list or torch.Size, not {type(shape).__name__}")
    if not all(type(d) is int for d in shape):
        raise TypeError(f"the sizes of {shape!r} must be ints")
    return tuple(shape)


def _shape(shape):
    shape = _sizes(shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"{shape} has a negative size")
    return shape


def _pair(a, b):
    out = []
    for k, (p, q) in enumerate(itertools.zip_longest(reversed(a), reversed(b), fillvalue=1), start=1):
        if p != q and p != 1 and q != 1:
            raise ValueError(f"sizes {p} and {q} clash in dimension {-k}")
        out.append(q if p == 1 else p)
    return tuple(reversed(out))


def broadcast_shape(*shapes):
    return torch.Size(functools.reduce(_pair, [_shape(s) for s in shapes], ()))


def can_broadcast(*shapes):
    try:
        shapes = [_shape(s) for s in shapes]
    except (TypeError, ValueError):
        return False
    columns = itertools.zip_longest(*(reversed(s) for s in shapes), fillvalue=1)
    return all(len(set(sizes) - {1}) <= 1 for sizes in columns)


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, not {type(x).__name__}")
    target = list(_sizes(shape))
    lead = len(target) - x.dim()
    if lead < 0:
        raise ValueError(f"{tuple(target)} has fewer dimensions than x ({x.dim()})")
    have = [1] * lead + list(x.shape)
    for d, want in enumerate(target):
        if want == -1 and d >= lead:
            target[d] = want = have[d]
        if want < 0:
            raise ValueError(f"invalid size {want} in dimension {d} of {tuple(shape)}")
        if have[d] != want and have[d] != 1:
            raise ValueError(f"dimension {d}: size {have[d]} cannot become {want}")
    y = x.reshape(have)
    for d, want in enumerate(target):
        if have[d] != want:
            y = torch.cat([y] * want, dim=d) if want else y.narrow(d, 0, 0)
    return y


def unbroadcast(grad, shape):
    if not isinstance(grad, torch.Tensor):
        raise TypeError(f"grad must be a tensor, not {type(grad).__name__}")
    shape = _shape(shape)
    lead = grad.dim() - len(shape)
    if lead < 0 or any(s != 1 and s != grad.shape[lead + i] for i, s in enumerate(shape)):
        raise ValueError(f"{shape} does not broadcast to {tuple(grad.shape)}")
    full = (1,) * lead + shape
    out = grad
    for d in reversed(range(grad.dim())):
        if full[d] == 1 and grad.shape[d] != 1:
            out = out.sum(d, keepdim=True)
    out = out.reshape(shape)
    return out.clone() if out.data_ptr() == grad.data_ptr() else out
