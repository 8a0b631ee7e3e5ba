"""Public tests for the ``gradients`` exercise: run them with ``autograder check``.

Expected values come from PyTorch's autograd, here on the grader's side (your file must not use
autograd; these tests may). The hidden suite checks more cases: float32 and float64, transposed
and sliced inputs, empty shapes, extreme values and errors.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder.testing import expect_close, expect_equal, expect_raises, expect_unchanged

pytestmark = pytest.mark.exercise("gradients")


def _autograd(fn, *inputs, grad_output=None):
    """Gradients of fn(*inputs) (summed against grad_output) w.r.t. every input, by autograd."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    if grad_output is not None:
        out = (out * grad_output).sum()
    return torch.autograd.grad(out, leaves)


@pytest.mark.points(1)
@pytest.mark.covers("square_loss_grad")
def test_square_loss_grad(student):
    """square_loss_grad: 2 * x * (x * w - y) for floats and broadcast tensors"""
    got = student.gradients.square_loss_grad(1.5, 2.0, 3.0)
    if isinstance(got, torch.Tensor):
        got = got.item()
    expect_close(got, 7.5, call=("square_loss_grad", (1.5, 2.0, 3.0)),
                 hint="the chain rule gives 2 * x * (x * w - y): don't forget the factor 2 or the sign")
    x = torch.tensor([[1.0], [2.0]])
    y = torch.tensor([0.5, -1.0, 2.0])
    w = torch.tensor([3.0, 0.0, -1.0])
    got = student.gradients.square_loss_grad(x, y, w)
    expect_close(got, 2 * x * (x * w - y), call=("square_loss_grad", (x, y, w)),
                 hint="use elementwise operations, so broadcasting gives a (2, 3) result")


@pytest.mark.points(1)
@pytest.mark.covers("numerical_grad")
def test_numerical_grad_matches_autograd(student):
    """numerical_grad agrees with the exact gradient of ||x - a|| and leaves x unchanged"""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 4, generator=g, dtype=torch.float64)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64).T       # not contiguous
    f = student.tensor(a).dist.ref()   # f(t) = a.dist(t), made in your worker
    call = ("numerical_grad", ("f = lambda t: a.dist(t)", x))
    res = student.gradients.numerical_grad.detailed(f, x)
    expect_unchanged(x, res.args[1], call=call, what="x",
                     hint="perturb a copy of x (x.clone()), never x itself")
    (want,) = _autograd(lambda t: a.dist(t), x)
    expect_close(res.value, want, call=call,
                 hint="central difference (f(x + h e_i) - f(x - h e_i)) / (2h) for every element; "
                      "for a non-contiguous x, x.reshape(-1) is a copy, so write into a contiguous clone")


@pytest.mark.points(1)
@pytest.mark.covers("linear_regression_grads")
def test_linear_regression_grads(student):
    """linear_regression_grads matches autograd on the mean half squared error"""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(6, 3, generator=g)
    y = torch.randn(6, generator=g)
    w = torch.randn(3, generator=g)
    b = torch.tensor(0.5)
    call = ("linear_regression_grads", (X, y, w, b))
    got = student.gradients.linear_regression_grads(X, y, w, b)
    expect_equal(isinstance(got, tuple) and len(got), 2, call=call, what="number of results (a tuple (dw, db))")
    dw, db = _autograd(lambda w, b: (0.5 * (X @ w + b - y) ** 2).mean(), w, b)
    expect_close(got[0], dw, call=call, what="dw", hint="dw = X.T @ r / n with r = X @ w + b - y")
    expect_close(got[1], db, call=call, what="db", hint="db = r.mean(), a 0-dim tensor")


@pytest.mark.points(1)
@pytest.mark.covers("linear_backward")
def test_linear_backward_3d(student):
    """linear_backward handles x with two leading dims (batch, time, in)"""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 4, generator=g)
    W = torch.randn(5, 4, generator=g)
    b = torch.randn(5, generator=g)
    dout = torch.randn(2, 3, 5, generator=g)
    call = ("linear_backward", (dout, x, W, b))
    got = student.gradients.linear_backward(dout, x, W, b)
    expect_equal(isinstance(got, tuple) and len(got), 3, call=call, what="number of results (a tuple (dx, dW, db))")
    want = _autograd(lambda x, W, b: x @ W.T + b, x, W, b, grad_output=dout)
    for name, got_t, want_t in zip(("dx", "dW", "db"), got, want):
        expect_close(got_t, want_t, call=call, what=name,
                     hint="dW and db sum over every leading dim: flatten them to (rows, features) first")


