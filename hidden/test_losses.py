"""Hidden suite of the losses exercise: softmax, log-softmax, BCE, BCE-with-logits, cross-entropy.

Every expected value comes from ``reference/losses.py`` (PyTorch's own functions). 20 points:
softmax 3, log_softmax 3, binary_cross_entropy 4, binary_cross_entropy_with_logits 4,
cross_entropy 6. Each test covers exactly one contract name, so a forbidden call in one function
costs only that function's points.

Tolerances are ``torch.testing.assert_close``'s defaults for the dtype, except at logits of
magnitude 1e4 and more, where the contract lets them scale with the logits (an allowed formula such as
``x - logsumexp(x)`` is then about one ulp of 1e4 away from ``torch.log_softmax``): there the
absolute tolerance grows by ``4 * eps * max|logit|``.
"""

from __future__ import annotations

import pytest
import torch

from autograder.testing import GradingFailure, expect_close, expect_raises_later, expect_unchanged
from reference import losses as ref

pytestmark = pytest.mark.exercise("losses")

DTYPES = (torch.float32, torch.float64)
SEEDS = (0, 1, 2)
REDUCTIONS = ("none", "mean", "sum")
BAD_REDUCTIONS = ("avg", "MEAN", "", "elementwise_mean", None)  # None is no reduction name either
# weights that do not broadcast to a (3, 4) input: a wrong last size, a wrong first size, and
# an extra leading dimension (PyTorch refuses all three)
BAD_WEIGHTS_3_4 = (torch.ones(5), torch.ones(2, 1), torch.ones(2, 3, 4))
# (input shape, weight shape): 3-D and 4-D inputs with weights that broadcast over more than the
# last dimension (the weight shapes of a 2-D batch are not all there is)
WEIGHTS_ND = (((2, 3, 4), (3, 1)), ((2, 3, 4), (2, 1, 1)), ((2, 3, 4), (1, 4)),
              ((3, 2, 2, 3), (2, 1, 3)), ((3, 2, 2, 3), (3, 1, 1, 1)))


# ------------------------------------------------------------------------------------ helpers
def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _layouts(x: torch.Tensor) -> list[torch.Tensor]:
    """``x`` as it is, then the same values laid out non-contiguously (transposed, strided)."""
    out = [x]
    if x.dim() >= 2:
        out.append(x.transpose(-1, -2).contiguous().transpose(-1, -2))
    if x.dim() >= 1:
        out.append(torch.stack([x, torch.zeros_like(x)], dim=-1)[..., 0])
    return out


def _rot(seq, i):
    """The ``i``-th item of ``seq``, cyclically: spreads cases over seeds and options."""
    return seq[i % len(seq)]


def _noncontig(x: torch.Tensor) -> torch.Tensor:
    """The same values as ``x``, stored with a stride of 2 in every dimension."""
    return torch.stack([x, torch.zeros_like(x)], dim=-1)[..., 0]


def _default_tols(dtype):
    return {torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}[dtype]


def _scaled_atol(x: torch.Tensor) -> tuple[float, float]:
    """(rtol, atol) for inputs with large logits: atol grows with max |x| (see module docstring)."""
    rtol, atol = _default_tols(x.dtype)
    scale = float(x.abs().max()) if x.numel() else 0.0
    return rtol, atol + 4 * torch.finfo(x.dtype).eps * scale


def _run(fn, ref_fn, name, *args, rtol=None, atol=None, hint=None, **kwargs):
    """Call the student's ``fn`` and the reference on the same arguments; compare the results
    and check that no tensor argument was modified (when the answer arrives: the calls of a
    test go to the worker together)."""
    expected = ref_fn(*args, **kwargs)
    call = (name, args, kwargs)

    def check(res):
        expect_close(res.value, expected, rtol=rtol, atol=atol, call=call, hint=hint)
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor):
                expect_unchanged(a, res.args[i], call=call, what=f"argument {i}")
        for k, v in kwargs.items():
            if isinstance(v, torch.Tensor):
                expect_unchanged(v, res.kwargs[k], call=call, what=f"argument {k}")

    fn.detailed_later(check, *args, **kwargs)


def _ref_grad(ref_fn, args, kwargs, grad_output=None, wrt=(0,)):
    """Gradients of the reference output w.r.t. the arguments at positions ``wrt``, by autograd."""
    args = [a.detach().clone().requires_grad_(True) if i in wrt else a for i, a in enumerate(args)]
    out = ref_fn(*args, **kwargs)
    go = torch.ones_like(out) if grad_output is None else grad_output
    grads = torch.autograd.grad(out, [args[i] for i in wrt], grad_outputs=go)
    return out.detach(), grads


# how the gradients' messages name the arguments at positions 0 and 1
GRAD_ARG_NAMES = ("the first argument", "the targets")
GRAD_HINTS = ("build the result from tensor operations on it (no .item(), no torch.tensor)",
              "PyTorch's loss passes gradients to soft targets too: use them as they are (not detached)")


def _check_grad(fn, ref_fn, name, *args, random_grad_output=False, seed=0, wrt=(0,), **kwargs):
    """Autograd through the student's function must give the reference's gradients w.r.t. the
    arguments at positions ``wrt`` (the first, and with ``wrt=(0, 1)`` the targets too) and the
    same value."""
    go = None
    if random_grad_output:
        shape = ref_fn(*args, **kwargs).shape
        go = torch.randn(shape, generator=_gen(seed + 100), dtype=args[0].dtype)
    expected, g_exp = _ref_grad(ref_fn, args, kwargs, go, wrt)
    call = (name, args, kwargs)

    def check(res):
        expect_close(res.value, expected, call=call, what="output")
        for i, got, exp in zip(wrt, res.grads, g_exp):
            if got is None:
                raise GradingFailure(f"{name}: no gradient flowed back to {GRAD_ARG_NAMES[i]}; {GRAD_HINTS[i]}")
            expect_close(got, exp, call=call, what="gradient" if i == 0 else f"gradient w.r.t. {GRAD_ARG_NAMES[i]}",
                         hint="autograd through your function must give PyTorch's gradient")

    fn.with_grad_later(check, *args, wrt=wrt, grad_output=go, **kwargs)


