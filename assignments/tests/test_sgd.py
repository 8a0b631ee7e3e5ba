"""Public tests of the sgd exercise: run them with `autograder check`.

Expected values come from PyTorch itself (torch.optim.SGD, autograd). Passing these does not
guarantee full marks: the graded suite tries more options, more steps, float64, non-contiguous
tensors and the edge cases described in the docstrings of sgd.py.
"""

from __future__ import annotations

import pytest
import torch

from autograder.testing import expect_close, expect_equal, expect_raises, expect_unchanged

pytestmark = pytest.mark.exercise("sgd")


def _torch_sgd(params, grads_per_step, **kwargs):
    """Run torch.optim.SGD on copies of ``params``; returns the parameters after every step."""
    local = [p.clone().requires_grad_(True) for p in params]
    opt = torch.optim.SGD(local, **kwargs)
    for grads in grads_per_step:
        for p, g in zip(local, grads):
            p.grad = None if g is None else g.clone()
        opt.step()
    return [p.detach() for p in local]


def _student_sgd(student, params, grads_per_step, **kwargs):
    remote = [student.tensor(p, requires_grad=True) for p in params]
    opt = student.sgd.SGD.new(remote, **kwargs)
    for grads in grads_per_step:
        for p, g in zip(remote, grads):
            p.grad.set_later(g)
        opt.step.call_later()
    return [p.get() for p in remote]


@pytest.mark.covers("SGD")
def test_sgd_plain_step(student):
    """SGD(params, lr).step() does p -= lr * p.grad, in place"""
    w = torch.tensor([1.0, -2.0, 3.0])
    g = torch.tensor([0.5, 0.5, -1.0])
    (got,) = _student_sgd(student, [w], [[g]], lr=0.1)
    expect_close(got, w - 0.1 * g, call=("SGD(lr=0.1).step", (w, g)),
                 hint="update the parameter tensor itself (p.add_ / p.sub_ under torch.no_grad()), "
                      "not a copy of it")


@pytest.mark.covers("SGD")
@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.1, "weight_decay": 0.01, "maximize": True},
], ids=["momentum", "dampening", "nesterov", "weight_decay", "maximize"])
def test_sgd_options_match_torch(student, kwargs):
    """SGD matches torch.optim.SGD over several steps with each option"""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(2, 3, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen,
                                                                               dtype=torch.float64)]
    steps = [[torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params] for _ in range(4)]
    got = _student_sgd(student, params, steps, **kwargs)
    want = _torch_sgd(params, steps, **kwargs)
    for i, (a, b) in enumerate(zip(got, want)):
        expect_close(a, b, call=("SGD", kwargs), what=f"parameter {i} after 4 steps",
                     hint="the momentum buffer starts as a copy of the first gradient (dampening is "
                          "not applied on that step); later buf = momentum * buf + (1 - dampening) "
                          "* grad; maximize negates the gradient before weight decay is added")


@pytest.mark.covers("SGD")
def test_sgd_skips_none_grad_and_zero_grad(student):
    """step() skips parameters whose .grad is None; zero_grad() sets .grad to None"""
    a = student.tensor(torch.tensor([1.0, 2.0]), requires_grad=True)
    b = student.tensor(torch.tensor([3.0]), requires_grad=True)
    opt = student.sgd.SGD.new([a, b], lr=0.5, weight_decay=0.1)
    a.grad.set_later(torch.tensor([1.0, 1.0]))
    opt.step.call_later()
    expect_close(b.get(), torch.tensor([3.0]), what="a parameter with .grad None",
                 hint="skip parameters whose .grad is None (no weight decay for them either)")
    opt.zero_grad.call_later()
    expect_equal(a.grad.get(), None, what="a.grad after zero_grad()")
    a.grad.set_later(torch.tensor([2.0, 2.0]))
    opt.zero_grad.call_later(set_to_none=False)
    expect_close(a.grad.get(), torch.zeros(2), what="a.grad after zero_grad(set_to_none=False)")


@pytest.mark.covers("SGD")
def test_sgd_invalid_hyperparameters(student):
    """SGD raises ValueError for a negative lr and for nesterov without momentum"""
    p = student.tensor(torch.zeros(2), requires_grad=True)
    expect_raises(ValueError, student.sgd.SGD.new, [p], lr=-0.1, call=("SGD", {"lr": -0.1}),
                  hint="check the hyper-parameters in __init__, as torch.optim.SGD does")
    expect_raises(ValueError, student.sgd.SGD.new, [p], lr=0.1, nesterov=True,
                  call=("SGD", {"lr": 0.1, "nesterov": True}),
                  hint="nesterov needs momentum > 0 and dampening == 0")


