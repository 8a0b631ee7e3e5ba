"""Variant: messages written as full sentences (ending with a period); broadcast_to copies x
into an empty tensor of the target shape with copy_ (which broadcasts); unbroadcast sums all
broadcast dims at once with keepdim and reshapes."""

import torch


def _shape(s):
    if not isinstance(s, (tuple, list, torch.Size)):
        raise TypeError(f"A shape must be a tuple, list or torch.Size, not {type(s).__name__}.")
    for d in s:
        if type(d) is not int:
            raise TypeError(f"Sizes must be ints, got {d!r}.")
    for d in s:
        if d < 0:
            raise ValueError(f"Sizes must not be negative, got {d}.")
    return tuple(s)


def broadcast_shape(*shapes):
    shapes = [_shape(s) for s in shapes]
    n = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (n - len(s)) + s for s in shapes]
    out = []
    for i in range(n):
        size = 1
        for s in padded:
            d = s[i]
            if d == 1:
                continue
            if size != 1 and d != size:
                raise ValueError(f"The shapes do not broadcast: sizes {size} and {d} clash at dimension {i - n}.")
            size = d
        out.append(size)
    return tuple(out)


def can_broadcast(*shapes):
    try:
        broadcast_shape(*shapes)
        return True
    except (TypeError, ValueError):
        return False


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError("x must be a tensor.")
    if not isinstance(shape, (tuple, list, torch.Size)) or any(type(d) is not int for d in shape):
        raise TypeError("shape must be a tuple of ints.")
    shape = tuple(shape)
    lead = len(shape) - x.dim()
    if lead < 0:
        raise ValueError(f"The target shape {shape} has fewer dimensions than x ({x.dim()}).")
    target = []
    for i, want in enumerate(shape):
        have = x.shape[i - lead] if i >= lead else None
        if want == -1 and have is not None:
            want = have
        if want < 0:
            raise ValueError(f"Size {want} is not allowed at dimension {i}.")
        if have is not None and have != 1 and have != want:
            raise ValueError(f"Dimension {i} of x has size {have}, which cannot become {want}.")
        target.append(want)
    out = torch.empty(target, dtype=x.dtype, device=x.device)
    out.copy_(x)
    return out


def unbroadcast(grad, shape):
    if not isinstance(grad, torch.Tensor):
        raise TypeError("grad must be a tensor.")
    if not isinstance(shape, (tuple, list, torch.Size)) or any(type(d) is not int for d in shape):
        raise TypeError("shape must be a tuple of ints.")
    shape = tuple(shape)
    lead = grad.dim() - len(shape)
    if lead < 0:
        raise ValueError(f"The shape {shape} has more dimensions than the gradient.")
    for i, d in enumerate(shape):
        g = grad.shape[lead + i]
        if d != 1 and d != g:
            raise ValueError(f"Dimension {i} of shape {shape} ({d}) does not broadcast to {g}.")
    dims = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and grad.shape[lead + i] != 1]
    out = grad.sum(dim=dims, keepdim=True) if dims else grad.clone()
    return out.reshape(shape)
