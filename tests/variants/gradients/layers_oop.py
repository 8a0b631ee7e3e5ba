"""Variant (CS231n style): small layer classes with forward/backward methods that cache what
the backward pass needs; mlp_backward chains Linear -> ReLU -> Linear -> SoftmaxCrossEntropy
objects. The methods are the student's own `backward`, not Tensor.backward. Other functions
reuse the layers."""

import math
from numbers import Real

import torch


def _tensor(name, v):
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(v).__name__}")
    if not v.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")


def _same(dout, x):
    _tensor("dout", dout)
    _tensor("x", x)
    if dout.shape != x.shape:
        raise ValueError(f"dout {tuple(dout.shape)} and x {tuple(x.shape)} differ in shape")


def _labels(y, n, c):
    if not isinstance(y, torch.Tensor):
        raise TypeError("labels must be a tensor")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError("labels must be integers")
    if tuple(y.shape) != (n,):
        raise ValueError(f"labels must have shape ({n},)")
    if n and (int(y.min()) < 0 or int(y.max()) >= c):
        raise ValueError(f"labels must be in [0, {c})")


class Linear:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dout):
        m = math.prod(self.x.shape[:-1])
        x2 = self.x.reshape(m, self.W.shape[1])
        d2 = dout.reshape(m, self.W.shape[0])
        self.dW = d2.T @ x2
        self.db = d2.sum(0)
        return dout @ self.W


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class Sigmoid:
    def forward(self, x):
        self.s = torch.sigmoid(x)
        return self.s

    def backward(self, dout):
        return dout * self.s * (1 - self.s)


class Tanh:
    def forward(self, x):
        self.t = torch.tanh(x)
        return self.t

    def backward(self, dout):
        return dout * (1 - self.t ** 2)


class SoftmaxCrossEntropy:
    def forward(self, logits, y):
        z = logits - logits.amax(dim=1, keepdim=True) if logits.numel() else logits
        self.p = torch.exp(z)
        self.p = self.p / self.p.sum(dim=1, keepdim=True)
        self.y = y
        return None

    def backward(self):
        n = self.p.shape[0]
        g = self.p.clone()
        g[torch.arange(n), self.y] -= 1
        return g / n


def square_loss_grad(x, y, w):
    for name, v in (("x", x), ("y", y), ("w", w)):
        if isinstance(v, bool) or not isinstance(v, (Real, torch.Tensor)):
            raise TypeError(f"{name} must be a number or a tensor")
    tensors = [v for v in (x, y, w) if isinstance(v, torch.Tensor)]
    if not tensors:
        return float(2 * x * (x * w - y))
    try:
        shape = torch.zeros(tensors[0].shape, device="meta")
        for t in tensors[1:]:
            shape = shape + torch.zeros(t.shape, device="meta")
    except RuntimeError as e:
        raise ValueError(f"shapes do not broadcast: {e}") from None
    return 2 * x * (x * w - y)


def numerical_grad(f, x, h=1e-5):
    if not callable(f):
        raise TypeError("f must be callable")
    _tensor("x", x)
    if isinstance(h, bool) or not isinstance(h, Real) or h <= 0:
        raise ValueError("h must be a positive number")
    base = x.detach().clone().contiguous()
    grad = torch.zeros(base.numel(), dtype=x.dtype)
    for i in range(base.numel()):
        plus, minus = base.clone(), base.clone()
        plus.view(-1)[i] += h
        minus.view(-1)[i] -= h
        grad[i] = (f(plus) - f(minus)) / (2 * h)
    return grad.view(x.shape)


def linear_regression_grads(X, y, w, b):
    for name, v in (("X", X), ("y", y), ("w", w)):
        _tensor(name, v)
    if X.dim() != 2:
        raise ValueError("X must be 2-D")
    n, d = X.shape
    if tuple(y.shape) != (n,) or tuple(w.shape) != (d,):
        raise ValueError("y must be (n,) and w (d,)")
    if isinstance(b, torch.Tensor):
        if b.dim() != 0:
            raise ValueError("b must be 0-dim")
    elif isinstance(b, bool) or not isinstance(b, Real):
        raise TypeError("b must be a number or a 0-dim tensor")
    layer = Linear(w.reshape(1, d), torch.as_tensor(b, dtype=X.dtype).reshape(1))
    pred = layer.forward(X).reshape(n)
    layer.backward(((pred - y) / n).reshape(n, 1))
    return layer.dW.reshape(d), layer.db.reshape(())


def linear_backward(dout, x, W, b):
    for name, v in (("dout", dout), ("x", x), ("W", W), ("b", b)):
        _tensor(name, v)
    if W.dim() != 2:
        raise ValueError("W must be 2-D")
    o, i = W.shape
    if x.dim() < 1 or x.shape[-1] != i:
        raise ValueError("x must end with the input size")
    if tuple(b.shape) != (o,):
        raise ValueError("b must be (out,)")
    if tuple(dout.shape) != tuple(x.shape[:-1]) + (o,):
        raise ValueError("dout has the wrong shape")
    layer = Linear(W, b)
    layer.x = x
    dx = layer.backward(dout)
    return dx, layer.dW, layer.db


def relu_backward(dout, x):
    _same(dout, x)
    r = ReLU()
    r.forward(x)
    return r.backward(dout)


def sigmoid_backward(dout, x):
    _same(dout, x)
    s = Sigmoid()
    s.forward(x)
    return s.backward(dout)


def tanh_backward(dout, x):
    _same(dout, x)
    t = Tanh()
    t.forward(x)
    return t.backward(dout)


def softmax_cross_entropy_backward(logits, targets):
    _tensor("logits", logits)
    if logits.dim() != 2:
        raise ValueError("logits must be (N, C)")
    n, c = logits.shape
    if c < 1:
        raise ValueError("need at least one class")
    _labels(targets, n, c)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, targets.long())
    return loss.backward()


def mlp_backward(X, y, W1, b1, W2, b2):
    for name, v in (("X", X), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        _tensor(name, v)
    if X.dim() != 2 or W1.dim() != 2 or W2.dim() != 2:
        raise ValueError("X, W1 and W2 must be 2-D")
    n, d = X.shape
    hdim = W1.shape[0]
    c = W2.shape[0]
    if W1.shape[1] != d or tuple(b1.shape) != (hdim,) or W2.shape[1] != hdim or tuple(b2.shape) != (c,) or c < 1:
        raise ValueError("the parameter shapes do not fit together")
    _labels(y, n, c)
    l1, act, l2, loss = Linear(W1, b1), ReLU(), Linear(W2, b2), SoftmaxCrossEntropy()
    loss.forward(l2.forward(act.forward(l1.forward(X))), y.long())
    l1.backward(act.backward(l2.backward(loss.backward())))
    return {"W1": l1.dW, "b1": l1.db, "W2": l2.dW, "b2": l2.db}
