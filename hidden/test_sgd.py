"""Hidden suite of the sgd exercise (20 points).

Every SGD scenario is played twice: on the student's optimizer, whose parameters live in the
worker (``student.tensor``, so the same tensor objects are updated step after step), and on the
reference (``torch.optim.SGD``) with local copies of the same tensors and gradients.

Shuffling is not pinned down by the contract (only "covers every example once" and "reproducible
with a generator"), so shuffled results are checked by their properties; ``train_linear_regression``
is compared with the reference where the order of the examples cannot matter (one batch holding
every example, or identical examples) and otherwise against the least-squares answer.
"""

from __future__ import annotations

import functools
import itertools

import pytest
import torch

from autograder.testing import (expect_close, expect_equal, expect_raises, expect_raises_later, expect_unchanged,
                                is_close)
from reference import sgd as ref

pytestmark = pytest.mark.exercise("sgd")

DTYPES = [torch.float32, torch.float64]
KEEP = object()  # in a schedule: leave this parameter's .grad as it is before the step
HYPER = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")  # SGD's order after params


# ---------------------------------------------------------------------------------------- helpers
def _params(dtype, seed, empty=False, twin=False):
    """A non-contiguous matrix, a vector and a 0-dim scalar (and a size-0 tensor if asked, and a
    second vector shaped like the first: state is per parameter, not per shape)."""
    g = torch.Generator().manual_seed(seed)
    ps = [torch.randn(3, 4, generator=g, dtype=dtype).t(),
          torch.randn(5, generator=g, dtype=dtype),
          torch.randn((), generator=g, dtype=dtype)]
    if empty:
        ps.append(torch.randn(0, 3, generator=g, dtype=dtype))
    if twin:
        ps.append(torch.randn(5, generator=g, dtype=dtype))
    return ps


def _grads(params, seed):
    """Gradients shaped like ``params``; the first two are non-contiguous views."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for p in params:
        if p.dim() == 2 and p.numel() and not p.is_contiguous():
            out.append(torch.randn(p.shape[1], p.shape[0], generator=g, dtype=p.dtype).t())
        elif p.dim() == 1 and p.numel():
            out.append(torch.randn(2 * p.shape[0], generator=g, dtype=p.dtype)[::2])
        else:
            out.append(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return out


def _schedule(params, steps, seed, keep_every=0):
    """``steps`` lists of fresh gradients; with keep_every=k, steps 1, k + 1, 2k + 1, ... reuse the
    gradients of the step before (the very first gradients are reused once: a momentum buffer
    must not alias them)."""
    sched = []
    for s in range(steps):
        if keep_every and s > 0 and s % keep_every == 1 % keep_every:
            sched.append([KEEP] * len(params))
        else:
            sched.append(_grads(params, seed * 1000 + s))
    return sched


class _Run:
    """The same SGD scenario on the student's optimizer and on the reference."""

    def __init__(self, student, params, kwargs, *, requires_grad=True, container="list",
                 lr_positional=False, all_positional=False, by_name=False):
        self.remote = [student.tensor(p, requires_grad=requires_grad) for p in params]
        self.local = [p.detach().clone().requires_grad_(requires_grad) for p in params]
        if container == "generator":
            s_arg, r_arg = student.iterator(self.remote), (p for p in self.local)
        elif container == "tuple":
            s_arg, r_arg = tuple(self.remote), tuple(self.local)
        else:
            s_arg, r_arg = list(self.remote), list(self.local)
        kwargs = dict(kwargs)
        self.how = ""
        if all_positional:  # every hyper-parameter by position, in the contract's order
            args = [kwargs[k] for k in HYPER]
            self.opt = student.sgd.SGD.new_later(s_arg, *args)
            self.ref = ref.SGD(r_arg, *args)
            self.how = (" (all passed by position: SGD(params, lr, momentum, dampening, weight_decay, nesterov, "
                        "maximize))")
        elif by_name:  # every argument by the contract's names, params= too
            self.opt = student.sgd.SGD.new_later(params=s_arg, **kwargs)
            self.ref = ref.SGD(params=r_arg, **kwargs)
            self.how = " (every argument by name: SGD(params=..., lr=...))"
        elif lr_positional:
            lr = kwargs.pop("lr")
            self.opt = student.sgd.SGD.new_later(s_arg, lr, **kwargs)
            self.ref = ref.SGD(r_arg, lr, **kwargs)
        else:
            self.opt = student.sgd.SGD.new_later(s_arg, **kwargs)
            self.ref = ref.SGD(r_arg, **kwargs)
        self.kwargs = kwargs
        self.steps = 0
        self.requires_grad_checked = False      # once a run: a step that switches it shows at once

    def set_grads(self, grads):
        for r, l, g in zip(self.remote, self.local, grads):
            if g is KEEP:
                continue
            r.grad.set_later(g)
            l.grad = None if g is None else g.clone()

    def step(self, grads=None):
        if grads is not None:
            self.set_grads(grads)
        self.opt.step.call_later()
        self.ref.step()
        self.steps += 1

    def zero_grad(self, *args, **kwargs):
        self.opt.zero_grad.call_later(*args, **kwargs)
        self.ref.zero_grad(*args, **kwargs)

    def check(self, grads_too=False, hint=None):
        """Compare the parameters (their values, their requires_grad at the first check, and their
        .grad if asked) now, when the worker's answers arrive."""
        for i, (r, l) in enumerate(zip(self.remote, self.local)):
            r.get_later(functools.partial(expect_close, expected=l.detach().clone(), call=("SGD", self.kwargs),
                                          hint=hint, what=f"parameter {i} after {self.steps} step(s) of "
                                                          f"SGD({self.kwargs}){self.how}"))
            if not self.requires_grad_checked:
                r.requires_grad.get_later(functools.partial(
                    expect_equal, expected=l.requires_grad,
                    what=f"requires_grad of parameter {i} after step() (step must leave it as it was)",
                    hint="update the parameters under torch.no_grad() instead of switching requires_grad"))
        self.requires_grad_checked = True
        for i, (r, l) in enumerate(zip(self.remote, self.local) if grads_too else ()):
            if l.grad is None:
                r.grad.get_later(functools.partial(expect_equal, expected=None, what=f".grad of parameter {i}"))
            else:
                r.grad.get_later(functools.partial(expect_close, expected=l.grad.clone(),
                                                   what=f".grad of parameter {i} after step() "
                                                        "(step must not modify the gradients)"))


