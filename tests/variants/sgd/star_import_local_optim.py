# Student: the solution with `from torch import *`; train_linear_regression names its own SGD instance `optim`.
"""Stochastic gradient descent, written by hand (solution).

No ``torch.optim`` here: the update rule of ``torch.optim.SGD`` is spelled out, parameter by
parameter, under ``torch.no_grad()`` so that leaves with ``requires_grad=True`` can be updated in
place.
"""

from __future__ import annotations

import torch
from torch import *
from builtins import abs, all, any, bool, float, int, max, min, range, round, sum  # torch.* shadows these


class SGD:
    """Minibatch SGD with momentum, dampening, weight decay, Nesterov momentum and maximize."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum} (must be >= 0)")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay} (must be >= 0)")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")
        self.params = list(params)  # a generator can only be iterated once
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.maximize = maximize
        self.momentum_buffers = [None] * len(self.params)

    @torch.no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d_p = -p.grad if self.maximize else p.grad
            if self.weight_decay != 0:
                d_p = d_p + self.weight_decay * p
            if self.momentum != 0:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = d_p.clone()
                    self.momentum_buffers[i] = buf
                else:
                    buf.mul_(self.momentum).add_(d_p, alpha=1 - self.dampening)
                d_p = d_p + self.momentum * buf if self.nesterov else buf
            p.add_(d_p, alpha=-self.lr)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)}")
    n = len(X)
    indices = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)

    def batches():
        for start in range(0, n, batch_size):
            idx = indices[start:start + batch_size]
            yield X[idx], y[idx]

    return batches()


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    b = torch.zeros((), dtype=X.dtype)
    optim = SGD([w, b], lr)          # my own SGD class
    for _ in range(epochs):
        for X_batch, y_batch in minibatches(X, y, batch_size, generator=generator):
            err = X_batch @ w + b - y_batch          # d loss / d prediction, times batch size
            w.grad = X_batch.T @ err / len(y_batch)
            b.grad = err.mean()
            optim.step()
    return w, b
