"""Correct variant: everything from torch.logsumexp, F.logsigmoid and one-hot targets.

softmax is exp(x - logsumexp(x)) (an allowed formula that is about one ulp of the logits away
from torch.softmax near 1e4), log_softmax is x - logsumexp(x), BCE-with-logits uses
F.logsigmoid, and cross_entropy turns class indices into (weighted) one-hot rows, so both target
kinds share one code path. Validation raises a ValueError subclass.
"""

import torch
import torch.nn.functional as F


class LossArgumentError(ValueError):
    """An invalid argument to one of the losses."""


def _reduction(reduction):
    if reduction not in ("none", "mean", "sum"):
        raise LossArgumentError(f"unknown reduction {reduction!r}")


def softmax(x, dim=-1):
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))


def log_softmax(x, dim=-1):
    return x - torch.logsumexp(x, dim=dim, keepdim=True)


def _reduce(loss, reduction):
    return {"none": lambda l: l, "sum": torch.sum, "mean": torch.mean}[reduction](loss)


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _reduction(reduction)
    if probs.shape != targets.shape:
        raise LossArgumentError("probs and targets must have the same shape")
    if ((probs < 0) | (probs > 1)).any():
        raise LossArgumentError("probs must be in [0, 1]")
    if weight is not None:
        try:
            weight = weight.expand_as(probs)
        except RuntimeError:
            raise LossArgumentError("weight does not broadcast to probs") from None
    log_p = torch.log(probs).clamp_min(-100)
    log_q = torch.log1p(-probs).clamp_min(-100)
    loss = -torch.where(targets == 0, torch.zeros_like(log_p), targets * log_p) \
        - torch.where(targets == 1, torch.zeros_like(log_q), (1 - targets) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _reduction(reduction)
    if logits.shape != targets.shape:
        raise LossArgumentError("logits and targets must have the same shape")
    for name, t in (("weight", weight), ("pos_weight", pos_weight)):
        if t is not None:
            try:
                t.expand_as(logits)
            except RuntimeError:
                raise LossArgumentError(f"{name} does not broadcast to logits") from None
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _reduction(reduction)
    if not (0.0 <= label_smoothing <= 1.0):
        raise LossArgumentError("label_smoothing must be in [0, 1]")
    C = logits.shape[1]
    if weight is not None and tuple(weight.shape) != (C,):
        raise LossArgumentError("weight needs one entry per class")
    logp = log_softmax(logits, dim=1)
    cls_shape = [1, C] + [1] * (logits.dim() - 2)
    w = torch.ones(C, dtype=logits.dtype) if weight is None else weight
    w = w.reshape(cls_shape)
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            raise LossArgumentError("probability targets must be shaped like the logits")
        t = targets * (1 - label_smoothing) + label_smoothing / C
        loss = -(t * w * logp).sum(1)
        return _reduce(loss, reduction)
    if targets.shape != logits.shape[:1] + logits.shape[2:]:
        raise LossArgumentError("class-index targets must be shaped (N, d1, ..., dk)")
    keep = targets != ignore_index
    if ((targets[keep] < 0) | (targets[keep] >= C)).any():
        raise LossArgumentError("class index out of range")
    onehot = F.one_hot(torch.where(keep, targets, 0), C).movedim(-1, 1).to(logits.dtype)
    onehot = onehot * keep.unsqueeze(1)
    smooth = (1 - label_smoothing) * onehot + label_smoothing / C * keep.unsqueeze(1)
    loss = -(smooth * w * logp).sum(1)
    if reduction == "mean":
        return loss.sum() / (onehot * w).sum()
    return _reduce(loss, reduction)
