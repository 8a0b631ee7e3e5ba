"""Variant: the solution, but broadcast_to's size-clash message shows the tensor itself
(formatted into the f-string)."""


from __future__ import annotations

import torch

__all__ = ["broadcast_shape", "can_broadcast", "broadcast_to", "unbroadcast"]


def _check_shape(shape, what: str = "shape") -> tuple[int, ...]:
    """Return ``shape`` as a tuple of ints, or raise ``TypeError``."""
    if isinstance(shape, torch.Tensor) or not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"{what} must be a tuple, list or torch.Size, got {type(shape).__name__}")
    for i, size in enumerate(shape):
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"{what} must hold ints, but entry {i} is {type(size).__name__}")
    return tuple(shape)


def broadcast_shape(*shapes) -> tuple[int, ...]:
    """The broadcast shape of any number of shapes (see the stub for the full contract)."""
    shapes = [_check_shape(s) for s in shapes]
    for s in shapes:
        if any(size < 0 for size in s):
            raise ValueError(f"shape {s} has a negative size")
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    # Walk the dimensions from the right: -1, -2, ..., -ndim.
    for k in range(1, ndim + 1):
        size = 1
        for s in shapes:
            if len(s) < k:
                continue  # this shape is padded with a 1 on the left
            d = s[-k]
            if d == 1:
                continue
            if size == 1:
                size = d
            elif d != size:
                raise ValueError(
                    f"shapes {shapes} do not broadcast: dimension {-k} (counted from the "
                    f"right) has sizes {size} and {d}"
                )
        result.append(size)
    return tuple(reversed(result))


def can_broadcast(*shapes) -> bool:
    """Whether ``broadcast_shape(*shapes)`` would succeed."""
    try:
        broadcast_shape(*shapes)
    except (ValueError, TypeError):
        return False
    return True


def broadcast_to(x: torch.Tensor, shape) -> torch.Tensor:
    """``x`` broadcast to ``shape``, as ``torch.broadcast_to`` (new tensor, same dtype)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, got {type(x).__name__}")
    shape = _check_shape(shape)
    if len(shape) < x.dim():
        raise ValueError(
            f"cannot broadcast a tensor of shape {tuple(x.shape)} to {shape}: the target has "
            f"fewer dimensions ({len(shape)}) than the tensor ({x.dim()})"
        )
    lead = len(shape) - x.dim()
    target = []
    for i, want in enumerate(shape):
        have = x.shape[i - lead] if i >= lead else None
        if want == -1:
            if have is None:
                raise ValueError(f"-1 is not allowed in the new leading dimension {i} of {shape}")
            want = have
        elif want < 0:
            raise ValueError(f"shape {shape} has a negative size at dimension {i}")
        if have is not None and have != want and have != 1:
            raise ValueError(
                f"cannot broadcast {x} (shape {tuple(x.shape)}) to {shape}: dimension {i} "
                f"has size {have}, which is neither 1 nor {want}"
            )
        target.append(want)
    # Add the leading dimensions as size-1 dimensions, then copy along every size-1 dimension.
    y = x.reshape((1,) * lead + tuple(x.shape))
    repeats = [want if have != want else 1 for have, want in zip(y.shape, target)]
    return y.repeat(*repeats) if repeats else y.clone()


def unbroadcast(grad: torch.Tensor, shape) -> torch.Tensor:
    """Sum ``grad`` over the broadcast dimensions so that the result has shape ``shape``."""
    if not isinstance(grad, torch.Tensor):
        raise TypeError(f"grad must be a tensor, got {type(grad).__name__}")
    shape = _check_shape(shape)
    if len(shape) > grad.dim():
        raise ValueError(
            f"shape {shape} has more dimensions than the gradient of shape {tuple(grad.shape)}"
        )
    lead = grad.dim() - len(shape)
    for i, size in enumerate(shape):
        have = grad.shape[lead + i]
        if size < 0 or (size != 1 and size != have):
            raise ValueError(
                f"shape {shape} does not broadcast to the gradient's shape {tuple(grad.shape)}: "
                f"dimension {i} has size {size}, which is neither 1 nor {have}"
            )
    # Sum away the leading dimensions, then the dimensions that were 1 (keeping them).
    out = grad.sum(dim=tuple(range(lead))) if lead else grad
    kept = tuple(i for i, size in enumerate(shape) if size == 1 and out.shape[i] != 1)
    if kept:
        out = out.sum(dim=kept, keepdim=True)
    return out.clone() if out is grad else out
