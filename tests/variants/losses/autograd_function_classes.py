"""Variant (red team, round of false failures): the softmax family and BCE-with-logits as
torch.autograd.Function classes with hand-written backward passes (as when deriving the gradients in
class), the losses built on them. Gradients w.r.t. soft targets are returned too."""
import torch


def _chk_tensor(t, name):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be float")


def _chk_dim(x, dim):
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError("dim must be an int")
    n = max(1, x.dim())
    if not -n <= dim < n:
        raise ValueError(f"dim {dim} out of range")


def _chk_red(r):
    if r not in ("none", "mean", "sum") or not isinstance(r, str):
        raise ValueError(f"unknown reduction {r!r}")


def _chk_bcast(w, shape, name):
    if w is None:
        return
    _chk_tensor(w, name)
    if w.dim() > len(shape) or any(a not in (1, b) for a, b in zip(reversed(w.shape), reversed(shape))):
        raise ValueError(f"{name} of shape {tuple(w.shape)} does not broadcast to {tuple(shape)}")


def _red(loss, r):
    return loss.sum() if r == "sum" else loss.mean() if r == "mean" else loss


class _Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        if x.numel() == 0:
            out = x.clone()
        else:
            e = (x - x.amax(dim=dim, keepdim=True)).exp()
            out = e / e.sum(dim=dim, keepdim=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return s * (g - (g * s).sum(dim=ctx.dim, keepdim=True)), None


class _LogSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        if x.numel() == 0:
            out = x.clone()
        else:
            z = x - x.amax(dim=dim, keepdim=True)
            out = z - z.exp().sum(dim=dim, keepdim=True).log()
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        (ls,) = ctx.saved_tensors
        return g - ls.exp() * g.sum(dim=ctx.dim, keepdim=True), None


class _NegLogSigmoid(torch.autograd.Function):
    """-log(sigmoid(x)) = log(1 + exp(-x)), stable; derivative -(1 - sigmoid(x))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.log1p(torch.exp(-x.abs())) + (-x).clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * torch.sigmoid(-x)


def softmax(x, dim=-1):
    _chk_tensor(x, "x")
    _chk_dim(x, dim)
    return _Softmax.apply(x, dim)


def log_softmax(x, dim=-1):
    _chk_tensor(x, "x")
    _chk_dim(x, dim)
    return _LogSoftmax.apply(x, dim)


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    _chk_tensor(probs, "probs")
    _chk_tensor(targets, "targets")
    _chk_red(reduction)
    if probs.shape != targets.shape:
        raise ValueError("probs and targets must have the same shape")
    _chk_bcast(weight, probs.shape, "weight")
    if probs.numel() and not bool(((0 <= probs) & (probs <= 1)).all()):
        raise ValueError("probs outside [0, 1]")
    loss = -(targets * probs.log().clamp(min=-100) + (1 - targets) * (1 - probs).log().clamp(min=-100))
    return _red(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None, reduction="mean"):
    _chk_tensor(logits, "logits")
    _chk_tensor(targets, "targets")
    _chk_red(reduction)
    if logits.shape != targets.shape:
        raise ValueError("logits and targets must have the same shape")
    _chk_bcast(weight, logits.shape, "weight")
    _chk_bcast(pos_weight, logits.shape, "pos_weight")
    a = _NegLogSigmoid.apply(logits)          # -log sigmoid(x)
    b = _NegLogSigmoid.apply(-logits)         # -log(1 - sigmoid(x))
    pos = targets * a if pos_weight is None else pos_weight * targets * a
    loss = pos + (1 - targets) * b
    return _red(loss if weight is None else loss * weight, reduction)


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    _chk_tensor(logits, "logits")
    if not isinstance(targets, torch.Tensor):
        raise TypeError("targets must be a tensor")
    _chk_red(reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError("label_smoothing must be in [0, 1]")
    if logits.dim() < 2:
        raise ValueError("logits must be at least 2-D")
    C = logits.shape[1]
    if weight is not None:
        _chk_tensor(weight, "weight")
        if weight.shape != (C,):
            raise ValueError("weight must be of shape (C,)")
    cshape = (1, C) + (1,) * (logits.dim() - 2)
    logp = _LogSoftmax.apply(logits, 1)
    if targets.is_floating_point():
        if targets.shape != logits.shape:
            raise ValueError("probability targets must be shaped like logits")
        t = targets if label_smoothing == 0 else targets * (1 - label_smoothing) + label_smoothing / C
        if weight is not None:
            t = t * weight.view(cshape)
        return _red(-(t * logp).sum(1), reduction)
    if targets.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError("class-index targets must be (N, d1, ...)")
    keep = targets != ignore_index
    if bool((keep & ((targets < 0) | (targets >= C))).any()):
        raise ValueError("target class out of range")
    idx = torch.where(keep, targets, 0).long()
    nll = -logp.gather(1, idx.unsqueeze(1)).squeeze(1)
    wt = keep.to(logp.dtype)
    if weight is not None:
        wt = wt * weight[idx]
    loss = nll * wt
    if label_smoothing:
        lw = logp if weight is None else logp * weight.view(cshape)
        loss = (1 - label_smoothing) * loss + label_smoothing / C * (-lw.sum(1)) * keep
    if reduction == "mean":
        return loss.sum() / wt.sum()
    return _red(loss, reduction)
