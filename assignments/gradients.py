"""Exercise: manual gradients (after *Dive into Deep Learning*, sections 2.4-2.5, 3.1, 4.1 and 5.3).

You will compute, by hand and with the chain rule, the gradients that autograd usually gives you:

* ``square_loss_grad``: the derivative of a one-parameter squared error;
* ``numerical_grad``: a central-difference gradient, the tool for checking every other gradient;
* ``linear_regression_grads``: the gradients of the book's linear-regression loss;
* ``linear_backward``: backpropagation through a fully connected layer ``x @ W.T + b``;
* ``relu_backward``, ``sigmoid_backward``, ``tanh_backward``: backpropagation through activations;
* ``softmax_cross_entropy_backward``: the famous ``(softmax - onehot) / N``;
* ``mlp_backward``: backpropagation through a whole two-layer network (the book's section 5.3).

What it teaches: what ``loss.backward()`` actually computes, why a gradient has the shape of the
thing it differentiates, how an upstream gradient ``dout`` flows through each layer, and how to
compute softmax without overflowing.

Forbidden in this file (every function): autograd in any form: ``Tensor.backward``,
``torch.autograd`` (``torch.autograd.grad`` included), ``torch.func``, ``torch.nn.grad``, a tensor's
``grad_fn``, turning ``requires_grad`` on (``requires_grad=True``, ``x.requires_grad = True``,
``requires_grad_()``), ``torch.enable_grad``, ``torch.set_grad_enabled`` (and ``torch._C``).
Reading ``x.requires_grad`` is fine.
Using one in a function scores 0 for that function. Everything else is allowed: ``torch.exp``,
``torch.sigmoid``, ``torch.tanh``, ``torch.softmax``, ``torch.logsumexp``, matrix products ...
Use autograd freely in your own notebook to *check* your answers, just not in this file.

Conventions (as in every exercise):

* Inputs may be float32 or float64, contiguous or not (transposed, sliced). Results keep the
  input dtype and are new tensors.
* Inputs are never modified in place (watch out for ``dout[x <= 0] = 0``!).
* Invalid arguments (shapes that do not fit together, targets outside ``[0, C)``) raise
  ``ValueError`` (``TypeError`` for a wrong type) with a message saying what was wrong, before
  any work is done.
"""

from __future__ import annotations

import torch


def square_loss_grad(x, y, w):
    """Derivative with respect to ``w`` of the squared error ``(x * w - y) ** 2``.

    By the chain rule, ``d/dw (x * w - y) ** 2 = 2 * x * (x * w - y)``.

    Args:
        x, y, w: Python floats or tensors (any mix). Tensors are combined elementwise with the
            usual broadcasting rules.

    Returns:
        ``2 * x * (x * w - y)``: a Python float when all three are floats, otherwise a new
        tensor with the broadcast shape of the inputs and their dtype (float32 stays float32).

    Raises:
        ValueError: if the tensor shapes do not broadcast together.
        TypeError: if an argument is neither a number nor a tensor.

    Example:
        >>> square_loss_grad(1.5, 2.0, 3.0)          # 2 * 1.5 * (4.5 - 2.0)
        7.5
        >>> square_loss_grad(torch.tensor([1.0, 2.0]), 1.0, torch.tensor([[0.0], [1.0]]))
        tensor([[-2., -4.],
                [ 0.,  4.]])
    """
    raise NotImplementedError("square_loss_grad: compute 2 * x * (x * w - y)")


def numerical_grad(f, x, h=1e-5):
    """Central-difference gradient of a scalar-valued function ``f`` at the tensor ``x``.

    For every element ``i`` of ``x`` (in any order)::

        grad[i] = (f(x + h * e_i) - f(x - h * e_i)) / (2 * h)

    where ``e_i`` is 1 at position ``i`` and 0 elsewhere.

    Args:
        f: a callable taking a tensor shaped like ``x`` (same dtype) and returning a scalar
            (a 0-dim tensor or a Python number). Call it with tensors of ``x``'s dtype.
        x (Tensor): float32 or float64, any shape (0-dim and empty included), maybe
            non-contiguous.
        h (float): the step, ``> 0``.

    Returns:
        Tensor: a new tensor with the shape and dtype of ``x``.

    ``x`` must be unchanged afterwards, bit for bit. Perturbing ``x`` in place and "undoing" the
    step with ``x[i] -= h`` does not restore it exactly in floating point: work on a copy. Beware
    too that ``x.reshape(-1)`` is a *copy* when ``x`` is not contiguous, so writing into it does
    not perturb ``x``.

    Raises:
        TypeError: if ``f`` is not callable or ``x`` is not a floating-point tensor.
        ValueError: if ``h <= 0``.

    Example:
        >>> numerical_grad(lambda t: (t ** 2).sum(), torch.tensor([1.0, -2.0], dtype=torch.float64))
        tensor([ 2., -4.], dtype=torch.float64)     # up to ~1e-10
    """
    raise NotImplementedError("numerical_grad: perturb each element by +h and -h")


