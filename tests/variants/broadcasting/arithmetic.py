"""Correct variant: lets ordinary arithmetic do the broadcasting.

broadcast_shape walks the columns of sizes from the right with a while loop;
broadcast_to multiplies x by a ones tensor of the target shape (allowed: `*` broadcasts);
unbroadcast multiplies by a ones matrix (matmul) to sum each reduced dimension.
"""

import math

import torch


def broadcast_shape(*shapes):
    clean = []
    for s in shapes:
        if not isinstance(s, (list, tuple, torch.Size)):
            raise TypeError("each shape must be a tuple, list or torch.Size")
        if any(type(d) is not int for d in s):
            raise TypeError("sizes must be ints")
        if any(d < 0 for d in s):
            raise ValueError("sizes must not be negative")
        clean.append(list(s))
    result = []
    k = 1
    while any(len(s) >= k for s in clean):
        col = [s[-k] for s in clean if len(s) >= k]
        others = [d for d in col if d != 1]
        if others and any(d != others[0] for d in others):
            raise ValueError(f"dimension -{k} clashes: sizes {col}")
        result.insert(0, others[0] if others else 1)
        k += 1
    return tuple(result)


def can_broadcast(*shapes):
    try:
        broadcast_shape(*shapes)
    except (ValueError, TypeError):
        return False
    return True


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, not {type(x).__name__}")
    shape = list(shape)
    lead = len(shape) - x.dim()
    if lead < 0:
        raise ValueError("shape has fewer dimensions than x")
    for i in range(lead, len(shape)):
        if shape[i] == -1:
            shape[i] = x.shape[i - lead]
    if any(s < 0 for s in shape):
        raise ValueError(f"invalid size in {shape}")
    if broadcast_shape(tuple(x.shape), tuple(shape)) != tuple(shape):
        raise ValueError(f"cannot broadcast {tuple(x.shape)} to {tuple(shape)}")
    return x * torch.ones(shape, dtype=x.dtype, device=x.device)


def unbroadcast(grad, shape):
    shape = tuple(shape)
    if not can_broadcast(shape, tuple(grad.shape)) or broadcast_shape(shape, tuple(grad.shape)) != tuple(grad.shape):
        raise ValueError(f"shape {shape} does not broadcast to {tuple(grad.shape)}")
    g = grad
    lead = g.dim() - len(shape)
    # Fold the leading dimensions into one and sum it with a ones vector.
    if lead:
        rows, cols = math.prod(g.shape[:lead]), math.prod(g.shape[lead:])
        g = torch.ones(1, rows, dtype=g.dtype, device=g.device) @ g.reshape(rows, cols)
        g = g.reshape(grad.shape[lead:])
    for d, s in enumerate(shape):
        if s == 1 and g.shape[d] != 1:
            moved = g.movedim(d, -1)
            ones = torch.ones(moved.shape[-1], 1, dtype=g.dtype, device=g.device)
            g = (moved @ ones).movedim(-1, d)
    return g.clone() if g is grad else g