# ---------------------------------------------------------------------------- softmax family
SOFTMAX_CASES = [((5,), (0,)), ((3, 4), (1, -2)), ((2, 3, 4), (0, 1, -1))]


def _softmax_matches(fn, ref_fn, name):
    k = 0
    for dtype in DTYPES:
        for shape, dims in SOFTMAX_CASES:
            for dim in dims:
                k += 1
                x = torch.randn(shape, generator=_gen(_rot(SEEDS, k)), dtype=dtype) * 3
                _run(fn, ref_fn, name, _rot(_layouts(x), k), dim=dim)
        x = torch.randn((3, 4), generator=_gen(k), dtype=dtype)
        _run(fn, ref_fn, name, _noncontig(x))  # default dim=-1
        _run(fn, ref_fn, name, x.T, 0)  # dim passed positionally
        _run(fn, ref_fn, name, x=x, dim=-1)  # every argument by the contract's names
        if dtype == torch.float64:
            # the default dim on a 3-D input is -1 (not the book's 1); values near 1e3 are not
            # float32 numbers (rounding them costs ~3e-5), so computing in float32 inside shows
            x3 = torch.randn((2, 3, 4), generator=_gen(k), dtype=dtype) + 1e3
            _run(fn, ref_fn, name, x3)


UNCLIPPED_HINT = "do not clip the logits: subtracting the maximum keeps the result exact at any magnitude"


def _beyond_1e4(dtype) -> torch.Tensor:
    """(2, 4) logits past 1e4, close together in each row: the contract's 1e4 is where results
    must stay finite, not where logits may be clipped (as torch's, the result is exact beyond)."""
    return torch.tensor([[3e4, 29999.0, -1e5, 0.0], [-5e4, -49999.0, -6e4, -1e5]], dtype=dtype)


def _softmax_extremes(fn, ref_fn, name):
    for d, dtype in enumerate(DTYPES):
        big = torch.tensor([[1e4, -1e4, 0.0, 5e3],
                            [-1e4, -1e4, -1e4, -1e4],
                            [1e4, 1e4, -5e3, 1.0],
                            [1e4, 9999.0, -1e4, 9990.0]], dtype=dtype)
        # every logit large and negative (the largest -200): the maximum must be subtracted here too,
        # not only where a logit is large and positive
        negative = torch.tensor([[-1e4, -9999.0, -5e3, -200.0], [-200.0, -201.0, -300.0, -1e4]], dtype=dtype)
        cases = [(big, -1), (big.T, 0), (negative, -1)]
        for seed in SEEDS[:2]:
            rnd = (torch.rand((3, 5), generator=_gen(seed + 2 * d), dtype=dtype) * 2 - 1) * 1e4
            cases.append((rnd if seed else _noncontig(rnd), _rot((-1, 0), seed)))
        for x, dim in cases:
            rtol, atol = _scaled_atol(x)
            _run(fn, ref_fn, name, x, dim=dim, rtol=rtol, atol=atol,
                 hint="subtract the maximum along dim before exponentiating")
        xb = _beyond_1e4(dtype)
        rtol, atol = _scaled_atol(xb)
        _run(fn, ref_fn, name, xb, dim=-1, rtol=rtol, atol=atol, hint=UNCLIPPED_HINT)
        # size-0 dimensions, a 0-dim tensor and a dimension of size 1
        for shape, dim in (((3, 0), -1), ((0, 4), 0), ((2, 0, 3), 1), ((0,), 0), ((4, 1), -1)):
            x = torch.randn(shape, generator=_gen(7), dtype=dtype)
            _run(fn, ref_fn, name, x, dim=dim, hint="a dimension of size 0 gives an empty result")
        _run(fn, ref_fn, name, torch.tensor(2.5, dtype=dtype), dim=-1)
    # a dim out of range is an error, as in torch.softmax (which raises IndexError; the contract's
    # ValueError is accepted too), not wrapped around to an existing dimension
    x = torch.randn((3, 4), generator=_gen(8))
    for dim in (2, -3):
        expect_raises_later((ValueError, IndexError), fn, x, dim=dim, call=(name, x.shape, {"dim": dim}),
                            hint="dim must lie in [-x.dim(), x.dim())")


def _softmax_gradient(fn, ref_fn, name):
    for d, dtype in enumerate(DTYPES):
        for seed in SEEDS:
            x = torch.randn((3, 4), generator=_gen(seed), dtype=dtype) * 2
            _check_grad(fn, ref_fn, name, x, dim=_rot((-1, 0), seed + d), random_grad_output=True,
                        seed=seed)
        x = torch.randn((2, 3, 4), generator=_gen(5), dtype=dtype)
        _check_grad(fn, ref_fn, name, x, dim=1, random_grad_output=True, seed=5)


@pytest.mark.points(1)
@pytest.mark.covers("softmax")
def test_softmax_matches_torch(student):
    """softmax agrees with torch.softmax along every dim, float32 and float64, any memory layout, without changing its input"""
    _softmax_matches(student.losses.softmax, ref.softmax, "softmax")


@pytest.mark.points(1)
@pytest.mark.covers("softmax")
def test_softmax_large_logits_and_edge_shapes(student):
    """softmax stays finite and exact for logits up to 1e4 and beyond, handles size-0, size-1 and 0-dim inputs, and refuses a dim out of range"""
    _softmax_extremes(student.losses.softmax, ref.softmax, "softmax")


@pytest.mark.points(1)
@pytest.mark.covers("softmax")
def test_softmax_gradient(student):
    """autograd through softmax gives torch.softmax's gradient"""
    _softmax_gradient(student.losses.softmax, ref.softmax, "softmax")


@pytest.mark.points(1)
@pytest.mark.covers("log_softmax")
def test_log_softmax_matches_torch(student):
    """log_softmax agrees with torch.log_softmax along every dim, float32 and float64, any memory layout, without changing its input"""
    _softmax_matches(student.losses.log_softmax, ref.log_softmax, "log_softmax")


