"""Exercise: stochastic gradient descent (after *Dive into Deep Learning*: linear regression from
scratch in chapter 3; SGD, minibatch SGD and momentum in chapter 12).

You will write, by hand:

* ``SGD``: an optimizer with the same update rule as ``torch.optim.SGD`` (momentum, dampening,
  weight decay, Nesterov momentum, maximize), updating parameters in place;
* ``minibatches``: the book's ``data_iter``, yielding shuffled (or ordered) minibatches;
* ``train_linear_regression``: the book's linear regression from scratch, trained with minibatch SGD.

What it teaches: what an optimizer step really does to a tensor, why the momentum buffer is
state kept per parameter, and how minibatches and epochs fit together.

Forbidden: ``torch.optim`` (anything under it) in this file. Using it in a function scores 0 for
that function. Autograd (``requires_grad``, ``backward``) is allowed, as are ``torch.randperm``
and any other tensor function.

Conventions: inputs may be float32 or float64, contiguous or not (transposed, sliced); results
keep the input dtype; inputs are never modified, except the parameters that ``SGD.step`` updates.
"""

from __future__ import annotations

import torch


class SGD:
    """Stochastic gradient descent, with the update rule of ``torch.optim.SGD``.

    Args:
        params: any iterable of tensors (a list, a tuple, or a generator such as
            ``model.parameters()``, which can be iterated only once). Usually leaves with
            ``requires_grad=True``, but plain tensors whose ``.grad`` was set by hand work too.
        lr (float): learning rate, ``>= 0``.
        momentum (float): momentum factor ``>= 0`` (0 means no momentum).
        dampening (float): dampening for momentum.
        weight_decay (float): L2 penalty ``>= 0``, added to the gradient as ``weight_decay * p``.
        nesterov (bool): use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize (bool): maximize the objective (step along ``+grad``) instead of minimizing it.

    Raises:
        ValueError: before anything else, if ``lr``, ``momentum`` or ``weight_decay`` is negative,
            or if ``nesterov`` is True with ``momentum <= 0`` or ``dampening != 0``
            (exactly where ``torch.optim.SGD`` raises).

    ``step()`` updates every parameter *in place* (the same tensor object, so the caller sees the
    new values), using its ``.grad``; a parameter whose ``.grad`` is None is skipped entirely
    (no weight decay, no momentum buffer). For each parameter ``p`` with gradient ``g``::

        g = -g if maximize else g
        g = g + weight_decay * p                   # if weight_decay != 0
        if momentum != 0:
            buf = clone(g)                         # first step of this parameter
            buf = momentum * buf + (1 - dampening) * g   # later steps (buf kept per parameter)
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g                             # in place

    ``step()`` must not change ``p.grad``. Any number of steps gives the same parameters as
    ``torch.optim.SGD`` with the same arguments and gradients (within floating-point tolerance).
    Hint: update leaves under ``torch.no_grad()``.

    ``zero_grad(set_to_none=True)`` sets every ``.grad`` to None; with ``set_to_none=False`` it
    fills each existing ``.grad`` with zeros instead (a ``.grad`` that is None stays None).

    Example:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = torch.tensor([1.0, -1.0])
        >>> opt.step()            # buffer = grad
        >>> w
        tensor([0.9000, 2.1000], requires_grad=True)
        >>> opt.step()            # buffer = 0.9 * buffer + grad = [1.9, -1.9]
        >>> w
        tensor([0.7100, 2.2900], requires_grad=True)
        >>> opt.zero_grad(); print(w.grad)
        None
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        raise NotImplementedError("SGD.__init__: your code here")

    def step(self):
        """Update every parameter that has a ``.grad``, in place. Returns None."""
        raise NotImplementedError("SGD.step: your code here")

    def zero_grad(self, set_to_none=True):
        """Set every ``.grad`` to None (or, with ``set_to_none=False``, to zeros). Returns None."""
        raise NotImplementedError("SGD.zero_grad: your code here")


def minibatches(X, y, batch_size, shuffle=True, generator=None):
    """Yield ``(X_batch, y_batch)`` pairs that cover the data once (one pass, or "epoch").

    Args:
        X: tensor (n, ...) of examples, any dtype; ``X[i]`` is example ``i``.
        y: tensor (n, ...) of labels (for instance (n,) float or int64); ``y[i]`` goes with ``X[i]``.
        batch_size (int): examples per batch, ``>= 1``. Every batch has exactly ``batch_size``
            examples except perhaps the last, which holds what is left (never an empty batch;
            ``n == 0`` yields nothing).
        shuffle (bool): visit the examples in a random order; ``False`` keeps the order
            ``0, 1, ..., n - 1``.
        generator (torch.Generator or None): the source of randomness for the shuffle, e.g.
            ``torch.randperm(n, generator=generator)``, so that the same seed gives the same order.

    Yields:
        ``(X_batch, y_batch)`` tuples: ``X_batch`` (k, ...) and ``y_batch`` (k, ...) with the dtypes
        of ``X`` and ``y``, row ``j`` of ``X_batch`` paired with row ``j`` of ``y_batch``.
        ``X`` and ``y`` are not modified.

    Raises:
        ValueError: if ``batch_size < 1`` or ``len(X) != len(y)`` (it may be raised when the
            iteration starts, if you write a generator function).
        TypeError: if ``batch_size`` is not an int (e.g. ``2.5``).

    Example:
        >>> X = torch.arange(10.0).reshape(5, 2); y = torch.arange(5)
        >>> [yb.tolist() for _, yb in minibatches(X, y, 2, shuffle=False)]
        [[0, 1], [2, 3], [4]]
        >>> next(iter(minibatches(X, y, 2, shuffle=False)))
        (tensor([[0., 1.],
                [2., 3.]]), tensor([0, 1]))
    """
    raise NotImplementedError("minibatches: your code here")


def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):
    """Fit ``y ~ X @ w + b`` by minibatch SGD, as in the book's linear regression from scratch.

    Start from ``w = 0`` (shape (d,)) and ``b = 0`` (0-dim). For each of ``epochs`` passes, for each
    ``(X_batch, y_batch)`` of ``minibatches(X, y, batch_size, generator=generator)`` (shuffled),
    take one SGD step of size ``lr`` on the batch loss

        ``mean over the batch of 0.5 * (X_batch @ w + b - y_batch) ** 2``

    (a mean, so a smaller last batch is averaged over its own size). Compute the gradients by hand
    or with autograd; use your ``SGD`` or a plain update, but not ``torch.optim``.

    Args:
        X: tensor (n, d), float32 or float64. y: tensor (n,) of the same dtype.
        lr (float), epochs (int, 0 allowed: returns zeros), batch_size (int),
        generator (torch.Generator or None): passed on to the shuffling.

    Returns:
        ``(w, b)``: ``w`` a tensor (d,) and ``b`` a 0-dim tensor, both of ``X``'s dtype, plain
        values (``requires_grad`` does not matter). ``X`` and ``y`` are not modified.
        On low-noise linear data they land near the least-squares answer.

    Example:
        >>> X = torch.tensor([[1.0], [2.0]]); y = torch.tensor([1.0, 3.0])
        >>> train_linear_regression(X, y, lr=0.1, epochs=1, batch_size=2)
        (tensor([0.3500]), tensor(0.2000))
        >>> # one full batch: errors -1, -3; dw = mean(err * x) = -3.5; db = mean(err) = -2
    """
    raise NotImplementedError("train_linear_regression: your code here")