@pytest.mark.covers("minibatches")
def test_minibatches_in_order(student):
    """minibatches(shuffle=False) gives consecutive batches, the last one smaller"""
    X = torch.arange(14.0).reshape(7, 2)
    y = torch.arange(7)
    res = student.sgd.minibatches.detailed(X, y, 3, shuffle=False)
    expect_unchanged(X, res.args[0], what="X")
    got = [tuple(pair) for pair in res.value]
    expect_equal(len(got), 3, what="number of batches for 7 examples in batches of 3",
                 hint="range(0, n, batch_size) gives the start of each batch")
    for (xb, yb), start in zip(got, (0, 3, 6)):
        expect_close(xb, X[start:start + 3], what=f"X_batch starting at {start}")
        expect_close(yb, y[start:start + 3], what=f"y_batch starting at {start}")


@pytest.mark.covers("minibatches")
def test_minibatches_shuffled_covers_everything(student):
    """a shuffled pass visits every example once, with its own label, reproducibly"""
    X = torch.arange(20.0).reshape(10, 2)
    y = torch.arange(10) * 10
    first = student.sgd.minibatches(X, y, 4, generator=torch.Generator().manual_seed(1))
    again = student.sgd.minibatches(X, y, 4, generator=torch.Generator().manual_seed(1))
    expect_equal([len(xb) for xb, _ in first], [4, 4, 2], what="batch sizes")
    seen = sorted(int(v) for _, yb in first for v in yb.tolist())
    expect_equal(seen, [10 * i for i in range(10)], what="labels seen in one pass",
                 hint="shuffle the indices once (torch.randperm(n, generator=generator)) and use "
                      "the same indices for X and y")
    for (xb, yb), (xa, ya) in zip(first, again):
        expect_close(xb[:, 0] / 2, yb.to(xb.dtype) / 10, what="X rows paired with their labels")
        expect_close(xa, xb, what="X_batch with the same generator seed",
                     hint="pass the generator to torch.randperm")


@pytest.mark.covers("minibatches")
def test_minibatches_invalid_arguments(student):
    """minibatches raises ValueError for batch_size 0 and for X, y of different lengths"""
    X, y = torch.zeros(5, 2), torch.zeros(5)
    expect_raises(ValueError, student.sgd.minibatches, X, y, 0, hint="check batch_size >= 1")
    expect_raises(ValueError, student.sgd.minibatches, X, y[:4], 2, hint="check len(X) == len(y)")


@pytest.mark.covers("train_linear_regression")
def test_train_one_full_batch(student):
    """with one batch of every example, training equals full-batch gradient descent"""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(8, 2, generator=gen)
    y = X @ torch.tensor([2.0, -3.4]) + 4.2
    w = torch.zeros(2, requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (0.5 * (X @ w + b - y) ** 2).mean().backward()
        opt.step()
    got = student.sgd.train_linear_regression(X, y, lr=0.1, epochs=3, batch_size=8)
    expect_equal(type(got).__name__ in ("tuple", "list") and len(got) == 2, True,
                 what="returns a pair (w, b)")
    hint = "the loss is the MEAN over the batch of 0.5 * (X @ w + b - y) ** 2, starting at w = 0, b = 0"
    call = ("train_linear_regression", (X, y), {"lr": 0.1, "epochs": 3, "batch_size": 8})
    expect_close(got[0], w.detach(), call=call, what="w", hint=hint)
    expect_close(got[1], b.detach(), call=call, what="b (a 0-dim tensor)", hint=hint)


@pytest.mark.covers("train_linear_regression")
def test_train_finds_the_line(student):
    """on noiseless data y = 2 x1 - 3.4 x2 + 4.2, training recovers w and b"""
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(200, 2, generator=gen)
    y = X @ torch.tensor([2.0, -3.4]) + 4.2
    w, b = student.sgd.train_linear_regression(X, y, lr=0.1, epochs=5, batch_size=10,
                                               generator=torch.Generator().manual_seed(0))
    call = ("train_linear_regression", (X, y), {"lr": 0.1, "epochs": 5, "batch_size": 10,
                                                "generator": torch.Generator().manual_seed(0)})
    expect_close(w, torch.tensor([2.0, -3.4]), rtol=0, atol=1e-2, call=call, what="w",
                 hint="check the sign of the update and that b is trained too")
    expect_close(b, torch.tensor(4.2), rtol=0, atol=1e-2, call=call, what="b")
