"""Variant (correct): other allowed functions.

torch.broadcast_shapes for the shape check, torch.eye one-hot rows built with x + h * e_i,
einsum for dW, F.one_hot and F.softmax for the cross-entropy, 1 / cosh(x) ** 2 for tanh,
a stable two-branch sigmoid, relu as a multiplication by the mask, F.relu in the forward pass.
Errors are found by catching PyTorch's own RuntimeError and re-raising it as ValueError.
"""

import torch
import torch.nn.functional as F


def _need(cond, msg, exc=ValueError):
    if not cond:
        raise exc(msg)


def _float(name, v):
    _need(isinstance(v, torch.Tensor) and v.is_floating_point(), f"{name} must be a float tensor", TypeError)


def square_loss_grad(x, y, w):
    for v in (x, y, w):
        _need(isinstance(v, (torch.Tensor, float, int)) and not isinstance(v, bool), "bad argument type", TypeError)
    shapes = [v.shape for v in (x, y, w) if isinstance(v, torch.Tensor)]
    if shapes:
        try:
            torch.broadcast_shapes(*shapes)
        except RuntimeError as e:
            raise ValueError(str(e)) from None
    residual = x * w - y
    return 2 * x * residual


def numerical_grad(f, x, h=1e-5):
    _need(callable(f), "f must be callable", TypeError)
    _float("x", x)
    _need(h > 0, "h must be > 0")
    n = x.numel()
    E = torch.eye(n, dtype=x.dtype)
    grads = []
    for i in range(n):
        e = E[i].reshape(x.shape)
        grads.append((f(x + h * e) - f(x - h * e)) / (2 * h))
    return torch.stack([torch.as_tensor(g, dtype=x.dtype) for g in grads]).reshape(x.shape) if n \
        else torch.zeros_like(x)


def linear_regression_grads(X, y, w, b):
    _float("X", X); _float("y", y); _float("w", w)
    _need(X.dim() == 2 and y.dim() == 1 and w.dim() == 1 and len(y) == len(X) and len(w) == X.shape[1],
          "shapes must be X (n, d), y (n,), w (d,)")
    _need(isinstance(b, (int, float, torch.Tensor)), "b must be a number or tensor", TypeError)
    _need(not isinstance(b, torch.Tensor) or b.dim() == 0, "b must be 0-dim")
    r = torch.addmv(-y + b, X, w)
    return torch.einsum("nd,n->d", X, r) / len(X), r.mean()


def linear_backward(dout, x, W, b):
    for k, v in (("dout", dout), ("x", x), ("W", W), ("b", b)):
        _float(k, v)
    _need(W.dim() == 2 and b.shape == W.shape[:1], "W must be (out, in) and b (out,)")
    _need(x.dim() >= 1 and x.shape[-1] == W.shape[1] and dout.shape == x.shape[:-1] + W.shape[:1],
          "x must be (..., in) and dout (..., out)")
    dx = torch.matmul(dout, W)
    dW = torch.einsum("...o,...i->oi", dout, x)
    db = dout.reshape(-1, W.shape[0]).sum(0) if dout.numel() else torch.zeros_like(b)
    return dx, dW, db


def _same(dout, x):
    _float("dout", dout); _float("x", x)
    _need(dout.shape == x.shape, "dout and x must have the same shape")


def relu_backward(dout, x):
    _same(dout, x)
    return dout * (x > 0).to(dout.dtype)


def sigmoid_backward(dout, x):
    _same(dout, x)
    z = torch.exp(-x.abs())                      # never overflows
    s = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return dout * s * (1 - s)


def tanh_backward(dout, x):
    _same(dout, x)
    return dout / torch.cosh(x) ** 2             # cosh overflows to inf: 1 / inf = 0, fine


def _ce_checks(logits, targets):
    _float("logits", logits)
    _need(isinstance(targets, torch.Tensor), "targets must be a tensor", TypeError)
    _need(targets.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8),
          "targets must be integer class indices", TypeError)
    _need(logits.dim() == 2 and logits.shape[1] > 0, "logits must be (N, C)")
    _need(targets.shape == logits.shape[:1], "targets must be (N,)")
    _need(bool(((targets >= 0) & (targets < logits.shape[1])).all()), "targets outside [0, C)")


def softmax_cross_entropy_backward(logits, targets):
    _ce_checks(logits, targets)
    onehot = F.one_hot(targets.long(), logits.shape[1]).to(logits.dtype)
    return (F.softmax(logits, dim=1) - onehot) / max(len(logits), 1)


def mlp_backward(X, y, W1, b1, W2, b2):
    try:
        z1 = F.linear(X, W1, b1)
        z2 = F.linear(F.relu(z1), W2, b2)
    except RuntimeError as e:
        raise ValueError(f"the shapes do not fit together: {e}") from None
    for k, v in (("W1", W1), ("W2", W2)):
        _need(v.dim() == 2, f"{k} must be 2-D")
    _need(b1.shape == W1.shape[:1] and b2.shape == W2.shape[:1] and X.dim() == 2, "bias shapes")
    _ce_checks(z2, y)
    dz2 = softmax_cross_entropy_backward(z2, y)
    g = {"W2": dz2.T @ F.relu(z1), "b2": dz2.sum(0)}
    dz1 = relu_backward(dz2 @ W2, z1)
    g["W1"] = dz1.T @ X
    g["b1"] = dz1.sum(0)
    return g
