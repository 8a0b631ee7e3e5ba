"""Manual gradients: instructor solution.

Every gradient is written out by hand with the chain rule; no autograd anywhere in this file.

Variant: numerical_grad annotates f as types.FunctionType and its result as a tensor (an annotation makes no function).
"""

import math
import types
from numbers import Real

import torch


# --------------------------------------------------------------------------- validation helpers

def _is_number(v):
    return isinstance(v, Real) and not isinstance(v, bool)


def _check_tensor(name, v):
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if not v.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {v.dtype}")


def _check_shape(name, v, shape):
    if tuple(v.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(v.shape)}")


def _check_same_shape(dout, x):
    _check_tensor("dout", dout)
    _check_tensor("x", x)
    if dout.shape != x.shape:
        raise ValueError(f"dout has shape {tuple(dout.shape)} but x has shape {tuple(x.shape)}")


def _broadcast_shape(*shapes):
    """Broadcast shape by the usual rules (right-aligned; sizes equal, or one of them 1)."""
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            if len(s) < -i:
                continue
            k = s[i]
            if k == 1:
                continue
            if size != 1 and k != size:
                raise ValueError(f"shapes {[tuple(s) for s in shapes]} clash at dimension {i}")
            size = k
        result.append(size)
    return tuple(result)


def _check_targets(targets, n, c):
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if targets.dtype.is_floating_point or targets.dtype.is_complex or targets.dtype == torch.bool:
        raise TypeError(f"targets must be int64 class indices, got dtype {targets.dtype}")
    _check_shape("targets", targets, (n,))
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= c):
        raise ValueError(f"targets must lie in [0, {c})")


def _softmax_rows(z):
    """Numerically stable softmax over the last axis."""
    if z.shape[-1] == 0 or z.numel() == 0:
        return torch.zeros_like(z)
    z = z - z.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


# --------------------------------------------------------------------------- the exercise

def square_loss_grad(x, y, w):
    for name, v in (("x", x), ("y", y), ("w", w)):
        if not (isinstance(v, torch.Tensor) or _is_number(v)):
            raise TypeError(f"{name} must be a float or a tensor, got {type(v).__name__}")
    shapes = [tuple(v.shape) for v in (x, y, w) if isinstance(v, torch.Tensor)]
    if not shapes:
        x, y, w = float(x), float(y), float(w)
    else:
        _broadcast_shape(*shapes)
    return 2 * x * (x * w - y)


def numerical_grad(f: types.FunctionType, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    _check_tensor("x", x)
    if not _is_number(h) or not h > 0:
        raise ValueError(f"h must be a positive number, got {h!r}")
    grad = torch.empty(x.numel(), dtype=x.dtype)
    for i in range(x.numel()):
        xp = x.clone().reshape(-1)  # a fresh contiguous copy: x itself is never touched
        xm = xp.clone()
        xp[i] += h
        xm[i] -= h
        fp = f(xp.reshape(x.shape))
        fm = f(xm.reshape(x.shape))
        grad[i] = (fp - fm) / (2 * h)
    return grad.reshape(x.shape)


def linear_regression_grads(X, y, w, b):
    _check_tensor("X", X)
    _check_tensor("y", y)
    _check_tensor("w", w)
    if X.dim() != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {tuple(X.shape)}")
    n, d = X.shape
    _check_shape("y", y, (n,))
    _check_shape("w", w, (d,))
    if isinstance(b, torch.Tensor):
        if b.dim() != 0:
            raise ValueError(f"b must be a float or a 0-dim tensor, got shape {tuple(b.shape)}")
    elif not _is_number(b):
        raise TypeError(f"b must be a float or a 0-dim tensor, got {type(b).__name__}")
    r = X @ w + b - y            # residuals, (n,)
    dw = X.T @ r / n             # d/dw of mean 0.5 r^2
    db = r.sum() / n
    return dw, db.to(X.dtype)


def linear_backward(dout, x, W, b):
    for name, v in (("dout", dout), ("x", x), ("W", W), ("b", b)):
        _check_tensor(name, v)
    if W.dim() != 2:
        raise ValueError(f"W must be 2-D (out, in), got shape {tuple(W.shape)}")
    out_f, in_f = W.shape
    if x.dim() < 1 or x.shape[-1] != in_f:
        raise ValueError(f"x must have shape (..., {in_f}), got {tuple(x.shape)}")
    _check_shape("b", b, (out_f,))
    _check_shape("dout", dout, tuple(x.shape[:-1]) + (out_f,))
    m = math.prod(x.shape[:-1])  # number of rows once the leading dims are flattened
    x2 = x.reshape(m, in_f)
    d2 = dout.reshape(m, out_f)
    dx = dout @ W                # (..., in)
    dW = d2.T @ x2               # (out, in)
    db = d2.sum(dim=0)           # (out,)
    return dx, dW, db


def relu_backward(dout, x):
    _check_same_shape(dout, x)
    return torch.where(x > 0, dout, torch.zeros_like(dout))


def sigmoid_backward(dout, x):
    _check_same_shape(dout, x)
    s = torch.sigmoid(x)
    return dout * s * (1 - s)


def tanh_backward(dout, x):
    _check_same_shape(dout, x)
    t = torch.tanh(x)
    return dout * (1 - t * t)


def softmax_cross_entropy_backward(logits, targets):
    _check_tensor("logits", logits)
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D (N, C), got shape {tuple(logits.shape)}")
    n, c = logits.shape
    if c < 1:
        raise ValueError("logits must have at least one class")
    _check_targets(targets, n, c)
    grad = _softmax_rows(logits)
    grad[torch.arange(n), targets.long()] -= 1
    return grad / n


def mlp_backward(X, y, W1, b1, W2, b2):
    for name, v in (("X", X), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        _check_tensor(name, v)
    if X.dim() != 2:
        raise ValueError(f"X must be 2-D (N, d), got shape {tuple(X.shape)}")
    n, d = X.shape
    if W1.dim() != 2 or W1.shape[1] != d:
        raise ValueError(f"W1 must have shape (hidden, {d}), got {tuple(W1.shape)}")
    hdim = W1.shape[0]
    _check_shape("b1", b1, (hdim,))
    if W2.dim() != 2 or W2.shape[1] != hdim:
        raise ValueError(f"W2 must have shape (classes, {hdim}), got {tuple(W2.shape)}")
    c = W2.shape[0]
    if c < 1:
        raise ValueError("W2 must have at least one class (row)")
    _check_shape("b2", b2, (c,))
    _check_targets(y, n, c)

    # forward
    z1 = X @ W1.T + b1           # (N, H)
    a1 = torch.clamp(z1, min=0)  # relu
    z2 = a1 @ W2.T + b2          # (N, C)
    # backward
    dz2 = softmax_cross_entropy_backward(z2, y)
    dW2 = dz2.T @ a1
    db2 = dz2.sum(dim=0)
    da1 = dz2 @ W2
    dz1 = relu_backward(da1, z1)
    dW1 = dz1.T @ X
    db1 = dz1.sum(dim=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
