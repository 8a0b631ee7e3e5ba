"""Correct variant: SGD keeps its momentum buffers in float64 and computes every update in
float64, copying the result back into the parameter (same object, original dtype);
train_linear_regression trains in float64 and casts w and b back at the end."""

import torch


class SGD:
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not momentum >= 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.params = list(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov, self.maximize = weight_decay, nesterov, maximize
        self.bufs = [None for _ in self.params]

    def step(self):
        with torch.no_grad():
            for k, p in enumerate(self.params):
                if p.grad is None:
                    continue
                p64 = p.double()
                g = p.grad.double()
                if self.maximize:
                    g = -g
                g = g + self.weight_decay * p64
                if self.momentum > 0:
                    if self.bufs[k] is None:
                        self.bufs[k] = g.clone()
                    else:
                        self.bufs[k] = self.momentum * self.bufs[k] + (1.0 - self.dampening) * g
                    if self.nesterov:
                        g = g + self.momentum * self.bufs[k]
                    else:
                        g = self.bufs[k]
                p.copy_((p64 - self.lr * g).to(p.dtype))

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if batch_size < 1 or len(X) != len(y):
        raise ValueError(f"bad arguments: batch_size={batch_size}, len(X)={len(X)}, len(y)={len(y)}")
    n = len(X)
    idx = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return ((X[idx[s:s + batch_size]], y[idx[s:s + batch_size]]) for s in range(0, n, batch_size))


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    X64, y64 = X.double(), y.double()
    w = torch.zeros(X.shape[1], dtype=torch.float64)
    b = torch.zeros((), dtype=torch.float64)
    for _ in range(epochs):
        for Xb, yb in minibatches(X64, y64, batch_size, generator=generator):
            r = Xb @ w + b - yb
            w = w - lr * (r @ Xb) / r.numel()
            b = b - lr * r.sum() / r.numel()
    return w.to(X.dtype), b.to(X.dtype)