def linear_regression_grads(X, y, w, b):
    """Gradients of the linear-regression loss ``L = mean_i 0.5 * (X[i] @ w + b - y[i]) ** 2``.

    With the residuals ``r = X @ w + b - y``: ``dL/dw = X.T @ r / n`` and ``dL/db = mean(r)``.

    Args:
        X (Tensor): (n, d), n >= 1.
        y (Tensor): (n,).
        w (Tensor): (d,).
        b: a Python float or a 0-dim tensor.

    Returns:
        tuple ``(dw, db)``: ``dw`` of shape (d,), ``db`` a 0-dim tensor, both of ``X``'s dtype.

    Raises:
        ValueError: if ``X`` is not 2-D, ``y`` is not (n,), ``w`` is not (d,) or ``b`` is a
            tensor that is not 0-dim.
        TypeError: if ``b`` is neither a number nor a tensor.

    Example:
        >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]]); y = torch.tensor([1.0, 1.0])
        >>> linear_regression_grads(X, y, torch.tensor([1.0, 1.0]), 0.0)   # r = [0, 1]
        (tensor([0., 1.]), tensor(0.5000))
    """
    raise NotImplementedError("linear_regression_grads: return (X.T @ r / n, mean(r))")


def linear_backward(dout, x, W, b):
    """Backward pass of a fully connected layer ``out = x @ W.T + b``.

    Args:
        dout (Tensor): (..., out), the gradient of the loss with respect to ``out``.
        x (Tensor): (..., in), with any number of leading dims (none, one, several; sizes of
            0 included).
        W (Tensor): (out, in).
        b (Tensor): (out,).

    Returns:
        tuple ``(dx, dW, db)`` of new tensors shaped like ``x``, ``W`` and ``b``:
        ``dx = dout @ W``; ``dW`` and ``db`` sum over *every* leading dim
        (``dW = sum over rows of dout_row^T x_row``, ``db = dout`` summed over the leading dims).

    Raises:
        ValueError: if ``W`` is not 2-D, ``x.shape[-1] != in``, ``b`` is not (out,) or
            ``dout`` is not ``x.shape[:-1] + (out,)``.

    Example:
        >>> x = torch.tensor([[1.0, 2.0]]); W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> dx, dW, db = linear_backward(torch.tensor([[1.0, 0.0, 2.0]]), x, W, torch.zeros(3))
        >>> dx, dW, db
        (tensor([[3., 2.]]), tensor([[1., 2.], [0., 0.], [2., 4.]]), tensor([1., 0., 2.]))
    """
    raise NotImplementedError("linear_backward: dx = dout @ W; dW, db sum over the batch")


def relu_backward(dout, x):
    """Gradient of ``relu(x)`` with respect to ``x``, given the upstream gradient ``dout``.

    ``dx = dout`` where ``x > 0`` and ``0`` where ``x <= 0`` (at exactly 0 the gradient is 0,
    as in PyTorch).

    Args:
        dout (Tensor): same shape as ``x``.
        x (Tensor): the input of the ReLU, any shape.

    Returns:
        Tensor: a new tensor shaped like ``x`` (``dout`` itself must not be modified).

    Raises:
        ValueError: if ``dout.shape != x.shape``.

    Example:
        >>> relu_backward(torch.tensor([5.0, 5.0, 5.0]), torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 5.])
    """
    raise NotImplementedError("relu_backward: pass dout where x > 0")