def _play(student, params, kwargs, steps, seed, *, keep_every=0, grads_too=False, **run_kw):
    """``steps`` steps, then compare (after the first step too, for a clearer message)."""
    run = _Run(student, params, kwargs, **run_kw)
    for s, grads in enumerate(_schedule(params, steps, seed, keep_every)):
        run.step(grads)
        if s == 0 or s == steps - 1:
            run.check(grads_too=grads_too)
    return run


def _all_combinations():
    out = []
    for momentum, dampening, wd, nesterov, maximize in itertools.product(
            (0.0, 0.9), (0.0, 0.3), (0.0, 0.1), (False, True), (False, True)):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        out.append(dict(lr=0.05, momentum=momentum, dampening=dampening, weight_decay=wd,
                        nesterov=nesterov, maximize=maximize))
    return out


# -------------------------------------------------------------------------------------------- SGD
@pytest.mark.points(1)
@pytest.mark.covers("SGD")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sgd_plain_steps(student, dtype):
    """SGD(params, lr): plain gradient steps on requires_grad parameters match torch.optim.SGD (an int lr too, and params= and lr= by name)"""
    for seed, lr in ((0, 0.1), (1, 1.5), (2, 1)):   # lr=1, an int, as torch.optim.SGD accepts
        # lr by position, except once: params and lr by the contract's names
        _play(student, _params(dtype, seed), {"lr": lr}, steps=3, seed=seed, lr_positional=seed != 1,
              by_name=seed == 1)


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_momentum_and_dampening(student):
    """SGD with momentum (with and without dampening) matches torch.optim.SGD over many steps, each optimizer keeping its own momentum"""
    for seed, (dtype, dampening) in enumerate(itertools.product(DTYPES, (0.0, 0.3))):
        _play(student, _params(dtype, 10 + seed, twin=True),
              {"lr": 0.05, "momentum": 0.9, "dampening": dampening},
              steps=8, seed=10 + seed, keep_every=3)
    # two optimizers over the same parameter tensors, stepped in turn: as with torch.optim.SGD,
    # each keeps its own momentum buffers (the state belongs to the optimizer, not the parameter)
    params = _params(torch.float64, 15)
    run = _Run(student, params, {"lr": 0.05, "momentum": 0.9})
    other = student.sgd.SGD.new_later(list(run.remote), lr=0.1, momentum=0.5)
    other_ref = ref.SGD(list(run.local), lr=0.1, momentum=0.5)
    for s in range(3):
        run.step(_grads(params, 1500 + s))
        other.step.call_later()
        other_ref.step()
    run.check(hint="two SGD instances over the same parameters, stepped in turn, each keep their own "
                   "momentum buffers (as torch.optim.SGD's do)")
    # two empty parameters, whose storage starts at the same address (data_ptr() is 0 for both),
    # and a parameter after them: each keeps a momentum buffer of its own
    params = [torch.zeros(0), torch.zeros(0, 3), torch.tensor([1.0, -2.0])]
    run = _Run(student, params, {"lr": 0.1, "momentum": 0.9})
    for s in range(3):
        run.step(_grads(params, 1600 + s))
    run.check(hint="keep each parameter's state by the parameter (its position, or id(p)), not by "
                   "p.data_ptr(): two parameters may share an address")
    # float64 gradients that float32 cannot hold: 1e40 is beyond its range (about 3.4e38), and
    # 1e4 + 0.1 is rounded by about 4e-4 in float32, which shows because three steps (lr 0.1,
    # momentum 0.9: 0.561 times the gradient) take the parameter from 0.561 * (1e4 + 0.1) to
    # about 0; momentum buffers kept in float32 are off (or infinite)
    grad = torch.tensor([1e40, 1e4 + 0.1], dtype=torch.float64)
    run = _Run(student, [torch.tensor([0.0, 0.561 * (1e4 + 0.1)], dtype=torch.float64)],
               {"lr": 0.1, "momentum": 0.9})
    for _ in range(3):
        run.step([grad])
    run.check(hint="compute in each parameter's dtype: momentum buffers (a copy of the first gradient, or "
                   "torch.zeros_like(p)), and lr or momentum if you keep them as tensors; float64 parameters "
                   "need float64 arithmetic")


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_nesterov(student):
    """SGD with Nesterov momentum matches torch.optim.SGD over many steps"""
    for seed, (dtype, wd) in enumerate(itertools.product(DTYPES, (0.0, 0.05))):
        _play(student, _params(dtype, 20 + seed, twin=True),
              {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": wd},
              steps=6, seed=20 + seed, keep_every=4)


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_weight_decay_and_maximize(student):
    """weight_decay and maximize match torch.optim.SGD, and step() leaves every .grad as it was"""
    cases = [{"weight_decay": 0.1}, {"maximize": True}, {"weight_decay": 0.1, "maximize": True},
             {"weight_decay": 0.1, "maximize": True, "momentum": 0.5}]
    for seed, (dtype, case) in enumerate(itertools.product(DTYPES, cases)):
        _play(student, _params(dtype, 30 + seed), dict(lr=0.1, **case), steps=4, seed=30 + seed,
              keep_every=2, grads_too=True)


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_every_option_combination(student):
    """every valid combination of momentum, dampening, weight_decay, nesterov and maximize, some passed by position"""
    for seed, kwargs in enumerate(_all_combinations()):
        dtype = DTYPES[seed % 2]
        _play(student, _params(dtype, 40 + seed, empty=seed % 4 == 0), kwargs, steps=5,
              seed=40 + seed, keep_every=3, all_positional=seed % 3 == 1)


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_skips_parameters_without_grad(student):
    """step() skips parameters whose .grad is None (no weight decay, no momentum buffer for them)"""
    for dtype in DTYPES:
        params = _params(dtype, 50)
        run = _Run(student, params, {"lr": 0.1, "momentum": 0.9, "dampening": 0.5,
                                     "weight_decay": 0.1})
        for s in range(5):
            g = _grads(params, 500 + s)
            # parameter 0 gets a gradient only from step 3 on, parameter 1 never has one
            run.step([g[0] if s >= 2 else None, None, g[2]])
            run.check()
        expect_close(run.remote[1].get(), params[1],
                     what="a parameter whose .grad stayed None (it must not change at all)")


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_generator_plain_tensors_same_objects(student):
    """params may be a generator or a tuple, of leaves or plain tensors; the same tensor objects are updated and keep their requires_grad"""
    kwargs = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}
    for seed, (container, requires_grad) in enumerate(
            itertools.product(("generator", "tuple"), (True, False))):
        dtype = DTYPES[seed % 2]
        params = _params(dtype, 60 + seed)
        run = _Run(student, params, kwargs, container=container, requires_grad=requires_grad)
        for s in range(6):
            run.step(_grads(params, 600 + 10 * seed + s))
            run.check(hint="keep a list of the parameters (a generator can be iterated only "
                           "once) and update each tensor in place")
            if s == 2:
                run.zero_grad()


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_zero_grad(student):
    """zero_grad() sets every .grad to None; zero_grad(set_to_none=False) fills them with zeros (whatever they held, NaN and inf included)"""
    for seed, dtype in enumerate(DTYPES):
        params = _params(dtype, 70 + seed)
        run = _Run(student, params, {"lr": 0.1, "momentum": 0.9})
        run.step(_grads(params, 700 + seed))
        run.zero_grad()
        for i, r in enumerate(run.remote):
            r.grad.get_later(functools.partial(expect_equal, expected=None,
                                               what=f".grad of parameter {i} after zero_grad()"))
        run.step()  # every .grad is None: nothing moves, momentum or not
        run.check()
        g = _grads(params, 710 + seed)
        run.step([g[0], None, g[2]])
        run.zero_grad(set_to_none=False)
        run.check(grads_too=True)  # zeros where there was a gradient, None where there was none
        run.step()  # zero gradients are gradients: momentum still moves those parameters
        run.check(grads_too=True)
        # gradients holding NaN, inf and -inf become zeros too (as torch.optim.SGD's zero_grad)
        run.set_grads([torch.full_like(p, v) for p, v in zip(params, (float("nan"), float("inf"), -float("inf")))])
        run.zero_grad(set_to_none=False)
        for i, r in enumerate(run.remote):
            r.grad.get_later(functools.partial(
                expect_close, expected=torch.zeros_like(params[i]),
                what=f".grad of parameter {i} after zero_grad(set_to_none=False) (it held NaN or inf)",
                hint="fill the gradients with zeros: 0 * NaN and 0 * inf are NaN"))
        run.zero_grad(True)
        for i, r in enumerate(run.remote):
            r.grad.get_later(functools.partial(expect_equal, expected=None,
                                               what=f".grad of parameter {i} after zero_grad(True)"))


