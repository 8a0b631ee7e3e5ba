"""Correct variant: plain Python loops everywhere.

broadcast_shape walks zipped reversed shapes; broadcast_to fills a new tensor element by element
with itertools.product; unbroadcast accumulates every element of grad into its source position.
Slow, but correct for the small tensors of the course.
"""

import itertools

import torch


def _shape(shape):
    if not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError("a shape must be a tuple, list or torch.Size")
    out = []
    for s in shape:
        if type(s) is not int:
            raise TypeError(f"sizes must be ints, got {s!r}")
        out.append(s)
    return out


def broadcast_shape(*shapes):
    shapes = [_shape(s) for s in shapes]
    for s in shapes:
        for d in s:
            if d < 0:
                raise ValueError(f"negative size {d} in shape {tuple(s)}")
    ndim = 0
    for s in shapes:
        if len(s) > ndim:
            ndim = len(s)
    padded = [[1] * (ndim - len(s)) + s for s in shapes]
    result = []
    for i in range(ndim):
        size = 1
        for s in padded:
            if s[i] == 1:
                continue
            if size != 1 and s[i] != size:
                raise ValueError(f"dimension {i} of the result clashes: sizes {size} and {s[i]}")
            size = s[i]
        result.append(size)
    return tuple(result)


def can_broadcast(*shapes):
    try:
        broadcast_shape(*shapes)
        return True
    except ValueError:
        return False
    except TypeError:
        return False


def broadcast_to(x, shape):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, not {type(x).__name__}")
    shape = _shape(shape)
    if len(shape) < x.dim():
        raise ValueError("the target shape has fewer dimensions than x")
    lead = len(shape) - x.dim()
    src = [1] * lead + list(x.shape)
    target = []
    for i in range(len(shape)):
        want = shape[i]
        if want == -1 and i >= lead:
            want = src[i]
        if want < 0:
            raise ValueError(f"invalid size {shape[i]} at dimension {i}")
        if src[i] != 1 and src[i] != want:
            raise ValueError(f"dimension {i}: size {src[i]} cannot become {want}")
        target.append(want)
    xs = x.reshape(src)
    out = torch.empty(target, dtype=x.dtype, device=x.device)
    for idx in itertools.product(*[range(n) for n in target]):
        sidx = tuple(0 if src[d] == 1 else idx[d] for d in range(len(target)))
        out[idx] = xs[sidx]
    return out


def unbroadcast(grad, shape):
    shape = _shape(shape)
    if len(shape) > grad.dim():
        raise ValueError("shape has more dimensions than grad")
    lead = grad.dim() - len(shape)
    for i, s in enumerate(shape):
        if s != 1 and s != grad.shape[lead + i]:
            raise ValueError(f"dimension {i} of shape ({s}) does not broadcast to {grad.shape[lead + i]}")
    out = torch.zeros(shape, dtype=grad.dtype, device=grad.device)
    for idx in itertools.product(*[range(n) for n in grad.shape]):
        tidx = tuple(0 if shape[i] == 1 else idx[lead + i] for i in range(len(shape)))
        out[tidx] += grad[idx]
    return out