def sigmoid_backward(dout, x):
    """Gradient of ``sigmoid(x)`` with respect to ``x``, given ``dout``.

    ``dx = dout * s * (1 - s)`` with ``s = sigmoid(x)``. It must be finite for every finite
    ``x``, even ``|x| = 1e4`` in float32 (``exp(-x)`` overflows there: compute ``s`` stably).

    Args:
        dout (Tensor): same shape as ``x``.
        x (Tensor): the input of the sigmoid, any shape.

    Returns:
        Tensor: a new tensor shaped like ``x``, same dtype.

    Raises:
        ValueError: if ``dout.shape != x.shape``.

    Example:
        >>> sigmoid_backward(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]))
        tensor([0.2500, 0.5000])
    """
    raise NotImplementedError("sigmoid_backward: dout * s * (1 - s)")


def tanh_backward(dout, x):
    """Gradient of ``tanh(x)`` with respect to ``x``, given ``dout``.

    ``dx = dout * (1 - tanh(x) ** 2)``; finite for every finite ``x``.

    Args:
        dout (Tensor): same shape as ``x``.
        x (Tensor): the input of the tanh, any shape.

    Returns:
        Tensor: a new tensor shaped like ``x``, same dtype.

    Raises:
        ValueError: if ``dout.shape != x.shape``.

    Example:
        >>> tanh_backward(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 100.0]))
        tensor([1., 0.])
    """
    raise NotImplementedError("tanh_backward: dout * (1 - tanh(x) ** 2)")


def softmax_cross_entropy_backward(logits, targets):
    """Gradient with respect to ``logits`` of the *mean* cross-entropy
    ``F.cross_entropy(logits, targets)``.

    ``dlogits = (softmax(logits) - onehot(targets)) / N``, softmax over the classes (dim 1).
    It must stay finite for large logits (e.g. every logit near 1000 or -1000): subtract the
    row maximum before ``exp``.

    Args:
        logits (Tensor): (N, C), float32 or float64; N may be 0.
        targets (Tensor): (N,), int64 class indices in ``[0, C)``.

    Returns:
        Tensor: a new (N, C) tensor, dtype of ``logits``.

    Raises:
        ValueError: if ``logits`` is not 2-D, ``targets`` is not (N,), or a target is outside
            ``[0, C)``.
        TypeError: if ``targets`` is not an integer tensor.

    Example:
        >>> softmax_cross_entropy_backward(torch.zeros(2, 2), torch.tensor([0, 1]))
        tensor([[-0.2500,  0.2500],
                [ 0.2500, -0.2500]])
    """
    raise NotImplementedError("softmax_cross_entropy_backward: (softmax - onehot) / N")


def mlp_backward(X, y, W1, b1, W2, b2):
    """Gradients of a two-layer network's mean cross-entropy loss::

        H = relu(X @ W1.T + b1)            # (N, hidden)
        O = H @ W2.T + b2                  # (N, C)
        L = cross_entropy(O, y)            # mean over the N examples

    Args:
        X (Tensor): (N, d).
        y (Tensor): (N,), int64 class indices in ``[0, C)``.
        W1 (Tensor): (hidden, d).  b1 (Tensor): (hidden,).
        W2 (Tensor): (C, hidden).  b2 (Tensor): (C,).

    Returns:
        dict: exactly the keys ``"W1"``, ``"b1"``, ``"W2"``, ``"b2"``, each the gradient of ``L``
        with respect to that parameter (same shape and dtype as the parameter). ReLU's gradient
        is 0 where its input is ``<= 0``, exactly 0 included.

    Raises:
        ValueError: if the shapes do not fit together (as listed above) or a label is outside
            ``[0, C)``.
        TypeError: if ``y`` is not an integer tensor.

    Example:
        >>> X = torch.tensor([[1.0, 2.0]]); y = torch.tensor([0])
        >>> W1 = torch.tensor([[1.0, 0.0]]); b1 = torch.zeros(1)
        >>> W2 = torch.tensor([[1.0], [0.0]]); b2 = torch.zeros(2)
        >>> g = mlp_backward(X, y, W1, b1, W2, b2)   # H = [[1.]], O = [[1., 0.]]
        >>> g["b2"]                                   # softmax([1, 0]) - [1, 0]
        tensor([-0.2689,  0.2689])
        >>> g["W1"]
        tensor([[-0.2689, -0.5379]])
    """
    raise NotImplementedError("mlp_backward: forward, then backward layer by layer")
