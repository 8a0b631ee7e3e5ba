"""Correct variant: SGD keeps its hyper-parameters in a ``defaults`` dict and its per-parameter
state in a list of dicts (as torch.optim does), computes each direction and momentum buffer out
of place and updates with ``p.sub_``; zero_grad(set_to_none=False) uses fill_(0.0); minibatches
splits a permutation with ``Tensor.split`` (which gives one empty chunk for n = 0, skipped) and
returns a generator expression (the checks run at once); train_linear_regression trains one
augmented parameter vector theta = [w, b] against [X, 1] and splits it at the end."""

import torch


class SGD:
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        self.defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                             nesterov=nesterov, maximize=maximize)
        for key in ("lr", "momentum", "weight_decay"):
            if self.defaults[key] < 0:
                raise ValueError(f"{key} must be >= 0, got {self.defaults[key]}")
        if nesterov and not (momentum > 0 and dampening == 0):
            raise ValueError("nesterov needs a positive momentum and no dampening")
        self.params = [p for p in params]
        self.state = [{} for _ in self.params]

    def step(self):
        o = self.defaults
        with torch.no_grad():
            for p, state in zip(self.params, self.state):
                if p.grad is None:
                    continue
                g = p.grad.neg() if o["maximize"] else p.grad.clone()
                if o["weight_decay"]:
                    g = g + o["weight_decay"] * p
                if o["momentum"]:
                    if "buf" in state:
                        state["buf"] = o["momentum"] * state["buf"] + (1 - o["dampening"]) * g
                    else:
                        state["buf"] = g.clone()
                    g = g + o["momentum"] * state["buf"] if o["nesterov"] else state["buf"]
                p.sub_(o["lr"] * g)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.fill_(0.0)


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if batch_size < 1:
        raise ValueError("batch_size must be a positive integer")
    if X.shape[0] != y.shape[0]:
        raise ValueError("X and y must have the same number of rows")
    n = X.shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return ((X[idx], y[idx]) for idx in order.split(batch_size) if len(idx))


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    n, d = X.shape
    A = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1)
    theta = torch.zeros(d + 1, dtype=X.dtype)
    for _ in range(epochs):
        for Ab, yb in minibatches(A, y, batch_size, generator=generator):
            theta = theta - lr * (Ab.T @ (Ab @ theta - yb)) / len(yb)
    return theta[:d].clone(), theta[d].clone()
