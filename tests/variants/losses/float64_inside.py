"""Correct variant: every computation in float64, the result cast back to the input's dtype.

Same formulas as the solution, but each float input is first converted with `.double()` and the
final result with `.to(dtype)`. Validation is written as one table of checks per function.
"""

import torch


def _validate(checks):
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def _red(loss, reduction):
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def _bcast_ok(w, shape):
    return w is None or (w.dim() <= len(shape) and all(
        a in (1, b) for a, b in zip(reversed(w.shape), reversed(shape))))


def log_softmax(x, dim=-1):
    dtype = x.dtype
    z = x.double()
    if z.numel():
        z = z - z.max(dim=dim, keepdim=True).values
    out = z - z.exp().sum(dim=dim, keepdim=True).log()
    return out.to(dtype)


def softmax(x, dim=-1):
    dtype = x.dtype
    z = x.double()
    if z.numel():
        z = z - z.max(dim=dim, keepdim=True).values
    e = z.exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(dtype)


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _validate([
        (reduction in ("none", "mean", "sum"), f"bad reduction {reduction!r}"),
        (probs.shape == targets.shape, "targets must be shaped like probs"),
        (_bcast_ok(weight, probs.shape), "weight must broadcast to probs"),
        (bool(((probs >= 0) & (probs <= 1)).all()), "probs must be in [0, 1]"),
    ])
    p, y = probs.double(), targets.double()
    loss = -(y * p.log().clamp(min=-100) + (1 - y) * (1 - p).log().clamp(min=-100))
    if weight is not None:
        loss = loss * weight.double()
    return _red(loss, reduction).to(probs.dtype)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None,
                                     reduction="mean"):
    _validate([
        (reduction in ("none", "mean", "sum"), f"bad reduction {reduction!r}"),
        (logits.shape == targets.shape, "targets must be shaped like logits"),
        (_bcast_ok(weight, logits.shape), "weight must broadcast to logits"),
        (_bcast_ok(pos_weight, logits.shape), "pos_weight must broadcast to logits"),
    ])
    x, y = logits.double(), targets.double()
    sp = (-x.abs()).exp().log1p() + (-x).clamp(min=0)          # -log(sigmoid(x))
    pw = 1.0 if pos_weight is None else pos_weight.double()
    loss = pw * y * sp + (1 - y) * (x + sp)
    if weight is not None:
        loss = loss * weight.double()
    return _red(loss, reduction).to(logits.dtype)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    C = logits.shape[1]
    soft = targets.is_floating_point()
    idx_shape = logits.shape[:1] + logits.shape[2:]
    _validate([
        (reduction in ("none", "mean", "sum"), f"bad reduction {reduction!r}"),
        (0 <= label_smoothing <= 1, "label_smoothing must be in [0, 1]"),
        (weight is None or weight.shape == (C,), "weight must have one entry per class"),
        (targets.shape == (logits.shape if soft else idx_shape), "targets have the wrong shape"),
    ])
    if not soft:
        kept = targets[targets != ignore_index]
        _validate([(bool(((kept >= 0) & (kept < C)).all()), "class index out of range")])
    dtype = logits.dtype
    logp = log_softmax(logits.double(), dim=1)
    view = [1, C] + [1] * (logits.dim() - 2)
    w = torch.ones(view, dtype=torch.float64) if weight is None else weight.double().view(view)
    eps = float(label_smoothing)
    if soft:
        t = targets.double() * (1 - eps) + eps / C
        return _red(-(t * w * logp).sum(1), reduction).to(dtype)
    keep = targets != ignore_index
    safe = targets.masked_fill(~keep, 0).unsqueeze(1)
    w_t = w.expand_as(logp).gather(1, safe).squeeze(1) * keep
    nll = -logp.gather(1, safe).squeeze(1) * w_t
    smooth = -(w * logp).sum(1) * keep
    loss = (1 - eps) * nll + eps / C * smooth
    if reduction == "mean":
        return (loss.sum() / w_t.sum()).to(dtype)
    return _red(loss, reduction).to(dtype)
