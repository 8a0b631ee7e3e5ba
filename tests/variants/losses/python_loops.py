"""Correct variant: python loops over rows / positions instead of vectorised code.

softmax and log_softmax move `dim` last, flatten the rest and handle one row at a time;
cross_entropy walks over every (sample, position) pair and accumulates a list of per-position
losses (stacked at the end, so autograd still works). Slow, but exact.
"""

import math

import torch


def _check_reduction(reduction):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', not {reduction!r}")


def _rows(x, dim):
    """x with `dim` moved last, as (rows, n), and a function to undo that."""
    if x.dim() == 0:
        return x.reshape(1, 1), lambda r: r.reshape(())
    moved = x.movedim(dim, -1)
    shape = moved.shape
    n = shape[-1]
    rows = moved.reshape(math.prod(shape[:-1]), n)
    return rows, lambda r: r.reshape(shape).movedim(-1, dim)


def _row_log_softmax(row):
    m = max(row.tolist())            # a float: the shift is a constant for autograd
    z = row - m
    total = 0.0
    for v in z.exp():
        total = total + v
    return z - torch.log(total)


def log_softmax(x, dim=-1):
    rows, back = _rows(x, dim)
    if rows.numel() == 0:
        return back(rows.clone())
    return back(torch.stack([_row_log_softmax(r) for r in rows]))


def softmax(x, dim=-1):
    rows, back = _rows(x, dim)
    if rows.numel() == 0:
        return back(rows.clone())
    out = []
    for r in rows:
        e = (r - max(r.tolist())).exp()
        out.append(e / e.sum())
    return back(torch.stack(out))


def _finish(losses, shape, reduction, denominator, like):
    if reduction == "none":
        return torch.stack(losses).reshape(shape) if losses else like.new_zeros(shape)
    total = torch.stack(losses).sum() if losses else like.new_zeros(())
    if reduction == "sum":
        return total
    return total / denominator


def _check_broadcasts(t, x, what):
    if t is not None and (t.dim() > x.dim() or any(a not in (b, 1) for a, b in zip(t.shape[::-1], x.shape[::-1]))):
        raise ValueError(f"{what} must broadcast to the shape of the input")


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _check_reduction(reduction)
    if probs.shape != targets.shape:
        raise ValueError("targets must have the shape of probs")
    _check_broadcasts(weight, probs, "weight")
    for p in probs.reshape(-1).tolist():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability {p} is outside [0, 1]")
    w = None if weight is None else (weight + torch.zeros_like(probs)).reshape(-1)
    losses = []
    for i, (p, y) in enumerate(zip(probs.reshape(-1), targets.reshape(-1))):
        l = -(y * torch.log(p).clamp(min=-100) + (1 - y) * torch.log(1 - p).clamp(min=-100))
        losses.append(l if w is None else l * w[i])
    return _finish(losses, probs.shape, reduction,
                   torch.tensor(float(probs.numel()), dtype=probs.dtype), probs)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _check_reduction(reduction)
    if logits.shape != targets.shape:
        raise ValueError("targets must have the shape of logits")
    _check_broadcasts(weight, logits, "weight")
    _check_broadcasts(pos_weight, logits, "pos_weight")
    zeros = torch.zeros_like(logits)
    w = None if weight is None else (weight + zeros).reshape(-1)
    pw = None if pos_weight is None else (pos_weight + zeros).reshape(-1)
    losses = []
    for i, (x, y) in enumerate(zip(logits.reshape(-1), targets.reshape(-1))):
        softplus_neg = torch.log1p(torch.exp(-x.abs())) + (-x).clamp(min=0)   # -log sigmoid(x)
        pos = softplus_neg if pw is None else pw[i] * softplus_neg
        l = y * pos + (1 - y) * (x + softplus_neg)
        losses.append(l if w is None else l * w[i])
    return _finish(losses, logits.shape, reduction,
                   torch.tensor(float(logits.numel()), dtype=logits.dtype), logits)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _check_reduction(reduction)
    if label_smoothing < 0 or label_smoothing > 1:
        raise ValueError("label_smoothing must lie in [0, 1]")
    C = logits.shape[1]
    if weight is not None and list(weight.shape) != [C]:
        raise ValueError(f"weight must have shape ({C},)")
    probs_target = targets.is_floating_point()
    if probs_target:
        if targets.shape != logits.shape:
            raise ValueError("probability targets must have the shape of the logits")
    else:
        if targets.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError("class-index targets must have shape (N, d1, ..., dk)")
        for t in targets.reshape(-1).tolist():
            if t != ignore_index and not 0 <= t < C:
                raise ValueError(f"class index {t} out of range for {C} classes")
    logp = log_softmax(logits, dim=1).movedim(1, -1).reshape(-1, C)     # (positions, C)
    w = torch.ones(C, dtype=logits.dtype) if weight is None else weight
    eps = label_smoothing
    out_shape = logits.shape[:1] + logits.shape[2:]
    losses, denominator = [], torch.zeros((), dtype=logits.dtype)
    if probs_target:
        tgt = targets.movedim(1, -1).reshape(-1, C)
        for lp, t in zip(logp, tgt):
            t = (1 - eps) * t + eps / C
            losses.append(-(t * w * lp).sum())
        denominator = torch.tensor(float(len(losses)), dtype=logits.dtype)
    else:
        for lp, t in zip(logp, targets.reshape(-1).tolist()):
            if t == ignore_index:
                losses.append(torch.zeros((), dtype=logits.dtype))
                continue
            l = -(1 - eps) * w[t] * lp[t] - eps / C * (w * lp).sum()
            losses.append(l)
            denominator = denominator + w[t]
    return _finish(losses, out_shape, reduction, denominator, logits)
