"""Variant (red team, round of false failures): every function runs under @torch.inference_mode() (no
graph is ever recorded); numerical_grad builds all 2n perturbed copies at once (x repeated, h added
on a diagonal with index_put_), then calls f on each; activation gradients use torch.special.expit
and the identity tanh' = (1 - t)(1 + t); softmax via torch.special.softmax; linear layers with
torch.tensordot / addmm / baddbmm-free matmuls; validation via small decorator-free helpers."""
import math
from numbers import Real

import torch


def _t(name, v):
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} has to be a tensor (got {type(v).__name__})")
    if not v.is_floating_point():
        raise TypeError(f"{name} has to be floating point (got {v.dtype})")


@torch.inference_mode()
def square_loss_grad(x, y, w):
    for name, v in zip("xyw", (x, y, w)):
        if not isinstance(v, torch.Tensor) and (isinstance(v, bool) or not isinstance(v, Real)):
            raise TypeError(f"{name}: number or tensor expected")
    shapes = [v.shape for v in (x, y, w) if isinstance(v, torch.Tensor)]
    if not shapes:
        return 2.0 * float(x) * (float(x) * float(w) - float(y))
    try:
        torch.empty(0).new_empty(()).reshape(())  # nothing; shapes checked below
        probe = [torch.empty(s, device="meta") for s in shapes]
        total = probe[0]
        for p in probe[1:]:
            total = total + p
    except RuntimeError as e:
        raise ValueError(f"shapes {[tuple(s) for s in shapes]} do not broadcast") from e
    return 2 * x * (x * w - y)


@torch.inference_mode()
def numerical_grad(f, x, h=1e-5):
    if not callable(f):
        raise TypeError("f must be callable")
    _t("x", x)
    if isinstance(h, bool) or not isinstance(h, Real) or h <= 0:
        raise ValueError(f"h must be a positive number, got {h!r}")
    n = x.numel()
    base = x.reshape(-1).clone()
    batch = base.repeat(2 * n, 1) if n else base.reshape(0, 0)
    if n:
        rows = torch.arange(2 * n)
        cols = torch.arange(n).repeat(2)
        vals = torch.cat([base + h, base - h])
        batch.index_put_((rows, cols), vals)
    diffs = []
    for i in range(n):
        fp = f(batch[i].reshape(x.shape).clone())
        fm = f(batch[n + i].reshape(x.shape).clone())
        diffs.append((float(fp) - float(fm)) / (2 * h))
    return torch.tensor(diffs, dtype=x.dtype).reshape(x.shape)


@torch.inference_mode()
def linear_regression_grads(X, y, w, b):
    _t("X", X); _t("y", y); _t("w", w)
    if X.dim() != 2:
        raise ValueError("X must be 2-D")
    n, d = X.shape
    if y.shape != (n,) or w.shape != (d,):
        raise ValueError(f"y must be ({n},) and w ({d},)")
    if isinstance(b, torch.Tensor):
        if b.dim():
            raise ValueError("b must be 0-dim")
    elif isinstance(b, bool) or not isinstance(b, Real):
        raise TypeError("b must be a float or a 0-dim tensor")
    r = torch.addmv(y.neg(), X, w) + b
    return torch.mv(X.t(), r) / n, r.mean()


@torch.inference_mode()
def linear_backward(dout, x, W, b):
    for k, v in dict(dout=dout, x=x, W=W, b=b).items():
        _t(k, v)
    if W.dim() != 2:
        raise ValueError("W must be 2-D")
    o, i = W.shape
    if x.dim() < 1 or x.shape[-1] != i or b.shape != (o,) or dout.shape != x.shape[:-1] + (o,):
        raise ValueError("shapes of dout, x, W, b do not fit")
    lead = list(range(x.dim() - 1))
    dx = torch.matmul(dout, W)
    dW = torch.tensordot(dout, x, dims=(lead, lead)) if lead else torch.outer(dout, x)
    db = dout.sum(dim=lead) if lead else dout.clone()
    return dx, dW, db


def _pair(dout, x):
    _t("dout", dout)
    _t("x", x)
    if dout.shape != x.shape:
        raise ValueError("dout and x must have the same shape")


@torch.inference_mode()
def relu_backward(dout, x):
    _pair(dout, x)
    return dout.masked_fill(x <= 0, 0.0)


@torch.inference_mode()
def sigmoid_backward(dout, x):
    _pair(dout, x)
    s = torch.special.expit(x)
    return dout * s * (1 - s)


@torch.inference_mode()
def tanh_backward(dout, x):
    _pair(dout, x)
    t = torch.tanh(x)
    return dout * (1 - t) * (1 + t)


def _targets(t, n, c):
    if not isinstance(t, torch.Tensor):
        raise TypeError("targets must be a tensor")
    if t.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"targets must hold class indices, got {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"targets must be ({n},)")
    if n and not bool(((t >= 0) & (t < c)).all()):
        raise ValueError(f"targets outside [0, {c})")


@torch.inference_mode()
def softmax_cross_entropy_backward(logits, targets):
    _t("logits", logits)
    if logits.dim() != 2:
        raise ValueError("logits must be 2-D")
    n, c = logits.shape
    _targets(targets, n, c)
    g = torch.special.softmax(logits, dim=1)
    g[torch.arange(n), targets] -= 1
    return g / n


@torch.inference_mode()
def mlp_backward(X, y, W1, b1, W2, b2):
    for k, v in dict(X=X, W1=W1, b1=b1, W2=W2, b2=b2).items():
        _t(k, v)
    if X.dim() != 2 or W1.dim() != 2 or W2.dim() != 2:
        raise ValueError("X, W1 and W2 must be 2-D")
    n, d = X.shape
    hid = W1.shape[0]
    c = W2.shape[0]
    if W1.shape[1] != d or b1.shape != (hid,) or W2.shape[1] != hid or b2.shape != (c,):
        raise ValueError("shapes do not fit")
    _targets(y, n, c)
    z1 = torch.addmm(b1, X, W1.t())
    a1 = z1.clamp_min(0)
    z2 = torch.addmm(b2, a1, W2.t())
    dz2 = softmax_cross_entropy_backward(z2, y)
    da1 = dz2 @ W2
    dz1 = relu_backward(da1, z1)
    return dict(W1=dz1.t() @ X, b1=dz1.sum(0), W2=dz2.t() @ a1, b2=dz2.sum(0))
