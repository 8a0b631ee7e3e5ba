"""Correct variant: broadcast_to builds a stride-0 view with as_strided and copies it;
unbroadcast sums all reduced dimensions in one call and reshapes; broadcast_shape uses
itertools.zip_longest over the reversed shapes.
"""

from itertools import zip_longest

import torch


def broadcast_shape(*shapes):
    checked = []
    for s in shapes:
        if not isinstance(s, (tuple, list, torch.Size)):
            raise TypeError("shapes must be tuples, lists or torch.Size")
        for d in s:
            if isinstance(d, bool) or not isinstance(d, int):
                raise TypeError(f"size {d!r} is not an int")
            if d < 0:
                raise ValueError(f"size {d} is negative")
        checked.append(tuple(s))
    out = []
    for k, sizes in enumerate(zip_longest(*[reversed(s) for s in checked], fillvalue=1)):
        real = {d for d in sizes if d != 1}
        if len(real) > 1:
            raise ValueError(f"dimension -{k + 1}: sizes {sorted(real)} do not broadcast")
        out.append(real.pop() if real else 1)
    return tuple(out[::-1])


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
    if len(shape) < x.dim():
        raise ValueError("target shape has fewer dimensions than the tensor")
    lead = len(shape) - x.dim()
    sizes, strides = [], []
    for i, want in enumerate(shape):
        if i < lead:
            if want < 0:
                raise ValueError(f"size {want} not allowed in new dimension {i}")
            sizes.append(want)
            strides.append(0)
            continue
        have, stride = x.shape[i - lead], x.stride(i - lead)
        if want == -1:
            want = have
        if want < 0:
            raise ValueError(f"negative size {want} at dimension {i}")
        if have == want:
            sizes.append(want)
            strides.append(stride)
        elif have == 1:
            sizes.append(want)
            strides.append(0)
        else:
            raise ValueError(f"dimension {i}: cannot broadcast size {have} to {want}")
    return x.as_strided(sizes, strides, x.storage_offset()).clone()


def unbroadcast(grad, shape):
    shape = tuple(shape)
    n = grad.dim() - len(shape)
    if n < 0:
        raise ValueError("shape has more dimensions than grad")
    for i, s in enumerate(shape):
        if s != 1 and s != grad.shape[n + i]:
            raise ValueError(f"dimension {i}: {s} does not broadcast to {grad.shape[n + i]}")
    dims = list(range(n)) + [n + i for i, s in enumerate(shape) if s == 1]
    if not dims:
        return grad.clone()
    return grad.sum(dim=dims).reshape(shape)
