"""Correct variant: minibatches is a plain generator function (its ValueError comes when
iteration starts, as the contract allows); SGD keeps params as a tuple, updates with p.sub_ and
folds maximize into the sign of the step; train_linear_regression takes gradients with
torch.autograd.grad and steps with this file's SGD."""

import torch


class SGD:
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if lr < 0.0 or momentum < 0.0 or weight_decay < 0.0:
            raise ValueError("lr, momentum and weight_decay must be >= 0")
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.params = tuple(params)
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.weight_decay, self.nesterov, self.maximize = float(weight_decay), nesterov, maximize
        self.buffers = {}

    def step(self):
        sign = -1.0 if self.maximize else 1.0
        with torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                d = sign * p.grad
                if self.weight_decay:
                    d = d + self.weight_decay * p
                if self.momentum:
                    if i in self.buffers:
                        self.buffers[i].mul_(self.momentum).add_((1 - self.dampening) * d)
                    else:
                        self.buffers[i] = torch.clone(d).detach()
                    d = d + self.momentum * self.buffers[i] if self.nesterov else self.buffers[i]
                p.sub_(self.lr * d)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None and set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if batch_size < 1:
        raise ValueError("batch_size < 1")
    if len(X) != len(y):
        raise ValueError("X and y differ in length")
    perm = torch.randperm(len(X), generator=generator) if shuffle else torch.arange(len(X))
    for start in range(0, len(X), batch_size):
        sel = perm[start:start + batch_size]
        yield X.index_select(0, sel), y.index_select(0, sel)


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    w = torch.zeros(X.shape[1], dtype=X.dtype).requires_grad_()
    b = torch.tensor(0.0, dtype=X.dtype).requires_grad_()
    opt = SGD((q for q in (w, b)), lr)
    for _ in range(epochs):
        for Xb, yb in minibatches(X, y, batch_size, generator=generator):
            loss = torch.mean(0.5 * torch.square(torch.matmul(Xb, w) + b - yb))
            w.grad, b.grad = torch.autograd.grad(loss, [w, b])
            opt.step()
    return w.detach().clone(), b.detach().clone()