@pytest.mark.points(1)
@pytest.mark.covers("SGD")
def test_sgd_invalid_hyperparameters(student):
    """SGD raises ValueError where torch.optim.SGD does (nesterov with a negative dampening too), and accepts the valid edge values"""
    bad = [{"lr": -0.1}, {"lr": 0.1, "momentum": -0.5}, {"lr": 0.1, "weight_decay": -1e-4},
           {"lr": 0.1, "nesterov": True}, {"lr": 0.1, "momentum": 0.0, "nesterov": True},
           {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}]
    # SGD.new, waiting: an SGD that gets made stays in the worker, so a missing check reads "the
    # call returned normally" (SGD(...) itself would fail on an SGD object it cannot send back)
    for kwargs in bad:
        p = student.tensor(torch.randn(3), requires_grad=True)
        with expect_raises(ValueError, call=("SGD", kwargs)):
            student.sgd.SGD.new([p], **kwargs)
    kwargs = {"lr": 0.1, "momentum": 0.9, "dampening": -0.5, "nesterov": True}
    with expect_raises(ValueError, call=("SGD", kwargs),
                       hint="nesterov=True needs a dampening of exactly 0 (a negative one is an error too)"):
        student.sgd.SGD.new([student.tensor(torch.randn(3), requires_grad=True)], **kwargs)
    # valid edges: lr = 0 (nothing moves), dampening without momentum, weight decay 0, and no
    # upper bounds: torch.optim.SGD accepts momentum >= 1, any dampening (above 1 or negative
    # too) and weight decay >= 1
    for kwargs in ({"lr": 0.0, "momentum": 0.9}, {"lr": 0.1, "dampening": 0.5},
                   {"lr": 0.1, "momentum": 0.9, "dampening": 1.0},
                   {"lr": 0.1, "momentum": 1.0}, {"lr": 0.1, "momentum": 1.0, "nesterov": True},
                   {"lr": 0.1, "momentum": 0.9, "dampening": 1.5},
                   {"lr": 0.1, "momentum": 0.9, "dampening": -0.5},
                   {"lr": 0.1, "weight_decay": 1.0},
                   {"lr": 0.05, "momentum": 1.5, "weight_decay": 2.0}):
        _play(student, _params(torch.float64, 80), kwargs, steps=3, seed=80)


