"""Correct variant: minibatches returns a list built with torch.split over an order drawn as
torch.rand(n, generator=g).argsort(); SGD written out of place (p.copy_) with the buffer as a
new tensor each step and zero_grad(set_to_none=False) assigning fresh zeros; train_linear_regression
with hand-written gradients and plain updates (no optimizer object)."""

import torch


class SGD:
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if lr < 0:
            raise ValueError("lr < 0")
        if momentum < 0:
            raise ValueError("momentum < 0")
        if weight_decay < 0:
            raise ValueError("weight_decay < 0")
        if nesterov and not (momentum > 0 and dampening == 0):
            raise ValueError("nesterov requires momentum > 0 and dampening == 0")
        self.groups = [{"param": p, "buf": None} for p in params]
        self.cfg = (lr, momentum, dampening, weight_decay, nesterov, maximize)

    @torch.no_grad()
    def step(self):
        lr, mom, damp, wd, nest, maxi = self.cfg
        for grp in self.groups:
            p = grp["param"]
            if p.grad is None:
                continue
            d = torch.neg(p.grad) if maxi else p.grad
            if wd != 0:
                d = torch.add(d, p, alpha=wd)
            if mom != 0:
                grp["buf"] = d.clone() if grp["buf"] is None else torch.add(
                    grp["buf"] * mom, d, alpha=1 - damp)
                d = torch.add(d, grp["buf"], alpha=mom) if nest else grp["buf"]
            p.copy_(p - lr * d)

    def zero_grad(self, set_to_none=True):
        for grp in self.groups:
            p = grp["param"]
            if p.grad is not None:
                p.grad = None if set_to_none else torch.zeros_like(p.grad)


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if not batch_size >= 1:
        raise ValueError("batch_size must be at least 1")
    if len(X) != len(y):
        raise ValueError("len(X) != len(y)")
    n = len(X)
    if shuffle:
        order = torch.rand(n, generator=generator).argsort()
    else:
        order = torch.arange(n)
    # torch.split of an empty order gives one empty chunk: no data, no batch
    return [(X.index_select(0, chunk), y.index_select(0, chunk))
            for chunk in torch.split(order, batch_size) if len(chunk)]


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    n, d = X.shape
    w = X.new_zeros(d)
    b = X.new_zeros(())
    for _ in range(epochs):
        for Xb, yb in minibatches(X, y, batch_size, True, generator):
            resid = torch.mv(Xb, w) + b - yb
            grad_w = (Xb * resid[:, None]).mean(dim=0)
            grad_b = resid.mean()
            w = w - lr * grad_w
            b = b - lr * grad_b
    return w, b
