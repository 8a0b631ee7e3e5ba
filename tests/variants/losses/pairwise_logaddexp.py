"""Correct variant: pairwise softmax, logaddexp BCE-with-logits, scatter-built target rows.

softmax_i is 1 / sum_j exp(x_j - x_i) (every pair of entries along dim; an overflowing pair just
gives 1 / inf = 0), log_softmax_i is -logsumexp_j(x_j - x_i); -log(sigmoid(x)) is
logaddexp(0, -x); cross_entropy moves the class dimension last, flattens to (M, C) rows and
builds each row's (smoothed, weighted) target distribution with scatter, then one einsum.
"""

import torch

_RED = ("none", "mean", "sum")


def _check_red(reduction):
    if not isinstance(reduction, str) or reduction not in _RED:
        raise ValueError(f"reduction must be one of {_RED}, got {reduction!r}")


def _float(x, what):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a tensor")
    if not x.is_floating_point():
        raise TypeError(f"{what} must be floating point, got {x.dtype}")


def _dim(x, dim):
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError("dim must be an int")
    n = max(x.dim(), 1)
    if not -n <= dim < n:
        raise ValueError(f"dim {dim} out of range for {x.dim()}-D input")


def _pair_diffs(x, dim):
    """(..., n, n) tensor of x_j - x_i with dim moved last (i on axis -2, j on -1)."""
    m = x.movedim(dim, -1)
    return m.unsqueeze(-2) - m.unsqueeze(-1)


def softmax(x, dim=-1):
    _float(x, "x")
    _dim(x, dim)
    if x.dim() == 0:
        return torch.ones_like(x)
    if x.numel() == 0:
        return torch.empty_like(x)
    s = 1.0 / torch.exp(_pair_diffs(x, dim)).sum(dim=-1)
    return s.movedim(-1, dim)


def log_softmax(x, dim=-1):
    _float(x, "x")
    _dim(x, dim)
    if x.dim() == 0:
        return torch.zeros_like(x)
    if x.numel() == 0:
        return torch.empty_like(x)
    return (-torch.logsumexp(_pair_diffs(x, dim), dim=-1)).movedim(-1, dim)


def _reduce(loss, reduction):
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / loss.numel() if loss.numel() else loss.sum() * float("nan")
    return loss


def _broadcasts_to(t, shape, what):
    _float(t, what)
    if t.dim() > len(shape):
        raise ValueError(f"{what} has more dimensions than the input")
    for a, b in zip(t.shape[::-1], tuple(shape)[::-1]):
        if a != b and a != 1:
            raise ValueError(f"{what} of shape {tuple(t.shape)} does not broadcast to {tuple(shape)}")


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _float(probs, "probs")
    _float(targets, "targets")
    _check_red(reduction)
    if probs.shape != targets.shape:
        raise ValueError("targets must have the shape of probs")
    if weight is not None:
        _broadcasts_to(weight, probs.shape, "weight")
    if probs.numel() and not bool(torch.logical_and(probs >= 0, probs <= 1).all()):
        raise ValueError("probs must lie in [0, 1]")
    lp = torch.log(probs).clamp(min=-100)
    lq = torch.log1p(-probs).clamp(min=-100)
    loss = torch.neg(torch.addcmul(lq * (1 - targets), targets, lp))
    if weight is not None:
        loss = torch.mul(loss, weight)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _float(logits, "logits")
    _float(targets, "targets")
    _check_red(reduction)
    if logits.shape != targets.shape:
        raise ValueError("targets must have the shape of logits")
    if weight is not None:
        _broadcasts_to(weight, logits.shape, "weight")
    if pos_weight is not None:
        _broadcasts_to(pos_weight, logits.shape, "pos_weight")
    zero = torch.zeros((), dtype=logits.dtype)
    pos = torch.logaddexp(zero, -logits)          # -log(sigmoid(x))
    neg = torch.logaddexp(zero, logits)           # -log(1 - sigmoid(x))
    pos_t = targets if pos_weight is None else targets * pos_weight
    loss = pos_t * pos + (1 - targets) * neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _float(logits, "logits")
    if not isinstance(targets, torch.Tensor):
        raise TypeError("targets must be a tensor")
    _check_red(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("label_smoothing must be in [0, 1]")
    if logits.dim() < 2:
        raise ValueError("logits must be (N, C, ...)")
    C = logits.shape[1]
    if weight is not None:
        _float(weight, "weight")
        if tuple(weight.shape) != (C,):
            raise ValueError("weight must have one entry per class")
    w = torch.ones(C, dtype=logits.dtype) if weight is None else weight
    rows = logits.movedim(1, -1).reshape(-1, C)                 # (M, C)
    logp = log_softmax(rows, dim=1) if rows.numel() else rows.clone()
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            raise ValueError("probability targets must be shaped like the logits")
        if ignore_index != -100:
            raise ValueError("ignore_index needs class-index targets")
        q = targets.movedim(1, -1).reshape(-1, C) * (1 - label_smoothing) + label_smoothing / C
        loss = -torch.einsum("mc,mc->m", q * w, logp)
        return _reduce(loss.reshape(logits.shape[:1] + logits.shape[2:]), reduction)
    if targets.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError("class-index targets must be shaped (N, d1, ..., dk)")
    flat = targets.reshape(-1).long()
    keep = flat != ignore_index
    if bool((keep & ((flat < 0) | (flat >= C))).any()):
        raise ValueError("class index out of range")
    safe = torch.where(keep, flat, torch.zeros_like(flat))
    q = torch.full((flat.shape[0], C), label_smoothing / C, dtype=logits.dtype)
    q = q.scatter_add(1, safe[:, None],
                      torch.full((flat.shape[0], 1), 1.0 - label_smoothing, dtype=logits.dtype))
    q = q * keep[:, None].to(logits.dtype)
    loss = -torch.einsum("mc,mc->m", q * w, logp)
    if reduction == "mean":
        return loss.sum() / (w[safe] * keep).sum()
    if reduction == "sum":
        return loss.sum()
    return loss.reshape(targets.shape)
