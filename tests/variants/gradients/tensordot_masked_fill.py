"""Variant (correct): tensordot over the leading dims, masked_fill, scatter and other rewrites.

square_loss_grad checks broadcasting by walking the shapes from the right with zip_longest and
returns a plain float for float inputs; numerical_grad steps every element at once through the rows
of h * I added to a flat copy of x, collecting into a buffer of x's dtype; linear_regression_grads
uses einsum and torch.as_tensor for b; linear_backward contracts the leading dims with tensordot;
relu uses masked_fill, sigmoid is 0.5 * (1 + tanh(x / 2)), tanh's derivative is (1 - t) * (1 + t);
the cross-entropy's one-hot rows are made with scatter; mlp_backward validates its class indices
with one boolean test and multiplies by the relu mask as a float tensor.
"""

import itertools

import torch


def _tensor(name, v):
    if not torch.is_tensor(v):
        raise TypeError(f"{name} should be a tensor, not {type(v).__name__}")
    if not v.dtype.is_floating_point:
        raise TypeError(f"{name} should be a floating-point tensor, not {v.dtype}")


def _shape(name, v, shape):
    if v.shape != torch.Size(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(v.shape)}")


def _classes(y, n, c):
    if not torch.is_tensor(y) or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise TypeError("class indices must be an integer tensor")
    _shape("targets", y, (n,))
    if n and bool(((y < 0) | (y >= c)).any()):
        raise ValueError(f"class indices must be between 0 and {c - 1}")


def square_loss_grad(x, y, w):
    shapes = []
    for name, v in (("x", x), ("y", y), ("w", w)):
        if torch.is_tensor(v):
            shapes.append(tuple(v.shape))
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{name} should be a float or a tensor")
    for sizes in itertools.zip_longest(*(reversed(s) for s in shapes), fillvalue=1):
        if len({k for k in sizes if k != 1}) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast together")
    if not shapes:
        x, y, w = float(x), float(y), float(w)
        return 2.0 * x * (x * w - y)
    return 2 * x * (x * w - y)


def numerical_grad(f, x, h=1e-5):
    if not callable(f):
        raise TypeError("f should be callable")
    _tensor("x", x)
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not h > 0:
        raise ValueError(f"h should be a positive number, got {h!r}")
    n = x.numel()
    flat = x.detach().reshape(n)
    steps = torch.diag(torch.full((n,), float(h), dtype=x.dtype))
    ups, downs = flat + steps, flat - steps        # row i is x with element i moved by +-h
    out = torch.empty(n, dtype=x.dtype)
    for i in range(n):
        out[i] = (f(ups[i].reshape(x.shape)) - f(downs[i].reshape(x.shape))) / (2 * h)
    return out.reshape(x.shape)


def linear_regression_grads(X, y, w, b):
    for name, v in (("X", X), ("y", y), ("w", w)):
        _tensor(name, v)
    if X.ndim != 2:
        raise ValueError("X should be (n, d)")
    n, d = X.shape
    _shape("y", y, (n,))
    _shape("w", w, (d,))
    if torch.is_tensor(b):
        if b.ndim:
            raise ValueError("b should be 0-dim")
    elif isinstance(b, bool) or not isinstance(b, (int, float)):
        raise TypeError("b should be a float or a 0-dim tensor")
    b = torch.as_tensor(b, dtype=X.dtype)
    r = torch.einsum("nd,d->n", X, w) + b - y
    return torch.einsum("nd,n->d", X, r) / n, r.mean() if n else r.sum()


def linear_backward(dout, x, W, b):
    for name, v in (("dout", dout), ("x", x), ("W", W), ("b", b)):
        _tensor(name, v)
    if W.ndim != 2:
        raise ValueError("W should be (out, in)")
    if x.ndim == 0 or x.shape[-1] != W.shape[1]:
        raise ValueError(f"x should be (..., {W.shape[1]})")
    _shape("b", b, (W.shape[0],))
    _shape("dout", dout, (*x.shape[:-1], W.shape[0]))
    lead = list(range(x.ndim - 1))
    dW = torch.tensordot(dout, x, dims=(lead, lead))          # (out, in); an outer product for 1-D x
    db = dout.sum(dim=lead) if lead else dout.clone()
    return torch.matmul(dout, W), dW, db


def _same(dout, x):
    _tensor("dout", dout)
    _tensor("x", x)
    if dout.shape != x.shape:
        raise ValueError("dout and x should have the same shape")


def relu_backward(dout, x):
    _same(dout, x)
    return dout.masked_fill(x <= 0, 0.0)


def sigmoid_backward(dout, x):
    _same(dout, x)
    s = 0.5 * (1 + torch.tanh(0.5 * x))
    return dout * s * (1 - s)


def tanh_backward(dout, x):
    _same(dout, x)
    t = torch.tanh(x)
    return dout * (1 - t) * (1 + t)


def softmax_cross_entropy_backward(logits, targets):
    _tensor("logits", logits)
    if logits.ndim != 2 or logits.shape[1] == 0:
        raise ValueError("logits should be (N, C) with C >= 1")
    n, c = logits.shape
    _classes(targets, n, c)
    p = torch.exp(logits - logits.amax(dim=1, keepdim=True)) if n else logits.clone()
    p = p / p.sum(dim=1, keepdim=True)
    onehot = torch.zeros_like(p).scatter_(1, targets.long().reshape(n, 1), 1.0)
    return (p - onehot) / n


def mlp_backward(X, y, W1, b1, W2, b2):
    for name, v in (("X", X), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        _tensor(name, v)
    if X.ndim != 2 or W1.ndim != 2 or W2.ndim != 2:
        raise ValueError("X, W1 and W2 should be matrices")
    n, d = X.shape
    if W1.shape[1] != d or W2.shape[1] != W1.shape[0] or W2.shape[0] == 0:
        raise ValueError("W1 should be (hidden, d) and W2 (classes, hidden)")
    _shape("b1", b1, (W1.shape[0],))
    _shape("b2", b2, (W2.shape[0],))
    _classes(y, n, W2.shape[0])
    z1 = torch.addmm(b1, X, W1.T)
    mask = (z1 > 0).to(z1.dtype)
    a1 = z1 * mask
    dz2 = softmax_cross_entropy_backward(torch.addmm(b2, a1, W2.T), y)
    dz1 = (dz2 @ W2) * mask
    return {"W1": dz1.T @ X, "b1": dz1.sum(0), "W2": dz2.T @ a1, "b2": dz2.sum(0)}