@pytest.mark.points(1)
@pytest.mark.covers("log_softmax")
def test_log_softmax_large_logits_and_edge_shapes(student):
    """log_softmax stays finite and accurate for logits up to 1e4 and beyond, handles size-0, size-1 and 0-dim inputs, and refuses a dim out of range"""
    _softmax_extremes(student.losses.log_softmax, ref.log_softmax, "log_softmax")


@pytest.mark.points(1)
@pytest.mark.covers("log_softmax")
def test_log_softmax_gradient(student):
    """autograd through log_softmax gives torch.log_softmax's gradient"""
    _softmax_gradient(student.losses.log_softmax, ref.log_softmax, "log_softmax")


# ---------------------------------------------------------------------------------------- BCE
def _probs(shape, g, dtype, lo=0.02, hi=0.98):
    return lo + (hi - lo) * torch.rand(shape, generator=g, dtype=dtype)


def _bce_weights(shape, g, dtype):
    n, c = shape
    yield None
    yield torch.rand((n, c), generator=g, dtype=dtype) * 2
    yield torch.rand((c,), generator=g, dtype=dtype) + 0.5
    yield torch.rand((n, 1), generator=g, dtype=dtype) + 0.5
    yield torch.tensor(0.7, dtype=dtype)


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy")
def test_bce_matches_torch(student):
    """binary_cross_entropy agrees with F.binary_cross_entropy: hard and soft targets, weights, every reduction, float32 and float64, any layout"""
    fn = student.losses.binary_cross_entropy
    name = "binary_cross_entropy"
    for d, dtype in enumerate(DTYPES):
        shape = (4, 3)
        for i in range(10):
            g = _gen(_rot(SEEDS, i + d))
            p = _probs(shape, g, dtype)
            y = ((torch.rand(shape, generator=g) < 0.5).to(dtype) if i < 5
                 else torch.rand(shape, generator=g, dtype=dtype))
            w = list(_bce_weights(shape, g, dtype))[i % 5]
            _run(fn, ref.binary_cross_entropy, name, p, y, weight=w,
                 reduction=_rot(REDUCTIONS, i + d))
        # non-contiguous inputs, default and positional arguments, other shapes
        g = _gen(d)
        p = _probs(shape, g, dtype)
        y = torch.rand(shape, generator=g, dtype=dtype)
        w = torch.rand(shape, generator=g, dtype=dtype)
        _run(fn, ref.binary_cross_entropy, name, _layouts(p)[1], _layouts(y)[2])
        _run(fn, ref.binary_cross_entropy, name, p.T, y.T, w.T, "sum")
        _run(fn, ref.binary_cross_entropy, name, probs=p, targets=y, weight=w, reduction="sum")  # by name
        _run(fn, ref.binary_cross_entropy, name, _noncontig(p), y, _noncontig(w[0]), "none")
        for shape in ((7,), (2, 3, 2), ()):
            _run(fn, ref.binary_cross_entropy, name, _probs(shape, g, dtype),
                 torch.rand(shape, generator=g, dtype=dtype), reduction="none")
        for i, (shape, w_shape) in enumerate(WEIGHTS_ND):
            _run(fn, ref.binary_cross_entropy, name, _probs(shape, g, dtype),
                 torch.rand(shape, generator=g, dtype=dtype),
                 weight=torch.rand(w_shape, generator=g, dtype=dtype) + 0.5, reduction=_rot(REDUCTIONS, i + d),
                 hint="weight may have any shape that broadcasts to the shape of probs")


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy")
def test_bce_probabilities_0_and_1_and_empty(student):
    """binary_cross_entropy clamps every log at -100 (for probabilities of exactly 0 and 1 and for tiny ones such as 1e-60 alike) and handles an empty batch"""
    fn = student.losses.binary_cross_entropy
    name = "binary_cross_entropy"
    for dtype in DTYPES:
        # 1e-60 (0 in float32) and 1e-45 (a float32 denormal) have logs below -100 that are not
        # -inf: the clamp applies there too. No probability below 1 has log(1 - p) under -100
        # (1 - p is at least eps / 2): the largest one checks log(1 - p) near 1.
        below_one = 1 - torch.finfo(dtype).eps / 2
        p = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-7, 0.5,
                          1e-60, 1e-45, 1e-45, below_one, below_one, 1e-60], dtype=dtype)
        y = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.3, 0.6, 1.0, 0.0, 1.0,
                          1.0, 1.0, 0.4, 0.0, 0.7, 0.2], dtype=dtype)
        w = torch.linspace(0.5, 2.0, 15, dtype=dtype)
        for red in REDUCTIONS:
            _run(fn, ref.binary_cross_entropy, name, p, y, reduction=red,
                 hint="clamp each log at -100 as PyTorch does (every log below -100, not only where it "
                      "is -inf), not the probabilities")
        _run(fn, ref.binary_cross_entropy, name, p.view(5, 3).T, y.view(5, 3).T,
             weight=w.view(5, 3).T, reduction="mean")
        for shape, red in (((0,), "none"), ((0,), "mean"), ((0,), "sum"), ((0, 3), "mean"),
                           ((3, 0), "sum")):
            _run(fn, ref.binary_cross_entropy, name, torch.rand(shape, dtype=dtype),
                 torch.rand(shape, dtype=dtype), reduction=red,
                 hint="an empty batch: 'mean' is NaN, 'sum' is 0")


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy")
def test_bce_gradient(student):
    """autograd through binary_cross_entropy gives F.binary_cross_entropy's gradient w.r.t. the probabilities, and w.r.t. soft targets"""
    fn = student.losses.binary_cross_entropy
    name = "binary_cross_entropy"
    for d, dtype in enumerate(DTYPES):
        for seed in SEEDS:
            g = _gen(seed)
            p = _probs((4, 3), g, dtype, 0.05, 0.95)
            y = torch.rand((4, 3), generator=g, dtype=dtype)
            w = torch.rand((3,), generator=g, dtype=dtype) + 0.5
            kind = (seed + d) % 3
            if kind == 0:
                _check_grad(fn, ref.binary_cross_entropy, name, p, y)
            elif kind == 1:
                _check_grad(fn, ref.binary_cross_entropy, name, p, y, weight=w, reduction="sum")
            else:
                _check_grad(fn, ref.binary_cross_entropy, name, p, y, weight=w, reduction="none",
                            random_grad_output=True, seed=seed)
        # F.binary_cross_entropy passes a gradient to soft targets too
        g = _gen(d + 10)
        p, y = _probs((4, 3), g, dtype, 0.05, 0.95), _probs((4, 3), g, dtype, 0.05, 0.95)
        _check_grad(fn, ref.binary_cross_entropy, name, p, y, weight=torch.rand((4, 1), generator=g, dtype=dtype) + 0.5,
                    wrt=(0, 1))


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy")
def test_bce_rejects_invalid_arguments(student):
    """binary_cross_entropy raises ValueError for an unknown reduction, mismatched shapes, probabilities outside [0, 1] and a weight that does not broadcast to the shape"""
    fn = student.losses.binary_cross_entropy
    p = torch.full((3, 4), 0.5)
    y = torch.ones(3, 4)
    for red in BAD_REDUCTIONS:
        expect_raises_later(ValueError, fn, p, y, reduction=red, call=("binary_cross_entropy", red),
                            hint="reduction must be 'none', 'mean' or 'sum'")
    for bad_y in (torch.ones(3, 3), torch.ones(4, 3), torch.ones(12), torch.ones(1, 4)):
        expect_raises_later(ValueError, fn, p, bad_y, call=("binary_cross_entropy", bad_y.shape),
                            hint="targets must have exactly the shape of probs")
    for bad_p in (torch.tensor([0.5, 1.5]), torch.tensor([-0.1, 0.5])):
        expect_raises_later(ValueError, fn, bad_p, torch.ones(2), call=("binary_cross_entropy", bad_p),
                            hint="probabilities must lie in [0, 1]")
    for bad_w in BAD_WEIGHTS_3_4:
        expect_raises_later(ValueError, fn, p, y, weight=bad_w,
                            call=("binary_cross_entropy", (p.shape, y.shape), {"weight": bad_w.shape}),
                            hint="weight must broadcast to the shape of probs (no extra dimensions)")
    # the weight broadcasts to probs, not the other way round (F.binary_cross_entropy refuses a
    # weight larger than probs even where probs would broadcast to it)
    p1, y1, w1 = p[:, :1], y[:, :1], torch.ones(3, 4)
    expect_raises_later(ValueError, fn, p1, y1, weight=w1,
                        call=("binary_cross_entropy", (p1.shape, y1.shape), {"weight": w1.shape}),
                        hint="weight must broadcast to the shape of probs (the result has the shape of probs)")


