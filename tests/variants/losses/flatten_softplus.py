"""Correct variant: class dimension moved last and flattened; softplus and maximum-based clamps.

cross_entropy reshapes (N, C, d1, ..., dk) logits to (M, C) rows with movedim + reshape and
indexes the target log-probabilities with advanced indexing; BCE-with-logits uses F.softplus;
BCE clamps with torch.maximum against a 0-dim tensor; softmax uses torch.amax / torch.sum.
"""

import torch
import torch.nn.functional as F

REDUCTIONS = {"none", "mean", "sum"}


def _reduce(loss, reduction):
    return loss if reduction == "none" else (loss.sum() if reduction == "sum" else loss.mean())


def softmax(x, dim=-1):
    if 0 in x.shape:
        return torch.zeros_like(x)
    e = torch.exp(x - torch.amax(x, dim=dim, keepdim=True))
    return e / torch.sum(e, dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    if 0 in x.shape:
        return torch.zeros_like(x)
    z = x - torch.amax(x, dim=dim, keepdim=True)
    return z - torch.log(torch.sum(torch.exp(z), dim=dim, keepdim=True))


def _check_broadcasts(t, x, what):
    if t is None:
        return
    try:
        torch.broadcast_shapes(t.shape, x.shape) == x.shape or 1 / 0
    except (RuntimeError, ZeroDivisionError):
        raise ValueError(f"{what} does not broadcast to the input") from None


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {sorted(REDUCTIONS)}")
    if targets.size() != probs.size():
        raise ValueError(f"target size {tuple(targets.size())} != input size {tuple(probs.size())}")
    _check_broadcasts(weight, probs, "weight")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError("input probabilities must be between 0 and 1")
    floor = torch.tensor(-100.0)
    loss = -(targets * torch.maximum(torch.log(probs), floor)
             + (1 - targets) * torch.maximum(torch.log1p(-probs), floor))
    return _reduce(loss if weight is None else weight * loss, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {sorted(REDUCTIONS)}")
    if targets.size() != logits.size():
        raise ValueError(f"target size {tuple(targets.size())} != input size {tuple(logits.size())}")
    _check_broadcasts(weight, logits, "weight")
    _check_broadcasts(pos_weight, logits, "pos_weight")
    # -log(sigmoid(x)) = softplus(-x); -log(1 - sigmoid(x)) = softplus(x)
    pos = F.softplus(-logits)
    if pos_weight is not None:
        pos = pos * pos_weight
    loss = targets * pos + (1 - targets) * F.softplus(logits)
    return _reduce(loss if weight is None else loss * weight, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {sorted(REDUCTIONS)}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("label_smoothing must be between 0 and 1")
    n, c = logits.shape[:2]
    if weight is not None and weight.shape != (c,):
        raise ValueError("weight must be a 1-D tensor with one entry per class")
    out_shape = (n,) + tuple(logits.shape[2:])
    rows = log_softmax(logits.movedim(1, -1).reshape(-1, c), dim=-1)   # (M, C)
    w = torch.ones(c, dtype=logits.dtype) if weight is None else weight
    eps = label_smoothing
    if targets.dtype.is_floating_point:
        if targets.shape != logits.shape:
            raise ValueError("probability targets must have the shape of the logits")
        t = targets.movedim(1, -1).reshape(-1, c) * (1 - eps) + eps / c
        loss = -(t * w * rows).sum(-1)
        return _reduce(loss.reshape(out_shape), reduction)
    if tuple(targets.shape) != out_shape:
        raise ValueError(f"targets must have shape {out_shape}")
    flat = targets.reshape(-1)
    keep = flat != ignore_index
    if bool((keep & ((flat < 0) | (flat >= c))).any()):
        raise ValueError("target class index out of range")
    idx = flat.clamp(0, c - 1) * keep
    picked = rows[torch.arange(flat.numel()), idx]
    w_t = w[idx] * keep
    loss = -(1 - eps) * w_t * picked - eps / c * (rows * w).sum(-1) * keep
    if reduction == "mean":
        return loss.sum() / w_t.sum()
    return _reduce(loss.reshape(out_shape), reduction)