# ------------------------------------------------------------------------------------ minibatches
def _data(n, dtype, seed, y_int=False):
    """X (n, 2) non-contiguous whose column 0 is the example's index; y paired with X."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(2, n, generator=g, dtype=dtype).t()
    X[:, 0] = torch.arange(n, dtype=dtype)
    if y_int:
        y = torch.arange(n) * 7 + 3
    else:
        y = (torch.arange(2 * n, dtype=dtype) * 0.5 + 1)[::2]
    return X, y


def _two_column_y(n, dtype):
    """y (n, 2): two targets per example (one-hot labels, say), every row different."""
    return torch.stack([torch.arange(n, dtype=dtype) * 2 + 1, -torch.arange(n, dtype=dtype)], dim=1)


TWO_COLUMN_HINT = "index y as you index X (y[idx]): y may have more dimensions than one, and len(y) counts its rows"


def _ids(batches):
    return [int(i) for xb, _ in batches for i in xb[:, 0].tolist()]


def _pairs(got):
    out = []
    for item in got:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            expect_equal(type(item).__name__, "tuple of 2 tensors",
                         what="each item minibatches yields (an (X_batch, y_batch) pair)")
        out.append(tuple(item))
    return out


def _expect_one_pass(got, X, y, bs):
    """``got`` (the (X_batch, y_batch) pairs of one pass) covers every example of X exactly once,
    in batches of ``bs`` except perhaps the last, each row of X_batch paired with its y."""
    n = len(X)
    sizes = [len(xb) for xb, _ in got]
    want_sizes = [bs] * (n // bs) + ([n % bs] if n % bs else [])
    expect_equal(sizes, want_sizes, what="batch sizes")
    ids = _ids(got)
    expect_equal(sorted(ids), list(range(n)), what="examples covered by one pass")
    for xb, yb in got:
        idx = xb[:, 0].long()
        expect_close(xb, X[idx], what="X_batch (rows of X)")
        expect_close(yb, y[idx], what="y_batch (paired with the rows of X_batch)")


def _expect_in_order(student, X, y, bs, generator, shown, x_what="X_batch", hint=None, y_hint=None):
    """``minibatches(X, y, bs, shuffle=False, generator=generator)`` yields the reference's batches,
    in order (``shown``: how the call is named in the feedback; ``hint``, ``y_hint``: hints for
    X_batch and y_batch)."""
    got = _pairs(student.sgd.minibatches(X, y, bs, shuffle=False, generator=generator))
    want = list(ref.minibatches(X, y, bs, shuffle=False))
    expect_equal(len(got), len(want), call=("minibatches", shown), what="number of batches")
    for (xb, yb), (xw, yw) in zip(got, want):
        expect_close(xb, xw, what=x_what, hint=hint)
        expect_close(yb, yw, what="y_batch", hint=y_hint)


@pytest.mark.points(1)
@pytest.mark.covers("minibatches")
def test_minibatches_keeps_order_without_shuffle(student):
    """shuffle=False yields consecutive batches in order, the last one possibly smaller (a 1-D X and a 2-D y too)"""
    # (7, 5), (25, 10) and (6, 4): batches of batch_size, not batch_size examples spread evenly
    # (torch.chunk(indices, ceil(n / batch_size)) gives 4 + 3, 9 + 9 + 7 and 3 + 3)
    cases = [(10, 3), (12, 4), (5, 7), (6, 1), (1, 1), (0, 3), (7, 5), (25, 10), (6, 4)]
    for k, (n, bs) in enumerate(cases):
        dtype = DTYPES[k % 2]
        X, y = _data(n, dtype, k, y_int=bool(k % 3 == 0))
        gen = torch.Generator().manual_seed(k) if k % 2 else None
        _expect_in_order(student, X, y, bs, gen, (f"n={n}", f"batch_size={bs}"))
    # X (n,) of one feature per example: X[idx, :] has no second dimension to take
    _expect_in_order(student, torch.arange(5.0) * 2, torch.arange(5), 2, None, ("X of shape (5,)", "batch_size=2"),
                     x_what="X_batch of a 1-D X",
                     hint="index the examples with X[idx], which works for X of any number of dimensions")
    # y (n, 2): its rows are the examples' targets
    X, _ = _data(7, torch.float32, 9)
    _expect_in_order(student, X, _two_column_y(7, torch.float32), 3, None, ("n=7", "y of shape (7, 2)", "batch_size=3"),
                     y_hint=TWO_COLUMN_HINT)


@pytest.mark.points(1)
@pytest.mark.covers("minibatches")
def test_minibatches_shuffled_pass_covers_every_example_once(student):
    """a shuffled pass (shuffle=True, the default, with or without a generator) yields every example exactly once, X rows still paired with their y, in a new order each pass without a generator"""
    for k, (n, bs) in enumerate([(23, 5), (20, 4), (7, 10), (16, 3), (7, 5), (25, 10), (6, 4)]):
        dtype = DTYPES[k % 2]
        X, y = _data(n, dtype, 100 + k, y_int=bool(k % 2))
        gen = torch.Generator().manual_seed(100 + k)
        _expect_one_pass(_pairs(student.sgd.minibatches(X, y, bs, shuffle=True, generator=gen)), X, y, bs)
    # y (n, 2), each row still paired with its example
    X, y = _data(11, torch.float64, 108)[0], _two_column_y(11, torch.float64)
    _expect_one_pass(_pairs(student.sgd.minibatches(X, y, 4, generator=torch.Generator().manual_seed(108))), X, y, 4)
    # without a generator the order comes from the worker's global random state: three passes over 10
    # examples all in their original order happen by chance once in (10!)^3 (about 2e-20), all in
    # the same order once in (10!)^2 (about 8e-14)
    X, y = _data(10, torch.float64, 104)
    orders = []
    for _ in range(3):
        got = _pairs(student.sgd.minibatches(X, y, 3))
        _expect_one_pass(got, X, y, 3)
        orders.append(_ids(got))
    if all(o == list(range(10)) for o in orders):
        expect_equal("examples in their original order", "a shuffled order",
                     what="order of three passes of minibatches(X, y, 3) without a generator (shuffle=True by default)",
                     hint="shuffle=True shuffles without a generator too (torch.randperm(n, generator=None))")
    if len({tuple(o) for o in orders}) == 1:
        expect_equal("the same order in every pass", "a new order in every pass",
                     what="order of three passes of minibatches(X, y, 3) without a generator (shuffle=True by default)",
                     hint="without a generator, draw the order from torch's global random state "
                          "(torch.randperm(n)), not from a new torch.Generator() each time")


@pytest.mark.points(1)
@pytest.mark.covers("minibatches")
def test_minibatches_generator_reproducible(student):
    """with a torch.Generator the shuffled order is reproducible, and it depends on the generator"""
    n = 30
    X, y = _data(n, torch.float32, 7)
    orders = []
    for seed in range(4):
        # every argument by the contract's names once, by position once
        a = _ids(_pairs(student.sgd.minibatches(X=X, y=y, batch_size=4, generator=torch.Generator().manual_seed(seed))))
        b = _ids(_pairs(student.sgd.minibatches(X, y, 4, True, torch.Generator().manual_seed(seed))))
        expect_equal(a, b, what=f"order with two generators seeded {seed}")
        orders.append(tuple(a))
    if len(set(orders)) == 1:
        expect_equal("the same order for every seed", "an order drawn from the generator",
                     what="shuffled order for seeds 0..3")
    if all(o == tuple(range(n)) for o in orders):
        expect_equal("examples in their original order", "a shuffled order",
                     what="shuffle=True")


def _expect_first_batch_taken(error):
    """The check of ``batches.send(None)``, which takes the first batch of a generator: None (it
    did), or AttributeError when minibatches returned another iterable (no batch was taken: the
    check of the inputs after it has nothing to catch). Anything else the student code raised
    fails the test."""
    if error is not None and error.type_name != "AttributeError":
        raise error


def _expect_unchanged_after_first_batch(student, X, y, shuffle, generator):
    """X and y are unchanged while a pass of minibatches is under way: after its first batch only
    (a generator that shuffles the data in place and puts it back after the last batch leaves it
    modified in between)."""
    Xr, yr = student.tensor(X), student.tensor(y)
    batches = student.sgd.minibatches.new_later(Xr, yr, 4, shuffle=shuffle, generator=generator)
    batches.send.error_later(_expect_first_batch_taken, None)
    hint = "take each batch with X[idx] and y[idx]: do not shuffle X or y in place, even to put them back afterwards"
    Xr.get_later(functools.partial(expect_unchanged, X.clone(), what="X (after the first batch only)", hint=hint))
    yr.get_later(functools.partial(expect_unchanged, y.clone(), what="y (after the first batch only)", hint=hint))


@pytest.mark.points(1)
@pytest.mark.covers("minibatches")
def test_minibatches_leaves_inputs_unchanged(student):
    """minibatches does not modify X or y (not even while a pass is under way), and batches keep the input dtype"""
    for k, (dtype, shuffle) in enumerate(itertools.product(DTYPES, (True, False))):
        g = torch.Generator().manual_seed(200 + k)
        X = torch.randn(3, 2, 11, generator=g, dtype=dtype).permute(2, 0, 1)  # (11, 3, 2)
        y = torch.randn(22, generator=g, dtype=dtype)[1::2]
        res = student.sgd.minibatches.detailed(X, y, 4, shuffle=shuffle,
                                               generator=torch.Generator().manual_seed(k))
        expect_unchanged(X, res.args[0], what="X")
        expect_unchanged(y, res.args[1], what="y")
        got = _pairs(res.value)
        want = [(X[i:i + 4], y[i:i + 4]) for i in range(0, 11, 4)]
        for (xb, yb), (xw, yw) in zip(got, want):
            expect_equal(xb.dtype, dtype, what="X_batch dtype")
            expect_equal(yb.dtype, dtype, what="y_batch dtype")
            expect_equal(tuple(xb.shape), tuple(xw.shape), what="X_batch shape")
            expect_equal(tuple(yb.shape), tuple(yw.shape), what="y_batch shape")
            if not shuffle:
                expect_close(xb, xw, what="X_batch")
                expect_close(yb, yw, what="y_batch")
        _expect_unchanged_after_first_batch(student, X, y, shuffle, torch.Generator().manual_seed(k))


@pytest.mark.points(1)
@pytest.mark.covers("minibatches")
def test_minibatches_invalid_arguments(student):
    """batch_size < 1 and len(X) != len(y) raise ValueError (TypeError for a batch size that is not an int)"""
    X, y = _data(6, torch.float32, 3)
    for args in ((X, y, 0), (X, y, -2), (X, y[:5], 2), (X[:4], y, 2)):
        expect_raises_later(ValueError, student.sgd.minibatches, *args,
                            call=("minibatches", (f"len(X)={len(args[0])}", f"len(y)={len(args[1])}",
                                                  f"batch_size={args[2]}")))
    # a float batch size is a wrong type: TypeError (ValueError accepted too), not a silent int()
    expect_raises_later((TypeError, ValueError), student.sgd.minibatches, X, y, 2.5,
                        call=("minibatches", ("len(X)=6", "len(y)=6", "batch_size=2.5")),
                        hint="batch_size must be an int: raise TypeError for 2.5")


# ------------------------------------------------------------------------ train_linear_regression
def _linear_data(n, d, dtype, seed, noise=0.01):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(d, n, generator=g, dtype=dtype).t()  # non-contiguous (n, d)
    w = torch.randn(d, generator=g, dtype=dtype) * 2
    b = torch.tensor(4.2, dtype=dtype)
    y = X @ w + b + noise * torch.randn(n, generator=g, dtype=dtype)
    return X, y


def _same_wb(a, b):
    """Whether the results ``a`` and ``b`` are (w, b) pairs that expect_close takes for the same
    (False for anything else: _expect_wb says what is wrong with those)."""
    if not all(isinstance(r, (tuple, list)) and len(r) == 2 for r in (a, b)):
        return False
    return all(is_close(u, v) for u, v in zip(a, b))


def _expect_wb(got, want, what):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        expect_equal(type(got).__name__, "tuple (w, b)", what=what)
    expect_close(got[0], want[0], what=f"w ({what})")
    expect_close(got[1], want[1], what=f"b ({what}, a 0-dim tensor)")


def _train_in_order(X, y, lr, batch_size, orders):
    """The reference's training (torch.optim.SGD, gradients by autograd) with the examples of each
    epoch taken in the given order (one tuple of indices per epoch)."""
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr, foreach=False)
    for order in orders:
        for start in range(0, len(order), batch_size):
            idx = torch.tensor(order[start:start + batch_size])
            loss = (0.5 * (X[idx] @ w + b - y[idx]) ** 2).mean()
            w.grad, b.grad = torch.autograd.grad(loss, (w, b))
            optimizer.step()
    return w.detach().clone(), b.detach().clone()


def _batchings(n, batch_size):
    """One order of the n examples for each distinct way an epoch may split them into batches of
    ``batch_size`` (the last one smaller): the order within a batch does not change its mean."""
    orders = {}
    for order in itertools.permutations(range(n)):
        orders.setdefault(tuple(frozenset(order[s:s + batch_size]) for s in range(0, n, batch_size)), order)
    return list(orders.values())


@functools.lru_cache(maxsize=None)
def _every_order(X_rows, y_values, dtype, lr, epochs, batch_size):
    """The reference's (w, b) for each order the examples may come in (see _expect_wb_any_order),
    computed once per grading process: they are the same for every submission."""
    X, y = torch.tensor(X_rows, dtype=dtype), torch.tensor(y_values, dtype=dtype)
    return [_train_in_order(X, y, lr, batch_size, orders)
            for orders in itertools.product(_batchings(len(y), batch_size), repeat=epochs)]


def _expect_wb_any_order(got, X, y, lr, epochs, batch_size, what):
    """``got`` is the reference's (w, b) for one of the orders the examples may come in (every
    split of a handful of examples into batches of ``batch_size``, in every epoch): the order is
    left open, but each step must use the gradient of its own minibatch only."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        expect_equal(type(got).__name__, "tuple (w, b)", what=what)
    candidates = _every_order(tuple(map(tuple, X.tolist())), tuple(y.tolist()), X.dtype, lr, epochs, batch_size)

    def distance(want):
        try:
            return max(float((got[0] - want[0]).abs().max()), float((got[1] - want[1]).abs().max()))
        except Exception:           # wrong type or shape: expect_close says what is wrong
            return float("inf")

    _expect_wb(got, min(candidates, key=distance), what)


