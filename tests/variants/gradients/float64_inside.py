"""Variant (correct): every computation in float64, results cast back to the input dtype.

square_loss_grad on Python floats returns a 0-dim float64 tensor (an accepted reading);
numerical_grad calls f with tensors of x's dtype but takes the differences in float64.
"""

import torch

D = torch.float64


def _t(name, v):
    if not isinstance(v, torch.Tensor) or not v.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")
    return v.to(D)


def square_loss_grad(x, y, w):
    vals = []
    for v in (x, y, w):
        if isinstance(v, torch.Tensor):
            vals.append(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            vals.append(None)
        else:
            raise TypeError("x, y, w must be floats or tensors")
    tensors = [v for v in vals if v is not None]
    if not tensors:
        xd, yd, wd = (torch.tensor(float(v), dtype=D) for v in (x, y, w))
        return 2 * xd * (xd * wd - yd)
    try:
        probe = (x * w - y)  # shape and dtype by PyTorch's own rules
    except RuntimeError as e:
        raise ValueError(f"x, y and w do not broadcast: {e}") from None
    xd, yd, wd = (v.to(D) if isinstance(v, torch.Tensor) else float(v) for v in (x, y, w))
    return (2 * xd * (xd * wd - yd)).to(probe.dtype)


def numerical_grad(f, x, h=1e-5):
    if not callable(f):
        raise TypeError("f must be callable")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point tensor")
    if not h > 0:
        raise ValueError("h must be > 0")
    flat = x.reshape(-1)
    out = torch.empty(flat.numel(), dtype=D)
    for i in range(flat.numel()):
        xp = flat.clone()
        xm = flat.clone()
        xp[i] = xp[i] + h
        xm[i] = xm[i] - h
        fp = torch.as_tensor(f(xp.reshape(x.shape))).to(D)
        fm = torch.as_tensor(f(xm.reshape(x.shape))).to(D)
        out[i] = (fp - fm) / (2 * h)
    return out.to(x.dtype).reshape(x.shape)


def linear_regression_grads(X, y, w, b):
    Xd, yd, wd = _t("X", X), _t("y", y), _t("w", w)
    if X.dim() != 2 or tuple(y.shape) != (X.shape[0],) or tuple(w.shape) != (X.shape[1],):
        raise ValueError("shapes must be X (n, d), y (n,), w (d,)")
    if isinstance(b, torch.Tensor):
        if b.dim():
            raise ValueError("b must be a 0-dim tensor")
        bd = b.to(D)
    elif isinstance(b, (int, float)):
        bd = torch.tensor(float(b), dtype=D)
    else:
        raise TypeError("b must be a float or 0-dim tensor")
    r = Xd @ wd + bd - yd
    n = X.shape[0]
    return (Xd.T @ r / n).to(X.dtype), (r.sum() / n).to(X.dtype)


def linear_backward(dout, x, W, b):
    d, xd, Wd, _ = _t("dout", dout), _t("x", x), _t("W", W), _t("b", b)
    if W.dim() != 2 or x.dim() == 0 or x.shape[-1] != W.shape[1] or tuple(b.shape) != (W.shape[0],) \
            or tuple(dout.shape) != tuple(x.shape[:-1]) + (W.shape[0],):
        raise ValueError("shapes do not fit out = x @ W.T + b")
    dims = list(range(x.dim() - 1))
    dx = d @ Wd
    dW = torch.tensordot(d, xd, dims=(dims, dims)) if dims else torch.outer(d, xd)
    db = d.sum(dim=dims) if dims else d.clone()
    return dx.to(x.dtype), dW.to(x.dtype), db.to(x.dtype)


def _pair(dout, x):
    d, xd = _t("dout", dout), _t("x", x)
    if dout.shape != x.shape:
        raise ValueError("dout must have the shape of x")
    return d, xd


def relu_backward(dout, x):
    d, xd = _pair(dout, x)
    return (d * (xd > 0).to(D)).to(x.dtype)


def sigmoid_backward(dout, x):
    d, xd = _pair(dout, x)
    s = torch.sigmoid(xd)
    return (d * s * (1 - s)).to(x.dtype)


def tanh_backward(dout, x):
    d, xd = _pair(dout, x)
    t = torch.tanh(xd)
    return (d * (1 - t * t)).to(x.dtype)


def _targets(targets, n, c):
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.dtype == torch.bool:
        raise TypeError("targets must be an int64 tensor")
    if tuple(targets.shape) != (n,):
        raise ValueError("targets must be (N,)")
    if n and (targets.min() < 0 or targets.max() >= c):
        raise ValueError("targets out of range")


def softmax_cross_entropy_backward(logits, targets):
    L = _t("logits", logits)
    if logits.dim() != 2 or logits.shape[1] < 1:
        raise ValueError("logits must be (N, C)")
    n, c = logits.shape
    _targets(targets, n, c)
    p = torch.softmax(L, dim=1)
    p[torch.arange(n), targets] -= 1.0
    return (p / max(n, 1)).to(logits.dtype)


def mlp_backward(X, y, W1, b1, W2, b2):
    Xd, W1d, b1d, W2d, b2d = (_t(k, v) for k, v in (("X", X), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)))
    ok = X.dim() == 2 and W1.dim() == 2 and W2.dim() == 2 and W1.shape[1] == X.shape[1] \
        and tuple(b1.shape) == (W1.shape[0],) and W2.shape[1] == W1.shape[0] and tuple(b2.shape) == (W2.shape[0],) \
        and W2.shape[0] >= 1
    if not ok:
        raise ValueError("shapes of X, W1, b1, W2, b2 do not fit")
    _targets(y, X.shape[0], W2.shape[0])
    z1 = Xd @ W1d.T + b1d
    h = z1.clamp(min=0)
    z2 = h @ W2d.T + b2d
    n = X.shape[0]
    dz2 = torch.softmax(z2, dim=1)
    dz2[torch.arange(n), y] -= 1.0
    dz2 = dz2 / n
    dz1 = (dz2 @ W2d) * (z1 > 0)
    out = {"W1": dz1.T @ Xd, "b1": dz1.sum(0), "W2": dz2.T @ h, "b2": dz2.sum(0)}
    return {k: v.to(X.dtype) for k, v in out.items()}
