"""Student: cross_entropy's log-probabilities from torch.distributions.Categorical (which
normalises the logits with logsumexp); softmax as exp(x - logsumexp); BCE with torch.maximum."""
import torch
import torch.nn.functional as F
from torch.distributions import Categorical


def softmax(x, dim=-1):
    if x.numel() == 0:
        return torch.empty_like(x)
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))


def log_softmax(x, dim=-1):
    if x.numel() == 0:
        return torch.empty_like(x)
    return x - torch.logsumexp(x, dim=dim, keepdim=True)


def _check_reduction(reduction):
    if reduction not in {"none", "mean", "sum"}:
        raise ValueError("reduction must be 'none', 'mean' or 'sum'")


def _check_weight(w, shape, what):
    if w is None:
        return
    try:
        out = torch.broadcast_shapes(w.shape, shape)
    except RuntimeError as e:
        raise ValueError(f"{what}: {e}") from None
    if out != shape:
        raise ValueError(f"{what} of shape {tuple(w.shape)} would grow the shape {tuple(shape)}")


def _reduce(loss, reduction):
    return loss if reduction == "none" else getattr(loss, reduction)()


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _check_reduction(reduction)
    if targets.shape != probs.shape:
        raise ValueError("targets must have the shape of probs")
    _check_weight(weight, probs.shape, "weight")
    if probs.numel() and (probs.min().item() < 0 or probs.max().item() > 1):
        raise ValueError("probs must be within [0, 1]")
    floor = torch.tensor(-100.0, dtype=probs.dtype)
    loss = -(targets * torch.maximum(probs.log(), floor)
             + (1 - targets) * torch.maximum((1 - probs).log(), floor))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None, reduction="mean"):
    _check_reduction(reduction)
    if targets.shape != logits.shape:
        raise ValueError("targets must have the shape of logits")
    _check_weight(weight, logits.shape, "weight")
    _check_weight(pos_weight, logits.shape, "pos_weight")
    log_sig = F.logsigmoid(logits)
    log_one_minus = F.logsigmoid(-logits)
    pos = targets * log_sig
    if pos_weight is not None:
        pos = pos * pos_weight
    loss = -(pos + (1 - targets) * log_one_minus)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _check_reduction(reduction)
    if label_smoothing < 0 or label_smoothing > 1:
        raise ValueError("label_smoothing must be in [0, 1]")
    n_classes = logits.shape[1]
    if weight is not None and weight.shape != (n_classes,):
        raise ValueError("weight must have one entry per class")
    rows = logits.movedim(1, -1)                       # (N, d..., C)
    if targets.dtype.is_floating_point:
        if targets.shape != logits.shape:
            raise ValueError("probability targets must have the logits' shape")
        dist = Categorical(logits=rows, validate_args=False)
        logp = dist.logits                             # normalised log-probabilities
        p = targets.movedim(1, -1)
        if label_smoothing > 0:
            p = (1 - label_smoothing) * p + label_smoothing / n_classes
        if weight is not None:
            p = p * weight
        loss = -(p * logp).sum(-1)
        return _reduce(loss, reduction)
    if targets.shape != rows.shape[:-1]:
        raise ValueError("class-index targets have the wrong shape")
    keep = targets != ignore_index
    if bool(((targets < 0) | (targets >= n_classes))[keep].any()):
        raise ValueError("class index out of range")
    safe = targets.masked_fill(~keep, 0)
    dist = Categorical(logits=rows, validate_args=False)
    nll = -dist.log_prob(safe)
    w_t = keep.to(logits.dtype) if weight is None else weight[safe] * keep
    loss = nll * w_t
    if label_smoothing > 0:
        lp = dist.logits
        smooth = -(lp if weight is None else lp * weight).sum(-1) * keep
        loss = (1 - label_smoothing) * loss + (label_smoothing / n_classes) * smooth
    if reduction == "mean":
        return loss.sum() / w_t.sum()
    return _reduce(loss, reduction)