# --------------------------------------------------------------------------- BCE with logits
def _bcewl_cases(g, dtype):
    """(logits, targets, kwargs) covering single-label, multi-label, soft targets and weights."""
    n, c = 4, 3
    x1 = torch.randn((n,), generator=g, dtype=dtype) * 3
    y1 = (torch.rand((n,), generator=g) < 0.5).to(dtype)
    yield x1, y1, {}
    yield x1, y1, {"pos_weight": torch.tensor([2.5], dtype=dtype)}
    x = torch.randn((n, c), generator=g, dtype=dtype) * 3
    hard = (torch.rand((n, c), generator=g) < 0.5).to(dtype)
    soft = torch.rand((n, c), generator=g, dtype=dtype)
    for y in (hard, soft):
        yield x, y, {}
        yield x, y, {"weight": torch.rand((n, c), generator=g, dtype=dtype) * 2}
        yield x, y, {"weight": torch.rand((c,), generator=g, dtype=dtype) + 0.5}
        yield x, y, {"pos_weight": torch.rand((c,), generator=g, dtype=dtype) * 3}
        yield x, y, {"weight": torch.rand((n, 1), generator=g, dtype=dtype) + 0.5,
                     "pos_weight": torch.rand((c,), generator=g, dtype=dtype) * 3}


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy_with_logits")
def test_bce_with_logits_matches_torch(student):
    """binary_cross_entropy_with_logits agrees with PyTorch: single- and multi-label, soft targets, weight and pos_weight, every reduction, any layout"""
    fn = student.losses.binary_cross_entropy_with_logits
    name = "binary_cross_entropy_with_logits"
    for d, dtype in enumerate(DTYPES):
        g = _gen(_rot(SEEDS, d))
        for i, (x, y, kw) in enumerate(_bcewl_cases(g, dtype)):
            _run(fn, ref.binary_cross_entropy_with_logits, name, x, y,
                 reduction=_rot(REDUCTIONS, i + d), **kw)
        g = _gen(_rot(SEEDS, d + 1))
        x = torch.randn((4, 3), generator=g, dtype=dtype)
        y = torch.rand((4, 3), generator=g, dtype=dtype)
        pw = torch.rand((3,), generator=g, dtype=dtype) + 0.5
        _run(fn, ref.binary_cross_entropy_with_logits, name, _layouts(x)[1], _layouts(y)[2])
        _run(fn, ref.binary_cross_entropy_with_logits, name, _layouts(x)[2], _layouts(y)[1], None,
             _noncontig(pw), "none")
        _run(fn, ref.binary_cross_entropy_with_logits, name, torch.tensor(0.3, dtype=dtype),
             torch.tensor(1.0, dtype=dtype), reduction="none")
        _run(fn, ref.binary_cross_entropy_with_logits, name, logits=x, targets=y, pos_weight=pw,
             reduction="sum")   # every argument by the contract's names
        # 3-D and 4-D logits: weights broadcast over more than the last dimension, and pos_weight
        # (one per class, the last dimension) alongside every other one
        for i, (shape, w_shape) in enumerate(WEIGHTS_ND):
            kw = {"weight": torch.rand(w_shape, generator=g, dtype=dtype) + 0.5}
            if i % 2:
                kw["pos_weight"] = torch.rand(shape[-1:], generator=g, dtype=dtype) * 3
            _run(fn, ref.binary_cross_entropy_with_logits, name, torch.randn(shape, generator=g, dtype=dtype) * 3,
                 torch.rand(shape, generator=g, dtype=dtype), reduction=_rot(REDUCTIONS, i + d),
                 hint="weight and pos_weight may have any shape that broadcasts to the shape of the logits", **kw)
        # a 0-dim pos_weight, for every class (pos_weight[None, :] would fail on it)
        _run(fn, ref.binary_cross_entropy_with_logits, name, torch.randn((3, 2), generator=g, dtype=dtype) * 3,
             torch.rand((3, 2), generator=g, dtype=dtype), pos_weight=torch.tensor(2.5, dtype=dtype),
             hint="pos_weight broadcasts like any tensor: a 0-dim pos_weight applies to every class")
        # pos_weight of shape (C,) goes with the last dimension, also where dimension 1 is as long
        _run(fn, ref.binary_cross_entropy_with_logits, name, torch.randn((2, 3, 3), generator=g, dtype=dtype) * 3,
             torch.rand((2, 3, 3), generator=g, dtype=dtype), pos_weight=torch.tensor([0.5, 2.0, 3.0], dtype=dtype),
             hint="pos_weight broadcasts like any tensor: a (C,) pos_weight goes with the last dimension")


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy_with_logits")
def test_bce_with_logits_large_logits_and_empty(student):
    """binary_cross_entropy_with_logits stays finite and accurate for logits up to 1e4 and beyond (with and without pos_weight) and handles an empty batch"""
    fn = student.losses.binary_cross_entropy_with_logits
    name = "binary_cross_entropy_with_logits"
    for d, dtype in enumerate(DTYPES):
        x = torch.tensor([[1e4, -1e4, 100.0, -100.0],
                          [1e4, -1e4, 30.0, -30.0],
                          [-1e4, 1e4, -90.0, 90.0],
                          [5e3, -5e3, 1e4, -1e4]], dtype=dtype)
        y = torch.tensor([[1.0, 0.0, 1.0, 0.0],
                          [0.0, 1.0, 0.0, 1.0],
                          [0.3, 0.7, 0.5, 0.9],
                          [1.0, 1.0, 0.0, 0.0]], dtype=dtype)
        pw = torch.tensor([0.5, 2.0, 3.0, 1.0], dtype=dtype)
        rtol, atol = _scaled_atol(x)
        hint = "use a stable form of log(sigmoid(x)), e.g. via log1p(exp(-|x|))"
        for i, kw in enumerate(({}, {"pos_weight": pw}, {"weight": pw.flip(0)})):
            _run(fn, ref.binary_cross_entropy_with_logits, name, x, y,
                 reduction=_rot(("none", "mean", "sum"), i + d), rtol=rtol, atol=atol, hint=hint,
                 **kw)
        _run(fn, ref.binary_cross_entropy_with_logits, name, x.T, y.T, reduction="none",
             rtol=rtol, atol=atol, hint=hint)
        xr = (torch.rand((3, 4), generator=_gen(d), dtype=dtype) * 2 - 1) * 1e4
        yr = torch.rand((3, 4), generator=_gen(d + 1), dtype=dtype)
        rtol, atol = _scaled_atol(xr)
        _run(fn, ref.binary_cross_entropy_with_logits, name, xr, yr, reduction="none",
             rtol=rtol, atol=atol, pos_weight=pw, hint=hint)
        xb = _beyond_1e4(dtype)
        rtol, atol = _scaled_atol(xb)
        _run(fn, ref.binary_cross_entropy_with_logits, name, xb, torch.tensor([[0.0, 1.0, 1.0, 0.5]] * 2, dtype=dtype),
             reduction="none", rtol=rtol, atol=atol, pos_weight=pw, hint=f"do not clip the logits; {hint}")
        for shape, red in (((0,), "mean"), ((0, 3), "sum"), ((0, 3), "none")):
            _run(fn, ref.binary_cross_entropy_with_logits, name, torch.randn(shape, dtype=dtype),
                 torch.rand(shape, dtype=dtype), reduction=red,
                 hint="an empty batch: 'mean' is NaN, 'sum' is 0")


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy_with_logits")
def test_bce_with_logits_gradient(student):
    """autograd through binary_cross_entropy_with_logits gives PyTorch's gradient w.r.t. the logits, and w.r.t. soft targets"""
    fn = student.losses.binary_cross_entropy_with_logits
    name = "binary_cross_entropy_with_logits"
    for d, dtype in enumerate(DTYPES):
        for seed in SEEDS:
            g = _gen(seed)
            x = torch.randn((4, 3), generator=g, dtype=dtype) * 3 + 0.01
            y = torch.rand((4, 3), generator=g, dtype=dtype)
            pw = torch.rand((3,), generator=g, dtype=dtype) * 3
            w = torch.rand((4, 1), generator=g, dtype=dtype) + 0.5
            kind = (seed + d) % 3
            if kind == 0:
                _check_grad(fn, ref.binary_cross_entropy_with_logits, name, x, y)
            elif kind == 1:
                _check_grad(fn, ref.binary_cross_entropy_with_logits, name, x, y, weight=w,
                            pos_weight=pw, reduction="sum")
            else:
                _check_grad(fn, ref.binary_cross_entropy_with_logits, name, x, y, pos_weight=pw,
                            reduction="none", random_grad_output=True, seed=seed)
        # F.binary_cross_entropy_with_logits passes a gradient to soft targets too (logits of
        # magnitude 0.1 and more, targets in [0.05, 0.95])
        g = _gen(d + 10)
        x = torch.randn((4, 3), generator=g, dtype=dtype) * 3
        x = torch.where(x < 0, x - 0.1, x + 0.1)
        y = _probs((4, 3), g, dtype, 0.05, 0.95)
        _check_grad(fn, ref.binary_cross_entropy_with_logits, name, x, y,
                    weight=torch.rand((3,), generator=g, dtype=dtype) + 0.5,
                    pos_weight=torch.rand((3,), generator=g, dtype=dtype) * 3 + 0.1, wrt=(0, 1))


