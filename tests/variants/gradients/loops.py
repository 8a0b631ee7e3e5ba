"""Variant (correct): plain Python loops over rows and elements, little vectorisation.

Validation is written inline; numerical_grad walks multi-indices with itertools.product on a
contiguous copy; every backward pass is built row by row.
"""

import itertools
import math

import torch


def _bad_tensor(name, v):
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor")
    if not v.is_floating_point():
        raise TypeError(f"{name} must be floating point")


def square_loss_grad(x, y, w):
    shapes = []
    for v in (x, y, w):
        if isinstance(v, torch.Tensor):
            shapes.append(list(v.shape))
        elif not isinstance(v, (int, float)) or isinstance(v, bool):
            raise TypeError("x, y and w must be numbers or tensors")
    # broadcasting check, one dimension at a time from the right
    ndim = max((len(s) for s in shapes), default=0)
    for k in range(1, ndim + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast (dimension -{k})")
    return 2 * x * (x * w - y)


def numerical_grad(f, x, h=1e-5):
    if not callable(f):
        raise TypeError("f must be callable")
    _bad_tensor("x", x)
    if not h > 0:
        raise ValueError("h must be positive")
    work = x.contiguous().clone()
    grad = torch.zeros_like(work)
    for idx in itertools.product(*[range(n) for n in x.shape]):
        old = work[idx].item()
        work[idx] = old + h
        fp = float(f(work.clone()))
        work[idx] = old - h
        fm = float(f(work.clone()))
        work[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def linear_regression_grads(X, y, w, b):
    for name, v in (("X", X), ("y", y), ("w", w)):
        _bad_tensor(name, v)
    if X.dim() != 2 or y.shape != (X.shape[0],) or w.shape != (X.shape[1],):
        raise ValueError("need X (n, d), y (n,), w (d,)")
    if isinstance(b, torch.Tensor):
        if b.dim() != 0:
            raise ValueError("b must be 0-dim")
        b = b.item()
    elif not isinstance(b, (int, float)):
        raise TypeError("b must be a number")
    n, d = X.shape
    dw = torch.zeros(d, dtype=X.dtype)
    db = torch.zeros((), dtype=X.dtype)
    for i in range(n):
        r = X[i] @ w + b - y[i]
        dw += r * X[i]
        db += r
    return dw / n, db / n


def linear_backward(dout, x, W, b):
    for name, v in (("dout", dout), ("x", x), ("W", W), ("b", b)):
        _bad_tensor(name, v)
    if W.dim() != 2 or x.dim() < 1 or x.shape[-1] != W.shape[1] or b.shape != (W.shape[0],) \
            or dout.shape != x.shape[:-1] + (W.shape[0],):
        raise ValueError("shapes of dout, x, W and b do not fit out = x @ W.T + b")
    out_f, in_f = W.shape
    rows = math.prod(x.shape[:-1])
    xr = x.reshape(rows, in_f)
    dr = dout.reshape(rows, out_f)
    dx = torch.zeros(rows, in_f, dtype=x.dtype)
    dW = torch.zeros(out_f, in_f, dtype=x.dtype)
    db = torch.zeros(out_f, dtype=x.dtype)
    for i in range(rows):
        dx[i] = dr[i] @ W
        dW += torch.outer(dr[i], xr[i])
        db += dr[i]
    return dx.reshape(x.shape), dW, db


def _same(dout, x):
    _bad_tensor("dout", dout)
    _bad_tensor("x", x)
    if dout.shape != x.shape:
        raise ValueError("dout and x must have the same shape")


def relu_backward(dout, x):
    _same(dout, x)
    out = dout.clone()
    out[x <= 0] = 0
    return out


def sigmoid_backward(dout, x):
    _same(dout, x)
    s = torch.sigmoid(x)
    return dout * s * (1 - s)


def tanh_backward(dout, x):
    _same(dout, x)
    return dout * (1 - torch.tanh(x) ** 2)


def _check_ce(logits, targets):
    _bad_tensor("logits", logits)
    if not isinstance(targets, torch.Tensor):
        raise TypeError("targets must be a tensor")
    if targets.is_floating_point():
        raise TypeError("targets must be integer class indices")
    if logits.dim() != 2 or logits.shape[1] == 0 or targets.shape != (logits.shape[0],):
        raise ValueError("need logits (N, C) and targets (N,)")
    for t in targets.tolist():
        if not 0 <= t < logits.shape[1]:
            raise ValueError(f"target {t} outside [0, {logits.shape[1]})")


def softmax_cross_entropy_backward(logits, targets):
    _check_ce(logits, targets)
    n, c = logits.shape
    grad = torch.zeros(n, c, dtype=logits.dtype)
    for i in range(n):
        row = logits[i]
        e = torch.exp(row - row.max())
        grad[i] = e / e.sum()
        grad[i, int(targets[i])] -= 1
    return grad / n if n else grad


def mlp_backward(X, y, W1, b1, W2, b2):
    for name, v in (("X", X), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        _bad_tensor(name, v)
    if X.dim() != 2 or W1.dim() != 2 or W2.dim() != 2 or W1.shape[1] != X.shape[1] \
            or b1.shape != (W1.shape[0],) or W2.shape[1] != W1.shape[0] or b2.shape != (W2.shape[0],):
        raise ValueError("the shapes of X, W1, b1, W2, b2 do not fit together")
    _check_ce(torch.zeros(X.shape[0], W2.shape[0], dtype=X.dtype), y)
    z1 = X @ W1.T + b1
    h = torch.where(z1 > 0, z1, torch.zeros_like(z1))
    z2 = h @ W2.T + b2
    dz2 = softmax_cross_entropy_backward(z2, y)
    dh = dz2 @ W2
    dz1 = relu_backward(dh, z1)
    return {"W1": dz1.T @ X, "b1": dz1.sum(0), "W2": dz2.T @ h, "b2": dz2.sum(0)}
