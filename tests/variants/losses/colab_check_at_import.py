"""Softmax, BCE and cross-entropy, written by hand (instructor's solution).

Numerically stable throughout: softmax and log-softmax subtract the row maximum before
exponentiating, BCE-with-logits uses ``log(1 + exp(-|x|)) + max(-x, 0)`` for ``-log(sigmoid(x))``,
and cross-entropy is built on the stable log-softmax. No forbidden call is used.

Variant: a notebook's check whether it runs in Colab, at module level
(``IN_COLAB = "google.colab" in sys.modules``: reading the loaded modules loads nothing).
"""

from __future__ import annotations

import sys
import torch

REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------------- validation
def _check_tensor(x, what):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")


def _check_float(x, what):
    _check_tensor(x, what)
    if not x.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor, got dtype {x.dtype}")


def _check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_dim(x, dim):
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    n = max(x.dim(), 1)
    if not -n <= dim < n:
        raise ValueError(f"dim {dim} is out of range for a tensor with {x.dim()} dimensions")


def _check_broadcasts_to(t, shape, what):
    """``t`` must broadcast to ``shape`` (trailing sizes equal or 1, no extra dimensions)."""
    _check_float(t, what)
    ok = t.dim() <= len(shape) and all(
        a == b or a == 1 for a, b in zip(reversed(t.shape), reversed(shape)))
    if not ok:
        raise ValueError(f"{what} of shape {tuple(t.shape)} does not broadcast to "
                         f"shape {tuple(shape)}")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean()  # an empty loss gives NaN, as in PyTorch


# ------------------------------------------------------------------------------------- softmax
def _shifted(x, dim):
    """``x`` minus its maximum along ``dim`` (the shift does not change softmax)."""
    if x.numel() == 0:
        return x.clone()  # nothing to take a maximum of: the result is empty anyway
    return x - x.detach().amax(dim=dim, keepdim=True)


def softmax(x, dim=-1):
    _check_float(x, "x")
    _check_dim(x, dim)
    z = _shifted(x, dim)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    _check_float(x, "x")
    _check_dim(x, dim)
    z = _shifted(x, dim)
    return z - torch.log(torch.exp(z).sum(dim=dim, keepdim=True))


# ----------------------------------------------------------------------------------------- BCE
def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _check_float(probs, "probs")
    _check_float(targets, "targets")
    _check_reduction(reduction)
    if targets.shape != probs.shape:
        raise ValueError(f"targets of shape {tuple(targets.shape)} must have the shape of "
                         f"probs {tuple(probs.shape)}")
    if weight is not None:
        _check_broadcasts_to(weight, probs.shape, "weight")
    if probs.numel() and not bool(((probs >= 0) & (probs <= 1)).all()):
        raise ValueError("probs must lie in [0, 1]")

    log_p = torch.clamp(torch.log(probs), min=-100.0)
    log_not_p = torch.clamp(torch.log(1 - probs), min=-100.0)
    loss = -(targets * log_p + (1 - targets) * log_not_p)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _check_float(logits, "logits")
    _check_float(targets, "targets")
    _check_reduction(reduction)
    if targets.shape != logits.shape:
        raise ValueError(f"targets of shape {tuple(targets.shape)} must have the shape of "
                         f"logits {tuple(logits.shape)}")
    if weight is not None:
        _check_broadcasts_to(weight, logits.shape, "weight")
    if pos_weight is not None:
        _check_broadcasts_to(pos_weight, logits.shape, "pos_weight")

    # -log(sigmoid(x)) = log(1 + exp(-x)), written so that exp never overflows
    neg_log_sig = torch.log1p(torch.exp(-logits.abs())) + torch.clamp(-logits, min=0)
    # -log(1 - sigmoid(x)) = x - log(sigmoid(x)) = x + neg_log_sig
    if pos_weight is None:
        loss = targets * neg_log_sig + (1 - targets) * (logits + neg_log_sig)
    else:
        loss = pos_weight * targets * neg_log_sig + (1 - targets) * (logits + neg_log_sig)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------- cross-entropy
def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _check_float(logits, "logits")
    _check_tensor(targets, "targets")
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if logits.dim() == 0:
        raise ValueError("logits must have at least one dimension (the classes)")
    unbatched = logits.dim() == 1
    if unbatched:  # (C,) with a 0-dim target, as PyTorch allows
        logits, targets = logits.unsqueeze(0), targets.unsqueeze(0)
    n_classes = logits.shape[1]
    if weight is not None:
        _check_float(weight, "weight")
        if weight.shape != (n_classes,):
            raise ValueError(f"weight must have shape ({n_classes},), got {tuple(weight.shape)}")
    probabilities = targets.is_floating_point()
    if probabilities:
        if targets.shape != logits.shape:
            raise ValueError(f"probability targets must have the shape of logits "
                             f"{tuple(logits.shape)}, got {tuple(targets.shape)}")
        if ignore_index != -100:
            raise ValueError("ignore_index is not supported for probability targets")
    else:
        expected = logits.shape[:1] + logits.shape[2:]
        if targets.shape != expected:
            raise ValueError(f"class-index targets must have shape {tuple(expected)}, "
                             f"got {tuple(targets.shape)}")
        targets = targets.long()
        bad = (targets != ignore_index) & ((targets < 0) | (targets >= n_classes))
        if bool(bad.any()):
            raise ValueError(f"class index {int(targets[bad][0])} is out of range "
                             f"for {n_classes} classes")

    logp = log_softmax(logits, dim=1)                      # (N, C, d1, ..., dk)
    # class weights shaped to broadcast along dim 1
    w = None if weight is None else weight.view(1, n_classes, *([1] * (logits.dim() - 2)))

    if probabilities:
        t = targets
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / n_classes
        terms = t * logp if w is None else t * logp * w
        loss = -terms.sum(dim=1)                           # (N, d1, ..., dk)
        loss = _reduce(loss, reduction)
    else:
        keep = targets != ignore_index
        safe = torch.where(keep, targets, torch.zeros_like(targets))
        nll = -logp.gather(1, safe.unsqueeze(1)).squeeze(1)
        wt = keep.to(logp.dtype) if weight is None else weight[safe] * keep
        loss = nll * wt
        if label_smoothing > 0:
            smooth = -(logp if w is None else logp * w).sum(dim=1) * keep
            loss = (1 - label_smoothing) * loss + label_smoothing / n_classes * smooth
        if reduction == "sum":
            loss = loss.sum()
        elif reduction == "mean":
            loss = loss.sum() / wt.sum()   # all ignored: 0 / 0 = NaN, as in PyTorch
    if unbatched and reduction == "none":
        loss = loss.squeeze(0)
    return loss


IN_COLAB = "google.colab" in sys.modules