@pytest.mark.points(1)
@pytest.mark.covers("binary_cross_entropy_with_logits")
def test_bce_with_logits_rejects_invalid_arguments(student):
    """binary_cross_entropy_with_logits raises ValueError for an unknown reduction, targets shaped unlike the logits, and a weight or pos_weight that does not broadcast to the shape"""
    fn = student.losses.binary_cross_entropy_with_logits
    x = torch.zeros(3, 4)
    y = torch.ones(3, 4)
    for red in BAD_REDUCTIONS:
        expect_raises_later(ValueError, fn, x, y, reduction=red,
                            call=("binary_cross_entropy_with_logits", red),
                            hint="reduction must be 'none', 'mean' or 'sum'")
    for bad_y in (torch.ones(3, 3), torch.ones(4, 3), torch.ones(12), torch.ones(1, 4),
                  torch.ones(3, 1)):
        expect_raises_later(ValueError, fn, x, bad_y,
                            call=("binary_cross_entropy_with_logits", bad_y.shape),
                            hint="targets must have exactly the shape of the logits")
    for name in ("weight", "pos_weight"):
        for bad_w in BAD_WEIGHTS_3_4:
            expect_raises_later(ValueError, fn, x, y, **{name: bad_w},
                                call=("binary_cross_entropy_with_logits", (x.shape, y.shape),
                                      {name: bad_w.shape}),
                                hint=f"{name} must broadcast to the shape of the logits "
                                     "(no extra dimensions)")


