"""Student: minibatches is D2L's concise `load_array` (section 3.3): a DataLoader over a
TensorDataset, shuffled with the given generator. SGD keeps its state in a dict keyed by id(p)."""
import torch
from torch.utils.data import DataLoader, TensorDataset


class SGD:
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.params = [p for p in params]
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov, self.maximize = weight_decay, nesterov, maximize
        self.state = {}

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad.neg() if self.maximize else p.grad
            if self.weight_decay != 0:
                g = g.add(p, alpha=self.weight_decay)
            if self.momentum != 0:
                buf = self.state.get(id(p))
                if buf is None:
                    buf = self.state[id(p)] = torch.clone(g).detach()
                else:
                    buf.mul_(self.momentum).add_(g, alpha=1 - self.dampening)
                g = g.add(buf, alpha=self.momentum) if self.nesterov else buf
            p.add_(g, alpha=-self.lr)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    """As D2L's load_array: a DataLoader yielding (X_batch, y_batch)."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if len(X) != len(y):
        raise ValueError("X and y must have the same number of examples")
    dataset = TensorDataset(X, y)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    opt = SGD([w, b], lr)
    for _ in range(epochs):
        for Xb, yb in minibatches(X, y, batch_size, generator=generator):
            loss = (0.5 * (Xb @ w + b - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.detach(), b.detach()