@pytest.mark.points(1)
@pytest.mark.covers("relu_backward", "sigmoid_backward", "tanh_backward")
def test_activation_backwards(student):
    """relu, sigmoid and tanh backward match autograd (x = 0 and |x| = 1e4 included)"""
    x = torch.tensor([-1e4, -3.0, -0.5, 0.0, 0.5, 3.0, 1e4])
    dout = torch.tensor([1.0, -2.0, 0.5, 3.0, 1.5, -1.0, 2.0])
    for name, fn in (("relu_backward", torch.relu), ("sigmoid_backward", torch.sigmoid),
                     ("tanh_backward", torch.tanh)):
        call = (name, (dout, x))
        res = getattr(student.gradients, name).detailed(dout, x)
        expect_unchanged(dout, res.args[0], call=call, what="dout",
                         hint="build a new tensor (torch.where, or dout * mask) instead of editing dout")
        (want,) = _autograd(fn, x, grad_output=dout)
        expect_close(res.value, want, call=call,
                     hint={"relu_backward": "the gradient is 0 where x <= 0, at x == 0 too",
                           "sigmoid_backward": "use s = torch.sigmoid(x): exp(-x) overflows for x = -1e4",
                           "tanh_backward": "1 - torch.tanh(x) ** 2 is finite everywhere"}[name])


@pytest.mark.points(1)
@pytest.mark.covers("softmax_cross_entropy_backward")
def test_softmax_cross_entropy_backward(student):
    """softmax_cross_entropy_backward matches autograd through F.cross_entropy, large logits too"""
    g = torch.Generator().manual_seed(3)
    for scale, offset in ((1.0, 0.0), (3.0, 500.0)):
        logits = torch.randn(5, 4, generator=g, dtype=torch.float64) * scale + offset
        targets = torch.tensor([0, 3, 1, 1, 2])
        call = ("softmax_cross_entropy_backward", (logits, targets))
        got = student.gradients.softmax_cross_entropy_backward(logits, targets)
        (want,) = _autograd(lambda z: F.cross_entropy(z, targets), logits)
        expect_close(got, want, call=call,
                     hint="(softmax(logits) - onehot) / N, softmax over dim 1 after subtracting the row max")


@pytest.mark.points(1)
@pytest.mark.covers("mlp_backward")
def test_mlp_backward(student):
    """mlp_backward returns {W1, b1, W2, b2} equal to autograd's gradients"""
    g = torch.Generator().manual_seed(4)
    X = torch.randn(6, 3, generator=g)
    y = torch.tensor([0, 1, 3, 2, 1, 0])
    W1, b1 = torch.randn(5, 3, generator=g), torch.randn(5, generator=g)
    W2, b2 = torch.randn(4, 5, generator=g), torch.randn(4, generator=g)
    call = ("mlp_backward", (X, y, W1, b1, W2, b2))
    got = student.gradients.mlp_backward(X, y, W1, b1, W2, b2)
    expect_equal(isinstance(got, dict) and sorted(got), ["W1", "W2", "b1", "b2"], call=call,
                 what="keys of the returned dict", hint='return {"W1": ..., "b1": ..., "W2": ..., "b2": ...}')
    want = _autograd(lambda W1, b1, W2, b2: F.cross_entropy(torch.relu(X @ W1.T + b1) @ W2.T + b2, y),
                     W1, b1, W2, b2)
    for k, w in zip(("W1", "b1", "W2", "b2"), want):
        expect_close(got[k], w, call=call, what=f"gradient of {k}",
                     hint="backward layer by layer: dO = softmax_cross_entropy_backward, "
                          "dW2 = dO.T @ H, dH = dO @ W2, dZ = dH * (Z > 0), dW1 = dZ.T @ X")


@pytest.mark.points(1)
@pytest.mark.covers("relu_backward", "linear_backward")
def test_shape_errors(student):
    """mismatched shapes raise ValueError"""
    expect_raises(ValueError, student.gradients.relu_backward, torch.ones(1, 3), torch.ones(2, 3),
                  call=("relu_backward", (torch.ones(1, 3), torch.ones(2, 3))),
                  hint="check dout.shape == x.shape first: broadcasting would hide the mistake")
    args = (torch.ones(4, 5), torch.ones(4, 3), torch.ones(5, 2), torch.ones(5))
    expect_raises(ValueError, student.gradients.linear_backward, *args, call=("linear_backward", args),
                  hint="check that x.shape[-1] equals W.shape[1] before computing anything")