# ------------------------------------------------------------------------------ cross-entropy
def _ce(fn, *args, **kwargs):
    _run(fn, ref.cross_entropy, "cross_entropy", *args, **kwargs)


def _large_logits(dtype) -> torch.Tensor:
    """(4, 3) logits up to 1e4 whose softmax underflows to 0 in places (exp(-400) in float32,
    exp(-2e4) in float64): only a stable log-softmax keeps every log-probability finite."""
    return torch.tensor([[200.0, 0.0, -200.0], [0.0, 150.0, 100.0], [-300.0, 300.0, 299.0],
                         [1e4, -1e4, 0.0]], dtype=dtype)


def _unnormalised_probs(shape, g, dtype) -> torch.Tensor:
    """Class probabilities (dim 1 of ``shape``, at least 3 classes) that do not sum to 1, as
    F.cross_entropy allows: each in [0, 1], each example's summing to 0.7 or 1.6 in turn."""
    u = torch.rand(shape, generator=g, dtype=dtype) + 0.5        # each class's share at most 0.6
    sums = torch.tensor([0.7, 1.6], dtype=dtype).repeat(shape[0])[:shape[0]]
    return u / u.sum(1, keepdim=True) * sums.view(-1, *[1] * (len(shape) - 1))


STABLE_HINT = "compute log-probabilities stably (subtract the max / use logsumexp)"


@pytest.mark.points(1)
@pytest.mark.covers("cross_entropy")
def test_cross_entropy_class_indices(student):
    """cross_entropy agrees with F.cross_entropy for (N, C) logits and class-index targets: every reduction, float32 and float64, any layout, large logits (past 1e4 too)"""
    fn = student.losses.cross_entropy
    for d, dtype in enumerate(DTYPES):
        for seed in SEEDS:
            g = _gen(seed)
            n, c = 5, 4
            x = torch.randn((n, c), generator=g, dtype=dtype) * 2
            t = torch.randint(0, c, (n,), generator=g)
            _ce(fn, x, t, reduction=_rot(REDUCTIONS, seed + d))
            _ce(fn, _rot(_layouts(x), seed + d), _rot((t, _noncontig(t)), seed),
                reduction=_rot(REDUCTIONS, seed + d + 1))
        _ce(fn, torch.randn((1, 7), generator=_gen(d), dtype=dtype), torch.tensor([6]))
        _ce(fn, logits=x, targets=t, reduction="sum")   # every argument by the contract's names
        big = _large_logits(dtype)
        tb = torch.tensor([0, 2, 1, 1])
        rtol, atol = _scaled_atol(big)
        for red in REDUCTIONS:
            _ce(fn, big, tb, reduction=red, rtol=rtol, atol=atol, hint=STABLE_HINT)
        xb = _beyond_1e4(dtype)
        rtol, atol = _scaled_atol(xb)
        _ce(fn, xb, torch.tensor([1, 0]), reduction="none", rtol=rtol, atol=atol, hint=UNCLIPPED_HINT)
        if dtype == torch.float64:
            # float64 logits that float32 cannot hold (~3e-5 rounding near 1e3): a loss computed
            # in float32 inside and cast back is off
            xo = torch.randn((5, 4), generator=_gen(d), dtype=dtype) + 1e3
            _ce(fn, xo, torch.tensor([0, 3, 1, 2, 1]), reduction="none")
    # one targets tensor kept in the worker and changed in place between two calls: each call
    # uses the targets it holds at that call (nothing is remembered by the tensor's identity)
    x = torch.randn((5, 4), generator=_gen(4))
    kept = student.tensor(torch.tensor([0, 3, 1, 2, 1]))
    for t in (torch.tensor([0, 3, 1, 2, 1]), torch.tensor([2, 0, 3, 3, 0])):
        kept.copy_.call_later(t)
        exp, call = ref.cross_entropy(x, t, reduction="none"), ("cross_entropy", (x, t), {"reduction": "none"})
        fn.later(lambda got, exp=exp, call=call: expect_close(
            got, exp, call=call, what="loss for targets changed in place since the previous call"),
            x, kept, reduction="none")


