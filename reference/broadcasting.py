"""Reference implementation of the broadcasting exercise (trusted side: the judge).

Every function defers to PyTorch: ``torch.broadcast_shapes``, ``torch.broadcast_to`` and, for
``unbroadcast``, autograd itself (the gradient of ``torch.broadcast_to``). Only the validation is
written here, so that errors follow the contract (``ValueError`` / ``TypeError``) rather than
PyTorch's ``RuntimeError``.
"""

from __future__ import annotations

import torch

__all__ = ["broadcast_shape", "can_broadcast", "broadcast_to", "unbroadcast"]


def _as_shape(shape, what: str = "shape") -> tuple[int, ...]:
    if isinstance(shape, torch.Tensor) or not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"{what} must be a tuple, list or torch.Size, got {type(shape).__name__}")
    for i, s in enumerate(shape):
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"{what} must hold ints, but entry {i} is {type(s).__name__}")
    return tuple(shape)


def _clash(shapes) -> str:
    """Describe the first (rightmost) dimension where the shapes disagree."""
    ndim = max(len(s) for s in shapes)
    for k in range(1, ndim + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k}
        if len(sizes - {1}) > 1:
            return (f"dimension {-k} (counted from the right) has incompatible sizes "
                    f"{sorted(sizes)}")
    return "the shapes are incompatible"


def broadcast_shape(*shapes) -> tuple[int, ...]:
    """The broadcast shape of ``shapes``, as ``torch.broadcast_shapes``."""
    shapes = [_as_shape(s) for s in shapes]
    for s in shapes:
        if any(d < 0 for d in s):
            raise ValueError(f"shape {s} has a negative size")
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        raise ValueError(f"cannot broadcast shapes {shapes}: {_clash(shapes)}") from None


def can_broadcast(*shapes) -> bool:
    """Whether ``broadcast_shape(*shapes)`` would succeed."""
    try:
        broadcast_shape(*shapes)
    except (ValueError, TypeError):
        return False
    return True


def broadcast_to(x: torch.Tensor, shape) -> torch.Tensor:
    """As ``torch.broadcast_to(x, shape)``, with ``ValueError`` where that fails."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, got {type(x).__name__}")
    shape = _as_shape(shape)
    if len(shape) < x.dim():
        raise ValueError(f"cannot broadcast a {x.dim()}-dim tensor to the shorter shape {shape}")
    try:
        return torch.broadcast_to(x, shape)
    except RuntimeError as e:
        raise ValueError(f"cannot broadcast shape {tuple(x.shape)} to {shape}: {e}") from None


def unbroadcast(grad: torch.Tensor, shape) -> torch.Tensor:
    """The gradient autograd gives an input of shape ``shape`` broadcast to ``grad.shape``."""
    if not isinstance(grad, torch.Tensor):
        raise TypeError(f"grad must be a tensor, got {type(grad).__name__}")
    shape = _as_shape(shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"shape {shape} has a negative size")
    leaf = torch.zeros(shape, dtype=grad.dtype, device=grad.device, requires_grad=True)
    try:
        with torch.enable_grad():
            out = torch.broadcast_to(leaf, grad.shape)
    except RuntimeError:
        raise ValueError(
            f"shape {shape} does not broadcast to the gradient's shape {tuple(grad.shape)}"
        ) from None
    (g,) = torch.autograd.grad(out, leaf, grad.detach(), allow_unused=True)
    if g is None:  # nothing flowed (e.g. empty tensors): the gradient is zero
        g = torch.zeros(shape, dtype=grad.dtype, device=grad.device)
    return g.detach().clone()
