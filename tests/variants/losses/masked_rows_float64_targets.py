"""Correct variant: kept rows selected by boolean indexing; float64 only for the reductions.

cross_entropy flattens (N, C, d1, ...) to rows with permute + reshape, selects the rows whose
target is not ignored (``rows[keep]``), computes their losses there, and writes them back into a
zero tensor with index_put for 'none'; sums are accumulated in float64 and cast back. softmax is
exp(log_softmax); log_softmax subtracts the logsumexp computed as m + log(sum exp(x - m)).
BCE-with-logits picks the stable branch of softplus with torch.where on clamped arguments.
"""

import torch

REDS = ("none", "mean", "sum")


def _bad(msg):
    raise ValueError(msg)


def _ftensor(t, what):
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise TypeError(f"{what}: expected a floating-point tensor")


def _lse(x, dim):
    m = x.amax(dim=dim, keepdim=True).detach()
    return m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))


def log_softmax(x, dim=-1):
    _ftensor(x, "x")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError("dim must be an int")
    if not -max(x.dim(), 1) <= dim < max(x.dim(), 1):
        _bad("dim out of range")
    if x.numel() == 0:
        return x + 0
    return x - _lse(x, dim)


def softmax(x, dim=-1):
    return torch.exp(log_softmax(x, dim))


def _sum64(t):
    return t.double().sum().to(t.dtype)


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    s = _sum64(loss)
    return s if reduction == "sum" else s / loss.numel()


def _bcast(t, shape, what):
    _ftensor(t, what)
    if t.dim() > len(shape) or any(a not in (1, b) for a, b in zip(t.shape[::-1], shape[::-1])):
        _bad(f"{what} must broadcast to {tuple(shape)}")


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _ftensor(probs, "probs")
    _ftensor(targets, "targets")
    if reduction not in REDS:
        _bad("bad reduction")
    if probs.shape != targets.shape:
        _bad("shape mismatch")
    if weight is not None:
        _bcast(weight, probs.shape, "weight")
    if probs.numel() and (bool((probs < 0).any()) or bool((probs > 1).any())):
        _bad("probs must be in [0, 1]")
    loss = -(targets * torch.clamp_min(torch.log(probs), -100.0)
             + (1 - targets) * torch.clamp_min(torch.log1p(-probs), -100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _softplus(z):
    """log(1 + exp(z)), without overflow and without NaN gradients in the unused branch."""
    return torch.where(z > 0, z.clamp(min=0) + torch.log1p(torch.exp(-z.clamp(min=0))),
                       torch.log1p(torch.exp(z.clamp(max=0))))


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _ftensor(logits, "logits")
    _ftensor(targets, "targets")
    if reduction not in REDS:
        _bad("bad reduction")
    if logits.shape != targets.shape:
        _bad("shape mismatch")
    if weight is not None:
        _bcast(weight, logits.shape, "weight")
    if pos_weight is not None:
        _bcast(pos_weight, logits.shape, "pos_weight")
    a = _softplus(-logits)                 # -log(sigmoid(x))
    b = _softplus(logits)                  # -log(1 - sigmoid(x))
    loss = (targets if pos_weight is None else pos_weight * targets) * a + (1 - targets) * b
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _ftensor(logits, "logits")
    if not isinstance(targets, torch.Tensor):
        raise TypeError("targets must be a tensor")
    if reduction not in REDS:
        _bad("bad reduction")
    if not 0 <= label_smoothing <= 1:
        _bad("label_smoothing must be in [0, 1]")
    if logits.dim() < 2:
        _bad("logits must be (N, C, ...)")
    N, C = logits.shape[:2]
    if weight is not None:
        _ftensor(weight, "weight")
        if weight.shape != (C,):
            _bad("weight must have shape (C,)")
    perm = (0,) + tuple(range(2, logits.dim())) + (1,)
    rows = logits.permute(perm).reshape(-1, C)
    w = torch.ones(C, dtype=logits.dtype) if weight is None else weight
    eps = label_smoothing
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            _bad("probability targets must be shaped like the logits")
        if ignore_index != -100:
            _bad("ignore_index needs class indices")
        trows = targets.permute(perm).reshape(-1, C) * (1 - eps) + eps / C
        loss = -(trows * w * log_softmax(rows, 1)).sum(1) if rows.numel() else rows.sum(1)
        return _reduce(loss.reshape(logits.shape[:1] + logits.shape[2:]), reduction)
    if targets.shape != logits.shape[:1] + logits.shape[2:]:
        _bad("class-index targets must be shaped (N, d1, ..., dk)")
    flat = targets.reshape(-1).long()
    keep = flat != ignore_index
    kept = flat[keep]
    if bool(((kept < 0) | (kept >= C)).any()):
        _bad("class index out of range")
    lp = log_softmax(rows[keep], 1)                      # (K, C)
    nll = -lp.gather(1, kept[:, None])[:, 0]
    wt = w[kept]
    loss_k = (1 - eps) * wt * nll + eps / C * -(lp * w).sum(1)
    if reduction == "none":
        out = torch.zeros(flat.shape[0], dtype=logits.dtype).index_put((keep.nonzero()[:, 0],), loss_k)
        return out.reshape(targets.shape)
    total = _sum64(loss_k)
    return total if reduction == "sum" else total / _sum64(wt)