@pytest.mark.points(1)
@pytest.mark.covers("cross_entropy")
def test_cross_entropy_weight_ignore_index_and_empty(student):
    """cross_entropy handles class weights, ignore_index (the default -100 and others), a fully ignored batch (NaN mean) and an empty batch"""
    fn = student.losses.cross_entropy
    for d, dtype in enumerate(DTYPES):
        g = _gen(_rot(SEEDS, d))
        n, c = 6, 4
        x = torch.randn((n, c), generator=g, dtype=dtype)
        t = torch.randint(0, c, (n,), generator=g)
        t[1] = -100
        t[4] = -100
        w = torch.rand((c,), generator=g, dtype=dtype) + 0.2
        cases = [((x, t), {}),
                 ((x, t), {"weight": w}),
                 ((x, t.clamp(min=0)), {"ignore_index": 2, "weight": w}),
                 ((x, torch.where(t < 0, 7, t)), {"ignore_index": 7})]
        for i, (args, kw) in enumerate(cases):
            _ce(fn, *args, reduction="mean", **kw)
            _ce(fn, *args, reduction=_rot(("none", "sum"), i + d), **kw)
        _ce(fn, x.T.contiguous().T, _noncontig(t), _noncontig(w))
        if dtype == torch.float64:
            # every argument positional, in the contract's order: (logits, targets, weight,
            # ignore_index, reduction, label_smoothing)
            _ce(fn, x, t.clamp(min=0), w, 2, "none", 0.1)
        x = torch.randn((3, 4), dtype=dtype)
        for red in REDUCTIONS:
            _ce(fn, x, torch.full((3,), -100), reduction=red,
                hint="every target ignored: 'mean' is NaN (0 / 0), 'sum' is 0")
        _ce(fn, x, torch.full((3,), 1), ignore_index=1, weight=torch.ones(4, dtype=dtype))
        empty = torch.zeros((0, 4), dtype=dtype)
        hint = "an empty batch: 'mean' is NaN, 'sum' is 0"
        _ce(fn, empty, torch.zeros((0,), dtype=torch.long), hint=hint)
        _ce(fn, empty, torch.zeros((0,), dtype=torch.long), reduction="sum", hint=hint)
        _ce(fn, empty, torch.zeros((0, 4), dtype=dtype), reduction=_rot(REDUCTIONS, d), hint=hint)


@pytest.mark.points(1)
@pytest.mark.covers("cross_entropy")
def test_cross_entropy_higher_dimensional(student):
    """cross_entropy takes logits (N, C, d1, ..., dk) with class-index targets (N, d1, ..., dk) or class probabilities shaped like the logits, label smoothing included"""
    fn = student.losses.cross_entropy
    for d, dtype in enumerate(DTYPES):
        shapes = ((2, 3, 4), (2, 4, 3, 2), (1, 3, 2, 1, 2))
        for k in (d, d + 1):
            shape = shapes[k]
            g = _gen(_rot(SEEDS, k + d))
            c = shape[1]
            x = torch.randn(shape, generator=g, dtype=dtype) * 2
            t = torch.randint(0, c, shape[:1] + shape[2:], generator=g)
            t.view(-1)[0] = -100
            w = torch.rand((c,), generator=g, dtype=dtype) + 0.2
            p = torch.rand(shape, generator=g, dtype=dtype)
            p = p / p.sum(1, keepdim=True)
            # label smoothing spreads eps over the C classes of dim 1 (not the last dimension)
            smoothed = (t, {"weight": w, "label_smoothing": 0.2}) if k == d else \
                (p, {"label_smoothing": 0.3})
            for i, (tgt, kw) in enumerate(((t, {}), (t, {"weight": w}), (p, {}),
                                           (p, {"weight": w}), smoothed)):
                _ce(fn, x, tgt, reduction=_rot(REDUCTIONS, i + k + d), **kw)
            # channels-last memory layout (non-contiguous) for logits and targets
            xl = x.movedim(1, -1).contiguous().movedim(-1, 1)
            _ce(fn, xl, _noncontig(t), weight=w)
            _ce(fn, xl, p.movedim(1, -1).contiguous().movedim(-1, 1), reduction="none")
            # the last two dimensions transposed in memory: d1, ..., dk cannot be merged by a .view
            _ce(fn, _layouts(x)[1], _layouts(t)[1], reduction="none")
            _ce(fn, _layouts(x)[1], _layouts(p)[1], label_smoothing=0.1)


@pytest.mark.points(1)
@pytest.mark.covers("cross_entropy")
def test_cross_entropy_probabilities_and_label_smoothing(student):
    """cross_entropy accepts class-probability targets (rows need not sum to 1) and label_smoothing (with indices, weights and ignored targets too), for logits up to 1e4 as well"""
    fn = student.losses.cross_entropy
    for d, dtype in enumerate(DTYPES):
        g = _gen(_rot(SEEDS, d + 1))
        n, c = 5, 4
        x = torch.randn((n, c), generator=g, dtype=dtype) * 2
        p = torch.rand((n, c), generator=g, dtype=dtype)
        p = p / p.sum(1, keepdim=True)
        t = torch.randint(0, c, (n,), generator=g)
        t[2] = -100
        w = torch.rand((c,), generator=g, dtype=dtype) + 0.2
        cases = [((x, p), {}), ((x, p), {"weight": w})]
        for ls in (0.1, 0.35, 1.0):
            cases += [((x, t), {"label_smoothing": ls}),
                      ((x, t), {"weight": w, "label_smoothing": ls}),
                      ((x, p), {"label_smoothing": ls}),
                      ((x, p), {"weight": w, "label_smoothing": ls})]
        # label_smoothing as an int, which F.cross_entropy takes as any other number
        cases.append(((x, t), {"label_smoothing": 1}))
        # probabilities need not sum to 1 (F.cross_entropy weighs each log-probability by its own)
        pu = _unnormalised_probs((n, c), _gen(d + 20), dtype)
        cases += [((x, pu), {}), ((x, pu), {"weight": w}), ((x, pu), {"label_smoothing": 0.35}),
                  ((x, pu), {"weight": w, "label_smoothing": 0.1})]
        for i, (args, kw) in enumerate(cases):
            _ce(fn, *args, reduction=_rot(("mean", "sum", "none", "mean"), i + 2 * d), **kw)
        onehot = torch.zeros((n, c), dtype=dtype)
        onehot[torch.arange(n), t.clamp(min=0)] = 1.0
        _ce(fn, x.T.contiguous().T, _noncontig(onehot), label_smoothing=0.2)
        # large logits: probability targets and label smoothing weigh every log-probability,
        # those of the classes a softmax rounds to 0 included
        big = _large_logits(dtype)
        pb = torch.rand(big.shape, generator=g, dtype=dtype) + 0.1
        pb = pb / pb.sum(1, keepdim=True)
        tb = torch.tensor([0, 2, 1, 1])
        rtol, atol = _scaled_atol(big)
        for i, (tgt, kw) in enumerate(((pb, {}), (pb, {"label_smoothing": 0.1}), (tb, {"label_smoothing": 0.1}),
                                       (tb, {"weight": w[:3], "label_smoothing": 0.1}))):
            _ce(fn, big, tgt, reduction=_rot(REDUCTIONS, i + d), rtol=rtol, atol=atol, hint=STABLE_HINT, **kw)


