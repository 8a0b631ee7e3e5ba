"""Correct variant: an online (streaming) softmax, and loops over the classes.

softmax / log_softmax walk along ``dim`` one slice at a time keeping a running maximum and a
running sum rescaled whenever the maximum grows (the "online softmax" of FlashAttention).
cross_entropy computes its log-sum-exp the same way over the classes and accumulates the
per-class terms of the loss in a Python loop over ``logits.unbind(1)``; BCE-with-logits uses
min(x, 0) - log1p(exp(-|x|)) for log(sigmoid(x)).
"""

import torch


def _check_reduction(reduction):
    if reduction not in ["none", "mean", "sum"]:
        raise ValueError(f"unknown reduction {reduction!r}")


def _need_float(t, what):
    if not torch.is_tensor(t) or not torch.is_floating_point(t):
        raise TypeError(f"{what} must be a floating-point tensor")


def _norm_dim(x, dim):
    if type(dim) is not int:
        raise TypeError("dim must be an int")
    n = x.dim() if x.dim() else 1
    if dim < -n or dim >= n:
        raise ValueError(f"dim {dim} is out of range")
    return dim


def _online(slices):
    """Running max m and sum s of exp(x - m) over a list of equally shaped tensors."""
    m = slices[0].detach()
    s = torch.exp(slices[0] - m)                # 1, but it carries the gradient
    for xi in slices[1:]:
        m_new = torch.maximum(m, xi.detach())
        s = s * torch.exp(m - m_new) + torch.exp(xi - m_new)
        m = m_new
    return m, s


def log_softmax(x, dim=-1):
    _need_float(x, "x")
    dim = _norm_dim(x, dim)
    if x.dim() == 0:
        return x - x
    slices = x.unbind(dim)
    if not slices:
        return x.clone()
    m, s = _online(slices)
    return torch.stack([xi - m - torch.log(s) for xi in slices], dim=dim)


def softmax(x, dim=-1):
    _need_float(x, "x")
    dim = _norm_dim(x, dim)
    if x.dim() == 0:
        return torch.ones_like(x)
    slices = x.unbind(dim)
    if not slices:
        return x.clone()
    m, s = _online(slices)
    return torch.stack([torch.exp(xi - m) / s for xi in slices], dim=dim)


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _check_weight(w, shape, what):
    _need_float(w, what)
    try:
        out = torch.broadcast_shapes(w.shape, shape)
    except RuntimeError:
        raise ValueError(f"{what} does not broadcast to {tuple(shape)}") from None
    if tuple(out) != tuple(shape):
        raise ValueError(f"{what} would enlarge the loss to {tuple(out)}")


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _need_float(probs, "probs")
    _need_float(targets, "targets")
    _check_reduction(reduction)
    if tuple(probs.shape) != tuple(targets.shape):
        raise ValueError("probs and targets differ in shape")
    if weight is not None:
        _check_weight(weight, probs.shape, "weight")
    if probs.numel() and not (bool((probs >= 0).all()) and bool((probs <= 1).all())):
        raise ValueError("probs outside [0, 1]")
    logp = torch.log(probs)
    logq = torch.log(1 - probs)
    floor = torch.tensor(-100.0, dtype=probs.dtype)
    logp = torch.where(logp < floor, floor, logp)
    logq = torch.where(logq < floor, floor, logq)
    loss = -(targets * logp) - (1 - targets) * logq
    return _reduce(loss if weight is None else weight * loss, reduction)


def _log_sigmoid(x):
    return torch.clamp(x, max=0) - torch.log1p(torch.exp(-torch.abs(x)))


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _need_float(logits, "logits")
    _need_float(targets, "targets")
    _check_reduction(reduction)
    if tuple(logits.shape) != tuple(targets.shape):
        raise ValueError("logits and targets differ in shape")
    for what, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None:
            _check_weight(w, logits.shape, what)
    pos = -_log_sigmoid(logits)
    neg = -_log_sigmoid(-logits)
    if pos_weight is not None:
        pos = pos * pos_weight
    loss = targets * pos + (1 - targets) * neg
    return _reduce(loss if weight is None else loss * weight, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    _need_float(logits, "logits")
    if not torch.is_tensor(targets):
        raise TypeError("targets must be a tensor")
    _check_reduction(reduction)
    if label_smoothing < 0 or label_smoothing > 1:
        raise ValueError("label_smoothing outside [0, 1]")
    if logits.dim() < 2:
        raise ValueError("logits must have a batch and a class dimension")
    C = logits.shape[1]
    if weight is not None:
        _need_float(weight, "weight")
        if weight.shape != torch.Size([C]):
            raise ValueError("weight must have C entries")
    classes = logits.unbind(1)                              # C tensors of shape (N, d1, ...)
    m, s = _online(list(classes))
    lse = m + torch.log(s)
    wc = [1.0 if weight is None else weight[c] for c in range(C)]
    eps = float(label_smoothing)
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            raise ValueError("probability targets must be shaped like the logits")
        if ignore_index != -100:
            raise ValueError("ignore_index is for class-index targets only")
        loss = torch.zeros_like(lse)
        for c, tc in enumerate(targets.unbind(1)):
            q = tc * (1 - eps) + eps / C
            loss = loss + wc[c] * q * (lse - classes[c])
        return _reduce(loss, reduction)
    if targets.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError("class-index targets must have the logits' shape without dim 1")
    t = targets.long()
    keep = t != ignore_index
    if bool(((t < 0) | (t >= C))[keep].any()):
        raise ValueError("class index out of range")
    loss = torch.zeros_like(lse)
    tw = torch.zeros_like(lse)                              # weight of each position's target
    for c in range(C):
        is_c = (t == c) & keep
        nll_c = lse - classes[c]
        loss = loss + torch.where(is_c, wc[c] * (1 - eps) * nll_c, torch.zeros_like(nll_c))
        loss = loss + torch.where(keep, wc[c] * eps / C * nll_c, torch.zeros_like(nll_c))
        tw = tw + is_c.to(lse.dtype) * wc[c]
    if reduction == "mean":
        return loss.sum() / tw.sum()
    return _reduce(loss, reduction)