@pytest.mark.points(1)
@pytest.mark.covers("train_linear_regression")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_train_full_batch_matches_reference(student, dtype):
    """with one batch holding every example, training matches torch.optim.SGD with autograd"""
    X, y = _linear_data(20, 3, dtype, 300)
    for lr, epochs, bs in ((0.1, 5, 20), (0.05, 4, 64), (0.3, 1, 20)):
        got = student.sgd.train_linear_regression(X, y, lr=lr, epochs=epochs, batch_size=bs)
        want = ref.train_linear_regression(X, y, lr=lr, epochs=epochs, batch_size=bs)
        _expect_wb(got, want, f"lr={lr}, epochs={epochs}, batch_size={bs}, 20 examples")
    if dtype == torch.float64:
        # float64 data that float32 rounds by about 4e-4: the step, lr * mean(y * X) = 0.1, cancels
        # the two examples' 1e4, so training in float32 and casting back is off by about 4e-4
        X = torch.tensor([[1e4 + 0.1], [1e4 - 0.1]], dtype=dtype)
        y = torch.tensor([1.0, -1.0], dtype=dtype)
        _expect_wb(student.sgd.train_linear_regression(X, y, lr=1.0, epochs=1, batch_size=2),
                   ref.train_linear_regression(X, y, lr=1.0, epochs=1, batch_size=2),
                   "float64 examples that float32 rounds, lr=1.0, epochs=1, batch_size=2")


