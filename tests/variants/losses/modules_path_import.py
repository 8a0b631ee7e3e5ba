"""Student: BCE-with-logits through a LogSigmoid module imported by the IDE from its defining
module (torch.nn.modules.activation.LogSigmoid is torch.nn.LogSigmoid). Everything else is
the plain stable formulas."""
import torch
from torch.nn.modules.activation import LogSigmoid

_logsig = LogSigmoid()


def softmax(x, dim=-1):
    if x.numel() == 0:
        return x.clone()
    e = torch.exp(x - x.detach().amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    if x.numel() == 0:
        return x.clone()
    z = x - x.detach().amax(dim=dim, keepdim=True)
    return z - torch.log(torch.exp(z).sum(dim=dim, keepdim=True))


def _reduce(loss, reduction):
    return loss if reduction == "none" else (loss.sum() if reduction == "sum" else loss.mean())


def _fits(w, shape):
    return w is None or (w.dim() <= len(shape) and all(
        a in (1, b) for a, b in zip(reversed(w.shape), reversed(shape))))


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError("bad reduction")
    if probs.shape != targets.shape:
        raise ValueError("shape mismatch")
    if not _fits(weight, probs.shape):
        raise ValueError("weight does not broadcast")
    if probs.numel() and not bool(((probs >= 0) & (probs <= 1)).all()):
        raise ValueError("probs outside [0, 1]")
    loss = -(targets * torch.log(probs).clamp(min=-100) + (1 - targets) * torch.log(1 - probs).clamp(min=-100))
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None, reduction="mean"):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError("bad reduction")
    if logits.shape != targets.shape:
        raise ValueError("shape mismatch")
    if not (_fits(weight, logits.shape) and _fits(pos_weight, logits.shape)):
        raise ValueError("weight / pos_weight does not broadcast")
    pos = targets * _logsig(logits)
    if pos_weight is not None:
        pos = pos * pos_weight
    loss = -(pos + (1 - targets) * _logsig(-logits))
    return _reduce(loss if weight is None else loss * weight, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError("bad reduction")
    if not 0 <= label_smoothing <= 1:
        raise ValueError("bad label_smoothing")
    C = logits.shape[1]
    if weight is not None and tuple(weight.shape) != (C,):
        raise ValueError("bad weight")
    shape = [1, C] + [1] * (logits.dim() - 2)
    w = None if weight is None else weight.view(shape)
    lp = log_softmax(logits, 1)
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            raise ValueError("bad probability targets")
        p = targets * (1 - label_smoothing) + label_smoothing / C if label_smoothing else targets
        return _reduce(-((p * lp) if w is None else (p * lp * w)).sum(1), reduction)
    if targets.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError("bad index targets")
    keep = targets != ignore_index
    if bool((keep & ((targets < 0) | (targets >= C))).any()):
        raise ValueError("class index out of range")
    safe = torch.where(keep, targets, 0)
    nll = -lp.gather(1, safe.unsqueeze(1)).squeeze(1)
    wt = keep.to(lp.dtype) if weight is None else weight[safe] * keep
    loss = nll * wt
    if label_smoothing:
        loss = (1 - label_smoothing) * loss - label_smoothing / C * ((lp if w is None else lp * w).sum(1) * keep)
    return loss.sum() / wt.sum() if reduction == "mean" else _reduce(loss, reduction)
