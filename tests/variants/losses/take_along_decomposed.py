"""Correct variant: PyTorch's own decomposition of the losses, written with other functions.

softmax is exp(x - m) / sum with m = torch.max(...).values (not detached); log_softmax is
(x - m) - log(sum exp(x - m));
BCE clamps with torch.where; BCE-with-logits is PyTorch's formula
(1 - t) * x + (1 + (pw - 1) * t) * (log1p(exp(-|x|)) + relu(-x)); cross_entropy stays in the
(N, C, d1, ...) layout, picks the target log-probabilities with torch.take_along_dim and splits
label smoothing into (1 - eps) * nll + eps / C * smooth, each reduced on its own.
"""

import torch
import torch.nn.functional as F


class _Invalid(ValueError):
    pass


def _validate_reduction(reduction):
    if reduction not in {"none": 0, "mean": 1, "sum": 2}:
        raise _Invalid(f"reduction {reduction!r} is not 'none', 'mean' or 'sum'")


def _typecheck(**tensors):
    for what, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor")
        if t.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            raise TypeError(f"{what} must be a float tensor, not {t.dtype}")


def _dimcheck(x, dim):
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError("dim must be an integer")
    size = x.dim() or 1
    if dim >= size or dim < -size:
        raise _Invalid(f"dim {dim} out of range")


def softmax(x, dim=-1):
    _typecheck(x=x)
    _dimcheck(x, dim)
    if x.numel() == 0:
        return x * 1.0
    m = torch.max(x, dim=dim, keepdim=True).values
    e = (x - m).exp()
    return e / e.sum(dim, keepdim=True)


def log_softmax(x, dim=-1):
    _typecheck(x=x)
    _dimcheck(x, dim)
    if x.numel() == 0:
        return x * 1.0
    m = torch.max(x, dim=dim, keepdim=True).values
    z = x - m
    return z - z.exp().sum(dim, keepdim=True).log()


def _reduce(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def _check_bcast(w, shape, what):
    _typecheck(**{what: w})
    nd = len(shape)
    padded = (1,) * (nd - w.dim()) + tuple(w.shape) if w.dim() <= nd else None
    if padded is None or any(p not in (1, s) for p, s in zip(padded, shape)):
        raise _Invalid(f"{what} of shape {tuple(w.shape)} does not broadcast to {tuple(shape)}")


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _typecheck(probs=probs, targets=targets)
    _validate_reduction(reduction)
    if probs.shape != targets.shape:
        raise _Invalid("targets must be shaped like probs")
    if weight is not None:
        _check_bcast(weight, probs.shape, "weight")
    if probs.numel() and bool(((probs < 0) | (probs > 1) | probs.isnan()).any()):
        raise _Invalid("probs must be in [0, 1]")
    lo = torch.full((), -100.0, dtype=probs.dtype)
    lp, lq = torch.log(probs), torch.log(1 - probs)
    lp = torch.where(lp > lo, lp, lo)
    lq = torch.where(lq > lo, lq, lo)
    loss = (targets - 1) * lq - targets * lp
    if weight is not None:
        loss = weight * loss
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _typecheck(logits=logits, targets=targets)
    _validate_reduction(reduction)
    if logits.shape != targets.shape:
        raise _Invalid("targets must be shaped like logits")
    if weight is not None:
        _check_bcast(weight, logits.shape, "weight")
    if pos_weight is not None:
        _check_bcast(pos_weight, logits.shape, "pos_weight")
    softplus_neg = torch.log1p(torch.exp(-logits.abs())) + F.relu(-logits)   # -log(sigmoid(x))
    if pos_weight is None:
        loss = (1 - targets) * logits + softplus_neg
    else:
        loss = (1 - targets) * logits + (1 + (pos_weight - 1) * targets) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _ce_probs(logp, targets, w, reduction, eps):
    C = logp.shape[1]
    t = targets if eps == 0 else targets * (1 - eps) + eps / C
    terms = t * logp if w is None else t * logp * w
    return _reduce(-terms.sum(1), reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _typecheck(logits=logits)
    if not isinstance(targets, torch.Tensor):
        raise TypeError("targets must be a torch.Tensor")
    _validate_reduction(reduction)
    if not (label_smoothing >= 0.0 and label_smoothing <= 1.0):
        raise _Invalid("label_smoothing must be within [0, 1]")
    if logits.dim() < 2:
        raise _Invalid("logits need (N, C) at least")
    C = logits.size(1)
    if weight is not None:
        _typecheck(weight=weight)
        if weight.dim() != 1 or weight.numel() != C:
            raise _Invalid("weight must be a 1-D tensor of C entries")
    logp = log_softmax(logits, 1)
    wshape = (1, C) + (1,) * (logits.dim() - 2)
    w = None if weight is None else weight.reshape(wshape)
    if torch.is_floating_point(targets):
        if targets.shape != logits.shape:
            raise _Invalid("probability targets must match the logits' shape")
        if ignore_index != -100:
            raise _Invalid("no ignore_index with probability targets")
        return _ce_probs(logp, targets, w, reduction, label_smoothing)
    want = logits.shape[:1] + logits.shape[2:]
    if targets.shape != want:
        raise _Invalid(f"targets must have shape {tuple(want)}")
    t = targets.to(torch.int64)
    mask = t.ne(ignore_index)
    if bool(mask.logical_and(t.lt(0).logical_or(t.ge(C))).any()):
        raise _Invalid("a class index is out of range")
    idx = t.masked_fill(~mask, 0).unsqueeze(1)
    nll = -torch.take_along_dim(logp, idx, dim=1).squeeze(1)
    wt = mask.to(logp.dtype)
    if weight is not None:
        wt = wt * weight.index_select(0, idx.reshape(-1)).reshape(idx.shape).squeeze(1)
    nll = nll * wt
    smooth = None
    if label_smoothing > 0:
        s = logp if w is None else logp * w
        smooth = (-s.sum(1)).masked_fill(~mask, 0.0)
    if reduction == "none":
        out = nll
        if smooth is not None:
            out = (1 - label_smoothing) * nll + label_smoothing / C * smooth
        return out
    denom = wt.sum() if reduction == "mean" else 1.0
    out = nll.sum() / denom
    if smooth is not None:
        out = (1 - label_smoothing) * out + label_smoothing / C * (smooth.sum() / denom)
    return out