@pytest.mark.points(1)
@pytest.mark.covers("train_linear_regression")
def test_train_defaults_partial_batch_and_zero_epochs(student):
    """default lr/epochs/batch_size, a smaller last batch, one step per minibatch using that minibatch only, and epochs=0 (w = 0, b = 0)"""
    X, y = _linear_data(10, 2, torch.float32, 301)
    _expect_wb(student.sgd.train_linear_regression(X, y), ref.train_linear_regression(X, y),
               "default lr=0.03, epochs=3, batch_size=10, 10 examples")
    # 25 identical examples: every batch looks the same whatever the order, so the batch sizes
    # 10, 10, 5 and the mean over each batch decide the result
    Xr = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64).repeat(25, 1)
    yr = torch.full((25,), 3.0, dtype=torch.float64)
    for lr, epochs in ((0.05, 4), (0.1, 2)):
        gen = torch.Generator().manual_seed(epochs)
        _expect_wb(student.sgd.train_linear_regression(Xr, yr, lr, epochs, 10, gen),
                   ref.train_linear_regression(Xr, yr, lr, epochs, 10),
                   f"lr={lr}, epochs={epochs}, batch_size=10, 25 identical examples")
    # 11 identical examples and the defaults: batches of 10 and 1 (a default batch_size above 10
    # would take one step an epoch)
    _expect_wb(student.sgd.train_linear_regression(Xr[:11], yr[:11]), ref.train_linear_regression(Xr[:11], yr[:11]),
               "default lr=0.03, epochs=3, batch_size=10, 11 identical examples")
    for dtype in DTYPES:
        X, y = _linear_data(7, 4, dtype, 302)
        _expect_wb(student.sgd.train_linear_regression(X, y, epochs=0),
                   ref.train_linear_regression(X, y, epochs=0), "epochs=0")
    # 3 different examples: whatever order they come in, each step follows the gradient of its
    # own minibatch (not of every example), one step per minibatch
    X3 = torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.5]], dtype=torch.float64)
    y3 = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    for batch_size, gen in ((2, torch.Generator().manual_seed(5)), (1, None)):
        _expect_wb_any_order(student.sgd.train_linear_regression(X3, y3, 0.3, 2, batch_size, gen),
                             X3, y3, 0.3, 2, batch_size,
                             f"lr=0.3, epochs=2, batch_size={batch_size}, 3 different examples")
    # different examples in batches of batch_size and a smaller last one (5 + 2 and 4 + 2, not
    # the same examples spread evenly over as many batches: 4 + 3 and 3 + 3)
    X7 = torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.5], [2.0, 1.0], [-0.5, -2.0], [0.0, 1.5], [1.5, -0.5]],
                      dtype=torch.float64)
    y7 = torch.tensor([2.0, -1.0, 0.5, 3.0, -2.5, 1.0, 0.0], dtype=torch.float64)
    for n, batch_size in ((7, 5), (6, 4)):
        gen = torch.Generator().manual_seed(n)
        _expect_wb_any_order(student.sgd.train_linear_regression(X7[:n], y7[:n], 0.3, 1, batch_size, gen),
                             X7[:n], y7[:n], 0.3, 1, batch_size,
                             f"lr=0.3, epochs=1, batch_size={batch_size}, {n} different examples")


