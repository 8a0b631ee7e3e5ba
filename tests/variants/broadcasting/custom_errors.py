"""Variant: the module defines its own exception classes, subclasses of ValueError and TypeError
(so they are ValueError / TypeError); broadcast_to grows each size-1 dim with repeat_interleave;
unbroadcast sums a list of dims with torch.sum and views the result."""

import torch


class ShapeTypeError(TypeError):
    """A shape that is not a tuple / list / torch.Size of ints."""


class BroadcastError(ValueError):
    """Shapes that do not broadcast, or a negative size."""


def _ints(s):
    if not isinstance(s, (tuple, list, torch.Size)):
        raise ShapeTypeError(f"a shape must be a tuple, list or torch.Size, got {type(s).__name__}")
    if any(isinstance(d, bool) or not isinstance(d, int) for d in s):
        raise ShapeTypeError(f"shape {s!r} must hold only ints")
    return tuple(s)


def broadcast_shape(*shapes):
    shapes = [_ints(s) for s in shapes]
    for s in shapes:
        if min(s, default=0) < 0:
            raise BroadcastError(f"shape {s} has a negative size")
    ndim = max(map(len, shapes), default=0)
    result = [1] * ndim
    for s in shapes:
        off = ndim - len(s)
        for j, d in enumerate(s):
            r = result[off + j]
            if d == 1 or d == r:
                continue
            if r == 1:
                result[off + j] = d
            else:
                raise BroadcastError(f"dimension {off + j - ndim} has sizes {r} and {d}")
    return tuple(result)


def can_broadcast(*shapes):
    try:
        broadcast_shape(*shapes)
    except (BroadcastError, ShapeTypeError):
        return False
    return True


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError("x must be a tensor")
    shape = list(_ints(shape))
    lead = len(shape) - x.dim()
    if lead < 0:
        raise BroadcastError(f"shape {tuple(shape)} has fewer dims than x ({x.dim()})")
    for i in range(len(shape)):
        have = x.shape[i - lead] if i >= lead else None
        if shape[i] == -1 and have is not None:
            shape[i] = have
        if shape[i] < 0:
            raise BroadcastError(f"size {shape[i]} at dimension {i} is not allowed")
        if have is not None and have != 1 and have != shape[i]:
            raise BroadcastError(f"dimension {i}: size {have} does not broadcast to {shape[i]}")
    y = x.reshape([1] * lead + list(x.shape))
    for i, want in enumerate(shape):
        if y.shape[i] != want:
            y = y.repeat_interleave(want, dim=i)
    return y.clone() if y is x or y.data_ptr() == x.data_ptr() else y


def unbroadcast(grad, shape):
    if not isinstance(grad, torch.Tensor):
        raise TypeError("grad must be a tensor")
    shape = _ints(shape)
    lead = grad.dim() - len(shape)
    if lead < 0:
        raise BroadcastError("shape has more dimensions than grad")
    if any(d < 0 or (d != 1 and d != g) for d, g in zip(shape, grad.shape[lead:])):
        raise BroadcastError(f"shape {shape} does not broadcast to {tuple(grad.shape)}")
    dims = [i for i in range(grad.dim()) if i < lead or (shape[i - lead] == 1 and grad.shape[i] != 1)]
    if not dims:
        return grad.clone().view(shape)
    return torch.sum(grad, dims).reshape(shape)
