"""Correct variant: per-parameter state in a dict keyed by id(p), updates through p.data,
minibatches built by python loops (rows gathered one by one with torch.stack), and
train_linear_regression with autograd (requires_grad + backward) and this file's SGD."""

import torch


class SGD:
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if value < 0:
                raise ValueError(f"{name} must be non-negative, got {value}")
        if nesterov and momentum <= 0:
            raise ValueError("nesterov needs momentum > 0")
        if nesterov and dampening != 0:
            raise ValueError("nesterov needs dampening == 0")
        self.params = [p for p in params]
        self.hyper = dict(lr=lr, momentum=momentum, dampening=dampening,
                          weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        self.state = {}

    def step(self):
        h = self.hyper
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad.detach()
            if h["maximize"]:
                g = g * -1
            if h["weight_decay"]:
                g = g + h["weight_decay"] * p.data
            if h["momentum"]:
                if id(p) not in self.state:
                    self.state[id(p)] = g.clone()
                else:
                    self.state[id(p)] = h["momentum"] * self.state[id(p)] + (1 - h["dampening"]) * g
                buf = self.state[id(p)]
                g = g + h["momentum"] * buf if h["nesterov"] else buf
            p.data = p.data - h["lr"] * g
        return None

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data.zero_()


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if X.shape[0] != y.shape[0]:
        raise ValueError("X and y must have the same length")
    n = X.shape[0]
    order = list(range(n))
    if shuffle:
        order = torch.randperm(n, generator=generator).tolist()
    batches = []
    i = 0
    while i < n:
        chunk = order[i:i + batch_size]
        batches.append((torch.stack([X[j] for j in chunk]), torch.stack([y[j] for j in chunk])))
        i += batch_size
    return iter(batches)


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    opt = SGD([w, b], lr=lr)
    for epoch in range(epochs):
        for Xb, yb in minibatches(X, y, batch_size, generator=generator):
            loss = 0.5 * ((Xb @ w + b - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.detach(), b.detach()