@pytest.mark.points(1)
@pytest.mark.covers("train_linear_regression")
def test_train_lands_near_least_squares(student):
    """shuffled minibatch SGD lands near the least-squares answer, reproducibly with a generator (another seed, another shuffle), shuffled without a generator too"""
    for k, dtype in enumerate(DTYPES):
        X, y = _linear_data(200, 3, dtype, 310 + k)
        A = torch.cat([X, torch.ones(200, 1, dtype=dtype)], dim=1)
        sol = torch.linalg.lstsq(A, y.unsqueeze(1)).solution.squeeze(1)
        gen = torch.Generator().manual_seed(k)
        got = student.sgd.train_linear_regression(X, y, 0.1, 5, 10, gen)
        again = student.sgd.train_linear_regression(X=X, y=y, lr=0.1, epochs=5, batch_size=10,  # by name
                                                    generator=torch.Generator().manual_seed(k))
        # another seed shuffles differently: the reference's (w, b) move by about 1e-3
        other = student.sgd.train_linear_regression(X, y, 0.1, 5, 10, torch.Generator().manual_seed(k + 2))
        # "near": within 0.01 of the least-squares coefficients (noise 0.01, 100 steps of
        # lr 0.1; the reference stays within 0.0015 over 30 shuffles)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            expect_equal(type(got).__name__, "tuple (w, b)", what="result")
        expect_close(got[0], sol[:3], rtol=0, atol=1e-2,
                     what="w after 5 epochs on 200 low-noise examples (vs least squares)")
        expect_close(got[1], sol[3], rtol=0, atol=1e-2,
                     what="b after 5 epochs on 200 low-noise examples (vs least squares)")
        _expect_wb(again, got, "a second run with a generator seeded the same way")
        if _same_wb(other, got):
            expect_equal("the same (w, b)", "a different (w, b)",
                         what=f"(w, b) after training with generators seeded {k} and {k + 2}",
                         hint="shuffle the examples in every epoch with the generator you are given "
                              "(minibatches(X, y, batch_size, shuffle=True, generator=generator))")
    # without a generator the order comes from the worker's global random state: 12 different
    # examples, one a batch, taken in their original order in both epochs give the (w, b) of
    # unshuffled training, by chance once in (12!)^2 (about 4e-18)
    X, y = _linear_data(12, 2, torch.float64, 312)
    in_order = _train_in_order(X, y, 0.1, 1, [tuple(range(12))] * 2)
    if _same_wb(student.sgd.train_linear_regression(X, y, 0.1, 2, 1), in_order):
        expect_equal("the (w, b) of the examples in their original order", "the (w, b) of a shuffled order",
                     what="(w, b) after training without a generator (batch_size=1)",
                     hint="shuffle the examples in every epoch without a generator too "
                          "(minibatches(X, y, batch_size, shuffle=True, generator=None) draws from torch's "
                          "global random state)")


@pytest.mark.points(1)
@pytest.mark.covers("train_linear_regression")
def test_train_leaves_inputs_unchanged(student):
    """train_linear_regression does not modify X or y; w is (d,) and b 0-dim in the input dtype"""
    for k, dtype in enumerate(DTYPES):
        X, y = _linear_data(30, 3, dtype, 320 + k)
        y = torch.stack([y, -y], dim=1)[:, 0]  # non-contiguous too
        res = student.sgd.train_linear_regression.detailed(X, y, 0.1, 2, 30)
        expect_unchanged(X, res.args[0], what="X")
        expect_unchanged(y, res.args[1], what="y")
        _expect_wb(res.value, ref.train_linear_regression(X, y, 0.1, 2, 30),
                   "lr=0.1, epochs=2, batch_size=30, 30 examples")
