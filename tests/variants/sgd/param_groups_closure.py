"""Variant (red team, round of false failures): torch-like SGD. Accepts param groups too (dicts with
"params", as torch.optim does; plain iterables of tensors as the contract asks), step(closure=None)
returns the closure's loss, the update runs under @torch.inference_mode(); buffers kept in
self.state keyed by the tensor itself (tensors hash by identity); dampening applied with torch.lerp-
free arithmetic via Tensor.add_(alpha=...); zero_grad(set_to_none=False) uses torch.zero_ on the
grad. minibatches draws the order with torch.multinomial(ones, n) (sampling without replacement = a
shuffle); training uses autograd (requires_grad leaves, loss.backward()) and this SGD."""
import torch


class SGD:
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                             weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        self.param_groups = []
        plain = []
        for item in params:
            if isinstance(item, dict):
                group = dict(self.defaults)
                group.update(item)
                group["params"] = list(group["params"])
                self.param_groups.append(group)
            else:
                plain.append(item)
        if plain:
            self.param_groups.insert(0, dict(self.defaults, params=plain))
        self.state = {}

    @torch.inference_mode()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mom, damp = group["lr"], group["momentum"], group["dampening"]
            wd, nest, maxi = group["weight_decay"], group["nesterov"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad if not maxi else -p.grad
                if wd != 0:
                    d_p = d_p.add(p, alpha=wd)
                if mom != 0:
                    st = self.state.setdefault(p, {})
                    if "momentum_buffer" not in st:
                        st["momentum_buffer"] = torch.clone(d_p)
                    else:
                        st["momentum_buffer"].mul_(mom).add_(d_p, alpha=1 - damp)
                    buf = st["momentum_buffer"]
                    d_p = d_p.add(buf, alpha=mom) if nest else buf
                p.add_(d_p, alpha=-lr)
        return loss

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    torch.zero_(p.grad)


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    if not isinstance(batch_size, int) or isinstance(batch_size, bool):
        raise TypeError(f"batch_size must be an int, not {type(batch_size).__name__}")
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    n = X.size(0) if X.dim() else 0
    if n != y.size(0):
        raise ValueError(f"{n} examples in X but {y.size(0)} labels in y")
    if shuffle and n > 0:
        order = torch.multinomial(torch.ones(n), n, replacement=False, generator=generator)
    else:
        order = torch.arange(n)
    batches = []
    for lo in range(0, n, batch_size):
        sel = order[lo:lo + batch_size]
        batches.append((X[sel], y[sel]))
    return iter(batches)


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    opt = SGD([{"params": [w, b]}], lr=lr)
    for _ in range(epochs):
        for Xb, yb in minibatches(X, y, batch_size, generator=generator):
            opt.zero_grad()
            loss = (0.5 * (Xb @ w + b - yb) ** 2).mean()
            loss.backward()
            opt.step()
    return w.detach(), b.detach()
