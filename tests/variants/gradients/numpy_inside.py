"""Variant: the arithmetic is done in NumPy on the tensors' arrays (tensor.numpy() handles
strides), results converted back with torch.from_numpy (same dtype). NumPy is not autograd."""

from numbers import Real

import numpy as np
import torch


def _arr(name, v):
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(v).__name__}")
    if not v.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")
    return v.detach().cpu().numpy()


def _back(a):
    return torch.from_numpy(np.array(a, copy=True, order="C"))


def _same(dout, x):
    a, b = _arr("dout", dout), _arr("x", x)
    if a.shape != b.shape:
        raise ValueError(f"dout {a.shape} and x {b.shape} differ")
    return a, b


def square_loss_grad(x, y, w):
    for name, v in (("x", x), ("y", y), ("w", w)):
        if isinstance(v, bool) or not isinstance(v, (Real, torch.Tensor)):
            raise TypeError(f"{name} must be a float or a tensor")
    shapes = [tuple(v.shape) for v in (x, y, w) if isinstance(v, torch.Tensor)]
    if not shapes:
        return float(2 * x * (x * w - y))
    n = max(len(s) for s in shapes)
    for k in range(1, n + 1):
        if len({s[-k] for s in shapes if len(s) >= k} - {1}) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
    return 2 * x * (x * w - y)


def numerical_grad(f, x, h=1e-5):
    if not callable(f):
        raise TypeError("f must be callable")
    a = _arr("x", x)
    if isinstance(h, bool) or not isinstance(h, Real) or not h > 0:
        raise ValueError("h must be positive")
    grad = np.zeros(a.shape, dtype=a.dtype)
    for idx in np.ndindex(*a.shape):
        p, m = a.copy(), a.copy()
        p[idx] = float(a[idx]) + h
        m[idx] = float(a[idx]) - h
        fp = f(torch.from_numpy(p))
        fm = f(torch.from_numpy(m))
        grad[idx] = (float(fp) - float(fm)) / (2 * h)
    return _back(grad)


def linear_regression_grads(X, y, w, b):
    Xa, ya, wa = _arr("X", X), _arr("y", y), _arr("w", w)
    if Xa.ndim != 2:
        raise ValueError("X must be 2-D")
    n, d = Xa.shape
    if ya.shape != (n,) or wa.shape != (d,):
        raise ValueError("y must be (n,) and w (d,)")
    if isinstance(b, torch.Tensor):
        if b.dim() != 0:
            raise ValueError("b must be 0-dim")
        bv = b.detach().cpu().numpy().astype(Xa.dtype)
    elif isinstance(b, bool) or not isinstance(b, Real):
        raise TypeError("b must be a number or a 0-dim tensor")
    else:
        bv = Xa.dtype.type(b)
    r = Xa @ wa + bv - ya
    return _back(Xa.T @ r / Xa.dtype.type(n)), _back(np.asarray(r.sum() / Xa.dtype.type(n), dtype=Xa.dtype))


def linear_backward(dout, x, W, b):
    da, xa, Wa, ba = _arr("dout", dout), _arr("x", x), _arr("W", W), _arr("b", b)
    if Wa.ndim != 2:
        raise ValueError("W must be 2-D")
    o, i = Wa.shape
    if xa.ndim < 1 or xa.shape[-1] != i:
        raise ValueError("x must be (..., in)")
    if ba.shape != (o,) or da.shape != xa.shape[:-1] + (o,):
        raise ValueError("b or dout has the wrong shape")
    dx = da @ Wa
    m = int(np.prod(xa.shape[:-1], dtype=np.int64))
    d2, x2 = da.reshape(m, o), xa.reshape(m, i)
    dW = np.einsum("mo,mi->oi", d2, x2)
    db = d2.sum(axis=0)
    return _back(dx), _back(dW.astype(xa.dtype)), _back(db)


def relu_backward(dout, x):
    a, b = _same(dout, x)
    return _back(np.where(b > 0, a, np.zeros_like(a)))


def sigmoid_backward(dout, x):
    a, b = _same(dout, x)
    e = np.exp(-np.abs(b))                        # never overflows
    s = np.where(b >= 0, 1 / (1 + e), e / (1 + e)).astype(b.dtype)
    return _back(a * s * (1 - s))


def tanh_backward(dout, x):
    a, b = _same(dout, x)
    t = np.tanh(b)
    return _back(a * (1 - t * t))


def _labels(t, n, c):
    if not isinstance(t, torch.Tensor):
        raise TypeError("targets must be a tensor")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError("targets must be integers")
    ta = t.numpy()
    if ta.shape != (n,):
        raise ValueError(f"targets must be ({n},)")
    if n and (ta.min() < 0 or ta.max() >= c):
        raise ValueError(f"targets must be in [0, {c})")
    return ta.astype(np.int64)


def _ce_grad(z, ta):
    n = z.shape[0]
    if n == 0:
        return np.zeros_like(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(n), ta] -= 1
    return p / z.dtype.type(n)


def softmax_cross_entropy_backward(logits, targets):
    z = _arr("logits", logits)
    if z.ndim != 2:
        raise ValueError("logits must be (N, C)")
    n, c = z.shape
    if c < 1:
        raise ValueError("need at least one class")
    ta = _labels(targets, n, c)
    return _back(_ce_grad(z, ta))


def mlp_backward(X, y, W1, b1, W2, b2):
    Xa, W1a, b1a, W2a, b2a = (_arr(k, v) for k, v in (("X", X), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)))
    if Xa.ndim != 2 or W1a.ndim != 2 or W2a.ndim != 2:
        raise ValueError("X, W1, W2 must be 2-D")
    n, d = Xa.shape
    hd, c = W1a.shape[0], W2a.shape[0]
    if W1a.shape[1] != d or b1a.shape != (hd,) or W2a.shape[1] != hd or b2a.shape != (c,) or c < 1:
        raise ValueError("the shapes do not fit together")
    ya = _labels(y, n, c)
    z1 = Xa @ W1a.T + b1a
    a1 = np.maximum(z1, 0)
    dz2 = _ce_grad(a1 @ W2a.T + b2a, ya)
    dz1 = (dz2 @ W2a) * (z1 > 0)
    return {"W1": _back(dz1.T @ Xa), "b1": _back(dz1.sum(0)), "W2": _back(dz2.T @ a1), "b2": _back(dz2.sum(0))}
