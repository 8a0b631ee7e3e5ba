"""Reference implementation of the losses exercise (trusted side: the judge).

Every value comes from PyTorch itself: ``torch.softmax``, ``torch.log_softmax``,
``F.binary_cross_entropy``, ``F.binary_cross_entropy_with_logits`` and ``F.cross_entropy``.
Only the validation is written here, so that invalid arguments raise what the contract says
(``ValueError``, or ``TypeError`` for a wrong type) instead of PyTorch's ``RuntimeError`` /
``IndexError``, and before any work is done.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "softmax", "log_softmax", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy",
]

REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------------- validation
def _check_tensor(x, what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")


def _check_float(x, what: str) -> None:
    _check_tensor(x, what)
    if not x.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor, got dtype {x.dtype}")


def _check_reduction(reduction) -> None:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_dim(x: torch.Tensor, dim) -> None:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    n = max(x.dim(), 1)
    if not -n <= dim < n:
        raise ValueError(f"dim {dim} is out of range for a tensor with {x.dim()} dimensions")


def _check_broadcasts_to(t, shape, what: str, onto: str) -> None:
    _check_float(t, what)
    try:
        out = torch.broadcast_shapes(t.shape, shape)
    except RuntimeError:
        raise ValueError(f"{what} of shape {tuple(t.shape)} does not broadcast with "
                         f"{onto} of shape {tuple(shape)}") from None
    if tuple(out) != tuple(shape):
        raise ValueError(f"{what} of shape {tuple(t.shape)} does not broadcast to "
                         f"{onto} shape {tuple(shape)}")


# ------------------------------------------------------------------------------------- softmax
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """As ``torch.softmax(x, dim)``."""
    _check_float(x, "x")
    _check_dim(x, dim)
    return torch.softmax(x, dim)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """As ``torch.log_softmax(x, dim)``."""
    _check_float(x, "x")
    _check_dim(x, dim)
    return torch.log_softmax(x, dim)


# ----------------------------------------------------------------------------------------- BCE
def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    """As ``F.binary_cross_entropy`` (each log clamped at -100)."""
    _check_float(probs, "probs")
    _check_float(targets, "targets")
    _check_reduction(reduction)
    if targets.shape != probs.shape:
        raise ValueError(f"targets of shape {tuple(targets.shape)} must have the shape of "
                         f"probs {tuple(probs.shape)}")
    if weight is not None:
        _check_broadcasts_to(weight, probs.shape, "weight", "probs")
    with torch.no_grad():
        if probs.numel() and not bool(((probs >= 0) & (probs <= 1)).all()):
            raise ValueError("probs must lie in [0, 1]")
    return F.binary_cross_entropy(probs, targets, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    """As ``F.binary_cross_entropy_with_logits``."""
    _check_float(logits, "logits")
    _check_float(targets, "targets")
    _check_reduction(reduction)
    if targets.shape != logits.shape:
        raise ValueError(f"targets of shape {tuple(targets.shape)} must have the shape of "
                         f"logits {tuple(logits.shape)}")
    if weight is not None:
        _check_broadcasts_to(weight, logits.shape, "weight", "logits")
    if pos_weight is not None:
        _check_broadcasts_to(pos_weight, logits.shape, "pos_weight", "logits")
    return F.binary_cross_entropy_with_logits(logits, targets, weight=weight,
                                              pos_weight=pos_weight, reduction=reduction)


# ------------------------------------------------------------------------------- cross-entropy
def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """As ``F.cross_entropy``: class indices or class probabilities as targets."""
    _check_float(logits, "logits")
    _check_tensor(targets, "targets")
    _check_reduction(reduction)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)):
        raise TypeError(f"label_smoothing must be a float, got {type(label_smoothing).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if logits.dim() == 0:
        raise ValueError("logits must have at least one dimension (the classes)")
    class_dim = 0 if logits.dim() == 1 else 1
    n_classes = logits.shape[class_dim]
    if weight is not None:
        _check_float(weight, "weight")
        if weight.shape != (n_classes,):
            raise ValueError(f"weight must have shape ({n_classes},), one per class, "
                             f"got {tuple(weight.shape)}")
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            raise ValueError(f"class-probability targets must have the shape of logits "
                             f"{tuple(logits.shape)}, got {tuple(targets.shape)}")
        if ignore_index != -100:
            raise ValueError("ignore_index is not supported for class-probability targets")
    elif targets.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise TypeError(f"targets must be integer class indices or float probabilities, "
                        f"got dtype {targets.dtype}")
    else:
        expected = logits.shape[:class_dim] + logits.shape[class_dim + 1:]
        if targets.shape != expected:
            raise ValueError(f"class-index targets must have shape {tuple(expected)} for logits "
                             f"{tuple(logits.shape)}, got {tuple(targets.shape)}")
        targets = targets.long()
        bad = (targets != ignore_index) & ((targets < 0) | (targets >= n_classes))
        if bool(bad.any()):
            raise ValueError(f"class index {int(targets[bad][0])} is out of range for "
                             f"{n_classes} classes")
    return F.cross_entropy(logits, targets, weight=weight, ignore_index=ignore_index,
                           reduction=reduction, label_smoothing=float(label_smoothing))
