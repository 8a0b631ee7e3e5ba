"""Student: minibatches returns a re-iterable batch object (each `for` over it is one pass in a
fresh order drawn from the generator, like a DataLoader); SGD with __slots__ and a tuple of
buffers; train_linear_regression with hand-written gradients and a plain update."""
import torch


class SGD:
    __slots__ = ("params", "lr", "momentum", "dampening", "weight_decay", "nesterov",
                 "maximize", "buffers")

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        problems = []
        if lr < 0.0:
            problems.append(f"lr={lr} < 0")
        if momentum < 0.0:
            problems.append(f"momentum={momentum} < 0")
        if weight_decay < 0.0:
            problems.append(f"weight_decay={weight_decay} < 0")
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            problems.append("nesterov needs momentum > 0 and dampening == 0")
        if problems:
            raise ValueError("; ".join(problems))
        self.params = tuple(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov, self.maximize = weight_decay, nesterov, maximize
        self.buffers = [None] * len(self.params)

    def step(self):
        with torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                d = p.grad.clone()
                if self.maximize:
                    d.neg_()
                if self.weight_decay:
                    d.add_(p, alpha=self.weight_decay)
                if self.momentum:
                    if self.buffers[i] is None:
                        self.buffers[i] = d.clone()
                    else:
                        self.buffers[i].mul_(self.momentum).add_(d, alpha=1.0 - self.dampening)
                    if self.nesterov:
                        d.add_(self.buffers[i], alpha=self.momentum)
                    else:
                        d = self.buffers[i]
                p.sub_(self.lr * d)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.copy_(torch.zeros_like(p.grad))


class _Batches:
    """One object, iterated once per epoch; len() is the number of batches."""

    def __init__(self, X, y, batch_size, shuffle, generator):
        self.X, self.y, self.batch_size = X, y, batch_size
        self.shuffle, self.generator = shuffle, generator

    def __len__(self):
        return (len(self.X) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.X)
        order = (torch.randperm(n, generator=self.generator) if self.shuffle
                 else torch.arange(n))
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx], self.y[idx]


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if len(X) != len(y):
        raise ValueError("len(X) != len(y)")
    return _Batches(X, y, batch_size, shuffle, generator)


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    w = X.new_zeros(X.shape[1])
    b = X.new_zeros(())
    batches = minibatches(X, y, batch_size, generator=generator)
    for _ in range(epochs):
        for Xb, yb in batches:
            r = Xb @ w + b - yb
            w = w - lr * (Xb.T @ r) / len(yb)
            b = b - lr * r.mean()
    return w, b
