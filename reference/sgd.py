"""Reference implementation of the sgd exercise (trusted side: the judge).

``SGD`` is ``torch.optim.SGD`` itself (only the signature of the contract is put in front of it);
``minibatches`` shuffles with ``torch.randperm``; ``train_linear_regression`` takes every gradient
from ``torch.autograd.grad`` and every step from ``torch.optim.SGD``. Validation is written here so
that errors follow the contract (``ValueError`` where ``torch.optim.SGD`` raises one).
"""

from __future__ import annotations

import torch

__all__ = ["SGD", "minibatches", "train_linear_regression"]


class SGD(torch.optim.SGD):
    """``torch.optim.SGD`` with the contract's signature (``lr`` required, ``maximize`` positional)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        # torch.optim.SGD raises ValueError for a negative lr, momentum or weight decay and for
        # nesterov without momentum or with dampening, as the contract asks.
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                         foreach=False)


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    """Yield ``(X[idx], y[idx])`` for consecutive blocks ``idx`` of a (shuffled) index order."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(X) != len(y):
        raise ValueError(f"X and y hold different numbers of examples: {len(X)} and {len(y)}")
    n = len(X)
    if shuffle:
        order = torch.randperm(n, generator=generator, device=X.device)
    else:
        order = torch.arange(n, device=X.device)

    def batches():
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield X[idx], y[idx]

    return batches()


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    """Minibatch SGD (``torch.optim.SGD``, gradients by autograd) on ``mean 0.5 * (X @ w + b - y)**2``."""
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr, foreach=False)
    for _ in range(epochs):
        for X_batch, y_batch in minibatches(X, y, batch_size, shuffle=True, generator=generator):
            loss = (0.5 * (X_batch @ w + b - y_batch) ** 2).mean()
            w.grad, b.grad = torch.autograd.grad(loss, (w, b))
            optimizer.step()
    return w.detach().clone(), b.detach().clone()