@pytest.mark.points(1)
@pytest.mark.covers("cross_entropy")
def test_cross_entropy_gradient(student):
    """autograd through cross_entropy gives F.cross_entropy's gradient w.r.t. the logits (probability targets summing to 1 or not), and w.r.t. probability targets"""
    fn = student.losses.cross_entropy
    for d, dtype in enumerate(DTYPES):
        for kind in range(8):
            seed = _rot(SEEDS, kind + d)
            g = _gen(seed)
            n, c = 5, 4
            x = torch.randn((n, c), generator=g, dtype=dtype) * 2
            t = torch.randint(0, c, (n,), generator=g)
            t[0] = -100
            w = torch.rand((c,), generator=g, dtype=dtype) + 0.2
            p = torch.rand((n, c), generator=g, dtype=dtype)
            p = p / p.sum(1, keepdim=True)
            if kind == 0:
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x, t)
            elif kind == 1:
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x, t, weight=w,
                            reduction="sum", label_smoothing=0.1)
            elif kind == 2:
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x, p, weight=w)
            elif kind == 3:
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x, t, reduction="none",
                            random_grad_output=True, seed=seed)
            elif kind == 4:
                x3 = torch.randn((2, 3, 4), generator=g, dtype=dtype)
                t3 = torch.randint(0, 3, (2, 4), generator=g)
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x3, t3, weight=w[:3])
            elif kind == 5:
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x, _unnormalised_probs((n, c), g, dtype))
            elif kind == 6:
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x, _unnormalised_probs((n, c), g, dtype),
                            weight=w, reduction="none",
                            label_smoothing=0.2, random_grad_output=True, seed=seed)
            else:
                # F.cross_entropy passes a gradient to probability targets too
                _check_grad(fn, ref.cross_entropy, "cross_entropy", x, p, weight=w, label_smoothing=0.1,
                            wrt=(0, 1))


@pytest.mark.points(1)
@pytest.mark.covers("cross_entropy")
def test_cross_entropy_rejects_invalid_arguments(student):
    """cross_entropy raises ValueError for an unknown reduction, targets of the wrong shape, class indices out of range, a weight not of shape (C,) and label_smoothing outside [0, 1], with class indices or probabilities"""
    fn = student.losses.cross_entropy
    x = torch.zeros(3, 4)
    t = torch.tensor([0, 1, 3])
    for red in BAD_REDUCTIONS:
        expect_raises_later(ValueError, fn, x, t, reduction=red, call=("cross_entropy", red),
                            hint="reduction must be 'none', 'mean' or 'sum'")
    bad = [
        ((x, torch.tensor([0, 1])), {}, "class-index targets must have shape (N,)"),
        ((x, torch.tensor([0, 1, 2, 3])), {}, "class-index targets must have shape (N,)"),
        ((torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)), {},
         "targets for (N, C, d1) logits have shape (N, d1)"),
        # the right number of class indices in another shape is still the wrong shape
        ((x, torch.tensor([[0], [1], [3]])), {}, "class-index targets must have shape (N,)"),
        ((torch.zeros(2, 3, 2, 2), torch.zeros(2, 4, dtype=torch.long)), {},
         "targets for (N, C, d1, d2) logits have shape (N, d1, d2)"),
        ((x, torch.full((3, 3), 0.25)), {}, "probability targets have the logits' shape"),
        ((x, torch.tensor([0, 4, 1])), {}, "class indices must lie in [0, C)"),
        ((x, torch.tensor([0, -1, 1])), {}, "class indices must lie in [0, C)"),
        # -100 is only skipped when it is the ignore_index
        ((x, torch.tensor([0, -100, 1])), {"ignore_index": 2},
         "class indices must lie in [0, C), except those equal to ignore_index"),
        ((x, t), {"weight": torch.ones(3)}, "weight must hold one value per class"),
        ((x, t), {"weight": torch.ones(5)}, "weight must hold one value per class"),
        ((x, t), {"weight": torch.ones(2, 2)}, "weight must have shape (C,)"),
        ((x, t), {"weight": torch.ones(1, 4)}, "weight must have shape (C,)"),
        ((x, t), {"label_smoothing": 1.5}, "label_smoothing must lie in [0, 1]"),
        ((x, t), {"label_smoothing": -0.1}, "label_smoothing must lie in [0, 1]"),
        # the same checks hold for class-probability targets
        ((x, torch.full((3, 4), 0.25)), {"reduction": "avg"},
         "reduction must be 'none', 'mean' or 'sum'"),
        ((x, torch.full((3, 4), 0.25)), {"label_smoothing": 1.5},
         "label_smoothing must lie in [0, 1]"),
    ]
    for args, kwargs, hint in bad:
        expect_raises_later(ValueError, fn, *args, call=("cross_entropy", args, kwargs), hint=hint,
                            **kwargs)
    # targets of neither kind must not be guessed from their shape: float class labels (N,)
    # (not probabilities shaped like the logits) and integer targets shaped like the logits.
    # ValueError (wrong shape) and TypeError (wrong dtype for that shape) are both honest here.
    for tgt, hint in ((torch.tensor([0.0, 1.0, 3.0]),
                       "float targets are class probabilities, shaped like the logits"),
                      (torch.zeros(3, 4, dtype=torch.long),
                       "integer targets are class indices, of shape (N,)")):
        expect_raises_later((ValueError, TypeError), fn, x, tgt, call=("cross_entropy", (x, tgt)),
                            hint=hint)
